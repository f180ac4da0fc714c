/* verdicts_shape.c - the shape of a GPU's work: "launch_bound" (busy but
 * empty) and "bursty" (short peaks over a low mean).
 *
 * Both are stories a mean hides.  NVML's utilization counts the time any
 * kernel ran, so a stream of tiny kernels launched one by one from Python
 * reads 30 % busy while GPM says the SMs were 0.1 % active: the GPU is not
 * short of input, it is short of work per launch.  And a GPU that runs flat
 * out for 100 ms once a second has a 15 % mean that reads as "idle", while
 * its 20 ms power samples touch the limit every second: the fix is to smooth
 * the load, not to give the GPU away.
 *
 * Bursts are judged on power where the per-second maxima of the driver's
 * 20 ms power samples were kept (utilization samples are 200 ms wide and
 * smear a 100 ms burst), else on NVML utilization's per-second maxima.  The
 * duty cycle against power counts the idle floor as work, so it errs on
 * the side of silence.
 */
#include <math.h>

#include "analyze/internal.h"
#include "analyze/stats.h"

/* A peak in at least this share of the samples: bursts shorter than a
 * sample, one or more in each. */
#define BURSTS_EVERY_SAMPLE 0.9

static double clamp01(double x)
{
	return x < 0 ? 0 : x > 1 ? 1 : x;
}

static double at(const struct analyze_gpu_series *g, enum analyze_signal s, size_t i)
{
	return g->sig[s] ? g->sig[s][i] : NAN;
}

void analyze_check_launch(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g)
{
	static const enum analyze_signal need[] = {ANALYZE_SIG_GPU_UTIL, ANALYZE_SIG_SM_ACTIVE};
	const struct analyze_config *cfg = c->cfg;
	size_t usable = 0, hits = 0;
	double util_sum = 0, sm_sum = 0;

	if (!analyze_require(c, ANALYZE_LAUNCH_BOUND, gi, g, need, 2))
		return;
	/* Half the window computing flat out is not an empty GPU; one waiting
	 * on copies reads NVML-busy too, and its story is the transfers. */
	if (analyze_fired(c, ANALYZE_COMPUTE_BOUND, gi) || analyze_fired(c, ANALYZE_PCIE_BOUND, gi))
		return;
	for (size_t i = 0; i < g->n; i++) {
		int r = analyze_launch_sample(cfg, g, i);
		usable += r >= 0;
		if (r != 1)
			continue;
		hits++;
		util_sum += g->sig[ANALYZE_SIG_GPU_UTIL][i];
		sm_sum += g->sig[ANALYZE_SIG_SM_ACTIVE][i];
	}
	double share = usable ? (double)hits / (double)usable : 0;
	if (usable < cfg->min_samples || share < cfg->sustain_share)
		return;

	double util = util_sum / (double)hits, sm = sm_sum / (double)hits;
	double waste = 1.0 - clamp01(analyze_mean(g->sig[ANALYZE_SIG_SM_ACTIVE], g->n));
	double nvml_waste = 1.0 - clamp01(analyze_mean(g->sig[ANALYZE_SIG_GPU_UTIL], g->n));
	double price = analyze_price_for(cfg, g);
	double per_day = waste * price * 24.0;
	const char *cur = c->res->currency;
	char label[128], u_day[24], money[128] = "";
	analyze_setf(u_day, sizeof(u_day), "%s/day", cur);
	analyze_gpu_label(label, sizeof(label), gi, g);
	if (!isnan(per_day))
		analyze_setf(money, sizeof(money), " = %.2f %s a day at %.2f %s/h", per_day, cur,
		             price, cur);

	struct analyze_subject about;
	analyze_subject_gpu(&about, gi, g);
	struct analyze_verdict *v =
	    analyze_verdict_add(c, ANALYZE_LAUNCH_BOUND, ANALYZE_SEVERITY_WARNING, &about);
	analyze_setf(v->title, sizeof(v->title),
	             "%s is busy but empty: kernels run %.0f%% of the time, SMs %.1f%% active",
	             label, util * 100, sm * 100);
	analyze_evidence_add(v, "bound_share", share, "ratio");
	analyze_evidence_add(v, "gpu_util_mean", util, "ratio");
	analyze_evidence_add(v, "sm_active_mean", sm, "ratio");
	analyze_evidence_add(v, "util_gap", util - sm, "ratio");
	analyze_evidence_add(v, "waste_ratio", waste, "ratio");
	analyze_evidence_add(v, "nvml_waste_ratio", nvml_waste, "ratio");
	analyze_evidence_add(v, "waste_per_day", per_day, u_day);
	analyze_setf(v->evidence_text, sizeof(v->evidence_text),
	             "In %.0f%% of the samples NVML said a kernel was running %.0f%% of the time "
	             "while GPM measured the SMs %.1f%% active (under %.0f%% of NVML's figure): "
	             "the GPU runs kernels too small to fill it, one after another, each launched "
	             "by the host. By SM activity %.0f%% of its time is wasted%s, not the %.0f%% "
	             "NVML utilization suggests.",
	             share * 100, util * 100, sm * 100, cfg->launch_sm_ratio * 100, waste * 100,
	             money, nvml_waste * 100);
	analyze_setf(v->fix, sizeof(v->fix),
	             "Give each launch more work: capture the step in CUDA Graphs, use "
	             "torch.compile (mode=\"reduce-overhead\") or fused kernels instead of many "
	             "small elementwise ones, and batch more requests per step (larger batch, "
	             "continuous batching). More data-loader workers will not help: the host is "
	             "busy launching, not preparing input.");
}

/* What bursts are judged on: per-sample peaks and means of one signal, and
 * the level a peak must reach. */
struct burst_basis {
	enum analyze_signal mean, peak;
	double peak_min; /* in the signal's unit */
	const char *what;
};

static bool burst_basis(const struct analyze_ctx *c, const struct analyze_gpu_series *g,
                        struct burst_basis *b)
{
	size_t k = c->cfg->min_samples;
	double limit = analyze_mean(g->sig[ANALYZE_SIG_POWER_LIMIT_W], g->n);
	if (analyze_valid_count(g->sig[ANALYZE_SIG_POWER_MAX_W], g->n) >= k &&
	    analyze_valid_count(g->sig[ANALYZE_SIG_POWER_W], g->n) >= k && limit > 0) {
		*b = (struct burst_basis){ANALYZE_SIG_POWER_W, ANALYZE_SIG_POWER_MAX_W,
		                          c->cfg->bursty_peak_min * limit, "power"};
		return true;
	}
	if (analyze_valid_count(g->sig[ANALYZE_SIG_GPU_UTIL_MAX], g->n) >= k &&
	    analyze_valid_count(g->sig[ANALYZE_SIG_GPU_UTIL], g->n) >= k) {
		*b = (struct burst_basis){ANALYZE_SIG_GPU_UTIL, ANALYZE_SIG_GPU_UTIL_MAX,
		                          c->cfg->bursty_peak_min, "utilization"};
		return true;
	}
	return false;
}

/* "every 20 s" into buf. */
static const char *per_text(char buf[48], double period)
{
	char d[32];
	analyze_fmt_duration(d, sizeof(d), period);
	analyze_setf(buf, 48, "every %s", d);
	return buf;
}

void analyze_check_bursty(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g)
{
	const struct analyze_config *cfg = c->cfg;
	struct analyze_subject about;
	struct burst_basis b;

	analyze_subject_gpu(&about, gi, g);
	/* A GPU starved by its input pipeline works in bursts too; the cause,
	 * and the fix, is the pipeline. */
	if (analyze_fired(c, ANALYZE_CPU_BOUND_INPUT, gi))
		return;
	if (!burst_basis(c, g, &b)) {
		analyze_not_judged_add(c, ANALYZE_BURSTY, &about,
		                       "needs per-sample maxima of power (power_max_w with "
		                       "power_w and power_limit_w) or of utilization "
		                       "(gpu_util_max with gpu_util); the agent's history has "
		                       "them, Prometheus range queries do not");
		return;
	}
	size_t usable = 0, active = 0, runs = 0;
	double mean_sum = 0, peak_sum = 0, util_peak_sum = 0;
	size_t util_peakn = 0;
	bool prev = false;
	for (size_t i = 0; i < g->n; i++) {
		double m = at(g, b.mean, i), p = at(g, b.peak, i);
		if (isnan(m) || isnan(p)) {
			prev = false;
			continue;
		}
		usable++;
		mean_sum += m;
		bool on = p >= b.peak_min;
		runs += on && !prev;
		prev = on;
		if (!on)
			continue;
		active++;
		peak_sum += p;
		double up = at(g, ANALYZE_SIG_GPU_UTIL_MAX, i);
		if (!isnan(up)) {
			util_peak_sum += up;
			util_peakn++;
		}
	}
	if (usable < cfg->min_samples || !active)
		return;
	double active_share = (double)active / (double)usable;
	double mean = mean_sum / (double)usable, peak = peak_sum / (double)active;
	double duty = peak > 0 ? mean / peak : NAN;
	/* Repeating: several bursts, or a peak in nearly every sample (bursts
	 * shorter than a sample).  One long phase is a change of load. */
	bool every_sample = active_share >= BURSTS_EVERY_SAMPLE;
	if (active_share < cfg->bursty_active_min || !(duty <= cfg->bursty_duty_max) ||
	    (runs < 2 && !every_sample))
		return;
	double period = every_sample ? g->step : (double)usable * g->step / (double)runs;
	double burst = duty * period;
	if (burst > cfg->bursty_burst_max_s)
		return;

	double power_mean = analyze_mean(g->sig[ANALYZE_SIG_POWER_W], g->n);
	double power_peak = analyze_max(g->sig[ANALYZE_SIG_POWER_MAX_W], g->n);
	double util_mean = analyze_mean(g->sig[ANALYZE_SIG_GPU_UTIL], g->n);
	double util_peak = util_peakn ? util_peak_sum / (double)util_peakn : NAN;
	enum analyze_signal ts = analyze_true_util_signal(cfg->min_samples, g);
	double true_util = ts == ANALYZE_SIG_COUNT ? NAN : analyze_mean(g->sig[ts], g->n);

	char label[128], span[32], per[48], peaks[160];
	analyze_gpu_label(label, sizeof(label), gi, g);
	analyze_fmt_duration(span, sizeof(span), burst);
	if (!isnan(power_peak) && !isnan(power_mean))
		analyze_setf(peaks, sizeof(peaks), "power peaks at %.0f W against a %.0f W mean",
		             power_peak, power_mean);
	else
		analyze_setf(peaks, sizeof(peaks),
		             "utilization peaks at %.0f%% against a %.0f%% "
		             "mean",
		             util_peak * 100, util_mean * 100);

	struct analyze_verdict *v =
	    analyze_verdict_add(c, ANALYZE_BURSTY, ANALYZE_SEVERITY_WARNING, &about);
	analyze_setf(v->title, sizeof(v->title), "%s works in bursts: %.0f%% duty cycle, %s", label,
	             duty * 100, peaks);
	analyze_evidence_add(v, "duty_cycle", duty, "ratio");
	analyze_evidence_add(v, "active_share", active_share, "ratio");
	analyze_evidence_add(v, "burst_length", burst, "s");
	analyze_evidence_add(v, "burst_period", period, "s");
	analyze_evidence_add(v, "power_mean", power_mean, "W");
	analyze_evidence_add(v, "power_peak", power_peak, "W");
	analyze_evidence_add(v, "util_mean", util_mean, "ratio");
	analyze_evidence_add(v, "util_peak", util_peak, "ratio");
	analyze_evidence_add(v, ts == ANALYZE_SIG_SM_ACTIVE ? "sm_active_mean" : "true_util_mean",
	                     true_util, "ratio");
	/* Peaks over the limit trip the power cap; power_capped steps aside. */
	analyze_evidence_add(v, "power_cap_share",
	                     analyze_mean(g->sig[ANALYZE_SIG_POWER_CAP_SHARE], g->n), "ratio");
	analyze_setf(v->evidence_text, sizeof(v->evidence_text),
	             "Judged on %s: %.0f%% of the samples hold a peak (at least %.0f%% of %s), "
	             "and the mean is %.0f%% of the mean peak, so the GPU works flat out about "
	             "%s %s and waits in between; %s. The mean (%.0f%% used by %s) hides the "
	             "peaks the GPU, its power feed and its request queue must absorb.",
	             b.what, active_share * 100, cfg->bursty_peak_min * 100,
	             b.mean == ANALYZE_SIG_POWER_W ? "the power limit" : "full utilization",
	             duty * 100, span, every_sample ? "in every sample" : per_text(per, period),
	             peaks, true_util * 100, analyze_signal_name(ts));
	analyze_setf(v->fix, sizeof(v->fix),
	             "Smooth the load: queue and batch requests so the GPU works steadily "
	             "(dynamic or continuous batching with a short maximum wait), or share the "
	             "GPU (MIG, MPS, several services or replicas) so one's gaps take another's "
	             "work; size power and cooling for the peaks, not the mean.");
}
