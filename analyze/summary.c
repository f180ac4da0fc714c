/* summary.c - one line per GPU for the fleet summary: how busy, what the
 * idle part costs, and how much work each watt and joule buys.
 *
 * The money method: waste = 1 - mean utilization over the window, priced at
 * the GPU-hour price (config, else the model table) and extrapolated to a
 * day (x24) and a year (x24x365) as if the window were typical.  A GPU is
 * paid for whether it works or not, so idle time is the waste; time spent
 * power-capped or bandwidth-bound is not counted here (the verdicts say so).
 */
#include <math.h>
#include <string.h>

#include "analyze/internal.h"
#include "analyze/stats.h"

/* Utilization the way the idle verdict reads it: the truest signal. */
static double util_mean(const struct analyze_config *cfg, const struct analyze_gpu_series *g)
{
	enum analyze_signal s = analyze_true_util_signal(cfg->min_samples, g);
	return s == ANALYZE_SIG_COUNT ? NAN : analyze_mean(g->sig[s], g->n);
}

void analyze_summarize(const struct analyze_config *cfg, size_t gi,
                       const struct analyze_gpu_series *g, struct analyze_gpu_summary *s)
{
	char label[128], money[96] = "", eff[96] = "", work[64] = "", by[48] = "";
	const char *cur = cfg->currency ? cfg->currency : "";

	memset(s, 0, sizeof(*s));
	s->gpu_index = (long)gi;
	analyze_setf(s->uuid, sizeof(s->uuid), "%s", g->uuid ? g->uuid : "");
	analyze_setf(s->model, sizeof(s->model), "%s", g->model ? g->model : "");
	s->window_s = (double)g->n * g->step;
	s->util_mean = util_mean(cfg, g);
	enum analyze_signal us = analyze_true_util_signal(cfg->min_samples, g);
	s->util_source = us == ANALYZE_SIG_COUNT ? NULL : analyze_signal_name(us);
	s->gpu_util_mean =
	    analyze_valid_count(g->sig[ANALYZE_SIG_GPU_UTIL], g->n) >= cfg->min_samples
	        ? analyze_mean(g->sig[ANALYZE_SIG_GPU_UTIL], g->n)
	        : NAN;
	s->waste_ratio = isnan(s->util_mean) ? NAN : 1.0 - fmin(fmax(s->util_mean, 0), 1);
	s->price_per_hour = analyze_price_for(cfg, g);
	s->waste_per_day = s->waste_ratio * s->price_per_hour * 24.0;
	s->waste_per_year = s->waste_per_day * 365.0;
	s->power_mean_w = analyze_valid_count(g->sig[ANALYZE_SIG_POWER_W], g->n) >= cfg->min_samples
	                      ? analyze_mean(g->sig[ANALYZE_SIG_POWER_W], g->n)
	                      : NAN;
	s->util_per_watt = s->power_mean_w > 0 ? s->util_mean / s->power_mean_w : NAN;
	/* The counter is exact; mean power x window is the fallback. */
	s->energy_j = analyze_counter_increase(g->sig[ANALYZE_SIG_ENERGY_J], g->n);
	if (isnan(s->energy_j))
		s->energy_j = s->power_mean_w * s->window_s;
	s->energy_per_work_j = g->work_done > 0 ? s->energy_j / g->work_done : NAN;
	analyze_setf(s->work_unit, sizeof(s->work_unit), "%s",
	             g->work_unit && g->work_done > 0 ? g->work_unit : "");

	analyze_gpu_label(label, sizeof(label), gi, g);
	if (!isnan(s->waste_per_day))
		analyze_setf(money, sizeof(money), " = %.2f %s/day, %.0f %s/year at %.2f %s/h",
		             s->waste_per_day, cur, s->waste_per_year, cur, s->price_per_hour, cur);
	else if (!isnan(s->waste_ratio))
		analyze_setf(money, sizeof(money), " (no price for this model)");
	if (!isnan(s->power_mean_w) && !isnan(s->util_per_watt))
		analyze_setf(eff, sizeof(eff), "; %.0f W mean, %.3f util-%%/W", s->power_mean_w,
		             s->util_per_watt * 100);
	else if (!isnan(s->power_mean_w))
		analyze_setf(eff, sizeof(eff), "; %.0f W mean", s->power_mean_w);
	/* Say what "utilized" means when SM activity and NVML's figure differ. */
	if (us == ANALYZE_SIG_SM_ACTIVE && !isnan(s->gpu_util_mean) &&
	    fabs(s->gpu_util_mean - s->util_mean) >= 0.05)
		analyze_setf(by, sizeof(by), " (SM activity; NVML %.0f%%)", s->gpu_util_mean * 100);
	if (!isnan(s->energy_per_work_j))
		analyze_setf(work, sizeof(work), ", %.3g J/%s", s->energy_per_work_j, s->work_unit);
	if (isnan(s->util_mean))
		analyze_setf(s->line, sizeof(s->line), "%s: utilization not collected%s%s", label,
		             eff, work);
	else
		analyze_setf(s->line, sizeof(s->line), "%s: %.0f%% utilized%s, %.0f%% waste%s%s%s",
		             label, s->util_mean * 100, by, s->waste_ratio * 100, money, eff, work);
}
