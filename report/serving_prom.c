/* serving_prom.c - the per-model lines from a Prometheus that scrapes gpuscope agents
 * (report_serving_from_prometheus in serving.h).
 *
 * The agents export each model's window figures as gauges (docs/servers.md); read every
 * `step` seconds, each point stands for `step` seconds of work: tokens = tokens/s x step,
 * joules = power x step, GPU-seconds = GPU-seconds per million tokens x tokens, the price
 * back from money and GPU-seconds per million tokens.  The points then feed the same sums
 * as the history's rows, so every format shows the same line.  A point is a moving
 * window's figure (the agent's --inference-window), not the step's own, so a step much
 * shorter than that window weights its edges a little differently than the history does;
 * over hours the difference is the window's length at each end.  Memory: one array of
 * points per family and model (REPORT_MODELS_MAX models).
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/serving.h"

enum fam {
	F_TPS,
	F_PTPS,
	F_RPS,
	F_POWER,
	F_GPU_S_MTOK,
	F_COST_MTOK,
	F_BUSY_REQ,
	F_RUNNING,
	F_WAITING,
	F_KV,
	F_PREEMPT,
	F_TTFT50,
	F_TTFT99,
	F_ITL50,
	F_ITL99,
	F_ADVICE, /* gpuscope_inference_server_batch_advice_target{action} */
	F_COUNT
};

static const char *const fam_name[F_COUNT] = {
    "gpuscope_tokens_generated_per_second",
    "gpuscope_tokens_prompt_per_second",
    "gpuscope_inference_server_requests_per_second",
    "gpuscope_inference_server_power_watts",
    "gpuscope_tokens_gpu_seconds_per_million",
    "gpuscope_tokens_cost_per_million",
    "gpuscope_inference_server_busy_seconds_per_request",
    "gpuscope_inference_server_running_requests",
    "gpuscope_inference_server_queue_requests",
    "gpuscope_inference_server_kv_cache_usage_ratio",
    "gpuscope_inference_server_preemptions_per_second",
    "gpuscope_inference_server_ttft_p50_seconds",
    "gpuscope_inference_server_ttft_p99_seconds",
    "gpuscope_inference_server_itl_p50_seconds",
    "gpuscope_inference_server_itl_p99_seconds",
    "gpuscope_inference_server_batch_advice_target",
};

struct key {
	char server[96], kind[16], model[128], gpu_model[96], advice[16];
	double *v; /* F_COUNT x n */
};

static const char *label(json_t *metric, const char *name)
{
	const char *v = json_string_value(json_object_get(metric, name));
	return v ? v : "";
}

/* The key of a series: the agent (instance) and the server on it, and the model. */
static struct key *key_for(struct key *keys, size_t *nkeys, json_t *metric, size_t n)
{
	char server[96];
	snprintf(server, sizeof(server), "%s/%s", label(metric, "instance"),
	         label(metric, "server"));
	const char *model = label(metric, "model");
	for (size_t i = 0; i < *nkeys; i++)
		if (strcmp(keys[i].server, server) == 0 && strcmp(keys[i].model, model) == 0)
			return &keys[i];
	if (*nkeys == REPORT_MODELS_MAX)
		return NULL;
	struct key *k = &keys[*nkeys];
	memset(k, 0, sizeof(*k));
	k->v = malloc(sizeof(double) * F_COUNT * (n ? n : 1));
	if (!k->v)
		return NULL;
	for (size_t i = 0; i < F_COUNT * n; i++)
		k->v[i] = NAN;
	snprintf(k->server, sizeof(k->server), "%s", server);
	snprintf(k->model, sizeof(k->model), "%s", model);
	++*nkeys;
	return k;
}

static void fill(struct key *keys, size_t *nkeys, json_t *result, enum fam f, int64_t from,
                 double step, size_t n)
{
	size_t i;
	json_t *series;
	json_array_foreach(result, i, series)
	{
		json_t *metric = json_object_get(series, "metric");
		struct key *k = key_for(keys, nkeys, metric, n);
		if (!k)
			continue;
		if (*label(metric, "kind"))
			snprintf(k->kind, sizeof(k->kind), "%s", label(metric, "kind"));
		if (*label(metric, "gpu_model"))
			snprintf(k->gpu_model, sizeof(k->gpu_model), "%s",
			         label(metric, "gpu_model"));
		if (f == F_ADVICE)
			snprintf(k->advice, sizeof(k->advice), "%s", label(metric, "action"));
		size_t j;
		json_t *point;
		json_array_foreach(json_object_get(series, "values"), j, point)
		{
			double t = json_number_value(json_array_get(point, 0));
			const char *text = json_string_value(json_array_get(point, 1));
			double at = (t - (double)from) / step;
			if (!text || !(at >= -0.5) || at >= (double)n - 0.5)
				continue;
			k->v[f * n + (size_t)llround(at)] = strtod(text, NULL);
		}
	}
}

static void feed_key(struct report_serving_feed *feed, const struct key *k, int64_t from,
                     double step, size_t n)
{
	struct store_serving_row r;
	for (size_t i = 0; i < n; i++) {
		const double *v = k->v;
#define V(f) v[(f)*n + i]
		if (!isfinite(V(F_TPS)))
			continue;
		memset(&r, 0, sizeof(r));
		r.t = from + (int64_t)llround((double)i * step);
		r.window_s = step;
		snprintf(r.server, sizeof(r.server), "%s", k->server);
		snprintf(r.kind, sizeof(r.kind), "%s", k->kind[0] ? k->kind : "unknown");
		snprintf(r.model, sizeof(r.model), "%s", k->model);
		snprintf(r.gpu_model, sizeof(r.gpu_model), "%s", k->gpu_model);
		snprintf(r.advice, sizeof(r.advice), "%s", isfinite(V(F_ADVICE)) ? k->advice : "");
		double tok = V(F_TPS) * step, req = V(F_RPS) * step;
		double gpu_s = V(F_GPU_S_MTOK) * tok / 1e6;
		double *o = r.v;
		o[STORE_SERVING_GEN_TOKENS] = tok;
		o[STORE_SERVING_PROMPT_TOKENS] = V(F_PTPS) * step;
		o[STORE_SERVING_REQUESTS] = req;
		o[STORE_SERVING_JOULES] = V(F_POWER) * step;
		o[STORE_SERVING_GPU_SECONDS] = gpu_s;
		o[STORE_SERVING_PRICE] = V(F_COST_MTOK) / V(F_GPU_S_MTOK) * 3600;
		o[STORE_SERVING_BUSY_SECONDS] = V(F_BUSY_REQ) * req;
		o[STORE_SERVING_SM_SECONDS] = NAN;
		o[STORE_SERVING_RUNNING] = V(F_RUNNING);
		o[STORE_SERVING_WAITING] = V(F_WAITING);
		o[STORE_SERVING_KV_USAGE] = V(F_KV);
		o[STORE_SERVING_PREEMPTIONS] = V(F_PREEMPT) * step;
		o[STORE_SERVING_AVG_BATCH] = NAN;
		o[STORE_SERVING_TTFT_P50] = V(F_TTFT50);
		o[STORE_SERVING_TTFT_P99] = V(F_TTFT99);
		o[STORE_SERVING_ITL_P50] = V(F_ITL50);
		o[STORE_SERVING_ITL_P99] = V(F_ITL99);
		o[STORE_SERVING_SM_ACTIVE] = NAN;
		o[STORE_SERVING_MEMORY_USED] = NAN;
		o[STORE_SERVING_BATCH_TARGET] = V(F_ADVICE);
#undef V
		report_serving_feed_row(feed, &r);
	}
}

static int by_server_model(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	int c = strcmp(x->server, y->server);
	return c ? c : strcmp(x->model, y->model);
}

struct fill_arg {
	struct key *keys;
	size_t *nkeys;
	enum fam f;
	int64_t from;
	double step;
	size_t n;
};

static void fill_piece(json_t *result, void *arg)
{
	struct fill_arg *a = arg;
	fill(a->keys, a->nkeys, result, a->f, a->from, a->step, a->n);
}

int report_serving_from_prometheus(struct report_serving *sv, report_prom_range_fn get, void *ctx,
                                   int64_t from, double step, size_t n)
{
	struct report_serving_feed feed;
	struct key *keys = calloc(REPORT_MODELS_MAX, sizeof(*keys));
	size_t nkeys = 0;
	if (!keys || report_serving_begin(sv, &feed) != 0) {
		free(keys);
		return -1;
	}
	for (int f = 0; f < F_COUNT; f++) {
		struct fill_arg a = {keys, &nkeys, (enum fam)f, from, step, n};
		get(ctx, fam_name[f], fill_piece, &a);
	}
	qsort(keys, nkeys, sizeof(*keys), by_server_model); /* the feed wants them in order */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k < nkeys; k++)
			feed_key(&feed, &keys[k], from, step, n);
		if (pass == 0)
			report_serving_split(&feed);
	}
	report_serving_end(sv);
	for (size_t k = 0; k < nkeys; k++)
		free(keys[k].v);
	free(keys);
	return 0;
}
