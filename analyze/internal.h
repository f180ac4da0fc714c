/* internal.h - what the diagnosis engine's files share and callers do not.
 *
 * One run builds its result through a struct analyze_ctx.  Out of memory is
 * sticky, like the project's strbuf: a failed append sets ctx->oom and hands
 * back a scratch record the check may write into harmlessly, so each check
 * reads straight through and analyze_run() frees everything at the end.
 */
#ifndef GPUSCOPE_ANALYZE_INTERNAL_H
#define GPUSCOPE_ANALYZE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "analyze/analyze.h"

struct analyze_ctx {
	const struct analyze_config *cfg;
	const struct analyze_input *in;
	struct analyze_result *res;
	size_t verdicts_cap, not_judged_cap;
	bool oom;
	struct analyze_verdict scratch_verdict;
	struct analyze_not_judged scratch_not_judged;
};

/* printf into a fixed buffer, truncating; always NUL-terminates. */
void analyze_setf(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void analyze_subject_gpu(struct analyze_subject *s, size_t gpu_index,
                         const struct analyze_gpu_series *g);
void analyze_subject_process(struct analyze_subject *s, size_t gpu_index,
                             const struct analyze_gpu_series *g,
                             const struct analyze_process_series *p);
void analyze_subject_group(struct analyze_subject *s, const struct analyze_tp_group *grp);

/* Appends a verdict (never NULL: the scratch record on OOM). */
struct analyze_verdict *analyze_verdict_add(struct analyze_ctx *c, const char *id,
                                            enum analyze_severity sev,
                                            const struct analyze_subject *about);
void analyze_evidence_add(struct analyze_verdict *v, const char *name, double value,
                          const char *unit);

/* Appends a not-judged entry with a printf reason. */
void analyze_not_judged_add(struct analyze_ctx *c, const char *id,
                            const struct analyze_subject *about, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* True when every listed signal has at least cfg->min_samples valid samples;
 * otherwise records `id` as not judged, naming the missing signals and why
 * they are usually missing, and returns false. */
bool analyze_require(struct analyze_ctx *c, const char *id, size_t gpu_index,
                     const struct analyze_gpu_series *g, const enum analyze_signal *sigs,
                     size_t nsigs);

/* The utilization a GPU is judged by: GPU_UTIL when it has enough samples,
 * else SM_ACTIVE; ANALYZE_SIG_COUNT when neither.  `sm_first` prefers
 * SM_ACTIVE (the better "are SMs working" signal) when both are present. */
enum analyze_signal analyze_util_signal(const struct analyze_ctx *c,
                                        const struct analyze_gpu_series *g, bool sm_first);

/* The truest utilization signal a GPU has (idle, waste, the summary): GPM's
 * SM activity where it was collected, NVML's utilization otherwise (which
 * counts a 1-thread kernel as 100 % busy); ANALYZE_SIG_COUNT when neither. */
enum analyze_signal analyze_true_util_signal(size_t min_samples,
                                             const struct analyze_gpu_series *g);

/* Sample i of a busy-but-empty GPU: NVML utilization >= launch_util_min and
 * SM activity < launch_sm_ratio x it.  -1 unusable (either absent), 0, 1. */
int analyze_launch_sample(const struct analyze_config *cfg, const struct analyze_gpu_series *g,
                          size_t i);

/* True when a verdict `id` was already given to GPU gi in this run. */
bool analyze_fired(const struct analyze_ctx *c, const char *id, size_t gi);

/* Price per GPU-hour for g: the config's, else the model table's, else NaN. */
double analyze_price_for(const struct analyze_config *cfg, const struct analyze_gpu_series *g);

/* The checks, one per verdict (verdicts_*.c). */
void analyze_check_launch(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g);
void analyze_check_bursty(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g);
void analyze_check_idle(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g);
void analyze_check_cpu_bound(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g);
void analyze_check_bandwidth(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g);
void analyze_check_compute(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g);
void analyze_check_power_cap(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g);
void analyze_check_thermal(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g);
void analyze_check_pcie(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g);
void analyze_check_vram(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g);
void analyze_check_growth(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g);
void analyze_check_health(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g);
void analyze_check_shards(struct analyze_ctx *c, const struct analyze_tp_group *grp);
void analyze_check_comm(struct analyze_ctx *c, const struct analyze_comm_series *cs);
void analyze_summarize(const struct analyze_config *cfg, size_t gi,
                       const struct analyze_gpu_series *g, struct analyze_gpu_summary *s);

/* Clock loss of one sample, 1 - clock / max clock; NaN when either is
 * absent or the max is not positive. */
double analyze_clock_loss_at(const struct analyze_gpu_series *g, size_t i);

/* Human text for titles and sentences (text.c): "2.3 GiB", "61 s",
 * "GPU 0 (NVIDIA H200)". */
void analyze_fmt_bytes(char *dst, size_t size, double bytes);
void analyze_fmt_duration(char *dst, size_t size, double seconds);
void analyze_gpu_label(char *dst, size_t size, size_t gpu_index,
                       const struct analyze_gpu_series *g);

/* Allocation for everything a run allocates (result and scratch), through
 * the test hook below. */
void *analyze_realloc(void *p, size_t size);

/* Test hook: the allocator the result is built with (NULL restores
 * realloc), so tests can fail the k-th allocation. */
void analyze_set_realloc_for_tests(void *(*fn)(void *, size_t));

#endif
