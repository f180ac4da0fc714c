/* test_batch.c - commit boundaries: a batch holds batch_seconds distinct seconds and
 * becomes visible to other connections all at once, when the next second arrives, on
 * store_flush or on store_close; a reader works while the writer has a batch open. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store/tests/helpers.h"

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

static int64_t visible_rows(struct store *reader, int ngpus, int64_t from, int64_t to)
{
	int64_t rows = 0;
	for (int g = 0; g < ngpus; g++) {
		char uuid[64];
		struct store_series out;
		struct store_request req = {METRIC_POWER, STORE_MEAN};
		snprintf(uuid, sizeof(uuid), "GPU-%08d-test", g);
		int rc = store_query(reader, uuid, from, to, &req, 1, STORE_RES_SECOND, &out);
		if (rc == STORE_ENOENT)
			continue;
		assert_int_equal(rc, STORE_OK);
		for (size_t i = 0; i < out.n; i++)
			rows += !isnan(out.values[i]);
		store_series_free(&out);
	}
	return rows;
}

static void commits_every_batch_seconds(void **state)
{
	struct fixture *f = *state;
	struct store *w = open_writer(f->path, 3, 0);
	struct store *r = open_reader(f->path);
	struct store_stats st;

	write_seconds(w, 8, T0, T0 + 2); /* three seconds: the batch is full, not committed */
	assert_int_equal(visible_rows(r, 8, T0, T0 + 100), 0);
	store_get_stats(w, &st);
	assert_int_equal(st.batches, 0);
	assert_true(st.committed_t == INT64_MIN);

	write_seconds(w, 1, T0 + 3, T0 + 3); /* a fourth second commits the first three */
	assert_int_equal(visible_rows(r, 8, T0, T0 + 100), 24);
	store_get_stats(w, &st);
	assert_int_equal(st.batches, 1);
	assert_int_equal(st.committed_t, T0 + 2);
	assert_int_equal(st.rows_gpu, 24);

	write_seconds(w, 8, T0 + 4, T0 + 5); /* with T0+3 a full batch, still open */
	assert_int_equal(visible_rows(r, 8, T0, T0 + 100), 24);
	assert_int_equal(store_flush(w), STORE_OK);
	assert_int_equal(visible_rows(r, 8, T0, T0 + 100), 24 + 1 + 16);
	store_get_stats(w, &st);
	assert_int_equal(st.batches, 2);
	assert_int_equal(st.committed_t, T0 + 5);

	assert_int_equal(store_flush(w), STORE_OK); /* nothing open: no-op */
	write_seconds(w, 2, T0 + 6, T0 + 6);
	assert_int_equal(store_close(w), STORE_OK); /* close commits */
	assert_int_equal(visible_rows(r, 8, T0, T0 + 100), 24 + 1 + 16 + 2);
	store_close(r);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM gpu_second"), 43);
}

/* Process rows ride in the same batches; a second seen by either kind counts. */
static void process_rows_share_batches(void **state)
{
	struct fixture *f = *state;
	struct store *w = open_writer(f->path, 2, 0);
	for (int64_t t = T0; t < T0 + 4; t++) {
		struct store_process_row p = {
		    .t = t,
		    .uuid = "GPU-00000000-test",
		    .pid = 1,
		    .name = "a",
		    .value = {
		        [PROC_FAMILY_MEMORY] = 1, [PROC_FAMILY_SM] = NAN, [PROC_FAMILY_CPU] = NAN}};
		write_seconds(w, 1, t, t);
		assert_int_equal(store_put_process(w, &p), STORE_OK);
	}
	struct store_stats st;
	store_get_stats(w, &st);
	assert_int_equal(st.batches, 1);
	assert_int_equal(st.rows_process, 2);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM proc_second"), 2);
	assert_int_equal(sql_int(f->path, "SELECT max(t) FROM proc_second"), T0 + 1);
	store_close(w);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM proc_second"), 4);
}

/* A reader reads while the writer holds an open write transaction, and sees
 * only what was committed. */
static void reader_during_open_batch(void **state)
{
	struct fixture *f = *state;
	struct store *w = open_writer(f->path, 100, 0);
	write_seconds(w, 2, T0, T0 + 9);
	assert_int_equal(store_flush(w), STORE_OK);
	write_seconds(w, 2, T0 + 10, T0 + 19); /* open, uncommitted */

	struct store *r = open_reader(f->path);
	struct store_request req = {METRIC_GPU_TEMP, STORE_MAX};
	struct store_series out;
	assert_int_equal(
	    store_query(r, "GPU-00000001-test", T0, T0 + 19, &req, 1, STORE_RES_AUTO, &out),
	    STORE_OK);
	for (size_t i = 0; i < out.n; i++) {
		int64_t t = out.t0 + (int64_t)i;
		double want = t <= T0 + 9 ? synth_value(1, t, METRIC_GPU_TEMP, STORE_MAX) : NAN;
		assert_true(near(out.values[i], want));
	}
	store_series_free(&out);
	struct store_gpu_info *list;
	size_t n;
	assert_int_equal(store_list_gpus(r, T0, T0 + 100, &list, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].last_t, T0 + 9);
	store_gpu_list_free(list, n);
	/* A reader cannot write. */
	assert_int_equal(store_put_gpu(r, &(struct store_gpu_row){.uuid = "GPU-r", .t = T0}),
	                 STORE_EREADONLY);
	store_close(r);
	assert_int_equal(store_close(w), STORE_OK);
}

/* Seconds need not be consecutive or increasing: a batch counts distinct
 * changes of second, so a clock step back does not stall batching. */
static void out_of_order_seconds(void **state)
{
	struct fixture *f = *state;
	struct store *w = open_writer(f->path, 2, 0);
	write_seconds(w, 1, T0 + 100, T0 + 100);
	write_seconds(w, 1, T0 + 50, T0 + 50); /* clock stepped back */
	write_seconds(w, 1, T0 + 51, T0 + 51); /* third distinct second: commits two */
	struct store_stats st;
	store_get_stats(w, &st);
	assert_int_equal(st.batches, 1);
	assert_int_equal(st.committed_t, T0 + 100); /* the batch's newest second */
	store_close(w);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM gpu_second"), 3);
}

int test_batch_run(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(commits_every_batch_seconds, setup, teardown),
	    cmocka_unit_test_setup_teardown(process_rows_share_batches, setup, teardown),
	    cmocka_unit_test_setup_teardown(reader_during_open_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(out_of_order_seconds, setup, teardown),
	};
	return cmocka_run_group_tests_name("store.batch", tests, NULL, NULL);
}
