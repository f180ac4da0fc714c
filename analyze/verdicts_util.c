/* verdicts_util.c - is the GPU used at all, and if not, is its input the
 * reason?  The "idle" and "cpu_bound_input" verdicts.
 *
 * Utilization is the truest signal the GPU has: GPM's SM activity where it
 * was collected, else NVML's utilization.gpu.  NVML's figure only says some
 * kernel was running, so a stream of tiny kernels reads 30 % busy while the
 * SMs are 0.1 % active; judging idleness and waste on it understated both.
 *
 * idle is the verdict of last resort: it runs after every check that
 * explains low utilization (compute_bound, launch_bound, bursty,
 * cpu_bound_input, pcie_bound) and stays silent when one fired, so a load
 * gets the fix for its cause rather than "give the GPU back" beside it.
 */
#include <math.h>

#include "analyze/internal.h"
#include "analyze/stats.h"

static double clamp01(double x)
{
	return x < 0 ? 0 : x > 1 ? 1 : x;
}

void analyze_check_idle(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g)
{
	const struct analyze_config *cfg = c->cfg;
	struct analyze_subject about;
	char label[128], span[32];

	analyze_subject_gpu(&about, gi, g);
	enum analyze_signal us = analyze_true_util_signal(cfg->min_samples, g);
	static const char *const explained_by[] = {ANALYZE_COMPUTE_BOUND, ANALYZE_LAUNCH_BOUND,
	                                           ANALYZE_BURSTY, ANALYZE_CPU_BOUND_INPUT,
	                                           ANALYZE_PCIE_BOUND};
	for (size_t k = 0; k < sizeof(explained_by) / sizeof(explained_by[0]); k++)
		if (analyze_fired(c, explained_by[k], gi))
			return;
	if (us == ANALYZE_SIG_COUNT) {
		analyze_not_judged_add(c, ANALYZE_IDLE, &about,
		                       "needs gpu_util or sm_active with %zu valid samples; "
		                       "neither was collected",
		                       cfg->min_samples);
		return;
	}
	double util = analyze_mean(g->sig[us], g->n);
	if (!(util < cfg->idle_util_max))
		return;

	double window_s = (double)g->n * g->step;
	double waste = 1.0 - clamp01(util);
	double price = analyze_price_for(cfg, g);
	double per_day = waste * price * 24.0;
	double per_year = per_day * 365.0;
	const char *cur = c->res->currency;
	char u_hour[24], u_day[24], u_year[24];
	analyze_setf(u_hour, sizeof(u_hour), "%s/h", cur);
	analyze_setf(u_day, sizeof(u_day), "%s/day", cur);
	analyze_setf(u_year, sizeof(u_year), "%s/year", cur);
	analyze_gpu_label(label, sizeof(label), gi, g);
	analyze_fmt_duration(span, sizeof(span), window_s);

	struct analyze_verdict *v =
	    analyze_verdict_add(c, ANALYZE_IDLE, ANALYZE_SEVERITY_WARNING, &about);
	analyze_setf(v->title, sizeof(v->title), "%s is %s: %.0f%% mean utilization over %s", label,
	             util < 0.05 ? "idle" : "underused", util * 100, span);
	analyze_evidence_add(v, "util_mean", util, "ratio");
	analyze_evidence_add(v, "idle_ratio", waste, "ratio");
	analyze_evidence_add(v, "window_s", window_s, "s");
	analyze_evidence_add(v, "price_per_hour", price, u_hour);
	analyze_evidence_add(v, "waste_per_day", per_day, u_day);
	analyze_evidence_add(v, "waste_per_year", per_year, u_year);
	if (isnan(price))
		analyze_setf(v->evidence_text, sizeof(v->evidence_text),
		             "Mean %s %.1f%% (idle below %.0f%%) over %s: %.0f%% of the GPU's "
		             "paid time did no work. No price is known for model \"%s\": set "
		             "price_per_gpu_hour to put money on it.",
		             analyze_signal_name(us), util * 100, cfg->idle_util_max * 100, span,
		             waste * 100, g->model ? g->model : "");
	else
		analyze_setf(v->evidence_text, sizeof(v->evidence_text),
		             "Mean %s %.1f%% (idle below %.0f%%) over %s: %.0f%% of the GPU's "
		             "paid time did no work. At %.2f %s per GPU-hour that wastes "
		             "%.2f %s a day, %.0f %s a year.",
		             analyze_signal_name(us), util * 100, cfg->idle_util_max * 100, span,
		             waste * 100, price, cur, per_day, cur, per_year, cur);
	analyze_setf(v->fix, sizeof(v->fix),
	             "Give the GPU more work or give it back: pack more replicas or models on "
	             "it (MIG, MPS or a shared server), batch more requests, scale the "
	             "deployment down or release the GPU.");
}

/* One process: is it pegged on the CPU while its GPU waits? */
static void cpu_bound_process(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g,
                              const struct analyze_process_series *p, enum analyze_signal us)
{
	const struct analyze_config *cfg = c->cfg;
	struct analyze_subject about;
	const double *util = g->sig[us];
	size_t usable = 0, saturated = 0;
	double idle_sum = 0, cpu_sum = 0;

	analyze_subject_process(&about, gi, g, p);
	double cores = p->cpu_cores_usable > 0 ? p->cpu_cores_usable : 1.0;
	for (size_t i = 0; p->cpu_cores && i < g->n; i++) {
		if (isnan(p->cpu_cores[i]) || isnan(util[i]))
			continue;
		usable++;
		if (p->cpu_cores[i] < cfg->cpu_saturated_ratio * cores)
			continue;
		saturated++;
		/* A busy-but-empty sample: the host is busy launching kernels, the
		 * GPU is running them; it is not waiting for input. */
		if (analyze_launch_sample(cfg, g, i) == 1)
			continue;
		idle_sum += 1.0 - clamp01(util[i]);
		cpu_sum += p->cpu_cores[i];
	}
	if (usable < cfg->min_samples) {
		analyze_not_judged_add(c, ANALYZE_CPU_BOUND_INPUT, &about,
		                       "process %u: %zu samples with both its cpu_cores and %s, "
		                       "needs %zu%s",
		                       p->pid, usable, analyze_signal_name(us), cfg->min_samples,
		                       p->cpu_cores ? "" : " (process CPU not collected)");
		return;
	}
	double sat_share = (double)saturated / (double)usable;
	double idle_share = saturated ? idle_sum / (double)saturated : 0;
	if (sat_share < cfg->cpu_bound_saturated_share || idle_share < cfg->cpu_bound_gpu_idle_min)
		return;

	double cpu_mean = cpu_sum / (double)saturated;
	char label[128];
	analyze_gpu_label(label, sizeof(label), gi, g);
	struct analyze_verdict *v =
	    analyze_verdict_add(c, ANALYZE_CPU_BOUND_INPUT, ANALYZE_SEVERITY_WARNING, &about);
	analyze_setf(v->title, sizeof(v->title),
	             "Process %u (%s) is CPU-bound: %.2f of %.2g usable cores busy while %s "
	             "idles %.0f%%",
	             p->pid, p->name ? p->name : "?", cpu_mean, cores, label, idle_share * 100);
	analyze_evidence_add(v, "cpu_saturated_share", sat_share, "ratio");
	analyze_evidence_add(v, "cpu_cores_mean", cpu_mean, "cores");
	analyze_evidence_add(v, "cpu_cores_usable", cores, "cores");
	analyze_evidence_add(v, "gpu_idle_share", idle_share, "ratio");
	analyze_setf(v->evidence_text, sizeof(v->evidence_text),
	             "In %.0f%% of the samples the process used at least %.0f%% of the %.2g "
	             "cores its input work can use (%.2f cores on average)%s, and during those "
	             "samples the GPU was idle %.0f%% of the time (by %s): the GPU waits for the "
	             "host to prepare input.",
	             sat_share * 100, cfg->cpu_saturated_ratio * 100, cores, cpu_mean,
	             p->cpu_cores_usable > 0 ? "" : " (usable cores unknown: assumed one thread)",
	             idle_share * 100, analyze_signal_name(us));
	analyze_setf(v->fix, sizeof(v->fix),
	             "Move preprocessing and tokenization off the critical path: run it on the "
	             "GPU (GPU decode, GPU tokenizers), add data-loader workers "
	             "(num_workers, prefetch_factor), use pinned memory with non_blocking copies, "
	             "and cache preprocessed inputs; give the container more CPU if it is capped.");
}

void analyze_check_cpu_bound(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g)
{
	struct analyze_subject about;
	enum analyze_signal us = analyze_true_util_signal(c->cfg->min_samples, g);

	analyze_subject_gpu(&about, gi, g);
	if (g->nprocs == 0) {
		analyze_not_judged_add(c, ANALYZE_CPU_BOUND_INPUT, &about,
		                       "no per-process data for this GPU (process CPU is needed "
		                       "to tell a starved GPU from an unused one)");
		return;
	}
	if (us == ANALYZE_SIG_COUNT) {
		analyze_not_judged_add(c, ANALYZE_CPU_BOUND_INPUT, &about,
		                       "needs gpu_util or sm_active with %zu valid samples; "
		                       "neither was collected",
		                       c->cfg->min_samples);
		return;
	}
	/* A busy-but-empty GPU's host is busy launching, not preparing input;
	 * a PCIe-bound one's is busy staging pageable copies (pinned memory is
	 * the fix both verdicts would give, and pcie_bound says why). */
	if (analyze_fired(c, ANALYZE_LAUNCH_BOUND, gi) || analyze_fired(c, ANALYZE_PCIE_BOUND, gi))
		return;
	for (size_t i = 0; i < g->nprocs; i++)
		cpu_bound_process(c, gi, g, &g->procs[i], us);
}
