/* test_shape.c - busy-but-empty GPUs (launch_bound), bursts (bursty), the
 * truest utilization signal, and the property that one load never gets two
 * verdicts that contradict each other.
 *
 * The shapes are the ones measured on an H200 (issue 16): 200 tiny
 * elementwise kernels a step read 30 % NVML utilization and 0.1 % SM
 * activity; 100 ms of matmul once a second peaks at ~860 W over a ~160 W
 * mean.  Each rule is also probed just under and just over each threshold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "analyze/analyze.h"
#include "analyze/tests/synth.h"
#include "analyze/tests/tests.h"

#define N 60

/* The busy-but-empty load: NVML 30 %, SMs 0.1 %, its process pegging a
 * core to launch kernels. */
static void busy_but_empty(struct synth *s)
{
	synth_init(s, N, 1.0);
	synth_healthy(s);
	synth_set(s, ANALYZE_SIG_GPU_UTIL, 0.30);
	synth_set(s, ANALYZE_SIG_GPU_UTIL_MAX, 0.34);
	synth_set(s, ANALYZE_SIG_SM_ACTIVE, 0.001);
	synth_set(s, ANALYZE_SIG_TENSOR_ACTIVE, 0.0);
	synth_set(s, ANALYZE_SIG_DRAM_ACTIVE, 0.001);
	synth_set(s, ANALYZE_SIG_POWER_W, 130);
	synth_set(s, ANALYZE_SIG_POWER_MAX_W, 150);
	for (size_t i = 0; i < s->n; i++)
		synth_proc_cpu(s, 0)[i] = 1.0;
}

static void test_busy_but_empty_is_launch_bound(void **state)
{
	(void)state;
	struct synth s;
	busy_but_empty(&s);
	struct analyze_result *r = synth_run(&s, NULL);
	const struct analyze_verdict *v = analyze_find(r, ANALYZE_LAUNCH_BOUND, 0);
	assert_non_null(v);
	assert_int_equal(v->severity, ANALYZE_SEVERITY_WARNING);
	assert_float_equal(analyze_evidence_value(v, "gpu_util_mean"), 0.30, 1e-9);
	assert_float_equal(analyze_evidence_value(v, "sm_active_mean"), 0.001, 1e-9);
	assert_float_equal(analyze_evidence_value(v, "util_gap"), 0.299, 1e-9);
	/* Waste is priced from SM activity, not NVML's 30 %. */
	assert_float_equal(analyze_evidence_value(v, "waste_ratio"), 0.999, 1e-9);
	assert_float_equal(analyze_evidence_value(v, "waste_per_day"), 0.999 * 3.5 * 24, 1e-9);
	assert_non_null(strstr(v->fix, "CUDA Graphs"));
	/* Not an input pipeline, not "idle": one story, one fix. */
	assert_null(analyze_find(r, ANALYZE_CPU_BOUND_INPUT, 0));
	assert_null(analyze_find(r, ANALYZE_IDLE, 0));
	assert_null(analyze_find(r, ANALYZE_COMPUTE_BOUND, 0));
	assert_null(analyze_find(r, ANALYZE_BURSTY, 0));
	/* The summary reads SM activity and shows NVML's figure beside it. */
	const struct analyze_gpu_summary *g = &r->summaries[0];
	assert_float_equal(g->util_mean, 0.001, 1e-12);
	assert_float_equal(g->gpu_util_mean, 0.30, 1e-12);
	assert_string_equal(g->util_source, "sm_active");
	assert_float_equal(g->waste_ratio, 0.999, 1e-12);
	assert_non_null(strstr(g->line, "(SM activity; NVML 30%)"));
	analyze_result_free(r);
	synth_free(&s);
}

static void test_no_gpm_judges_on_nvml(void **state)
{
	(void)state;
	struct synth s;
	busy_but_empty(&s);
	synth_absent(&s, ANALYZE_SIG_SM_ACTIVE);
	struct analyze_result *r = synth_run(&s, NULL);
	/* Without GPM the gap cannot be seen: not judged, and NVML's 30 % is
	 * the utilization (so a CPU-pegged process reads as input-bound). */
	assert_non_null(analyze_find_not_judged(r, ANALYZE_LAUNCH_BOUND, 0));
	assert_float_equal(r->summaries[0].util_mean, 0.30, 1e-12);
	assert_string_equal(r->summaries[0].util_source, "gpu_util");
	assert_non_null(analyze_find(r, ANALYZE_CPU_BOUND_INPUT, 0));
	analyze_result_free(r);
	synth_free(&s);
}

/* Pageable host-to-device copies, as measured on an H200: 7.9 GB/s of PCIe
 * receive (an eighth of the gen 5 x16 link), NVML 16 % busy (copies count),
 * SMs 0.04 %, the copying process pegging a core (the driver stages pageable
 * memory on the CPU). */
static void test_pageable_copies_are_pcie_bound(void **state)
{
	(void)state;
	struct synth s;
	busy_but_empty(&s);
	synth_set(&s, ANALYZE_SIG_GPU_UTIL, 0.16);
	synth_set(&s, ANALYZE_SIG_SM_ACTIVE, 0.0004);
	synth_set(&s, ANALYZE_SIG_PCIE_RX_BYTES_PER_S, 7.9e9);
	struct analyze_result *r = synth_run(&s, NULL);
	const struct analyze_verdict *v = analyze_find(r, ANALYZE_PCIE_BOUND, 0);
	assert_non_null(v);
	assert_float_equal(analyze_evidence_value(v, "link_util_mean"), 7.9e9 / (3.938e9 * 16),
	                   1e-9);
	assert_null(analyze_find(r, ANALYZE_CPU_BOUND_INPUT, 0));
	assert_null(analyze_find(r, ANALYZE_IDLE, 0));
	analyze_result_free(r);
	/* Faster copies that read NVML 30 % busy are still transfers, not launches. */
	synth_set(&s, ANALYZE_SIG_GPU_UTIL, 0.30);
	r = synth_run(&s, NULL);
	assert_non_null(analyze_find(r, ANALYZE_PCIE_BOUND, 0));
	assert_null(analyze_find(r, ANALYZE_LAUNCH_BOUND, 0));
	analyze_result_free(r);
	synth_free(&s);
}

/* 100 ms of full-power matmul once a second: every second holds a peak. */
static void bursty_load(struct synth *s)
{
	synth_init(s, N, 1.0);
	synth_healthy(s);
	synth_set(s, ANALYZE_SIG_GPU_UTIL, 0.03);
	synth_set(s, ANALYZE_SIG_GPU_UTIL_MAX, 0.5);
	synth_set(s, ANALYZE_SIG_SM_ACTIVE, 0.08);
	synth_set(s, ANALYZE_SIG_TENSOR_ACTIVE, 0.06);
	synth_set(s, ANALYZE_SIG_DRAM_ACTIVE, 0.02);
	synth_set(s, ANALYZE_SIG_POWER_W, 160);
	synth_set(s, ANALYZE_SIG_POWER_MAX_W, 860);
}

static void test_bursts_are_seen(void **state)
{
	(void)state;
	struct synth s;
	bursty_load(&s);
	struct analyze_result *r = synth_run(&s, NULL);
	const struct analyze_verdict *v = analyze_find(r, ANALYZE_BURSTY, 0);
	assert_non_null(v);
	assert_float_equal(analyze_evidence_value(v, "duty_cycle"), 160.0 / 860, 1e-9);
	assert_float_equal(analyze_evidence_value(v, "power_peak"), 860, 1e-9);
	assert_float_equal(analyze_evidence_value(v, "power_mean"), 160, 1e-9);
	assert_float_equal(analyze_evidence_value(v, "active_share"), 1.0, 1e-9);
	assert_float_equal(analyze_evidence_value(v, "burst_period"), 1.0, 1e-9);
	assert_float_equal(analyze_evidence_value(v, "sm_active_mean"), 0.08, 1e-9);
	assert_non_null(strstr(v->title, "860 W"));
	assert_null(analyze_find(r, ANALYZE_IDLE, 0));
	assert_float_equal(r->summaries[0].util_mean, 0.08, 1e-12);
	assert_true(isnan(analyze_evidence_value(v, "power_cap_share")));
	analyze_result_free(r);

	/* Peaks over the limit keep the cap reason up half the time (49 % on an
	 * H200): part of the burst story, not a second verdict. */
	synth_set(&s, ANALYZE_SIG_POWER_CAP_SHARE, 0.55);
	synth_set(&s, ANALYZE_SIG_SM_CLOCK_HZ, 1500e6);
	r = synth_run(&s, NULL);
	v = analyze_find(r, ANALYZE_BURSTY, 0);
	assert_non_null(v);
	assert_float_equal(analyze_evidence_value(v, "power_cap_share"), 0.55, 1e-9);
	assert_null(analyze_find(r, ANALYZE_POWER_CAPPED, 0));
	analyze_result_free(r);
	synth_absent(&s, ANALYZE_SIG_POWER_CAP_SHARE);
	synth_set(&s, ANALYZE_SIG_SM_CLOCK_HZ, 1980e6);

	/* Two seconds of work every ten: period 10 s, burst ~2 s. */
	for (size_t i = 0; i < s.n; i++) {
		bool on = i % 10 < 2;
		s.sig[ANALYZE_SIG_POWER_W][i] = on ? 650 : 90;
		s.sig[ANALYZE_SIG_POWER_MAX_W][i] = on ? 700 : 95;
	}
	r = synth_run(&s, NULL);
	v = analyze_find(r, ANALYZE_BURSTY, 0);
	assert_non_null(v);
	assert_float_equal(analyze_evidence_value(v, "burst_period"), 10, 1e-9);
	assert_float_equal(analyze_evidence_value(v, "active_share"), 0.2, 1e-9);
	analyze_result_free(r);

	/* One long phase is a change of load, not a burst. */
	for (size_t i = 0; i < s.n; i++) {
		bool on = i < 15;
		s.sig[ANALYZE_SIG_POWER_W][i] = on ? 650 : 90;
		s.sig[ANALYZE_SIG_POWER_MAX_W][i] = on ? 700 : 95;
	}
	r = synth_run(&s, NULL);
	assert_null(analyze_find(r, ANALYZE_BURSTY, 0));
	analyze_result_free(r);

	/* Without power maxima, utilization maxima judge. */
	synth_free(&s);
	bursty_load(&s);
	synth_absent(&s, ANALYZE_SIG_POWER_MAX_W);
	r = synth_run(&s, NULL);
	v = analyze_find(r, ANALYZE_BURSTY, 0);
	assert_non_null(v);
	assert_float_equal(analyze_evidence_value(v, "duty_cycle"), 0.03 / 0.5, 1e-9);
	analyze_result_free(r);

	/* Neither: not judged (a Prometheus window). */
	synth_absent(&s, ANALYZE_SIG_GPU_UTIL_MAX);
	r = synth_run(&s, NULL);
	assert_non_null(analyze_find_not_judged(r, ANALYZE_BURSTY, 0));
	analyze_result_free(r);
	synth_free(&s);
}

static void test_steady_loads_are_not_bursty(void **state)
{
	(void)state;
	struct synth s;
	synth_init(&s, N, 1.0);
	synth_healthy(&s); /* 550 W mean, 610 W peaks */
	struct analyze_result *r = synth_run(&s, NULL);
	assert_null(analyze_find(r, ANALYZE_BURSTY, 0));
	assert_null(analyze_find_not_judged(r, ANALYZE_BURSTY, 0));
	analyze_result_free(r);
	/* An idle GPU: no peak at all, so idle, not bursty. */
	synth_util(&s, 0.0);
	synth_set(&s, ANALYZE_SIG_GPU_UTIL_MAX, 0.0);
	synth_set(&s, ANALYZE_SIG_POWER_W, 75);
	synth_set(&s, ANALYZE_SIG_POWER_MAX_W, 80);
	r = synth_run(&s, NULL);
	assert_null(analyze_find(r, ANALYZE_BURSTY, 0));
	assert_non_null(analyze_find(r, ANALYZE_IDLE, 0));
	analyze_result_free(r);
	synth_free(&s);
}

/* ---- measured reason shares against one bitmask a sample ---- */

/* A load with a period near a second: the bitmask read once a second says
 * "capped" every time (it locked onto the phase), the fast tier measured
 * `share` of each second. */
static struct analyze_result *aliased_power(struct synth *s, double share)
{
	synth_set(s, ANALYZE_SIG_CLOCK_EVENT_REASONS, ANALYZE_CLOCK_SW_POWER);
	synth_set(s, ANALYZE_SIG_POWER_CAP_SHARE, share);
	synth_set(s, ANALYZE_SIG_SM_CLOCK_HZ, 1500e6);
	return synth_run(s, NULL);
}

static void test_throttling_is_measured_not_sampled(void **state)
{
	(void)state;
	struct synth s;
	synth_init(&s, N, 1.0);
	synth_healthy(&s);
	/* 39 % measured: not sustained, whatever the bitmask says. */
	struct analyze_result *r = aliased_power(&s, 0.39);
	assert_null(analyze_find(r, ANALYZE_POWER_CAPPED, 0));
	analyze_result_free(r);
	/* 60 % measured: capped 60 % of the time, not 100 %. */
	r = aliased_power(&s, 0.6);
	const struct analyze_verdict *v = analyze_find(r, ANALYZE_POWER_CAPPED, 0);
	assert_non_null(v);
	assert_float_equal(analyze_evidence_value(v, "capped_share"), 0.6, 1e-9);
	assert_float_equal(analyze_evidence_value(v, "measured_share"), 1.0, 1e-9);
	assert_float_equal(analyze_evidence_value(v, "reasons_seen"), ANALYZE_CLOCK_SW_POWER, 0);
	assert_non_null(strstr(v->evidence_text, "every fast-tier reading"));
	analyze_result_free(r);
	/* Older history without shares: the bitmask, as before. */
	r = aliased_power(&s, NAN); /* every share absent */
	v = analyze_find(r, ANALYZE_POWER_CAPPED, 0);
	assert_non_null(v);
	assert_float_equal(analyze_evidence_value(v, "capped_share"), 1.0, 1e-9);
	assert_float_equal(analyze_evidence_value(v, "measured_share"), 0.0, 1e-9);
	analyze_result_free(r);

	/* Thermal: the bitmask never caught it, the shares did (15 % of the
	 * time, a third of it hardware slowdown). */
	synth_healthy(&s);
	synth_set(&s, ANALYZE_SIG_SW_THERMAL_SHARE, 0.15);
	synth_set(&s, ANALYZE_SIG_HW_THERMAL_SHARE, 0.05);
	r = synth_run(&s, NULL);
	v = analyze_find(r, ANALYZE_THERMAL_THROTTLING, 0);
	assert_non_null(v);
	assert_int_equal(v->severity, ANALYZE_SEVERITY_WARNING);
	assert_float_equal(analyze_evidence_value(v, "throttled_share"), 0.15, 1e-9);
	assert_float_equal(analyze_evidence_value(v, "hw_throttled_share"), 0.05, 1e-9);
	analyze_result_free(r);
	synth_set(&s, ANALYZE_SIG_SW_THERMAL_SHARE, 0.09);
	synth_set(&s, ANALYZE_SIG_HW_THERMAL_SHARE, 0.0);
	r = synth_run(&s, NULL);
	assert_null(analyze_find(r, ANALYZE_THERMAL_THROTTLING, 0));
	analyze_result_free(r);
	synth_free(&s);
}

/* Text never says "nan": an unknown number reads "unknown". */
static void test_unknown_numbers_read_unknown(void **state)
{
	(void)state;
	struct synth s;
	synth_init(&s, N, 1.0);
	synth_healthy(&s);
	synth_absent(&s, ANALYZE_SIG_POWER_LIMIT_W);
	synth_absent(&s, ANALYZE_SIG_POWER_W);
	synth_set(&s, ANALYZE_SIG_POWER_CAP_SHARE, 0.8);
	synth_set(&s, ANALYZE_SIG_SM_CLOCK_HZ, 1500e6);
	struct analyze_result *r = synth_run(&s, NULL);
	const struct analyze_verdict *v = analyze_find(r, ANALYZE_POWER_CAPPED, 0);
	assert_non_null(v);
	assert_non_null(strstr(v->evidence_text, "unknown W"));
	for (size_t i = 0; i < r->nverdicts; i++) {
		assert_null(strstr(r->verdicts[i].title, "nan"));
		assert_null(strstr(r->verdicts[i].evidence_text, "nan"));
	}
	assert_null(strstr(r->summaries[0].line, "nan"));
	analyze_result_free(r);
	synth_free(&s);
}

/* ---- thresholds, just under and just over ---- */

struct shape_case {
	void (*prepare)(struct synth *s, double v);
	double threshold, eps;
	const char *id;
	bool fires_above;
};

static bool shape_fires(const struct shape_case *sc, double v)
{
	struct synth s;
	synth_init(&s, N, 1.0);
	synth_healthy(&s);
	sc->prepare(&s, v);
	struct analyze_result *r = synth_run(&s, NULL);
	bool fired = analyze_find(r, sc->id, 0) != NULL;
	analyze_result_free(r);
	synth_free(&s);
	return fired;
}

static void test_shape_boundary(void **state)
{
	const struct shape_case *sc = *state;
	double below = sc->threshold - sc->eps, above = sc->threshold + sc->eps;
	if (shape_fires(sc, below) == sc->fires_above)
		fail_msg("%s just under %g: wrong", sc->id, sc->threshold);
	if (shape_fires(sc, above) != sc->fires_above)
		fail_msg("%s just over %g: wrong", sc->id, sc->threshold);
}

static void launch_util(struct synth *s, double v)
{
	synth_set(s, ANALYZE_SIG_GPU_UTIL, v);
	synth_set(s, ANALYZE_SIG_SM_ACTIVE, 0.0);
}

static void launch_ratio(struct synth *s, double v)
{
	synth_set(s, ANALYZE_SIG_GPU_UTIL, 0.4);
	synth_set(s, ANALYZE_SIG_SM_ACTIVE, v * 0.4);
}

static void launch_sustained(struct synth *s, double share)
{
	size_t k = (size_t)lround(share * (double)s->n);
	synth_set(s, ANALYZE_SIG_GPU_UTIL, 0.4);
	synth_split(s, ANALYZE_SIG_SM_ACTIVE, k, 0.01, 0.3);
}

/* Peaks at v x the 700 W limit each second over a 100 W mean. */
static void bursty_peak(struct synth *s, double v)
{
	synth_util(s, 0.05);
	synth_set(s, ANALYZE_SIG_POWER_W, 100);
	synth_set(s, ANALYZE_SIG_POWER_MAX_W, v * 700);
}

/* Mean = v x the 700 W peak. */
static void bursty_duty(struct synth *s, double v)
{
	synth_util(s, 0.05);
	synth_set(s, ANALYZE_SIG_POWER_W, v * 700);
	synth_set(s, ANALYZE_SIG_POWER_MAX_W, 700);
}

/* Bursts in a share v of the seconds, spread evenly. */
static void bursty_active(struct synth *s, double v)
{
	synth_util(s, 0.05);
	double acc = 0;
	for (size_t i = 0; i < s->n; i++) {
		acc += v;
		bool on = acc >= 1;
		if (on)
			acc -= 1;
		s->sig[ANALYZE_SIG_POWER_W][i] = on ? 200 : 90;
		s->sig[ANALYZE_SIG_POWER_MAX_W][i] = on ? 700 : 95;
	}
}

/* Two bursts of 11 s in the 60 s window (period 30 s), the mean set so
 * that the estimated burst (duty x period) lasts v seconds. */
static void bursty_length(struct synth *s, double v)
{
	synth_util(s, 0.05);
	for (size_t i = 0; i < s->n; i++) {
		bool on = i % 30 < 11;
		s->sig[ANALYZE_SIG_POWER_MAX_W][i] = on ? 700 : 95;
		s->sig[ANALYZE_SIG_POWER_W][i] = 700 * v / 30;
	}
}

static void power_share(struct synth *s, double v)
{
	synth_set(s, ANALYZE_SIG_POWER_CAP_SHARE, v);
	synth_set(s, ANALYZE_SIG_SM_CLOCK_HZ, 1500e6);
}

static void thermal_share(struct synth *s, double v)
{
	synth_set(s, ANALYZE_SIG_SW_THERMAL_SHARE, v);
}

#define SHAPE(label, fn, thr, eps, id, above)                                \
	{                                                                    \
		label, test_shape_boundary, NULL, NULL, &(struct shape_case) \
		{                                                            \
			fn, thr, eps, id, above                              \
		}                                                            \
	}

static const struct CMUnitTest boundary_tests[] = {
    SHAPE("launch.util_min_0.2", launch_util, 0.2, 0.005, ANALYZE_LAUNCH_BOUND, true),
    SHAPE("launch.sm_ratio_0.25", launch_ratio, 0.25, 0.005, ANALYZE_LAUNCH_BOUND, false),
    SHAPE("launch.sustain_0.5", launch_sustained, 0.5, 0.02, ANALYZE_LAUNCH_BOUND, true),
    SHAPE("bursty.peak_min_0.4", bursty_peak, 0.4, 0.005, ANALYZE_BURSTY, true),
    SHAPE("bursty.duty_max_0.5", bursty_duty, 0.5, 0.005, ANALYZE_BURSTY, false),
    SHAPE("bursty.active_min_0.1", bursty_active, 0.1, 0.02, ANALYZE_BURSTY, true),
    SHAPE("bursty.burst_max_10s", bursty_length, 10, 0.5, ANALYZE_BURSTY, false),
    SHAPE("power_capped.measured_share_0.5", power_share, 0.5, 0.005, ANALYZE_POWER_CAPPED, true),
    SHAPE("thermal.measured_share_0.1", thermal_share, 0.1, 0.005, ANALYZE_THERMAL_THROTTLING,
          true),
};

/* ---- property: no contradicting verdicts ---- */

static bool has(const struct analyze_result *r, const char *id)
{
	return analyze_find(r, id, 0) != NULL;
}

/* Random windows mixing every shape (computing, empty, bursty, idle,
 * starved), with gaps: a GPU is never called both busy-but-empty and
 * compute bound, nor idle and anything that explains its idleness. */
static void test_no_contradicting_verdicts(void **state)
{
	(void)state;
	size_t seen[5] = {0}; /* launch, compute, bursty, idle, pcie: the test must reach them */
	for (uint64_t seed = 1; seed <= 400; seed++) {
		uint64_t st = seed * 0x9E3779B97F4A7C15ULL;
		struct synth s;
		size_t n = 10 + (size_t)synth_uniform(&st, 0, 120);
		synth_init(&s, n, 1.0);
		synth_healthy(&s);
		double mix[5];
		double total = 0;
		for (int k = 0; k < 5; k++)
			mix[k] = synth_uniform(&st, 0, 1);
		mix[seed % 5] += synth_uniform(&st, 0, 4); /* a dominant shape, mostly */
		for (int k = 0; k < 5; k++)
			total += mix[k];
		for (size_t i = 0; i < n; i++) {
			double x = synth_uniform(&st, 0, total);
			int shape = 0;
			while (shape < 4 && x > mix[shape])
				x -= mix[shape++];
			double u, sm, pw, pmax, dram;
			switch (shape) {
			case 0: /* computing */
				u = synth_uniform(&st, 0.8, 1), sm = synth_uniform(&st, 0.78, 1);
				pw = 600, pmax = 700, dram = 0.3;
				break;
			case 1: /* busy but empty */
				u = synth_uniform(&st, 0.15, 0.6), sm = synth_uniform(&st, 0, 0.05);
				pw = 130, pmax = 150, dram = 0.01;
				break;
			case 2: /* a burst in this second */
				u = synth_uniform(&st, 0, 0.2), sm = synth_uniform(&st, 0, 0.2);
				pw = synth_uniform(&st, 100, 300),
				pmax = synth_uniform(&st, 300, 800);
				dram = 0.05;
				break;
			case 3: /* idle */
				u = synth_uniform(&st, 0, 0.05), sm = synth_uniform(&st, 0, 0.03);
				pw = 75, pmax = 80, dram = 0;
				break;
			default: /* moderate */
				u = synth_uniform(&st, 0.2, 0.7),
				sm = u * synth_uniform(&st, 0.3, 1);
				pw = 300, pmax = 400, dram = 0.7;
				break;
			}
			s.sig[ANALYZE_SIG_GPU_UTIL][i] = u;
			s.sig[ANALYZE_SIG_GPU_UTIL_MAX][i] = fmin(1, u * synth_uniform(&st, 1, 5));
			s.sig[ANALYZE_SIG_SM_ACTIVE][i] = sm;
			s.sig[ANALYZE_SIG_DRAM_ACTIVE][i] = dram;
			s.sig[ANALYZE_SIG_TENSOR_ACTIVE][i] = sm * 0.7;
			s.sig[ANALYZE_SIG_POWER_W][i] = pw;
			s.sig[ANALYZE_SIG_POWER_MAX_W][i] = pmax;
			/* Idle seconds sometimes wait on host copies. */
			s.sig[ANALYZE_SIG_PCIE_RX_BYTES_PER_S][i] =
			    shape == 3 && seed % 2 == 0 ? synth_uniform(&st, 4e9, 12e9) : 2e9;
			s.proc_cpu[0][i] = synth_uniform(&st, 0, 1.2);
			if (synth_uniform(&st, 0, 1) < 0.08) {
				int sig = (int)synth_uniform(&st, 0, ANALYZE_SIG_COUNT - 0.001);
				if (s.sig[sig])
					s.sig[sig][i] = NAN;
			}
		}
		struct analyze_result *r = synth_run(&s, NULL);
		static const char *const pairs[][2] = {
		    {ANALYZE_LAUNCH_BOUND, ANALYZE_COMPUTE_BOUND},
		    {ANALYZE_IDLE, ANALYZE_COMPUTE_BOUND},
		    {ANALYZE_IDLE, ANALYZE_LAUNCH_BOUND},
		    {ANALYZE_IDLE, ANALYZE_BURSTY},
		    {ANALYZE_IDLE, ANALYZE_CPU_BOUND_INPUT},
		    {ANALYZE_LAUNCH_BOUND, ANALYZE_CPU_BOUND_INPUT},
		    {ANALYZE_PCIE_BOUND, ANALYZE_CPU_BOUND_INPUT},
		    {ANALYZE_PCIE_BOUND, ANALYZE_LAUNCH_BOUND},
		    {ANALYZE_IDLE, ANALYZE_PCIE_BOUND},
		    {ANALYZE_BURSTY, ANALYZE_POWER_CAPPED},
		};
		for (size_t k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++)
			if (has(r, pairs[k][0]) && has(r, pairs[k][1]))
				fail_msg("seed %llu (n %zu): both %s and %s",
				         (unsigned long long)seed, n, pairs[k][0], pairs[k][1]);
		seen[0] += has(r, ANALYZE_LAUNCH_BOUND);
		seen[1] += has(r, ANALYZE_COMPUTE_BOUND);
		seen[2] += has(r, ANALYZE_BURSTY);
		seen[3] += has(r, ANALYZE_IDLE);
		seen[4] += has(r, ANALYZE_PCIE_BOUND);
		analyze_result_free(r);
		synth_free(&s);
	}
	for (int k = 0; k < 5; k++)
		if (seen[k] < 5)
			fail_msg("verdict %d fired in only %zu windows", k, seen[k]);
}

int analyze_shape_tests(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_busy_but_empty_is_launch_bound),
	    cmocka_unit_test(test_no_gpm_judges_on_nvml),
	    cmocka_unit_test(test_pageable_copies_are_pcie_bound),
	    cmocka_unit_test(test_bursts_are_seen),
	    cmocka_unit_test(test_steady_loads_are_not_bursty),
	    cmocka_unit_test(test_no_contradicting_verdicts),
	    cmocka_unit_test(test_throttling_is_measured_not_sampled),
	    cmocka_unit_test(test_unknown_numbers_read_unknown),
	};
	int failed = cmocka_run_group_tests_name("analyze.shape", tests, NULL, NULL);
	failed +=
	    cmocka_run_group_tests_name("analyze.shape_boundaries", boundary_tests, NULL, NULL);
	return failed;
}
