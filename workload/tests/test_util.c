/* test_util.c - temporary trees and the allocation counter; see test_util.h. */
#include "workload/tests/test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

static _Atomic uint64_t alloc_count;

void *__wrap_malloc(size_t n)
{
	atomic_fetch_add(&alloc_count, 1);
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	atomic_fetch_add(&alloc_count, 1);
	return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	atomic_fetch_add(&alloc_count, 1);
	return __real_realloc(p, n);
}

uint64_t test_alloc_count(void)
{
	return atomic_load(&alloc_count);
}

const char *fixture_path(const char *rel)
{
	/* A few buffers in turn, so two results can be passed to one call. */
	static char paths[4][4096];
	static unsigned next;
	char *path = paths[next++ % 4];
	snprintf(path, sizeof(paths[0]), "%s/%s", WORKLOAD_FIXTURES, rel);
	return path;
}

char *tree_make_temp(void)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = NULL;
	assert_true(asprintf(&dir, "%s/workload-test-XXXXXX", tmp && tmp[0] ? tmp : "/tmp") > 0);
	assert_non_null(mkdtemp(dir));
	return dir;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void tree_remove(const char *dir)
{
	if (dir)
		nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void make_parents(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(path, 0755) != 0)
			assert_int_equal(errno, EEXIST);
		*p = '/';
	}
}

void tree_write(const char *dir, const char *rel, const void *data, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	make_parents(path);
	/* Write a new file and rename it over the old one, as the kernel's files change
	 * atomically from a reader's point of view. */
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	assert_int_equal(rename(tmp, path), 0);
}

void tree_write_text(const char *dir, const char *rel, const char *text)
{
	tree_write(dir, rel, text, strlen(text));
}

void stat_line(char *buf, size_t cap, pid_t pid, const char *comm, pid_t ppid, uint64_t utime,
               uint64_t stime, uint64_t start_time, uint64_t rss_pages)
{
	snprintf(buf, cap,
	         "%d (%s) S %d %d %d 0 -1 4194560 1000 0 0 0 %llu %llu 0 0 20 0 4 0 %llu "
	         "123456789 %llu 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0 0 0 "
	         "0 0 0 0 0 0\n",
	         (int)pid, comm, (int)ppid, (int)pid, (int)pid, (unsigned long long)utime,
	         (unsigned long long)stime, (unsigned long long)start_time,
	         (unsigned long long)rss_pages);
}

void tree_write_process(const char *dir, pid_t pid, const char *comm, uint32_t uid, uint64_t utime,
                        uint64_t start_time, const char *cgroup)
{
	char rel[64], text[1024];
	stat_line(text, sizeof(text), pid, comm, 1, utime, 0, start_time, 100);
	snprintf(rel, sizeof(rel), "proc/%d/stat", (int)pid);
	tree_write_text(dir, rel, text);
	snprintf(text, sizeof(text), "Name:\t%s\nPid:\t%d\nPPid:\t1\nUid:\t%u\t%u\t%u\t%u\n", comm,
	         (int)pid, uid, uid, uid, uid);
	snprintf(rel, sizeof(rel), "proc/%d/status", (int)pid);
	tree_write_text(dir, rel, text);
	snprintf(rel, sizeof(rel), "proc/%d/cmdline", (int)pid);
	tree_write(dir, rel, comm, strlen(comm) + 1);
	snprintf(rel, sizeof(rel), "proc/%d/cgroup", (int)pid);
	tree_write_text(dir, rel, cgroup);
}
