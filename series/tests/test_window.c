/* test_window.c - the per-second ring behind scrape windows (series/window.h): what a
 * reading is folded into, which seconds an aggregate covers, what is ignored, and what the
 * ring forgets once a second comes round again.  Metrics are picked from the table by
 * metric_windowed(), so the test follows the table. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "series/window.h"

/* An arbitrary recent second, so ring slots and seconds do not coincide. */
#define T0 1767225600

/* The i-th windowed metric of the table (i = 0, 1). */
static int windowed(int i)
{
	for (int m = 0; m < METRIC_COUNT; m++)
		if (metric_windowed(m) && i-- == 0)
			return m;
	fail_msg("the metric table has fewer than two windowed metrics");
	return -1;
}

static int unwindowed(void)
{
	for (int m = 0; m < METRIC_COUNT; m++)
		if (!metric_windowed(m))
			return m;
	fail_msg("every metric of the table is windowed");
	return -1;
}

static int setup(void **state)
{
	*state = window_new();
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	window_free(*state);
	return 0;
}

static struct window_agg agg_of(const struct gpu_window *w, int m, int64_t from, int64_t to)
{
	struct window_agg out[METRIC_COUNT];
	window_aggregate(w, from, to, out);
	return out[m];
}

static void assert_agg(struct window_agg a, double min, double max, double sum, unsigned n)
{
	assert_int_equal(a.n, n);
	assert_true(a.min == min);
	assert_true(a.max == max);
	assert_true(a.sum == sum);
}

static void assert_nothing_in(const struct gpu_window *w, int64_t from, int64_t to)
{
	struct window_agg out[METRIC_COUNT];
	window_aggregate(w, from, to, out);
	for (int m = 0; m < METRIC_COUNT; m++)
		assert_int_equal(out[m].n, 0);
}

static void readings_fold_into_their_wall_clock_second(void **state)
{
	struct gpu_window *w = *state;
	int m = windowed(0), other = windowed(1);
	window_add(w, m, T0 + 0.1, 5);
	window_add(w, m, T0 + 0.5, 1);
	window_add(w, m, T0 + 0.999, 9);
	window_add(w, m, T0 + 1.0, 4); /* the next second, not this one */
	window_add(w, other, T0 + 0.2, -3);

	assert_agg(agg_of(w, m, T0, T0), 1, 9, 15, 3);
	assert_agg(agg_of(w, m, T0 + 1, T0 + 1), 4, 4, 4, 1);
	assert_agg(agg_of(w, m, T0, T0 + 1), 1, 9, 19, 4);
	/* Each metric keeps its own cells. */
	assert_agg(agg_of(w, other, T0, T0 + 1), -3, -3, -3, 1);
}

static void an_aggregate_covers_exactly_from_to_inclusive(void **state)
{
	struct gpu_window *w = *state;
	int m = windowed(0);
	for (int64_t s = T0 - 2; s <= T0 + 2; s++)
		window_add(w, m, (double)s + 0.5, (double)(s - T0));

	assert_agg(agg_of(w, m, T0 - 1, T0 + 1), -1, 1, 0, 3);
	assert_agg(agg_of(w, m, T0 + 2, T0 + 2), 2, 2, 2, 1);
	assert_agg(agg_of(w, m, T0 - 2, T0 + 2), -2, 2, 0, 5);
	/* Seconds with no reading, and an empty or reversed range, count nothing. */
	assert_nothing_in(w, T0 + 3, T0 + 60);
	assert_nothing_in(w, T0 + 1, T0);
}

static void unwindowed_metrics_and_non_finite_readings_are_ignored(void **state)
{
	struct gpu_window *w = *state;
	int m = windowed(0);
	window_add(w, unwindowed(), T0 + 0.5, 7);
	window_add(w, m, T0 + 0.5, NAN);
	window_add(w, m, T0 + 0.5, INFINITY);
	window_add(w, m, T0 + 0.5, -INFINITY);
	window_add(w, m, NAN, 7);
	window_add(w, m, INFINITY, 7);
	assert_nothing_in(w, T0 - 5, T0 + 5);

	/* A NULL ring (the GPU's allocation failed) reads as empty and takes nothing. */
	window_add(NULL, m, T0 + 0.5, 7);
	struct window_agg out[METRIC_COUNT];
	out[m].n = 99;
	window_aggregate(NULL, T0, T0, out);
	assert_int_equal(out[m].n, 0);
}

static void the_ring_keeps_window_seconds_and_forgets_the_oldest(void **state)
{
	struct gpu_window *w = *state;
	int m = windowed(0);
	for (int64_t s = T0; s < T0 + WINDOW_SECONDS; s++)
		window_add(w, m, (double)s, 100);
	assert_agg(agg_of(w, m, T0, T0 + WINDOW_SECONDS - 1), 100, 100, 100.0 * WINDOW_SECONDS,
	           WINDOW_SECONDS);

	/* One more second takes the oldest one's slot: its own values only. */
	window_add(w, m, (double)(T0 + WINDOW_SECONDS), 7);
	assert_agg(agg_of(w, m, T0 + WINDOW_SECONDS, T0 + WINDOW_SECONDS), 7, 7, 7, 1);
	assert_nothing_in(w, T0, T0);
	assert_agg(agg_of(w, m, T0 + 1, T0 + WINDOW_SECONDS), 7, 100,
	           100.0 * (WINDOW_SECONDS - 1) + 7, WINDOW_SECONDS);

	/* A late reading for the forgotten second is too old: dropped, not mixed in. */
	window_add(w, m, T0 + 0.5, -1000);
	assert_nothing_in(w, T0, T0);
	assert_agg(agg_of(w, m, T0 + WINDOW_SECONDS, T0 + WINDOW_SECONDS), 7, 7, 7, 1);
}

static void a_longer_range_reads_only_the_newest_window_seconds(void **state)
{
	struct gpu_window *w = *state;
	int m = windowed(0);
	for (int64_t s = T0; s < T0 + 2 * WINDOW_SECONDS; s++)
		window_add(w, m, (double)s, (double)(s - T0));
	/* From the epoch: the newest WINDOW_SECONDS seconds, each once, and at once (a walk
	 * over every second since 1970 takes minutes: past the test's TIMEOUT). */
	int64_t newest = T0 + 2 * WINDOW_SECONDS - 1;
	struct window_agg a = agg_of(w, m, 0, newest);
	assert_int_equal(a.n, WINDOW_SECONDS);
	assert_true(a.min == WINDOW_SECONDS);
	assert_true(a.max == 2 * WINDOW_SECONDS - 1);
	/* A range past the newest reading clips to the ring before it: older seconds are not
	 * reached through it. */
	a = agg_of(w, m, 0, newest + 10);
	assert_int_equal(a.n, WINDOW_SECONDS - 10);
	assert_true(a.min == WINDOW_SECONDS + 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(readings_fold_into_their_wall_clock_second, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(an_aggregate_covers_exactly_from_to_inclusive, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(unwindowed_metrics_and_non_finite_readings_are_ignored,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(the_ring_keeps_window_seconds_and_forgets_the_oldest,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(a_longer_range_reads_only_the_newest_window_seconds,
	                                    setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
