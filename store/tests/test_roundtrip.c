/* test_roundtrip.c - what is written reads back: every stored metric and stat, NULL
 * (never 0) for absent values, processes with their labels, the GPU list, and the
 * columns, catalog and views generated from the metric table. */
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

/* Every (stored metric, stat) as requests. */
static size_t all_requests(struct store_request *req)
{
	size_t n = 0;
	for (int m = 0; m < METRIC_COUNT; m++) {
		if (metric_dynamic_label(m))
			continue;
		for (int st = STORE_MEAN; st <= (metric_windowed(m) ? STORE_MIN : STORE_MEAN); st++)
			req[n++] = (struct store_request){.metric = m, .stat = (enum store_stat)st};
	}
	return n;
}

static void every_metric_round_trips(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_writer(f->path, 5, 0);
	write_seconds(s, 2, T0, T0 + 9);
	assert_int_equal(store_close(s), STORE_OK);

	s = open_reader(f->path);
	struct store_request req[3 * METRIC_COUNT];
	size_t nreq = all_requests(req);
	for (int g = 0; g < 2; g++) {
		struct store_series out;
		char uuid[64];
		snprintf(uuid, sizeof(uuid), "GPU-%08d-test", g);
		assert_int_equal(
		    store_query(s, uuid, T0 - 5, T0 + 14, req, nreq, STORE_RES_AUTO, &out),
		    STORE_OK);
		assert_int_equal(out.step, 1);
		assert_int_equal(out.t0, T0 - 5);
		assert_int_equal(out.n, 20);
		for (size_t k = 0; k < nreq; k++)
			for (size_t i = 0; i < out.n; i++) {
				int64_t t = out.t0 + (int64_t)i;
				double got = out.values[k * out.n + i];
				double want = t < T0 || t > T0 + 9
				                  ? NAN
				                  : synth_value(g, t, req[k].metric, req[k].stat);
				if (!near(got, want))
					fail_msg("%s stat %d at %lld: got %.17g want %.17g",
					         metric_table[req[k].metric].name, req[k].stat,
					         (long long)t, got, want);
			}
		store_series_free(&out);
	}
	assert_int_equal(store_close(s), STORE_OK);
}

static void absent_is_null_not_zero(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_writer(f->path, 5, 0);
	struct synth_row r;
	synth_fill(&r, 0, T0);
	r.win[METRIC_GPU_UTIL].n = 0;            /* windowed: no sample that second */
	metric_set_del(&r.valid, METRIC_ENERGY); /* not valid */
	r.raw[METRIC_POWER_LIMIT] = NAN;         /* valid bit, but NaN */
	r.raw[METRIC_ECC_ENABLED] = 0;           /* a real zero stays zero */
	assert_int_equal(store_put_gpu(s, &r.row), STORE_OK);
	/* A row with no arrays at all: every column NULL. */
	struct store_gpu_row empty = {.uuid = "GPU-empty", .t = T0};
	assert_int_equal(store_put_gpu(s, &empty), STORE_OK);
	/* win NULL: windowed metrics take the raw value as mean, max and min. */
	struct synth_row r2;
	synth_fill(&r2, 1, T0);
	r2.row.win = NULL;
	assert_int_equal(store_put_gpu(s, &r2.row), STORE_OK);
	assert_int_equal(store_close(s), STORE_OK);

	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM gpu_second WHERE mean_gpu_util IS "
	                                  "NULL AND max_gpu_util IS NULL AND energy IS NULL AND "
	                                  "power_limit IS NULL AND ecc_enabled = 0"),
	                 1);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM gpu_second s JOIN gpus g ON "
	                                  "g.id = s.gpu_id WHERE g.uuid = 'GPU-empty' AND "
	                                  "s.mean_power IS NULL AND s.energy IS NULL"),
	                 1);
	assert_int_equal(
	    sql_int(f->path, "SELECT count(*) FROM gpu_second WHERE mean_gpu_util = 0"), 0);

	s = open_reader(f->path);
	struct store_request req[] = {
	    {METRIC_GPU_UTIL, STORE_MAX},     {METRIC_ENERGY, STORE_MEAN},
	    {METRIC_POWER_LIMIT, STORE_MEAN}, {METRIC_ECC_ENABLED, STORE_MEAN},
	    {METRIC_NVLINK_UP, STORE_MEAN}, /* "@link": not stored */
	    {METRIC_POWER, STORE_MIN}};
	struct store_series out;
	assert_int_equal(
	    store_query(s, "GPU-00000000-test", T0, T0, req, 6, STORE_RES_SECOND, &out), STORE_OK);
	assert_true(isnan(out.values[0]));
	assert_true(isnan(out.values[1]));
	assert_true(isnan(out.values[2]));
	assert_true(out.values[3] == 0);
	assert_true(isnan(out.values[4]));
	assert_true(near(out.values[5], synth_value(0, T0, METRIC_POWER, STORE_MIN)));
	store_series_free(&out);

	assert_int_equal(
	    store_query(s, "GPU-00000001-test", T0, T0, req, 6, STORE_RES_SECOND, &out), STORE_OK);
	double raw = synth_value(1, T0, METRIC_GPU_UTIL, STORE_MEAN);
	assert_true(near(out.values[0], raw)); /* max = the one raw value */
	store_series_free(&out);

	assert_int_equal(store_query(s, "GPU-nope", T0, T0, req, 1, STORE_RES_AUTO, &out),
	                 STORE_ENOENT);
	assert_non_null(strstr(store_errmsg(s), "GPU-nope"));
	assert_int_equal(store_query(s, "GPU-empty", T0 + 1, T0, req, 1, STORE_RES_AUTO, &out),
	                 STORE_EINVAL);
	store_close(s);
}

static void stored_quantum(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_writer(f->path, 5, 0);
	struct store_gpu_row row = {.uuid = "GPU-q", .t = T0};
	struct window_agg win[METRIC_COUNT] = {{0}};
	double raw[METRIC_COUNT];
	for (int m = 0; m < METRIC_COUNT; m++)
		raw[m] = NAN;
	win[METRIC_GPU_UTIL] = (struct window_agg){.min = 40, .max = 51, .sum = 45.23 * 3, .n = 3};
	win[METRIC_SM_CLOCK] =
	    (struct window_agg){.min = 1980, .max = 1980, .sum = 1980.04, .n = 1};
	win[METRIC_CLOCK_LOSS] = (struct window_agg){.min = 0, .max = 1, .sum = 0.123456, .n = 1};
	raw[METRIC_ENERGY] = 123456789012.0;      /* mJ: exact */
	raw[METRIC_THROTTLE_IDLE] = 1234.5678901; /* seconds: kept to 1 us */
	raw[METRIC_FB_TOTAL] = 150754820096.0;    /* bytes: exact */
	row.win = win;
	row.raw = raw;
	assert_int_equal(store_put_gpu(s, &row), STORE_OK);
	assert_int_equal(store_flush(s), STORE_OK);

	struct store_request req[] = {
	    {METRIC_GPU_UTIL, STORE_MEAN},      {METRIC_SM_CLOCK, STORE_MEAN},
	    {METRIC_CLOCK_LOSS, STORE_MEAN},    {METRIC_ENERGY, STORE_MEAN},
	    {METRIC_THROTTLE_IDLE, STORE_MEAN}, {METRIC_FB_TOTAL, STORE_MAX}};
	struct store_series out;
	assert_int_equal(store_query(s, "GPU-q", T0, T0, req, 6, STORE_RES_AUTO, &out), STORE_OK);
	assert_true(out.values[0] == 45.23);
	assert_true(out.values[1] == 1980.0); /* 0.1 MHz quantum */
	assert_true(out.values[2] == 0.1235); /* 1e-4 */
	assert_true(out.values[3] == 123456789012.0);
	assert_true(out.values[4] == 1234.567890);
	assert_true(out.values[5] == 150754820096.0);
	store_series_free(&out);
	store_close(s);

	/* Stored integers, as the CLI sees them. */
	assert_int_equal(sql_int(f->path, "SELECT mean_gpu_util FROM gpu_second"), 4523);
	assert_int_equal(
	    sql_int(f->path, "SELECT typeof(mean_gpu_util) = 'integer' FROM gpu_second"), 1);
}

static void processes_round_trip(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_writer(f->path, 5, 0);
	for (int64_t t = T0; t < T0 + 4; t++) {
		struct store_process_row a = {
		    .t = t,
		    .uuid = "GPU-p",
		    .pid = 4242,
		    .name = "vllm",
		    .container = "c1",
		    .pod = "llama-0",
		    .namespace_ = "serving",
		    .job = "",
		    .value = {[PROC_FAMILY_MEMORY] = 1e9 * (double)(t - T0 + 1),
		              [PROC_FAMILY_SM] = 0.5,
		              [PROC_FAMILY_CPU] = NAN}};
		struct store_process_row b = {.t = t,
		                              .uuid = "GPU-p",
		                              .pid = 7,
		                              .name = "python3",
		                              .value = {[PROC_FAMILY_MEMORY] = 2e9,
		                                        [PROC_FAMILY_SM] = NAN,
		                                        [PROC_FAMILY_CPU] = 1.25}};
		assert_int_equal(store_put_process(s, &a), STORE_OK);
		if (t != T0 + 2) /* b is absent one second */
			assert_int_equal(store_put_process(s, &b), STORE_OK);
	}
	assert_int_equal(store_close(s), STORE_OK);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM processes"), 2);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM proc_second"), 7);
	assert_int_equal(
	    sql_int(f->path, "SELECT count(*) FROM proc_second WHERE cpu_cores IS NULL"), 4);

	s = open_reader(f->path);
	struct store_process_set ps;
	assert_int_equal(store_query_processes(s, "GPU-p", T0, T0 + 3, STORE_RES_AUTO, &ps),
	                 STORE_OK);
	assert_int_equal(ps.nprocs, 2);
	assert_int_equal(ps.n, 4);
	assert_int_equal(ps.step, 1);
	for (size_t j = 0; j < ps.nprocs; j++) {
		struct store_process_series *p = &ps.procs[j];
		if (p->pid == 4242) {
			assert_string_equal(p->name, "vllm");
			assert_string_equal(p->pod, "llama-0");
			assert_string_equal(p->namespace_, "serving");
			assert_string_equal(p->container, "c1");
			assert_string_equal(p->job, "");
			assert_true(p->value[PROC_FAMILY_MEMORY][3] == 4e9);
			assert_true(p->value[PROC_FAMILY_SM][0] == 0.5);
			assert_true(isnan(p->value[PROC_FAMILY_CPU][1]));
		} else {
			assert_int_equal(p->pid, 7);
			assert_string_equal(p->name, "python3");
			assert_string_equal(p->container, "");
			assert_true(isnan(p->value[PROC_FAMILY_MEMORY][2]));
			assert_true(p->value[PROC_FAMILY_CPU][3] == 1.25);
		}
	}
	store_process_set_free(&ps);
	store_close(s);
}

static void gpu_list_and_models(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_writer(f->path, 5, 0);
	write_seconds(s, 3, T0, T0 + 9);
	write_seconds(s, 1, T0 + 10, T0 + 19); /* GPUs 1 and 2 stop at T0 + 9 */
	store_flush(s);
	struct store_gpu_info *list;
	size_t n;
	assert_int_equal(store_list_gpus(s, T0, T0 + 100, &list, &n), STORE_OK);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].uuid, "GPU-00000000-test");
	assert_string_equal(list[0].model, "NVIDIA H200");
	assert_int_equal(list[0].first_t, T0);
	assert_int_equal(list[0].last_t, T0 + 19);
	assert_int_equal(list[2].last_t, T0 + 9);
	store_gpu_list_free(list, n);
	assert_int_equal(store_list_gpus(s, T0 + 12, T0 + 100, &list, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].first_t, T0 + 12);
	store_gpu_list_free(list, n);
	assert_int_equal(store_list_gpus(s, T0 + 1000, T0 + 2000, &list, &n), STORE_OK);
	assert_int_equal(n, 0);
	store_gpu_list_free(list, n);
	store_close(s);
}

static void second_written_twice_keeps_later(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_writer(f->path, 5, 0);
	struct store_gpu_row row = {.uuid = "GPU-x", .t = T0};
	double raw[METRIC_COUNT];
	for (int m = 0; m < METRIC_COUNT; m++)
		raw[m] = NAN;
	row.raw = raw;
	raw[METRIC_ENERGY] = 1000;
	assert_int_equal(store_put_gpu(s, &row), STORE_OK);
	assert_int_equal(store_flush(s), STORE_OK);
	raw[METRIC_ENERGY] = 2000; /* the agent restarted within the second */
	assert_int_equal(store_put_gpu(s, &row), STORE_OK);
	assert_int_equal(store_close(s), STORE_OK);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM gpu_second"), 1);
	assert_int_equal(sql_int(f->path, "SELECT energy FROM gpu_second"), 2000);
}

/* The columns follow the metric table: 3 per windowed metric, 1 per other
 * stored metric, none for run-time-labelled rows; the catalog and the views
 * agree, and the views give Prometheus base units. */
static void columns_follow_metric_table(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_writer(f->path, 5, 0);
	write_seconds(s, 1, T0, T0);
	store_close(s);

	int64_t want = 0;
	char name[64];
	for (int m = 0; m < METRIC_COUNT; m++) {
		if (metric_dynamic_label(m)) {
			assert_false(store_column_name(m, STORE_MEAN, name, sizeof(name)));
			continue;
		}
		want += metric_windowed(m) ? 3 : 1;
	}
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM pragma_table_info('gpu_second')"),
	                 want + 2);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM pragma_table_info('gpu_minute')"),
	                 want + 3);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM metric_columns"), want);
	assert_int_equal(sql_int(f->path, "SELECT count(DISTINCT name) FROM metric_columns"), want);
	assert_true(store_column_name(METRIC_GPU_UTIL, STORE_MAX, name, sizeof(name)));
	assert_string_equal(name, "max_gpu_util");
	assert_true(store_column_name(METRIC_ENERGY, STORE_MAX, name, sizeof(name)));
	assert_string_equal(name, "energy");

	/* Views: ratio, watts, hertz, bytes/s and joules from the stored integers. */
	char sql[512];
	snprintf(
	    sql, sizeof(sql),
	    "SELECT mean_gpu_util = %.17g AND mean_power = %.17g AND max_sm_clock = %.17g "
	    "AND mean_gpm_pcie_tx = %.17g AND energy = %.17g AND uuid = 'GPU-00000000-test' "
	    "AND time = datetime(%lld, 'unixepoch') FROM gpu_second_v",
	    metric_native_value(UNIT_PERCENT, synth_value(0, T0, METRIC_GPU_UTIL, STORE_MEAN)),
	    metric_native_value(UNIT_MILLIWATTS, synth_value(0, T0, METRIC_POWER, STORE_MEAN)),
	    metric_native_value(UNIT_MEGAHERTZ, synth_value(0, T0, METRIC_SM_CLOCK, STORE_MAX)),
	    metric_native_value(UNIT_MIB_PER_S, synth_value(0, T0, METRIC_GPM_PCIE_TX, STORE_MEAN)),
	    metric_native_value(UNIT_MILLIJOULES, synth_value(0, T0, METRIC_ENERGY, STORE_MEAN)),
	    (long long)T0);
	assert_int_equal(sql_int(f->path, sql), 1);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM metric_columns WHERE name = "
	                                  "'mean_gpu_util' AND metric = "
	                                  "'gpuscope_gpu_utilization_ratio' AND stat = 'mean' AND "
	                                  "to_native = '/10000'"),
	                 1);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM pragma_journal_mode WHERE "
	                                  "journal_mode = 'wal'"),
	                 1);
	assert_int_equal(sql_int(f->path, "PRAGMA application_id"), 0x47505553);

	/* Reopening an up-to-date file writes nothing. */
	size_t len1, len2;
	unsigned char *before = file_read(f->path, &len1);
	s = open_writer(f->path, 5, 0);
	store_close(s);
	unsigned char *after = file_read(f->path, &len2);
	assert_int_equal(len1, len2);
	assert_memory_equal(before, after, len1);
	free(before);
	free(after);
}

/* Every unit's quantum and view factor agree with metric_native_value, and a
 * stored step is no coarser than the unit's natural resolution. */
static void unit_conversions_agree(void **state)
{
	(void)state;
	for (int m = 0; m < METRIC_COUNT; m++) {
		if (metric_dynamic_label(m))
			continue;
		const struct store_unit *u = store_unit_of(m);
		enum metric_unit unit = metric_table[m].unit;
		assert_true(u->scale >= 1);
		static const double stored[] = {-3,   0,     1,     7,         99,
		                                4523, 10000, 19805, 123456789, 4e12};
		for (size_t i = 0; i < sizeof(stored) / sizeof(stored[0]); i++) {
			double k = stored[i];
			double native = metric_native_value(unit, k / u->scale);
			double view = k * u->mul / u->div;
			if (!near(native, view))
				fail_msg("%s: %g stored -> %.17g native, view %.17g",
				         metric_table[m].name, k, native, view);
		}
	}
}

int test_roundtrip_run(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(every_metric_round_trips, setup, teardown),
	    cmocka_unit_test_setup_teardown(absent_is_null_not_zero, setup, teardown),
	    cmocka_unit_test_setup_teardown(stored_quantum, setup, teardown),
	    cmocka_unit_test_setup_teardown(processes_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(gpu_list_and_models, setup, teardown),
	    cmocka_unit_test_setup_teardown(second_written_twice_keeps_later, setup, teardown),
	    cmocka_unit_test_setup_teardown(columns_follow_metric_table, setup, teardown),
	    cmocka_unit_test(unit_conversions_agree),
	};
	return cmocka_run_group_tests_name("store.roundtrip", tests, NULL, NULL);
}
