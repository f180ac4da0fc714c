/* test_procfs.c - /proc/PID parsers on fixtures, truncations and binary junk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "workload/cgroup.h"
#include "workload/procfs.h"
#include "workload/tests/test_util.h"

static int open_fixture_proc(void)
{
	int fd = open(fixture_path("proc"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static void stat_of_fixture(void **state)
{
	(void)state;
	int fd = open_fixture_proc();
	char buf[1024];
	size_t len;
	assert_int_equal(procfs_read(fd, 1001, "stat", buf, sizeof(buf), &len), PROCFS_OK);
	struct procfs_stat st;
	assert_int_equal(procfs_parse_stat(buf, len, &st), PROCFS_OK);
	assert_int_equal(st.pid, 1001);
	assert_string_equal(st.comm, "python3");
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.ppid, 1);
	assert_int_equal(st.utime_ticks, 100 + 1001 % 7);
	assert_int_equal(st.stime_ticks, 50);
	assert_int_equal(st.num_threads, 4);
	assert_int_equal(st.start_time_ticks, 5000 + 1001);
	assert_int_equal(st.rss_pages, 2560);
	close(fd);
}

static void stat_comm_with_spaces_and_parens(void **state)
{
	(void)state;
	int fd = open_fixture_proc();
	char buf[1024];
	size_t len;
	assert_int_equal(procfs_read(fd, 1016, "stat", buf, sizeof(buf), &len), PROCFS_OK);
	struct procfs_stat st;
	assert_int_equal(procfs_parse_stat(buf, len, &st), PROCFS_OK);
	assert_string_equal(st.comm, "tricky) x (y");
	assert_int_equal(st.ppid, 1015);
	assert_int_equal(st.start_time_ticks, 5000 + 1016);
	close(fd);

	/* The worst case: a comm that looks like the rest of a stat line. */
	const char *evil =
	    "77 () S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22) R 5 1 1 0 "
	    "-1 0 0 0 0 0 7 3 0 0 20 0 2 0 999 0 12 0\n";
	assert_int_equal(procfs_parse_stat(evil, strlen(evil), &st), PROCFS_OK);
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.ppid, 5);
	assert_int_equal(st.utime_ticks, 7);
	assert_int_equal(st.start_time_ticks, 999);
	assert_int_equal(st.rss_pages, 12);
	assert_true(strncmp(st.comm, ") S 1 2 3", 9) == 0);
}

static void stat_truncated_is_garbage(void **state)
{
	(void)state;
	char line[512];
	stat_line(line, sizeof(line), 4321, "trunc me", 1, 10, 20, 30, 40);
	size_t full = strlen(line);
	/* Every prefix that stops before field 24 (rss) must be rejected, never half-read. */
	const char *rss_field = strstr(line, " 123456789 ") + strlen(" 123456789 ");
	size_t before_rss = (size_t)(rss_field - line);
	struct procfs_stat st;
	for (size_t n = 0; n <= full; n++) {
		enum procfs_result r = procfs_parse_stat(line, n, &st);
		if (n < before_rss + 1)
			assert_int_equal(r, PROCFS_GARBAGE);
	}
	assert_int_equal(procfs_parse_stat(line, full, &st), PROCFS_OK);

	int fd = open_fixture_proc();
	char buf[1024];
	size_t len;
	assert_int_equal(procfs_read(fd, 1020, "stat", buf, sizeof(buf), &len), PROCFS_OK);
	assert_int_equal(procfs_parse_stat(buf, len, &st), PROCFS_GARBAGE);
	close(fd);

	const char *bad[] = {"",
	                     "x",
	                     "12",
	                     "12 (",
	                     "12 (a",
	                     "-3 (a) S 1",
	                     "12 a) S 1",
	                     "12 (a) S 1 1 1 0 -1 0 0 0 0 0 x1 2 0 0 20 0 1 0 5 0 1",
	                     "12 (a) 7 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 0 1",
	                     "99999999999999999999999 (a) S 1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(procfs_parse_stat(bad[i], strlen(bad[i]), &st), PROCFS_GARBAGE);
}

/* A deterministic generator, so a failure can be replayed. */
static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

static void binary_junk_never_crashes(void **state)
{
	(void)state;
	uint32_t seed = 12345;
	char buf[600];
	char out[64];
	for (int round = 0; round < 4000; round++) {
		size_t n = lcg(&seed) % sizeof(buf);
		for (size_t i = 0; i < n; i++) {
			/* Mostly characters that mean something to the parsers. */
			static const char alphabet[] = "0123456789 ()S:/\n\0-_abcdefx.";
			uint32_t r = lcg(&seed);
			buf[i] = (r & 1) ? alphabet[r % (sizeof(alphabet) - 1)] : (char)(r >> 3);
		}
		struct procfs_stat st;
		uint32_t uid;
		struct cgroup_identity id;
		(void)procfs_parse_stat(buf, n, &st);
		(void)procfs_parse_status_uid(buf, n, &uid);
		(void)procfs_cmdline_basename(buf, n, out, sizeof(out));
		(void)cgroup_parse(buf, n, &id);
		assert_true(strlen(id.container_id) == 0 || strlen(id.container_id) == 64);
		assert_true(strlen(out) < sizeof(out));
	}
}

static void status_effective_uid(void **state)
{
	(void)state;
	const char *s = "Name:\tx\nPPid:\t1\nUid:\t1000\t0\t0\t0\nGid:\t5\t5\t5\t5\n";
	uint32_t uid = 77;
	assert_int_equal(procfs_parse_status_uid(s, strlen(s), &uid), PROCFS_OK);
	assert_int_equal(uid, 0);
	const char *none = "Name:\tx\nGid:\t5\t5\t5\t5\n";
	assert_int_equal(procfs_parse_status_uid(none, strlen(none), &uid), PROCFS_GARBAGE);
	const char *cut = "Name:\tx\nUid:\t1000";
	assert_int_equal(procfs_parse_status_uid(cut, strlen(cut), &uid), PROCFS_GARBAGE);
	const char *huge = "Uid:\t1\t99999999999\n";
	assert_int_equal(procfs_parse_status_uid(huge, strlen(huge), &uid), PROCFS_GARBAGE);
}

static void cmdline_basename(void **state)
{
	(void)state;
	char out[16];
	assert_int_equal(procfs_cmdline_basename("/usr/bin/python3\0-m\0x", 22, out, sizeof(out)),
	                 7);
	assert_string_equal(out, "python3");
	assert_int_equal(procfs_cmdline_basename("", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(procfs_cmdline_basename("noslash", 7, out, sizeof(out)), 7);
	assert_string_equal(out, "noslash");
	assert_int_equal(procfs_cmdline_basename("/dir/", 5, out, sizeof(out)), 0);
	procfs_cmdline_basename("/a/very-long-executable-name\0", 29, out, sizeof(out));
	assert_string_equal(out, "very-long-execu");
}

static void read_missing_is_gone(void **state)
{
	(void)state;
	int fd = open_fixture_proc();
	char buf[64];
	size_t len = 99;
	assert_int_equal(procfs_read(fd, 9999, "stat", buf, sizeof(buf), &len), PROCFS_GONE);
	assert_int_equal(len, 0);
	assert_int_equal(procfs_read(fd, 1022, "cgroup", buf, sizeof(buf), &len), PROCFS_GONE);
	assert_int_equal(procfs_read(fd, 0, "stat", buf, sizeof(buf), &len), PROCFS_GONE);
	/* Short buffer: truncated and terminated. */
	assert_int_equal(procfs_read(fd, 1001, "stat", buf, 8, &len), PROCFS_OK);
	assert_int_equal(len, 7);
	assert_string_equal(buf, "1001 (p");
	assert_string_equal(procfs_result_name(PROCFS_GONE), "gone");
	assert_string_equal(procfs_result_name(PROCFS_GARBAGE), "garbage");
	close(fd);
}

static void read_unreadable_is_denied(void **state)
{
	(void)state;
	if (geteuid() == 0)
		skip(); /* root reads mode-000 files */
	char *dir = tree_make_temp();
	tree_write_process(dir, 42, "secret", 0, 1, 1, "0::/\n");
	char path[4200];
	snprintf(path, sizeof(path), "%s/proc/42/stat", dir);
	assert_int_equal(chmod(path, 0), 0);
	snprintf(path, sizeof(path), "%s/proc", dir);
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	char buf[64];
	size_t len;
	assert_int_equal(procfs_read(fd, 42, "stat", buf, sizeof(buf), &len), PROCFS_DENIED);
	close(fd);
	tree_remove(dir);
	free(dir);
}

int test_procfs_run(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(stat_of_fixture),
	    cmocka_unit_test(stat_comm_with_spaces_and_parens),
	    cmocka_unit_test(stat_truncated_is_garbage),
	    cmocka_unit_test(binary_junk_never_crashes),
	    cmocka_unit_test(status_effective_uid),
	    cmocka_unit_test(cmdline_basename),
	    cmocka_unit_test(read_missing_is_gone),
	    cmocka_unit_test(read_unreadable_is_denied),
	};
	return cmocka_run_group_tests_name("workload.procfs", tests, NULL, NULL);
}
