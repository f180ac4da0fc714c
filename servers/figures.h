/* figures.h - per server and model, what a window of readings and the GPUs' side of the
 * same window come to: tokens/s, requests/s, joules, GPU-seconds and money per token and
 * per request, latency quantiles, batch and KV-cache state.
 *
 * One table (SERVER_FIGURES) names each figure, its unit and its help: /metrics, the JSON
 * API and docs/servers.md come from it, so a figure is one row plus one line computing it.
 * Counters are read Prometheus-style: the increase over the window is the sum of the
 * increases between consecutive readings, and a reading lower than the one before (the
 * server restarted) counts from zero.  Gauges are the mean over the window's readings.
 * Pure functions; the caller owns every byte.
 */
#ifndef GPUSCOPE_SERVERS_FIGURES_H
#define GPUSCOPE_SERVERS_FIGURES_H

#include <stdbool.h>

#include "servers/kinds.h"

/* X(id, family name, unit, help) */
#define SERVER_FIGURES(X)                                                                        \
	X(GEN_TPS, "gpuscope_tokens_generated_per_second", "tokens/s",                           \
	  "Generated (output) tokens per second over the window.")                               \
	X(PROMPT_TPS, "gpuscope_tokens_prompt_per_second", "tokens/s",                           \
	  "Prompt (input) tokens per second over the window.")                                   \
	X(REQ_PS, "gpuscope_inference_server_requests_per_second", "requests/s",                 \
	  "Requests completed per second over the window, aborts left out.")                     \
	X(J_PER_TOKEN, "gpuscope_tokens_energy_joules_per_token", "J",                           \
	  "GPU energy per generated token: the energy counters of the server's GPUs over the "   \
	  "window (its share where a GPU is shared) over the tokens generated.")                 \
	X(J_PER_REQUEST, "gpuscope_inference_server_energy_joules_per_request", "J",             \
	  "GPU energy per completed request over the window.")                                   \
	X(GPU_S_PER_MTOK, "gpuscope_tokens_gpu_seconds_per_million", "s",                        \
	  "GPU-seconds spent per million generated tokens.")                                     \
	X(GPU_S_PER_KREQ, "gpuscope_inference_server_gpu_seconds_per_thousand_requests", "s",    \
	  "GPU-seconds spent per thousand completed requests.")                                  \
	X(COST_PER_MTOK, "gpuscope_tokens_cost_per_million", "currency",                         \
	  "Money per million generated tokens at the GPU-hour price (--price-per-gpu-hour, "     \
	  "else the list price).")                                                               \
	X(COST_PER_KREQ, "gpuscope_inference_server_cost_per_thousand_requests", "currency",     \
	  "Money per thousand completed requests at the GPU-hour price.")                        \
	X(SM_S_PER_TOKEN, "gpuscope_tokens_sm_active_seconds_per_token", "s",                    \
	  "SM-active GPU-seconds per generated token (GPM SM activity x GPU-seconds / tokens).") \
	X(BUSY_S_PER_REQUEST, "gpuscope_inference_server_busy_seconds_per_request", "s",         \
	  "Utilization / requests per second (the 'cycles per inference' rule of thumb). "       \
	  "Utilization is a duty cycle: it saturates as batches grow, so this falls with load "  \
	  "without the work getting cheaper; prefer the SM-active and energy figures.")          \
	X(POWER_W, "gpuscope_inference_server_power_watts", "W",                                 \
	  "Mean power of the server's GPUs (its share) over the window.")                        \
	X(RUNNING, "gpuscope_inference_server_running_requests", "requests",                     \
	  "Requests in the running batch (mean over the window).")                               \
	X(WAITING, "gpuscope_inference_server_queue_requests", "requests",                       \
	  "Requests waiting in the queue (mean over the window).")                               \
	X(KV_USAGE, "gpuscope_inference_server_kv_cache_usage_ratio", "ratio",                   \
	  "KV cache in use, 0-1 (mean over the window).")                                        \
	X(PREEMPT_PS, "gpuscope_inference_server_preemptions_per_second", "1/s",                 \
	  "Requests preempted per second (KV cache full).")                                      \
	X(AVG_BATCH, "gpuscope_inference_server_batch_size_mean", "items",                       \
	  "Mean items per execution (Triton: inference count / execution count).")               \
	X(TTFT_P50, "gpuscope_inference_server_ttft_p50_seconds", "s",                           \
	  "Time to first token, median over the window (from the server's histogram).")          \
	X(TTFT_P99, "gpuscope_inference_server_ttft_p99_seconds", "s",                           \
	  "Time to first token, 99th percentile over the window.")                               \
	X(ITL_P50, "gpuscope_inference_server_itl_p50_seconds", "s",                             \
	  "Inter-token latency, median over the window.")                                        \
	X(ITL_P99, "gpuscope_inference_server_itl_p99_seconds", "s",                             \
	  "Inter-token latency, 99th percentile over the window.")

enum server_figure {
#define X(id, name, unit, help) SFIG_##id,
	SERVER_FIGURES(X)
#undef X
	    SFIG_COUNT
};

struct server_figure_info {
	const char *name, *unit, *help;
	const char *key; /* JSON key: the family name without its prefix */
};
extern const struct server_figure_info server_figure_info[SFIG_COUNT];

/* What the server's GPUs did over the same window, already apportioned to this server (and
 * model): the caller sums each GPU's figure times the server's share of that GPU. */
struct server_gpu_side {
	bool energy_valid;
	double joules;
	double gpu_seconds;
	bool sm_valid;
	double sm_active_seconds; /* sum of share x SM-active mean x window */
	bool util_valid;
	double busy_seconds;   /* sum of share x utilization mean x window */
	double price_per_hour; /* per GPU-hour; NaN when unknown */
};

struct server_figures {
	double window_s;
	bool reset; /* a counter went backwards inside the window (restart) */
	double gen_tokens, prompt_tokens, requests; /* increases over the window */
	double v[SFIG_COUNT];
	bool valid[SFIG_COUNT];
};

#define SERVER_WINDOW_READINGS_MAX 256

/* Figures of one model over readings r[0..n) (n at most SERVER_WINDOW_READINGS_MAX) taken at times
 * t[] (seconds, ascending; the window is t[n-1] - t[0]).  g may be NULL (not joined to GPUs: no
 * energy or money). */
void server_figures_compute(const struct server_reading *const *r, const double *t, unsigned n,
                            const char *model, const struct server_gpu_side *g,
                            struct server_figures *out);

/* Increase of a cumulative series over values v[0..n), resets counted from zero. */
double server_counter_increase(const double *v, unsigned n);

/* Prometheus' histogram_quantile over cumulative buckets; NaN when empty. */
double server_hist_quantile(double q, const double *le, const double *count, unsigned n);

#endif
