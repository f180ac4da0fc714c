/* test_attrib_clock.c - the CPU-clock path (attrib_clock.h) with real child processes through
 * the real /proc: taken there and only there, stat left alone in steady state, CPU time of a
 * child that burns a known amount, exit, zombie, pid reuse, the fd budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "workload/attrib.h"
#include "workload/tests/test_util.h"

#define SEC      1000000000LL
#define BURN_NS  150000000LL /* CPU each of the busy child's two threads burns */
#define CHILDREN 3

static pid_t child[CHILDREN];

/* Teardown, so a failed assertion leaves no children behind. */
static int kill_children(void **state)
{
	(void)state;
	for (int i = 0; i < CHILDREN; i++) {
		if (child[i] > 0) {
			kill(child[i], SIGKILL);
			waitpid(child[i], NULL, 0);
		}
		child[i] = 0;
	}
	return 0;
}

static pid_t spawn_paused(void)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	return pid;
}

/* The kernel lacks pidfd_open, or a seccomp profile forbids it: the path cannot be taken. */
static bool pidfd_unavailable(void)
{
	int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (fd >= 0) {
		close(fd);
		return false;
	}
	return errno == ENOSYS || errno == EPERM;
}

static int64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

static struct attrib *live_attrib(int max_held_fds, double stat_refresh_s)
{
	struct attrib_config cfg;
	attrib_config_default(&cfg);
	cfg.max_held_fds = max_held_fds;
	cfg.stat_refresh_s = stat_refresh_s;
	cfg.forget_after_s = 1000; /* the tests skip ahead in time */
	struct attrib *a = attrib_create(&cfg);
	assert_non_null(a);
	return a;
}

static void sweep_children(struct attrib *a, int n, int64_t now)
{
	struct attrib_row rows[CHILDREN];
	for (int i = 0; i < n; i++)
		rows[i] = (struct attrib_row){.gpu = (unsigned)i, .pid = child[i]};
	assert_int_equal(attrib_sweep(a, rows, (size_t)n, now, NULL), n);
}

static void taken_on_the_live_procfs_only(void **state)
{
	(void)state;
	/* A fixture tree is no procfs: stat every sweep, no clock. */
	struct attrib_config cfg;
	attrib_config_default(&cfg);
	cfg.root = WORKLOAD_FIXTURES;
	cfg.clock_ticks_per_s = 100;
	struct attrib *a = attrib_create(&cfg);
	assert_non_null(a);
	struct attrib_row row = {.pid = 1003};
	for (int s = 1; s <= 3; s++)
		assert_int_equal(attrib_sweep(a, &row, 1, s * SEC, NULL), 1);
	struct attrib_stats st;
	attrib_get_stats(a, &st);
	assert_false(st.clock_path);
	assert_int_equal(st.stat_reads, 3);
	assert_int_equal(st.clock_reads, 0);
	assert_int_equal(st.held_fds, 0);
	attrib_destroy(a);

	/* The live procfs, but told not to, or with no fds to hold. */
	attrib_config_default(&cfg);
	cfg.stat_every_sweep = true;
	a = attrib_create(&cfg);
	assert_non_null(a);
	attrib_get_stats(a, &st);
	assert_false(st.clock_path);
	attrib_destroy(a);
	a = live_attrib(0, 30);
	attrib_get_stats(a, &st);
	assert_false(st.clock_path);
	attrib_destroy(a);

	if (pidfd_unavailable())
		skip();
	a = live_attrib(256, 30);
	attrib_get_stats(a, &st);
	assert_true(st.clock_path);
	attrib_destroy(a);
}

static void steady_state_reads_clocks_not_stat(void **state)
{
	(void)state;
	if (pidfd_unavailable())
		skip();
	for (int i = 0; i < CHILDREN; i++)
		child[i] = spawn_paused();
	struct attrib *a = live_attrib(256, 60);
	struct attrib_stats st;

	/* First sight: stat, then stat again once the pidfd is open (the reuse check). */
	sweep_children(a, CHILDREN, 1 * SEC);
	attrib_get_stats(a, &st);
	assert_int_equal(st.stat_reads, 2 * CHILDREN);
	assert_int_equal(st.clock_reads, 0);
	assert_int_equal(st.held_fds, CHILDREN);
	for (int i = 0; i < CHILDREN; i++) {
		const struct attrib_process *p = attrib_process_at(a, (size_t)i);
		assert_int_equal(p->status, ATTRIB_OK);
		assert_true(p->new_process);
		assert_int_equal(p->ppid, getpid());
	}

	/* Then the clocks alone, without allocating, until the first stat re-read (0.5 to 1.5
	 * x stat_refresh_s after the first, by pid: 31 to 91 s). */
	uint64_t allocs = test_alloc_count();
	for (int s = 2; s <= 30; s++)
		sweep_children(a, CHILDREN, s * SEC);
	assert_int_equal(test_alloc_count() - allocs, 0);
	attrib_get_stats(a, &st);
	assert_int_equal(st.stat_reads, 2 * CHILDREN);
	assert_int_equal(st.clock_reads, 29 * CHILDREN);
	assert_int_equal(st.clock_discards, 0);
	assert_int_equal(st.identity_reads, CHILDREN);
	for (int i = 0; i < CHILDREN; i++) {
		const struct attrib_process *p = attrib_process_at(a, (size_t)i);
		assert_int_equal(p->status, ATTRIB_OK);
		assert_false(p->new_process);
		assert_true(p->cpu_valid);
		assert_true(p->cpu_cores >= 0 && p->cpu_cores < 0.1); /* paused */
		assert_int_equal(p->ppid, getpid());
	}

	/* At 92 s every child is due one stat re-read, and one cgroup re-read (45-75 s). */
	sweep_children(a, CHILDREN, 92 * SEC);
	attrib_get_stats(a, &st);
	assert_int_equal(st.stat_reads, 3 * CHILDREN);
	assert_int_equal(st.identity_reads, 2 * CHILDREN);
	assert_int_equal(st.held_fds, CHILDREN);
	assert_int_equal(attrib_process_at(a, 0)->status, ATTRIB_OK);
	attrib_destroy(a);
}

static void *burn(void *arg)
{
	(void)arg;
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	int64_t end = (int64_t)ts.tv_sec * SEC + ts.tv_nsec + BURN_NS;
	do
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	while ((int64_t)ts.tv_sec * SEC + ts.tv_nsec < end);
	return NULL;
}

/* Waits for a byte on go, burns BURN_NS on each of two threads, says so on done, pauses. */
static void busy_child(int go, int done)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	char c;
	if (read(go, &c, 1) != 1)
		_exit(1);
	pthread_t other;
	if (pthread_create(&other, NULL, burn, NULL) != 0)
		_exit(1);
	burn(NULL);
	pthread_join(other, NULL);
	if (write(done, "x", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

static void cpu_time_of_a_busy_child(void **state)
{
	(void)state;
	if (pidfd_unavailable())
		skip();
	int go[2], done[2];
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	child[0] = fork();
	assert_true(child[0] >= 0);
	if (child[0] == 0)
		busy_child(go[0], done[1]);
	struct attrib *a = live_attrib(256, 30);
	struct timespec settle = {0, 50 * 1000000L}; /* for the child to block on go */
	nanosleep(&settle, NULL);
	sweep_children(a, 1, monotonic_ns());
	settle.tv_nsec = 20 * 1000000L;
	nanosleep(&settle, NULL);
	sweep_children(a, 1, monotonic_ns()); /* the child waits: no CPU */
	const struct attrib_process *p = attrib_process_at(a, 0);
	assert_true(p->cpu_valid);
	assert_true(p->cpu_cores < 0.05);

	int64_t t0 = monotonic_ns();
	sweep_children(a, 1, t0);
	struct attrib_stats before, after;
	attrib_get_stats(a, &before);
	assert_int_equal(write(go[1], "x", 1), 1);
	char c;
	assert_int_equal(read(done[0], &c, 1), 1);
	int64_t t1 = monotonic_ns();
	sweep_children(a, 1, t1);
	attrib_get_stats(a, &after);
	p = attrib_process_at(a, 0);
	assert_int_equal(p->status, ATTRIB_OK);
	assert_true(p->cpu_valid);
	/* Both threads' CPU, from the clock: 0.3 s, plus starting and joining a thread. On a
	 * busy 2-vCPU box the wall time stretches; the CPU seconds do not. The kernel sums a
	 * running thread's time as of its last tick, hence a little slack below. */
	double cpu_s = p->cpu_cores * (double)(t1 - t0) / SEC;
	if (cpu_s < 2.0 * BURN_NS / SEC - 0.02 || cpu_s > 2.0 * BURN_NS / SEC + 0.15)
		fail_msg("%.4f s of CPU over %.4f s, expected %.3f", cpu_s, (double)(t1 - t0) / SEC,
		         2.0 * BURN_NS / SEC);
	assert_true(p->cpu_cores <= 2.05);
	assert_int_equal(after.clock_reads - before.clock_reads, 1);
	assert_int_equal(after.stat_reads - before.stat_reads, 0);
	attrib_destroy(a);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
}

static void exited_and_zombie_children(void **state)
{
	(void)state;
	if (pidfd_unavailable())
		skip();
	child[0] = spawn_paused();
	child[1] = spawn_paused();
	struct attrib_row rows[2] = {{.pid = child[0]}, {.pid = child[1]}};
	struct attrib *a = live_attrib(256, 30);
	assert_int_equal(attrib_sweep(a, rows, 2, 1 * SEC, NULL), 2);
	assert_int_equal(attrib_sweep(a, rows, 2, 2 * SEC, NULL), 2);
	struct attrib_stats st;
	attrib_get_stats(a, &st);
	assert_int_equal(st.held_fds, 2);

	/* Killed and reaped: its pidfd polls ready, the reading is dropped, stat says gone. */
	kill(child[0], SIGKILL);
	assert_int_equal(waitpid(child[0], NULL, 0), child[0]);
	child[0] = 0;
	assert_int_equal(attrib_sweep(a, rows, 2, 3 * SEC, NULL), 2);
	assert_int_equal(attrib_process_at(a, 0)->status, ATTRIB_GONE);
	assert_int_equal(attrib_process_at(a, 1)->status, ATTRIB_OK);
	attrib_get_stats(a, &st);
	assert_int_equal(st.clock_discards, 1);
	assert_int_equal(st.held_fds, 1);

	/* Killed, not reaped: a zombie reads as before the clock path (ok, state Z), then
	 * gone once reaped. Its pidfd is closed. */
	kill(child[1], SIGKILL);
	siginfo_t info;
	assert_int_equal(waitid(P_PID, (id_t)child[1], &info, WEXITED | WNOWAIT), 0);
	assert_int_equal(attrib_sweep(a, rows + 1, 1, 4 * SEC, NULL), 1);
	const struct attrib_process *p = attrib_process_at(a, 0);
	assert_int_equal(p->status, ATTRIB_OK);
	assert_int_equal(p->state, 'Z');
	attrib_get_stats(a, &st);
	assert_int_equal(st.clock_discards, 2);
	assert_int_equal(st.held_fds, 0);
	assert_int_equal(st.tracked, 1);
	assert_int_equal(waitpid(child[1], NULL, 0), child[1]);
	child[1] = 0;
	assert_int_equal(attrib_sweep(a, rows + 1, 1, 5 * SEC, NULL), 1);
	assert_int_equal(attrib_process_at(a, 0)->status, ATTRIB_GONE);
	attrib_destroy(a);
}

/* Forks a paused child with the given pid through ns_last_pid; 0 when that cannot be done
 * here (no privilege, or another process took the pid first). */
static pid_t spawn_paused_as(pid_t want)
{
	for (int attempt = 0; attempt < 20; attempt++) {
		int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return 0;
		char text[32];
		int n = snprintf(text, sizeof(text), "%d", (int)want - 1);
		bool wrote = write(fd, text, (size_t)n) == n;
		close(fd);
		if (!wrote)
			return 0;
		pid_t pid = spawn_paused();
		if (pid == want)
			return pid;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return 0;
}

static void reused_pid_is_a_new_process(void **state)
{
	(void)state;
	if (pidfd_unavailable())
		skip();
	child[0] = spawn_paused();
	struct attrib *a = live_attrib(256, 30);
	sweep_children(a, 1, 1 * SEC);
	sweep_children(a, 1, 2 * SEC);
	uint64_t first_start = attrib_process_at(a, 0)->start_time_ticks;
	pid_t pid = child[0];
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	child[0] = 0;
	/* Start times are in clock ticks (10 ms): let one pass, then take the pid again. */
	struct timespec pause_ts = {0, 30 * 1000000L};
	nanosleep(&pause_ts, NULL);
	child[0] = spawn_paused_as(pid);
	if (!child[0]) {
		attrib_destroy(a);
		skip();
	}
	/* The clock now reads the new process; the old pidfd polls ready, so the reading is
	 * dropped and stat tells the new start time. */
	sweep_children(a, 1, 3 * SEC);
	const struct attrib_process *p = attrib_process_at(a, 0);
	assert_int_equal(p->status, ATTRIB_OK);
	assert_true(p->new_process);
	assert_false(p->cpu_valid);
	assert_true(p->start_time_ticks > first_start);
	struct attrib_stats st;
	attrib_get_stats(a, &st);
	assert_int_equal(st.pid_reuses, 1);
	assert_int_equal(st.clock_discards, 1);
	assert_int_equal(st.held_fds, 1); /* a pidfd for the new process */
	sweep_children(a, 1, 4 * SEC);
	p = attrib_process_at(a, 0);
	assert_false(p->new_process);
	assert_true(p->cpu_valid);
	attrib_get_stats(a, &st);
	assert_int_equal(st.clock_discards, 1);
	attrib_destroy(a);
}

static void pidfds_within_the_fd_budget(void **state)
{
	(void)state;
	if (pidfd_unavailable())
		skip();
	for (int i = 0; i < CHILDREN; i++)
		child[i] = spawn_paused();
	struct attrib *a = live_attrib(2, 30);
	sweep_children(a, CHILDREN, 1 * SEC);
	struct attrib_stats before, after;
	attrib_get_stats(a, &before);
	assert_int_equal(before.held_fds, 2);
	sweep_children(a, CHILDREN, 2 * SEC);
	attrib_get_stats(a, &after);
	/* Two on clocks, the third read through stat each sweep, its fd not held. */
	assert_int_equal(after.held_fds, 2);
	assert_int_equal(after.clock_reads - before.clock_reads, 2);
	assert_int_equal(after.stat_reads - before.stat_reads, 1);
	for (int i = 0; i < CHILDREN; i++)
		assert_true(attrib_process_at(a, (size_t)i)->cpu_valid);
	attrib_destroy(a);
}

int test_attrib_clock_run(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(taken_on_the_live_procfs_only),
	    cmocka_unit_test_teardown(steady_state_reads_clocks_not_stat, kill_children),
	    cmocka_unit_test_teardown(cpu_time_of_a_busy_child, kill_children),
	    cmocka_unit_test_teardown(exited_and_zombie_children, kill_children),
	    cmocka_unit_test_teardown(reused_pid_is_a_new_process, kill_children),
	    cmocka_unit_test_teardown(pidfds_within_the_fd_budget, kill_children),
	};
	return cmocka_run_group_tests_name("workload.attrib_clock", tests, NULL, NULL);
}
