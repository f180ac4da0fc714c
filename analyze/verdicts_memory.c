/* verdicts_memory.c - GPU memory: too full ("vram_pressure"), too empty
 * ("vram_overprovisioned") and growing toward OOM ("memory_growth").
 *
 * Memory growth is a least-squares line through a process's GPU memory with
 * a fit-quality gate (r2): an allocator's sawtooth or a cache that fills and
 * evicts has no good line through it and does not fire, a leak's staircase
 * does.  Without per-process memory the whole GPU's used memory is fitted
 * instead, and the verdict says so.
 */
#include <math.h>

#include "analyze/internal.h"
#include "analyze/models.h"
#include "analyze/stats.h"

static void vram_pressure(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g,
                          double share, double peak_ratio, double peak, double total)
{
	const struct analyze_config *cfg = c->cfg;
	struct analyze_subject about;
	char label[128], peak_s[32], total_s[32];

	analyze_subject_gpu(&about, gi, g);
	analyze_gpu_label(label, sizeof(label), gi, g);
	analyze_fmt_bytes(peak_s, sizeof(peak_s), peak);
	analyze_fmt_bytes(total_s, sizeof(total_s), total);
	enum analyze_severity sev = peak_ratio >= cfg->vram_critical_ratio
	                                ? ANALYZE_SEVERITY_CRITICAL
	                                : ANALYZE_SEVERITY_WARNING;
	struct analyze_verdict *v = analyze_verdict_add(c, ANALYZE_VRAM_PRESSURE, sev, &about);
	analyze_setf(v->title, sizeof(v->title), "%s memory is %.0f%% full (peak %s of %s)", label,
	             peak_ratio * 100, peak_s, total_s);
	analyze_evidence_add(v, "above_share", share, "ratio");
	analyze_evidence_add(v, "peak_ratio", peak_ratio, "ratio");
	analyze_evidence_add(v, "peak_used", peak, "bytes");
	analyze_evidence_add(v, "total", total, "bytes");
	analyze_setf(v->evidence_text, sizeof(v->evidence_text),
	             "Used memory was above %.0f%% of the %s framebuffer in %.0f%% of the samples, "
	             "peaking at %s (%.1f%%): one larger batch or longer prompt away from out of "
	             "memory.",
	             cfg->vram_pressure_ratio * 100, total_s, share * 100, peak_s,
	             peak_ratio * 100);
	analyze_setf(v->fix, sizeof(v->fix),
	             "Leave headroom: reduce batch size or the KV-cache share (e.g. vLLM "
	             "--gpu-memory-utilization, max_num_seqs), quantize weights or KV cache, or "
	             "shard the model over more GPUs. If an allocator reserves memory on purpose, "
	             "raise vram_pressure_ratio for this workload.");
}

static void vram_overprovisioned(struct analyze_ctx *c, size_t gi,
                                 const struct analyze_gpu_series *g, double peak_ratio, double peak,
                                 double total)
{
	const struct analyze_config *cfg = c->cfg;
	struct analyze_subject about;
	char label[128], peak_s[32], total_s[32], need_s[32], where[200] = "";

	double need = peak * cfg->vram_headroom;
	const struct analyze_mig_profile *mig = analyze_mig_smallest_fit(g->model, need);
	const struct analyze_gpu_model *model = analyze_gpu_model_smallest_fit(need, total);
	analyze_subject_gpu(&about, gi, g);
	analyze_gpu_label(label, sizeof(label), gi, g);
	analyze_fmt_bytes(peak_s, sizeof(peak_s), peak);
	analyze_fmt_bytes(total_s, sizeof(total_s), total);
	analyze_fmt_bytes(need_s, sizeof(need_s), need);
	if (mig && model)
		analyze_setf(where, sizeof(where),
		             "a MIG %s instance of this GPU or a smaller GPU such as the %s",
		             mig->name, model->name);
	else if (mig)
		analyze_setf(where, sizeof(where), "a MIG %s instance of this GPU", mig->name);
	else if (model)
		analyze_setf(where, sizeof(where), "a smaller GPU such as the %s", model->name);

	struct analyze_verdict *v =
	    analyze_verdict_add(c, ANALYZE_VRAM_OVERPROVISIONED, ANALYZE_SEVERITY_INFO, &about);
	analyze_setf(v->title, sizeof(v->title),
	             "%s memory is over-provisioned: peak %s of %s (%.0f%%)", label, peak_s,
	             total_s, peak_ratio * 100);
	analyze_evidence_add(v, "peak_ratio", peak_ratio, "ratio");
	analyze_evidence_add(v, "peak_used", peak, "bytes");
	analyze_evidence_add(v, "total", total, "bytes");
	analyze_evidence_add(v, "needed_with_headroom", need, "bytes");
	analyze_evidence_add(v, "mig_profile_memory", mig ? mig->bytes : NAN, "bytes");
	analyze_evidence_add(v, "smaller_gpu_memory", model ? model->bytes : NAN, "bytes");
	analyze_setf(v->evidence_text, sizeof(v->evidence_text),
	             "Used memory never went above %s of %s (%.1f%%, under %.0f%%); with %.0f%% "
	             "headroom the work needs %s%s%s.",
	             peak_s, total_s, peak_ratio * 100, cfg->vram_overprov_ratio * 100,
	             (cfg->vram_headroom - 1) * 100, need_s, *where ? ", which fits " : "", where);
	analyze_setf(
	    v->fix, sizeof(v->fix),
	    "Use the memory or pay for less: fit a larger batch or KV cache on this GPU%s%s, "
	    "or pack several replicas on it.",
	    *where ? ", or move the work to " : "", where);
}

void analyze_check_vram(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g)
{
	static const enum analyze_signal need[] = {ANALYZE_SIG_FB_USED_BYTES,
	                                           ANALYZE_SIG_FB_TOTAL_BYTES};
	const struct analyze_config *cfg = c->cfg;
	const double *used = g->sig[ANALYZE_SIG_FB_USED_BYTES];
	const double *total = g->sig[ANALYZE_SIG_FB_TOTAL_BYTES];
	size_t usable = 0, above = 0;
	double peak_ratio = NAN, peak = NAN, peak_total = NAN;

	if (!analyze_require(c, ANALYZE_VRAM_PRESSURE, gi, g, need, 2)) {
		analyze_require(c, ANALYZE_VRAM_OVERPROVISIONED, gi, g, need, 2);
		return;
	}
	for (size_t i = 0; i < g->n; i++) {
		if (isnan(used[i]) || isnan(total[i]) || !(total[i] > 0))
			continue;
		double r = used[i] / total[i];
		usable++;
		above += r > cfg->vram_pressure_ratio;
		if (isnan(peak_ratio) || r > peak_ratio) {
			peak_ratio = r;
			peak = used[i];
			peak_total = total[i];
		}
	}
	if (usable < cfg->min_samples) {
		struct analyze_subject about;
		analyze_subject_gpu(&about, gi, g);
		analyze_not_judged_add(c, ANALYZE_VRAM_PRESSURE, &about,
		                       "only %zu samples with both fb_used_bytes and a positive "
		                       "fb_total_bytes, needs %zu",
		                       usable, cfg->min_samples);
		analyze_not_judged_add(c, ANALYZE_VRAM_OVERPROVISIONED, &about,
		                       "only %zu samples with both fb_used_bytes and a positive "
		                       "fb_total_bytes, needs %zu",
		                       usable, cfg->min_samples);
		return;
	}
	double share = (double)above / (double)usable;
	if (share >= cfg->sustain_share)
		vram_pressure(c, gi, g, share, peak_ratio, peak, peak_total);
	if (!(peak_ratio < cfg->vram_overprov_ratio))
		return;
	if (analyze_find(c->res, ANALYZE_MEMORY_GROWTH, (long)gi)) {
		struct analyze_subject about;
		analyze_subject_gpu(&about, gi, g);
		analyze_not_judged_add(c, ANALYZE_VRAM_OVERPROVISIONED, &about,
		                       "memory is growing (memory_growth): this window's peak "
		                       "understates what the work will need");
		return;
	}
	vram_overprovisioned(c, gi, g, peak_ratio, peak, peak_total);
}

/* Free memory when `series` was last seen: total - used at that sample. */
static double free_at_end(const struct analyze_gpu_series *g, const double *series)
{
	const double *used = g->sig[ANALYZE_SIG_FB_USED_BYTES];
	const double *total = g->sig[ANALYZE_SIG_FB_TOTAL_BYTES];
	if (!used || !total)
		return NAN;
	for (size_t i = analyze_last_valid(series, g->n) + 1; i-- > 0;)
		if (i < g->n && !isnan(used[i]) && !isnan(total[i]))
			return total[i] - used[i];
	return NAN;
}

/* Fits one memory series; p NULL means the whole GPU's used memory. */
static void growth_fit(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g,
                       const struct analyze_process_series *p, const double *mem)
{
	const struct analyze_config *cfg = c->cfg;
	struct analyze_fit fit;
	struct analyze_subject about;

	if (!analyze_least_squares(g->t0, g->step, mem, g->n, &fit))
		return;
	/* Growth across the span the fit covers, first to last valid sample. */
	size_t first = 0;
	while (first < g->n && isnan(mem[first]))
		first++;
	double span = (double)(analyze_last_valid(mem, g->n) - first) * g->step;
	double growth = fit.slope * span;
	if (!(fit.slope > 0) || fit.r2 < cfg->growth_min_r2 || growth < cfg->growth_min_bytes)
		return;

	double free_bytes = free_at_end(g, mem);
	double tto = free_bytes > 0 ? free_bytes / fit.slope : free_bytes <= 0 ? 0 : NAN;
	enum analyze_severity sev =
	    tto < cfg->growth_critical_s ? ANALYZE_SEVERITY_CRITICAL : ANALYZE_SEVERITY_WARNING;
	char who[128], rate[32], grown[32], when[32], free_s[32], label[128];
	analyze_gpu_label(label, sizeof(label), gi, g);
	if (p) {
		analyze_subject_process(&about, gi, g, p);
		analyze_setf(who, sizeof(who), "Process %u (%s)", p->pid, p->name ? p->name : "?");
	} else {
		analyze_subject_gpu(&about, gi, g);
		analyze_setf(who, sizeof(who), "%s (whole GPU, no per-process memory)", label);
	}
	analyze_fmt_bytes(rate, sizeof(rate), fit.slope * 3600);
	analyze_fmt_bytes(grown, sizeof(grown), growth);
	analyze_fmt_bytes(free_s, sizeof(free_s), free_bytes);
	analyze_fmt_duration(when, sizeof(when), tto);

	struct analyze_verdict *v = analyze_verdict_add(c, ANALYZE_MEMORY_GROWTH, sev, &about);
	if (isnan(tto))
		analyze_setf(v->title, sizeof(v->title), "%s GPU memory grows %s/h", who, rate);
	else
		analyze_setf(v->title, sizeof(v->title),
		             "%s GPU memory grows %s/h: out of memory in ~%s", who, rate, when);
	analyze_evidence_add(v, "slope", fit.slope * 3600, "bytes/h");
	analyze_evidence_add(v, "r2", fit.r2, "ratio");
	analyze_evidence_add(v, "growth", growth, "bytes");
	analyze_evidence_add(v, "span", span, "s");
	analyze_evidence_add(v, "free", free_bytes, "bytes");
	analyze_evidence_add(v, "time_to_oom", tto, "s");
	analyze_setf(v->evidence_text, sizeof(v->evidence_text),
	             "A least-squares line through %zu samples rises %s/h (r2 %.2f, at least %.2f "
	             "needed), %s over %.0f s; %s free at the last sample%s%s.",
	             fit.points, rate, fit.r2, cfg->growth_min_r2, grown, span, free_s,
	             isnan(tto) ? " (fb_total_bytes absent: time to OOM unknown)"
	                        : ", so memory runs out in about ",
	             isnan(tto) ? "" : when);
	analyze_setf(v->fix, sizeof(v->fix),
	             "Find what keeps references: tensors kept in lists or dicts (loss instead of "
	             "loss.item()), caches without eviction (prefix/KV, compiled graphs), growing "
	             "buffers; take torch.cuda.memory_snapshot() twice and diff. Until fixed, "
	             "restart the process before the projected OOM.");
}

void analyze_check_growth(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g)
{
	const struct analyze_config *cfg = c->cfg;
	bool judged = false;

	for (size_t i = 0; i < g->nprocs; i++) {
		const struct analyze_process_series *p = &g->procs[i];
		if (analyze_valid_count(p->gpu_mem_bytes, g->n) < cfg->min_samples)
			continue;
		judged = true;
		growth_fit(c, gi, g, p, p->gpu_mem_bytes);
	}
	if (judged)
		return;
	const double *used = g->sig[ANALYZE_SIG_FB_USED_BYTES];
	if (analyze_valid_count(used, g->n) >= cfg->min_samples) {
		growth_fit(c, gi, g, NULL, used);
		return;
	}
	struct analyze_subject about;
	analyze_subject_gpu(&about, gi, g);
	analyze_not_judged_add(c, ANALYZE_MEMORY_GROWTH, &about,
	                       "needs a process's gpu_mem_bytes or the GPU's fb_used_bytes with "
	                       "%zu valid samples; neither was collected",
	                       cfg->min_samples);
}
