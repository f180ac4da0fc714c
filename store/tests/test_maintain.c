/* test_maintain.c - downsampling and retention on a fake clock: 1 s rows fold into
 * exact minute rows (mean of means, max of max, min of min, latest value), whole
 * minutes only; queries across the fold boundary read as one minute series; minute rows
 * and processes expire; every step stays within its row budget. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store/internal.h"
#include "store/tests/helpers.h"

#define RET 3600 /* second retention in these tests */

struct fixture {
	char *dir;
	char *path;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->dir = tmpdir_make();
	f->path = path_join(f->dir, "history.db");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	tmpdir_remove(f->dir);
	free(f->path);
	free(f);
	return 0;
}

static struct store *open_manual(const char *path, int maintain_rows)
{
	struct store_options o;
	struct store *s;
	char err[1024];
	store_options_default(&o);
	o.second_retention_s = RET;
	o.minute_retention_s = 7 * 86400;
	o.auto_maintain = false;
	o.maintain_rows = maintain_rows;
	if (store_open(path, &o, &s, err, sizeof(err)) != STORE_OK)
		fail_msg("%s", err);
	return s;
}

/* What a minute of synthetic seconds [m, m + count) folds to. */
static double expect_minute(int gpu, int64_t m, int count, int metric, enum store_stat stat)
{
	double acc = stat == STORE_MAX ? -INFINITY : stat == STORE_MIN ? INFINITY : 0;
	for (int i = 0; i < count; i++) {
		double v = synth_value(gpu, m + i, metric, stat);
		if (!metric_windowed(metric))
			acc = v; /* latest */
		else if (stat == STORE_MEAN)
			acc += v / count;
		else
			acc = stat == STORE_MAX ? fmax(acc, v) : fmin(acc, v);
	}
	return acc;
}

static void run_to_completion(struct store *s, int64_t now, int *calls)
{
	bool more = true;
	*calls = 0;
	while (more) {
		assert_int_equal(store_maintain(s, now, &more), STORE_OK);
		(*calls)++;
		assert_true(*calls < 10000);
	}
}

static void fold_whole_minutes(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_manual(f->path, 600);
	write_seconds(s, 2, T0, T0 + 209); /* 3.5 minutes */
	assert_int_equal(store_flush(s), STORE_OK);
	int calls;
	/* Cutoff T0+150: minutes T0 and T0+60 are whole and older; T0+120 is not. */
	run_to_completion(s, T0 + RET + 150, &calls);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM gpu_minute"), 4);
	assert_int_equal(sql_int(f->path, "SELECT min(n) = 60 AND max(n) = 60 FROM gpu_minute"), 1);
	char sql[200];
	snprintf(sql, sizeof(sql), "SELECT min(t) FROM gpu_second");
	assert_int_equal(sql_int(f->path, sql), T0 + 120);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM gpu_second"), 2 * 90);
	struct store_stats st;
	store_get_stats(s, &st);
	assert_int_equal(st.rows_folded, 240);

	/* AUTO now reads minutes: two folded, one whole minute and a half
	 * minute of seconds folded on the fly. */
	int metrics[] = {METRIC_GPU_UTIL, METRIC_POWER_INSTANT, METRIC_GPM_DRAM,
	                 METRIC_ENERGY,   METRIC_PCIE_REPLAY,   METRIC_FB_USED};
	struct store_request req[3 * 6];
	size_t nreq = 0;
	for (int i = 0; i < 6; i++)
		for (int stt = STORE_MEAN; stt <= STORE_MIN; stt++)
			req[nreq++] = (struct store_request){metrics[i], (enum store_stat)stt};
	struct store_series out;
	assert_int_equal(
	    store_query(s, "GPU-00000001-test", T0 + 10, T0 + 299, req, nreq, STORE_RES_AUTO, &out),
	    STORE_OK);
	assert_int_equal(out.step, 60);
	assert_int_equal(out.t0, T0);
	assert_int_equal(out.n, 5);
	for (size_t k = 0; k < nreq; k++)
		for (size_t i = 0; i < out.n; i++) {
			int count = i < 3 ? 60 : i == 3 ? 30 : 0;
			double want = count ? expect_minute(1, T0 + 60 * (int64_t)i, count,
			                                    req[k].metric, req[k].stat)
			                    : NAN;
			/* Means of minute rows are rounded to the stored quantum. */
			double q = 1.0 / store_unit_of(req[k].metric)->scale;
			double got = out.values[k * out.n + i];
			if (isnan(want) ? !isnan(got)
			                : !(fabs(got - want) <= q / 2 + 1e-9 * fabs(want)))
				fail_msg("%s stat %d minute %zu: got %.17g want %.17g",
				         metric_table[req[k].metric].name, req[k].stat, i, got,
				         want);
		}
	store_series_free(&out);

	/* Seconds are still there for the recent part. */
	assert_int_equal(
	    store_query(s, "GPU-00000001-test", T0 + 130, T0 + 135, req, 1, STORE_RES_AUTO, &out),
	    STORE_OK);
	assert_int_equal(out.step, 1);
	assert_true(near(out.values[0], synth_value(1, T0 + 130, METRIC_GPU_UTIL, STORE_MEAN)));
	store_series_free(&out);
	/* ...and NaN at second resolution where only minutes are left. */
	assert_int_equal(
	    store_query(s, "GPU-00000001-test", T0, T0 + 5, req, 1, STORE_RES_SECOND, &out),
	    STORE_OK);
	assert_true(isnan(out.values[0]));
	store_series_free(&out);
	store_close(s);
}

static void budget_bounds_each_step(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_manual(f->path, 120);
	write_seconds(s, 3, T0, T0 + 599); /* 10 minutes x 3 GPUs */
	assert_int_equal(store_flush(s), STORE_OK);
	struct store_stats before, after;
	bool more;
	store_get_stats(s, &before);
	assert_int_equal(store_maintain(s, T0 + 600 + RET, &more), STORE_OK);
	store_get_stats(s, &after);
	assert_true(more);
	assert_int_equal(after.rows_folded - before.rows_folded, 120);
	int calls;
	run_to_completion(s, T0 + 600 + RET, &calls);
	assert_int_equal(calls, 15); /* 1680 rows left at 120 a step, then one that finds none */
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM gpu_second"), 0);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM gpu_minute"), 30);
	store_close(s);
}

static void minutes_and_processes_expire(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_manual(f->path, 600);
	write_seconds(s, 1, T0, T0 + 179);
	for (int64_t t = T0; t < T0 + 180; t++) {
		struct store_process_row p = {.t = t,
		                              .uuid = "GPU-00000000-test",
		                              .pid = 100,
		                              .name = "old",
		                              .value = {[PROC_FAMILY_MEMORY] = (double)(t - T0),
		                                        [PROC_FAMILY_SM] = 0.25,
		                                        [PROC_FAMILY_CPU] = NAN}};
		assert_int_equal(store_put_process(s, &p), STORE_OK);
	}
	assert_int_equal(store_flush(s), STORE_OK);
	int calls;
	run_to_completion(s, T0 + 180 + RET, &calls);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM proc_second"), 0);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM proc_minute"), 3);
	assert_int_equal(sql_int(f->path, "SELECT n FROM proc_minute WHERE t = "
	                                  "1700000100"),
	                 60);
	/* mean of 60..119 = 89.5, max 119 */
	assert_int_equal(sql_int(f->path, "SELECT gpu_mem_bytes_mean * 10 FROM proc_minute WHERE "
	                                  "t = 1700000100"),
	                 895);
	assert_int_equal(sql_int(f->path, "SELECT gpu_mem_bytes_max FROM proc_minute WHERE "
	                                  "t = 1700000100"),
	                 119);
	assert_int_equal(sql_int(f->path, "SELECT cpu_cores_mean IS NULL FROM proc_minute LIMIT 1"),
	                 1);

	/* Process series at minute resolution. */
	struct store_process_set ps;
	assert_int_equal(
	    store_query_processes(s, "GPU-00000000-test", T0, T0 + 179, STORE_RES_AUTO, &ps),
	    STORE_OK);
	assert_int_equal(ps.step, 60);
	assert_int_equal(ps.nprocs, 1);
	assert_true(ps.procs[0].value[PROC_FAMILY_MEMORY][1] == 89.5);
	assert_true(ps.procs[0].value[PROC_FAMILY_SM][2] == 0.25);
	assert_true(isnan(ps.procs[0].value[PROC_FAMILY_CPU][0]));
	store_process_set_free(&ps);

	/* Past the minute retention: everything goes, processes too. */
	run_to_completion(s, T0 + 180 + 7 * 86400 + 300, &calls);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM gpu_minute"), 0);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM proc_minute"), 0);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM processes"), 0);
	struct store_gpu_info *list;
	size_t n;
	assert_int_equal(store_list_gpus(s, 0, INT64_MAX / 2, &list, &n), STORE_OK);
	assert_int_equal(n, 0);
	store_gpu_list_free(list, n);

	/* The process comes back: a new processes row, rows refer to it. */
	struct store_process_row p = {
	    .t = T0 + 8 * 86400,
	    .uuid = "GPU-00000000-test",
	    .pid = 100,
	    .name = "old",
	    .value = {[PROC_FAMILY_MEMORY] = 1, [PROC_FAMILY_SM] = NAN, [PROC_FAMILY_CPU] = NAN}};
	assert_int_equal(store_put_process(s, &p), STORE_OK);
	assert_int_equal(store_flush(s), STORE_OK);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM proc_second s JOIN processes p ON "
	                                  "p.id = s.proc_id"),
	                 1);
	store_close(s);
}

/* A second that arrives after its minute was folded merges into the minute. */
static void late_second_merges(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_manual(f->path, 600);
	write_seconds(s, 1, T0, T0 + 29);
	write_seconds(s, 1, T0 + 31, T0 + 59); /* T0+30 missing */
	assert_int_equal(store_flush(s), STORE_OK);
	int calls;
	run_to_completion(s, T0 + 60 + RET, &calls);
	assert_int_equal(sql_int(f->path, "SELECT n FROM gpu_minute"), 59);
	write_seconds(s, 1, T0 + 30, T0 + 30);
	assert_int_equal(store_flush(s), STORE_OK);
	run_to_completion(s, T0 + 60 + RET, &calls);
	assert_int_equal(sql_int(f->path, "SELECT n FROM gpu_minute"), 60);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM gpu_second"), 0);
	struct store_request req[] = {{METRIC_GPU_TEMP, STORE_MAX},
	                              {METRIC_GPU_TEMP, STORE_MIN},
	                              {METRIC_GPU_TEMP, STORE_MEAN}};
	struct store_series out;
	assert_int_equal(
	    store_query(s, "GPU-00000000-test", T0, T0 + 59, req, 3, STORE_RES_AUTO, &out),
	    STORE_OK);
	assert_true(near(out.values[0], expect_minute(0, T0, 60, METRIC_GPU_TEMP, STORE_MAX)));
	assert_true(near(out.values[1], expect_minute(0, T0, 60, METRIC_GPU_TEMP, STORE_MIN)));
	assert_true(fabs(out.values[2] - expect_minute(0, T0, 60, METRIC_GPU_TEMP, STORE_MEAN)) <
	            0.011);
	store_series_free(&out);
	store_close(s);
}

/* With auto_maintain (the default), batches keep the 1 s table at its
 * retention while writing: no row is lost, none is counted twice. */
static void automatic_with_batches(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_writer(f->path, 5, 120);
	write_seconds(s, 2, T0, T0 + 899); /* 15 minutes */
	assert_int_equal(store_close(s), STORE_OK);
	/* Newest second T0+899, cutoff T0+779 -> minutes before T0+720 folded. */
	assert_int_equal(sql_int(f->path, "SELECT min(t) FROM gpu_second"), T0 + 720);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM gpu_minute"), 2 * 12);
	assert_int_equal(sql_int(f->path, "SELECT (SELECT sum(n) FROM gpu_minute) + (SELECT "
	                                  "count(*) FROM gpu_second)"),
	                 2 * 900);
}

/* Checks every point of a bucketed query against the seconds it folds ([t0 + i step,
 * + step) within [from, to]); means within the stored quantum (minute rows round). */
static void check_buckets(const struct store_series *out, const struct store_request *req,
                          size_t nreq, int gpu, int64_t from, int64_t to)
{
	for (size_t k = 0; k < nreq; k++)
		for (size_t i = 0; i < out->n; i++) {
			int64_t a = out->t0 + (int64_t)i * out->step, b = a + out->step - 1;
			a = a < from ? from : a;
			b = b > to ? to : b;
			double want =
			    expect_minute(gpu, a, (int)(b - a + 1), req[k].metric, req[k].stat);
			double q = 1.0 / store_unit_of(req[k].metric)->scale;
			double got = out->values[k * out->n + i];
			if (!(fabs(got - want) <= q / 2 + 1e-9 * fabs(want)))
				fail_msg("%s stat %d point %zu: got %.17g want %.17g",
				         metric_table[req[k].metric].name, req[k].stat, i, got,
				         want);
		}
}

/* Wider points fold whole rows: k seconds from 1 s rows, k minutes from folded minutes,
 * rollups and seconds alike, so a long window costs points, not rows. */
static void bucketed_points_fold_rows(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_manual(f->path, 600);
	write_seconds(s, 2, T0, T0 + 599); /* 10 minutes */
	for (int64_t t = T0; t < T0 + 600; t++) {
		struct store_process_row p = {.t = t,
		                              .uuid = "GPU-00000001-test",
		                              .pid = 7,
		                              .name = "p",
		                              .value = {[PROC_FAMILY_MEMORY] = (double)(t - T0),
		                                        [PROC_FAMILY_SM] = NAN,
		                                        [PROC_FAMILY_CPU] = NAN}};
		assert_int_equal(store_put_process(s, &p), STORE_OK);
	}
	assert_int_equal(store_flush(s), STORE_OK);
	int metrics[] = {METRIC_GPU_UTIL, METRIC_POWER_INSTANT, METRIC_ENERGY, METRIC_FB_USED};
	struct store_request req[3 * 4];
	size_t nreq = 0;
	for (int i = 0; i < 4; i++)
		for (int stt = STORE_MEAN; stt <= STORE_MIN; stt++)
			req[nreq++] = (struct store_request){metrics[i], (enum store_stat)stt};

	/* Seconds, 7 a point: 97 seconds in 14 points, the last of 6. */
	struct store_series out;
	assert_int_equal(store_query_bucketed(s, "GPU-00000001-test", T0 + 3, T0 + 99, req, nreq,
	                                      STORE_RES_SECOND, 7, &out),
	                 STORE_OK);
	assert_int_equal(out.step, 7);
	assert_int_equal(out.t0, T0 + 3);
	assert_int_equal(out.n, 14);
	check_buckets(&out, req, nreq, 1, T0 + 3, T0 + 99);
	store_series_free(&out);

	/* Fold the first 4 minutes; minutes 4-9 stay seconds (with rollups). A point of
	 * 150 s rounds up to 3 minutes: [T0, T0+180) folded rows, [T0+180, T0+360) one
	 * folded minute and two of seconds, ... */
	int calls;
	run_to_completion(s, T0 + RET + 240, &calls);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM gpu_minute"), 2 * 4);
	assert_int_equal(store_query_bucketed(s, "GPU-00000001-test", T0, T0 + 599, req, nreq,
	                                      STORE_RES_MINUTE, 150, &out),
	                 STORE_OK);
	assert_int_equal(out.step, 180);
	assert_int_equal(out.t0, T0);
	assert_int_equal(out.n, 4);
	check_buckets(&out, req, nreq, 1, T0, T0 + 599);
	store_series_free(&out);
	/* A window ending inside a point reads no row after its end. */
	assert_int_equal(store_query_bucketed(s, "GPU-00000001-test", T0, T0 + 299, req, nreq,
	                                      STORE_RES_MINUTE, 180, &out),
	                 STORE_OK);
	assert_int_equal(out.n, 2);
	check_buckets(&out, req, nreq, 1, T0, T0 + 299);
	store_series_free(&out);

	/* Processes on the same grid: the mean of gpu_mem = t - T0 over each point. */
	struct store_process_set ps;
	assert_int_equal(store_query_processes_bucketed(s, "GPU-00000001-test", T0, T0 + 599,
	                                                STORE_RES_MINUTE, 150, &ps),
	                 STORE_OK);
	assert_int_equal(ps.step, 180);
	assert_int_equal(ps.n, 4);
	assert_int_equal(ps.nprocs, 1);
	for (size_t i = 0; i < 4; i++) {
		double lo = 180.0 * (double)i, hi = i < 3 ? lo + 179 : 599;
		assert_true(near(ps.procs[0].value[PROC_FAMILY_MEMORY][i], (lo + hi) / 2));
	}
	store_process_set_free(&ps);
	store_close(s);
}

int test_maintain_run(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(fold_whole_minutes, setup, teardown),
	    cmocka_unit_test_setup_teardown(budget_bounds_each_step, setup, teardown),
	    cmocka_unit_test_setup_teardown(minutes_and_processes_expire, setup, teardown),
	    cmocka_unit_test_setup_teardown(late_second_merges, setup, teardown),
	    cmocka_unit_test_setup_teardown(bucketed_points_fold_rows, setup, teardown),
	    cmocka_unit_test_setup_teardown(automatic_with_batches, setup, teardown),
	};
	return cmocka_run_group_tests_name("store.maintain", tests, NULL, NULL);
}
