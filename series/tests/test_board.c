/* test_board.c - the board: what a publish takes, keeps and withdraws, what a snapshot
 * judges, and what the window ring is fed. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "nvml/nvml_abi.h"
#include "series/board.h"

static int setup(void **state)
{
	struct board *b = test_calloc(1, sizeof(*b));
	assert_int_equal(board_init(b, 2, 0.1, 5, 60), 0);
	*state = b;
	return 0;
}

static int teardown(void **state)
{
	board_free(*state);
	test_free(*state);
	return 0;
}

/* Appends a read of src that returned rc. */
static void read_of(struct board_reads *r, enum source_id src, int rc, double period)
{
	r->src[r->n] = (unsigned char)src;
	r->rc[r->n] = rc;
	r->period[r->n] = period;
	r->stretch[r->n++] = 1;
}

static void set(struct board_reads *r, double *raw, enum metric_id m, double v)
{
	raw[m] = v;
	metric_set_add(&r->got, m);
}

static void publish_keeps_what_was_not_read(void **state)
{
	struct board *b = *state;
	double raw[METRIC_COUNT];
	struct board_reads r = {.tier = TIER_FAST, .raw = raw};
	read_of(&r, SRC_POWER, 0, 0.1);
	read_of(&r, SRC_MEMORY, 0, 0.2);
	set(&r, raw, METRIC_POWER, 250000);
	set(&r, raw, METRIC_FB_USED, 7);
	set(&r, raw, METRIC_FB_TOTAL, 9);
	board_publish_reads(b, 0, &r);

	struct board_reads r2 = {.tier = TIER_FAST, .raw = raw};
	read_of(&r2, SRC_POWER, 0, 0.1);
	set(&r2, raw, METRIC_POWER, 260000);
	board_publish_reads(b, 0, &r2);
	double v;
	assert_true(board_read_value(b, 0, METRIC_POWER, &v) && v == 260000);
	assert_true(board_read_value(b, 0, METRIC_FB_USED, &v) && v == 7); /* kept */
	assert_false(board_read_value(b, 1, METRIC_POWER, &v));            /* other GPU */
}

static void read_without_a_figure_or_failed_withdraws_it(void **state)
{
	struct board *b = *state;
	double raw[METRIC_COUNT];
	struct board_reads r = {.tier = TIER_FAST, .raw = raw};
	read_of(&r, SRC_MEMORY, 0, 0.2);
	set(&r, raw, METRIC_FB_USED, 7);
	set(&r, raw, METRIC_FB_RESERVED, 1);
	board_publish_reads(b, 0, &r);
	/* Read again without the reserved figure (v1 answered): that one goes. */
	struct board_reads r2 = {.tier = TIER_FAST, .raw = raw};
	read_of(&r2, SRC_MEMORY, 0, 0.2);
	set(&r2, raw, METRIC_FB_USED, 8);
	board_publish_reads(b, 0, &r2);
	double v;
	assert_true(board_read_value(b, 0, METRIC_FB_USED, &v) && v == 8);
	assert_false(board_read_value(b, 0, METRIC_FB_RESERVED, &v));
	/* Failed: all its metrics go, and the failure is named for doctor and the API. */
	struct board_reads r3 = {.tier = TIER_FAST, .raw = raw};
	read_of(&r3, SRC_MEMORY, NVML_ERROR_TIMEOUT, 0.2);
	board_publish_reads(b, 0, &r3);
	assert_false(board_read_value(b, 0, METRIC_FB_USED, &v));
	struct board_snapshot snap;
	assert_int_equal(board_snapshot(b, &snap), 0);
	metric_set_add(&snap.gpus[0].supported, METRIC_FB_USED);
	char why[256];
	assert_true(
	    gpu_record_failing(&snap.gpus[0], METRIC_FB_USED, snap.taken, why, sizeof(why)));
	assert_non_null(strstr(why, "nvmlDeviceGetMemoryInfo_v2"));
	board_snapshot_free(&snap);
}

/* The old entry point takes values and withdraws nothing. */
static void plain_publish_withdraws_nothing(void **state)
{
	struct board *b = *state;
	double raw[METRIC_COUNT];
	metric_set got = {{0}};
	raw[METRIC_POWER] = 1;
	metric_set_add(&got, METRIC_POWER);
	board_publish(b, 0, TIER_FAST, raw, &got);
	metric_set none = {{0}};
	board_publish(b, 0, TIER_FAST, raw, &none);
	double v;
	assert_true(board_read_value(b, 0, METRIC_POWER, &v) && v == 1);
}

/* Each fast publish feeds every current fast value to the window, kept ones included. */
static void fast_publish_feeds_kept_values_to_the_window(void **state)
{
	struct board *b = *state;
	double raw[METRIC_COUNT];
	int64_t sec;
	do {
		sec = (int64_t)floor(wall_now());
		struct board_reads r = {.tier = TIER_FAST, .raw = raw};
		read_of(&r, SRC_MEMORY, 0, 0.2);
		set(&r, raw, METRIC_FB_USED, 100);
		board_publish_reads(b, 0, &r);
		struct board_reads r2 = {.tier = TIER_FAST, .raw = raw}; /* memory not read */
		board_publish_reads(b, 0, &r2);
		struct board_reads r3 = {.tier = TIER_SLOW, .raw = raw}; /* not a fast step */
		board_publish_reads(b, 0, &r3);
	} while ((int64_t)floor(wall_now()) != sec);
	struct window_agg agg[METRIC_COUNT];
	board_window(b, 0, sec, sec, agg);
	assert_int_equal(agg[METRIC_FB_USED].n, 2);
	assert_true(agg[METRIC_FB_USED].max == 100);
}

/* MIG instances follow the same rules, for their own rows only. */
static void mig_publish_keeps_and_withdraws(void **state)
{
	struct board *b = *state;
	struct mig_record rec[2];
	memset(rec, 0, sizeof(rec));
	rec[0].gi = 1;
	rec[1].gi = 2;
	board_set_mig(b, 0, 2, rec);
	double raw[METRIC_COUNT];
	struct board_reads r = {.tier = TIER_FAST, .raw = raw};
	read_of(&r, SRC_MEMORY, 0, 0.2);
	read_of(&r, SRC_GPM, 0, 1);
	set(&r, raw, METRIC_FB_USED, 5);
	set(&r, raw, METRIC_GPM_SM_ACTIVE, 40);
	set(&r, raw, METRIC_POWER, 1); /* not a per-instance row: ignored */
	board_publish_mig(b, 0, 0, &r);
	struct board_reads r2 = {.tier = TIER_FAST, .raw = raw};
	read_of(&r2, SRC_GPM, NVML_ERROR_UNKNOWN, 1);
	board_publish_mig(b, 0, 0, &r2);
	struct board_snapshot snap;
	assert_int_equal(board_snapshot(b, &snap), 0);
	const struct mig_record *m = &snap.gpus[0].mig[0];
	assert_true(metric_set_has(&m->valid, METRIC_FB_USED) && m->raw[METRIC_FB_USED] == 5);
	assert_false(metric_set_has(&m->valid, METRIC_GPM_SM_ACTIVE));
	assert_false(metric_set_has(&m->valid, METRIC_POWER));
	assert_false(metric_set_has(&snap.gpus[0].mig[1].valid, METRIC_FB_USED));
	board_snapshot_free(&snap);
}

/* A tier the sampler does not read for a GPU is never judged stalled; one it reads is. */
static void only_read_tiers_are_judged(void **state)
{
	struct board *b = *state;
	struct source_status st[SRC_COUNT];
	memset(st, 0, sizeof(st));
	metric_set none = {{0}};
	board_set_probe(b, 0, st, &none, &none, 1u << TIER_FAST | 1u << TIER_SLOW);
	board_set_health(b, 0, GPU_OK, "");
	struct board_snapshot snap;
	assert_int_equal(board_snapshot(b, &snap), 0);
	struct gpu_record g = snap.gpus[0];
	g.published[TIER_FAST] = g.published[TIER_SLOW] = snap.taken + 100;
	board_judge(b, &g, snap.taken + 100); /* no buffer or costly read in 100 s: fine */
	assert_int_equal(g.health, GPU_OK);
	g = snap.gpus[0];
	g.published[TIER_FAST] = snap.taken + 100;
	board_judge(b, &g, snap.taken + 100); /* the slow tier missed 3 intervals */
	assert_int_equal(g.health, GPU_STALLED);
	assert_non_null(strstr(g.health_reason, "slow tier"));
	board_snapshot_free(&snap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(publish_keeps_what_was_not_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(read_without_a_figure_or_failed_withdraws_it, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(plain_publish_withdraws_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(fast_publish_feeds_kept_values_to_the_window, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(mig_publish_keeps_and_withdraws, setup, teardown),
	    cmocka_unit_test_setup_teardown(only_read_tiers_are_judged, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
