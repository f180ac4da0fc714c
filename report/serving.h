/* serving.h - the report's per-model lines: what each model an inference server served
 * cost over the window, from the history's server_window rows (store/serving.h).
 *
 * One line per server and model: tokens/s, J/token, money per million tokens, GPU
 * utilization, the batch advice over the span (the engine's serving rules on the span's
 * means, with their verdicts, evidence and fix; and what each window advised), and the
 * trend: the same figures over the first and the second half of the model's
 * own span of rows, with the direction and the size of the change.  Sums are divided by
 * sums (a day's joules over a day's tokens), never ratios averaged.  Rows are read twice
 * (the span, then the halves), one row in memory at a time, so a 90-day report costs no
 * more memory than an hour.
 */
#ifndef GPUSCOPE_REPORT_SERVING_H
#define GPUSCOPE_REPORT_SERVING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "analyze/serving.h"
#include "store/serving.h"
#include "store/store.h"

struct json_t;

/* A change within this fraction either way reads as "steady". */
#define REPORT_TREND_STEADY 0.05
#define REPORT_MODELS_MAX   64

/* The sums of one half (or the whole) of a model's rows. */
struct report_model_sums {
	size_t rows;
	double window_s;
	double tokens, requests;
	double joules, tokens_j;   /* energy, and the tokens of the rows that have it */
	double cost, tokens_cost;  /* GPU-seconds x price, and those rows' tokens */
	double gpu_s_cost;         /* those rows' GPU-seconds (for a report's own price) */
	double busy_s, gpu_s_busy; /* busy seconds over the GPU-seconds of the same rows */
};

struct report_model {
	char server[96], kind[16], model[128], gpus[400], gpu_model[96];
	int64_t first_t, last_t;
	double first_centre, last_centre; /* of the first and last rows' windows */
	double mid;                       /* the split between the halves */
	struct report_model_sums all, half[2];
	double kv_sum, running_sum, waiting_sum; /* means: / the counts */
	size_t kv_n, running_n, waiting_n;
	size_t advised[3]; /* windows advising raise, lower, keep */
	char advice[16];   /* the latest window's */
	double batch_now, batch_target;
	double preemptions;     /* over all windows */
	double sm_sum, mem_sum; /* means: / the counts */
	size_t sm_n, mem_n;
	/* the serving rules (analyze/serving.h) over the whole span, as the agent judges a
	 * window; the peer for energy_per_token_high is the best J/token of the same model on
	 * the same GPU model among the report's other servers */
	struct analyze_batch_advice judged;
	size_t nverdicts;
	struct analyze_verdict verdict[3];
};

/* The figures a line states, NaN when unknown. */
struct report_model_figures {
	double tokens_per_s, requests_per_s, j_per_token, cost_per_mtok, utilization;
	double kv_usage, running, waiting;
};

struct report_serving {
	struct report_model *models;
	size_t n;
	bool truncated;       /* more than REPORT_MODELS_MAX models */
	double price;         /* per GPU-hour overriding the agent's (NaN: the stored price) */
	const char *currency; /* NULL: "USD" */
};

/* Reads the server_window rows of [from, to].  0, or -1 with a message (a store error). */
int report_serving_load(struct store *s, int64_t from, int64_t to, struct report_serving *out,
                        char *err, size_t errlen);
void report_serving_free(struct report_serving *sv);

/* The same from rows of another source (report --prometheus): begin; feed every row,
 * ordered by server, model, t (report_serving_feed_row, a store_serving_fn); split; feed
 * them all again; end (the judging).  begin returns 0 or -1 when out of memory. */
struct report_serving_feed {
	struct report_serving *sv;
	int pass;      /* 0: spans, 1: sums */
	size_t cursor; /* pass 1: the models come in the order pass 0 found them */
};
int report_serving_begin(struct report_serving *sv, struct report_serving_feed *feed);
int report_serving_feed_row(void *feed, const struct store_serving_row *row);
void report_serving_split(struct report_serving_feed *feed);
void report_serving_end(struct report_serving *sv);

/* From a Prometheus that scrapes gpuscope agents: the agents' per-model window figures
 * (gpuscope_tokens_* and gpuscope_inference_server_*, labels instance, server, kind,
 * model, gpu_model) read every `step` seconds over [from, to] and taken as rows of one
 * step each (tokens = tokens/s x step, joules = power x step, ...).  get(ctx, name, each,
 * arg) runs the range queries of one series name, in as many pieces of time as it likes,
 * and hands each answer's "result" array to each(result, arg), to be read before it
 * returns (a family with no answer is absent).  0, or -1 when out of memory. */
typedef void (*report_prom_result_fn)(struct json_t *result, void *arg);
typedef void (*report_prom_range_fn)(void *ctx, const char *name, report_prom_result_fn each,
                                     void *arg);
int report_serving_from_prometheus(struct report_serving *sv, report_prom_range_fn get, void *ctx,
                                   int64_t from, double step, size_t n);

void report_model_figures(const struct report_model_sums *x, const struct report_model *m,
                          double price, struct report_model_figures *out);

/* The model's line into buf ("vllm 127.0.0.1:8000 meta-llama/...: 1000 tokens/s, ..."). */
void report_model_line(const struct report_serving *sv, const struct report_model *m, char *buf,
                       size_t len);

/* The sections: text (80 columns) or Markdown, HTML, and the JSON "models" array. */
void report_serving_text(FILE *out, const struct report_serving *sv, bool md);
void report_serving_html(FILE *out, const struct report_serving *sv);
struct json_t *report_serving_json(const struct report_serving *sv);

#endif
