/* tpgroup.h - tensor-parallel groups and their skew.
 *
 * A tensor-parallel (or data-parallel) job runs one process per GPU; when one shard holds
 * more memory or does more work than its peers, the whole group waits for it. Processes
 * belong to one workload when they share, in this order of preference: a container id, a
 * Slurm job, a pod, or a parent process (a launcher and the workers it forked, so vLLM's
 * rank 0 in the launcher joins its forked ranks). A workload whose processes are spread over
 * two or more GPUs is a group. Per group and per GPU the members' memory and SM utilization
 * are summed, then compared across the group's GPUs.
 *
 * Skew is max / min with the minimum floored (TPGROUP_MEMORY_FLOOR_BYTES,
 * TPGROUP_UTIL_FLOOR_PERCENT), so an idle shard gives a large finite number instead of a
 * division by zero, and an all-idle group gives 1. Imbalance, (max - min) / max in 0..1 and 0
 * when max is 0, is the bounded twin for dashboards. Pure, no allocation. */
#ifndef GPUSCOPE_WORKLOAD_TPGROUP_H
#define GPUSCOPE_WORKLOAD_TPGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "workload/cgroup.h"

#define TPGROUP_MEMORY_FLOOR_BYTES (1024.0 * 1024.0) /* 1 MiB */
#define TPGROUP_UTIL_FLOOR_PERCENT 1.0

enum tpgroup_key_kind {
	TPGROUP_KEY_NONE = 0, /* never grouped */
	TPGROUP_KEY_CONTAINER,
	TPGROUP_KEY_SLURM_JOB,
	TPGROUP_KEY_POD,
	TPGROUP_KEY_PARENT, /* value: the parent pid (or the pid of a member others descend from) */
};

struct tpgroup_key {
	enum tpgroup_key_kind kind;
	char value[CGROUP_CONTAINER_ID_LEN + 1];
};

/* One (process, GPU) pair as NVML reported it. */
struct tpgroup_member {
	struct tpgroup_key key;
	unsigned gpu;
	pid_t pid;
	pid_t ppid;
	uint64_t memory_bytes;
	double sm_util; /* percent */
	bool sm_util_valid;
};

struct tpgroup {
	struct tpgroup_key key;
	size_t first_member; /* members[first_member .. + member_count) after tpgroup_find */
	size_t member_count;
	unsigned gpu_count;
	double memory_min_bytes, memory_max_bytes; /* per-GPU sums */
	double memory_skew, memory_imbalance;
	bool util_valid; /* every member reported SM utilization */
	double util_min, util_max;
	double util_skew, util_imbalance;
};

/* The workload key of a process: container, else Slurm job, else pod, else parent pid
 * (ppid <= 1 means "reparented to init": NONE). */
void tpgroup_key_for(const struct cgroup_identity *id, pid_t ppid, struct tpgroup_key *key);

/* max / max(min, floor); 1 when max is 0. */
double tpgroup_skew(double min, double max, double floor);

/* (max - min) / max; 0 when max is 0. */
double tpgroup_imbalance(double min, double max);

/* Sorts members (in place) by key, GPU and pid, then writes up to groups_cap groups.
 * Returns how many groups there are (which may exceed groups_cap: only the first are
 * written). Parent keys are first adjusted: a member that is the parent of other members
 * with a parent key takes their key. */
size_t tpgroup_find(struct tpgroup_member *members, size_t n, struct tpgroup *groups,
                    size_t groups_cap);

#endif
