/* query_servers.c - `gpuscope query --servers` (query_servers.h).
 *
 * The rows come as stored: sums over each window (tokens, requests, joules, GPU-seconds) and
 * window means of the gauges, in base units, empty (CSV) or null (JSON) where absent; two
 * derived columns (tokens per second, joules per token) save the first division in a
 * notebook.  Rows stream from the store to stdout, so a 90-day history costs one row of
 * memory.
 */
#include "cmd/query_servers.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/serving.h"

struct out_ctx {
	bool json, first;
	size_t rows;
};

static void csv_text(const char *s)
{
	if (!strpbrk(s, ",\"\n")) {
		printf(",%s", s);
		return;
	}
	fputs(",\"", stdout);
	for (; *s; s++)
		fputs(*s == '"' ? "\"\"" : (char[2]){*s, 0}, stdout);
	fputc('"', stdout);
}

static void csv_num(double v)
{
	if (isfinite(v))
		printf(",%.15g", v);
	else
		fputc(',', stdout);
}

static json_t *num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static int print_row(void *vctx, const struct store_serving_row *r)
{
	struct out_ctx *c = vctx;
	double tok = r->v[STORE_SERVING_GEN_TOKENS];
	double tps = r->window_s > 0 ? tok / r->window_s : NAN;
	double jpt = tok > 0 ? r->v[STORE_SERVING_JOULES] / tok : NAN;
	time_t tt = (time_t)r->t;
	struct tm tm;
	char iso[32];
	gmtime_r(&tt, &tm);
	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	c->rows++;
	if (!c->json) {
		printf("%lld,%s", (long long)r->t, iso);
		csv_text(r->server);
		csv_text(r->kind);
		csv_text(r->model);
		csv_text(r->gpus);
		csv_text(r->gpu_model);
		csv_num(r->window_s);
		csv_text(r->advice);
		for (int f = 0; f < STORE_SERVING_COUNT; f++)
			csv_num(r->v[f]);
		csv_num(tps);
		csv_num(jpt);
		putchar('\n');
		return 0;
	}
	json_t *o = json_object();
	json_object_set_new(o, "t", json_integer(r->t));
	json_object_set_new(o, "time", json_string(iso));
	json_object_set_new(o, "server", json_string(r->server));
	json_object_set_new(o, "kind", json_string(r->kind));
	json_object_set_new(o, "model", json_string(r->model));
	json_object_set_new(o, "gpus", json_string(r->gpus));
	json_object_set_new(o, "gpu_model", json_string(r->gpu_model));
	json_object_set_new(o, "window_s", json_real(r->window_s));
	json_object_set_new(o, "advice", json_string(r->advice));
	for (int f = 0; f < STORE_SERVING_COUNT; f++)
		json_object_set_new(o, store_serving_column((enum store_serving_field)f),
		                    num(r->v[f]));
	json_object_set_new(o, "tokens_per_second", num(tps));
	json_object_set_new(o, "joules_per_token", num(jpt));
	char *text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(10));
	json_decref(o);
	if (!text)
		return -1;
	printf("%s\n  %s", c->first ? "" : ",", text);
	c->first = false;
	free(text);
	return 0;
}

int query_servers_run(struct window_opts *w, int64_t from, int64_t to, bool as_json)
{
	struct store *s = window_opts_open(w, "query");
	if (!s)
		return 1;
	struct out_ctx c = {.json = as_json, .first = true};
	if (as_json) {
		json_t *path = json_string(w->path);
		char *p = json_dumps(path, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
		json_decref(path);
		printf("{\"history\": %s, \"from\": %lld, \"to\": %lld, \"rows\": [",
		       p ? p : "null", (long long)from, (long long)to);
		free(p);
	} else {
		printf("t,time,server,kind,model,gpus,gpu_model,window_s,advice");
		for (int f = 0; f < STORE_SERVING_COUNT; f++)
			printf(",%s", store_serving_column((enum store_serving_field)f));
		printf(",tokens_per_second,joules_per_token\n");
	}
	int rc = store_serving_each(s, from, to, print_row, &c);
	if (rc != STORE_OK) {
		fprintf(stderr, "gpuscope query: %s\n", rc < 0 ? "out of memory" : store_errmsg(s));
		store_close(s);
		return 1;
	}
	if (as_json)
		printf("\n]}\n");
	store_close(s);
	if (c.rows == 0)
		fprintf(stderr,
		        "gpuscope query: %s has no inference-server windows in that window "
		        "(serve writes one per server and model per --inference-window)\n",
		        w->path);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "gpuscope query: writing failed: %m\n");
		return 1;
	}
	return 0;
}
