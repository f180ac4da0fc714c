/* inference.c - the per-inference section (see inference.h). */
#include "report/inference.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/analyze.h"
#include "report/chart.h"
#include "report/report.h"
#include "store/store.h"

int report_inference_load(struct store *s, int64_t from, int64_t to, struct report_inference *out,
                          char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->from = from;
	out->to = to;
	if (store_query_inference(s, from, to, 0, &out->rows, &out->n) != STORE_OK) {
		snprintf(err, errlen, "%s", store_errmsg(s));
		return -1;
	}
	return 0;
}

void report_inference_free(struct report_inference *ri)
{
	store_inference_rows_free(ri->rows, ri->n);
	ri->rows = NULL;
	ri->n = 0;
}

static bool same(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

void report_inference_figures(const struct report_inference *ri, size_t i,
                              const struct report_inference_ctx *ctx,
                              struct report_inference_fig *f)
{
	const struct store_inference_row *r = &ri->rows[i];
	const struct inference_agg *a = &r->agg;
	double n = (double)a->n;
	f->gpu = -1;
	double price = NAN;
	for (size_t g = 0; g < ctx->nuuids; g++)
		if (same(ctx->uuids[g], r->uuid)) {
			f->gpu = (long)g;
			if (ctx->prices)
				price = ctx->prices[g];
		}
	if (isfinite(ctx->price_override))
		price = ctx->price_override;
	if (!isfinite(price) && r->model)
		price = analyze_model_price(analyze_default_prices, analyze_default_prices_count,
		                            r->model);
	f->price_per_hour = price;
	/* The GPU's own span with inferences and every inference on it, for the shared cost. */
	int64_t lo = r->first_t, hi = r->last_t;
	double gpu_n = 0;
	for (size_t k = 0; k < ri->n; k++) {
		const struct store_inference_row *o = &ri->rows[k];
		if (!(o->uuid == r->uuid || same(o->uuid, r->uuid)))
			continue;
		gpu_n += (double)o->agg.n;
		lo = o->first_t < lo ? o->first_t : lo;
		hi = o->last_t > hi ? o->last_t : hi;
	}
	double span = (double)(r->last_t - r->first_t);
	f->per_s = span > 0 ? n / span : NAN;
	f->latency_mean = a->latency.n ? a->latency_sum / (double)a->latency.n : NAN;
	f->p50 = inference_sketch_quantile(&a->latency, 0.50);
	f->p95 = inference_sketch_quantile(&a->latency, 0.95);
	f->p99 = inference_sketch_quantile(&a->latency, 0.99);
	f->busy_mean = a->busy_n ? a->busy_sum / (double)a->busy_n : NAN;
	f->busy_share =
	    a->latency_sum > 0 && a->busy_n == a->latency.n ? a->busy_sum / a->latency_sum : NAN;
	f->energy_mean = a->energy_n ? a->energy_sum / (double)a->energy_n : NAN;
	f->h2d_mean = a->copies_n ? a->h2d_sum / (double)a->copies_n : NAN;
	f->d2h_mean = a->copies_n ? a->d2h_sum / (double)a->copies_n : NAN;
	f->kernels_mean = a->copies_n ? a->kernels_sum / (double)a->copies_n : NAN;
	f->cost = r->uuid && gpu_n > 0 && isfinite(price)
	              ? price * (double)(hi - lo) / 3600.0 / gpu_n
	              : NAN;
	f->cost_busy = isfinite(price) ? price * f->busy_mean / 3600.0 : NAN;
}

static json_t *num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *report_inference_json(const struct report_inference *ri,
                              const struct report_inference_ctx *ctx)
{
	json_t *doc = json_object(), *rows = json_array();
	if (!doc || !rows) {
		json_decref(doc);
		json_decref(rows);
		return NULL;
	}
	json_object_set_new(doc, "from", json_integer(ri->from));
	json_object_set_new(doc, "to", json_integer(ri->to));
	json_object_set_new(doc, "currency", json_string(ctx->currency ? ctx->currency : "USD"));
	for (size_t i = 0; i < ri->n; i++) {
		const struct store_inference_row *r = &ri->rows[i];
		struct report_inference_fig f;
		report_inference_figures(ri, i, ctx, &f);
		json_t *o = json_object(), *lat = json_object();
		json_object_set_new(o, "gpu", f.gpu >= 0 ? json_integer(f.gpu) : json_null());
		json_object_set_new(o, "uuid", str_or_null(r->uuid));
		json_object_set_new(o, "model", str_or_null(r->model));
		json_object_set_new(o, "pid", json_integer(r->pid));
		json_object_set_new(o, "process", json_string(r->process));
		json_object_set_new(o, "workload", json_string(r->workload));
		json_object_set_new(o, "range", json_string(r->range));
		json_object_set_new(o, "boundary", json_string(r->boundary));
		json_object_set_new(o, "first", json_integer(r->first_t));
		json_object_set_new(o, "last", json_integer(r->last_t));
		json_object_set_new(o, "inferences", json_integer((json_int_t)r->agg.n));
		json_object_set_new(o, "incomplete", json_integer((json_int_t)r->agg.incomplete));
		json_object_set_new(o, "inferences_per_second", num(f.per_s));
		json_object_set_new(lat, "mean", num(f.latency_mean));
		json_object_set_new(lat, "p50", num(f.p50));
		json_object_set_new(lat, "p95", num(f.p95));
		json_object_set_new(lat, "p99", num(f.p99));
		json_object_set_new(o, "latency_seconds", lat);
		json_object_set_new(o, "gpu_busy_seconds_per_inference", num(f.busy_mean));
		json_object_set_new(o, "gpu_busy_share", num(f.busy_share));
		json_object_set_new(o, "energy_joules_per_inference", num(f.energy_mean));
		json_object_set_new(o, "host_to_device_bytes_per_inference", num(f.h2d_mean));
		json_object_set_new(o, "device_to_host_bytes_per_inference", num(f.d2h_mean));
		json_object_set_new(o, "kernels_per_inference", num(f.kernels_mean));
		json_object_set_new(o, "memory_peak_bytes",
		                    r->agg.mem_peak_max > 0 ? json_real(r->agg.mem_peak_max)
		                                            : json_null());
		json_object_set_new(o, "price_per_gpu_hour", num(f.price_per_hour));
		json_object_set_new(o, "cost_per_inference", num(f.cost));
		json_object_set_new(o, "cost_per_inference_busy", num(f.cost_busy));
		json_array_append_new(rows, o);
	}
	json_object_set_new(doc, "rows", rows);
	return doc;
}

/* "12.3 ms", "850 us", "1.20 s"; "-" when unknown. */
static const char *secs(char *buf, size_t len, double s)
{
	if (!isfinite(s))
		snprintf(buf, len, "-");
	else if (s < 1e-3)
		snprintf(buf, len, "%.0f us", s * 1e6);
	else if (s < 1)
		snprintf(buf, len, "%.3g ms", s * 1e3);
	else
		snprintf(buf, len, "%.3g s", s);
	return buf;
}

static const char *gnum(char *buf, size_t len, double v, const char *unit)
{
	if (!isfinite(v))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.3g%s", v, unit);
	return buf;
}

/* "GPU 3", or the uuid's first characters when the GPU is not in the report. */
static const char *gpu_name(char *buf, size_t len, const struct store_inference_row *r, long gpu)
{
	if (gpu >= 0)
		snprintf(buf, len, "GPU %ld", gpu);
	else if (r->uuid)
		snprintf(buf, len, "%.12s", r->uuid);
	else
		snprintf(buf, len, "GPU ?");
	return buf;
}

struct cells {
	char gpu[24], rate[24], p50[24], p95[24], p99[24], busy[24], energy[24], cost[32],
	    floor[32];
};

static void fill(struct cells *c, const struct store_inference_row *r,
                 const struct report_inference_fig *f)
{
	gpu_name(c->gpu, sizeof(c->gpu), r, f->gpu);
	gnum(c->rate, sizeof(c->rate), f->per_s, "/s");
	secs(c->p50, sizeof(c->p50), f->p50);
	secs(c->p95, sizeof(c->p95), f->p95);
	secs(c->p99, sizeof(c->p99), f->p99);
	secs(c->busy, sizeof(c->busy), f->busy_mean);
	gnum(c->energy, sizeof(c->energy), f->energy_mean, " J");
	gnum(c->cost, sizeof(c->cost), f->cost, "");
	gnum(c->floor, sizeof(c->floor), f->cost_busy, "");
}

void report_inference_text(FILE *out, const struct report_inference *ri,
                           const struct report_inference_ctx *ctx, bool md)
{
	if (!ri || !ri->n)
		return;
	const char *cur = ctx->currency ? ctx->currency : "USD";
	if (md)
		fprintf(
		    out,
		    "## Inferences\n\n| GPU | process | range | inferences | rate | p50 | p95 | "
		    "p99 | GPU time/inf | energy/inf | %s/inf | %s/inf busy |\n"
		    "|---|---|---|---|---|---|---|---|---|---|---|---|\n",
		    cur, cur);
	else
		fprintf(out, "INFERENCES (gpuscope run programs; latency to 2%%)\n");
	for (size_t i = 0; i < ri->n; i++) {
		const struct store_inference_row *r = &ri->rows[i];
		struct report_inference_fig f;
		struct cells c;
		report_inference_figures(ri, i, ctx, &f);
		fill(&c, r, &f);
		char proc[96], mean[24], share[16] = "";
		snprintf(proc, sizeof(proc), "%s[%u]", r->process, r->pid);
		const char *range = r->range[0] ? r->range : r->boundary;
		if (md) {
			fprintf(out,
			        "| %s | %s | %s | %llu | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			        c.gpu, proc, range, (unsigned long long)r->agg.n, c.rate, c.p50,
			        c.p95, c.p99, c.busy, c.energy, c.cost, c.floor);
			continue;
		}
		if (isfinite(f.busy_share))
			snprintf(share, sizeof(share), " (%.0f%%)", f.busy_share * 100);
		fprintf(out, "  %-6s %.30s %.20s: %llu inferences, %s", c.gpu, proc, range,
		        (unsigned long long)r->agg.n, c.rate);
		if (isfinite(f.energy_mean))
			fprintf(out, ", %s", c.energy);
		if (isfinite(f.cost))
			fprintf(out, ", %s %s", c.cost, cur);
		fprintf(
		    out, " each\n         latency p50 %s, p95 %s, p99 %s, mean %s; GPU time %s%s\n",
		    c.p50, c.p95, c.p99, secs(mean, sizeof(mean), f.latency_mean), c.busy, share);
	}
	if (!md)
		fputs("  (money: the GPU's time with inferences, idle included, shared by them)\n",
		      out);
	fputc('\n', out);
}

void report_inference_html(FILE *out, const struct report_inference *ri,
                           const struct report_inference_ctx *ctx)
{
	if (!ri || !ri->n)
		return;
	fputs("<h2 id=\"inferences\">Inferences</h2>\n<table class=\"inferences\"><tr><th>GPU"
	      "</th><th>process</th><th>range</th><th>inferences</th><th>rate</th><th>p50</th>"
	      "<th>p95</th><th>p99</th><th>GPU time/inference</th><th>energy/inference</th>"
	      "<th>",
	      out);
	chart_html_escape(out, ctx->currency ? ctx->currency : "USD");
	fputs("/inference</th><th>busy-time floor</th></tr>\n", out);
	for (size_t i = 0; i < ri->n; i++) {
		const struct store_inference_row *r = &ri->rows[i];
		struct report_inference_fig f;
		struct cells c;
		report_inference_figures(ri, i, ctx, &f);
		fill(&c, r, &f);
		fprintf(out, "<tr><td>%s</td><td>", c.gpu);
		chart_html_escape(out, r->process);
		fprintf(out, " [%u]</td><td>", r->pid);
		chart_html_escape(out, r->range[0] ? r->range : r->boundary);
		fprintf(out,
		        "</td><td>%llu</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
		        "<td>%s</td><td>%s</td><td>%s</td></tr>\n",
		        (unsigned long long)r->agg.n, c.rate, c.p50, c.p95, c.p99, c.busy, c.energy,
		        c.cost, c.floor);
	}
	fputs("</table>\n<p class=\"nj\">Latency percentiles to the history's 2% buckets; money: "
	      "the GPU's time from its first to its last inference, idle included, shared by "
	      "the inferences on it (the floor: GPU busy time alone).</p>\n",
	      out);
}

/* ---- the report's section: GPUs named and priced as the rest of the report does ---- */

static int ctx_of(const struct report_data *d, const struct analyze_result *r,
                  struct report_inference_ctx *ctx)
{
	size_t n = d->ngpus;
	const char **uuids = calloc(n ? n : 1, sizeof(*uuids));
	double *prices = calloc(n ? n : 1, sizeof(*prices));
	if (!uuids || !prices) {
		free(uuids);
		free(prices);
		return -1;
	}
	for (size_t g = 0; g < n; g++) {
		uuids[g] = d->gpus[g].uuid;
		prices[g] = g < r->nsummaries ? r->summaries[g].price_per_hour : NAN;
	}
	*ctx = (struct report_inference_ctx){.uuids = uuids,
	                                     .prices = prices,
	                                     .nuuids = n,
	                                     .price_override = NAN,
	                                     .currency = r->currency[0] ? r->currency : NULL};
	return 0;
}

static void ctx_free(struct report_inference_ctx *ctx)
{
	free((void *)ctx->uuids);
	free((void *)ctx->prices);
}

void report_inference_section_text(FILE *out, const struct report_data *d,
                                   const struct analyze_result *r, bool md)
{
	struct report_inference_ctx ctx;
	if (!d->inference.n || ctx_of(d, r, &ctx) != 0)
		return;
	report_inference_text(out, &d->inference, &ctx, md);
	ctx_free(&ctx);
}

void report_inference_section_html(FILE *out, const struct report_data *d,
                                   const struct analyze_result *r)
{
	struct report_inference_ctx ctx;
	if (!d->inference.n || ctx_of(d, r, &ctx) != 0)
		return;
	report_inference_html(out, &d->inference, &ctx);
	ctx_free(&ctx);
}

void report_inference_section_json(json_t *doc, const struct report_data *d,
                                   const struct analyze_result *r)
{
	struct report_inference_ctx ctx;
	if (!d->inference.n || ctx_of(d, r, &ctx) != 0)
		return;
	json_t *o = report_inference_json(&d->inference, &ctx);
	if (o)
		json_object_set_new(doc, "inferences", o);
	ctx_free(&ctx);
}
