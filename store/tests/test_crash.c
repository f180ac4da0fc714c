/* test_crash.c - kill -9 at random moments never corrupts the history and loses at
 * most the open batch.
 *
 * A child writes 8 GPUs and 16 processes per simulated second as fast as it can, with
 * 5 s batches and a 10-minute 1 s retention, so that commits, WAL checkpoints and
 * folding into minutes all run while it may be killed.  After each commit it reports
 * the committed second on a pipe.  The parent SIGKILLs it after a random delay, then
 * checks the file: PRAGMA integrity_check is "ok"; the 1 s rows of every GPU are
 * contiguous and end on a batch boundary at or after the last reported commit; the
 * minutes before them are all there, whole (n = 60); process rows and minutes match;
 * interning kept one processes row per process.  A new child then resumes from the
 * next second, as the agent does after a restart, and the cycle repeats. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store/tests/helpers.h"

#define GPUS      8
#define PROCS     2 /* per GPU */
#define BATCH     5
#define RETENTION 600
#define ROUNDS    8

static void child_write(const char *path, int wfd, int64_t start)
{
	struct store_options o;
	struct store *s;
	char err[1024];
	store_options_default(&o);
	o.batch_seconds = BATCH;
	o.second_retention_s = RETENTION;
	o.minute_retention_s = 30 * 86400;
	if (store_open(path, &o, &s, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "child: %s\n", err);
		_exit(10);
	}
	int64_t reported = INT64_MIN;
	struct synth_row r;
	for (int64_t t = start;; t++) {
		for (int g = 0; g < GPUS; g++) {
			synth_fill(&r, g, t);
			if (store_put_gpu(s, &r.row) != STORE_OK) {
				fprintf(stderr, "child: %s\n", store_errmsg(s));
				_exit(11);
			}
			for (int k = 0; k < PROCS; k++) {
				char name[32];
				snprintf(name, sizeof(name), "worker-%d", k);
				struct store_process_row p = {
				    .t = t,
				    .uuid = r.uuid,
				    .pid = (unsigned)(1000 + g * 10 + k),
				    .name = name,
				    .pod = "pod-a",
				    .namespace_ = "ns",
				    .value = {[PROC_FAMILY_MEMORY] = (double)(t % 1000),
				              [PROC_FAMILY_SM] = 0.5,
				              [PROC_FAMILY_CPU] = 1.0}};
				if (store_put_process(s, &p) != STORE_OK) {
					fprintf(stderr, "child: %s\n", store_errmsg(s));
					_exit(12);
				}
			}
		}
		struct store_stats st;
		store_get_stats(s, &st);
		if (st.committed_t != reported) {
			reported = st.committed_t;
			if (write(wfd, &reported, sizeof(reported)) != sizeof(reported))
				_exit(13);
		}
	}
}

static int64_t q(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int64_t q(const char *path, const char *fmt, ...)
{
	char sql[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	return sql_int(path, sql);
}

/* Checks the file after a kill; returns the last second on disk. */
static int64_t check_file(const char *path, int64_t reported, unsigned seed, int round)
{
	char ok[300];
	integrity(path, ok, sizeof(ok));
	if (strcmp(ok, "ok") != 0)
		fail_msg("seed %u round %d: integrity_check: %s", seed, round, ok);

	if (q(path, "SELECT count(*) FROM sqlite_master WHERE name = 'gpu_second'") == 0)
		return T0 - 1; /* killed while creating the file: the schema rolled back */
	int64_t hi = q(path, "SELECT max(t) FROM gpu_second");
	if (hi == INT64_MIN)
		return T0 - 1; /* killed before the first commit */
	if ((hi - T0 + 1) % BATCH != 0)
		fail_msg("seed %u round %d: last second %lld is not a batch end", seed, round,
		         (long long)(hi - T0));
	if (reported != INT64_MIN && hi < reported)
		fail_msg("seed %u round %d: committed %lld reported, only %lld on disk", seed,
		         round, (long long)(reported - T0), (long long)(hi - T0));

	for (int g = 1; g <= GPUS; g++) {
		int64_t lo = q(path, "SELECT min(t) FROM gpu_second WHERE gpu_id = %d", g);
		int64_t ghi = q(path, "SELECT max(t) FROM gpu_second WHERE gpu_id = %d", g);
		int64_t n = q(path, "SELECT count(*) FROM gpu_second WHERE gpu_id = %d", g);
		if (ghi != hi || n != hi - lo + 1 || (lo - T0) % 60 != 0)
			fail_msg("seed %u round %d gpu %d: seconds %lld..%lld, %lld rows", seed,
			         round, g, (long long)(lo - T0), (long long)(ghi - T0),
			         (long long)n);
		int64_t minutes = (lo - T0) / 60;
		assert_int_equal(
		    q(path, "SELECT count(*) FROM gpu_minute WHERE gpu_id = %d AND n = 60", g),
		    minutes);
		assert_int_equal(q(path, "SELECT count(*) FROM gpu_minute WHERE gpu_id = %d", g),
		                 minutes);
		if (minutes) {
			assert_int_equal(
			    q(path, "SELECT min(t) FROM gpu_minute WHERE gpu_id = %d", g), T0);
			assert_int_equal(
			    q(path, "SELECT max(t) FROM gpu_minute WHERE gpu_id = %d", g), lo - 60);
		}
	}
	/* One folded minute, value by value: max of max. */
	if (q(path, "SELECT count(*) FROM gpu_minute") > 0) {
		double want = -INFINITY;
		for (int i = 0; i < 60; i++)
			want = fmax(want, synth_value(0, T0 + i, METRIC_POWER, STORE_MAX));
		assert_int_equal(q(path,
		                   "SELECT max_power FROM gpu_minute WHERE gpu_id = 1 AND t = %lld",
		                   (long long)T0),
		                 (int64_t)want);
	}

	int64_t plo = q(path, "SELECT min(t) FROM proc_second");
	int64_t phi = q(path, "SELECT max(t) FROM proc_second");
	assert_int_equal(phi, hi);
	assert_int_equal((plo - T0) % 60, 0);
	assert_int_equal(q(path, "SELECT count(*) FROM proc_second"),
	                 (hi - plo + 1) * GPUS * PROCS);
	assert_int_equal(q(path, "SELECT count(*) FROM proc_minute WHERE n = 60"),
	                 (plo - T0) / 60 * GPUS * PROCS);
	assert_int_equal(q(path, "SELECT count(*) FROM proc_minute"),
	                 (plo - T0) / 60 * GPUS * PROCS);
	assert_int_equal(q(path, "SELECT count(*) FROM processes"), GPUS * PROCS);
	assert_int_equal(q(path, "SELECT count(*) FROM gpus"), GPUS);
	return hi;
}

static void kill_at_random_moments(void **state)
{
	(void)state;
	char *dir = tmpdir_make();
	char *path = path_join(dir, "history.db");
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	srand(seed);
	int64_t next = T0, progress = 0;

	for (int round = 0; round < ROUNDS; round++) {
		int fds[2];
		assert_int_equal(pipe(fds), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			child_write(path, fds[1], next);
			_exit(0);
		}
		close(fds[1]);
		/* 30-400 ms: opening, the first batches, a checkpoint, folding. */
		struct timespec d = {0, (long)(30 + rand() % 370) * 1000000L};
		nanosleep(&d, NULL);
		assert_int_equal(kill(pid, SIGKILL), 0);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			fail_msg("seed %u round %d: child ended by itself (status %d)", seed, round,
			         status);
		int64_t reported = INT64_MIN, v;
		while (read(fds[0], &v, sizeof(v)) == sizeof(v))
			reported = v;
		close(fds[0]);
		int64_t hi = check_file(path, reported, seed, round);
		progress += hi + 1 - next;
		next = hi + 1;
	}
	print_message("store.crash: %d kills, %lld simulated seconds of 8 GPUs, %lld minutes "
	              "folded\n",
	              ROUNDS, (long long)progress,
	              (long long)q(path, "SELECT count(*) FROM gpu_minute WHERE gpu_id = 1"));
	assert_true(progress > 0);

	/* The agent's next start: verified open, reads, writes. */
	struct store *s = open_writer(path, BATCH, RETENTION);
	assert_int_equal(store_check(s, false), STORE_OK);
	write_seconds(s, GPUS, next, next + 9);
	assert_int_equal(store_close(s), STORE_OK);
	assert_int_equal(q(path, "SELECT max(t) FROM gpu_second"), next + 9);
	free(path);
	tmpdir_remove(dir);
}

int test_crash_run(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(kill_at_random_moments),
	};
	return cmocka_run_group_tests_name("store.crash", tests, NULL, NULL);
}
