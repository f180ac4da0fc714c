/* test_attrib.c - attribution sweeps over the fixture /proc (every label, broken and
 * vanished processes, duplicate rows), the no-allocation promise, configuration paths, and
 * the real procfs with held stat fds. Trees that change between sweeps are in
 * test_attrib_life.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload/attrib.h"
#include "workload/tests/test_util.h"

#define SEC   1000000000LL
#define CID_A "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define CID_B "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
#define CID_C "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3"
#define CID_D "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4"
#define CID_E "e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5"
#define CID_F "f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6"
#define CID_G "0707070707070707070707070707070707070707070707070707070707070707"

static struct attrib *fixture_attrib(void)
{
	struct attrib_config cfg;
	attrib_config_default(&cfg);
	cfg.root = WORKLOAD_FIXTURES;
	cfg.clock_ticks_per_s = 100;
	cfg.page_size = 4096;
	struct attrib *a = attrib_create(&cfg);
	assert_non_null(a);
	assert_int_equal(attrib_refresh(a, 0, true), 1);
	return a;
}

static const struct attrib_process *find(const struct attrib *a, pid_t pid)
{
	for (size_t i = 0; i < attrib_count(a); i++)
		if (attrib_process_at(a, i)->pid == pid)
			return attrib_process_at(a, i);
	fail_msg("pid %d not in the sweep", (int)pid);
	return NULL;
}

static const pid_t fixture_pids[] = {1001, 1002, 1003, 1004, 1005, 1006, 1007,
                                     1008, 1009, 1010, 1011, 1012, 1013, 1014,
                                     1015, 1016, 1017, 1020, 1021, 1022, 9999};
#define FIXTURE_PIDS (sizeof(fixture_pids) / sizeof(fixture_pids[0]))

static void sweep_fixture(struct attrib *a, int64_t now)
{
	struct attrib_row rows[FIXTURE_PIDS];
	for (size_t i = 0; i < FIXTURE_PIDS; i++)
		rows[i] = (struct attrib_row){.gpu = (unsigned)(i % 8),
		                              .pid = fixture_pids[i],
		                              .memory_bytes = 1u << 30,
		                              .memory_valid = true};
	assert_int_equal(attrib_sweep(a, rows, FIXTURE_PIDS, now, NULL), (int)FIXTURE_PIDS);
}

static void labels_of_every_fixture_process(void **state)
{
	(void)state;
	struct attrib *a = fixture_attrib();
	sweep_fixture(a, 1 * SEC);

	const struct attrib_process *p = find(a, 1001);
	assert_int_equal(p->status, ATTRIB_OK);
	assert_true(p->new_process);
	assert_string_equal(p->comm, "python3");
	assert_string_equal(p->exe, "python3");
	assert_string_equal(p->user, "alice");
	assert_int_equal(p->uid, 1000);
	assert_int_equal(p->ppid, 1);
	assert_int_equal(p->threads, 4);
	assert_int_equal(p->rss_bytes, 2560ull * 4096);
	assert_int_equal(p->start_time_ticks, 6001);
	assert_false(p->cpu_valid);
	assert_int_equal(p->identity.runtime, CGROUP_RUNTIME_DOCKER);
	assert_string_equal(p->identity.container_id, CID_A);
	assert_false(p->k8s_valid);

	p = find(a, 1002);                    /* docker, cgroupfs, v1 */
	assert_string_equal(p->user, "root"); /* not toor: the first line wins */
	assert_string_equal(p->exe, "tritonserver");
	assert_string_equal(p->identity.container_id, CID_B);
	assert_false(p->identity.cgroup_v2);

	p = find(a, 1003); /* containerd, systemd driver */
	assert_int_equal(p->identity.runtime, CGROUP_RUNTIME_CONTAINERD);
	assert_string_equal(p->identity.container_id, CID_C);
	assert_string_equal(p->identity.pod_uid, "11111111-2222-3333-4444-555555555555");
	assert_int_equal(p->identity.qos, CGROUP_QOS_BURSTABLE);
	assert_true(p->k8s_valid);
	assert_string_equal(p->k8s.pod_namespace, "ml-serving");
	assert_string_equal(p->k8s.pod, "vllm-llama-0");
	assert_string_equal(p->k8s.container, "vllm");
	assert_string_equal(p->exe, "python3");

	p = find(a, 1004); /* containerd, cgroupfs driver, v1 */
	assert_string_equal(p->user, "bob");
	assert_string_equal(p->identity.container_id, CID_D);
	assert_int_equal(p->identity.qos, CGROUP_QOS_BESTEFFORT);
	assert_string_equal(p->k8s.pod_namespace, "batch");
	assert_string_equal(p->k8s.pod, "trainer-xyz");
	assert_string_equal(p->k8s.container, "trainer");

	p = find(a, 1005); /* CRI-O */
	assert_int_equal(p->identity.runtime, CGROUP_RUNTIME_CRIO);
	assert_string_equal(p->identity.container_id, CID_E);
	assert_string_equal(p->k8s.pod, "crio-pod");
	assert_string_equal(p->k8s.container, "worker");
	p = find(a, 1006); /* its conmon: the pod, not the container */
	assert_string_equal(p->identity.container_id, "");
	assert_true(p->identity.conmon);
	assert_string_equal(p->k8s.pod, "crio-pod");

	p = find(a, 1007); /* podman */
	assert_int_equal(p->identity.runtime, CGROUP_RUNTIME_PODMAN);
	assert_string_equal(p->identity.container_id, CID_F);
	p = find(a, 1008); /* rootless podman */
	assert_string_equal(p->identity.container_id, CID_G);
	assert_true(p->identity.systemd_user_unit);
	p = find(a, 1009); /* podman conmon */
	assert_string_equal(p->identity.container_id, "");
	assert_true(p->identity.conmon);

	p = find(a, 1010); /* guaranteed pod, container not in /var/log/containers */
	assert_int_equal(p->identity.qos, CGROUP_QOS_GUARANTEED);
	assert_string_equal(p->k8s.pod_namespace, "research");
	assert_string_equal(p->k8s.container, "jupyter");
	assert_string_equal(p->exe, "jupyter-lab");

	p = find(a, 1011); /* Slurm, cgroup v1 */
	assert_true(p->identity.has_slurm_job);
	assert_int_equal(p->identity.slurm_job, 4242);
	assert_string_equal(p->identity.slurm_step, "0");
	assert_int_equal(p->ppid, 990);
	p = find(a, 1012); /* Slurm, cgroup v2 */
	assert_int_equal(p->identity.slurm_job, 777);
	assert_string_equal(p->identity.slurm_step, "batch");
	assert_string_equal(p->exe, "torchrun");

	p = find(a, 1013);
	assert_string_equal(p->identity.systemd_unit, "triton.service");
	p = find(a, 1014);
	assert_string_equal(p->identity.systemd_unit, "jupyter.service");
	assert_true(p->identity.systemd_user_unit);
	assert_string_equal(p->exe, "python3");

	p = find(a, 1015); /* a shell: nothing but the user */
	assert_string_equal(p->comm, "bash");
	assert_string_equal(p->exe, "-bash");
	assert_int_equal(p->identity.runtime, CGROUP_RUNTIME_NONE);
	assert_string_equal(p->identity.systemd_unit, "");

	p = find(a, 1016);
	assert_string_equal(p->comm, "tricky) x (y");
	assert_string_equal(p->exe, "my app");
	assert_int_equal(p->ppid, 1015);

	p = find(a, 1017); /* uid without a passwd line, empty cmdline */
	assert_string_equal(p->user, "4242");
	assert_string_equal(p->exe, "nobodyknows");
	assert_string_equal(p->identity.systemd_unit, "ghost.service");

	/* Broken and vanished processes. */
	assert_int_equal(find(a, 1020)->status, ATTRIB_GARBAGE);
	p = find(a, 1021);
	assert_int_equal(p->status, ATTRIB_OK);
	assert_string_equal(p->identity.container_id, "");
	assert_int_equal(find(a, 1022)->status, ATTRIB_GONE); /* stat there, the rest gone */
	assert_int_equal(find(a, 9999)->status, ATTRIB_GONE);
	assert_string_equal(attrib_status_name(ATTRIB_GONE), "gone");

	struct attrib_stats st;
	attrib_get_stats(a, &st);
	assert_int_equal(st.gone, 2);
	assert_int_equal(st.sweeps, 1);
	assert_int_equal(st.refreshes, 1);

	/* Gone processes are released at the next sweep; the rest stay. */
	sweep_fixture(a, 2 * SEC);
	assert_false(find(a, 1001)->new_process);
	assert_true(find(a, 9999)->status == ATTRIB_GONE);
	attrib_destroy(a);
}

static void duplicate_rows_fold_into_one_process(void **state)
{
	(void)state;
	struct attrib *a = fixture_attrib();
	struct attrib_row rows[] = {
	    {.gpu = 0, .pid = 1003, .memory_bytes = 100, .memory_valid = true},
	    {.gpu = 1, .pid = 1001, .memory_bytes = 7, .memory_valid = true},
	    {.gpu = 1, .pid = 1003, .memory_bytes = 200, .memory_valid = true},
	    {.gpu = 2, .pid = 1003, .memory_valid = false},
	};
	uint32_t map[4];
	assert_int_equal(attrib_sweep(a, rows, 4, SEC, map), 2);
	assert_int_equal(map[0], 0);
	assert_int_equal(map[1], 1);
	assert_int_equal(map[2], 0);
	assert_int_equal(map[3], 0);
	const struct attrib_process *p = attrib_process_at(a, 0);
	assert_int_equal(p->pid, 1003);
	assert_int_equal(p->gpu_count, 3);
	assert_int_equal(p->gpu_memory_bytes, 300);
	assert_true(p->gpu_memory_valid);
	assert_null(attrib_process_at(a, 2));
	struct attrib_stats st;
	attrib_get_stats(a, &st);
	assert_int_equal(st.stat_reads, 2);
	attrib_destroy(a);
}

static void steady_state_sweep_does_not_allocate(void **state)
{
	(void)state;
	struct attrib *a = fixture_attrib();
	sweep_fixture(a, 1 * SEC);
	sweep_fixture(a, 2 * SEC);
	uint64_t before = test_alloc_count();
	for (int i = 0; i < 50; i++)
		sweep_fixture(a, (3 + i) * SEC);
	assert_int_equal(test_alloc_count() - before, 0);
	/* The wrapper does count: a refresh allocates. */
	attrib_refresh(a, 0, true);
	assert_true(test_alloc_count() > before);
	attrib_destroy(a);
}

static void configuration_paths(void **state)
{
	(void)state;
	struct attrib_config cfg;
	attrib_config_default(&cfg);
	cfg.proc_root = "/nonexistent/proc";
	errno = 0;
	assert_null(attrib_create(&cfg));
	assert_int_equal(errno, ENOENT);

	/* Explicit paths win over root; a missing passwd or log directory is not an error. */
	attrib_config_default(&cfg);
	cfg.root = "/nonexistent";
	cfg.proc_root = fixture_path("proc");
	struct attrib *a = attrib_create(&cfg);
	assert_non_null(a);
	assert_int_equal(attrib_refresh(a, 0, true), 1);
	struct attrib_row row = {.pid = 1003};
	assert_int_equal(attrib_sweep(a, &row, 1, SEC, NULL), 1);
	const struct attrib_process *p = attrib_process_at(a, 0);
	assert_string_equal(p->user, "1000");
	assert_false(p->k8s_valid);
	assert_string_equal(p->identity.container_id, CID_C);
	attrib_destroy(a);
	attrib_destroy(NULL);

	/* The default configuration reads the real /proc: ourselves. */
	a = attrib_create(NULL);
	assert_non_null(a);
	row.pid = getpid();
	assert_int_equal(attrib_sweep(a, &row, 1, SEC, NULL), 1);
	assert_int_equal(attrib_process_at(a, 0)->status, ATTRIB_OK);
	assert_int_equal(attrib_process_at(a, 0)->ppid, getppid());
	attrib_destroy(a);
}

/* The real procfs: stat fds are held and re-read; a reaped child answers ESRCH on its held
 * fd and is reported gone; max_held_fds bounds the fds. */
enum { CHILDREN = 3 };
static pid_t child[CHILDREN];

/* Teardown, so a failed assertion does not leave paused children behind. */
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

static void real_procfs_held_fds(void **state)
{
	(void)state;
	for (int i = 0; i < CHILDREN; i++) {
		child[i] = fork();
		assert_true(child[i] >= 0);
		if (child[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			pause();
			_exit(0);
		}
	}
	struct attrib_config cfg;
	attrib_config_default(&cfg);
	cfg.max_held_fds = 2;
	cfg.stat_every_sweep = true; /* the CPU-clock path is test_attrib_clock.c's */
	struct attrib *a = attrib_create(&cfg);
	assert_non_null(a);
	struct attrib_row rows[CHILDREN];
	for (int i = 0; i < CHILDREN; i++)
		rows[i] = (struct attrib_row){.gpu = 0, .pid = child[i]};
	assert_int_equal(attrib_sweep(a, rows, CHILDREN, 1 * SEC, NULL), CHILDREN);
	struct attrib_stats st;
	attrib_get_stats(a, &st);
	assert_false(st.clock_path);
	assert_int_equal(st.clock_reads, 0);
	assert_int_equal(st.held_fds, 2);
	assert_int_equal(st.stat_opens, CHILDREN);
	assert_int_equal(attrib_sweep(a, rows, CHILDREN, 2 * SEC, NULL), CHILDREN);
	attrib_get_stats(a, &st);
	assert_int_equal(st.stat_opens, CHILDREN + 1); /* the third is opened each time */
	for (int i = 0; i < CHILDREN; i++) {
		const struct attrib_process *p = attrib_process_at(a, (size_t)i);
		assert_int_equal(p->status, ATTRIB_OK);
		assert_int_equal(p->ppid, getpid());
		assert_true(p->cpu_valid);
		assert_false(p->new_process);
	}
	/* The first child exits and is reaped: its held fd says ESRCH, its path ENOENT. */
	kill(child[0], SIGKILL);
	assert_int_equal(waitpid(child[0], NULL, 0), child[0]);
	child[0] = 0;
	assert_int_equal(attrib_sweep(a, rows, CHILDREN, 3 * SEC, NULL), CHILDREN);
	assert_int_equal(attrib_process_at(a, 0)->status, ATTRIB_GONE);
	assert_int_equal(attrib_process_at(a, 1)->status, ATTRIB_OK);
	attrib_get_stats(a, &st);
	assert_int_equal(st.held_fds, 2); /* its fd closed, the third child's now held */
	/* Next sweep releases it; destroy closes the rest. */
	assert_int_equal(attrib_sweep(a, rows + 1, CHILDREN - 1, 4 * SEC, NULL), CHILDREN - 1);
	attrib_get_stats(a, &st);
	assert_int_equal(st.tracked, CHILDREN - 1);
	attrib_destroy(a);
}

/* attrib_refresh on a background thread while the sampler sweeps: the contract in attrib.h.
 * Meant for ThreadSanitizer builds; elsewhere it checks that names stay consistent. */
static void *refresh_loop(void *arg)
{
	struct attrib *a = arg;
	for (int i = 0; i < 100; i++)
		assert_true(attrib_refresh(a, i * SEC, true) == 1);
	return NULL;
}

static void refresh_concurrent_with_sweeps(void **state)
{
	(void)state;
	struct attrib *a = fixture_attrib();
	pthread_t thread;
	assert_int_equal(pthread_create(&thread, NULL, refresh_loop, a), 0);
	for (int i = 0; i < 100; i++) {
		sweep_fixture(a, (1 + i) * SEC);
		const struct attrib_process *p = find(a, 1003);
		assert_string_equal(p->k8s.pod, "vllm-llama-0");
		assert_string_equal(p->user, "alice");
		struct podres_device owner;
		assert_false(attrib_gpu_owner(a, "GPU-x", &owner));
	}
	assert_int_equal(pthread_join(thread, NULL), 0);
	struct attrib_stats st;
	attrib_get_stats(a, &st);
	assert_int_equal(st.refreshes, 101);
	attrib_destroy(a);
}

int test_attrib_run(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(labels_of_every_fixture_process),
	    cmocka_unit_test(duplicate_rows_fold_into_one_process),
	    cmocka_unit_test(steady_state_sweep_does_not_allocate),
	    cmocka_unit_test(configuration_paths),
	    cmocka_unit_test(refresh_concurrent_with_sweeps),
	    cmocka_unit_test_teardown(real_procfs_held_fds, kill_children),
	};
	return cmocka_run_group_tests_name("workload.attrib", tests, NULL, NULL);
}
