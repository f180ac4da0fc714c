/* test_util.h - helpers shared by the workload tests: temporary trees, stat lines, and a
 * count of the library's allocations (malloc/calloc/realloc are wrapped at link time). */
#ifndef GPUSCOPE_WORKLOAD_TEST_UTIL_H
#define GPUSCOPE_WORKLOAD_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* |a - b| <= eps on doubles, printing both values on failure (cmocka's float assert is
 * single precision). Use after including cmocka.h and math.h. */
#define assert_near(a, b, eps)                                                             \
	do {                                                                               \
		double near_a_ = (a), near_b_ = (b);                                       \
		if (!(fabs(near_a_ - near_b_) <= (eps)))                                   \
			fail_msg("%s = %.17g, expected %.17g +- %g", #a, near_a_, near_b_, \
			         (double)(eps));                                           \
	} while (0)

/* One cmocka group per file; each returns its failure count. */
int test_procfs_run(void);
int test_cgroup_run(void);
int test_k8s_run(void);
int test_attrib_run(void);
int test_attrib_life_run(void);
int test_attrib_clock_run(void);
int test_helpers_run(void);
int test_podres_run(void);

/* The committed fixture root (WORKLOAD_FIXTURES) joined with rel, in one of 4 static
 * buffers used in turn. */
const char *fixture_path(const char *rel);

/* mkdtemp under $TMPDIR; the caller removes it with tree_remove. Returns a malloc'd path. */
char *tree_make_temp(void);
void tree_remove(const char *dir);

/* Writes dir/rel (creating parent directories); asserts on failure. */
void tree_write(const char *dir, const char *rel, const void *data, size_t len);
void tree_write_text(const char *dir, const char *rel, const char *text);

/* A full /proc/PID/stat line. */
void stat_line(char *buf, size_t cap, pid_t pid, const char *comm, pid_t ppid, uint64_t utime,
               uint64_t stime, uint64_t start_time, uint64_t rss_pages);

/* Writes a process (stat, status with uid, cmdline, cgroup) under dir/proc/PID. */
void tree_write_process(const char *dir, pid_t pid, const char *comm, uint32_t uid, uint64_t utime,
                        uint64_t start_time, const char *cgroup);

/* Allocations made through malloc/calloc/realloc by code linked into the test binary. */
uint64_t test_alloc_count(void);

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

#endif
