/* attribution.h - who uses each GPU: the slow tier's process list, attributed and published.
 *
 * One attribution per agent, shared by the GPU workers.  On each slow tick a GPU's worker reads
 * its processes from NVML (processes.h) and calls attribution_gpu_sweep, which asks the
 * workload library (workload/attrib.h) who each pid is, splits the GPU's energy and time over
 * them (workload/energy.h), keeps the largest GPU_MAX_PROCESSES and publishes them to the board
 * as the GPU's process table.  The scrape path only reads that table: /proc, the kubelet and
 * the driver are never touched on a request.
 *
 * attrib_sweep and its results belong to one thread at a time; the workers take turns under
 * the attribution's lock (a sweep of a GPU's processes costs tens of microseconds).  The
 * name tables (passwd, /var/log/pods, the kubelet) are rebuilt by a thread of the
 * attribution's own every 30 s, as attrib.h asks.
 */
#ifndef GPUSCOPE_ATTRIBUTION_H
#define GPUSCOPE_ATTRIBUTION_H

#include <stdbool.h>
#include <stddef.h>

#include "sample/processes.h"
#include "series/process_table.h"
#include "series/snapshot.h"

struct attribution;

struct attribution_config {
	const char *host_root;      /* prefix of the default paths ("" or NULL: /) */
	const char *proc_root;      /* NULL: <host_root>/proc */
	const char *kubelet_socket; /* NULL: the default under host_root; "": no kubelet */
	double slow_s;              /* the slow tier's period (processes are forgotten after
	                             * max(60 s, 3 periods) unseen) */
	double growth_sample_s;     /* one memory-growth sample per process per; 0: 60 s */
};

/* Per-GPU state, owned by that GPU's worker (large: allocate it). */
struct attribution_acc {
	int pid;
	unsigned long long start_ticks;
	double first_seen, gpu_seconds, energy_joules, memory_peak_bytes;
};

struct attribution_gpu {
	struct gpuprocs_reader reader;
	struct gpuprocs_row rows[GPUPROCS_MAX];
	struct process_record recs[GPUPROCS_MAX];
	struct attribution_acc acc[GPUPROCS_MAX], next_acc[GPUPROCS_MAX];
	unsigned n_acc;
	bool have_last;
	double last_t;         /* monotonic seconds of the previous sweep */
	bool have_energy;      /* last_energy_mj holds the integrated power counter */
	double last_energy_mj; /* gpuscope_power_integrated_joules_total, mJ */
	double idle_gpu_seconds, idle_energy_joules;
	int listed; /* processes in the last list; -1 (SCHED_PROCS_UNLISTED) when the driver
	             * would not list them */
};

/* Starts the attribution and its refresh thread.  When proc_root cannot be opened the
 * attribution still runs on NVML's view alone (pids, memory, utilization) and *warning says
 * why.  NULL only when out of memory or the thread cannot start. */
struct attribution *attribution_start(const struct attribution_config *cfg, char *warning,
                                      size_t warnlen);
void attribution_stop(struct attribution *a);

/* One slow tick of GPU gpu: reads its processes through lib and publishes its table.
 * uuid is the GPU's (for the kubelet's allocation).  Returns the NVML status of the reads
 * (GPU_IS_LOST is for the caller to act on). */
nvmlReturn_t attribution_gpu_sweep(struct attribution *a, struct attribution_gpu *g,
                                   const struct nvml_lib *lib, nvmlDevice_t dev,
                                   struct board *board, unsigned gpu, const char *uuid);

void attribution_gpu_release(struct attribution_gpu *g);

#endif
