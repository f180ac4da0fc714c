/* analyze.c - the diagnosis engine's entry point: defaults, input checks,
 * the run over every GPU and group, and the result it builds.
 *
 * The result is three flat arrays of fixed-size records (verdicts, not
 * judged, summaries) so a caller frees it with one call and can copy a
 * record without chasing pointers; the price is some bytes of unused text
 * per record, which does not matter at a few dozen verdicts per GPU.
 */
#include "analyze/analyze.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/internal.h"
#include "analyze/stats.h"

static const struct {
	const char *name;
	const char *why_absent; /* the usual reason it is missing */
} signal_info[ANALYZE_SIG_COUNT] = {
    [ANALYZE_SIG_GPU_UTIL] = {"gpu_util", "utilization not collected"},
    [ANALYZE_SIG_MEM_UTIL] = {"mem_util", "utilization not collected"},
    [ANALYZE_SIG_SM_ACTIVE] = {"sm_active", "GPM metrics need a Hopper or newer GPU"},
    [ANALYZE_SIG_SM_OCCUPANCY] = {"sm_occupancy", "GPM metrics need a Hopper or newer GPU"},
    [ANALYZE_SIG_TENSOR_ACTIVE] = {"tensor_active", "GPM metrics need a Hopper or newer GPU"},
    [ANALYZE_SIG_DRAM_ACTIVE] = {"dram_active", "GPM metrics need a Hopper or newer GPU"},
    [ANALYZE_SIG_FB_USED_BYTES] = {"fb_used_bytes", "memory info not collected"},
    [ANALYZE_SIG_FB_TOTAL_BYTES] = {"fb_total_bytes", "memory info not collected"},
    [ANALYZE_SIG_POWER_W] = {"power_w", "power readings not supported"},
    [ANALYZE_SIG_POWER_LIMIT_W] = {"power_limit_w", "power limit not readable"},
    [ANALYZE_SIG_TEMP_C] = {"temp_c", "temperature not collected"},
    [ANALYZE_SIG_SLOWDOWN_TEMP_C] = {"slowdown_temp_c", "slowdown threshold not readable"},
    [ANALYZE_SIG_SM_CLOCK_HZ] = {"sm_clock_hz", "clocks not collected"},
    [ANALYZE_SIG_SM_CLOCK_MAX_HZ] = {"sm_clock_max_hz", "max clock not readable"},
    [ANALYZE_SIG_CLOCK_EVENT_REASONS] = {"clock_event_reasons", "not supported by the driver"},
    [ANALYZE_SIG_PCIE_TX_BYTES_PER_S] = {"pcie_tx_bytes_per_s", "PCIe throughput not sampled"},
    [ANALYZE_SIG_PCIE_RX_BYTES_PER_S] = {"pcie_rx_bytes_per_s", "PCIe throughput not sampled"},
    [ANALYZE_SIG_PCIE_LINK_GEN] = {"pcie_link_gen", "PCIe link info not collected"},
    [ANALYZE_SIG_PCIE_LINK_WIDTH] = {"pcie_link_width", "PCIe link info not collected"},
    [ANALYZE_SIG_XID_COUNT] = {"xid_count", "Xid events not registered"},
    [ANALYZE_SIG_XID_LAST] = {"xid_last", "Xid events not registered"},
    [ANALYZE_SIG_ECC_DBE_COUNT] = {"ecc_dbe_count", "ECC disabled or not supported"},
    [ANALYZE_SIG_REMAP_FAILURE] = {"remap_failure", "row remapping needs Ampere or newer"},
    [ANALYZE_SIG_ENERGY_J] = {"energy_j", "energy counter needs Volta or newer"},
    [ANALYZE_SIG_GPU_UTIL_MAX] = {"gpu_util_max", "per-second maxima need the agent's history"},
    [ANALYZE_SIG_POWER_MAX_W] = {"power_max_w", "per-second maxima need the agent's history"},
    [ANALYZE_SIG_POWER_CAP_SHARE] = {"power_cap_share", "reason shares need the agent's history"},
    [ANALYZE_SIG_POWER_BRAKE_SHARE] = {"power_brake_share",
                                       "reason shares need the agent's history"},
    [ANALYZE_SIG_SW_THERMAL_SHARE] = {"sw_thermal_share", "reason shares need the agent's history"},
    [ANALYZE_SIG_HW_THERMAL_SHARE] = {"hw_thermal_share", "reason shares need the agent's history"},
};

static void *(*result_realloc)(void *, size_t) = realloc;

void *analyze_realloc(void *p, size_t size)
{
	return result_realloc(p, size);
}

void analyze_set_realloc_for_tests(void *(*fn)(void *, size_t))
{
	result_realloc = fn ? fn : realloc;
}

void analyze_config_default(struct analyze_config *cfg)
{
	assert(cfg);
	*cfg = (struct analyze_config){
	    .min_samples = 5,
	    .sustain_share = 0.5,
	    .idle_util_max = 0.25,
	    .launch_util_min = 0.1,
	    .launch_sm_ratio = 0.25,
	    .bursty_peak_min = 0.4,
	    .bursty_active_min = 0.1,
	    .bursty_duty_max = 0.5,
	    .bursty_burst_max_s = 10,
	    .cpu_saturated_ratio = 0.9,
	    .cpu_bound_saturated_share = 0.5,
	    .cpu_bound_gpu_idle_min = 0.5,
	    .bw_dram_min = 0.6,
	    .bw_tensor_max = 0.5,
	    .compute_sm_min = 0.8,
	    .compute_tensor_min = 0.5,
	    .power_near_limit = 0.97,
	    .power_cap_warn_loss = 0.10,
	    .vram_pressure_ratio = 0.9,
	    .vram_critical_ratio = 0.99,
	    .vram_overprov_ratio = 0.3,
	    .vram_headroom = 1.2,
	    .thermal_min_share = 0.1,
	    .pcie_link_util_min = 0.1,
	    .pcie_sm_max = 0.5,
	    .growth_min_r2 = 0.8,
	    .growth_min_bytes = 256.0 * 1024 * 1024,
	    .growth_critical_s = 3600,
	    .shard_mem_skew = 1.2,
	    .shard_util_skew = 1.3,
	    .shard_util_min = 0.1,
	    .comm_share_max = 0.3,
	    .comm_small_bytes = 1048576,
	    .xid_critical = {48, 63, 64, 79, 94, 95},
	    .nxid_critical = 6,
	    .price_per_gpu_hour = NAN,
	    .currency = "USD",
	    .prices = analyze_default_prices,
	    .nprices = analyze_default_prices_count,
	};
}

const char *analyze_severity_name(enum analyze_severity s)
{
	switch (s) {
	case ANALYZE_SEVERITY_INFO:
		return "info";
	case ANALYZE_SEVERITY_WARNING:
		return "warning";
	case ANALYZE_SEVERITY_CRITICAL:
		return "critical";
	}
	return "unknown";
}

const char *analyze_signal_name(enum analyze_signal s)
{
	return (unsigned)s < ANALYZE_SIG_COUNT ? signal_info[s].name : "unknown";
}

/* Rewrites each "nan" / "-nan" word printf made of an unknown number as
 * "unknown", in place (never longer: "-nan" + slack is not needed, as
 * "unknown" replaces with a shift that is bounded by size). */
static void unknown_words(char *dst, size_t size)
{
	static const char word[] = "unknown";
	for (char *p = dst; (p = strstr(p, "nan")) != NULL;) {
		char *start = p > dst && p[-1] == '-' ? p - 1 : p;
		bool alone = (start == dst || !isalnum((unsigned char)start[-1])) &&
		             !isalpha((unsigned char)p[3]);
		if (!alone) {
			p += 3;
			continue;
		}
		size_t tail = strlen(p + 3), at = (size_t)(start - dst);
		size_t need = at + strlen(word) + tail + 1;
		if (need > size) /* truncate the tail rather than overflow */
			tail = size > at + strlen(word) + 1 ? size - at - strlen(word) - 1 : 0;
		if (at + strlen(word) + 1 > size)
			break;
		memmove(start + strlen(word), p + 3, tail);
		memcpy(start, word, strlen(word));
		start[strlen(word) + tail] = '\0';
		p = start + strlen(word);
	}
}

void analyze_setf(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	assert(dst && size > 0);
	va_start(ap, fmt);
	vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	/* Absent is not zero, and not "nan" either: text says "unknown". */
	unknown_words(dst, size);
}

void analyze_subject_gpu(struct analyze_subject *s, size_t gpu_index,
                         const struct analyze_gpu_series *g)
{
	memset(s, 0, sizeof(*s));
	s->gpu_index = (long)gpu_index;
	analyze_setf(s->uuid, sizeof(s->uuid), "%s", g->uuid ? g->uuid : "");
}

void analyze_subject_process(struct analyze_subject *s, size_t gpu_index,
                             const struct analyze_gpu_series *g,
                             const struct analyze_process_series *p)
{
	analyze_subject_gpu(s, gpu_index, g);
	s->pid = p->pid;
	analyze_setf(s->process, sizeof(s->process), "%s", p->name ? p->name : "");
	analyze_setf(s->workload, sizeof(s->workload), "%s", p->workload ? p->workload : "");
}

void analyze_subject_group(struct analyze_subject *s, const struct analyze_tp_group *grp)
{
	memset(s, 0, sizeof(*s));
	s->gpu_index = -1;
	analyze_setf(s->group, sizeof(s->group), "%s", grp->name ? grp->name : "");
}

/* Grows an array of `size`-byte records to hold one more; false on OOM. */
static bool grow(void **array, size_t *cap, size_t count, size_t size)
{
	if (count < *cap)
		return true;
	size_t ncap = *cap ? *cap * 2 : 8;
	void *p = result_realloc(*array, ncap * size);
	if (!p)
		return false;
	*array = p;
	*cap = ncap;
	return true;
}

struct analyze_verdict *analyze_verdict_add(struct analyze_ctx *c, const char *id,
                                            enum analyze_severity sev,
                                            const struct analyze_subject *about)
{
	struct analyze_result *r = c->res;
	struct analyze_verdict *v = &c->scratch_verdict;

	if (!c->oom && grow((void **)&r->verdicts, &c->verdicts_cap, r->nverdicts, sizeof(*v)))
		v = &r->verdicts[r->nverdicts++];
	else
		c->oom = true;
	memset(v, 0, sizeof(*v));
	v->id = id;
	v->severity = sev;
	v->about = *about;
	return v;
}

void analyze_evidence_add(struct analyze_verdict *v, const char *name, double value,
                          const char *unit)
{
	/* Each check adds a fixed handful; more is a programming error. */
	assert(v->nevidence < ANALYZE_EVIDENCE_MAX);
	if (v->nevidence >= ANALYZE_EVIDENCE_MAX)
		return;
	struct analyze_evidence *e = &v->evidence[v->nevidence++];
	e->name = name;
	e->value = value;
	analyze_setf(e->unit, sizeof(e->unit), "%s", unit);
}

void analyze_not_judged_add(struct analyze_ctx *c, const char *id,
                            const struct analyze_subject *about, const char *fmt, ...)
{
	struct analyze_result *r = c->res;
	struct analyze_not_judged *nj = &c->scratch_not_judged;
	va_list ap;

	if (!c->oom &&
	    grow((void **)&r->not_judged, &c->not_judged_cap, r->nnot_judged, sizeof(*nj)))
		nj = &r->not_judged[r->nnot_judged++];
	else
		c->oom = true;
	memset(nj, 0, sizeof(*nj));
	nj->id = id;
	nj->about = *about;
	va_start(ap, fmt);
	vsnprintf(nj->reason, sizeof(nj->reason), fmt, ap);
	va_end(ap);
}

bool analyze_require(struct analyze_ctx *c, const char *id, size_t gpu_index,
                     const struct analyze_gpu_series *g, const enum analyze_signal *sigs,
                     size_t nsigs)
{
	char why[300] = "";
	size_t len = 0;

	for (size_t i = 0; i < nsigs; i++) {
		enum analyze_signal s = sigs[i];
		size_t k = analyze_valid_count(g->sig[s], g->n);
		if (k >= c->cfg->min_samples)
			continue;
		int w = k == 0 ? snprintf(why + len, sizeof(why) - len, "%s%s absent (%s)",
		                          len ? "; " : "", signal_info[s].name,
		                          signal_info[s].why_absent)
		               : snprintf(why + len, sizeof(why) - len,
		                          "%s%s has %zu valid samples, needs %zu", len ? "; " : "",
		                          signal_info[s].name, k, c->cfg->min_samples);
		if (w > 0)
			len = len + (size_t)w < sizeof(why) ? len + (size_t)w : sizeof(why) - 1;
	}
	if (!len)
		return true;
	struct analyze_subject about;
	analyze_subject_gpu(&about, gpu_index, g);
	analyze_not_judged_add(c, id, &about, "%s", why);
	return false;
}

enum analyze_signal analyze_util_signal(const struct analyze_ctx *c,
                                        const struct analyze_gpu_series *g, bool sm_first)
{
	bool util = analyze_valid_count(g->sig[ANALYZE_SIG_GPU_UTIL], g->n) >= c->cfg->min_samples;
	bool sm = analyze_valid_count(g->sig[ANALYZE_SIG_SM_ACTIVE], g->n) >= c->cfg->min_samples;
	if (sm && (sm_first || !util))
		return ANALYZE_SIG_SM_ACTIVE;
	return util ? ANALYZE_SIG_GPU_UTIL : ANALYZE_SIG_COUNT;
}

enum analyze_signal analyze_true_util_signal(size_t min_samples, const struct analyze_gpu_series *g)
{
	if (analyze_valid_count(g->sig[ANALYZE_SIG_SM_ACTIVE], g->n) >= min_samples)
		return ANALYZE_SIG_SM_ACTIVE;
	if (analyze_valid_count(g->sig[ANALYZE_SIG_GPU_UTIL], g->n) >= min_samples)
		return ANALYZE_SIG_GPU_UTIL;
	return ANALYZE_SIG_COUNT;
}

int analyze_launch_sample(const struct analyze_config *cfg, const struct analyze_gpu_series *g,
                          size_t i)
{
	const double *u = g->sig[ANALYZE_SIG_GPU_UTIL], *sm = g->sig[ANALYZE_SIG_SM_ACTIVE];
	if (!u || !sm || isnan(u[i]) || isnan(sm[i]))
		return -1;
	return u[i] >= cfg->launch_util_min && sm[i] < cfg->launch_sm_ratio * u[i];
}

bool analyze_fired(const struct analyze_ctx *c, const char *id, size_t gi)
{
	return analyze_find(c->res, id, (long)gi) != NULL;
}

double analyze_price_for(const struct analyze_config *cfg, const struct analyze_gpu_series *g)
{
	if (isfinite(cfg->price_per_gpu_hour) && cfg->price_per_gpu_hour >= 0)
		return cfg->price_per_gpu_hour;
	return analyze_model_price(cfg->prices, cfg->nprices, g->model);
}

double analyze_clock_loss_at(const struct analyze_gpu_series *g, size_t i)
{
	const double *clk = g->sig[ANALYZE_SIG_SM_CLOCK_HZ];
	const double *max = g->sig[ANALYZE_SIG_SM_CLOCK_MAX_HZ];
	assert(i < g->n);
	if (!clk || !max || isnan(clk[i]) || isnan(max[i]) || max[i] <= 0)
		return NAN;
	double loss = 1.0 - clk[i] / max[i];
	return loss < 0 ? 0 : loss;
}

static bool input_valid(const struct analyze_input *in)
{
	if (in->ngpus && !in->gpus)
		return false;
	if (in->ngroups && !in->groups)
		return false;
	if (in->ncomms && !in->comms)
		return false;
	for (size_t i = 0; i < in->ngpus; i++) {
		const struct analyze_gpu_series *g = &in->gpus[i];
		if (!(g->step > 0) || !isfinite(g->step) || (g->nprocs && !g->procs))
			return false;
	}
	for (size_t i = 0; i < in->ngroups; i++) {
		const struct analyze_tp_group *grp = &in->groups[i];
		if (grp->n && !grp->gpu_index)
			return false;
		for (size_t j = 0; j < grp->n; j++)
			if (grp->gpu_index[j] >= in->ngpus)
				return false;
	}
	return true;
}

/* The order verdicts come out in: per GPU, health first, then what the GPU
 * spends its time on.  idle comes after every verdict that explains low
 * utilization (compute_bound, pcie_bound, launch_bound, cpu_bound_input,
 * bursty): it fires only when none did, so one load gets one story and one
 * fix (verdicts_util.c).  A GPU fed by pageable copies is PCIe-bound even
 * though the copies keep a CPU core busy (the driver stages them) and make
 * NVML read busy while the SMs are empty; so pcie_bound comes before
 * launch_bound and cpu_bound_input, and they step aside for it. */
static void check_gpu(struct analyze_ctx *c, size_t gi, const struct analyze_gpu_series *g)
{
	analyze_check_health(c, gi, g);
	analyze_check_bandwidth(c, gi, g);
	analyze_check_compute(c, gi, g);
	analyze_check_pcie(c, gi, g);
	analyze_check_launch(c, gi, g); /* after compute and pcie: copies read as NVML busy */
	analyze_check_cpu_bound(c, gi, g);
	analyze_check_bursty(c, gi, g); /* after cpu_bound: a starved GPU also works in bursts */
	analyze_check_idle(c, gi, g);
	analyze_check_power_cap(c, gi, g);
	analyze_check_thermal(c, gi, g);
	analyze_check_growth(c, gi, g); /* before vram: a growing peak is no size */
	analyze_check_vram(c, gi, g);
}

int analyze_run(const struct analyze_input *in, const struct analyze_config *cfg,
                struct analyze_result **out)
{
	struct analyze_config defaults;
	struct analyze_ctx *c = NULL;
	struct analyze_result *r = NULL;
	int err = ENOMEM;

	if (!out)
		return errno = EINVAL, -1;
	*out = NULL;
	if (!in || !input_valid(in))
		return errno = EINVAL, -1;
	if (!cfg) {
		analyze_config_default(&defaults);
		cfg = &defaults;
	}
	/* The context holds two scratch records: too big for a thread's stack
	 * to be a good idea on small-stack threads, so it is allocated too. */
	c = result_realloc(NULL, sizeof(*c));
	if (!c)
		goto err;
	memset(c, 0, sizeof(*c));
	r = result_realloc(NULL, sizeof(*r));
	if (!r)
		goto err;
	memset(r, 0, sizeof(*r));
	if (in->ngpus) {
		r->summaries = result_realloc(NULL, in->ngpus * sizeof(*r->summaries));
		if (!r->summaries)
			goto err;
		r->nsummaries = in->ngpus;
	}
	analyze_setf(r->currency, sizeof(r->currency), "%s", cfg->currency ? cfg->currency : "");
	c->cfg = cfg;
	c->in = in;
	c->res = r;

	for (size_t gi = 0; gi < in->ngpus; gi++) {
		check_gpu(c, gi, &in->gpus[gi]);
		analyze_summarize(cfg, gi, &in->gpus[gi], &r->summaries[gi]);
	}
	for (size_t i = 0; i < in->ngroups; i++)
		analyze_check_shards(c, &in->groups[i]);
	for (size_t i = 0; i < in->ncomms; i++)
		analyze_check_comm(c, &in->comms[i]);
	if (c->oom)
		goto err;
	free(c);
	*out = r;
	return 0;
err:
	analyze_result_free(r);
	free(c);
	errno = err;
	return -1;
}

void analyze_result_free(struct analyze_result *r)
{
	if (!r)
		return;
	free(r->verdicts);
	free(r->not_judged);
	free(r->summaries);
	free(r);
}

size_t analyze_count_at_least(const struct analyze_result *r, enum analyze_severity min)
{
	size_t k = 0;
	for (size_t i = 0; r && i < r->nverdicts; i++)
		k += r->verdicts[i].severity >= min;
	return k;
}

const struct analyze_verdict *analyze_find(const struct analyze_result *r, const char *id,
                                           long gpu_index)
{
	for (size_t i = 0; r && i < r->nverdicts; i++) {
		const struct analyze_verdict *v = &r->verdicts[i];
		if (strcmp(v->id, id) == 0 && (gpu_index < 0 || v->about.gpu_index == gpu_index))
			return v;
	}
	return NULL;
}

const struct analyze_not_judged *analyze_find_not_judged(const struct analyze_result *r,
                                                         const char *id, long gpu_index)
{
	for (size_t i = 0; r && i < r->nnot_judged; i++) {
		const struct analyze_not_judged *nj = &r->not_judged[i];
		if (strcmp(nj->id, id) == 0 && (gpu_index < 0 || nj->about.gpu_index == gpu_index))
			return nj;
	}
	return NULL;
}

double analyze_evidence_value(const struct analyze_verdict *v, const char *name)
{
	for (size_t i = 0; v && i < v->nevidence; i++)
		if (strcmp(v->evidence[i].name, name) == 0)
			return v->evidence[i].value;
	return NAN;
}
