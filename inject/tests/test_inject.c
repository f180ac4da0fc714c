/* test_inject.c - the pure parts of per-inference telemetry: segmentation and figures
 * (inject/segment.c), record decoding (inject/records.c), the agent's message parser
 * (series/inference.c) and the summary's verdicts (inference/run_summary.c).  The whole path
 * through a fake libcupti is tests/integration/test_inject.py. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "inference/run_summary.h"
#include "inject/cupti_abi.h"
#include "inject/records.h"
#include "inject/segment.h"
#include "series/inference.h"

#define US 1000ull

struct cuts {
	struct seg_inference inf[16];
	int n;
};

static void collect(const struct seg_inference *inf, void *arg)
{
	struct cuts *c = arg;
	if (c->n < 16)
		c->inf[c->n++] = *inf;
}

static void ev(struct segmenter *s, enum seg_kind k, uint64_t start_us, uint64_t dur_us,
               uint64_t bytes)
{
	struct seg_event e = {.start = start_us * US,
	                      .end = (start_us + dur_us) * US,
	                      .bytes = bytes,
	                      .kind = (uint8_t)k};
	seg_add_event(s, &e);
}

static void kernels_union_gaps_and_arrival_order(void **state)
{
	(void)state;
	struct segmenter s;
	struct cuts c = {0};
	assert_int_equal(seg_init(&s, "*", 2000 * US, collect, &c), 0);
	/* Out of order, overlapping: 100-200, 150-250 overlap; 400-500 after a 150 us gap. */
	ev(&s, SEG_KERNEL, 400, 100, 0);
	ev(&s, SEG_KERNEL, 150, 100, 0);
	seg_range_start(&s, 7, 1, 50 * US, "infer");
	ev(&s, SEG_KERNEL, 100, 100, 0);
	seg_range_end(&s, 7, 600 * US);
	seg_advance(&s, UINT64_MAX, true);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.inf[0].kernels, 3);
	assert_int_equal(c.inf[0].gpu_busy, 250 * US);
	assert_int_equal(c.inf[0].kernel_time, 300 * US);
	assert_int_equal(c.inf[0].launch_gaps, 1);
	assert_int_equal(c.inf[0].launch_gap_time, 150 * US);
	assert_int_equal(c.inf[0].end - c.inf[0].start, 550 * US);
	assert_true(c.inf[0].complete && c.inf[0].nvtx);
	seg_free(&s);
}

static void horizon_cuts_once_and_late_records_do_not_reopen(void **state)
{
	(void)state;
	struct segmenter s;
	struct cuts c = {0};
	seg_init(&s, "infer", 2000 * US, collect, &c);
	seg_range_start(&s, 1, 1, 1000 * US, "infer");
	ev(&s, SEG_KERNEL, 1100, 100, 0);
	seg_range_end(&s, 1, 1300 * US);
	seg_advance(&s, 1350 * US, false); /* spill could still arrive */
	assert_int_equal(c.n, 0);
	seg_advance(&s, 5000 * US, false);
	assert_int_equal(c.n, 1);
	seg_advance(&s, 6000 * US, false);
	assert_int_equal(c.n, 1);
	/* A record from inside the cut inference arriving late is outside everything now. */
	ev(&s, SEG_KERNEL, 1150, 10, 0);
	seg_advance(&s, UINT64_MAX, true);
	assert_int_equal(c.n, 1);
	assert_int_equal(s.nev, 0);
	seg_free(&s);
}

static void ranges_that_do_not_count(void **state)
{
	(void)state;
	struct segmenter s;
	struct cuts c = {0};
	seg_init(&s, "req*", 2000 * US, collect, &c);
	seg_range_end(&s, 9, 10 * US);                 /* an end without a start */
	seg_range_start(&s, 1, 1, 100 * US, "warmup"); /* not matching */
	seg_range_start(&s, 2, 1, 200 * US, NULL);     /* no name */
	seg_range_start(&s, 3, 1, 300 * US, "request");
	seg_range_start(&s, 4, 1, 310 * US, "request-inner"); /* nested: part of 3 */
	ev(&s, SEG_KERNEL, 320, 10, 0);
	seg_range_end(&s, 4, 340 * US);
	ev(&s, SEG_KERNEL, 350, 10, 0);
	seg_range_end(&s, 3, 400 * US);
	seg_advance(&s, UINT64_MAX, true);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.inf[0].name, "request");
	assert_int_equal(c.inf[0].kernels, 2);
	seg_free(&s);
}

static void memory_before_inside_and_after(void **state)
{
	(void)state;
	struct segmenter s;
	struct cuts c = {0};
	seg_init(&s, "*", 2000 * US, collect, &c);
	ev(&s, SEG_ALLOC, 10, 0, 100);
	seg_range_start(&s, 1, 1, 100 * US, "i");
	ev(&s, SEG_ALLOC, 110, 0, 50);
	ev(&s, SEG_FREE, 120, 0, 50);
	ev(&s, SEG_ALLOC, 130, 0, 20);
	seg_range_end(&s, 1, 200 * US);
	ev(&s, SEG_FREE, 300, 0, 500); /* more than held: clamps at zero */
	seg_range_start(&s, 2, 1, 400 * US, "i");
	seg_range_end(&s, 2, 500 * US);
	seg_advance(&s, UINT64_MAX, true);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.inf[0].mem_alloc, 70);
	assert_int_equal(c.inf[0].mem_freed, 50);
	assert_int_equal(c.inf[0].mem_peak, 150);
	assert_int_equal(c.inf[0].mem_held_after, 120);
	assert_int_equal(c.inf[1].mem_peak, 0);
	assert_int_equal(c.inf[1].since_previous, 200 * US);
	seg_free(&s);
}

static void gap_mode_then_ranges_take_over(void **state)
{
	(void)state;
	struct segmenter s;
	struct cuts c = {0};
	seg_init(&s, "infer", 1000 * US, collect, &c);
	ev(&s, SEG_KERNEL, 0, 100, 0);
	ev(&s, SEG_H2D, 500, 100, 64);
	ev(&s, SEG_KERNEL, 5000, 100, 0);
	seg_advance(&s, 20000 * US, false);
	assert_int_equal(c.n, 2);
	assert_false(c.inf[0].nvtx);
	assert_int_equal(c.inf[0].h2d_bytes, 64);
	assert_int_equal(c.inf[0].end - c.inf[0].start, 600 * US);
	seg_range_start(&s, 1, 1, 30000 * US, "infer");
	ev(&s, SEG_KERNEL, 30010, 10, 0);
	ev(&s, SEG_KERNEL, 32000, 10, 0); /* after the range, idle before: nobody's */
	seg_range_end(&s, 1, 30100 * US);
	seg_advance(&s, UINT64_MAX, true);
	assert_int_equal(c.n, 3);
	assert_true(c.inf[2].nvtx);
	assert_int_equal(c.inf[2].kernels, 1);
	seg_free(&s);
}

static void exit_inside_an_inference(void **state)
{
	(void)state;
	struct segmenter s;
	struct cuts c = {0};
	seg_init(&s, "*", 2000 * US, collect, &c);
	seg_range_start(&s, 1, 1, 100 * US, "i");
	ev(&s, SEG_KERNEL, 150, 300, 0);
	seg_advance(&s, UINT64_MAX, true);
	assert_int_equal(c.n, 1);
	assert_false(c.inf[0].complete);
	assert_int_equal(c.inf[0].end - c.inf[0].start, 350 * US);
	seg_free(&s);
}

static void pending_events_are_capped_and_counted(void **state)
{
	(void)state;
	struct segmenter s;
	seg_init(&s, "", 2000 * US, NULL, NULL);
	for (uint64_t i = 0; i < SEG_EVENTS_MAX + 10; i++)
		ev(&s, SEG_KERNEL, i, 1, 0);
	assert_int_equal(s.lost_events, 10);
	assert_int_equal(s.nev, SEG_EVENTS_MAX);
	seg_free(&s);
}

/* A range (or a busy period) that lasts long holds only the events newer than the horizon:
 * older ones are folded into the inference being cut. */
static void long_inferences_hold_bounded_events(void **state)
{
	(void)state;
	for (int gap_mode = 0; gap_mode < 2; gap_mode++) {
		struct segmenter s;
		struct cuts c = {0};
		seg_init(&s, gap_mode ? "" : "*", 2000 * US, collect, &c);
		if (!gap_mode)
			seg_range_start(&s, 1, 1, 0, "serve");
		size_t most = 0;
		for (uint64_t k = 0; k < 100; k++) {
			for (uint64_t j = 0; j < 100; j++)
				ev(&s, SEG_KERNEL, k * 10000 + j * 100, 10, 0);
			seg_advance(&s, k * 10000 * US, false);
			most = s.nev > most ? s.nev : most;
		}
		assert_true(most <= 200);
		assert_int_equal(c.n, 0);
		if (!gap_mode)
			seg_range_end(&s, 1, 1000000 * US);
		seg_advance(&s, UINT64_MAX, true);
		assert_int_equal(c.n, 1);
		assert_int_equal(c.inf[0].kernels, 10000);
		assert_int_equal(c.inf[0].gpu_busy, 10000 * 10 * US);
		assert_int_equal(c.inf[0].launch_gaps, 9999);
		seg_free(&s);
	}
}

static void records_by_offset(void **state)
{
	(void)state;
	uint8_t r[256];
	struct rec_decoded d;
	uint32_t kind = CUPTI_KIND_MEMCPY;
	uint64_t v;
	memset(r, 0, sizeof(r));
	memcpy(r, &kind, 4);
	r[CUPTI_MEMCPY_COPYKIND] = CUPTI_COPY_DTOH;
	r[CUPTI_MEMCPY_DSTKIND] = CUPTI_MEMKIND_PAGEABLE;
	v = 4096;
	memcpy(r + CUPTI_MEMCPY_BYTES, &v, 8);
	v = 7;
	memcpy(r + CUPTI_MEMCPY_START, &v, 8);
	v = 9;
	memcpy(r + CUPTI_MEMCPY_END, &v, 8);
	assert_int_equal(rec_decode(r, CUPTI_MEMCPY_MIN, &d), REC_EVENT);
	assert_int_equal(d.ev.kind, SEG_D2H);
	assert_true(d.ev.pageable);
	assert_int_equal(d.ev.bytes, 4096);
	assert_int_equal(d.ev.end - d.ev.start, 2);
	assert_int_equal(rec_decode(r, CUPTI_MEMCPY_MIN - 1, &d), REC_IGNORE); /* truncated */

	kind = CUPTI_KIND_MEMORY2;
	memset(r, 0, sizeof(r));
	memcpy(r, &kind, 4);
	uint32_t op = CUPTI_MEMOP_ALLOCATION, mk = CUPTI_MEMKIND_PINNED;
	memcpy(r + CUPTI_MEMORY_OPTYPE, &op, 4);
	memcpy(r + CUPTI_MEMORY_MEMKIND, &mk, 4);
	assert_int_equal(rec_decode(r, 128, &d), REC_IGNORE); /* host memory is not ours */
	mk = CUPTI_MEMKIND_DEVICE;
	memcpy(r + CUPTI_MEMORY_MEMKIND, &mk, 4);
	assert_int_equal(rec_decode(r, 128, &d), REC_EVENT);
	assert_int_equal(d.ev.kind, SEG_ALLOC);

	kind = CUPTI_KIND_MARKER;
	memset(r, 0, sizeof(r));
	memcpy(r, &kind, 4);
	uint32_t flags = CUPTI_MARKER_INSTANTANEOUS;
	memcpy(r + CUPTI_MARKER_FLAGS, &flags, 4);
	assert_int_equal(rec_decode(r, 64, &d), REC_IGNORE);
	kind = 3; /* KIND_KERNEL: never enabled, never read */
	memcpy(r, &kind, 4);
	assert_int_equal(rec_decode(r, 256, &d), REC_IGNORE);
}

static void agent_message_parser(void **state)
{
	(void)state;
	struct inference_msg m;
	const char *ok = "{\"type\":\"inference\",\"pid\":5,\"process\":\"python3\",\"range\":"
	                 "\"infer\",\"complete\":false,\"latency_s\":0.5,\"kernels\":3}";
	assert_int_equal(inference_msg_parse(ok, strlen(ok), &m), 0);
	assert_string_equal(m.range, "infer");
	assert_false(m.complete);
	assert_true(m.latency_s == 0.5 && m.kernels == 3);
	assert_true(isnan(m.energy_j));
	const char *bad[] = {"",
	                     "[]",
	                     "{\"type\":\"status\",\"latency_s\":1}",
	                     "{\"type\":\"inference\"}",
	                     "{\"type\":\"inference\",\"latency_s\":-1}",
	                     "{\"type\":"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(inference_msg_parse(bad[i], strlen(bad[i]), &m), -1);
}

static struct run_inference inf_of(double lat, double busy, double kernels, double kmean,
                                   double gaps, double copy_s, double before, double held)
{
	struct run_inference r;
	for (int f = 0; f < RUN_FIG_COUNT; f++)
		r.v[f] = NAN;
	r.v[RUN_FIG_latency_s] = lat;
	r.v[RUN_FIG_gpu_busy_s] = busy;
	r.v[RUN_FIG_kernels] = kernels;
	r.v[RUN_FIG_kernel_mean_s] = kmean;
	r.v[RUN_FIG_launch_gap_s] = gaps;
	r.v[RUN_FIG_h2d_s] = copy_s;
	r.v[RUN_FIG_d2h_s] = 0;
	r.v[RUN_FIG_since_previous_s] = before;
	r.v[RUN_FIG_mem_held_after_bytes] = held;
	r.pid = 1;
	return r;
}

static void verdict_thresholds(void **state)
{
	(void)state;
	struct run_inference v[8];
	struct run_group g = {.inf = v, .n = 8};
	/* Copy-heavy with many short kernels back to back: not launch-bound, PCIe-bound. */
	for (int i = 0; i < 8; i++)
		v[i] = inf_of(4e-3, 1.6e-3, 50, 33e-6, 75e-6, 2e-3, 1e-4, 1e8);
	assert_int_equal(run_group_verdicts(&g), RUN_VERDICT_PCIE_BOUND);
	/* Idle between tiny kernels longer than they run: launch-bound. */
	for (int i = 0; i < 8; i++)
		v[i] = inf_of(2e-3, 2e-4, 200, 1e-6, 1.5e-3, 0, 1e-4, 1e8);
	assert_int_equal(run_group_verdicts(&g), RUN_VERDICT_LAUNCH_BOUND);
	/* Waiting 3 ms between 1 ms inferences, memory held growing by 4 MiB each. */
	for (int i = 0; i < 8; i++)
		v[i] = inf_of(1e-3, 9e-4, 5, 1.8e-4, 0, 0, 3e-3, (i + 1) * 4194304.0);
	assert_int_equal(run_group_verdicts(&g),
	                 RUN_VERDICT_HOST_BOUND | RUN_VERDICT_MEMORY_GROWING);
	/* The same numbers from two processes, each steady: not growth. */
	for (int i = 0; i < 8; i++) {
		v[i] = inf_of(1e-3, 9e-4, 5, 1.8e-4, 0, 0, 1e-4, i < 4 ? 1e8 : 3e8);
		v[i].pid = i < 4 ? 100 : 200;
	}
	assert_int_equal(run_group_verdicts(&g), 0);
	/* A compute-bound loop: nothing. */
	for (int i = 0; i < 8; i++)
		v[i] = inf_of(16e-3, 15.9e-3, 10, 1.6e-3, 3e-5, 0, 1e-4, 5e8);
	assert_int_equal(run_group_verdicts(&g), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(kernels_union_gaps_and_arrival_order),
	    cmocka_unit_test(horizon_cuts_once_and_late_records_do_not_reopen),
	    cmocka_unit_test(ranges_that_do_not_count),
	    cmocka_unit_test(memory_before_inside_and_after),
	    cmocka_unit_test(gap_mode_then_ranges_take_over),
	    cmocka_unit_test(exit_inside_an_inference),
	    cmocka_unit_test(pending_events_are_capped_and_counted),
	    cmocka_unit_test(long_inferences_hold_bounded_events),
	    cmocka_unit_test(records_by_offset),
	    cmocka_unit_test(agent_message_parser),
	    cmocka_unit_test(verdict_thresholds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
