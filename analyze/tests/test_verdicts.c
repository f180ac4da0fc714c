/* test_verdicts.c - each verdict on synthetic series: what it says (evidence,
 * severity, money), and what the engine says when a signal it needs is
 * absent ("not judged", never a silent pass, never absent-as-zero). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/analyze.h"
#include "analyze/stats.h"
#include "analyze/tests/synth.h"
#include "analyze/tests/tests.h"

#define N 60

static struct synth S;

static int setup(void **state)
{
	synth_init(&S, N, 1.0);
	return 0;
}

static int teardown(void **state)
{
	synth_free(&S);
	return 0;
}

static const struct analyze_verdict *expect(const struct analyze_result *r, const char *id,
                                            enum analyze_severity sev)
{
	const struct analyze_verdict *v = analyze_find(r, id, 0);
	if (!v)
		fail_msg("expected verdict %s", id);
	assert_int_equal(v->severity, sev);
	assert_true(v->title[0] && v->evidence_text[0] && v->fix[0]);
	assert_true(v->nevidence > 0);
	return v;
}

static const char *expect_not_judged(const struct analyze_result *r, const char *id)
{
	const struct analyze_not_judged *nj = analyze_find_not_judged(r, id, 0);
	if (!nj)
		fail_msg("expected %s in not_judged", id);
	assert_null(analyze_find(r, id, 0));
	return nj->reason;
}

static void test_idle_prices_the_waste(void **state)
{
	synth_healthy(&S);
	synth_util(&S, 0.10);
	struct analyze_result *r = synth_run(&S, NULL);
	const struct analyze_verdict *v = expect(r, ANALYZE_IDLE, ANALYZE_SEVERITY_WARNING);
	assert_float_equal(analyze_evidence_value(v, "util_mean"), 0.10, 1e-9);
	assert_float_equal(analyze_evidence_value(v, "price_per_hour"), 3.50, 1e-9);
	assert_float_equal(analyze_evidence_value(v, "waste_per_day"), 0.9 * 3.5 * 24, 1e-9);
	assert_float_equal(analyze_evidence_value(v, "waste_per_year"), 0.9 * 3.5 * 24 * 365, 1e-6);
	assert_non_null(strstr(v->title, "underused"));
	analyze_result_free(r);
}

static void test_idle_unknown_model_has_no_price(void **state)
{
	synth_healthy(&S);
	synth_util(&S, 0.0);
	S.gpu.model = "Mystery GPU 9000";
	struct analyze_result *r = synth_run(&S, NULL);
	const struct analyze_verdict *v = expect(r, ANALYZE_IDLE, ANALYZE_SEVERITY_WARNING);
	assert_true(isnan(analyze_evidence_value(v, "waste_per_day")));
	assert_non_null(strstr(v->evidence_text, "price_per_gpu_hour"));
	analyze_result_free(r);

	/* A configured price wins over the table. */
	struct analyze_config cfg;
	analyze_config_default(&cfg);
	cfg.price_per_gpu_hour = 2.0;
	cfg.currency = "EUR";
	r = synth_run(&S, &cfg);
	v = expect(r, ANALYZE_IDLE, ANALYZE_SEVERITY_WARNING);
	assert_float_equal(analyze_evidence_value(v, "waste_per_day"), 48.0, 1e-9);
	assert_string_equal(v->evidence[4].unit, "EUR/day");
	analyze_result_free(r);
}

static void test_idle_falls_back_to_sm_active(void **state)
{
	synth_healthy(&S);
	synth_absent(&S, ANALYZE_SIG_GPU_UTIL);
	synth_set(&S, ANALYZE_SIG_SM_ACTIVE, 0.05);
	struct analyze_result *r = synth_run(&S, NULL);
	const struct analyze_verdict *v = expect(r, ANALYZE_IDLE, ANALYZE_SEVERITY_WARNING);
	assert_non_null(strstr(v->evidence_text, "sm_active"));
	analyze_result_free(r);
}

static void test_cpu_bound_input(void **state)
{
	synth_healthy(&S);
	synth_util(&S, 0.3);
	for (size_t i = 0; i < S.n; i++)
		synth_proc_cpu(&S, 0)[i] = 1.0;
	struct analyze_result *r = synth_run(&S, NULL);
	const struct analyze_verdict *v =
	    expect(r, ANALYZE_CPU_BOUND_INPUT, ANALYZE_SEVERITY_WARNING);
	assert_int_equal(v->about.pid, 1000);
	assert_string_equal(v->about.workload, "llm-serve");
	assert_float_equal(analyze_evidence_value(v, "gpu_idle_share"), 0.7, 1e-9);
	assert_float_equal(analyze_evidence_value(v, "cpu_cores_usable"), 1.0, 1e-9);
	analyze_result_free(r);
}

static void test_cpu_bound_not_judged_without_process_data(void **state)
{
	synth_healthy(&S);
	S.nprocs = 0;
	struct analyze_result *r = synth_run(&S, NULL);
	assert_non_null(strstr(expect_not_judged(r, ANALYZE_CPU_BOUND_INPUT), "per-process"));
	analyze_result_free(r);

	/* A process without its CPU series is not judged either, by pid. */
	S.nprocs = 1;
	free(S.proc_cpu[0]);
	S.proc_cpu[0] = NULL;
	r = synth_run(&S, NULL);
	assert_non_null(strstr(expect_not_judged(r, ANALYZE_CPU_BOUND_INPUT), "1000"));
	assert_int_equal(analyze_find_not_judged(r, ANALYZE_CPU_BOUND_INPUT, 0)->about.pid, 1000);
	analyze_result_free(r);
}

static void test_bandwidth_bound(void **state)
{
	synth_healthy(&S);
	synth_set(&S, ANALYZE_SIG_DRAM_ACTIVE, 0.88);
	synth_set(&S, ANALYZE_SIG_TENSOR_ACTIVE, 0.0);
	struct analyze_result *r = synth_run(&S, NULL);
	const struct analyze_verdict *v =
	    expect(r, ANALYZE_MEMORY_BW_BOUND, ANALYZE_SEVERITY_WARNING);
	assert_float_equal(analyze_evidence_value(v, "dram_active_mean"), 0.88, 1e-9);
	assert_null(analyze_find(r, ANALYZE_COMPUTE_BOUND, 0));
	analyze_result_free(r);
}

static void test_gpm_absent_is_not_judged(void **state)
{
	/* An Ampere GPU: NVML utilization at 100, no GPM. */
	synth_healthy(&S);
	synth_absent(&S, ANALYZE_SIG_SM_ACTIVE);
	synth_absent(&S, ANALYZE_SIG_SM_OCCUPANCY);
	synth_absent(&S, ANALYZE_SIG_TENSOR_ACTIVE);
	synth_absent(&S, ANALYZE_SIG_DRAM_ACTIVE);
	struct analyze_result *r = synth_run(&S, NULL);
	const char *why = expect_not_judged(r, ANALYZE_MEMORY_BW_BOUND);
	assert_non_null(strstr(why, "dram_active absent"));
	assert_non_null(strstr(why, "Hopper"));
	assert_non_null(strstr(expect_not_judged(r, ANALYZE_COMPUTE_BOUND), "sm_active absent"));
	/* PCIe falls back to NVML utilization and is judged. */
	assert_null(analyze_find_not_judged(r, ANALYZE_PCIE_BOUND, 0));
	analyze_result_free(r);
}

static void test_too_few_samples_is_not_judged(void **state)
{
	synth_healthy(&S);
	double *dram = synth_sig(&S, ANALYZE_SIG_DRAM_ACTIVE);
	for (size_t i = 3; i < S.n; i++)
		dram[i] = NAN;
	struct analyze_result *r = synth_run(&S, NULL);
	assert_non_null(strstr(expect_not_judged(r, ANALYZE_MEMORY_BW_BOUND), "3 valid samples"));
	analyze_result_free(r);
}

static void test_compute_bound_is_good_news(void **state)
{
	synth_healthy(&S);
	struct analyze_result *r = synth_run(&S, NULL);
	const struct analyze_verdict *v = expect(r, ANALYZE_COMPUTE_BOUND, ANALYZE_SEVERITY_INFO);
	assert_non_null(strstr(v->title, "good"));
	analyze_result_free(r);

	/* Without tensor activity, SMs busy and DRAM calm still mean math. */
	synth_absent(&S, ANALYZE_SIG_TENSOR_ACTIVE);
	r = synth_run(&S, NULL);
	v = expect(r, ANALYZE_COMPUTE_BOUND, ANALYZE_SEVERITY_INFO);
	assert_true(isnan(analyze_evidence_value(v, "tensor_active_mean")));
	assert_non_null(strstr(v->title, "not collected"));
	analyze_result_free(r);
}

static void test_power_capped_quantifies_clock_loss(void **state)
{
	synth_healthy(&S);
	synth_set(&S, ANALYZE_SIG_CLOCK_EVENT_REASONS, ANALYZE_CLOCK_SW_POWER);
	synth_set(&S, ANALYZE_SIG_SM_CLOCK_HZ, 1485e6);
	synth_set(&S, ANALYZE_SIG_POWER_W, 695);
	struct analyze_result *r = synth_run(&S, NULL);
	const struct analyze_verdict *v = expect(r, ANALYZE_POWER_CAPPED, ANALYZE_SEVERITY_WARNING);
	assert_float_equal(analyze_evidence_value(v, "clock_loss"), 0.25, 1e-9);
	assert_float_equal(analyze_evidence_value(v, "sm_clock_mean"), 1485e6, 1);
	assert_float_equal(analyze_evidence_value(v, "reasons_seen"), 4, 0);
	assert_non_null(strstr(v->title, "1485 of 1980 MHz"));
	analyze_result_free(r);

	/* Without clocks the cap is reported, the loss is not invented. */
	synth_absent(&S, ANALYZE_SIG_SM_CLOCK_HZ);
	r = synth_run(&S, NULL);
	v = expect(r, ANALYZE_POWER_CAPPED, ANALYZE_SEVERITY_INFO);
	assert_true(isnan(analyze_evidence_value(v, "clock_loss")));
	analyze_result_free(r);
}

static void test_power_brake_warns(void **state)
{
	synth_healthy(&S);
	synth_set(&S, ANALYZE_SIG_CLOCK_EVENT_REASONS, ANALYZE_CLOCK_POWER_BRAKE);
	struct analyze_result *r = synth_run(&S, NULL);
	const struct analyze_verdict *v = expect(r, ANALYZE_POWER_CAPPED, ANALYZE_SEVERITY_WARNING);
	assert_non_null(strstr(v->title, "power brake"));
	analyze_result_free(r);
}

static void test_clock_signals_absent(void **state)
{
	synth_healthy(&S);
	synth_absent(&S, ANALYZE_SIG_CLOCK_EVENT_REASONS);
	synth_absent(&S, ANALYZE_SIG_POWER_LIMIT_W);
	synth_absent(&S, ANALYZE_SIG_SLOWDOWN_TEMP_C);
	struct analyze_result *r = synth_run(&S, NULL);
	expect_not_judged(r, ANALYZE_POWER_CAPPED);
	assert_non_null(strstr(expect_not_judged(r, ANALYZE_THERMAL_THROTTLING), "slowdown"));
	analyze_result_free(r);
}

static void test_thermal_throttling(void **state)
{
	synth_healthy(&S);
	synth_set(&S, ANALYZE_SIG_CLOCK_EVENT_REASONS, ANALYZE_CLOCK_SW_THERMAL);
	synth_set(&S, ANALYZE_SIG_SM_CLOCK_HZ, 1584e6);
	synth_set(&S, ANALYZE_SIG_TEMP_C, 86);
	struct analyze_result *r = synth_run(&S, NULL);
	const struct analyze_verdict *v =
	    expect(r, ANALYZE_THERMAL_THROTTLING, ANALYZE_SEVERITY_WARNING);
	assert_float_equal(analyze_evidence_value(v, "clock_loss"), 0.2, 1e-9);
	assert_float_equal(analyze_evidence_value(v, "throughput_loss"), 0.2, 1e-9);
	analyze_result_free(r);

	/* Hardware thermal slowdown in half the window is critical. */
	synth_split(&S, ANALYZE_SIG_CLOCK_EVENT_REASONS, N / 2, ANALYZE_CLOCK_HW_THERMAL, 0);
	r = synth_run(&S, NULL);
	v = expect(r, ANALYZE_THERMAL_THROTTLING, ANALYZE_SEVERITY_CRITICAL);
	assert_float_equal(analyze_evidence_value(v, "throughput_loss"), 0.1, 1e-9);
	analyze_result_free(r);
}

static void test_pcie_bound(void **state)
{
	synth_healthy(&S);
	synth_set(&S, ANALYZE_SIG_SM_ACTIVE, 0.1);
	synth_set(&S, ANALYZE_SIG_PCIE_TX_BYTES_PER_S, 50e9);
	struct analyze_result *r = synth_run(&S, NULL);
	const struct analyze_verdict *v = expect(r, ANALYZE_PCIE_BOUND, ANALYZE_SEVERITY_WARNING);
	assert_float_equal(analyze_evidence_value(v, "link_capacity"), 3.938e9 * 16, 1);
	assert_float_equal(analyze_evidence_value(v, "link_util_mean"), 50e9 / (3.938e9 * 16),
	                   1e-9);
	analyze_result_free(r);

	/* A gen 3 x8 link fills at a quarter of the bytes. */
	synth_set(&S, ANALYZE_SIG_PCIE_TX_BYTES_PER_S, 7e9);
	synth_set(&S, ANALYZE_SIG_PCIE_LINK_GEN, 3);
	synth_set(&S, ANALYZE_SIG_PCIE_LINK_WIDTH, 8);
	r = synth_run(&S, NULL);
	v = expect(r, ANALYZE_PCIE_BOUND, ANALYZE_SEVERITY_WARNING);
	assert_float_equal(analyze_evidence_value(v, "link_capacity"), 0.985e9 * 8, 1);
	analyze_result_free(r);

	synth_absent(&S, ANALYZE_SIG_PCIE_TX_BYTES_PER_S);
	synth_absent(&S, ANALYZE_SIG_PCIE_RX_BYTES_PER_S);
	r = synth_run(&S, NULL);
	expect_not_judged(r, ANALYZE_PCIE_BOUND);
	analyze_result_free(r);
}

static void test_vram_pressure_and_overprovisioning(void **state)
{
	synth_healthy(&S);
	synth_set(&S, ANALYZE_SIG_FB_USED_BYTES, 0.95 * H200_TOTAL_BYTES);
	struct analyze_result *r = synth_run(&S, NULL);
	expect(r, ANALYZE_VRAM_PRESSURE, ANALYZE_SEVERITY_WARNING);
	assert_null(analyze_find(r, ANALYZE_VRAM_OVERPROVISIONED, 0));
	analyze_result_free(r);

	/* 10 GiB peak on an H200: 12 GiB with headroom fits MIG 1g.18gb. */
	synth_set(&S, ANALYZE_SIG_FB_USED_BYTES, 10 * GIB);
	r = synth_run(&S, NULL);
	const struct analyze_verdict *v =
	    expect(r, ANALYZE_VRAM_OVERPROVISIONED, ANALYZE_SEVERITY_INFO);
	assert_float_equal(analyze_evidence_value(v, "mig_profile_memory"), 18 * GIB, 1);
	assert_non_null(strstr(v->fix, "1g.18gb"));
	assert_non_null(strstr(v->fix, "L4"));
	analyze_result_free(r);

	synth_absent(&S, ANALYZE_SIG_FB_TOTAL_BYTES);
	r = synth_run(&S, NULL);
	expect_not_judged(r, ANALYZE_VRAM_PRESSURE);
	expect_not_judged(r, ANALYZE_VRAM_OVERPROVISIONED);
	analyze_result_free(r);
}

static void test_memory_growth_projects_oom(void **state)
{
	synth_healthy(&S);
	double *mem = synth_proc_mem(&S, 0), *used = synth_sig(&S, ANALYZE_SIG_FB_USED_BYTES);
	for (size_t i = 0; i < S.n; i++) {
		mem[i] = 20 * GIB + (double)i * 100 * MIB; /* 100 MiB/s */
		used[i] = mem[i] + 1 * GIB;
	}
	struct analyze_result *r = synth_run(&S, NULL);
	const struct analyze_verdict *v =
	    expect(r, ANALYZE_MEMORY_GROWTH, ANALYZE_SEVERITY_CRITICAL);
	double free_bytes = H200_TOTAL_BYTES - used[S.n - 1];
	assert_float_equal(analyze_evidence_value(v, "slope"), 100 * MIB * 3600, 1);
	assert_float_equal(analyze_evidence_value(v, "r2"), 1.0, 1e-12);
	assert_float_equal(analyze_evidence_value(v, "time_to_oom"), free_bytes / (100 * MIB),
	                   1e-6);
	assert_int_equal(v->about.pid, 1000);
	analyze_result_free(r);
}

static void test_memory_growth_ignores_sawtooth(void **state)
{
	synth_healthy(&S);
	double *mem = synth_proc_mem(&S, 0);
	/* An allocator filling 4 GiB over 10 s, then releasing it, six times. */
	for (size_t i = 0; i < S.n; i++)
		mem[i] = 20 * GIB + (double)(i % 10) * 0.4 * GIB;
	struct analyze_result *r = synth_run(&S, NULL);
	assert_null(analyze_find(r, ANALYZE_MEMORY_GROWTH, 0));
	analyze_result_free(r);
}

/* The r2 gate, just under and over the fit quality of a noisy ramp. */
static void test_memory_growth_r2_boundary(void **state)
{
	struct analyze_config cfg;
	struct analyze_fit fit;
	synth_healthy(&S);
	double *mem = synth_proc_mem(&S, 0);
	for (size_t i = 0; i < S.n; i++)
		mem[i] = 20 * GIB + (double)i * 50 * MIB + (i % 2 ? 600.0 : -600.0) * MIB;
	assert_true(analyze_least_squares(0, S.step, mem, S.n, &fit));
	assert_true(fit.r2 > 0.3 && fit.r2 < 0.95);
	analyze_config_default(&cfg);
	cfg.growth_min_r2 = fit.r2 - 0.001;
	struct analyze_result *r = synth_run(&S, &cfg);
	assert_non_null(analyze_find(r, ANALYZE_MEMORY_GROWTH, 0));
	analyze_result_free(r);
	cfg.growth_min_r2 = fit.r2 + 0.001;
	r = synth_run(&S, &cfg);
	assert_null(analyze_find(r, ANALYZE_MEMORY_GROWTH, 0));
	analyze_result_free(r);
}

static void test_memory_growth_whole_gpu_fallback(void **state)
{
	synth_healthy(&S);
	S.nprocs = 0;
	double *used = synth_sig(&S, ANALYZE_SIG_FB_USED_BYTES);
	for (size_t i = 0; i < S.n; i++)
		used[i] = 50 * GIB + (double)i * 10 * MIB;
	struct analyze_result *r = synth_run(&S, NULL);
	const struct analyze_verdict *v =
	    expect(r, ANALYZE_MEMORY_GROWTH, ANALYZE_SEVERITY_WARNING);
	assert_int_equal(v->about.pid, 0);
	assert_non_null(strstr(v->title, "whole GPU"));
	analyze_result_free(r);

	synth_absent(&S, ANALYZE_SIG_FB_USED_BYTES);
	r = synth_run(&S, NULL);
	expect_not_judged(r, ANALYZE_MEMORY_GROWTH);
	analyze_result_free(r);
}

static void test_hardware_health(void **state)
{
	synth_healthy(&S);
	struct analyze_result *r = synth_run(&S, NULL);
	assert_null(analyze_find(r, ANALYZE_HARDWARE_HEALTH, 0));
	assert_null(analyze_find_not_judged(r, ANALYZE_HARDWARE_HEALTH, 0));
	analyze_result_free(r);

	/* An application Xid (13) warns; the count rose from 2 to 3. */
	synth_split(&S, ANALYZE_SIG_XID_COUNT, 30, 2, 3);
	synth_split(&S, ANALYZE_SIG_XID_LAST, 30, 31, 13);
	r = synth_run(&S, NULL);
	const struct analyze_verdict *v =
	    expect(r, ANALYZE_HARDWARE_HEALTH, ANALYZE_SEVERITY_WARNING);
	assert_float_equal(analyze_evidence_value(v, "xid_events"), 1, 0);
	assert_float_equal(analyze_evidence_value(v, "xid_last_code"), 13, 0);
	analyze_result_free(r);

	/* Xid 79, fallen off the bus, is critical. */
	synth_split(&S, ANALYZE_SIG_XID_LAST, 30, 31, 79);
	r = synth_run(&S, NULL);
	v = expect(r, ANALYZE_HARDWARE_HEALTH, ANALYZE_SEVERITY_CRITICAL);
	assert_non_null(strstr(v->title, "fallen off the bus"));
	analyze_result_free(r);

	/* Uncorrectable ECC, counted across a counter reset (5 -> 0 -> 1). */
	synth_set(&S, ANALYZE_SIG_XID_COUNT, 3);
	synth_split(&S, ANALYZE_SIG_ECC_DBE_COUNT, 20, 5, 1);
	r = synth_run(&S, NULL);
	v = expect(r, ANALYZE_HARDWARE_HEALTH, ANALYZE_SEVERITY_CRITICAL);
	assert_float_equal(analyze_evidence_value(v, "ecc_dbe_increase"), 1, 0);
	analyze_result_free(r);

	synth_set(&S, ANALYZE_SIG_ECC_DBE_COUNT, 5);
	synth_split(&S, ANALYZE_SIG_REMAP_FAILURE, 50, 0, 1);
	r = synth_run(&S, NULL);
	expect(r, ANALYZE_HARDWARE_HEALTH, ANALYZE_SEVERITY_CRITICAL);
	analyze_result_free(r);
}

static void test_hardware_health_absent_parts(void **state)
{
	synth_healthy(&S);
	synth_absent(&S, ANALYZE_SIG_ECC_DBE_COUNT);
	synth_absent(&S, ANALYZE_SIG_REMAP_FAILURE);
	struct analyze_result *r = synth_run(&S, NULL);
	const char *why = expect_not_judged(r, ANALYZE_HARDWARE_HEALTH);
	assert_non_null(strstr(why, "judged without ecc_dbe_count, remap_failure"));
	analyze_result_free(r);

	synth_absent(&S, ANALYZE_SIG_XID_COUNT);
	r = synth_run(&S, NULL);
	assert_non_null(strstr(expect_not_judged(r, ANALYZE_HARDWARE_HEALTH), "xid_count"));
	analyze_result_free(r);
}

/* Two GPUs of one TP group; GPU 1 gets `mem` bytes and `util`. */
static struct analyze_result *run_pair(double mem, double util, size_t members)
{
	struct synth other;
	struct analyze_gpu_series gpus[2];
	static const size_t idx[] = {0, 1};
	struct analyze_tp_group grp = {.name = "llama-70b-tp2", .gpu_index = idx, .n = members};
	struct analyze_input in = {.gpus = gpus, .ngpus = 2, .groups = &grp, .ngroups = 1};
	struct analyze_result *r = NULL;

	synth_init(&other, N, 1.0);
	synth_healthy(&other);
	synth_set(&other, ANALYZE_SIG_FB_USED_BYTES, mem);
	synth_set(&other, ANALYZE_SIG_GPU_UTIL, util);
	gpus[0] = *synth_gpu(&S);
	gpus[1] = *synth_gpu(&other);
	assert_int_equal(analyze_run(&in, NULL, &r), 0);
	synth_free(&other);
	return r;
}

static void test_unbalanced_shards(void **state)
{
	synth_healthy(&S);
	synth_set(&S, ANALYZE_SIG_FB_USED_BYTES, 40 * GIB);
	synth_set(&S, ANALYZE_SIG_GPU_UTIL, 0.6);
	struct {
		double mem, util;
		bool fires;
	} cases[] = {
	    {40 * GIB * 1.19, 0.6, false},
	    {40 * GIB * 1.21, 0.6, true}, /* memory skew 1.2 */
	    {40 * GIB, 0.6 * 1.29, false},
	    {40 * GIB, 0.6 * 1.31, true}, /* utilization 1.3 */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct analyze_result *r = run_pair(cases[i].mem, cases[i].util, 2);
		const struct analyze_verdict *v = analyze_find(r, ANALYZE_UNBALANCED_SHARDS, -1);
		if ((v != NULL) != cases[i].fires)
			fail_msg("shard case %zu: expected %s", i,
			         cases[i].fires ? "fire" : "none");
		if (v) {
			assert_int_equal(v->about.gpu_index, -1);
			assert_string_equal(v->about.group, "llama-70b-tp2");
		}
		analyze_result_free(r);
	}
	/* The busy shard is GPU 1, the idle one GPU 0. */
	struct analyze_result *r = run_pair(40 * GIB, 0.95, 2);
	const struct analyze_verdict *v = analyze_find(r, ANALYZE_UNBALANCED_SHARDS, -1);
	assert_non_null(v);
	assert_float_equal(analyze_evidence_value(v, "gpu_least_busy"), 0, 0);
	analyze_result_free(r);

	/* Idle groups are not compared: 2% vs 6% is noise, not skew. */
	synth_set(&S, ANALYZE_SIG_GPU_UTIL, 0.02);
	r = run_pair(40 * GIB, 0.06, 2);
	assert_null(analyze_find(r, ANALYZE_UNBALANCED_SHARDS, -1));
	analyze_result_free(r);

	r = run_pair(40 * GIB, 0.6, 1);
	assert_non_null(analyze_find_not_judged(r, ANALYZE_UNBALANCED_SHARDS, -1));
	analyze_result_free(r);
}

static void test_only_utilization_collected(void **state)
{
	/* The sparsest GPU: one signal.  Everything else is not judged. */
	synth_set(&S, ANALYZE_SIG_GPU_UTIL, 0.9);
	struct analyze_result *r = synth_run(&S, NULL);
	assert_int_equal(r->nverdicts, 0);
	static const char *const ids[] = {
	    ANALYZE_CPU_BOUND_INPUT, ANALYZE_MEMORY_BW_BOUND,      ANALYZE_COMPUTE_BOUND,
	    ANALYZE_POWER_CAPPED,    ANALYZE_THERMAL_THROTTLING,   ANALYZE_PCIE_BOUND,
	    ANALYZE_VRAM_PRESSURE,   ANALYZE_VRAM_OVERPROVISIONED, ANALYZE_MEMORY_GROWTH,
	    ANALYZE_HARDWARE_HEALTH, ANALYZE_LAUNCH_BOUND,         ANALYZE_BURSTY};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		expect_not_judged(r, ids[i]);
	assert_null(analyze_find_not_judged(r, ANALYZE_IDLE, 0));
	analyze_result_free(r);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int analyze_verdict_tests(void)
{
	static const struct CMUnitTest tests[] = {
	    T(test_idle_prices_the_waste),
	    T(test_idle_unknown_model_has_no_price),
	    T(test_idle_falls_back_to_sm_active),
	    T(test_cpu_bound_input),
	    T(test_cpu_bound_not_judged_without_process_data),
	    T(test_bandwidth_bound),
	    T(test_gpm_absent_is_not_judged),
	    T(test_too_few_samples_is_not_judged),
	    T(test_compute_bound_is_good_news),
	    T(test_power_capped_quantifies_clock_loss),
	    T(test_power_brake_warns),
	    T(test_clock_signals_absent),
	    T(test_thermal_throttling),
	    T(test_pcie_bound),
	    T(test_vram_pressure_and_overprovisioning),
	    T(test_memory_growth_projects_oom),
	    T(test_memory_growth_ignores_sawtooth),
	    T(test_memory_growth_r2_boundary),
	    T(test_memory_growth_whole_gpu_fallback),
	    T(test_hardware_health),
	    T(test_hardware_health_absent_parts),
	    T(test_unbalanced_shards),
	    T(test_only_utilization_collected),
	};
	return cmocka_run_group_tests_name("analyze.verdicts", tests, NULL, NULL);
}
