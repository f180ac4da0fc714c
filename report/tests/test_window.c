/* test_window.c - the one window policy of report, query, /api/v1/series and the live
 * diagnosis (report/window.h): the options' window as of now, a clear refusal when it
 * starts after it ends or --since meets --from, and the fit to what a real history file
 * holds (empty, narrower than asked, asked beyond it, some GPUs only) with the resolution
 * that follows from the fitted span. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "report/window.h"
#include "series/metric_table.h"
#include "series/window.h"
#include "store/tests/helpers.h"

#define NOW 1700000000
#define WINDOW_T0                                                                 \
	(NOW - 7200) /* the history below: GPU-a WINDOW_T0..WINDOW_T0+3599, GPU-b \
	                WINDOW_T0+600..WINDOW_T0+659 */

static void since_alone_ends_now(void **state)
{
	struct report_window_ask a = {.since = 3600};
	int64_t from, to;
	char err[256];
	assert_int_equal(report_window_resolve(&a, NOW, &from, &to, err, sizeof(err)), 0);
	assert_int_equal(to, NOW);
	assert_int_equal(from, NOW - 3599); /* 3600 whole seconds, both ends inclusive */
	/* --to moves the end; the length stays --since's. */
	a.has_to = true;
	a.to = NOW - 86400;
	assert_int_equal(report_window_resolve(&a, NOW, &from, &to, err, sizeof(err)), 0);
	assert_int_equal(to, NOW - 86400);
	assert_int_equal(from, NOW - 86400 - 3599);
}

static void from_and_to_as_given(void **state)
{
	struct report_window_ask a = {.since = 3600, .has_from = true, .from = NOW - 100};
	int64_t from, to;
	char err[256];
	assert_int_equal(report_window_resolve(&a, NOW, &from, &to, err, sizeof(err)), 0);
	assert_int_equal(from, NOW - 100);
	assert_int_equal(to, NOW); /* --to defaults to now */
	a.has_to = true;
	a.to = NOW - 100; /* one second is a window */
	assert_int_equal(report_window_resolve(&a, NOW, &from, &to, err, sizeof(err)), 0);
	assert_int_equal(from, NOW - 100);
	assert_int_equal(to, NOW - 100);
}

static void end_before_start_is_refused(void **state)
{
	struct report_window_ask a = {.has_from = true, .from = NOW, .has_to = true, .to = NOW - 1};
	int64_t from = 7, to = 7;
	char err[256] = "";
	assert_int_equal(report_window_resolve(&a, NOW, &from, &to, err, sizeof(err)), -1);
	assert_string_equal(err, "the window starts after it ends (--from is after --to)");
	assert_int_equal(from, 7); /* nothing written on refusal */
	assert_int_equal(to, 7);
	/* --from in the future with --to defaulting to now is the same mistake. */
	a.has_to = false;
	a.from = NOW + 60;
	assert_int_equal(report_window_resolve(&a, NOW, &from, &to, err, sizeof(err)), -1);
	/* --since with --from is ambiguous. */
	struct report_window_ask b = {
	    .since = 60, .since_given = true, .has_from = true, .from = NOW - 100};
	assert_int_equal(report_window_resolve(&b, NOW, &from, &to, err, sizeof(err)), -1);
	assert_string_equal(err, "give --since or --from, not both");
}

static void resolution_follows_the_span(void **state)
{
	assert_int_equal(report_window_resolution(0, REPORT_SECOND_RES_MAX_S), STORE_RES_AUTO);
	assert_int_equal(report_window_resolution(0, REPORT_SECOND_RES_MAX_S + 1),
	                 STORE_RES_MINUTE);
	assert_int_equal(report_window_resolution(5, 5), STORE_RES_AUTO);
}

static void fit_of_an_empty_list(void **state)
{
	struct report_window w;
	assert_false(report_window_fit(NULL, 0, NULL, NOW - 86400 * 7, NOW, &w));
	/* Left as asked, at the asked span's resolution. */
	assert_int_equal(w.from, NOW - 86400 * 7);
	assert_int_equal(w.to, NOW);
	assert_int_equal(w.res, STORE_RES_MINUTE);
}

static void fit_ignores_spans_outside(void **state)
{
	/* A caller's list may hold a GPU whose rows lie outside the window: it does not count. */
	struct store_gpu_info list[] = {
	    {.uuid = "GPU-old", .first_t = WINDOW_T0 - 100, .last_t = WINDOW_T0 - 1}};
	struct report_window w;
	assert_false(report_window_fit(list, 1, NULL, WINDOW_T0, WINDOW_T0 + 59, &w));
	assert_int_equal(w.from, WINDOW_T0);
	assert_int_equal(w.to, WINDOW_T0 + 59);
}

/* GPU-a one row a second from WINDOW_T0 for an hour, GPU-b a minute of it from WINDOW_T0+600. */
static struct store *history(const char *path)
{
	struct store *s = open_writer(path, 0, 0);
	double raw[METRIC_COUNT];
	struct window_agg win[METRIC_COUNT];
	for (int m = 0; m < METRIC_COUNT; m++) {
		raw[m] = NAN;
		win[m] = (struct window_agg){0};
	}
	win[METRIC_POWER] = (struct window_agg){.min = 3e5, .max = 3e5, .sum = 3e6, .n = 10};
	for (int64_t t = WINDOW_T0; t < WINDOW_T0 + 3600; t++) {
		struct store_gpu_row a = {
		    .uuid = "GPU-a", .model = "NVIDIA H200", .t = t, .win = win, .raw = raw};
		assert_int_equal(store_put_gpu(s, &a), STORE_OK);
		if (t >= WINDOW_T0 + 600 && t < WINDOW_T0 + 660) {
			struct store_gpu_row b = a;
			b.uuid = "GPU-b";
			assert_int_equal(store_put_gpu(s, &b), STORE_OK);
		}
	}
	assert_int_equal(store_close(s), STORE_OK);
	return open_reader(path);
}

/* What the readers do: list the GPUs over the asked window, then fit it. */
static bool fit(struct store *s, int64_t from, int64_t to, const bool *use, size_t want_n,
                struct report_window *w)
{
	struct store_gpu_info *list = NULL;
	size_t n = 0;
	assert_int_equal(store_list_gpus(s, from, to, &list, &n), STORE_OK);
	assert_int_equal(n, want_n);
	bool held = report_window_fit(list, n, use, from, to, w);
	store_gpu_list_free(list, n);
	return held;
}

static void fit_to_a_real_history(void **state)
{
	char *dir = tmpdir_make(), *path = path_join(dir, "h.db");
	struct store *s = history(path);
	struct report_window w;

	/* A week asked of an hour-old history: that hour, at 1 s (not a week of minutes). */
	assert_true(fit(s, NOW - 7 * 86400 + 1, NOW, NULL, 2, &w));
	assert_int_equal(w.from, WINDOW_T0);
	assert_int_equal(w.to, WINDOW_T0 + 3599);
	assert_int_equal(w.res, STORE_RES_AUTO);

	/* A window inside the history stays as asked. */
	assert_true(fit(s, WINDOW_T0 + 100, WINDOW_T0 + 199, NULL, 1, &w));
	assert_int_equal(w.from, WINDOW_T0 + 100);
	assert_int_equal(w.to, WINDOW_T0 + 199);

	/* Only the GPUs asked for count: GPU-b's minute (list order is first seen). */
	bool only_b[] = {false, true};
	assert_true(fit(s, NOW - 86400, NOW, only_b, 2, &w));
	assert_int_equal(w.from, WINDOW_T0 + 600);
	assert_int_equal(w.to, WINDOW_T0 + 659);
	bool none[] = {false, false};
	assert_false(fit(s, NOW - 86400, NOW, none, 2, &w));

	/* Asked beyond the history, after its last row and before its first: nothing held. */
	assert_false(fit(s, WINDOW_T0 + 3600, NOW, NULL, 0, &w));
	assert_int_equal(w.from, WINDOW_T0 + 3600);
	assert_int_equal(w.to, NOW);
	assert_false(fit(s, WINDOW_T0 - 86400, WINDOW_T0 - 1, NULL, 0, &w));
	store_close(s);
	free(path);
	tmpdir_remove(dir);
}

static void fit_to_an_empty_history(void **state)
{
	char *dir = tmpdir_make(), *path = path_join(dir, "h.db");
	struct store *s = open_writer(path, 0, 0);
	struct report_window w;
	assert_false(fit(s, NOW - 3599, NOW, NULL, 0, &w));
	assert_int_equal(w.from, NOW - 3599);
	assert_int_equal(w.to, NOW);
	assert_int_equal(w.res, STORE_RES_AUTO);
	store_close(s);
	free(path);
	tmpdir_remove(dir);
}

/* Points of a window: as many rows as fit stay rows; more read wider points, whole
 * minutes from a minute up, and never more than asked, even where AUTO meets minutes. */
static void points_never_exceed_the_ask(void **state)
{
	int64_t bucket;
	enum store_resolution res;
	/* An hour at 1 s in 600 points: 6 s each, from the rows AUTO picks. */
	struct report_window w = {NOW - 3599, NOW, STORE_RES_AUTO};
	report_window_points(&w, 600, &bucket, &res);
	assert_int_equal(bucket, 6);
	assert_int_equal(res, STORE_RES_AUTO);
	report_window_points(&w, 4000, &bucket, &res); /* fewer rows than points: one a row */
	assert_int_equal(bucket, 1);
	/* The same hour in 10 points: 6-minute points would be 10, but the hour touches 61
	 * minutes (NOW is 20 s into one): 7 minutes a point, 9 points. */
	report_window_points(&w, 10, &bucket, &res);
	assert_int_equal(bucket, 7 * 60);
	assert_int_equal(res, STORE_RES_MINUTE);
	/* 590 s in 10 points of 59 s, but 11 minutes touched: AUTO meeting minute rows would
	 * give 11 one-minute points, so minutes are read, two a point. */
	w = (struct report_window){NOW - 30, NOW + 559, STORE_RES_AUTO};
	report_window_points(&w, 10, &bucket, &res);
	assert_int_equal(bucket, 120);
	assert_int_equal(res, STORE_RES_MINUTE);
	/* A week of minute rows in 1,350 points (64 GPUs' share): 8 minutes a point. */
	w = (struct report_window){NOW - 7 * 86400 + 1, NOW, STORE_RES_MINUTE};
	report_window_points(&w, 1350, &bucket, &res);
	assert_int_equal(bucket, 8 * 60);
	assert_int_equal(res, STORE_RES_MINUTE);
	for (size_t p = 10; p < 5000; p += 7) {
		int64_t first = w.from - ((w.from % 60) + 60) % 60;
		report_window_points(&w, p, &bucket, &res);
		assert_true((w.to - first) / bucket + 1 <= (int64_t)p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(since_alone_ends_now),
	    cmocka_unit_test(from_and_to_as_given),
	    cmocka_unit_test(end_before_start_is_refused),
	    cmocka_unit_test(resolution_follows_the_span),
	    cmocka_unit_test(fit_of_an_empty_list),
	    cmocka_unit_test(fit_ignores_spans_outside),
	    cmocka_unit_test(fit_to_a_real_history),
	    cmocka_unit_test(fit_to_an_empty_history),
	    cmocka_unit_test(points_never_exceed_the_ask),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
