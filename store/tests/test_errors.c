/* test_errors.c - failure is an input: a read-only directory or file, a full disk
 * (simulated with PRAGMA max_page_count through max_bytes), a missing directory, a
 * directory in the way, a non-SQLite file and a damaged history.  Each gives a STORE_E*
 * code and a message that names the path and what to do; none crashes; none writes to a
 * file it refused.  Permission tests run as "nobody" when the tests run as root (root
 * ignores file modes). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

static int try_open(const char *path, bool read_only, char *err, size_t len)
{
	struct store_options o;
	struct store *s = NULL;
	store_options_default(&o);
	o.read_only = read_only;
	int rc = store_open(path, &o, &s, err, len);
	if (rc == STORE_OK)
		store_close(s);
	else
		assert_null(s);
	return rc;
}

/* The permission cases, run in a process whose file modes are enforced.
 * Returns a failure line or NULL; never uses cmocka (it may be a child). */
static const char *permission_cases(const char *dir)
{
	static char why[2400];
	char err[1024];
	char rodir[600], newfile[700], rofile[700], histdir[600], hist[700];
	int rc;

	snprintf(rodir, sizeof(rodir), "%s/ro", dir);
	snprintf(newfile, sizeof(newfile), "%s/history.db", rodir);
	if (mkdir(rodir, 0555) != 0)
		return "mkdir ro";
	rc = try_open(newfile, false, err, sizeof(err));
	if (rc != STORE_ECANTOPEN && rc != STORE_EREADONLY)
		return snprintf(why, sizeof(why), "new file in read-only dir: %s",
		                store_error_name(rc)),
		       why;
	if (!strstr(err, newfile) || !strstr(err, "writable"))
		return snprintf(why, sizeof(why), "unclear message: %s", err), why;
	if (access(newfile, F_OK) == 0)
		return "a file appeared in the read-only directory";

	/* A history whose file is read-only, in a writable directory. */
	snprintf(rofile, sizeof(rofile), "%s/rofile.db", dir);
	struct store_options o;
	struct store *s;
	store_options_default(&o);
	if (store_open(rofile, &o, &s, err, sizeof(err)) != STORE_OK)
		return snprintf(why, sizeof(why), "create %s: %s", rofile, err), why;
	struct store_gpu_row row = {.uuid = "GPU-ro", .t = T0};
	if (store_put_gpu(s, &row) != STORE_OK || store_close(s) != STORE_OK)
		return "write before chmod";
	chmod(rofile, 0444);
	rc = try_open(rofile, false, err, sizeof(err));
	if (rc != STORE_EREADONLY)
		return snprintf(why, sizeof(why), "read-only file: %s %s", store_error_name(rc),
		                err),
		       why;
	if (!strstr(err, rofile) || !strstr(err, "read-only"))
		return snprintf(why, sizeof(why), "unclear message: %s", err), why;
	/* ...which `gpuscope query` can still read. */
	rc = try_open(rofile, true, err, sizeof(err));
	if (rc != STORE_OK)
		return snprintf(why, sizeof(why), "reader of read-only file: %s", err), why;

	/* A history in a directory made read-only afterwards. */
	snprintf(histdir, sizeof(histdir), "%s/hist", dir);
	snprintf(hist, sizeof(hist), "%s/history.db", histdir);
	mkdir(histdir, 0755);
	if (store_open(hist, &o, &s, err, sizeof(err)) != STORE_OK)
		return snprintf(why, sizeof(why), "create %s: %s", hist, err), why;
	store_put_gpu(s, &row);
	store_close(s);
	chmod(histdir, 0555);
	rc = try_open(hist, false, err, sizeof(err));
	if (rc != STORE_ECANTOPEN && rc != STORE_EREADONLY)
		return snprintf(why, sizeof(why), "read-only dir: %s %s", store_error_name(rc),
		                err),
		       why;
	if (!strstr(err, hist))
		return snprintf(why, sizeof(why), "unclear message: %s", err), why;
	chmod(histdir, 0755);
	return NULL;
}

static void read_only_paths(void **state)
{
	struct fixture *f = *state;
	if (geteuid() != 0) {
		const char *why = permission_cases(f->dir);
		if (why)
			fail_msg("%s", why);
		return;
	}
	/* Root ignores modes: run the cases as nobody, in a directory nobody owns. */
	char *sub = path_join(f->dir, "nobody");
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(chown(sub, 65534, 65534), 0);
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pipefd[0]);
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(3);
		const char *why = permission_cases(sub);
		if (why && write(pipefd[1], why, strlen(why)) < 0)
			_exit(4);
		_exit(why ? 1 : 0);
	}
	close(pipefd[1]);
	char why[2400] = "";
	ssize_t n = read(pipefd[0], why, sizeof(why) - 1);
	why[n > 0 ? n : 0] = '\0';
	close(pipefd[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("as nobody: %s (status %d)", why, status);
	free(sub);
}

static void missing_directory_and_directory_in_the_way(void **state)
{
	struct fixture *f = *state;
	char err[1024];
	char *p = path_join(f->dir, "no/such/dir/history.db");
	assert_int_equal(try_open(p, false, err, sizeof(err)), STORE_ECANTOPEN);
	assert_non_null(strstr(err, p));
	assert_non_null(strstr(err, "directory exists"));
	free(p);
	assert_int_equal(try_open(f->dir, false, err, sizeof(err)), STORE_ECANTOPEN);
	assert_int_equal(try_open(f->path, true, err, sizeof(err)), STORE_ECANTOPEN);
	assert_non_null(strstr(err, f->path));
	struct store_options o;
	struct store *s;
	store_options_default(&o);
	o.batch_seconds = 0;
	assert_int_equal(store_open(f->path, &o, &s, err, sizeof(err)), STORE_EINVAL);
	assert_non_null(strstr(err, "batch_seconds"));
	store_options_default(&o);
	o.minute_retention_s = 60;
	assert_int_equal(store_open(f->path, &o, &s, err, sizeof(err)), STORE_EINVAL);
	store_options_default(&o);
	o.cache_kib = -1;
	assert_int_equal(store_open(f->path, &o, &s, err, sizeof(err)), STORE_EINVAL);
	assert_non_null(strstr(err, "cache_kib"));
}

static void disk_full(void **state)
{
	struct fixture *f = *state;
	struct store_options o;
	struct store *s;
	char err[1024];
	store_options_default(&o);
	o.max_bytes = 320 * 1024; /* 80 pages: the schema (one column per metric) and some rows */
	o.batch_seconds = 2;
	assert_int_equal(store_open(f->path, &o, &s, err, sizeof(err)), STORE_OK);

	int rc = STORE_OK;
	int64_t t = T0;
	struct synth_row r;
	for (; t < T0 + 100000 && rc == STORE_OK; t++)
		for (int g = 0; g < 4 && rc == STORE_OK; g++) {
			synth_fill(&r, g, t);
			rc = store_put_gpu(s, &r.row);
		}
	assert_int_equal(rc, STORE_EFULL);
	assert_non_null(strstr(store_errmsg(s), f->path));
	assert_non_null(strstr(store_errmsg(s), "disk full"));
	assert_non_null(strstr(store_errmsg(s), "Free space"));
	struct store_stats st;
	store_get_stats(s, &st);
	assert_true(st.rows_dropped > 0);
	assert_true(st.batches > 0);
	int64_t committed = st.committed_t;

	/* It keeps failing cleanly, and reading still works. */
	for (int i = 0; i < 20; i++, t++) {
		synth_fill(&r, 0, t);
		rc = store_put_gpu(s, &r.row);
		assert_true(rc == STORE_OK || rc == STORE_EFULL);
	}
	rc = store_flush(s);
	assert_true(rc == STORE_OK || rc == STORE_EFULL);
	store_get_stats(s, &st);
	committed = st.committed_t;
	struct store_request req = {METRIC_POWER, STORE_MEAN};
	struct store_series out;
	assert_int_equal(
	    store_query(s, "GPU-00000003-test", T0, T0 + 20, &req, 1, STORE_RES_SECOND, &out),
	    STORE_OK);
	/* Rows were committed before the disk filled, and every committed one reads back. */
	assert_true(committed >= T0);
	for (size_t i = 0; i < out.n && T0 + (int64_t)i <= committed; i++)
		assert_true(
		    near(out.values[i], synth_value(3, T0 + (int64_t)i, METRIC_POWER, STORE_MEAN)));
	store_series_free(&out);
	assert_int_equal(store_check(s, false), STORE_OK);
	store_close(s);

	char ok[200];
	integrity(f->path, ok, sizeof(ok));
	assert_string_equal(ok, "ok");
	assert_int_equal(sql_int(f->path, "SELECT max(t) FROM gpu_second"), committed);

	/* With room again (no cap), writing resumes where it was. */
	s = open_writer(f->path, 2, 0);
	write_seconds(s, 4, committed + 1, committed + 10);
	assert_int_equal(store_close(s), STORE_OK);
	char sql[120];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM gpu_second WHERE t > %lld",
	         (long long)committed);
	assert_int_equal(sql_int(f->path, sql), 40);
}

static void not_a_database(void **state)
{
	struct fixture *f = *state;
	unsigned char junk[8192];
	unsigned seed = 12345;
	for (size_t i = 0; i < sizeof(junk); i++) {
		seed = seed * 1103515245u + 12345u;
		junk[i] = (unsigned char)(seed >> 16);
	}
	const char *texts[] = {"this is a config file, not a database\n", NULL};
	for (int k = 0; k < 2; k++) {
		const void *data = k == 0 ? (const void *)junk : texts[0];
		size_t len = k == 0 ? sizeof(junk) : strlen(texts[0]);
		file_write(f->path, data, len);
		char err[1024];
		assert_int_equal(try_open(f->path, false, err, sizeof(err)), STORE_ENOTDB);
		assert_non_null(strstr(err, f->path));
		assert_non_null(strstr(err, "not an SQLite database"));
		assert_non_null(strstr(err, "left untouched"));
		assert_int_equal(try_open(f->path, true, err, sizeof(err)), STORE_ENOTDB);
		size_t got;
		unsigned char *after = file_read(f->path, &got);
		assert_int_equal(got, len);
		assert_memory_equal(after, data, len);
		free(after);
	}
}

/* A history with damaged pages: refused by the writer (quick_check) and left
 * as it was; a reader, and a writer told not to check, fail cleanly. */
static void damaged_history(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_writer(f->path, 5, 0);
	write_seconds(s, 4, T0, T0 + 299);
	assert_int_equal(store_close(s), STORE_OK);
	size_t len;
	unsigned char *data = file_read(f->path, &len);
	assert_true(len > 40 * 4096);
	/* Scribble over pages 10..30, keep the header and the schema page. */
	for (size_t i = 9 * 4096; i < 30 * 4096; i++)
		data[i] = (unsigned char)(i * 31 + 7);
	file_write(f->path, data, len);

	char err[1024];
	assert_int_equal(try_open(f->path, false, err, sizeof(err)), STORE_ECORRUPT);
	assert_non_null(strstr(err, f->path));
	assert_non_null(strstr(err, "corrupt"));
	assert_non_null(strstr(err, "Move it away"));
	size_t len2;
	unsigned char *after = file_read(f->path, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(data, after, len);
	free(after);

	/* Without the check: every call returns (an error or data), none crashes. */
	struct store_options o;
	store_options_default(&o);
	o.verify_on_open = false;
	int rc = store_open(f->path, &o, &s, err, sizeof(err));
	if (rc == STORE_OK) {
		struct store_request req = {METRIC_POWER, STORE_MEAN};
		struct store_series out;
		for (int g = 0; g < 4; g++) {
			char uuid[64];
			snprintf(uuid, sizeof(uuid), "GPU-%08d-test", g);
			if (store_query(s, uuid, T0, T0 + 299, &req, 1, STORE_RES_AUTO, &out) ==
			    STORE_OK)
				store_series_free(&out);
		}
		struct store_gpu_info *list;
		size_t n;
		if (store_list_gpus(s, T0, T0 + 299, &list, &n) == STORE_OK)
			store_gpu_list_free(list, n);
		for (int64_t t = T0 + 300; t < T0 + 400; t++) {
			struct synth_row r;
			synth_fill(&r, 0, t);
			store_put_gpu(s, &r.row);
		}
		store_maintain(s, T0 + 10 * 86400, NULL);
		assert_int_equal(store_check(s, false), STORE_ECORRUPT);
		assert_non_null(strstr(store_errmsg(s), "integrity check failed"));
		store_close(s);
	} else {
		assert_true(rc == STORE_ECORRUPT || rc == STORE_ENOTDB);
	}
	free(data);
}

int test_errors_run(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(read_only_paths, setup, teardown),
	    cmocka_unit_test_setup_teardown(missing_directory_and_directory_in_the_way, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(disk_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(not_a_database, setup, teardown),
	    cmocka_unit_test_setup_teardown(damaged_history, setup, teardown),
	};
	return cmocka_run_group_tests_name("store.errors", tests, NULL, NULL);
}
