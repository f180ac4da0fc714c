/* test_traces.c - the engine on real H200 telemetry (tests/fixtures, copied
 * from the shared traces): each load gets the verdict that names it, and
 * none gets a critical verdict it does not deserve.
 *
 * The traces are 8 s at 100 ms, the load starting in the first rows; the
 * engine sees them exactly as recorded, ramp-up rows and all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/analyze.h"
#include "analyze/tests/synth.h"
#include "analyze/tests/tests.h"

static struct analyze_result *run_trace(struct synth *s, const char *name)
{
	if (synth_load_trace(s, name) != 0)
		fail_msg("cannot load fixture %s from %s", name, ANALYZE_FIXTURES);
	assert_true(s->n > 50);
	struct analyze_result *r = synth_run(s, NULL);
	print_message("%s: %s\n", name, r->summaries[0].line);
	for (size_t i = 0; i < r->nverdicts; i++)
		print_message("  [%s] %s: %s\n", analyze_severity_name(r->verdicts[i].severity),
		              r->verdicts[i].id, r->verdicts[i].title);
	/* No Xid, ECC or remap columns: health is not judged, and says so. */
	assert_non_null(analyze_find_not_judged(r, ANALYZE_HARDWARE_HEALTH, 0));
	return r;
}

static const struct analyze_verdict *expect(const struct analyze_result *r, const char *id,
                                            enum analyze_severity sev)
{
	const struct analyze_verdict *v = analyze_find(r, id, 0);
	if (!v)
		fail_msg("expected verdict %s", id);
	assert_int_equal(v->severity, sev);
	return v;
}

static void test_trace_matmul(void **state)
{
	struct synth s;
	struct analyze_result *r = run_trace(&s, "h200-matmul.csv");
	const struct analyze_verdict *v = expect(r, ANALYZE_COMPUTE_BOUND, ANALYZE_SEVERITY_INFO);
	assert_true(analyze_evidence_value(v, "tensor_active_mean") > 0.9);
	v = expect(r, ANALYZE_POWER_CAPPED, ANALYZE_SEVERITY_WARNING);
	/* 1350-1515 of 1980 MHz under reason 0x4: about a quarter of the clock. */
	double loss = analyze_evidence_value(v, "clock_loss");
	assert_true(loss > 0.2 && loss < 0.3);
	assert_true(analyze_evidence_value(v, "sm_clock_mean") > 1400e6);
	assert_true(analyze_evidence_value(v, "sm_clock_mean") < 1600e6);
	assert_float_equal(analyze_evidence_value(v, "sm_clock_max"), 1980e6, 0);
	assert_float_equal(analyze_evidence_value(v, "reasons_seen"), ANALYZE_CLOCK_SW_POWER, 0);
	assert_null(analyze_find(r, ANALYZE_MEMORY_BW_BOUND, 0));
	assert_null(analyze_find(r, ANALYZE_IDLE, 0));
	assert_null(analyze_find(r, ANALYZE_CPU_BOUND_INPUT, 0));
	assert_int_equal(analyze_count_at_least(r, ANALYZE_SEVERITY_CRITICAL), 0);
	analyze_result_free(r);
	synth_free(&s);
}

static void test_trace_bandwidth(void **state)
{
	struct synth s;
	struct analyze_result *r = run_trace(&s, "h200-bandwidth.csv");
	const struct analyze_verdict *v =
	    expect(r, ANALYZE_MEMORY_BW_BOUND, ANALYZE_SEVERITY_WARNING);
	assert_true(analyze_evidence_value(v, "dram_active_mean") > 0.85);
	assert_true(analyze_evidence_value(v, "tensor_active_mean") < 0.01);
	assert_null(analyze_find(r, ANALYZE_COMPUTE_BOUND, 0));
	assert_null(analyze_find(r, ANALYZE_POWER_CAPPED, 0));
	assert_null(analyze_find(r, ANALYZE_IDLE, 0));
	assert_int_equal(analyze_count_at_least(r, ANALYZE_SEVERITY_CRITICAL), 0);
	analyze_result_free(r);
	synth_free(&s);
}

static void test_trace_idle(void **state)
{
	struct synth s;
	struct analyze_result *r = run_trace(&s, "h200-idle.csv");
	const struct analyze_verdict *v = expect(r, ANALYZE_IDLE, ANALYZE_SEVERITY_WARNING);
	assert_true(analyze_evidence_value(v, "util_mean") < 0.01);
	assert_true(analyze_evidence_value(v, "waste_per_day") > 0.99 * 3.5 * 24);
	/* 2 GiB held (2317 MiB with the context) of 141 GiB. */
	v = expect(r, ANALYZE_VRAM_OVERPROVISIONED, ANALYZE_SEVERITY_INFO);
	assert_float_equal(analyze_evidence_value(v, "peak_used"), 2317 * MIB, 0);
	assert_float_equal(analyze_evidence_value(v, "total"), H200_TOTAL_BYTES, 0);
	assert_true(analyze_evidence_value(v, "peak_ratio") < 0.02);
	assert_non_null(strstr(v->fix, "1g.18gb"));
	/* The child's CPU spikes at exit are brief: not a CPU-bound pipeline. */
	assert_null(analyze_find(r, ANALYZE_CPU_BOUND_INPUT, 0));
	assert_null(analyze_find(r, ANALYZE_MEMORY_GROWTH, 0));
	assert_null(analyze_find(r, ANALYZE_COMPUTE_BOUND, 0));
	assert_int_equal(analyze_count_at_least(r, ANALYZE_SEVERITY_CRITICAL), 0);
	analyze_result_free(r);
	synth_free(&s);
}

static void test_trace_leak(void **state)
{
	struct synth s;
	struct analyze_result *r = run_trace(&s, "h200-leak.csv");
	const struct analyze_verdict *v = analyze_find(r, ANALYZE_MEMORY_GROWTH, 0);
	assert_non_null(v);
	assert_int_equal(v->about.pid, 4242);
	/* 1 GiB every 0.5 s: about 2 GiB/s, a clean staircase. */
	double per_s = analyze_evidence_value(v, "slope") / 3600;
	assert_true(per_s > 1.7 * GIB && per_s < 2.3 * GIB);
	assert_true(analyze_evidence_value(v, "r2") > 0.95);
	/* About 122 GiB free at the end: out of memory in about a minute. */
	double tto = analyze_evidence_value(v, "time_to_oom");
	assert_true(tto > 45 && tto < 80);
	assert_non_null(strstr(v->title, "out of memory in"));
	/* An OOM a minute away is the one critical verdict, and a true one. */
	assert_int_equal(v->severity, ANALYZE_SEVERITY_CRITICAL);
	assert_int_equal(analyze_count_at_least(r, ANALYZE_SEVERITY_CRITICAL), 1);
	expect(r, ANALYZE_IDLE, ANALYZE_SEVERITY_WARNING);
	assert_null(analyze_find(r, ANALYZE_VRAM_PRESSURE, 0));
	/* 18 GiB and climbing is no size to fit a smaller GPU to. */
	assert_null(analyze_find(r, ANALYZE_VRAM_OVERPROVISIONED, 0));
	assert_non_null(analyze_find_not_judged(r, ANALYZE_VRAM_OVERPROVISIONED, 0));
	analyze_result_free(r);
	synth_free(&s);
}

/* The traces as a 4-GPU node, through the JSON document. */
static void test_traces_as_one_node_json(void **state)
{
	static const char *const names[] = {"h200-idle.csv", "h200-matmul.csv",
	                                    "h200-bandwidth.csv", "h200-leak.csv"};
	struct synth s[4];
	struct analyze_gpu_series gpus[4];
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(synth_load_trace(&s[i], names[i]), 0);
		gpus[i] = *synth_gpu(&s[i]);
	}
	struct analyze_input in = {.gpus = gpus, .ngpus = 4};
	struct analyze_result *r = NULL;
	assert_int_equal(analyze_run(&in, NULL, &r), 0);
	assert_non_null(analyze_find(r, ANALYZE_IDLE, 0));
	assert_non_null(analyze_find(r, ANALYZE_POWER_CAPPED, 1));
	assert_non_null(analyze_find(r, ANALYZE_MEMORY_BW_BOUND, 2));
	assert_non_null(analyze_find(r, ANALYZE_MEMORY_GROWTH, 3));
	char *text = analyze_result_json_text(r, 2);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"schema\": \"gpuscope.diagnosis/v1\""));
	assert_non_null(strstr(text, "\"id\": \"power_capped\""));
	assert_non_null(strstr(text, "\"pid\": 4242"));
	free(text);
	analyze_result_free(r);
	for (size_t i = 0; i < 4; i++)
		synth_free(&s[i]);
}

int analyze_trace_tests(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_trace_matmul),
	    cmocka_unit_test(test_trace_bandwidth),
	    cmocka_unit_test(test_trace_idle),
	    cmocka_unit_test(test_trace_leak),
	    cmocka_unit_test(test_traces_as_one_node_json),
	};
	return cmocka_run_group_tests_name("analyze.traces", tests, NULL, NULL);
}
