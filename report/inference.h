/* inference.h - the per-inference section of reports and of /api/v1/inference.
 *
 * Over a window of the history's inference aggregates (store/inference.h), one line per
 * (GPU, process, range): how many inferences and how fast, latency p50/p95/p99 (to the
 * sketch's 2.2%), GPU busy time and energy per inference, and money per inference at the
 * GPU-hour price the rest of the report uses.  Money is the GPU's time from its first to
 * its last interval with inferences, idle included, shared by every inference on that GPU
 * (what each inference cost, as the servers' cost per token counts it), and beside it the
 * busy-time floor (GPU busy time per inference at that price).  Kept apart from the GPU and
 * the inference-server sections; docs/inference.md names every figure.
 */
#ifndef GPUSCOPE_REPORT_INFERENCE_H
#define GPUSCOPE_REPORT_INFERENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store/inference.h"

struct json_t;

struct report_inference {
	int64_t from, to;
	struct store_inference_row *rows;
	size_t n;
};

/* Reads [from, to] merged per key.  0, or -1 with a message in err. */
int report_inference_load(struct store *s, int64_t from, int64_t to, struct report_inference *out,
                          char *err, size_t errlen);
void report_inference_free(struct report_inference *ri);

/* How rows are named and priced. */
struct report_inference_ctx {
	const char *const *uuids; /* uuids[i] is shown as GPU i (NULL entries skipped) */
	const double *prices;     /* price per GPU-hour of uuids[i] (NaN: unknown), or NULL */
	size_t nuuids;
	double price_override; /* a price given on the command line; NaN: none */
	const char *currency;  /* NULL: USD */
};

struct report_inference_fig {
	long gpu;     /* index in ctx, -1 when not there */
	double per_s; /* inferences / the key's span */
	double latency_mean, p50, p95, p99;
	double busy_mean, busy_share; /* GPU busy s per inference; busy / latency */
	double energy_mean;           /* J per inference */
	double h2d_mean, d2h_mean, kernels_mean;
	double price_per_hour;
	double cost, cost_busy; /* money per inference: GPU's time shared; busy floor */
};

/* Figures of row i; NaN where unknown. */
void report_inference_figures(const struct report_inference *ri, size_t i,
                              const struct report_inference_ctx *ctx,
                              struct report_inference_fig *f);

/* {"from", "to", "currency", "rows": [...]} (docs/api.md); NULL when out of memory. */
struct json_t *report_inference_json(const struct report_inference *ri,
                                     const struct report_inference_ctx *ctx);
/* The section in text (80 columns) or Markdown; nothing when the window has no data. */
void report_inference_text(FILE *out, const struct report_inference *ri,
                           const struct report_inference_ctx *ctx, bool md);
/* The section as an HTML table; nothing when the window has no data. */
void report_inference_html(FILE *out, const struct report_inference *ri,
                           const struct report_inference_ctx *ctx);

/* The report's own section (GPU names and prices from the report's data and result);
 * nothing, or no "inferences" key, when the window has no inferences. */
struct report_data;
struct analyze_result;
void report_inference_section_text(FILE *out, const struct report_data *d,
                                   const struct analyze_result *r, bool md);
void report_inference_section_html(FILE *out, const struct report_data *d,
                                   const struct analyze_result *r);
void report_inference_section_json(struct json_t *doc, const struct report_data *d,
                                   const struct analyze_result *r);

#endif
