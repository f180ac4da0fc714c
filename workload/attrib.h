/* attrib.h - who uses the GPU: per-process attribution with a per-(pid, start time) cache.
 *
 * The agent hands in the (GPU, pid, memory) rows NVML reported; attrib_sweep says who each
 * pid is: command, user, CPU use, RSS, parent, threads, and the workload (container, pod,
 * Slurm job, systemd unit) with Kubernetes names. It does not call NVML.
 *
 * Cost shapes it. A sweep runs every slow-tier tick (default 5 s) for up to a few hundred
 * processes, and should cost well under a millisecond, so:
 *   - identity (cgroup, uid, cmdline) is read once per process, keyed by (pid, start time);
 *     the cgroup is re-read every identity_refresh_s (jittered per pid so re-reads spread
 *     out), uid and cmdline again only when comm changes (an exec);
 *   - on the live procfs of our own pid namespace, with pidfd_open (attrib_clock.h), each
 *     sweep reads per process only its CPU clock (a counter, in ns, over all threads), then
 *     polls all the processes' pidfds once to drop readings of processes that exited; the
 *     full /proc/PID/stat (RSS, comm, state, ppid, threads) is read when a process is first
 *     seen and then every stat_refresh_s (60 s, on a grid offset per pid), so those fields
 *     may be up to 1.5 x that old, while CPU is exact;
 *   - elsewhere (fixture trees, another namespace's /proc, no pidfd) each sweep reads
 *     /proc/PID/stat for CPU time and RSS; on a real procfs its fd is kept open and re-read
 *     with pread (up to max_held_fds of them), which halves the cost, and an exited or
 *     reused pid answers ESRCH on it;
 *   - the per-process state lives in a table that grows only when more processes appear
 *     than ever before: no allocation per sweep in steady state;
 *   - names that need directory scans or file parses (passwd, /var/log/pods, the kubelet)
 *     are rebuilt by attrib_refresh, which the agent calls from a background thread, and
 *     are swapped in under a lock; the sweep only looks them up.
 *
 * Threads: attrib_sweep and the readers of its results belong to one thread (the slow-tier
 * sampler); attrib_refresh may run concurrently on another. Results stay valid until the
 * next sweep. */
#ifndef GPUSCOPE_WORKLOAD_ATTRIB_H
#define GPUSCOPE_WORKLOAD_ATTRIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "workload/cgroup.h"
#include "workload/growth.h"
#include "workload/k8s.h"
#include "workload/podres.h"
#include "workload/procfs.h"
#include "workload/users.h"

/* Every path the library reads, plus the tunables. A NULL path takes its default under
 * root: "<root>/proc", "<root>/etc", "<root>/var/log/pods", "<root>/var/log/containers",
 * "<root>/var/lib/kubelet/pod-resources/kubelet.sock". root is "" by default; an agent in a
 * container with the host's / mounted at /host sets root = "/host" (or sets each path to
 * where its host mount is). An explicit path is taken as given. kubelet_socket = "" turns
 * the kubelet query off. */
struct attrib_config {
	const char *root;
	const char *proc_root;
	const char *etc_root; /* the passwd file is <etc_root>/passwd */
	const char *pod_log_dir;
	const char *container_log_dir;
	const char *kubelet_socket;

	double identity_refresh_s;   /* re-read the cgroup of a known process: 60 */
	double stat_refresh_s;       /* full stat read on the CPU-clock path: 60 */
	double names_refresh_s;      /* attrib_refresh rescans at most this often: 30 */
	double forget_after_s;       /* drop a process not seen in a sweep for this long: 60 */
	double growth_sample_s;      /* one memory-growth sample per process per: 60 */
	double growth_window_s;      /* the growth fit uses samples this recent: 3600 */
	unsigned kubelet_timeout_ms; /* whole pod-resources exchange: 1000 */
	int max_held_fds;            /* stat fds or pidfds kept open: 256; <= 0: none */
	bool stat_every_sweep;       /* read stat every sweep even where the CPU-clock path works */
	long clock_ticks_per_s;      /* 0: sysconf(_SC_CLK_TCK) */
	long page_size;              /* 0: sysconf(_SC_PAGESIZE) */
};

void attrib_config_default(struct attrib_config *cfg);

/* One row per (GPU, pid) as NVML reported it. */
struct attrib_row {
	unsigned gpu;
	pid_t pid;
	uint64_t memory_bytes;
	bool memory_valid;
};

enum attrib_status {
	ATTRIB_OK = 0,
	ATTRIB_GONE,    /* exited between NVML's list and our read (or hidden from us) */
	ATTRIB_DENIED,  /* /proc/PID is there but we may not read it */
	ATTRIB_GARBAGE, /* /proc/PID/stat did not parse */
};

#define ATTRIB_EXE_MAX  64
#define ATTRIB_USER_MAX USER_NAME_MAX

/* What a sweep says about one process. Fields beyond pid and status are meaningful only
 * with status ATTRIB_OK (a GONE process keeps what was known of it, for a last look). */
struct attrib_process {
	pid_t pid;
	enum attrib_status status;
	uint64_t start_time_ticks;
	bool new_process; /* first seen (or pid reused) in this sweep */

	char comm[PROCFS_COMM_MAX];
	char exe[ATTRIB_EXE_MAX]; /* basename of argv[0]; comm when the cmdline is empty */
	char state;
	pid_t ppid;
	uint32_t threads;
	uint64_t rss_bytes;
	bool cpu_valid;   /* false on a process's first sweep */
	double cpu_cores; /* CPU time per wall second, all threads: 1.0 = one core busy */

	bool uid_valid;
	uint32_t uid;
	char user[ATTRIB_USER_MAX]; /* passwd name, else the uid in decimal */

	bool identity_valid; /* the cgroup file was read */
	struct cgroup_identity identity;
	bool k8s_valid; /* pod or container found in the log directories */
	struct k8s_names k8s;

	/* GPU memory summed over this sweep's rows for the pid, and its growth. */
	bool gpu_memory_valid;
	uint64_t gpu_memory_bytes;
	unsigned gpu_count; /* rows for this pid in this sweep */
	struct growth_fit memory_growth;
};

struct attrib;

/* NULL on failure with errno set (ENOENT: proc_root cannot be opened; ENOMEM). Does not scan
 * names: call attrib_refresh once (with force) before the first sweep, else users show as
 * numbers and pods as UIDs until the first refresh. */
struct attrib *attrib_create(const struct attrib_config *cfg);
void attrib_destroy(struct attrib *a);

/* Rebuilds the user table (when passwd changed), the Kubernetes log index and the kubelet
 * device map, if names_refresh_s passed since the last rebuild or force. Returns 1 when it
 * rebuilt, 0 when not due, -1 on out-of-memory (the old tables stay). Background thread. */
int attrib_refresh(struct attrib *a, int64_t now_ns, bool force);

/* Attributes the rows. now_ns is CLOCK_MONOTONIC (any clock that does not jump). If
 * row_process is not NULL it receives, per row, the index of that row's process in this
 * sweep's results. Returns the number of distinct processes, or -1 on out-of-memory (only
 * possible when more processes appear than the table ever held). */
int attrib_sweep(struct attrib *a, const struct attrib_row *rows, size_t n, int64_t now_ns,
                 uint32_t *row_process);

/* This sweep's processes, in order of first appearance in the rows. */
size_t attrib_count(const struct attrib *a);
const struct attrib_process *attrib_process_at(const struct attrib *a, size_t i);

/* The pod and container the kubelet allocated a device to, by the id the device plugin
 * uses: a GPU UUID as NVML names it ("GPU-..."), or a MIG UUID. Works for GPUs with no
 * process at all. False when unknown (no kubelet socket, not allocated, query failed).
 * Takes the names lock: call it from the sweep thread, not per scrape. */
bool attrib_gpu_owner(struct attrib *a, const char *device_id, struct podres_device *out);

/* Counters for the agent's self-metrics and the tests. */
struct attrib_stats {
	uint64_t sweeps;
	uint64_t stat_reads;     /* /proc/PID/stat reads */
	uint64_t stat_opens;     /* ... of which opened the file (the rest: pread on a held fd) */
	uint64_t clock_reads;    /* process CPU clock reads (the CPU-clock path) */
	uint64_t clock_discards; /* ... thrown away: the process exited (its pidfd polled ready) */
	uint64_t identity_reads; /* identity reads (new: cgroup+status+cmdline; periodic: cgroup) */
	uint64_t pid_reuses;     /* a known pid came back with another start time */
	uint64_t gone;           /* processes found gone */
	uint64_t refreshes;      /* name table rebuilds */
	bool kubelet_queried;    /* the last rebuild asked the kubelet */
	enum h2c_result kubelet_result; /* and how that went */
	size_t kubelet_devices;         /* nvidia.com devices it listed */
	size_t tracked;                 /* processes held now */
	size_t held_fds;                /* stat fds or pidfds open now */
	size_t capacity;                /* table size now */
	bool clock_path;                /* CPU from CPU clocks, pidfds polled (attrib_clock.h) */
};
void attrib_get_stats(const struct attrib *a, struct attrib_stats *out);

const char *attrib_status_name(enum attrib_status s);

#endif
