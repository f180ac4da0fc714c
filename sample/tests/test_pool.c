/* test_pool.c - the slow-tier worker pool (sample/pool.h).
 *
 * Its rules on made-up slots and times: how many workers, which job next, when
 * a job counts as hung, the grid of due times.  Then the real threads with a
 * fake job that can be made to hang: the other GPUs keep their period, a hung
 * GPU holds one worker and gets no second job, and the threads stay within
 * the pool's size plus the GPUs hung (counted from /proc/self/task by name).
 */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "sample/pool.h"
#include "series/now.h"

static void size_is_bounded(void **state)
{
	(void)state;
	assert_int_equal(pool_size(0), 0);
	assert_int_equal(pool_size(1), 1);
	assert_int_equal(pool_size(3), 3);
	assert_int_equal(pool_size(POOL_WORKERS), POOL_WORKERS);
	assert_int_equal(pool_size(64), POOL_WORKERS);
}

static void pick_takes_the_earliest_due_not_running(void **state)
{
	(void)state;
	struct pool_slot s[4] = {{.due = 5}, {.due = 2}, {.due = 2}, {.due = 1, .running = true}};
	double next;
	/* Nothing due yet: the earliest due of a slot not running (not the running one's). */
	assert_int_equal(pool_pick(s, 4, 1.5, &next), -1);
	assert_true(next == 2);
	/* Two due at once: the lower index; then the other. */
	assert_int_equal(pool_pick(s, 4, 3, &next), 1);
	s[1].running = true;
	assert_int_equal(pool_pick(s, 4, 3, &next), 2);
	s[2].running = true;
	assert_int_equal(pool_pick(s, 4, 3, &next), -1);
	assert_true(next == 5);
	/* A running GPU gets no second job, however overdue. */
	assert_int_equal(pool_pick(s, 4, 100, &next), 0);
	s[0].running = true;
	assert_int_equal(pool_pick(s, 4, 100, &next), -1);
	assert_true(isinf(next));
	/* A GPU with no more jobs is never picked. */
	struct pool_slot gone[2] = {{.due = INFINITY}, {.due = 7}};
	assert_int_equal(pool_pick(gone, 2, 100, &next), 1);
	gone[1].due = INFINITY;
	assert_int_equal(pool_pick(gone, 2, 100, &next), -1);
	assert_true(isinf(next));
}

static void hung_after_a_period_once(void **state)
{
	(void)state;
	assert_true(pool_hung_after(5) == 5);
	assert_true(pool_hung_after(0.5) == POOL_HUNG_MIN_S);
	struct pool_slot s = {.running = true, .since = 10};
	assert_false(pool_slot_hung(&s, 11.9, 2));
	assert_true(pool_slot_hung(&s, 12, 2));
	s.written_off = true; /* its worker is replaced once, not at every watch */
	assert_false(pool_slot_hung(&s, 100, 2));
	struct pool_slot idle = {.since = 0};
	assert_false(pool_slot_hung(&idle, 100, 2));
}

static void grid_is_shared_and_skips_ahead(void **state)
{
	(void)state;
	assert_true(pool_grid_next(100, 5, 100.1) == 105);
	assert_true(pool_grid_next(100, 5, 105) == 110);
	assert_true(pool_grid_next(100, 5, 104.999) == 105);
	/* A step that overran two periods skips to the next point rather than bursting. */
	assert_true(pool_grid_next(100, 5, 112) == 115);
}

/* The threads: GPUs whose job can be made to hang until released. */
#define N_GPUS   8
#define PERIOD_S 0.05
#define HUNG_S   0.5

static struct {
	double origin;
	atomic_int runs[N_GPUS];
	atomic_int in_job[N_GPUS]; /* jobs of the GPU in flight now */
	atomic_bool overlap;       /* a GPU ran on two workers at once */
	atomic_bool hang[N_GPUS];
} job;

static double fake_job(void *arg, unsigned gpu)
{
	(void)arg;
	if (atomic_fetch_add(&job.in_job[gpu], 1) != 0)
		atomic_store(&job.overlap, true);
	atomic_fetch_add(&job.runs[gpu], 1);
	while (atomic_load(&job.hang[gpu])) {
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	atomic_fetch_sub(&job.in_job[gpu], 1);
	return pool_grid_next(job.origin, PERIOD_S, mono_now());
}

/* Threads of this process named "test-pool*". */
static int pool_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;
	assert_non_null(d);
	while ((e = readdir(d))) {
		char path[300], comm[32] = "";
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && strncmp(comm, "test-pool", 9) == 0)
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

/* Runs the pool for `seconds`, calling pool_watch every 100 ms as the watchdog does. */
static void watch_for(struct pool *p, double seconds)
{
	double end = mono_now() + seconds;
	while (mono_now() < end) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
		pool_watch(p);
	}
}

static int runs_of(unsigned gpu)
{
	return atomic_load(&job.runs[gpu]);
}

/* Five of eight GPUs hang, more than the pool's three workers: every hung GPU holds one
 * worker, is replaced, and the three others keep their 50 ms period. */
static void hung_jobs_stall_only_their_gpus(void **state)
{
	(void)state;
	memset(&job, 0, sizeof(job));
	job.origin = mono_now();
	const unsigned hung[] = {0, 2, 3, 5, 6};
	for (size_t i = 0; i < sizeof(hung) / sizeof(hung[0]); i++)
		atomic_store(&job.hang[hung[i]], true);
	struct pool *p = pool_start(N_GPUS, fake_job, NULL, "test-pool", HUNG_S);
	assert_non_null(p);
	assert_int_equal(pool_threads(), POOL_WORKERS);

	watch_for(p, 3 * HUNG_S + 1);
	int before[N_GPUS];
	for (unsigned g = 0; g < N_GPUS; g++)
		before[g] = runs_of(g);
	watch_for(p, 1.0);
	for (size_t i = 0; i < sizeof(hung) / sizeof(hung[0]); i++)
		assert_int_equal(runs_of(hung[i]), 1); /* no second job while the first hangs */
	/* The others ran through that second at about 20 per second (at least a quarter of
	 * it, on a loaded machine). */
	assert_true(runs_of(1) - before[1] >= 5);
	assert_true(runs_of(4) - before[4] >= 5);
	assert_true(runs_of(7) - before[7] >= 5);
	/* The pool's size plus one thread per hung GPU, and never more. */
	assert_int_equal(pool_threads(), POOL_WORKERS + 5);
	assert_false(atomic_load(&job.overlap));

	/* Released, the hung jobs return; their workers leave as the pool is at strength. */
	for (unsigned g = 0; g < N_GPUS; g++)
		atomic_store(&job.hang[g], false);
	watch_for(p, 0.5);
	assert_int_equal(pool_threads(), POOL_WORKERS);
	assert_true(runs_of(0) > 1);
	assert_false(atomic_load(&job.overlap));
	assert_int_equal(pool_stop(p, mono_now() + 2), 0);
	assert_int_equal(pool_threads(), 0);
}

/* A pool left with a worker in the driver stays allocated, as the sampler's does. */
static struct pool *left_behind;

/* A job stuck at stop is left behind and counted. */
static void stop_leaves_a_hung_worker(void **state)
{
	(void)state;
	memset(&job, 0, sizeof(job));
	job.origin = mono_now();
	atomic_store(&job.hang[1], true);
	left_behind = pool_start(2, fake_job, NULL, "test-pool", HUNG_S);
	assert_non_null(left_behind);
	watch_for(left_behind, 0.3);
	assert_int_equal(pool_stop(left_behind, mono_now() + 0.2), 1);
	/* Released, the worker finds the pool stopping and leaves. */
	atomic_store(&job.hang[1], false);
	double end = mono_now() + 2;
	while (pool_threads() > 0 && mono_now() < end)
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	assert_int_equal(pool_threads(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(size_is_bounded),
	    cmocka_unit_test(pick_takes_the_earliest_due_not_running),
	    cmocka_unit_test(hung_after_a_period_once),
	    cmocka_unit_test(grid_is_shared_and_skips_ahead),
	    cmocka_unit_test(hung_jobs_stall_only_their_gpus),
	    cmocka_unit_test(stop_leaves_a_hung_worker),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
