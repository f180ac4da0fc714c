/* serving.h - the inference servers' figures in the history: one row per server, model and
 * window (table server_window, docs/history.md).
 *
 * The agent's reader of inference servers (servers/) computes, over each window (60 s by
 * default), what a server did and what its GPUs spent on it; once per window it hands one
 * row per model to the recorder, which writes it here in its own batch.  A row keeps the
 * window's sums (tokens, requests, joules, GPU-, SM-active and busy seconds), not only the
 * ratios, so a report over any span divides sums by sums (J/token over a day is the day's
 * joules over its tokens, not a mean of per-minute ratios), and the gauges the batch advice
 * reads (running, queue, KV cache, latency quantiles) as window means.  Rows are few (one
 * per model per minute), so they are never folded: they are deleted after the history's
 * minute retention, a bounded step with each row written.
 *
 * The table is its own: the GPU tables' layout can change without it, and a file written
 * before it existed gains it when a writer opens the file (store_serving_schema, called
 * from the schema setup).  Values are REAL in base units, NULL where absent, never 0.
 */
#ifndef GPUSCOPE_STORE_SERVING_H
#define GPUSCOPE_STORE_SERVING_H

#include <stdint.h>

#include "store/store.h"

/* X(id, column, unit, help): the numeric columns, in table order. */
#define STORE_SERVING_FIELDS(X)                                                                  \
	X(GEN_TOKENS, "gen_tokens", "tokens", "generated (output) tokens in the window")         \
	X(PROMPT_TOKENS, "prompt_tokens", "tokens", "prompt (input) tokens in the window")       \
	X(REQUESTS, "requests", "requests", "requests completed, aborts left out")               \
	X(JOULES, "joules", "J",                                                                 \
	  "energy of the server's GPUs (its share) over the window; NULL when the counters did " \
	  "not cover it")                                                                        \
	X(GPU_SECONDS, "gpu_seconds", "s", "GPU-seconds held (share x window, summed)")          \
	X(SM_SECONDS, "sm_active_seconds", "s", "SM-active GPU-seconds (GPM)")                   \
	X(BUSY_SECONDS, "busy_seconds", "s", "GPU-busy seconds (utilization x GPU-seconds)")     \
	X(PRICE, "price_per_gpu_hour", "currency", "the GPU-hour price the agent used")          \
	X(RUNNING, "running", "requests", "requests in the running batch (mean)")                \
	X(WAITING, "waiting", "requests", "requests queued (mean)")                              \
	X(KV_USAGE, "kv_cache_usage", "ratio", "KV cache in use, 0-1 (mean)")                    \
	X(PREEMPTIONS, "preemptions", "requests", "requests preempted in the window")            \
	X(AVG_BATCH, "batch_size_mean", "items", "items per execution (Triton)")                 \
	X(TTFT_P50, "ttft_p50", "s", "time to first token, median")                              \
	X(TTFT_P99, "ttft_p99", "s", "time to first token, 99th percentile")                     \
	X(ITL_P50, "itl_p50", "s", "inter-token latency, median")                                \
	X(ITL_P99, "itl_p99", "s", "inter-token latency, 99th percentile")                       \
	X(SM_ACTIVE, "sm_active", "ratio", "SM activity of its GPUs at the window's end")        \
	X(MEMORY_USED, "memory_used", "ratio", "highest memory-in-use ratio of its GPUs")        \
	X(BATCH_TARGET, "batch_target", "requests", "the batch the advice aims at")

enum store_serving_field {
#define STORE_SERVING_ENUM(id, col, unit, help) STORE_SERVING_##id,
	STORE_SERVING_FIELDS(STORE_SERVING_ENUM)
#undef STORE_SERVING_ENUM
	    STORE_SERVING_COUNT
};

/* The column name of a field ("gen_tokens"). */
const char *store_serving_column(enum store_serving_field f);

struct store_serving_row {
	int64_t t;       /* the window's last second (Unix time) */
	double window_s; /* its length */
	char server[96]; /* host:port */
	char kind[16];   /* vllm, sglang, tgi, triton, llamacpp */
	char model[128]; /* "" when the server has no model label */
	char gpus[400];  /* the joined GPUs' uuids, comma-separated ("" when not joined) */
	char gpu_model[96];
	char advice[16];               /* raise, lower, keep, unknown */
	double v[STORE_SERVING_COUNT]; /* NaN: absent */
};

/* Creates the table, its index and view when missing (writer, inside the schema setup's
 * transaction).  STORE_OK or an error code (store_errmsg). */
int store_serving_schema(struct store *s);

/* Writes one row (a second row for the same server, model and t replaces the first), in the
 * open batch when there is one, and deletes up to 100 rows older than the minute retention.
 * STORE_OK or an error code. */
int store_put_serving(struct store *s, const struct store_serving_row *row);

/* Calls fn for every row with t in [from, to], ordered by server, model, t; stops at the
 * first non-zero return of fn and returns it.  A history without the table has no rows.
 * Memory is one row whatever the span.  STORE_OK or an error code. */
typedef int (*store_serving_fn)(void *ctx, const struct store_serving_row *row);
int store_serving_each(struct store *s, int64_t from, int64_t to, store_serving_fn fn, void *ctx);

#endif
