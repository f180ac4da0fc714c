/* test_comm.c - communication_bound on hand-made NCCL figures: where it fires (above the
 * threshold, tunable), what evidence it carries, which fix it picks, and when it is not
 * judged (no window, enqueue-only timing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "analyze/analyze.h"
#include "analyze/models.h"
#include "analyze/tests/tests.h"

/* A TP-2 rank on an H200 that spent `busy` of 10 s in AllReduces of `bytes` each. */
static struct analyze_comm_series comm(double busy, double bytes, double busbw)
{
	struct analyze_comm_series c = {.pid = 42,
	                                .gpu_index = -1,
	                                .window_s = 10,
	                                .busy_s = busy,
	                                .calls = 1000,
	                                .bytes_per_call = bytes,
	                                .busbw = busbw,
	                                .nranks = 2};
	strcpy(c.process, "python");
	strcpy(c.collective, "AllReduce");
	strcpy(c.timing, "gpu");
	c.link_bytes_per_s = analyze_nvlink_bytes_per_s("NVIDIA H200", NAN);
	return c;
}

static struct analyze_result *judge(const struct analyze_comm_series *c,
                                    const struct analyze_config *cfg)
{
	struct analyze_input in = {.comms = c, .ncomms = 1};
	struct analyze_result *r = NULL;
	assert_int_equal(analyze_run(&in, cfg, &r), 0);
	return r;
}

static const struct analyze_verdict *find(const struct analyze_result *r)
{
	return analyze_find(r, ANALYZE_COMMUNICATION_BOUND, -1);
}

static void test_fires_above_threshold_only(void **state)
{
	(void)state;
	struct analyze_comm_series below = comm(2.9, 64 << 20, 300e9);
	struct analyze_result *r = judge(&below, NULL);
	assert_null(find(r));
	analyze_result_free(r);

	struct analyze_comm_series above = comm(4.0, 64 << 20, 300e9);
	r = judge(&above, NULL);
	const struct analyze_verdict *v = find(r);
	assert_non_null(v);
	assert_int_equal(v->severity, ANALYZE_SEVERITY_WARNING);
	assert_int_equal(v->about.pid, 42);
	assert_string_equal(v->about.process, "python");
	assert_true(fabs(analyze_evidence_value(v, "comm_share") - 0.4) < 1e-12);
	assert_true(fabs(analyze_evidence_value(v, "bytes_per_call") - (64 << 20)) < 1e-6);
	/* an H200 has 18 NVLink 4 links of 25 GB/s each way: 450 GB/s */
	assert_true(fabs(analyze_evidence_value(v, "link_bandwidth") - 450e9) < 1);
	assert_true(fabs(analyze_evidence_value(v, "link_utilization") - 300.0 / 450) < 1e-12);
	assert_non_null(strstr(v->title, "40 %"));
	assert_non_null(strstr(v->title, "AllReduce"));
	assert_non_null(strstr(v->fix, "near its limit"));
	analyze_result_free(r);
}

static void test_threshold_is_tunable(void **state)
{
	(void)state;
	struct analyze_config cfg;
	analyze_config_default(&cfg);
	char err[200];
	assert_int_equal(analyze_config_set(&cfg, "comm_share_max=0.5", err, sizeof(err)), 0);
	struct analyze_comm_series c = comm(4.0, 64 << 20, 300e9);
	struct analyze_result *r = judge(&c, &cfg);
	assert_null(find(r));
	analyze_result_free(r);
	assert_int_equal(analyze_config_set(&cfg, "comm_share_max=0.2", err, sizeof(err)), 0);
	r = judge(&c, &cfg);
	assert_non_null(find(r));
	analyze_result_free(r);
	assert_int_equal(analyze_config_set(&cfg, "comm_share_max=2", err, sizeof(err)), -1);
}

static void test_fix_follows_the_cause(void **state)
{
	(void)state;
	struct analyze_comm_series small = comm(5, 64 << 10, 20e9);
	struct analyze_result *r = judge(&small, NULL);
	assert_non_null(strstr(find(r)->fix, "latency"));
	analyze_result_free(r);

	struct analyze_comm_series slow = comm(5, 256 << 20, 40e9); /* 9 % of NVLink: PCIe? */
	r = judge(&slow, NULL);
	assert_non_null(strstr(find(r)->fix, "NVLink"));
	assert_non_null(strstr(find(r)->fix, "topo"));
	analyze_result_free(r);

	struct analyze_comm_series unknown = comm(5, 256 << 20, NAN);
	unknown.link_bytes_per_s = analyze_nvlink_bytes_per_s("NVIDIA L40S", NAN);
	assert_true(isnan(unknown.link_bytes_per_s));
	r = judge(&unknown, NULL);
	const struct analyze_verdict *v = find(r);
	assert_true(isnan(analyze_evidence_value(v, "link_utilization")));
	assert_true(isnan(analyze_evidence_value(v, "bus_bandwidth")));
	assert_non_null(strstr(v->fix, "not known"));
	analyze_result_free(r);
}

static void test_not_judged(void **state)
{
	(void)state;
	struct analyze_comm_series enq = comm(9, 64 << 20, NAN);
	strcpy(enq.timing, "enqueue");
	struct analyze_result *r = judge(&enq, NULL);
	assert_null(find(r));
	const struct analyze_not_judged *nj =
	    analyze_find_not_judged(r, ANALYZE_COMMUNICATION_BOUND, -1);
	assert_non_null(nj);
	assert_non_null(strstr(nj->reason, "enqueued"));
	analyze_result_free(r);

	struct analyze_comm_series none = comm(0, 0, NAN);
	none.window_s = 0;
	r = judge(&none, NULL);
	assert_non_null(analyze_find_not_judged(r, ANALYZE_COMMUNICATION_BOUND, -1));
	analyze_result_free(r);

	struct analyze_input bad = {.comms = NULL, .ncomms = 1};
	assert_int_equal(analyze_run(&bad, NULL, &r), -1);
}

static void test_gpu_subject(void **state)
{
	(void)state;
	double util[3] = {1, 1, 1};
	struct analyze_gpu_series g = {
	    .uuid = "GPU-abc", .model = "NVIDIA H200", .step = 1, .n = 3};
	g.sig[ANALYZE_SIG_GPU_UTIL] = util;
	struct analyze_comm_series c = comm(6, 64 << 20, 300e9);
	c.gpu_index = 0;
	struct analyze_input in = {.gpus = &g, .ngpus = 1, .comms = &c, .ncomms = 1};
	struct analyze_result *r = NULL;
	assert_int_equal(analyze_run(&in, NULL, &r), 0);
	const struct analyze_verdict *v = analyze_find(r, ANALYZE_COMMUNICATION_BOUND, 0);
	assert_non_null(v);
	assert_string_equal(v->about.uuid, "GPU-abc");
	analyze_result_free(r);
	/* by UUID, as the agent knows it from the GPU's process list */
	c.gpu_index = -1;
	strcpy(c.gpu_uuid, "GPU-abc");
	assert_int_equal(analyze_run(&in, NULL, &r), 0);
	assert_non_null(analyze_find(r, ANALYZE_COMMUNICATION_BOUND, 0));
	analyze_result_free(r);
}

int analyze_comm_tests(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fires_above_threshold_only),
	    cmocka_unit_test(test_threshold_is_tunable),
	    cmocka_unit_test(test_fix_follows_the_cause),
	    cmocka_unit_test(test_not_judged),
	    cmocka_unit_test(test_gpu_subject),
	};
	return cmocka_run_group_tests_name("analyze.communication", tests, NULL, NULL);
}
