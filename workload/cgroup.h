/* cgroup.h - workload identity from /proc/PID/cgroup: container, runtime, pod, Slurm job,
 * systemd unit.
 *
 * The cgroup path is the one piece of /proc that names the workload rather than the process:
 * container runtimes, the kubelet, slurmd and systemd each put a recognisable component in it.
 * All recognised components are rows of one table in cgroup.c (documented in
 * docs/attribution.md); classification walks a path's components and applies the first row
 * that matches each. Pure functions: no I/O, no allocation. */
#ifndef GPUSCOPE_WORKLOAD_CGROUP_H
#define GPUSCOPE_WORKLOAD_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cgroup_runtime {
	CGROUP_RUNTIME_NONE = 0,
	CGROUP_RUNTIME_DOCKER,
	CGROUP_RUNTIME_CONTAINERD,
	CGROUP_RUNTIME_CRIO,
	CGROUP_RUNTIME_PODMAN,
};

enum cgroup_k8s_qos {
	CGROUP_QOS_NONE = 0,
	CGROUP_QOS_GUARANTEED,
	CGROUP_QOS_BURSTABLE,
	CGROUP_QOS_BESTEFFORT,
};

#define CGROUP_CONTAINER_ID_LEN 64 /* full id; exporters usually show the first 12 */
#define CGROUP_POD_UID_LEN      36 /* 8-4-4-4-12, dashed */
#define CGROUP_PATH_MAX         256
#define CGROUP_UNIT_MAX         128
#define CGROUP_STEP_MAX         24

struct cgroup_identity {
	enum cgroup_runtime runtime;                    /* NONE when no container */
	char container_id[CGROUP_CONTAINER_ID_LEN + 1]; /* lowercase hex, "" when none */
	char pod_uid[CGROUP_POD_UID_LEN + 1];           /* dashed, "" when none */
	enum cgroup_k8s_qos qos;                        /* meaningful with pod_uid */
	bool has_slurm_job;
	uint64_t slurm_job;
	char slurm_step[CGROUP_STEP_MAX]; /* "0", "batch", "extern", ...; "" when none */
	bool has_slurm_uid;
	uint32_t slurm_uid;
	char systemd_unit[CGROUP_UNIT_MAX]; /* innermost "*.service", "" when none */
	bool systemd_user_unit;             /* the unit runs under user@UID.service */
	uint32_t systemd_user_uid;
	bool conmon;                /* a crio-conmon-/libpod-conmon- cgroup: runtime helper */
	bool cgroup_v2;             /* the chosen line was "0::" */
	char path[CGROUP_PATH_MAX]; /* the chosen line's path, truncated */
};

/* Classifies one cgroup path ("/kubepods.slice/..."), setting what it recognises in out
 * (which the caller zeroes first). ".." components (a reader in another cgroup namespace)
 * are skipped. Later (deeper) components override earlier ones: the innermost container
 * wins in nested setups. */
void cgroup_classify_path(const char *path, size_t len, struct cgroup_identity *out);

/* Parses the whole /proc/PID/cgroup text (v1, v2 or hybrid). Every line is classified; the
 * line with the richest identity wins (container > pod > Slurm job > systemd unit), ties go
 * to the preferred controller: pids, cpu, memory, name=systemd, the v2 "0::" line, others.
 * That is why a Slurm v1 task, whose pids line says slurmd.service but whose memory line
 * says job_N, is attributed to the job. Returns false (out zeroed) when no line parses. */
bool cgroup_parse(const char *text, size_t len, struct cgroup_identity *out);

/* "docker", "containerd", "cri-o", "podman", "" for NONE. */
const char *cgroup_runtime_name(enum cgroup_runtime r);

/* "guaranteed", "burstable", "besteffort", "". */
const char *cgroup_qos_name(enum cgroup_k8s_qos q);

/* True when the two identities name the same workload (runtime, container, pod, job, unit);
 * the attribution uses it to notice a process that moved. */
bool cgroup_same_workload(const struct cgroup_identity *a, const struct cgroup_identity *b);

#endif
