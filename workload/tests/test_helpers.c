/* test_helpers.c - the pure helpers: cardinality cap, tensor-parallel groups and skew,
 * memory growth fit, energy split, the in-place sort. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "workload/cap.h"
#include "workload/energy.h"
#include "workload/growth.h"
#include "workload/inplace_sort.h"
#include "workload/tpgroup.h"
#include "workload/tests/test_util.h"

#define GIB (1024.0 * 1024.0 * 1024.0)

static void cap_keeps_top_k_and_folds_the_rest(void **state)
{
	(void)state;
	struct cap_entry e[] = {
	    {.pid = 50, .memory_bytes = 100, .sm_util = 5, .sm_util_valid = true, .ref = 0},
	    {.pid = 10, .memory_bytes = 900, .sm_util = 60, .sm_util_valid = true, .ref = 1},
	    {.pid = 30, .memory_bytes = 500, .cpu_cores = 1.5, .cpu_valid = true, .ref = 2},
	    {.pid = 20, .memory_bytes = 500, .sm_util = 1, .sm_util_valid = true, .ref = 3},
	    {.pid = 40, .memory_bytes = 300, .cpu_cores = 0.25, .cpu_valid = true, .ref = 4},
	    {.pid = 60, .memory_bytes = 0, .ref = 5},
	};
	struct cap_other other;
	assert_int_equal(cap_top_k(e, 6, 3, &other), 3);
	/* 900, then the 500 tie broken by pid: 20 before 30. */
	assert_int_equal(e[0].pid, 10);
	assert_int_equal(e[1].pid, 20);
	assert_int_equal(e[2].pid, 30);
	assert_int_equal(e[0].ref, 1);
	assert_int_equal(e[1].ref, 3);
	assert_int_equal(other.count, 3);
	assert_int_equal(other.memory_bytes, 400);
	assert_true(other.sm_util_valid);
	assert_near(other.sm_util, 5, 1e-12);
	assert_true(other.cpu_valid);
	assert_near(other.cpu_cores, 0.25, 1e-12);

	/* k >= n keeps everything, the "other" entry is empty. */
	assert_int_equal(cap_top_k(e, 6, CAP_DEFAULT_TOP_K, &other), 6);
	assert_int_equal(other.count, 0);
	assert_false(other.sm_util_valid);
	/* k = 0 folds everything; n = 0 is fine. */
	assert_int_equal(cap_top_k(e, 6, 0, &other), 0);
	assert_int_equal(other.memory_bytes, 2300);
	assert_int_equal(cap_top_k(NULL, 0, 3, &other), 0);
	assert_int_equal(other.count, 0);
}

static void cap_is_deterministic_under_ties(void **state)
{
	(void)state;
	struct cap_entry e[40];
	for (int i = 0; i < 40; i++)
		e[i] =
		    (struct cap_entry){.pid = 1000 - i * 7 % 40, .memory_bytes = (uint64_t)(i % 3)};
	struct cap_other other;
	assert_int_equal(cap_top_k(e, 40, 5, &other), 5);
	for (int i = 1; i < 40; i++)
		assert_true(
		    e[i - 1].memory_bytes > e[i].memory_bytes ||
		    (e[i - 1].memory_bytes == e[i].memory_bytes && e[i - 1].pid < e[i].pid));
	assert_int_equal(other.count, 35);
}

static struct tpgroup_member member(const char *container, unsigned gpu, pid_t pid, pid_t ppid,
                                    double mem_gib, double util)
{
	struct cgroup_identity id;
	memset(&id, 0, sizeof(id));
	if (container)
		snprintf(id.container_id, sizeof(id.container_id), "%s", container);
	struct tpgroup_member m = {.gpu = gpu,
	                           .pid = pid,
	                           .ppid = ppid,
	                           .memory_bytes = (uint64_t)(mem_gib * GIB),
	                           .sm_util = util,
	                           .sm_util_valid = util >= 0};
	tpgroup_key_for(&id, ppid, &m.key);
	return m;
}

static void groups_and_skew(void **state)
{
	(void)state;
	struct tpgroup_member m[] = {
	    /* A TP=4 container, GPU 3 holding twice the memory and half the work. */
	    member("aa", 0, 101, 100, 40, 80),
	    member("aa", 1, 102, 100, 40, 80),
	    member("aa", 2, 103, 100, 40, 80),
	    member("aa", 3, 104, 100, 80, 40),
	    /* One container on one GPU: not a group. */
	    member("bb", 4, 201, 1, 10, 50),
	    /* A launcher on GPU 5 (parent: a shell) and its worker on GPU 6: one group. */
	    member(NULL, 5, 300, 299, 20, 0),
	    member(NULL, 6, 301, 300, 20, 90),
	    /* Two daemons reparented to init on two GPUs: never grouped. */
	    member(NULL, 7, 400, 1, 5, 5),
	    member(NULL, 6, 401, 1, 5, 5),
	};
	struct tpgroup g[8];
	size_t n = tpgroup_find(m, sizeof(m) / sizeof(m[0]), g, 8);
	assert_int_equal(n, 2);

	const struct tpgroup *tp = &g[0];
	assert_int_equal(tp->key.kind, TPGROUP_KEY_CONTAINER);
	assert_string_equal(tp->key.value, "aa");
	assert_int_equal(tp->gpu_count, 4);
	assert_int_equal(tp->member_count, 4);
	assert_near(tp->memory_skew, 2.0, 1e-9);
	assert_near(tp->memory_imbalance, 0.5, 1e-9);
	assert_true(tp->util_valid);
	assert_near(tp->util_skew, 2.0, 1e-9);
	assert_near(tp->util_min, 40, 1e-9);
	assert_near(tp->util_max, 80, 1e-9);
	for (size_t i = 0; i < tp->member_count; i++)
		assert_string_equal(m[tp->first_member + i].key.value, "aa");

	const struct tpgroup *launch = &g[1];
	assert_int_equal(launch->key.kind, TPGROUP_KEY_PARENT);
	assert_string_equal(launch->key.value, "300");
	assert_int_equal(launch->gpu_count, 2);
	/* An idle shard: min 0 floored at 1 %, a large but finite skew; imbalance 1. */
	assert_near(launch->util_skew, 90.0, 1e-9);
	assert_near(launch->util_imbalance, 1.0, 1e-9);
	assert_near(launch->memory_skew, 1.0, 1e-9);
	assert_near(launch->memory_imbalance, 0.0, 1e-9);

	/* groups_cap smaller than the count: the count is still right. */
	assert_int_equal(tpgroup_find(m, sizeof(m) / sizeof(m[0]), g, 1), 2);
}

static void group_keys_and_skew_edges(void **state)
{
	(void)state;
	struct cgroup_identity id;
	memset(&id, 0, sizeof(id));
	struct tpgroup_key k;
	tpgroup_key_for(&id, 1, &k);
	assert_int_equal(k.kind, TPGROUP_KEY_NONE);
	tpgroup_key_for(&id, 0, &k);
	assert_int_equal(k.kind, TPGROUP_KEY_NONE);
	snprintf(id.pod_uid, sizeof(id.pod_uid), "11111111-2222-3333-4444-555555555555");
	tpgroup_key_for(&id, 55, &k);
	assert_int_equal(k.kind, TPGROUP_KEY_POD);
	id.has_slurm_job = true;
	id.slurm_job = 4242;
	tpgroup_key_for(&id, 55, &k);
	assert_int_equal(k.kind, TPGROUP_KEY_SLURM_JOB); /* the job before the pod */
	assert_string_equal(k.value, "4242");
	snprintf(id.container_id, sizeof(id.container_id), "cc");
	tpgroup_key_for(&id, 55, &k);
	assert_int_equal(k.kind, TPGROUP_KEY_CONTAINER);

	assert_near(tpgroup_skew(0, 0, 1), 1.0, 0);
	assert_near(tpgroup_skew(10, 10, 1), 1.0, 0);
	assert_near(tpgroup_skew(0, 50, 1), 50.0, 0);
	assert_near(tpgroup_skew(0.5, 50, 1), 50.0, 0);
	assert_near(tpgroup_imbalance(0, 0), 0.0, 0);
	assert_near(tpgroup_imbalance(25, 100), 0.75, 1e-12);

	/* A member without SM utilization makes the group's utilization skew unknown. */
	struct tpgroup_member m[] = {member("dd", 0, 1, 2, 1, 50), member("dd", 1, 3, 2, 1, -1)};
	struct tpgroup g;
	assert_int_equal(tpgroup_find(m, 2, &g, 1), 1);
	assert_false(g.util_valid);
	assert_near(g.util_skew, 0, 0);
	/* Two processes of one workload on the same GPU are summed, not a group. */
	struct tpgroup_member same[] = {member("ee", 0, 1, 2, 1, 10), member("ee", 0, 3, 2, 2, 20)};
	assert_int_equal(tpgroup_find(same, 2, &g, 1), 0);
	assert_int_equal(tpgroup_find(NULL, 0, NULL, 0), 0);
}

static void growth_exact_line_and_flat(void **state)
{
	(void)state;
	struct growth_ring r;
	growth_reset(&r);
	struct growth_fit f;
	growth_fit(&r, 0, &f);
	assert_false(f.valid);
	/* Large magnitudes: monotonic seconds around 1e6, bytes around 70 GiB. */
	for (int i = 0; i < 30; i++)
		growth_push(&r, 1e6 + 60.0 * i, 70 * GIB + 2e6 * i); /* 2 MB/min */
	growth_fit(&r, 0, &f);
	assert_true(f.valid);
	assert_near(f.slope_bytes_per_hour, 120e6, 1e-3);
	assert_near(f.r_squared, 1.0, 1e-12);
	assert_int_equal(f.samples, 30);
	assert_near(f.span_s, 29 * 60.0, 1e-9);

	growth_reset(&r);
	for (int i = 0; i < 10; i++)
		growth_push(&r, i, 5 * GIB);
	growth_fit(&r, 0, &f);
	assert_true(f.valid);
	assert_near(f.slope_bytes_per_hour, 0, 1e-9);
	assert_near(f.r_squared, 1.0, 0);

	/* Fewer than three samples, or no time span: no fit. */
	growth_reset(&r);
	growth_push(&r, 1, 1);
	growth_push(&r, 2, 2);
	growth_fit(&r, 0, &f);
	assert_false(f.valid);
	growth_reset(&r);
	for (int i = 0; i < 5; i++)
		growth_push(&r, 7, i);
	growth_fit(&r, 0, &f);
	assert_false(f.valid);
}

static void growth_noise_step_window_and_wrap(void **state)
{
	(void)state;
	struct growth_ring r;
	struct growth_fit f;
	/* A line with alternating noise: slope kept, R^2 below 1 but high. */
	growth_reset(&r);
	for (int i = 0; i < 40; i++)
		growth_push(&r, i * 10.0, 1000.0 * i + ((i & 1) ? 300 : -300));
	growth_fit(&r, 0, &f);
	assert_near(f.slope_bytes_per_hour, 360000.0, 3600.0);
	assert_true(f.r_squared > 0.9 && f.r_squared < 1.0);

	/* One allocation step: a slope, but a poorer fit than a steady leak. */
	growth_reset(&r);
	for (int i = 0; i < 40; i++)
		growth_push(&r, i, i < 20 ? 0 : 1e9);
	growth_fit(&r, 0, &f);
	assert_true(f.slope_bytes_per_hour > 0);
	assert_true(f.r_squared < 0.8);

	/* The window: only samples at t >= since count. */
	growth_fit(&r, 20, &f);
	assert_int_equal(f.samples, 20);
	assert_near(f.slope_bytes_per_hour, 0, 1e-6);

	/* Wrap-around keeps the newest GROWTH_RING_CAP samples. */
	growth_reset(&r);
	for (int i = 0; i < GROWTH_RING_CAP + 25; i++)
		growth_push(&r, i, i < 25 ? 1e12 : 3.0 * i);
	growth_fit(&r, 0, &f);
	assert_int_equal(f.samples, GROWTH_RING_CAP);
	assert_near(f.slope_bytes_per_hour, 3.0 * 3600, 1e-6);

	/* Time going backwards resets; non-finite samples are dropped. */
	growth_push(&r, 5, 1);
	growth_push(&r, NAN, 1);
	growth_push(&r, 6, INFINITY);
	assert_int_equal(r.count, 1);

	/* The array form agrees with the ring. */
	double t[] = {0, 1, 2, 3}, y[] = {10, 12, 14, 16};
	growth_fit_points(t, y, 4, &f);
	assert_near(f.slope_bytes_per_hour, 2 * 3600.0, 1e-9);
	assert_near(f.r_squared, 1.0, 1e-12);
}

static void energy_by_sm_util(void **state)
{
	(void)state;
	struct energy_process p[] = {
	    {.sm_util = 50, .sm_util_valid = true, .memory_bytes = 1},
	    {.sm_util = 20, .sm_util_valid = true, .memory_bytes = 100},
	    {.sm_util_valid = false, .memory_bytes = 1000}, /* no sample: nothing */
	};
	struct energy_share s[3];
	struct energy_split split;
	energy_apportion(1000, 10, 99, true, p, 3, s, &split);
	assert_int_equal(split.method, ENERGY_BY_SM_UTIL);
	assert_near(s[0].joules, 500, 1e-9);
	assert_near(s[1].joules, 200, 1e-9);
	assert_near(s[2].joules, 0, 0);
	assert_near(split.idle_joules, 300, 1e-9);
	assert_near(s[0].gpu_seconds, 5, 1e-9);
	assert_near(split.idle_gpu_seconds, 3, 1e-9);
	assert_string_equal(energy_method_name(split.method), "sm_util");

	/* Over 100 % in total (overlapping samples): scaled to the whole, no idle. */
	struct energy_process over[] = {
	    {.sm_util = 90, .sm_util_valid = true},
	    {.sm_util = 60, .sm_util_valid = true},
	    {.sm_util = 250, .sm_util_valid = true}}; /* clamped to 100 */
	energy_apportion(500, 1, 0, false, over, 3, s, &split);
	assert_near(s[0].joules + s[1].joules + s[2].joules, 500, 1e-9);
	assert_near(s[0].joules, 500 * 90 / 250.0, 1e-9);
	assert_near(split.idle_joules, 0, 0);

	/* Reported but all zero: all idle. */
	struct energy_process zero[] = {{.sm_util = 0, .sm_util_valid = true, .memory_bytes = 5}};
	energy_apportion(100, 1, 50, true, zero, 1, s, &split);
	assert_int_equal(split.method, ENERGY_ALL_IDLE);
	assert_near(split.idle_joules, 100, 0);
	assert_near(s[0].joules, 0, 0);
}

static void energy_by_memory_and_idle(void **state)
{
	(void)state;
	struct energy_process p[] = {{.memory_bytes = 3 << 20}, {.memory_bytes = 1 << 20}};
	struct energy_share s[2];
	struct energy_split split;
	/* GPU 80 % busy: 80 % of the energy split 3:1 by memory, 20 % idle. */
	energy_apportion(1000, 5, 80, true, p, 2, s, &split);
	assert_int_equal(split.method, ENERGY_BY_MEMORY);
	assert_near(s[0].joules, 600, 1e-9);
	assert_near(s[1].joules, 200, 1e-9);
	assert_near(split.idle_joules, 200, 1e-9);
	assert_near(s[1].gpu_seconds, 1, 1e-9);
	assert_string_equal(energy_method_name(split.method), "memory");
	/* GPU utilization unknown: everything to the processes. */
	energy_apportion(1000, 5, 0, false, p, 2, s, &split);
	assert_near(s[0].joules, 750, 1e-9);
	assert_near(split.idle_joules, 0, 0);
	/* No memory reported at all: equal shares. */
	struct energy_process none[2];
	memset(none, 0, sizeof(none));
	energy_apportion(10, 1, 100, true, none, 2, s, &split);
	assert_near(s[0].joules, 5, 1e-9);
	/* No processes: all idle. Garbage energy: treated as 0. */
	energy_apportion(42, 1, 100, true, NULL, 0, NULL, &split);
	assert_int_equal(split.method, ENERGY_ALL_IDLE);
	assert_near(split.idle_joules, 42, 0);
	assert_string_equal(energy_method_name(split.method), "idle");
	energy_apportion(NAN, -1, 100, true, p, 2, s, &split);
	assert_near(s[0].joules, 0, 0);
	assert_near(split.idle_joules, 0, 0);
}

static int compare_ints(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static void sort_in_place(void **state)
{
	(void)state;
	uint32_t seed = 7;
	for (int n = 0; n < 300; n += 13) {
		int v[300];
		for (int i = 0; i < n; i++) {
			seed = seed * 1664525u + 1013904223u;
			v[i] = (int)(seed >> 20) % 50;
		}
		inplace_sort(v, (size_t)n, sizeof(v[0]), compare_ints);
		for (int i = 1; i < n; i++)
			assert_true(v[i - 1] <= v[i]);
	}
}

int test_helpers_run(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(cap_keeps_top_k_and_folds_the_rest),
	    cmocka_unit_test(cap_is_deterministic_under_ties),
	    cmocka_unit_test(groups_and_skew),
	    cmocka_unit_test(group_keys_and_skew_edges),
	    cmocka_unit_test(growth_exact_line_and_flat),
	    cmocka_unit_test(growth_noise_step_window_and_wrap),
	    cmocka_unit_test(energy_by_sm_util),
	    cmocka_unit_test(energy_by_memory_and_idle),
	    cmocka_unit_test(sort_in_place),
	};
	return cmocka_run_group_tests_name("workload.helpers", tests, NULL, NULL);
}
