/* verdicts_bound.c - what limits a busy GPU: memory bandwidth, math, or the
 * PCIe link.  The "memory_bandwidth_bound", "compute_bound" and "pcie_bound"
 * verdicts.
 *
 * NVML's utilization.gpu reads 100 for a power-capped matmul and for a
 * DRAM-bound elementwise loop alike (facts/h200-nvml.md), so these checks
 * need GPM's SM, tensor and DRAM activity and are "not judged" without them
 * rather than guessed from utilization.  Each classifies samples one by one
 * and fires when the class holds for sustain_share of the usable samples,
 * so a job that is bandwidth-bound half the time and idle otherwise is
 * still called bandwidth-bound (the idle half is the idle verdict's story).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/internal.h"
#include "analyze/models.h"
#include "analyze/stats.h"

/* Mean of x over the samples flagged in `mask` (NaN-aware). */
static double masked_mean(const double *x, const unsigned char *mask, size_t n)
{
	double sum = 0;
	size_t k = 0;
	for (size_t i = 0; x && i < n; i++) {
		if (!mask[i] || isnan(x[i]))
			continue;
		sum += x[i];
		k++;
	}
	return k ? sum / (double)k : NAN;
}

/* Runs a per-sample classifier; returns usable samples, sets *hits and the
 * mask of samples that matched.  classify returns -1 unusable, 0 no, 1 yes. */
static size_t classify_all(const struct analyze_ctx *c, const struct analyze_gpu_series *g,
                           int (*classify)(const struct analyze_ctx *,
                                           const struct analyze_gpu_series *, size_t),
                           unsigned char *mask, size_t *hits)
{
	size_t usable = 0;
	*hits = 0;
	for (size_t i = 0; i < g->n; i++) {
		int r = classify(c, g, i);
		mask[i] = r == 1;
		usable += r >= 0;
		*hits += r == 1;
	}
	return usable;
}

static double at(const struct analyze_gpu_series *g, enum analyze_signal s, size_t i)
{
	return g->sig[s] ? g->sig[s][i] : NAN;
}

static int bandwidth_sample(const struct analyze_ctx *c, const struct analyze_gpu_series *g,
                            size_t i)
{
	double dram = at(g, ANALYZE_SIG_DRAM_ACTIVE, i),
	       tensor = at(g, ANALYZE_SIG_TENSOR_ACTIVE, i);
	if (isnan(dram) || isnan(tensor))
		return -1;
	return dram >= c->cfg->bw_dram_min && tensor < c->cfg->bw_tensor_max;
}

static int compute_sample(const struct analyze_ctx *c, const struct analyze_gpu_series *g, size_t i)
{
	double sm = at(g, ANALYZE_SIG_SM_ACTIVE, i), dram = at(g, ANALYZE_SIG_DRAM_ACTIVE, i);
	double tensor = at(g, ANALYZE_SIG_TENSOR_ACTIVE, i);
	if (isnan(sm) || isnan(dram))
		return -1;
	/* Tensor activity is optional: without it, math-heavy means SMs busy
	 * while DRAM is not the bottleneck. */
	bool math =
	    (!isnan(tensor) && tensor >= c->cfg->compute_tensor_min) || dram < c->cfg->bw_dram_min;
	return sm >= c->cfg->compute_sm_min && math;
}

/* A scratch mask big enough for the window, or NULL (then ctx is OOM). */
static unsigned char *mask_alloc(struct analyze_ctx *c, size_t n)
{
	unsigned char *m = analyze_realloc(NULL, n ? n : 1);
	if (!m)
		c->oom = true;
	else
		memset(m, 0, n ? n : 1);
	return m;
}

void analyze_check_bandwidth(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g)
{
	static const enum analyze_signal need[] = {ANALYZE_SIG_DRAM_ACTIVE,
	                                           ANALYZE_SIG_TENSOR_ACTIVE};
	const struct analyze_config *cfg = c->cfg;
	size_t hits;

	if (!analyze_require(c, ANALYZE_MEMORY_BW_BOUND, gi, g, need, 2))
		return;
	unsigned char *mask = mask_alloc(c, g->n);
	if (!mask)
		return;
	size_t usable = classify_all(c, g, bandwidth_sample, mask, &hits);
	double share = usable ? (double)hits / (double)usable : 0;
	if (usable < cfg->min_samples || share < cfg->sustain_share)
		goto out;

	double dram = masked_mean(g->sig[ANALYZE_SIG_DRAM_ACTIVE], mask, g->n);
	double tensor = masked_mean(g->sig[ANALYZE_SIG_TENSOR_ACTIVE], mask, g->n);
	double sm = masked_mean(g->sig[ANALYZE_SIG_SM_ACTIVE], mask, g->n);
	struct analyze_subject about;
	char label[128];
	analyze_subject_gpu(&about, gi, g);
	analyze_gpu_label(label, sizeof(label), gi, g);
	struct analyze_verdict *v =
	    analyze_verdict_add(c, ANALYZE_MEMORY_BW_BOUND, ANALYZE_SEVERITY_WARNING, &about);
	analyze_setf(v->title, sizeof(v->title),
	             "%s is memory-bandwidth bound: DRAM %.0f%% busy, tensor cores %.0f%%", label,
	             dram * 100, tensor * 100);
	analyze_evidence_add(v, "bound_share", share, "ratio");
	analyze_evidence_add(v, "dram_active_mean", dram, "ratio");
	analyze_evidence_add(v, "tensor_active_mean", tensor, "ratio");
	analyze_evidence_add(v, "sm_active_mean", sm, "ratio");
	analyze_setf(v->evidence_text, sizeof(v->evidence_text),
	             "In %.0f%% of the samples DRAM was at least %.0f%% busy (%.0f%% on average) "
	             "while tensor cores ran under %.0f%% (%.0f%%): kernels wait on memory, not "
	             "on math, so their arithmetic intensity is low.",
	             share * 100, cfg->bw_dram_min * 100, dram * 100, cfg->bw_tensor_max * 100,
	             tensor * 100);
	analyze_setf(v->fix, sizeof(v->fix),
	             "Raise arithmetic intensity: quantize weights and KV cache (FP8, INT8/INT4) "
	             "to move fewer bytes, fuse elementwise kernels (torch.compile, fused "
	             "attention and norms), and batch more requests per weight read (larger "
	             "batch, continuous batching).");
out:
	free(mask);
}

void analyze_check_compute(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g)
{
	static const enum analyze_signal need[] = {ANALYZE_SIG_SM_ACTIVE, ANALYZE_SIG_DRAM_ACTIVE};
	const struct analyze_config *cfg = c->cfg;
	size_t hits;

	if (!analyze_require(c, ANALYZE_COMPUTE_BOUND, gi, g, need, 2))
		return;
	unsigned char *mask = mask_alloc(c, g->n);
	if (!mask)
		return;
	size_t usable = classify_all(c, g, compute_sample, mask, &hits);
	double share = usable ? (double)hits / (double)usable : 0;
	if (usable < cfg->min_samples || share < cfg->sustain_share)
		goto out;

	double sm = masked_mean(g->sig[ANALYZE_SIG_SM_ACTIVE], mask, g->n);
	double tensor = masked_mean(g->sig[ANALYZE_SIG_TENSOR_ACTIVE], mask, g->n);
	double dram = masked_mean(g->sig[ANALYZE_SIG_DRAM_ACTIVE], mask, g->n);
	struct analyze_subject about;
	char label[128], tensor_text[48];
	analyze_subject_gpu(&about, gi, g);
	analyze_gpu_label(label, sizeof(label), gi, g);
	if (isnan(tensor))
		analyze_setf(tensor_text, sizeof(tensor_text), "tensor activity not collected");
	else
		analyze_setf(tensor_text, sizeof(tensor_text), "tensor cores %.0f%%", tensor * 100);
	struct analyze_verdict *v =
	    analyze_verdict_add(c, ANALYZE_COMPUTE_BOUND, ANALYZE_SEVERITY_INFO, &about);
	analyze_setf(v->title, sizeof(v->title), "%s is compute bound (good): SMs %.0f%% busy, %s",
	             label, sm * 100, tensor_text);
	analyze_evidence_add(v, "bound_share", share, "ratio");
	analyze_evidence_add(v, "sm_active_mean", sm, "ratio");
	analyze_evidence_add(v, "tensor_active_mean", tensor, "ratio");
	analyze_evidence_add(v, "dram_active_mean", dram, "ratio");
	analyze_setf(v->evidence_text, sizeof(v->evidence_text),
	             "In %.0f%% of the samples SMs were at least %.0f%% active (%.0f%% on "
	             "average) with DRAM at %.0f%% and %s: the GPU spends its time on math, "
	             "which is what it is for.",
	             share * 100, cfg->compute_sm_min * 100, sm * 100, dram * 100, tensor_text);
	analyze_setf(v->fix, sizeof(v->fix),
	             "Nothing to fix: this is the good state. More throughput now comes from "
	             "lower precision (FP8), better kernels or more GPUs; check power_capped and "
	             "thermal_throttling for clock lost to limits.");
out:
	free(mask);
}

/* PCIe: throughput as a share of the link's capacity, SMs mostly waiting. */
static int pcie_sample(const struct analyze_ctx *c, const struct analyze_gpu_series *g, size_t i,
                       enum analyze_signal act, double *link_util, double *capacity)
{
	double cap = analyze_pcie_lane_bytes_per_s(at(g, ANALYZE_SIG_PCIE_LINK_GEN, i)) *
	             at(g, ANALYZE_SIG_PCIE_LINK_WIDTH, i);
	double tx = at(g, ANALYZE_SIG_PCIE_TX_BYTES_PER_S, i);
	double rx = at(g, ANALYZE_SIG_PCIE_RX_BYTES_PER_S, i);
	double thr = isnan(tx) ? rx : isnan(rx) ? tx : fmax(tx, rx);
	double busy = at(g, act, i);
	if (isnan(cap) || !(cap > 0) || isnan(thr) || isnan(busy))
		return -1;
	*link_util = thr / cap;
	*capacity = cap;
	return *link_util >= c->cfg->pcie_link_util_min && busy < c->cfg->pcie_sm_max;
}

void analyze_check_pcie(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g)
{
	static const enum analyze_signal link[] = {ANALYZE_SIG_PCIE_LINK_GEN,
	                                           ANALYZE_SIG_PCIE_LINK_WIDTH};
	const struct analyze_config *cfg = c->cfg;
	struct analyze_subject about;

	analyze_subject_gpu(&about, gi, g);
	if (analyze_valid_count(g->sig[ANALYZE_SIG_PCIE_TX_BYTES_PER_S], g->n) < cfg->min_samples &&
	    analyze_valid_count(g->sig[ANALYZE_SIG_PCIE_RX_BYTES_PER_S], g->n) < cfg->min_samples) {
		analyze_not_judged_add(c, ANALYZE_PCIE_BOUND, &about,
		                       "pcie_tx_bytes_per_s and pcie_rx_bytes_per_s absent (PCIe "
		                       "throughput not sampled)");
		return;
	}
	if (!analyze_require(c, ANALYZE_PCIE_BOUND, gi, g, link, 2))
		return;
	enum analyze_signal act = analyze_util_signal(c, g, true);
	if (act == ANALYZE_SIG_COUNT) {
		analyze_not_judged_add(c, ANALYZE_PCIE_BOUND, &about,
		                       "needs sm_active or gpu_util to tell whether SMs wait; "
		                       "neither was collected");
		return;
	}

	size_t usable = 0, hits = 0;
	double util_sum = 0, thr_sum = 0, busy_sum = 0, cap_last = NAN;
	for (size_t i = 0; i < g->n; i++) {
		double u, cap;
		int r = pcie_sample(c, g, i, act, &u, &cap);
		usable += r >= 0;
		if (r != 1)
			continue;
		hits++;
		util_sum += u;
		thr_sum += u * cap;
		busy_sum += g->sig[act][i];
		cap_last = cap;
	}
	double share = usable ? (double)hits / (double)usable : 0;
	if (usable < cfg->min_samples || share < cfg->sustain_share)
		return;

	double util = util_sum / (double)hits, busy = busy_sum / (double)hits;
	size_t last = analyze_last_valid(g->sig[ANALYZE_SIG_PCIE_LINK_GEN], g->n);
	double gen = g->sig[ANALYZE_SIG_PCIE_LINK_GEN][last];
	double width = at(g, ANALYZE_SIG_PCIE_LINK_WIDTH, last);
	char label[128];
	analyze_gpu_label(label, sizeof(label), gi, g);
	struct analyze_verdict *v =
	    analyze_verdict_add(c, ANALYZE_PCIE_BOUND, ANALYZE_SEVERITY_WARNING, &about);
	analyze_setf(v->title, sizeof(v->title),
	             "%s is PCIe-transfer bound: link %.0f%% full (gen %.0f x%.0f) while SMs are "
	             "%.0f%% busy",
	             label, util * 100, gen, width, busy * 100);
	analyze_evidence_add(v, "bound_share", share, "ratio");
	analyze_evidence_add(v, "link_util_mean", util, "ratio");
	analyze_evidence_add(v, "throughput_mean", thr_sum / (double)hits, "bytes/s");
	analyze_evidence_add(v, "link_capacity", cap_last, "bytes/s");
	analyze_evidence_add(v, "link_gen", gen, "generation");
	analyze_evidence_add(v, "link_width", width, "lanes");
	analyze_evidence_add(v, act == ANALYZE_SIG_SM_ACTIVE ? "sm_active_mean" : "gpu_util_mean",
	                     busy, "ratio");
	analyze_setf(
	    v->evidence_text, sizeof(v->evidence_text),
	    "In %.0f%% of the samples PCIe carried at least %.0f%% of the link's %.1f GB/s "
	    "per direction (%.0f%% on average) while %s stayed under %.0f%% (%.0f%%): "
	    "the SMs wait for host transfers.",
	    share * 100, cfg->pcie_link_util_min * 100, cap_last / 1e9, util * 100,
	    analyze_signal_name(act), cfg->pcie_sm_max * 100, busy * 100);
	analyze_setf(v->fix, sizeof(v->fix),
	             "Keep data on the GPU: load weights once, avoid per-step host round trips "
	             "(.cpu(), .item(), host-side sampling), use pinned memory with non_blocking "
	             "copies overlapped with compute on a separate stream, and batch transfers; "
	             "check the link trains at its rated generation and width.");
}
