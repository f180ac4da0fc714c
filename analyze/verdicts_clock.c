/* verdicts_clock.c - clock lost to limits: "power_capped" and
 * "thermal_throttling".
 *
 * Both read the driver's clock event reasons first (the GPU says why it
 * slowed down) and fall back to the physical readings when the bitmask was
 * not collected: power against the enforced limit, temperature against this
 * GPU's own slowdown threshold (never a fixed number: 89 C on an H200,
 * other values elsewhere).  The loss is quantified the same way for both:
 * 1 - SM clock / max SM clock, averaged over the limited samples.
 *
 * A sample of the agent's history carries, per reason, the share of the
 * fast tier's readings in that second in which the reason held.  Where it
 * has them, a sample counts for that share: one reasons bitmask a second
 * locks onto the phase of a load whose period is near a second (a bursty
 * load read 79 % capped in one window and 0 % in the next; the truth was
 * 39 %).  The bitmask is the fallback for samples without shares (older
 * history, Prometheus).
 */
#include <math.h>

#include "analyze/internal.h"
#include "analyze/stats.h"

static double at(const struct analyze_gpu_series *g, enum analyze_signal s, size_t i)
{
	return g->sig[s] ? g->sig[s][i] : NAN;
}

static unsigned reasons_at(const struct analyze_gpu_series *g, size_t i)
{
	double r = at(g, ANALYZE_SIG_CLOCK_EVENT_REASONS, i);
	/* NVML's mask is 64 bits wide; the bits judged here are the low eight.  A
	 * value no mask can hold is garbage, not a reason. */
	if (isnan(r) || r < 0 || r >= 18446744073709551616.0)
		return 0;
	return (unsigned)((unsigned long long)r & 0xffffffffu);
}

static bool enough(const struct analyze_ctx *c, const struct analyze_gpu_series *g,
                   enum analyze_signal s)
{
	return analyze_valid_count(g->sig[s], g->n) >= c->cfg->min_samples;
}

static double clamp01(double x)
{
	return x < 0 ? 0 : x > 1 ? 1 : x;
}

/* The larger of two shares at sample i (a lower bound of the share in which
 * either held: they are measured separately); NaN when both are absent. */
static double share_at(const struct analyze_gpu_series *g, enum analyze_signal a,
                       enum analyze_signal b, size_t i)
{
	double x = at(g, a, i), y = at(g, b, i);
	if (isnan(x) && isnan(y))
		return NAN;
	return clamp01(isnan(x) ? y : isnan(y) ? x : fmax(x, y));
}

void analyze_check_power_cap(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g)
{
	const struct analyze_config *cfg = c->cfg;
	const unsigned bits = ANALYZE_CLOCK_SW_POWER | ANALYZE_CLOCK_POWER_BRAKE;
	struct analyze_subject about;
	size_t usable = 0, measured = 0;
	double capped = 0, lossn = 0, clockn = 0, powern = 0;
	double loss_sum = 0, clock_sum = 0, power_sum = 0;
	unsigned seen = 0;

	analyze_subject_gpu(&about, gi, g);
	/* Bursts that trip the cap are one story with one fix (smooth them):
	 * bursty carries the capped share.  On an H200, 100 ms of matmul a
	 * second kept the cap reason up 49 % of the time, mostly while idle. */
	if (analyze_fired(c, ANALYZE_BURSTY, gi))
		return;
	bool by_shares = enough(c, g, ANALYZE_SIG_POWER_CAP_SHARE) ||
	                 enough(c, g, ANALYZE_SIG_POWER_BRAKE_SHARE);
	bool by_reasons = enough(c, g, ANALYZE_SIG_CLOCK_EVENT_REASONS);
	bool by_power =
	    enough(c, g, ANALYZE_SIG_POWER_W) && enough(c, g, ANALYZE_SIG_POWER_LIMIT_W);
	if (!by_shares && !by_reasons && !by_power) {
		analyze_not_judged_add(c, ANALYZE_POWER_CAPPED, &about,
		                       "needs clock_event_reasons (or their shares), or power_w "
		                       "with power_limit_w; none has %zu valid samples",
		                       cfg->min_samples);
		return;
	}
	for (size_t i = 0; i < g->n; i++) {
		double w; /* how much of the sample was capped, 0-1 */
		double p = at(g, ANALYZE_SIG_POWER_W, i), lim = at(g, ANALYZE_SIG_POWER_LIMIT_W, i);
		double sh =
		    share_at(g, ANALYZE_SIG_POWER_CAP_SHARE, ANALYZE_SIG_POWER_BRAKE_SHARE, i);
		if (!isnan(sh)) {
			w = sh;
			seen |=
			    at(g, ANALYZE_SIG_POWER_CAP_SHARE, i) > 0 ? ANALYZE_CLOCK_SW_POWER : 0;
			seen |= at(g, ANALYZE_SIG_POWER_BRAKE_SHARE, i) > 0
			            ? ANALYZE_CLOCK_POWER_BRAKE
			            : 0;
			measured++;
		} else if (by_reasons || by_shares) {
			if (isnan(at(g, ANALYZE_SIG_CLOCK_EVENT_REASONS, i)))
				continue;
			w = (reasons_at(g, i) & bits) ? 1 : 0;
			seen |= reasons_at(g, i) & bits;
		} else {
			if (isnan(p) || isnan(lim))
				continue;
			w = p >= cfg->power_near_limit * lim;
		}
		usable++;
		if (!(w > 0))
			continue;
		capped += w;
		double loss = analyze_clock_loss_at(g, i);
		if (!isnan(loss)) {
			loss_sum += w * loss;
			lossn += w;
		}
		if (!isnan(at(g, ANALYZE_SIG_SM_CLOCK_HZ, i))) {
			clock_sum += w * at(g, ANALYZE_SIG_SM_CLOCK_HZ, i);
			clockn += w;
		}
		if (!isnan(p)) {
			power_sum += w * p;
			powern += w;
		}
	}
	double share = usable ? capped / (double)usable : 0;
	if (usable < cfg->min_samples || share < cfg->sustain_share)
		return;

	double loss = lossn > 0 ? loss_sum / lossn : NAN;
	double clock = clockn > 0 ? clock_sum / clockn : NAN;
	double clock_max = analyze_max(g->sig[ANALYZE_SIG_SM_CLOCK_MAX_HZ], g->n);
	double power = powern > 0 ? power_sum / powern : NAN;
	double limit = analyze_mean(g->sig[ANALYZE_SIG_POWER_LIMIT_W], g->n);
	bool brake = seen & ANALYZE_CLOCK_POWER_BRAKE;
	enum analyze_severity sev = (loss >= cfg->power_cap_warn_loss || brake)
	                                ? ANALYZE_SEVERITY_WARNING
	                                : ANALYZE_SEVERITY_INFO;
	char label[128], lost[96];
	analyze_gpu_label(label, sizeof(label), gi, g);
	if (isnan(loss))
		analyze_setf(lost, sizeof(lost),
		             "clock loss not quantified (SM clocks not collected)");
	else
		analyze_setf(lost, sizeof(lost), "SM clock %.0f of %.0f MHz (%.0f%% lost)",
		             clock / 1e6, clock_max / 1e6, loss * 100);

	struct analyze_verdict *v = analyze_verdict_add(c, ANALYZE_POWER_CAPPED, sev, &about);
	analyze_setf(v->title, sizeof(v->title), "%s is power-capped: %s%s", label, lost,
	             brake ? ", power brake asserted" : "");
	analyze_evidence_add(v, "capped_share", share, "ratio");
	analyze_evidence_add(v, "clock_loss", loss, "ratio");
	analyze_evidence_add(v, "sm_clock_mean", clock, "Hz");
	analyze_evidence_add(v, "sm_clock_max", clock_max, "Hz");
	analyze_evidence_add(v, "power_mean", power, "W");
	analyze_evidence_add(v, "power_limit", limit, "W");
	analyze_evidence_add(v, "reasons_seen", by_reasons || by_shares ? (double)seen : NAN,
	                     "bitmask");
	analyze_evidence_add(v, "measured_share", (double)measured / (double)usable, "ratio");
	char clock_text[128];
	if (isnan(loss))
		analyze_setf(clock_text, sizeof(clock_text),
		             "SM clocks were not collected, so the clock loss is not quantified");
	else
		analyze_setf(clock_text, sizeof(clock_text),
		             "the SM clock averaged %.0f of %.0f MHz, %.0f%% below its maximum",
		             clock / 1e6, clock_max / 1e6, loss * 100);
	analyze_setf(v->evidence_text, sizeof(v->evidence_text),
	             "%s %.0f%% of the time%s; there %s, drawing %.0f W against a %.0f W "
	             "limit.",
	             by_reasons || by_shares ? "The driver reported a power cap (clock event "
	                                       "reasons)"
	                                     : "Power was within a few percent of the limit",
	             share * 100,
	             measured * 2 >= usable ? " (measured over every fast-tier reading)"
	                                    : " (one reading per sample)",
	             clock_text, power, limit);
	analyze_setf(
	    v->fix, sizeof(v->fix),
	    "%sCheck the enforced limit is the board default (nvidia-smi -q -d POWER). If "
	    "it is, the GPU is at its power ceiling, expected for dense GEMMs: do more work "
	    "per joule with lower precision (FP8) or fewer wasted FLOPs (padding, "
	    "recompute); compute_bound tells whether the work itself is efficient.",
	    brake ? "A power brake is an external signal (facility or PSU): check the "
	            "node's power supply first. "
	          : "");
}

void analyze_check_thermal(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g)
{
	const struct analyze_config *cfg = c->cfg;
	const unsigned bits = ANALYZE_CLOCK_SW_THERMAL | ANALYZE_CLOCK_HW_THERMAL;
	struct analyze_subject about;
	size_t usable = 0;
	double hot = 0, hard = 0, lossn = 0, loss_sum = 0;
	unsigned seen = 0;

	analyze_subject_gpu(&about, gi, g);
	bool by_shares = enough(c, g, ANALYZE_SIG_SW_THERMAL_SHARE) ||
	                 enough(c, g, ANALYZE_SIG_HW_THERMAL_SHARE);
	bool by_reasons = enough(c, g, ANALYZE_SIG_CLOCK_EVENT_REASONS);
	bool by_temp =
	    enough(c, g, ANALYZE_SIG_TEMP_C) && enough(c, g, ANALYZE_SIG_SLOWDOWN_TEMP_C);
	if (!by_shares && !by_reasons && !by_temp) {
		analyze_not_judged_add(c, ANALYZE_THERMAL_THROTTLING, &about,
		                       "needs clock_event_reasons (or their shares), or temp_c "
		                       "with this GPU's slowdown_temp_c; none has %zu valid "
		                       "samples",
		                       cfg->min_samples);
		return;
	}
	for (size_t i = 0; i < g->n; i++) {
		double t = at(g, ANALYZE_SIG_TEMP_C, i),
		       slow = at(g, ANALYZE_SIG_SLOWDOWN_TEMP_C, i);
		double sh =
		    share_at(g, ANALYZE_SIG_SW_THERMAL_SHARE, ANALYZE_SIG_HW_THERMAL_SHARE, i);
		double hw_sh = clamp01(at(g, ANALYZE_SIG_HW_THERMAL_SHARE, i));
		bool have_r = !isnan(at(g, ANALYZE_SIG_CLOCK_EVENT_REASONS, i));
		bool have_t = !isnan(t) && !isnan(slow);
		if (isnan(sh) && !have_r && !have_t)
			continue;
		usable++;
		/* At the slowdown threshold the hardware slows the clock itself. */
		double over = have_t && t >= slow ? 1 : 0;
		double w, w_hard;
		if (!isnan(sh)) {
			w = fmax(sh, over);
			w_hard = fmax(isnan(hw_sh) ? 0 : hw_sh, over);
			seen |= at(g, ANALYZE_SIG_SW_THERMAL_SHARE, i) > 0
			            ? ANALYZE_CLOCK_SW_THERMAL
			            : 0;
			seen |= hw_sh > 0 ? ANALYZE_CLOCK_HW_THERMAL : 0;
		} else {
			unsigned r = reasons_at(g, i) & bits;
			seen |= r;
			w = r || over ? 1 : 0;
			w_hard = (r & ANALYZE_CLOCK_HW_THERMAL) || over ? 1 : 0;
		}
		if (!(w > 0))
			continue;
		hot += w;
		hard += w_hard;
		double loss = analyze_clock_loss_at(g, i);
		if (!isnan(loss)) {
			loss_sum += w * loss;
			lossn += w;
		}
	}
	double share = usable ? hot / (double)usable : 0;
	if (usable < cfg->min_samples || share < cfg->thermal_min_share)
		return;

	double loss = lossn > 0 ? loss_sum / lossn : NAN;
	double hard_share = hard / (double)usable;
	double temp_max = analyze_max(g->sig[ANALYZE_SIG_TEMP_C], g->n);
	double slow = analyze_min(g->sig[ANALYZE_SIG_SLOWDOWN_TEMP_C], g->n);
	enum analyze_severity sev = hard_share >= cfg->thermal_min_share ? ANALYZE_SEVERITY_CRITICAL
	                                                                 : ANALYZE_SEVERITY_WARNING;
	char label[128];
	analyze_gpu_label(label, sizeof(label), gi, g);
	struct analyze_verdict *v = analyze_verdict_add(c, ANALYZE_THERMAL_THROTTLING, sev, &about);
	if (isnan(loss))
		analyze_setf(v->title, sizeof(v->title),
		             "%s is thermally throttled %.0f%% of the time (clock loss not "
		             "quantified), up to %.0f C",
		             label, share * 100, temp_max);
	else
		analyze_setf(v->title, sizeof(v->title),
		             "%s is thermally throttled %.0f%% of the time, losing %.0f%% of its "
		             "clock, up to %.0f C",
		             label, share * 100, loss * 100, temp_max);
	analyze_evidence_add(v, "throttled_share", share, "ratio");
	analyze_evidence_add(v, "hw_throttled_share", hard_share, "ratio");
	analyze_evidence_add(v, "clock_loss", loss, "ratio");
	analyze_evidence_add(v, "throughput_loss", loss * share, "ratio");
	analyze_evidence_add(v, "temp_max", temp_max, "C");
	analyze_evidence_add(v, "slowdown_temp", slow, "C");
	analyze_evidence_add(v, "reasons_seen", by_reasons || by_shares ? (double)seen : NAN,
	                     "bitmask");
	analyze_setf(v->evidence_text, sizeof(v->evidence_text),
	             "Thermal limits held in %.0f%% of the samples (hardware slowdown or at the "
	             "%.0f C slowdown threshold in %.0f%%); peak %.0f C. While limited the SM "
	             "clock ran %.0f%% below its maximum, about %.0f%% of the window's throughput.",
	             share * 100, slow, hard_share * 100, temp_max, loss * 100, loss * share * 100);
	analyze_setf(v->fix, sizeof(v->fix),
	             "Fix the cooling, not the job: check inlet temperature, airflow and blanking "
	             "panels, fans or liquid loop, and compare with neighbouring GPUs. Hardware "
	             "thermal slowdown means cooling is failing: drain the GPU and get the node "
	             "serviced.");
}
