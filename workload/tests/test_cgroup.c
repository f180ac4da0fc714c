/* test_cgroup.c - every row of the cgroup pattern table, the v1 line chooser, junk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "workload/cgroup.h"
#include "workload/tests/test_util.h"

#define ID_A  "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define ID_B  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define UID_D "11111111-2222-3333-4444-555555555555"
#define UID_U "11111111_2222_3333_4444_555555555555"

static struct cgroup_identity classify(const char *path)
{
	struct cgroup_identity id;
	memset(&id, 0, sizeof(id));
	cgroup_classify_path(path, strlen(path), &id);
	return id;
}

static struct cgroup_identity parse(const char *text)
{
	struct cgroup_identity id;
	assert_true(cgroup_parse(text, strlen(text), &id));
	return id;
}

static void docker(void **state)
{
	(void)state;
	struct cgroup_identity id = classify("/system.slice/docker-" ID_A ".scope");
	assert_int_equal(id.runtime, CGROUP_RUNTIME_DOCKER);
	assert_string_equal(id.container_id, ID_A);
	assert_string_equal(id.systemd_unit, "");
	id = classify("/docker/" ID_B);
	assert_int_equal(id.runtime, CGROUP_RUNTIME_DOCKER);
	assert_string_equal(id.container_id, ID_B);
	/* A bare id outside /docker or a pod is nobody's. */
	id = classify("/other/" ID_B);
	assert_int_equal(id.runtime, CGROUP_RUNTIME_NONE);
	assert_string_equal(id.container_id, "");
	/* Nested (docker in docker): the innermost wins. */
	id = classify("/docker/" ID_A "/docker/" ID_B);
	assert_string_equal(id.container_id, ID_B);
	assert_string_equal(cgroup_runtime_name(id.runtime), "docker");
}

static void containerd_kubernetes(void **state)
{
	(void)state;
	struct cgroup_identity id =
	    classify("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_U
	             ".slice/cri-containerd-" ID_A ".scope");
	assert_int_equal(id.runtime, CGROUP_RUNTIME_CONTAINERD);
	assert_string_equal(id.container_id, ID_A);
	assert_string_equal(id.pod_uid, UID_D);
	assert_int_equal(id.qos, CGROUP_QOS_BURSTABLE);

	id = classify("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_U
	              ".slice/cri-containerd-" ID_A ".scope");
	assert_int_equal(id.qos, CGROUP_QOS_BESTEFFORT);
	id = classify("/kubepods.slice/kubepods-pod" UID_U ".slice/cri-containerd-" ID_A ".scope");
	assert_int_equal(id.qos, CGROUP_QOS_GUARANTEED);
	assert_string_equal(id.pod_uid, UID_D);
	assert_string_equal(cgroup_qos_name(id.qos), "guaranteed");

	/* cgroupfs driver */
	id = classify("/kubepods/burstable/pod" UID_D "/" ID_B);
	assert_int_equal(id.runtime, CGROUP_RUNTIME_CONTAINERD);
	assert_string_equal(id.container_id, ID_B);
	assert_string_equal(id.pod_uid, UID_D);
	assert_int_equal(id.qos, CGROUP_QOS_BURSTABLE);
	id = classify("/kubepods/besteffort/pod" UID_D "/" ID_B);
	assert_int_equal(id.qos, CGROUP_QOS_BESTEFFORT);
	id = classify("/kubepods/pod" UID_D "/" ID_B);
	assert_int_equal(id.qos, CGROUP_QOS_GUARANTEED);
	/* The pod cgroup itself (the pause process' parent): a pod, no container. */
	id = classify("/kubepods/pod" UID_D);
	assert_string_equal(id.pod_uid, UID_D);
	assert_string_equal(id.container_id, "");
	/* pod<uid> outside kubepods is not a pod. */
	id = classify("/elsewhere/pod" UID_D "/" ID_B);
	assert_string_equal(id.pod_uid, "");
	assert_string_equal(id.container_id, "");
	/* Static pods have 32-hex UIDs. */
	id = classify("/kubepods.slice/kubepods-pod0123456789abcdef0123456789abcdef.slice/"
	              "cri-containerd-" ID_A ".scope");
	assert_string_equal(id.pod_uid, "0123456789abcdef0123456789abcdef");
	/* Docker as the kubelet's runtime, systemd driver. */
	id = classify("/kubepods.slice/kubepods-pod" UID_U ".slice/docker-" ID_A ".scope");
	assert_int_equal(id.runtime, CGROUP_RUNTIME_DOCKER);
	assert_string_equal(id.pod_uid, UID_D);
	/* nerdctl (bare containerd) scopes. */
	id = classify("/system.slice/nerdctl-" ID_A ".scope");
	assert_int_equal(id.runtime, CGROUP_RUNTIME_CONTAINERD);
}

static void crio(void **state)
{
	(void)state;
	struct cgroup_identity id =
	    classify("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_U
	             ".slice/crio-" ID_A ".scope");
	assert_int_equal(id.runtime, CGROUP_RUNTIME_CRIO);
	assert_string_equal(id.container_id, ID_A);
	assert_string_equal(id.pod_uid, UID_D);
	assert_false(id.conmon);
	assert_string_equal(cgroup_runtime_name(id.runtime), "cri-o");
	/* conmon watches the container but is not it. */
	id = classify("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_U
	              ".slice/crio-conmon-" ID_A ".scope");
	assert_int_equal(id.runtime, CGROUP_RUNTIME_NONE);
	assert_string_equal(id.container_id, "");
	assert_true(id.conmon);
	assert_string_equal(id.pod_uid, UID_D);
	/* cgroupfs driver */
	id = classify("/kubepods/burstable/pod" UID_D "/crio-" ID_B);
	assert_int_equal(id.runtime, CGROUP_RUNTIME_CRIO);
	assert_string_equal(id.container_id, ID_B);
	id = classify("/kubepods/burstable/pod" UID_D "/crio-conmon-" ID_B);
	assert_string_equal(id.container_id, "");
	assert_true(id.conmon);
}

static void podman(void **state)
{
	(void)state;
	struct cgroup_identity id = classify("/machine.slice/libpod-" ID_A ".scope/container");
	assert_int_equal(id.runtime, CGROUP_RUNTIME_PODMAN);
	assert_string_equal(id.container_id, ID_A);
	id = classify("/machine.slice/libpod-conmon-" ID_A ".scope");
	assert_int_equal(id.runtime, CGROUP_RUNTIME_NONE);
	assert_true(id.conmon);
	/* rootless, under the user's systemd */
	id = classify("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID_B
	              ".scope/container");
	assert_int_equal(id.runtime, CGROUP_RUNTIME_PODMAN);
	assert_string_equal(id.container_id, ID_B);
	assert_true(id.systemd_user_unit);
	assert_int_equal(id.systemd_user_uid, 1000);
	assert_string_equal(id.systemd_unit, "");
	/* cgroupfs manager */
	id = classify("/libpod_parent/libpod-" ID_B);
	assert_int_equal(id.runtime, CGROUP_RUNTIME_PODMAN);
	assert_string_equal(cgroup_runtime_name(id.runtime), "podman");
}

static void slurm(void **state)
{
	(void)state;
	struct cgroup_identity id = classify("/slurm/uid_1000/job_4242/step_0/task_0");
	assert_true(id.has_slurm_job);
	assert_int_equal(id.slurm_job, 4242);
	assert_string_equal(id.slurm_step, "0");
	assert_true(id.has_slurm_uid);
	assert_int_equal(id.slurm_uid, 1000);
	id = classify("/slurm_node17/uid_5/job_9/step_extern");
	assert_int_equal(id.slurm_job, 9);
	assert_string_equal(id.slurm_step, "extern");
	id = classify("/system.slice/slurmstepd.scope/job_777/step_batch/user/task_0");
	assert_int_equal(id.slurm_job, 777);
	assert_string_equal(id.slurm_step, "batch");
	assert_false(id.has_slurm_uid);
	/* job_ outside slurm is just a directory. */
	id = classify("/mine/job_12/step_0");
	assert_false(id.has_slurm_job);
	assert_string_equal(id.slurm_step, "");
	/* step_ before any job is not a step. */
	id = classify("/slurm/step_3");
	assert_string_equal(id.slurm_step, "");

	/* v1: the pids and name=systemd lines say slurmd.service, memory says the job. */
	const char *v1 = "12:pids:/system.slice/slurmd.service\n"
	                 "8:memory:/slurm/uid_1000/job_4242/step_0/task_0\n"
	                 "4:freezer:/slurm/uid_1000/job_4242/step_0\n"
	                 "1:name=systemd:/system.slice/slurmd.service\n"
	                 "0::/\n";
	id = parse(v1);
	assert_int_equal(id.slurm_job, 4242);
	assert_string_equal(id.slurm_step, "0");
	assert_string_equal(id.path, "/slurm/uid_1000/job_4242/step_0/task_0");
	assert_false(id.cgroup_v2);
}

static void systemd_units(void **state)
{
	(void)state;
	struct cgroup_identity id = parse("0::/system.slice/triton.service\n");
	assert_string_equal(id.systemd_unit, "triton.service");
	assert_false(id.systemd_user_unit);
	assert_true(id.cgroup_v2);
	id = parse("0::/user.slice/user-1001.slice/user@1001.service/app.slice/jupyter.service\n");
	assert_string_equal(id.systemd_unit, "jupyter.service");
	assert_true(id.systemd_user_unit);
	assert_int_equal(id.systemd_user_uid, 1001);
	/* A login session is no unit, no container. */
	id = parse("0::/user.slice/user-1000.slice/session-3.scope\n");
	assert_string_equal(id.systemd_unit, "");
	assert_int_equal(id.runtime, CGROUP_RUNTIME_NONE);
	assert_string_equal(id.path, "/user.slice/user-1000.slice/session-3.scope");
	id = parse("0::/\n");
	assert_string_equal(id.path, "/");
	assert_true(id.cgroup_v2);
}

static void line_choice_v1_and_hybrid(void **state)
{
	(void)state;
	/* Equal identity everywhere: pids wins the tie. */
	const char *v1 = "11:memory:/docker/" ID_B "\n"
	                 "9:cpu,cpuacct:/docker/" ID_B "\n"
	                 "5:pids:/docker/" ID_B "\n"
	                 "1:name=systemd:/docker/" ID_B "\n";
	struct cgroup_identity id = parse(v1);
	assert_string_equal(id.container_id, ID_B);
	assert_false(id.cgroup_v2);
	/* Hybrid: v1 lines say the container, the v2 line only the root. */
	const char *hybrid = "3:cpuset:/\n"
	                     "2:cpu,cpuacct:/docker/" ID_A "\n"
	                     "1:name=systemd:/docker/" ID_A "\n"
	                     "0::/\n";
	id = parse(hybrid);
	assert_string_equal(id.container_id, ID_A);
	/* "cpuset" and "cpuacct" do not count as "cpu". */
	const char *tie = "3:cpuset:/system.slice/a.service\n"
	                  "2:memory:/system.slice/b.service\n";
	id = parse(tie);
	assert_string_equal(id.systemd_unit, "b.service");
	/* A reader in another cgroup namespace sees ".." components. */
	id = parse("0::/../../system.slice/docker-" ID_A ".scope\n");
	assert_string_equal(id.container_id, ID_A);
}

static void malformed_ids_and_junk(void **state)
{
	(void)state;
	/* 63 hex digits, uppercase hex, a non-hex: no container. */
	struct cgroup_identity id =
	    classify("/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef"
	             "0123456789abcde.scope");
	assert_string_equal(id.container_id, "");
	id = classify("/system.slice/docker-0123456789ABCDEF0123456789abcdef0123456789abcdef"
	              "0123456789abcdef.scope");
	assert_string_equal(id.container_id, "");
	id = classify("/kubepods/burstable/pod1111111-2222-3333-4444-555555555555/" ID_A);
	assert_string_equal(id.pod_uid, "");
	assert_string_equal(id.container_id, "");

	struct cgroup_identity out;
	assert_false(cgroup_parse("", 0, &out));
	const char *junk = "garbage\n::\nx:y:z\n";
	assert_false(cgroup_parse(junk, strlen(junk), &out));
	assert_string_equal(out.container_id, "");
	const char nul_inside[] = "0::/system.slice/do\0cker-" ID_A ".scope\n";
	assert_true(cgroup_parse(nul_inside, sizeof(nul_inside) - 1, &out));
	assert_string_equal(out.container_id, "");
	assert_int_equal(strlen(out.path), sizeof(nul_inside) - 5); /* NUL shown as '?' */
	/* The fixture with 256 bytes of binary junk before a few broken lines. */
	char buf[2048];
	FILE *f = fopen(fixture_path("proc/1021/cgroup"), "rb");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	(void)cgroup_parse(buf, n, &out);
	assert_string_equal(out.container_id, "");
	assert_int_equal(out.runtime, CGROUP_RUNTIME_NONE);
	/* A path longer than the buffer is truncated, still classified. */
	char longpath[1200] = "0::";
	for (int i = 0; i < 40; i++)
		strcat(longpath, "/a-long-directory");
	strcat(longpath, "/docker-" ID_A ".scope\n");
	assert_true(cgroup_parse(longpath, strlen(longpath), &out));
	assert_string_equal(out.container_id, ID_A);
	assert_int_equal(strlen(out.path), CGROUP_PATH_MAX - 1);
}

static void same_workload(void **state)
{
	(void)state;
	struct cgroup_identity a = classify("/docker/" ID_A);
	struct cgroup_identity b = classify("/docker/" ID_A);
	assert_true(cgroup_same_workload(&a, &b));
	b = classify("/docker/" ID_B);
	assert_false(cgroup_same_workload(&a, &b));
}

int test_cgroup_run(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(docker),
	    cmocka_unit_test(containerd_kubernetes),
	    cmocka_unit_test(crio),
	    cmocka_unit_test(podman),
	    cmocka_unit_test(slurm),
	    cmocka_unit_test(systemd_units),
	    cmocka_unit_test(line_choice_v1_and_hybrid),
	    cmocka_unit_test(malformed_ids_and_junk),
	    cmocka_unit_test(same_workload),
	};
	return cmocka_run_group_tests_name("workload.cgroup", tests, NULL, NULL);
}
