/* verdicts_health.c - the GPU's own health ("hardware_health": Xid events,
 * uncorrectable ECC, failed row remapping) and the balance of tensor-
 * parallel groups ("unbalanced_shards").
 *
 * Counters are cumulative, so only their increase inside the window counts:
 * an ECC error from last month is history, not a verdict.  A group is as
 * fast as its slowest shard, so a skew of memory or utilization across its
 * GPUs is waste even when each GPU on its own looks fine.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analyze/internal.h"
#include "analyze/models.h"
#include "analyze/stats.h"

#define XID_CODES_MAX 6

static bool xid_is_critical(const struct analyze_config *cfg, int code)
{
	for (size_t i = 0; i < cfg->nxid_critical; i++)
		if (cfg->xid_critical[i] == code)
			return true;
	return false;
}

/* Codes of the Xids that arrived in the window (where the count rose). */
static size_t xid_codes(const struct analyze_gpu_series *g, int *codes)
{
	const double *count = g->sig[ANALYZE_SIG_XID_COUNT], *last = g->sig[ANALYZE_SIG_XID_LAST];
	double prev = NAN;
	size_t k = 0;
	for (size_t i = 0; count && i < g->n; i++) {
		if (isnan(count[i]))
			continue;
		bool rose = !isnan(prev) && count[i] != prev;
		prev = count[i];
		if (!rose || !last || !(fabs(last[i]) < 1e9))
			continue;
		int code = (int)last[i];
		bool dup = false;
		for (size_t j = 0; j < k; j++)
			dup |= codes[j] == code;
		if (!dup && k < XID_CODES_MAX)
			codes[k++] = code;
	}
	return k;
}

void analyze_check_health(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g)
{
	const struct analyze_config *cfg = c->cfg;
	static const enum analyze_signal parts[] = {
	    ANALYZE_SIG_XID_COUNT, ANALYZE_SIG_ECC_DBE_COUNT, ANALYZE_SIG_REMAP_FAILURE};
	struct analyze_subject about;
	char missing[160] = "";
	bool have[3];
	size_t nmissing = 0;

	analyze_subject_gpu(&about, gi, g);
	for (size_t i = 0; i < 3; i++) {
		have[i] = analyze_valid_count(g->sig[parts[i]], g->n) >= cfg->min_samples;
		if (have[i])
			continue;
		size_t len = strlen(missing);
		snprintf(missing + len, sizeof(missing) - len, "%s%s", nmissing ? ", " : "",
		         analyze_signal_name(parts[i]));
		nmissing++;
	}
	if (nmissing == 3) {
		analyze_not_judged_add(c, ANALYZE_HARDWARE_HEALTH, &about,
		                       "%s absent (Xid events not registered, ECC off or row "
		                       "remapping unsupported)",
		                       missing);
		return;
	}
	if (nmissing)
		analyze_not_judged_add(c, ANALYZE_HARDWARE_HEALTH, &about,
		                       "judged without %s (absent); the other parts were judged",
		                       missing);

	double xids = have[0] ? analyze_counter_increase(g->sig[ANALYZE_SIG_XID_COUNT], g->n) : NAN;
	double dbe =
	    have[1] ? analyze_counter_increase(g->sig[ANALYZE_SIG_ECC_DBE_COUNT], g->n) : NAN;
	double remap = have[2] ? analyze_max(g->sig[ANALYZE_SIG_REMAP_FAILURE], g->n) : NAN;
	int codes[XID_CODES_MAX];
	size_t ncodes = xids > 0 ? xid_codes(g, codes) : 0;
	bool critical_xid = false;
	for (size_t i = 0; i < ncodes; i++)
		critical_xid |= xid_is_critical(cfg, codes[i]);
	bool bad_xid = xids > 0, bad_dbe = dbe > 0, bad_remap = remap > 0;
	if (!bad_xid && !bad_dbe && !bad_remap)
		return;

	char what[200] = "", codes_s[160] = "", label[128];
	size_t len = 0;
	for (size_t i = 0; i < ncodes; i++) {
		const char *name = analyze_xid_name(codes[i]);
		len += (size_t)snprintf(codes_s + len, sizeof(codes_s) - len, "%s%d%s%s%s",
		                        i ? ", " : "", codes[i], name ? " " : "", name ? name : "",
		                        xid_is_critical(cfg, codes[i]) ? " (critical)" : "");
		if (len >= sizeof(codes_s))
			break;
	}
	len = 0;
	if (bad_xid)
		len += (size_t)snprintf(what, sizeof(what), "%.0f Xid event%s%s%s%s", xids,
		                        xids == 1 ? "" : "s", ncodes ? " (" : "", codes_s,
		                        ncodes ? ")" : "");
	if (bad_dbe && len < sizeof(what))
		len += (size_t)snprintf(what + len, sizeof(what) - len,
		                        "%s%.0f uncorrectable ECC error%s", len ? ", " : "", dbe,
		                        dbe == 1 ? "" : "s");
	if (bad_remap && len < sizeof(what))
		snprintf(what + len, sizeof(what) - len, "%sa failed row remapping",
		         len ? ", " : "");

	bool critical = critical_xid || bad_dbe || bad_remap;
	analyze_gpu_label(label, sizeof(label), gi, g);
	struct analyze_verdict *v = analyze_verdict_add(
	    c, ANALYZE_HARDWARE_HEALTH,
	    critical ? ANALYZE_SEVERITY_CRITICAL : ANALYZE_SEVERITY_WARNING, &about);
	analyze_setf(v->title, sizeof(v->title), "%s reports hardware errors: %s", label, what);
	analyze_evidence_add(v, "xid_events", xids, "events");
	analyze_evidence_add(v, "xid_last_code", ncodes ? (double)codes[ncodes - 1] : NAN, "code");
	analyze_evidence_add(v, "ecc_dbe_increase", dbe, "errors");
	analyze_evidence_add(v, "remap_failure", remap, "flag");
	analyze_setf(v->evidence_text, sizeof(v->evidence_text), "Within the window: %s.%s", what,
	             critical ? " These point at the GPU or its memory, not the application."
	                      : " These Xid codes are usually raised by application faults "
	                        "(illegal memory access, MMU fault).");
	if (critical)
		analyze_setf(
		    v->fix, sizeof(v->fix),
		    "Drain the GPU (cordon the node, let jobs move), then reset it or reboot "
		    "the node; check nvidia-smi -q -d ECC,ROW_REMAPPER and the kernel log for "
		    "NVRM Xid lines. A repeat, a remap failure or more uncorrectable errors "
		    "mean the GPU needs RMA.");
	else
		analyze_setf(
		    v->fix, sizeof(v->fix),
		    "Check the logs of the jobs on this GPU at those times for CUDA errors; "
		    "if the same Xids appear across different jobs, treat the GPU as faulty "
		    "and drain it.");
}

/* Per-GPU mean of a signal for every member; false when one lacks it. */
static bool group_means(const struct analyze_ctx *c, const struct analyze_tp_group *grp,
                        enum analyze_signal s, bool util, double *lo, size_t *lo_at, double *hi,
                        size_t *hi_at)
{
	*lo = *hi = NAN;
	*lo_at = *hi_at = 0;
	for (size_t j = 0; j < grp->n; j++) {
		const struct analyze_gpu_series *g = &c->in->gpus[grp->gpu_index[j]];
		enum analyze_signal use = util ? analyze_util_signal(c, g, false) : s;
		if (use == ANALYZE_SIG_COUNT ||
		    analyze_valid_count(g->sig[use], g->n) < c->cfg->min_samples)
			return false;
		double m = analyze_mean(g->sig[use], g->n);
		if (isnan(*lo) || m < *lo) {
			*lo = m;
			*lo_at = grp->gpu_index[j];
		}
		if (isnan(*hi) || m > *hi) {
			*hi = m;
			*hi_at = grp->gpu_index[j];
		}
	}
	return true;
}

void analyze_check_shards(struct analyze_ctx *c, const struct analyze_tp_group *grp)
{
	const struct analyze_config *cfg = c->cfg;
	struct analyze_subject about;
	double mlo, mhi, ulo, uhi;
	size_t mlo_at, mhi_at, ulo_at, uhi_at;

	analyze_subject_group(&about, grp);
	if (grp->n < 2) {
		analyze_not_judged_add(c, ANALYZE_UNBALANCED_SHARDS, &about,
		                       "group has %zu GPU%s; skew needs at least 2", grp->n,
		                       grp->n == 1 ? "" : "s");
		return;
	}
	bool have_mem =
	    group_means(c, grp, ANALYZE_SIG_FB_USED_BYTES, false, &mlo, &mlo_at, &mhi, &mhi_at);
	bool have_util = group_means(c, grp, ANALYZE_SIG_COUNT, true, &ulo, &ulo_at, &uhi, &uhi_at);
	if (!have_mem)
		analyze_not_judged_add(c, ANALYZE_UNBALANCED_SHARDS, &about,
		                       "memory skew not judged: a GPU of the group lacks "
		                       "fb_used_bytes");
	if (!have_util)
		analyze_not_judged_add(c, ANALYZE_UNBALANCED_SHARDS, &about,
		                       "utilization skew not judged: a GPU of the group lacks "
		                       "gpu_util and sm_active");
	/* Floors keep an empty or idle shard from dividing by zero. */
	double mem_skew = have_mem ? mhi / fmax(mlo, 1024.0 * 1024.0) : NAN;
	double util_skew = have_util && uhi >= cfg->shard_util_min ? uhi / fmax(ulo, 0.01) : NAN;
	bool mem_bad = mem_skew >= cfg->shard_mem_skew,
	     util_bad = util_skew >= cfg->shard_util_skew;
	if (!mem_bad && !util_bad)
		return;

	struct analyze_verdict *v =
	    analyze_verdict_add(c, ANALYZE_UNBALANCED_SHARDS, ANALYZE_SEVERITY_WARNING, &about);
	char skews[96] = "";
	if (mem_bad && util_bad)
		analyze_setf(skews, sizeof(skews), "memory skew %.2fx, utilization skew %.2fx",
		             mem_skew, util_skew);
	else if (mem_bad)
		analyze_setf(skews, sizeof(skews), "memory skew %.2fx", mem_skew);
	else
		analyze_setf(skews, sizeof(skews), "utilization skew %.2fx", util_skew);
	analyze_setf(v->title, sizeof(v->title), "Tensor-parallel group %s is unbalanced: %s",
	             grp->name ? grp->name : "?", skews);
	analyze_evidence_add(v, "mem_skew", mem_skew, "ratio");
	analyze_evidence_add(v, "util_skew", util_skew, "ratio");
	analyze_evidence_add(v, "mem_max", have_mem ? mhi : NAN, "bytes");
	analyze_evidence_add(v, "mem_min", have_mem ? mlo : NAN, "bytes");
	analyze_evidence_add(v, "util_max", have_util ? uhi : NAN, "ratio");
	analyze_evidence_add(v, "util_min", have_util ? ulo : NAN, "ratio");
	analyze_evidence_add(v, "gpu_most_memory", have_mem ? (double)mhi_at : NAN, "index");
	analyze_evidence_add(v, "gpu_least_busy", have_util ? (double)ulo_at : NAN, "index");
	char mhs[32], mls[32], mem_s[160] = "", util_s[160] = "";
	analyze_fmt_bytes(mhs, sizeof(mhs), mhi);
	analyze_fmt_bytes(mls, sizeof(mls), mlo);
	if (have_mem)
		analyze_setf(mem_s, sizeof(mem_s),
		             " mean memory ranges %s (GPU %zu) to %s (GPU %zu), skew %.2fx (fires "
		             "at %.2fx);",
		             mls, mlo_at, mhs, mhi_at, mem_skew, cfg->shard_mem_skew);
	if (have_util && isnan(util_skew))
		analyze_setf(util_s, sizeof(util_s),
		             " utilization at most %.0f%% (under %.0f%%, not compared);", uhi * 100,
		             cfg->shard_util_min * 100);
	else if (have_util)
		analyze_setf(util_s, sizeof(util_s),
		             " mean utilization ranges %.0f%% (GPU %zu) to %.0f%% (GPU %zu), skew "
		             "%.2fx (fires at %.2fx);",
		             ulo * 100, ulo_at, uhi * 100, uhi_at, util_skew, cfg->shard_util_skew);
	analyze_setf(v->evidence_text, sizeof(v->evidence_text),
	             "Across the group's %zu GPUs%s%s the group runs at its slowest shard's pace.",
	             grp->n, mem_s, util_s);
	analyze_setf(v->fix, sizeof(v->fix),
	             "Look at the odd GPU out: another process or job sharing it, a throttled or "
	             "slower link (thermal_throttling, pcie_bound), or an uneven split of layers, "
	             "heads or vocabulary; keep shards identical and the GPUs dedicated to the "
	             "group.");
}
