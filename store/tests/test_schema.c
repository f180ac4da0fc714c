/* test_schema.c - schema versions: a file written with fewer metrics gains their columns
 * on open (ALTER TABLE ADD COLUMN), keeps its rows and reads NULL for the new columns; a
 * reader of such a file reads NaN; a newer schema version, or an SQLite file that is not a
 * history, is refused with a clear message and left byte for byte as it was. */
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

/* Turns a current file into one written before GPU_UTIL and ENERGY existed:
 * their columns, catalog rows and the views that name them are gone. */
static void make_older(const char *path)
{
	sql_exec(path,
	         "DROP VIEW gpu_second_v; DROP VIEW gpu_minute_v;"
	         "ALTER TABLE gpu_second DROP COLUMN mean_gpu_util;"
	         "ALTER TABLE gpu_second DROP COLUMN max_gpu_util;"
	         "ALTER TABLE gpu_second DROP COLUMN min_gpu_util;"
	         "ALTER TABLE gpu_second DROP COLUMN energy;"
	         "ALTER TABLE gpu_minute DROP COLUMN mean_gpu_util;"
	         "ALTER TABLE gpu_minute DROP COLUMN max_gpu_util;"
	         "ALTER TABLE gpu_minute DROP COLUMN min_gpu_util;"
	         "ALTER TABLE gpu_minute DROP COLUMN energy;"
	         "DELETE FROM metric_columns WHERE name LIKE '%_gpu_util' OR name = 'energy';");
}

static void older_file_gains_columns(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_writer(f->path, 5, 0);
	write_seconds(s, 1, T0, T0 + 4);
	store_close(s);
	make_older(f->path);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM pragma_table_info('gpu_second') "
	                                  "WHERE name = 'mean_gpu_util'"),
	                 0);

	/* A reader does not change the file; the missing columns read NaN. */
	s = open_reader(f->path);
	struct store_request req[] = {
	    {METRIC_GPU_UTIL, STORE_MEAN}, {METRIC_ENERGY, STORE_MEAN}, {METRIC_POWER, STORE_MAX}};
	struct store_series out;
	assert_int_equal(
	    store_query(s, "GPU-00000000-test", T0, T0 + 4, req, 3, STORE_RES_AUTO, &out),
	    STORE_OK);
	assert_true(isnan(out.values[0]));
	assert_true(isnan(out.values[5]));
	assert_true(near(out.values[10], synth_value(0, T0, METRIC_POWER, STORE_MAX)));
	store_series_free(&out);
	store_close(s);

	/* A writer adds them; old rows keep NULL, new rows fill them. */
	s = open_writer(f->path, 5, 0);
	write_seconds(s, 1, T0 + 5, T0 + 9);
	assert_int_equal(store_flush(s), STORE_OK);
	assert_int_equal(
	    store_query(s, "GPU-00000000-test", T0, T0 + 9, req, 3, STORE_RES_AUTO, &out),
	    STORE_OK);
	for (size_t i = 0; i < 10; i++) {
		int64_t t = T0 + (int64_t)i;
		assert_true(near(out.values[i],
		                 i < 5 ? NAN : synth_value(0, t, METRIC_GPU_UTIL, STORE_MEAN)));
		assert_true(near(out.values[10 + i],
		                 i < 5 ? NAN : synth_value(0, t, METRIC_ENERGY, STORE_MEAN)));
		assert_true(near(out.values[20 + i], synth_value(0, t, METRIC_POWER, STORE_MAX)));
	}
	store_series_free(&out);
	store_close(s);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM gpu_second WHERE energy IS NULL"),
	                 5);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM metric_columns WHERE name = "
	                                  "'min_gpu_util'"),
	                 1);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM gpu_second_v WHERE max_gpu_util IS "
	                                  "NOT NULL"),
	                 5);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM gpu_minute_v"), 0);
	assert_int_equal(sql_int(f->path, "SELECT max(version) FROM schema_version"),
	                 STORE_SCHEMA_VERSION);
	char ok[200];
	integrity(f->path, ok, sizeof(ok));
	assert_string_equal(ok, "ok");
}

static void newer_version_refused_untouched(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_writer(f->path, 5, 0);
	write_seconds(s, 1, T0, T0 + 4);
	store_close(s);
	sql_exec(f->path, "INSERT INTO schema_version VALUES(99, 0, '9.9.9')");
	size_t len1, len2;
	unsigned char *before = file_read(f->path, &len1);

	struct store_options o;
	store_options_default(&o);
	char err[1024];
	assert_int_equal(store_open(f->path, &o, &s, err, sizeof(err)), STORE_ENEWER);
	assert_null(s);
	assert_non_null(strstr(err, f->path));
	assert_non_null(strstr(err, "newer gpuscope"));
	assert_non_null(strstr(err, "99"));
	o.read_only = true;
	assert_int_equal(store_open(f->path, &o, &s, err, sizeof(err)), STORE_ENEWER);

	unsigned char *after = file_read(f->path, &len2);
	assert_int_equal(len1, len2);
	assert_memory_equal(before, after, len1);
	free(before);
	free(after);
}

static void foreign_sqlite_refused_untouched(void **state)
{
	struct fixture *f = *state;
	sql_exec(f->path, "CREATE TABLE invoices(id INTEGER PRIMARY KEY, total REAL);"
	                  "INSERT INTO invoices(total) VALUES (12.5);");
	size_t len1, len2;
	unsigned char *before = file_read(f->path, &len1);
	struct store *s;
	char err[1024];
	assert_int_equal(store_open(f->path, NULL, &s, err, sizeof(err)), STORE_ENOTDB);
	assert_non_null(strstr(err, f->path));
	assert_non_null(strstr(err, "not a gpuscope history"));
	unsigned char *after = file_read(f->path, &len2);
	assert_int_equal(len1, len2);
	assert_memory_equal(before, after, len1);
	free(before);
	free(after);
	/* Still a rollback-journal file: WAL mode was not switched on. */
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM pragma_journal_mode WHERE "
	                                  "journal_mode = 'delete'"),
	                 1);
}

/* An empty file (0 bytes) is a new history; a reader of one is told so. */
static void empty_file(void **state)
{
	struct fixture *f = *state;
	file_write(f->path, "", 0);
	struct store_options o;
	store_options_default(&o);
	o.read_only = true;
	struct store *s;
	char err[1024];
	assert_int_equal(store_open(f->path, &o, &s, err, sizeof(err)), STORE_ENOENT);
	assert_non_null(strstr(err, "empty"));
	s = open_writer(f->path, 5, 0);
	write_seconds(s, 1, T0, T0);
	assert_int_equal(store_close(s), STORE_OK);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM gpu_second"), 1);
}

int test_schema_run(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(older_file_gains_columns, setup, teardown),
	    cmocka_unit_test_setup_teardown(newer_version_refused_untouched, setup, teardown),
	    cmocka_unit_test_setup_teardown(foreign_sqlite_refused_untouched, setup, teardown),
	    cmocka_unit_test_setup_teardown(empty_file, setup, teardown),
	};
	return cmocka_run_group_tests_name("store.schema", tests, NULL, NULL);
}
