/* process_table.h - the processes on a GPU, as the slow tier's attribution saw them.
 *
 * The attribution (sample/attribution.c) builds a GPU's table off the board's lock, publishes
 * it whole (board_publish_processes) and never changes it afterwards; snapshots hold a
 * reference instead of a copy (64 processes are ~60 KB a GPU, too much to copy per scrape).
 * The exporter (export/prom_procs.c, export/proc_json.c), the recorder, the alerts and the
 * inference servers' join read it from a snapshot.  Strings are "" when unknown; sizes
 * follow the kernel's and Kubernetes' limits.
 */
#ifndef GPUSCOPE_SERIES_PROCESS_TABLE_H
#define GPUSCOPE_SERIES_PROCESS_TABLE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "series/metric_table.h"

#define GPU_MAX_PROCESSES  64
#define PROCESS_NAME_MAX   64
#define PROCESS_USER_MAX   33
#define PROCESS_CTR_ID_MAX 65 /* 64 hex digits */
#define PROCESS_UID_MAX    40 /* pod UID, dashed */
#define PROCESS_NS_MAX     64
#define PROCESS_POD_MAX    254
#define PROCESS_UNIT_MAX   128

struct process_record {
	int pid, ppid;
	unsigned long long start_ticks; /* with pid, what makes the process unique */
	char status[8];                 /* "ok", "gone", "denied", "garbage", "unknown" */
	char name[PROCESS_NAME_MAX];    /* basename of argv[0] (comm when empty) */
	char user[PROCESS_USER_MAX];
	bool memory_valid;
	double memory_bytes;      /* GPU memory on this GPU, as NVML reported */
	bool util_valid;          /* per-process utilization was read (not with MIG) */
	double sm_util, mem_util; /* percent of the GPU over the last slow interval */
	bool cpu_valid;
	double cpu_cores; /* CPU time per wall second: 1.0 = one core busy */
	double rss_bytes;
	bool gpu_instance_valid; /* MIG: the GPU instance it runs in */
	unsigned gpu_instance;
	char runtime[12]; /* "docker", "containerd", "cri-o", "podman" */
	char container_id[PROCESS_CTR_ID_MAX];
	char pod_uid[PROCESS_UID_MAX];
	char pod_namespace[PROCESS_NS_MAX];
	char pod[PROCESS_POD_MAX];
	char container[PROCESS_NS_MAX]; /* Kubernetes container name */
	bool slurm_job_valid;
	unsigned long long slurm_job;
	char systemd_unit[PROCESS_UNIT_MAX];
	unsigned gpu_count; /* GPUs the process is on */
	/* On this GPU since the agent first saw the process there (energy: docs/attribution.md). */
	double first_seen;        /* wall-clock seconds */
	double gpu_seconds;       /* its share of the GPU's time */
	double energy_joules;     /* its share of the GPU's energy */
	double energy_fraction;   /* its share of the GPU's last interval, 0..1 */
	double memory_peak_bytes; /* highest memory_bytes seen */
	bool growth_valid;        /* memory growth fit over the last hour (all its GPUs) */
	double growth_bytes_per_hour, growth_r_squared, growth_span_s;
	unsigned growth_samples;
};

/* What the processes past the table's cap add up to (a sum is valid when any had a value). */
struct process_overflow {
	unsigned count;
	double memory_bytes;
	bool sm_valid, cpu_valid;
	double sm_util, cpu_cores;
};

struct process_table {
	atomic_int refs;
	double published; /* monotonic seconds */
	bool attributed;  /* /proc was read (false: NVML's view only) */
	unsigned n;       /* records in proc[], largest memory first */
	unsigned total;   /* processes NVML listed */
	struct process_overflow overflow;
	/* The pod that holds the GPU, when exactly one does (kubelet, else the processes). */
	bool owner_valid;
	char owner_namespace[PROCESS_NS_MAX], owner_pod[PROCESS_POD_MAX];
	char owner_container[PROCESS_NS_MAX];
	char owner_source[8]; /* "kubelet" or "procs" */
	/* The GPU's energy split of the last interval, and idle totals since the agent started. */
	char energy_method[8]; /* "sm_util", "memory", "idle", "" before the first interval */
	double interval_s, idle_gpu_seconds, idle_energy_joules;
	unsigned cap; /* room in proc[]: the processes listed, GPU_MAX_PROCESSES at most */
	struct process_record proc[];
};

/* A zeroed table with room for cap records (at most GPU_MAX_PROCESSES, 920 bytes each:
 * a new table is made every slow tick, so it is sized to the GPU's processes, not to the
 * most a table can hold) and one reference; NULL when out of memory. */
struct process_table *process_table_new(unsigned cap);
/* Takes one more reference (t may be NULL); returns t. */
const struct process_table *process_table_ref(const struct process_table *t);
/* Drops one reference (t may be NULL); the last one frees the table. */
void process_table_unref(struct process_table *t);

/* The reader of the per-process families (GPUSCOPE_PROCESS_FAMILIES): family f's value for
 * record r in the family's native unit (bytes, ratio, cores), false when r has none (and
 * for a per-GPU family).  The exporter serves it and the recorder stores it, so a new
 * family is its row and one case here. */
bool process_family_value(enum process_family f, const struct process_record *r, double *v);

#endif
