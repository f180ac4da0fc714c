/* test_migrate.c - layout 1 files become layout 2 in place and never lose a row; the
 * rollups read the same minutes as the seconds they summarize.
 *
 * A layout 1 file is made the way the bench makes one (layout1_sql below: the GPU
 * tables rebuilt as rowid tables in arrival order with a (gpu_id, t) index, no
 * rollups, schema version 1) from a history with folded minutes, 1 s rows and
 * processes.  A child opens it as a writer with GPUSCOPE_STORE_MIGRATE_KILL=N, so
 * SQLite's progress callback SIGKILLs it mid-copy, mid-rename or mid-rollup; after
 * each kill the file is intact, still layout 1, and reads exactly as before.  The
 * migration that finally completes gives layout 2 with the same series, and a reader
 * of the layout 1 file (which folds seconds on the fly) agrees with the rollups.
 * Readers do not map the file. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store/internal.h"
#include "store/tests/helpers.h"

#define GPUS 3
#define RET  1800 /* 1 s retention: the first part of the history is folded */
#define SPAN 5400 /* seconds written */

/* The layout 1 tables from a layout 2 file (also in bench/report_speed.sh). */
static const char layout1_sql[] =
    "BEGIN;"
    "DROP VIEW IF EXISTS gpu_second_v; DROP VIEW IF EXISTS gpu_minute_v;"
    "CREATE TABLE gpu_second_l1 AS SELECT * FROM gpu_second WHERE 0;"
    "INSERT INTO gpu_second_l1 SELECT * FROM gpu_second ORDER BY t, gpu_id;"
    "DROP TABLE gpu_second; ALTER TABLE gpu_second_l1 RENAME TO gpu_second;"
    "CREATE UNIQUE INDEX gpu_second_key ON gpu_second(gpu_id, t);"
    "CREATE TABLE gpu_minute_l1 AS SELECT * FROM gpu_minute WHERE 0;"
    "INSERT INTO gpu_minute_l1 SELECT * FROM gpu_minute ORDER BY t, gpu_id;"
    "DROP TABLE gpu_minute; ALTER TABLE gpu_minute_l1 RENAME TO gpu_minute;"
    "CREATE UNIQUE INDEX gpu_minute_key ON gpu_minute(gpu_id, t);"
    "DROP VIEW IF EXISTS proc_second_v;"
    "CREATE TABLE proc_second_l1(t INTEGER NOT NULL, gpu_id INTEGER NOT NULL, proc_id "
    "INTEGER NOT NULL, gpu_mem_bytes REAL, sm_util REAL, cpu_cores REAL, PRIMARY KEY(t, "
    "gpu_id, proc_id)) WITHOUT ROWID;"
    "INSERT INTO proc_second_l1 SELECT t, gpu_id, proc_id, gpu_mem_bytes, sm_util, cpu_cores "
    "FROM proc_second;"
    "DROP TABLE proc_second; ALTER TABLE proc_second_l1 RENAME TO proc_second;"
    "DROP TABLE gpu_rollup; UPDATE schema_version SET version = 1;"
    "COMMIT;";

struct fixture {
	char *dir, *path;
	struct store_series sec[GPUS], min[GPUS]; /* what layout 1 reads */
	int64_t rows_sec, rows_min, rows_proc;
};

static const struct store_request req[] = {
    {METRIC_GPU_UTIL, STORE_MEAN}, {METRIC_GPU_UTIL, STORE_MAX}, {METRIC_POWER, STORE_MIN},
    {METRIC_ENERGY, STORE_MEAN},   {METRIC_FB_USED, STORE_MAX},
};
#define NREQ (sizeof(req) / sizeof(req[0]))

static void uuid_of(int g, char *buf, size_t len)
{
	struct synth_row r;
	synth_fill(&r, g, T0);
	snprintf(buf, len, "%s", r.uuid);
}

static void read_all(const char *path, struct store_series *sec, struct store_series *min)
{
	struct store *s = open_reader(path);
	for (int g = 0; g < GPUS; g++) {
		char uuid[64];
		uuid_of(g, uuid, sizeof(uuid));
		assert_int_equal(store_query(s, uuid, T0 + RET, T0 + SPAN - 1, req, NREQ,
		                             STORE_RES_SECOND, &sec[g]),
		                 STORE_OK);
		assert_int_equal(
		    store_query(s, uuid, T0, T0 + SPAN - 1, req, NREQ, STORE_RES_MINUTE, &min[g]),
		    STORE_OK);
	}
	store_close(s);
}

/* Equal series; at minutes a mean may differ by half a stored quantum, as a
 * rollup (like a folded minute) keeps its mean in the stored quantum. */
static void same_series(const struct store_series *a, const struct store_series *b)
{
	assert_int_equal(a->n, b->n);
	assert_int_equal(a->t0, b->t0);
	assert_int_equal(a->step, b->step);
	for (size_t i = 0; i < a->n * a->nreq; i++) {
		const struct store_request *r = &req[i / a->n];
		double tol = a->step == 60 && r->stat == STORE_MEAN
		                 ? 0.5 / store_unit_of(r->metric)->scale + 1e-9
		                 : 0;
		if (isnan(a->values[i]) || isnan(b->values[i])) {
			assert_true(isnan(a->values[i]) && isnan(b->values[i]));
			continue;
		}
		if (!near(a->values[i], b->values[i]) && fabs(a->values[i] - b->values[i]) > tol)
			fail_msg("point %zu: %.9g != %.9g", i, a->values[i], b->values[i]);
	}
}

static void counts(const char *path, int64_t *sec, int64_t *min, int64_t *proc)
{
	*sec = sql_int(path, "SELECT count(*) FROM gpu_second");
	*min = sql_int(path, "SELECT sum(n) FROM gpu_minute");
	*proc = sql_int(path, "SELECT count(*) FROM proc_second") +
	        sql_int(path, "SELECT count(*) FROM proc_minute");
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->dir = tmpdir_make();
	f->path = path_join(f->dir, "history.db");
	struct store *s = open_writer(f->path, 5, RET);
	for (int64_t t = T0; t < T0 + SPAN; t++) {
		write_seconds(s, GPUS, t, t);
		struct store_process_row p = {
		    .t = t,
		    .uuid = NULL,
		    .pid = 42,
		    .name = "python3",
		    .value = {
		        [PROC_FAMILY_MEMORY] = 1e9, [PROC_FAMILY_SM] = 0.5, [PROC_FAMILY_CPU] = 1}};
		char uuid[64];
		uuid_of(0, uuid, sizeof(uuid));
		p.uuid = uuid;
		assert_int_equal(store_put_process(s, &p), STORE_OK);
	}
	assert_int_equal(store_close(s), STORE_OK);
	assert_true(sql_int(f->path, "SELECT count(*) FROM gpu_minute") > 0);
	assert_true(sql_int(f->path, "SELECT count(*) FROM gpu_rollup") > 0);
	sql_exec(f->path, layout1_sql);
	counts(f->path, &f->rows_sec, &f->rows_min, &f->rows_proc);
	read_all(f->path, f->sec, f->min);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	for (int g = 0; g < GPUS; g++) {
		store_series_free(&f->sec[g]);
		store_series_free(&f->min[g]);
	}
	tmpdir_remove(f->dir);
	free(f->path);
	free(f);
	return 0;
}

static void assert_unchanged(struct fixture *f)
{
	char ok[256];
	int64_t sec, min, proc;
	struct store_series a[GPUS], b[GPUS];
	integrity(f->path, ok, sizeof(ok));
	assert_string_equal(ok, "ok");
	counts(f->path, &sec, &min, &proc);
	assert_int_equal(sec, f->rows_sec);
	assert_int_equal(min, f->rows_min);
	assert_int_equal(proc, f->rows_proc);
	read_all(f->path, a, b);
	for (int g = 0; g < GPUS; g++) {
		same_series(&a[g], &f->sec[g]);
		same_series(&b[g], &f->min[g]);
		store_series_free(&a[g]);
		store_series_free(&b[g]);
	}
}

/* A writer opening the file with the kill hook at callback n: true when it was
 * killed (the migration was under way), false when it finished first. */
static bool migrate_killed_at(const char *path, long n)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char v[32];
		struct store *s;
		char err[1024];
		snprintf(v, sizeof(v), "%ld", n);
		setenv("GPUSCOPE_STORE_MIGRATE_KILL", v, 1);
		int rc = store_open(path, NULL, &s, err, sizeof(err));
		if (rc == STORE_OK)
			store_close(s);
		_exit(rc == STORE_OK ? 0 : 3);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status)) {
		assert_int_equal(WTERMSIG(status), SIGKILL);
		return true;
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	return false;
}

static void test_kill_mid_migration_loses_nothing(void **state)
{
	struct fixture *f = *state;
	int kills = 0;
	/* Callbacks come every 1000 SQLite steps: 1, 4, 16, ... land in the copy of
	 * the seconds, the minutes, the rename and the rollups in turn. */
	for (long n = 1; n < 100000000L; n *= 4) {
		if (!migrate_killed_at(f->path, n))
			break;
		kills++;
		assert_int_equal(sql_int(f->path, "SELECT max(version) FROM schema_version"), 1);
		assert_int_equal(
		    sql_int(f->path,
		            "SELECT count(*) FROM sqlite_master WHERE name = 'gpu_rollup'"),
		    0);
		assert_unchanged(f);
	}
	print_message("migration killed %d times before it completed\n", kills);
	assert_true(kills >= 4);
	/* The run that finished migrated it. */
	assert_int_equal(sql_int(f->path, "SELECT max(version) FROM schema_version"),
	                 STORE_SCHEMA_VERSION);
	assert_unchanged(f);
}

static void test_migration_clusters_and_rolls_up(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_writer(f->path, 5, RET);
	store_close(s);
	assert_int_equal(sql_int(f->path, "SELECT max(version) FROM schema_version"),
	                 STORE_SCHEMA_VERSION);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM sqlite_master WHERE name IN "
	                                  "('gpu_second', 'gpu_minute', 'gpu_rollup') AND sql "
	                                  "LIKE '%WITHOUT ROWID'"),
	                 3);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM sqlite_master WHERE name = "
	                                  "'proc_second' AND sql LIKE '%PRIMARY KEY(gpu_id, t, "
	                                  "proc_id)) WITHOUT ROWID'"),
	                 1);
	/* Every whole minute of 1 s rows has its rollup, and only those. */
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM gpu_rollup"),
	                 sql_int(f->path,
	                         "SELECT count(*) FROM (SELECT DISTINCT gpu_id, t - t % 60 "
	                         "FROM gpu_second)") -
	                     GPUS);
	assert_int_equal(sql_int(f->path, "SELECT sum(n) FROM gpu_rollup"),
	                 sql_int(f->path, "SELECT count(*) FROM gpu_second") - GPUS * 60);
	assert_unchanged(f);
	/* The views are back, over the new tables. */
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM gpu_second_v"), f->rows_sec);
}

static void test_writes_after_migration_keep_rollups_exact(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_writer(f->path, 5, RET);
	/* A second written again into a minute already rolled up, then new minutes. */
	write_seconds(s, GPUS, T0 + SPAN - 100, T0 + SPAN - 100);
	write_seconds(s, GPUS, T0 + SPAN, T0 + SPAN + 179);
	store_close(s);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM gpu_rollup r WHERE n != (SELECT "
	                                  "count(*) FROM gpu_second s WHERE s.gpu_id = r.gpu_id "
	                                  "AND s.t >= r.t AND s.t < r.t + 60)"),
	                 0);
	/* Minutes from rollups equal minutes folded from the seconds on the fly (a
	 * layout 1 copy of the same file). */
	char *copy = path_join(f->dir, "copy.db");
	char sql[600];
	snprintf(sql, sizeof(sql), "VACUUM INTO '%s'", copy);
	sql_exec(f->path, sql);
	sql_exec(copy, layout1_sql);
	struct store_series a[GPUS], b[GPUS], c[GPUS], d[GPUS];
	read_all(f->path, a, b);
	read_all(copy, c, d);
	for (int g = 0; g < GPUS; g++) {
		same_series(&a[g], &c[g]);
		same_series(&b[g], &d[g]);
		store_series_free(&a[g]);
		store_series_free(&b[g]);
		store_series_free(&c[g]);
		store_series_free(&d[g]);
	}
	free(copy);
}

/* A reader opened before the migration keeps working across it and then reads
 * the rollups. */
static void test_reader_open_across_migration(void **state)
{
	struct fixture *f = *state;
	struct store *r = open_reader(f->path);
	char uuid[64];
	struct store_series a, b;
	uuid_of(1, uuid, sizeof(uuid));
	assert_int_equal(store_query(r, uuid, T0, T0 + SPAN - 1, req, NREQ, STORE_RES_MINUTE, &a),
	                 STORE_OK);
	assert_false(r->has_rollup);
	store_close(open_writer(f->path, 5, RET));
	assert_int_equal(store_query(r, uuid, T0, T0 + SPAN - 1, req, NREQ, STORE_RES_MINUTE, &b),
	                 STORE_OK);
	assert_true(r->has_rollup);
	same_series(&b, &a);
	store_series_free(&a);
	store_series_free(&b);
	store_close(r);
}

/* Readers stream through SQLite's page cache: no mapping, whose touched pages
 * would count in the reader's RSS up to the file's size. */
static void test_readers_do_not_map_the_file(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_reader(f->path);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(s->db, "PRAGMA mmap_size", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(st, 0), 0);
	sqlite3_finalize(st);
	store_close(s);
}

static int cache_used_kib(struct store *s)
{
	int used, highwater;
	assert_int_equal(sqlite3_db_status(s->db, SQLITE_DBSTATUS_CACHE_USED, &used, &highwater, 0),
	                 SQLITE_OK);
	return used / 1024;
}

/* A connection's cache holds at most cache_kib of pages, and a reader held open between
 * requests gives its pages back on store_release_memory; reading the same span with
 * SQLite's default cache holds several times more, or the bound proved nothing. */
static void test_cache_bounded_and_given_back(void **state)
{
	struct fixture *f = *state;
	char uuid[64];
	struct store_series a;
	uuid_of(1, uuid, sizeof(uuid));

	struct store *plain = open_reader(f->path);
	assert_int_equal(
	    store_query(plain, uuid, T0, T0 + SPAN - 1, req, NREQ, STORE_RES_SECOND, &a), STORE_OK);
	store_series_free(&a);
	int unbounded = cache_used_kib(plain);
	store_release_memory(plain);
	int released = cache_used_kib(plain);

	struct store_options o;
	struct store *small;
	char err[1024];
	store_options_default(&o);
	o.read_only = true;
	o.cache_kib = 64;
	assert_int_equal(store_open(f->path, &o, &small, err, sizeof(err)), STORE_OK);
	assert_int_equal(
	    store_query(small, uuid, T0, T0 + SPAN - 1, req, NREQ, STORE_RES_SECOND, &a), STORE_OK);
	store_series_free(&a);
	int bounded = cache_used_kib(small);
	assert_true(unbounded > 3 * 64);
	assert_true(bounded <= 64 + 16); /* pcache's own headers on top of the pages */
	assert_true(released < 16);
	store_close(small);
	store_close(plain);
}

int test_migrate_run(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_kill_mid_migration_loses_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migration_clusters_and_rolls_up, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_writes_after_migration_keep_rollups_exact, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_readers_do_not_map_the_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cache_bounded_and_given_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reader_open_across_migration, setup, teardown),
	};
	return cmocka_run_group_tests_name("migrate", tests, NULL, NULL);
}
