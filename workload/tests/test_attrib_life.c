/* test_attrib_life.c - attribution over temporary /proc trees that the tests rewrite
 * between sweeps: CPU from two reads, pid reuse, identity caching and exec, a process that
 * exits between listing and reading, forgetting, name refresh, growth, table growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload/attrib.h"
#include "workload/tests/test_util.h"

#define SEC   1000000000LL
#define CID_A "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define CID_B "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
#define CID_C "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3"

/* A temporary /proc the tests rewrite between sweeps. */
struct temp_tree {
	char *dir;
	struct attrib *a;
};

static struct temp_tree temp_attrib(double identity_refresh_s)
{
	struct temp_tree t = {.dir = tree_make_temp()};
	tree_write_text(t.dir, "proc/.keep", "");
	tree_write_text(t.dir, "etc/passwd",
	                "root:x:0:0::/:/bin/sh\nalice:x:1000:1000::/:/bin/sh\n");
	struct attrib_config cfg;
	attrib_config_default(&cfg);
	cfg.root = t.dir;
	cfg.clock_ticks_per_s = 100;
	cfg.identity_refresh_s = identity_refresh_s;
	cfg.growth_sample_s = 1;
	cfg.growth_window_s = 1000;
	t.a = attrib_create(&cfg);
	assert_non_null(t.a);
	assert_int_equal(attrib_refresh(t.a, 0, true), 1);
	return t;
}

static void temp_done(struct temp_tree *t)
{
	attrib_destroy(t->a);
	tree_remove(t->dir);
	free(t->dir);
}

static void set_stat(const char *dir, pid_t pid, uint64_t utime, uint64_t stime, uint64_t start)
{
	char rel[64], line[512];
	stat_line(line, sizeof(line), pid, "worker", 1, utime, stime, start, 10);
	snprintf(rel, sizeof(rel), "proc/%d/stat", (int)pid);
	tree_write_text(dir, rel, line);
}

static const struct attrib_process *sweep_one(struct attrib *a, pid_t pid, uint64_t mem,
                                              int64_t now)
{
	struct attrib_row row = {.gpu = 0, .pid = pid, .memory_bytes = mem, .memory_valid = true};
	assert_int_equal(attrib_sweep(a, &row, 1, now, NULL), 1);
	return attrib_process_at(a, 0);
}

static void cpu_from_two_reads(void **state)
{
	(void)state;
	struct temp_tree t = temp_attrib(60);
	tree_write_process(t.dir, 500, "worker", 1000, 0, 777, "0::/docker/" CID_A "\n");
	set_stat(t.dir, 500, 100, 0, 777);
	const struct attrib_process *p = sweep_one(t.a, 500, 1, 10 * SEC);
	assert_false(p->cpu_valid);
	assert_string_equal(p->user, "alice");
	/* 150 + 50 ticks at 100 Hz = 2 s of CPU over 4 s of wall: half a core. */
	set_stat(t.dir, 500, 250, 50, 777);
	p = sweep_one(t.a, 500, 1, 14 * SEC);
	assert_true(p->cpu_valid);
	assert_near(p->cpu_cores, 0.5, 1e-9);
	/* 1600 ticks in 2 s: eight cores. */
	set_stat(t.dir, 500, 1850, 50, 777);
	p = sweep_one(t.a, 500, 1, 16 * SEC);
	assert_near(p->cpu_cores, 8.0, 1e-9);
	/* No time passed: no rate, rather than a division by zero. */
	p = sweep_one(t.a, 500, 1, 16 * SEC);
	assert_false(p->cpu_valid);
	temp_done(&t);
}

static void pid_reuse_is_a_new_process(void **state)
{
	(void)state;
	struct temp_tree t = temp_attrib(60);
	tree_write_process(t.dir, 600, "old", 1000, 0, 1000, "0::/docker/" CID_A "\n");
	set_stat(t.dir, 600, 100, 0, 1000);
	sweep_one(t.a, 600, 1, 1 * SEC);
	const struct attrib_process *p = sweep_one(t.a, 600, 1, 2 * SEC);
	assert_false(p->new_process);
	assert_string_equal(p->identity.container_id, CID_A);

	/* The process exits and another gets its pid: another start time, another cgroup,
	 * fewer CPU ticks than the old one had. */
	tree_write_process(t.dir, 600, "new", 0, 0, 2000, "0::/docker/" CID_B "\n");
	set_stat(t.dir, 600, 5, 0, 2000);
	p = sweep_one(t.a, 600, 1, 3 * SEC);
	assert_true(p->new_process);
	assert_false(p->cpu_valid);
	assert_int_equal(p->start_time_ticks, 2000);
	/* Identity is re-read at once, not after identity_refresh_s. */
	assert_string_equal(p->identity.container_id, CID_B);
	assert_string_equal(p->user, "root");
	struct attrib_stats st;
	attrib_get_stats(t.a, &st);
	assert_int_equal(st.pid_reuses, 1);
	assert_int_equal(st.identity_reads, 2);
	temp_done(&t);
}

static void identity_is_cached_until_due(void **state)
{
	(void)state;
	struct temp_tree t = temp_attrib(10);
	tree_write_process(t.dir, 700, "svc", 1000, 0, 5, "0::/system.slice/a.service\n");
	const struct attrib_process *p = sweep_one(t.a, 700, 1, 100 * SEC);
	assert_string_equal(p->identity.systemd_unit, "a.service");
	tree_write_text(t.dir, "proc/700/cgroup", "0::/system.slice/b.service\n");
	p = sweep_one(t.a, 700, 1, 105 * SEC); /* before 0.75 x 10 s */
	assert_string_equal(p->identity.systemd_unit, "a.service");
	/* The uid changes too, but a periodic re-read is the cgroup alone. */
	tree_write_text(t.dir, "proc/700/status", "Name:\tsvc\nUid:\t0\t0\t0\t0\n");
	p = sweep_one(t.a, 700, 1, 113 * SEC); /* after 1.25 x 10 s */
	assert_string_equal(p->identity.systemd_unit, "b.service");
	assert_string_equal(p->user, "alice");
	struct attrib_stats st;
	attrib_get_stats(t.a, &st);
	assert_int_equal(st.identity_reads, 2);
	assert_int_equal(st.stat_reads, 3);
	/* An exec (comm changes, same pid and start time) re-reads everything at once. */
	tree_write(t.dir, "proc/700/cmdline", "/opt/bin/worker\0--x", 20);
	set_stat(t.dir, 700, 0, 0, 5);
	p = sweep_one(t.a, 700, 1, 114 * SEC);
	assert_false(p->new_process);
	assert_string_equal(p->comm, "worker");
	assert_string_equal(p->exe, "worker");
	assert_string_equal(p->user, "root");
	attrib_get_stats(t.a, &st);
	assert_int_equal(st.identity_reads, 3);
	temp_done(&t);
}

static void exit_between_listing_and_reading(void **state)
{
	(void)state;
	struct temp_tree t = temp_attrib(60);
	tree_write_process(t.dir, 800, "short", 1000, 0, 5, "0::/\n");
	const struct attrib_process *p = sweep_one(t.a, 800, 1, 1 * SEC);
	assert_int_equal(p->status, ATTRIB_OK);
	/* Exit: the process's directory goes. */
	char pid_dir[4200];
	snprintf(pid_dir, sizeof(pid_dir), "%s/proc/800", t.dir);
	tree_remove(pid_dir);
	p = sweep_one(t.a, 800, 1, 2 * SEC);
	assert_int_equal(p->status, ATTRIB_GONE);
	assert_string_equal(p->comm, "short"); /* what was known stays, for a last look */
	struct attrib_stats st;
	attrib_get_stats(t.a, &st);
	assert_int_equal(st.tracked, 1);
	/* Next sweep: released. */
	assert_int_equal(attrib_sweep(t.a, NULL, 0, 3 * SEC, NULL), 0);
	attrib_get_stats(t.a, &st);
	assert_int_equal(st.tracked, 0);
	temp_done(&t);
}

static void forget_processes_not_reported(void **state)
{
	(void)state;
	struct temp_tree t = temp_attrib(60);
	tree_write_process(t.dir, 900, "idle", 1000, 0, 5, "0::/\n");
	sweep_one(t.a, 900, 1, 1 * SEC);
	assert_int_equal(attrib_sweep(t.a, NULL, 0, 30 * SEC, NULL), 0);
	struct attrib_stats st;
	attrib_get_stats(t.a, &st);
	assert_int_equal(st.tracked, 1); /* kept: CPU baseline survives a missed sweep */
	const struct attrib_process *p = sweep_one(t.a, 900, 1, 40 * SEC);
	assert_false(p->new_process);
	assert_int_equal(attrib_sweep(t.a, NULL, 0, 101 * SEC, NULL), 0);
	attrib_get_stats(t.a, &st);
	assert_int_equal(st.tracked, 0);
	temp_done(&t);
}

static void names_follow_refresh(void **state)
{
	(void)state;
	struct temp_tree t = temp_attrib(60);
	tree_write_process(t.dir, 910, "py", 1234, 0, 5,
	                   "0::/kubepods/pod11111111-2222-3333-4444-555555555555/" CID_C "\n");
	const struct attrib_process *p = sweep_one(t.a, 910, 1, 1 * SEC);
	assert_string_equal(p->user, "1234");
	assert_false(p->k8s_valid);
	/* The pod's logs and a passwd line appear; nothing changes until a refresh. */
	tree_write_text(
	    t.dir, "var/log/pods/ns1_pod1_11111111-2222-3333-4444-555555555555/main/0.log", "");
	tree_write_text(t.dir, "etc/passwd", "carol:x:1234:1234::/:/bin/sh\n");
	p = sweep_one(t.a, 910, 1, 2 * SEC);
	assert_false(p->k8s_valid);
	assert_int_equal(attrib_refresh(t.a, 5 * SEC, false), 0); /* not due: 30 s */
	assert_int_equal(attrib_refresh(t.a, 31 * SEC, false), 1);
	p = sweep_one(t.a, 910, 1, 32 * SEC);
	assert_true(p->k8s_valid);
	assert_string_equal(p->k8s.pod_namespace, "ns1");
	assert_string_equal(p->k8s.pod, "pod1");
	assert_string_equal(p->k8s.container, "main");
	assert_string_equal(p->user, "carol");
	temp_done(&t);
}

static void growth_through_sweeps(void **state)
{
	(void)state;
	struct temp_tree t = temp_attrib(60);
	tree_write_process(t.dir, 920, "leaky", 1000, 0, 5, "0::/\n");
	const struct attrib_process *p = NULL;
	/* 1 MiB per second = 3600 MiB per hour. */
	for (int s = 0; s < 20; s++)
		p = sweep_one(t.a, 920, (uint64_t)(1000 + s) << 20, (100 + s) * SEC);
	assert_true(p->memory_growth.valid);
	assert_near(p->memory_growth.slope_bytes_per_hour, 3600.0 * (1 << 20), 1.0);
	assert_near(p->memory_growth.r_squared, 1.0, 1e-9);
	assert_int_equal(p->memory_growth.samples, 20);
	temp_done(&t);
}

static void many_processes_grow_the_table(void **state)
{
	(void)state;
	struct temp_tree t = temp_attrib(60);
	enum { N = 600 };
	static struct attrib_row rows[N];
	for (int i = 0; i < N; i++) {
		tree_write_process(t.dir, 2000 + i, "many", 1000, 0, 7, "0::/\n");
		rows[i] = (struct attrib_row){.gpu = (unsigned)i % 8, .pid = 2000 + i};
	}
	assert_int_equal(attrib_sweep(t.a, rows, N, 1 * SEC, NULL), N);
	for (int i = 0; i < N; i++) {
		const struct attrib_process *p = attrib_process_at(t.a, (size_t)i);
		assert_int_equal(p->pid, 2000 + i);
		assert_int_equal(p->status, ATTRIB_OK);
	}
	struct attrib_stats st;
	attrib_get_stats(t.a, &st);
	assert_int_equal(st.tracked, N);
	assert_true(st.capacity >= N);
	assert_int_equal(attrib_sweep(t.a, rows, N, 2 * SEC, NULL), N);
	attrib_get_stats(t.a, &st);
	assert_int_equal(st.identity_reads, N);
	temp_done(&t);
}

int test_attrib_life_run(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(cpu_from_two_reads),
	    cmocka_unit_test(pid_reuse_is_a_new_process),
	    cmocka_unit_test(identity_is_cached_until_due),
	    cmocka_unit_test(exit_between_listing_and_reading),
	    cmocka_unit_test(forget_processes_not_reported),
	    cmocka_unit_test(names_follow_refresh),
	    cmocka_unit_test(growth_through_sweeps),
	    cmocka_unit_test(many_processes_grow_the_table),
	};
	return cmocka_run_group_tests_name("workload.attrib_life", tests, NULL, NULL);
}
