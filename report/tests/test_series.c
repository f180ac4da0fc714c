/* test_series.c - /api/v1/series' document from a real store file: buckets keep the max
 * of 1 s maxima (a burst survives zooming out) beside the mean, absent stays null, GPU
 * indexes follow the board, the window narrows to the rows, and bad arguments are refused. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "report/series.h"
#include "series/metric_table.h"
#include "store/tests/helpers.h"

#define SERIES_T0 1700000000

/* 600 s of GPU-a: util 10% mean, a burst to 100% in every minute's second 30; power 300 W
 * under a 700 W limit; no temperature.  GPU-b only its first 60 s. */
static struct store *history(const char *path)
{
	struct store *s = open_writer(path, 0, 0);
	double raw[METRIC_COUNT];
	struct window_agg win[METRIC_COUNT];
	for (int m = 0; m < METRIC_COUNT; m++) {
		raw[m] = NAN;
		win[m] = (struct window_agg){0};
	}
	raw[METRIC_POWER_LIMIT] = 700000;
	for (int64_t t = SERIES_T0; t < SERIES_T0 + 600; t++) {
		bool burst = (t - SERIES_T0) % 60 == 30;
		win[METRIC_GPU_UTIL] = (struct window_agg){
		    .min = burst ? 0 : 10, .max = burst ? 100 : 10, .sum = 100, .n = 10};
		win[METRIC_POWER] =
		    (struct window_agg){.min = 300000, .max = 300000, .sum = 3000000, .n = 10};
		struct store_gpu_row a = {
		    .uuid = "GPU-a", .model = "NVIDIA H200", .t = t, .win = win, .raw = raw};
		assert_int_equal(store_put_gpu(s, &a), STORE_OK);
		if (t < SERIES_T0 + 60) {
			struct store_gpu_row b = a;
			b.uuid = "GPU-b";
			assert_int_equal(store_put_gpu(s, &b), STORE_OK);
		}
	}
	assert_int_equal(store_close(s), STORE_OK);
	return open_reader(path);
}

static json_t *doc(struct store *s, const struct series_request *q)
{
	const char *uuids[] = {"GPU-x", "GPU-a"}; /* GPU-a is index 1; GPU-b left the board */
	char err[256];
	char *text = series_json(s, q, uuids, 2, false, err, sizeof(err));
	assert_non_null(text);
	json_error_t je;
	json_t *root = json_loads(text, 0, &je);
	free(text);
	assert_non_null(root);
	return root;
}

static json_t *gpu_series(json_t *root, const char *uuid, const char *metric, const char *kind)
{
	size_t i;
	json_t *g;
	json_array_foreach(
	    json_object_get(root, "gpus"), i,
	    g) if (strcmp(json_string_value(json_object_get(g, "uuid")), uuid) ==
	           0) return json_object_get(json_object_get(json_object_get(g, "series"), metric),
	                                     kind);
	fail_msg("no %s", uuid);
	return NULL;
}

static void bursts_survive_bucketing(void **state)
{
	char *dir = tmpdir_make(), *path = path_join(dir, "h.db");
	struct store *s = history(path);
	struct series_request q = {
	    .from = SERIES_T0, .to = SERIES_T0 + 599, .gpu = -1, .max_points = 20};
	json_t *root = doc(s, &q);
	assert_int_equal(json_integer_value(json_object_get(root, "points")), 20);
	assert_int_equal(json_integer_value(json_object_get(root, "step_s")), 30);
	assert_int_equal(json_integer_value(json_object_get(root, "resolution_s")), 1);
	assert_int_equal(json_array_size(json_object_get(root, "t")), 20);
	json_t *mean = gpu_series(root, "GPU-a", "gpuscope_gpu_utilization_ratio", "mean");
	json_t *max = gpu_series(root, "GPU-a", "gpuscope_gpu_utilization_ratio", "max");
	json_t *min = gpu_series(root, "GPU-a", "gpuscope_gpu_utilization_ratio", "min");
	assert_int_equal(json_array_size(mean), 20);
	for (size_t b = 0; b < 20; b++) {
		/* Buckets of 30 s: the odd ones hold second 30 of a minute, the burst. */
		double want_max = b % 2 ? 1.0 : 0.1, want_min = b % 2 ? 0.0 : 0.1;
		assert_true(fabs(json_number_value(json_array_get(max, b)) - want_max) < 1e-9);
		assert_true(fabs(json_number_value(json_array_get(min, b)) - want_min) < 1e-9);
		assert_true(fabs(json_number_value(json_array_get(mean, b)) - 0.1) < 1e-9);
	}
	json_t *limit = gpu_series(root, "GPU-a", "gpuscope_power_limit_watts", "max");
	assert_true(json_number_value(json_array_get(limit, 3)) == 700);
	json_t *temp = gpu_series(root, "GPU-a", "gpuscope_temperature_celsius", "mean");
	assert_true(json_is_null(json_array_get(temp, 0))); /* absent, not 0 */
	/* Index from the board's order; a GPU no longer on it has none. */
	json_t *g0 = json_array_get(json_object_get(root, "gpus"), 0);
	assert_int_equal(json_integer_value(json_object_get(g0, "gpu")), 1);
	json_t *g1 = json_array_get(json_object_get(root, "gpus"), 1);
	assert_true(json_is_null(json_object_get(g1, "gpu")));
	json_decref(root);

	/* One GPU, and a week asked of ten minutes: narrowed to the rows, at 1 s. */
	q = (struct series_request){.from = SERIES_T0 + 599 - 7 * 86400,
	                            .to = SERIES_T0 + 599,
	                            .gpu = 1,
	                            .max_points = 600};
	root = doc(s, &q);
	assert_int_equal(json_array_size(json_object_get(root, "gpus")), 1);
	assert_int_equal(json_integer_value(json_object_get(root, "from")), SERIES_T0);
	assert_int_equal(json_integer_value(json_object_get(root, "points")), 600);
	assert_int_equal(json_integer_value(json_object_get(root, "step_s")), 1);
	json_decref(root);
	store_close(s);
	free(path);
	tmpdir_remove(dir);
}

/* GPU utilization of second s of the week below, in percent: a sawtooth mean, every
 * hour a burst to 100% in second 1234. */
static double week_mean(int64_t s)
{
	return (double)(s % 50);
}

static double week_max(int64_t s)
{
	return s % 3600 == 1234 ? 100 : week_mean(s) + 1;
}

/* A week of 1 s rows (kept for two weeks: every second stays a row) asked as 300 points:
 * at most 300 come back, whole minutes each (the rows' rollups), and each carries the
 * mean weighted by seconds, the max of the maxima and the min of the minima of exactly
 * its seconds.  The store folds them while it reads, so the query holds 300 points,
 * not 604,800 seconds (nor 10,081 minutes). */
static void a_week_of_seconds_comes_back_as_the_points_asked(void **state)
{
	const int64_t week = 7 * 86400;
	char *dir = tmpdir_make(), *path = path_join(dir, "week.db");
	struct store *s = open_writer(path, 3600, 2 * week);
	struct window_agg win[METRIC_COUNT] = {{0}};
	for (int64_t t = SERIES_T0; t < SERIES_T0 + week; t++) {
		double mean = week_mean(t - SERIES_T0);
		win[METRIC_GPU_UTIL] = (struct window_agg){
		    .min = mean, .max = week_max(t - SERIES_T0), .sum = 10 * mean, .n = 10};
		struct store_gpu_row row = {.uuid = "GPU-a", .t = t, .win = win};
		assert_int_equal(store_put_gpu(s, &row), STORE_OK);
	}
	assert_int_equal(store_close(s), STORE_OK);
	s = open_reader(path);

	struct series_request q = {
	    .from = SERIES_T0, .to = SERIES_T0 + week - 1, .gpu = -1, .max_points = 300};
	json_t *root = doc(s, &q);
	/* 10,081 minutes (SERIES_T0 is 20 s into one) in 300 points: 34 minutes a point. */
	size_t n = (size_t)json_integer_value(json_object_get(root, "points"));
	const int64_t step = 34 * 60, t0 = SERIES_T0 - 20;
	assert_true(n <= 300);
	assert_int_equal(n, (week + 20 - 1) / step + 1);
	assert_int_equal(json_integer_value(json_object_get(root, "step_s")), step);
	assert_int_equal(json_integer_value(json_object_get(root, "resolution_s")), 60);
	json_t *t = json_object_get(root, "t");
	json_t *mean = gpu_series(root, "GPU-a", "gpuscope_gpu_utilization_ratio", "mean");
	json_t *max = gpu_series(root, "GPU-a", "gpuscope_gpu_utilization_ratio", "max");
	json_t *min = gpu_series(root, "GPU-a", "gpuscope_gpu_utilization_ratio", "min");
	assert_int_equal(json_array_size(t), n);
	assert_int_equal(json_array_size(mean), n);
	for (size_t b = 0; b < n; b++) {
		int64_t a = t0 + (int64_t)b * step;
		assert_int_equal(json_integer_value(json_array_get(t, b)), a);
		double sum = 0, hi = -INFINITY, lo = INFINITY, secs = 0;
		for (int64_t x = a < SERIES_T0 ? SERIES_T0 : a;
		     x < a + step && x < SERIES_T0 + week; x++) {
			sum += week_mean(x - SERIES_T0);
			hi = fmax(hi, week_max(x - SERIES_T0));
			lo = fmin(lo, week_mean(x - SERIES_T0));
			secs++;
		}
		/* A minute's mean is kept to the stored quantum (1/100 %) in its rollup. */
		assert_true(fabs(json_number_value(json_array_get(mean, b)) - sum / secs / 100) <
		            1e-4);
		assert_true(fabs(json_number_value(json_array_get(max, b)) - hi / 100) < 1e-9);
		assert_true(fabs(json_number_value(json_array_get(min, b)) - lo / 100) < 1e-9);
	}
	json_decref(root);
	store_close(s);
	free(path);
	tmpdir_remove(dir);
}

static void arguments(void **state)
{
	struct series_request q;
	char err[256];
	struct series_args a = {.range = "15m", .gpu = "3", .points = "100"};
	assert_int_equal(series_parse_args(&a, SERIES_T0, &q, err, sizeof(err)), 0);
	assert_int_equal(q.to, SERIES_T0);
	assert_int_equal(q.from, SERIES_T0 - 899);
	assert_int_equal(q.gpu, 3);
	assert_int_equal(q.max_points, 100);
	struct series_args none = {0};
	assert_int_equal(series_parse_args(&none, SERIES_T0, &q, err, sizeof(err)), 0);
	assert_int_equal(q.to - q.from, 3599); /* an hour by default */
	assert_int_equal(q.gpu, -1);
	struct series_args ft = {.from = "1700000000", .to = "2023-11-14T22:13:20Z"};
	assert_int_equal(series_parse_args(&ft, SERIES_T0, &q, err, sizeof(err)), 0);
	assert_int_equal(q.to - q.from, 0);
	const struct series_args bad[] = {
	    {.range = "abc"},
	    {.range = "1s"},
	    {.range = "100d"},
	    {.gpu = "-1"},
	    {.gpu = "x"},
	    {.points = "5"},
	    {.points = "99999"},
	    {.from = "1700000000"},
	    {.range = "1h", .from = "1", .to = "2"},
	    {.from = "2", .to = "1"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(series_parse_args(&bad[i], SERIES_T0, &q, err, sizeof(err)), -1);
		assert_true(err[0] != 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bursts_survive_bucketing),
	    cmocka_unit_test(a_week_of_seconds_comes_back_as_the_points_asked),
	    cmocka_unit_test(arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
