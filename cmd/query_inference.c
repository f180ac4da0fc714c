/* query_inference.c - `gpuscope query --inference` (see query_inference.h). */
#include "cmd/query_inference.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/inference.h"

static bool selected(const char *const *want, size_t nwant, long idx, const char *uuid)
{
	if (!nwant)
		return true;
	for (size_t i = 0; i < nwant; i++) {
		char *end;
		long k = strtol(want[i], &end, 10);
		if ((!*end && end != want[i] && k == idx && idx >= 0) ||
		    (uuid && !strcmp(want[i], uuid)))
			return true;
	}
	return false;
}

static void csv_num(double v)
{
	if (isfinite(v))
		printf(",%.10g", v);
	else
		fputc(',', stdout);
}

/* A CSV field: quoted when it holds a comma, a quote or a line break. */
static void csv_str(const char *s)
{
	fputc(',', stdout);
	if (!s || !strpbrk(s, ",\"\r\n")) {
		fputs(s ? s : "", stdout);
		return;
	}
	fputc('"', stdout);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', stdout);
		fputc(*s, stdout);
	}
	fputc('"', stdout);
}

int query_inference_run(struct window_opts *w, int64_t from, int64_t to, const char *const *want,
                        size_t nwant, bool as_json, double price, const char *currency)
{
	struct store *s = window_opts_open(w, "query");
	if (!s)
		return 1;
	struct store_gpu_info *list = NULL;
	size_t nlist = 0;
	struct report_inference ri = {0};
	const char **uuids = NULL;
	char err[1024];
	int rc = 1;
	if (store_list_gpus(s, from, to, &list, &nlist) != STORE_OK) {
		fprintf(stderr, "gpuscope query: %s\n", store_errmsg(s));
		goto out;
	}
	if (report_inference_load(s, from, to, &ri, err, sizeof(err)) != 0) {
		fprintf(stderr, "gpuscope query: %s\n", err);
		goto out;
	}
	if (!(uuids = calloc(nlist ? nlist : 1, sizeof(*uuids)))) {
		fprintf(stderr, "gpuscope query: out of memory\n");
		goto out;
	}
	for (size_t g = 0; g < nlist; g++)
		uuids[g] = list[g].uuid;
	struct report_inference_ctx ctx = {
	    .uuids = uuids, .nuuids = nlist, .price_override = price, .currency = currency};
	/* Keep the selected GPUs' rows (the GPU totals behind money still see them all). */
	bool *keep = calloc(ri.n ? ri.n : 1, sizeof(*keep));
	if (!keep) {
		fprintf(stderr, "gpuscope query: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < ri.n; i++) {
		struct report_inference_fig f;
		report_inference_figures(&ri, i, &ctx, &f);
		keep[i] = selected(want, nwant, f.gpu, ri.rows[i].uuid);
	}
	if (as_json) {
		json_t *doc = report_inference_json(&ri, &ctx);
		json_t *rows = json_object_get(doc, "rows"), *kept = json_array();
		for (size_t i = 0; doc && i < ri.n; i++)
			if (keep[i])
				json_array_append(kept, json_array_get(rows, i));
		json_object_set_new(doc, "rows", kept);
		char *text = doc ? json_dumps(doc, JSON_INDENT(1) | JSON_ENSURE_ASCII |
		                                       JSON_REAL_PRECISION(10))
		                 : NULL;
		json_decref(doc);
		if (!text) {
			fprintf(stderr, "gpuscope query: out of memory\n");
			free(keep);
			goto out;
		}
		printf("%s\n", text);
		free(text);
	} else {
		printf(
		    "gpu,uuid,model,pid,process,workload,range,boundary,first,last,inferences,"
		    "incomplete,inferences_per_second,latency_mean_s,latency_p50_s,latency_p95_s,"
		    "latency_p99_s,gpu_busy_s_per_inference,gpu_busy_share,"
		    "energy_j_per_inference,h2d_bytes_per_inference,d2h_bytes_per_inference,"
		    "kernels_per_inference,memory_peak_bytes,price_per_gpu_hour,"
		    "cost_per_inference,cost_per_inference_busy\n");
		for (size_t i = 0; i < ri.n; i++) {
			const struct store_inference_row *r = &ri.rows[i];
			struct report_inference_fig f;
			if (!keep[i])
				continue;
			report_inference_figures(&ri, i, &ctx, &f);
			if (f.gpu >= 0)
				printf("%ld", f.gpu);
			csv_str(r->uuid);
			csv_str(r->model);
			printf(",%u", r->pid);
			csv_str(r->process);
			csv_str(r->workload);
			csv_str(r->range);
			csv_str(r->boundary);
			printf(",%lld,%lld,%llu,%llu", (long long)r->first_t, (long long)r->last_t,
			       (unsigned long long)r->agg.n, (unsigned long long)r->agg.incomplete);
			double v[] = {f.per_s,
			              f.latency_mean,
			              f.p50,
			              f.p95,
			              f.p99,
			              f.busy_mean,
			              f.busy_share,
			              f.energy_mean,
			              f.h2d_mean,
			              f.d2h_mean,
			              f.kernels_mean,
			              r->agg.mem_peak_max > 0 ? r->agg.mem_peak_max : NAN,
			              f.price_per_hour,
			              f.cost,
			              f.cost_busy};
			for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
				csv_num(v[k]);
			putchar('\n');
		}
	}
	free(keep);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "gpuscope query: writing failed: %m\n");
		goto out;
	}
	rc = 0;
out:
	free(uuids);
	report_inference_free(&ri);
	store_gpu_list_free(list, nlist);
	store_close(s);
	return rc;
}
