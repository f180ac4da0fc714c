/* test_analyze.c - the diagnosis engine's unit tests: statistics, model
 * tables, input checks, out-of-memory at every allocation, the JSON
 * document, the per-GPU summary, and a seeded property test (a healthy busy
 * GPU never gets a warning).  main() also runs the verdict, boundary and
 * trace groups from the other files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/analyze.h"
#include "analyze/internal.h"
#include "analyze/models.h"
#include "analyze/stats.h"
#include "analyze/tests/synth.h"
#include "analyze/tests/tests.h"

static void test_stats_skip_absent(void **state)
{
	const double x[] = {NAN, 1, 5, NAN, 3, NAN};
	assert_int_equal(analyze_valid_count(x, 6), 3);
	assert_float_equal(analyze_mean(x, 6), 3, 0);
	assert_float_equal(analyze_max(x, 6), 5, 0);
	assert_float_equal(analyze_min(x, 6), 1, 0);
	assert_int_equal(analyze_last_valid(x, 6), 4);
	const double none[] = {NAN, NAN};
	assert_true(isnan(analyze_mean(none, 2)));
	assert_true(isnan(analyze_max(NULL, 2)));
	assert_int_equal(analyze_last_valid(none, 2), 2);
	assert_int_equal(analyze_valid_count(NULL, 5), 0);
}

static void test_counter_increase(void **state)
{
	const double steady[] = {10, 10, NAN, 12, 15};
	assert_float_equal(analyze_counter_increase(steady, 5), 5, 0);
	const double reset[] = {10, 12, 1, 3}; /* +2, reset to 1 counts 1, +2 */
	assert_float_equal(analyze_counter_increase(reset, 4), 5, 0);
	const double one[] = {NAN, 7};
	assert_true(isnan(analyze_counter_increase(one, 2)));
}

static void test_least_squares(void **state)
{
	struct analyze_fit fit;
	double y[10];
	for (int i = 0; i < 10; i++)
		y[i] = 3 + 2 * (1.7e9 + 0.5 * i);
	y[4] = NAN;
	assert_true(analyze_least_squares(1.7e9, 0.5, y, 10, &fit));
	assert_float_equal(fit.slope, 2, 1e-9);
	assert_float_equal(fit.r2, 1, 1e-12);
	assert_int_equal(fit.points, 9);
	const double flat[] = {4, 4, 4};
	assert_true(analyze_least_squares(0, 1, flat, 3, &fit));
	assert_float_equal(fit.slope, 0, 0);
	assert_float_equal(fit.r2, 1, 0);
	const double single[] = {NAN, 4};
	assert_false(analyze_least_squares(0, 1, single, 2, &fit));
	assert_true(isnan(fit.slope));
}

static void test_model_tables(void **state)
{
	const struct analyze_model_price *t = analyze_default_prices;
	size_t n = analyze_default_prices_count;
	assert_float_equal(analyze_model_price(t, n, "NVIDIA H200"), 3.50, 0);
	assert_float_equal(analyze_model_price(t, n, "NVIDIA H100 80GB HBM3"), 2.50, 0);
	assert_float_equal(analyze_model_price(t, n, "NVIDIA A100-SXM4-80GB"), 1.80, 0);
	assert_float_equal(analyze_model_price(t, n, "NVIDIA A100-PCIE-40GB"), 1.30, 0);
	assert_float_equal(analyze_model_price(t, n, "NVIDIA L40S"), 1.00, 0);
	assert_float_equal(analyze_model_price(t, n, "nvidia l4"), 0.60, 0);
	assert_float_equal(analyze_model_price(t, n, "NVIDIA A10"), 0.75, 0);
	assert_true(isnan(analyze_model_price(t, n, "Tesla T4")));
	assert_true(isnan(analyze_model_price(t, n, NULL)));

	const struct analyze_mig_profile *p = analyze_mig_smallest_fit("NVIDIA H200", 20 * GIB);
	assert_non_null(p);
	assert_string_equal(p->name, "1g.35gb");
	p = analyze_mig_smallest_fit("NVIDIA H100 80GB HBM3", 9 * GIB);
	assert_string_equal(p->name, "1g.10gb");
	p = analyze_mig_smallest_fit("NVIDIA H100 NVL", 30 * GIB);
	assert_string_equal(p->name, "3g.47gb");
	p = analyze_mig_smallest_fit("NVIDIA A100-SXM4-40GB", 4 * GIB);
	assert_string_equal(p->name, "1g.5gb");
	assert_null(analyze_mig_smallest_fit("NVIDIA H200", 100 * GIB)); /* only 7g: whole GPU */
	assert_null(analyze_mig_smallest_fit("NVIDIA L4", 1 * GIB));

	const struct analyze_gpu_model *m = analyze_gpu_model_smallest_fit(30 * GIB, 140 * GIB);
	assert_non_null(m);
	assert_non_null(strstr(m->name, "A100 40GB"));
	assert_null(analyze_gpu_model_smallest_fit(30 * GIB, 39 * GIB));
	assert_null(analyze_gpu_model_smallest_fit(200 * GIB, 1e15));

	assert_float_equal(analyze_pcie_lane_bytes_per_s(1), 0.25e9, 0);
	assert_float_equal(analyze_pcie_lane_bytes_per_s(4), 1.969e9, 0);
	assert_float_equal(analyze_pcie_lane_bytes_per_s(6), 7.563e9, 0);
	assert_true(isnan(analyze_pcie_lane_bytes_per_s(0)));
	assert_true(isnan(analyze_pcie_lane_bytes_per_s(7)));
	assert_true(isnan(analyze_pcie_lane_bytes_per_s(4.5)));
	assert_string_equal(analyze_xid_name(79), "GPU has fallen off the bus");
	assert_null(analyze_xid_name(1));
}

static void test_config_set_by_name(void **state)
{
	struct analyze_config c;
	analyze_config_default(&c);
	char err[256];
	assert_int_equal(analyze_config_set(&c, "idle_util_max=0.1", err, sizeof(err)), 0);
	assert_true(c.idle_util_max == 0.1);
	assert_int_equal(analyze_config_set(&c, "growth_critical_s=7200", err, sizeof(err)), 0);
	assert_true(c.growth_critical_s == 7200);
	assert_int_equal(analyze_config_set(&c, "min_samples=9", err, sizeof(err)), 0);
	assert_int_equal(c.min_samples, 9);
	/* docs/diagnosis.md lists xid_critical; it was once refused as unknown. */
	assert_int_equal(analyze_config_set(&c, "xid_critical=79,48 94", err, sizeof(err)), 0);
	assert_int_equal(c.nxid_critical, 3);
	assert_int_equal(c.xid_critical[0], 79);
	assert_int_equal(c.xid_critical[2], 94);
	/* A ratio above 1 was accepted; the message gives the range. */
	assert_int_equal(analyze_config_set(&c, "idle_util_max=2", err, sizeof(err)), -1);
	assert_string_equal(err, "idle_util_max: '2' is out of range: give a number from 0 to 1");
	assert_int_equal(analyze_config_set(&c, "shard_mem_skew=0.5", err, sizeof(err)), -1);
	const char *bad[] = {"",
	                     "xid_critical=48,x",
	                     "xid_critical=-1",
	                     "xid_critical=0",
	                     "=1",
	                     "idle_util_max",
	                     "idle_util_max=",
	                     "nope=1",
	                     "idle_util_max=-0.1",
	                     "idle_util_max=nan",
	                     "min_samples=0",
	                     "min_samples=1.5",
	                     "idle_util_max=1x",
	                     NULL};
	for (int i = 0; bad[i]; i++) {
		err[0] = 0;
		assert_int_equal(analyze_config_set(&c, bad[i], err, sizeof(err)), -1);
		assert_true(err[0] != 0);
	}
	assert_true(c.idle_util_max == 0.1); /* a refused value changes nothing */
	assert_int_equal(c.nxid_critical, 3);
	assert_int_equal(analyze_config_set(&c, NULL, err, sizeof(err)), -1);
}

static void test_config_defaults(void **state)
{
	struct analyze_config c;
	analyze_config_default(&c);
	assert_int_equal(c.min_samples, 5);
	assert_float_equal(c.idle_util_max, 0.25, 0);
	assert_float_equal(c.bw_dram_min, 0.6, 0);
	assert_float_equal(c.vram_pressure_ratio, 0.9, 0);
	assert_float_equal(c.vram_overprov_ratio, 0.3, 0);
	assert_float_equal(c.growth_min_bytes, 256 * MIB, 0);
	assert_int_equal(c.nxid_critical, 6);
	assert_true(isnan(c.price_per_gpu_hour));
	assert_string_equal(c.currency, "USD");
	assert_string_equal(analyze_severity_name(ANALYZE_SEVERITY_CRITICAL), "critical");
	assert_string_equal(analyze_signal_name(ANALYZE_SIG_DRAM_ACTIVE), "dram_active");
	assert_string_equal(analyze_signal_name(ANALYZE_SIG_COUNT), "unknown");
}

static void test_input_validation(void **state)
{
	struct synth s;
	struct analyze_result *r = (struct analyze_result *)&r; /* not NULL: must be reset */
	synth_init(&s, 10, 1.0);
	synth_healthy(&s);
	struct analyze_gpu_series g = *synth_gpu(&s);
	struct analyze_input in = {.gpus = &g, .ngpus = 1};

	assert_int_equal(analyze_run(NULL, NULL, &r), -1);
	assert_int_equal(errno, EINVAL);
	assert_null(r);
	assert_int_equal(analyze_run(&in, NULL, NULL), -1);
	g.step = 0;
	assert_int_equal(analyze_run(&in, NULL, &r), -1);
	assert_int_equal(errno, EINVAL);
	g.step = NAN;
	assert_int_equal(analyze_run(&in, NULL, &r), -1);
	g.step = 1;
	g.procs = NULL;
	assert_int_equal(analyze_run(&in, NULL, &r), -1);
	g = *synth_gpu(&s);
	const size_t bad[] = {0, 1};
	struct analyze_tp_group grp = {.name = "g", .gpu_index = bad, .n = 2};
	in.groups = &grp;
	in.ngroups = 1;
	assert_int_equal(analyze_run(&in, NULL, &r), -1);
	assert_int_equal(errno, EINVAL);
	in.ngpus = 0;
	in.ngroups = 0;
	assert_int_equal(analyze_run(&in, NULL, &r), 0); /* nothing to judge is fine */
	assert_int_equal(r->nverdicts + r->nnot_judged + r->nsummaries, 0);
	analyze_result_free(r);
	analyze_result_free(NULL);
	synth_free(&s);
}

static void test_empty_window(void **state)
{
	struct synth s;
	synth_init(&s, 0, 1.0);
	struct analyze_result *r = synth_run(&s, NULL);
	assert_int_equal(r->nverdicts, 0);
	assert_true(r->nnot_judged >= 10);
	assert_true(isnan(r->summaries[0].util_mean));
	assert_non_null(strstr(r->summaries[0].line, "not collected"));
	analyze_result_free(r);
	synth_free(&s);
}

static int alloc_calls, alloc_fail_at;

static void *failing_realloc(void *p, size_t n)
{
	if (++alloc_calls == alloc_fail_at)
		return NULL;
	return realloc(p, n);
}

static void *failing_malloc(size_t n)
{
	if (++alloc_calls == alloc_fail_at)
		return NULL;
	return malloc(n);
}

/* Four troubled GPUs: enough verdicts and not-judged entries to regrow. */
static void troubled_node(struct synth *s, struct analyze_gpu_series *gpus)
{
	for (size_t i = 0; i < 4; i++) {
		synth_init(&s[i], 30, 1.0);
		synth_healthy(&s[i]);
		synth_util(&s[i], 0.05);
		synth_set(&s[i], ANALYZE_SIG_DRAM_ACTIVE, 0.9);
		synth_set(&s[i], ANALYZE_SIG_TENSOR_ACTIVE, 0.0);
		synth_set(&s[i], ANALYZE_SIG_FB_USED_BYTES, 0.95 * H200_TOTAL_BYTES);
		synth_set(&s[i], ANALYZE_SIG_CLOCK_EVENT_REASONS, 0x24);
		synth_set(&s[i], ANALYZE_SIG_SM_CLOCK_HZ, 1400e6);
		synth_absent(&s[i], ANALYZE_SIG_PCIE_TX_BYTES_PER_S);
		synth_absent(&s[i], ANALYZE_SIG_PCIE_RX_BYTES_PER_S);
		synth_absent(&s[i], ANALYZE_SIG_XID_COUNT);
		s[i].procs[0].name = "caf\xc3"; /* truncated UTF-8: JSON must cope */
		for (size_t k = 0; k < s[i].n; k++)
			synth_proc_cpu(&s[i], 0)[k] = 1.0; /* CPU-bound: a verdict names it */
		synth_split(&s[i], ANALYZE_SIG_ECC_DBE_COUNT, 10, 0, 1);
		gpus[i] = *synth_gpu(&s[i]);
	}
}

static void test_out_of_memory_everywhere(void **state)
{
	struct synth s[4];
	struct analyze_gpu_series gpus[4];
	const size_t members[] = {0, 1, 2, 3};
	const struct analyze_tp_group groups[] = {{.name = "tp4", .gpu_index = members, .n = 4},
	                                          {.name = "solo", .gpu_index = members, .n = 1}};
	struct analyze_input in = {.gpus = gpus, .ngpus = 4, .groups = groups, .ngroups = 2};
	struct analyze_result *r;
	int failures = 0;

	troubled_node(s, gpus);
	analyze_set_realloc_for_tests(failing_realloc);
	for (alloc_fail_at = 1;; alloc_fail_at++) {
		alloc_calls = 0;
		r = (struct analyze_result *)&r;
		int rc = analyze_run(&in, NULL, &r);
		if (rc == 0)
			break;
		assert_int_equal(rc, -1);
		assert_int_equal(errno, ENOMEM);
		assert_null(r);
		failures++;
		assert_true(alloc_fail_at < 1000);
	}
	analyze_set_realloc_for_tests(NULL);
	assert_true(failures > 10); /* result, context, masks and several regrowths */
	assert_true(r->nverdicts > 8 && r->nnot_judged > 8);

	/* The JSON document: every jansson allocation fails once. */
	int json_failures = 0;
	for (alloc_fail_at = 1;; alloc_fail_at++) {
		alloc_calls = 0;
		json_set_alloc_funcs(failing_malloc, free);
		char *text = analyze_result_json_text(r, 0);
		json_set_alloc_funcs(malloc, free);
		if (text && alloc_calls < alloc_fail_at) {
			assert_non_null(strstr(text, "\"process\":\"caf?\""));
			free(text);
			break;
		}
		if (text) /* a failure json_dumps absorbed (its scratch buffer) */
			free(text);
		else
			json_failures++;
		assert_true(alloc_fail_at < 100000);
	}
	assert_true(json_failures > 100);
	analyze_result_free(r);
	for (size_t i = 0; i < 4; i++)
		synth_free(&s[i]);
}

static void test_json_document(void **state)
{
	struct synth s;
	synth_init(&s, 60, 1.0);
	synth_healthy(&s);
	synth_util(&s, 0.1);
	synth_absent(&s, ANALYZE_SIG_DRAM_ACTIVE);
	struct analyze_result *r = synth_run(&s, NULL);
	char *text = analyze_result_json_text(r, 0);
	assert_non_null(text);
	json_error_t err;
	json_t *doc = json_loads(text, 0, &err);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "schema")),
	                    "gpuscope.diagnosis/v1");
	assert_string_equal(json_string_value(json_object_get(doc, "currency")), "USD");
	json_t *verdicts = json_object_get(doc, "verdicts");
	assert_int_equal(json_array_size(verdicts), r->nverdicts);
	json_t *idle = NULL;
	for (size_t i = 0; i < json_array_size(verdicts); i++) {
		json_t *v = json_array_get(verdicts, i);
		if (strcmp(json_string_value(json_object_get(v, "id")), "idle") == 0)
			idle = v;
	}
	assert_non_null(idle);
	assert_string_equal(json_string_value(json_object_get(idle, "severity")), "warning");
	assert_int_equal(json_integer_value(json_object_get(idle, "gpu")), 0);
	assert_true(json_is_null(json_object_get(idle, "pid")));
	json_t *ev = json_object_get(idle, "evidence");
	assert_non_null(json_string_value(json_object_get(ev, "text")));
	json_t *first = json_array_get(json_object_get(ev, "values"), 0);
	assert_string_equal(json_string_value(json_object_get(first, "name")), "util_mean");
	assert_string_equal(json_string_value(json_object_get(first, "unit")), "ratio");
	assert_float_equal(json_number_value(json_object_get(first, "value")), 0.1, 1e-9);

	json_t *nj = json_object_get(doc, "not_judged");
	assert_int_equal(json_array_size(nj), r->nnot_judged);
	assert_true(json_array_size(nj) >= 2); /* bandwidth and compute need DRAM */
	assert_non_null(json_string_value(json_object_get(json_array_get(nj, 0), "reason")));

	json_t *gpu = json_array_get(json_object_get(doc, "gpus"), 0);
	assert_float_equal(json_number_value(json_object_get(gpu, "util_mean")), 0.1, 1e-9);
	assert_true(json_is_null(json_object_get(gpu, "energy_per_work_j")));
	assert_true(json_is_integer(json_object_get(gpu, "window_s")));
	json_decref(doc);
	free(text);
	analyze_result_free(r);
	synth_free(&s);
}

static void test_summary_line(void **state)
{
	struct synth s;
	synth_init(&s, 100, 1.0);
	synth_healthy(&s);
	synth_util(&s, 0.6);
	synth_set(&s, ANALYZE_SIG_POWER_W, 500);
	s.gpu.work_unit = "token";
	s.gpu.work_done = 99000;
	struct analyze_result *r = synth_run(&s, NULL);
	const struct analyze_gpu_summary *g = &r->summaries[0];
	assert_float_equal(g->util_mean, 0.6, 1e-12);
	assert_float_equal(g->waste_ratio, 0.4, 1e-12);
	assert_float_equal(g->waste_per_day, 0.4 * 3.5 * 24, 1e-9);
	assert_float_equal(g->waste_per_year, 0.4 * 3.5 * 24 * 365, 1e-6);
	assert_float_equal(g->util_per_watt, 0.6 / 500, 1e-12);
	/* The counter rose 550 J/s over 99 intervals. */
	assert_float_equal(g->energy_j, 550.0 * 99, 1e-6);
	assert_float_equal(g->energy_per_work_j, 550.0 * 99 / 99000, 1e-9);
	assert_non_null(strstr(g->line, "60% utilized, 40% waste = 33.60 USD/day"));
	assert_non_null(strstr(g->line, "J/token"));
	analyze_result_free(r);

	/* Without the counter, energy is mean power over the window. */
	synth_absent(&s, ANALYZE_SIG_ENERGY_J);
	r = synth_run(&s, NULL);
	assert_float_equal(r->summaries[0].energy_j, 500.0 * 100, 1e-6);
	analyze_result_free(r);
	synth_free(&s);
}

/* Property: a healthy busy GPU (SMs and tensor cores busy, no throttling,
 * memory 40-85 %, no errors) never gets a warning or critical verdict,
 * whatever the noise, the benign clock reasons or the gaps. */
static void test_healthy_gpu_never_warns(void **state)
{
	for (uint64_t seed = 1; seed <= 300; seed++) {
		uint64_t st = seed * 0x9E3779B97F4A7C15ULL;
		struct synth s;
		size_t n = 20 + (size_t)synth_uniform(&st, 0, 200);
		synth_init(&s, n, synth_uniform(&st, 0, 1) < 0.5 ? 1.0 : 0.1);
		synth_healthy(&s);
		/* Half the windows carry measured reason shares (the agent's
		 * history): a healthy GPU's are 0 but for a rare brief cap. */
		if (seed % 2) {
			synth_set(&s, ANALYZE_SIG_POWER_CAP_SHARE, 0);
			synth_set(&s, ANALYZE_SIG_SW_THERMAL_SHARE, 0);
			synth_set(&s, ANALYZE_SIG_HW_THERMAL_SHARE, 0);
			for (size_t i = 0; i < n; i++)
				if (synth_uniform(&st, 0, 1) < 0.02)
					s.sig[ANALYZE_SIG_POWER_CAP_SHARE][i] = 0.1;
		}
		double fb = synth_uniform(&st, 0.42, 0.83) * H200_TOTAL_BYTES;
		double pmem = fb - synth_uniform(&st, 1, 4) * GIB;
		double cap = 3.938e9 * 16, xids = floor(synth_uniform(&st, 0, 50));
		static const double benign[] = {0, 0, 0, ANALYZE_CLOCK_APP_SETTING,
		                                ANALYZE_CLOCK_SYNC_BOOST};
		for (size_t i = 0; i < n; i++) {
			s.sig[ANALYZE_SIG_GPU_UTIL][i] = synth_uniform(&st, 0.85, 1.0);
			s.sig[ANALYZE_SIG_SM_ACTIVE][i] = synth_uniform(&st, 0.8, 0.99);
			s.sig[ANALYZE_SIG_TENSOR_ACTIVE][i] = synth_uniform(&st, 0.5, 0.95);
			s.sig[ANALYZE_SIG_DRAM_ACTIVE][i] = synth_uniform(&st, 0.1, 0.55);
			s.sig[ANALYZE_SIG_FB_USED_BYTES][i] =
			    fb + synth_uniform(&st, -0.02, 0.02) * H200_TOTAL_BYTES;
			s.sig[ANALYZE_SIG_POWER_W][i] = synth_uniform(&st, 350, 690);
			s.sig[ANALYZE_SIG_POWER_MAX_W][i] =
			    s.sig[ANALYZE_SIG_POWER_W][i] + synth_uniform(&st, 0, 60);
			s.sig[ANALYZE_SIG_TEMP_C][i] = synth_uniform(&st, 35, 84);
			s.sig[ANALYZE_SIG_SM_CLOCK_HZ][i] = synth_uniform(&st, 1700e6, 1980e6);
			s.sig[ANALYZE_SIG_CLOCK_EVENT_REASONS][i] =
			    benign[(size_t)synth_uniform(&st, 0, 4.999)];
			s.sig[ANALYZE_SIG_PCIE_TX_BYTES_PER_S][i] =
			    synth_uniform(&st, 0, 0.2) * cap;
			s.sig[ANALYZE_SIG_PCIE_RX_BYTES_PER_S][i] =
			    synth_uniform(&st, 0, 0.2) * cap;
			s.sig[ANALYZE_SIG_XID_COUNT][i] = xids;
			s.proc_cpu[0][i] = synth_uniform(&st, 0.05, 0.85);
			s.proc_mem[0][i] = pmem + synth_uniform(&st, -200, 200) * MIB;
			/* A few gaps in any signal: absent, not zero. */
			if (synth_uniform(&st, 0, 1) < 0.05) {
				int sig = (int)synth_uniform(&st, 0, ANALYZE_SIG_COUNT - 0.001);
				if (s.sig[sig])
					s.sig[sig][i] = NAN;
			}
		}
		struct analyze_result *r = synth_run(&s, NULL);
		for (size_t i = 0; i < r->nverdicts; i++)
			if (r->verdicts[i].severity >= ANALYZE_SEVERITY_WARNING)
				fail_msg("seed %llu (n %zu): %s: %s", (unsigned long long)seed, n,
				         r->verdicts[i].id, r->verdicts[i].title);
		assert_non_null(analyze_find(r, ANALYZE_COMPUTE_BOUND, 0));
		analyze_result_free(r);
		synth_free(&s);
	}
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_set_by_name),
	    cmocka_unit_test(test_stats_skip_absent),
	    cmocka_unit_test(test_counter_increase),
	    cmocka_unit_test(test_least_squares),
	    cmocka_unit_test(test_model_tables),
	    cmocka_unit_test(test_config_defaults),
	    cmocka_unit_test(test_input_validation),
	    cmocka_unit_test(test_empty_window),
	    cmocka_unit_test(test_out_of_memory_everywhere),
	    cmocka_unit_test(test_json_document),
	    cmocka_unit_test(test_summary_line),
	    cmocka_unit_test(test_healthy_gpu_never_warns),
	};
	int failed = cmocka_run_group_tests_name("analyze.engine", tests, NULL, NULL);
	failed += analyze_verdict_tests();
	failed += analyze_boundary_tests();
	failed += analyze_trace_tests();
	failed += analyze_shape_tests();
	failed += analyze_comm_tests();
	return failed ? 1 : 0;
}
