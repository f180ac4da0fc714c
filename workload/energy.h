/* energy.h - split a GPU's energy and time over an interval among its processes.
 *
 * NVML gives energy per GPU, never per process, so a share of it is an estimate; the method
 * is fixed and documented (docs/attribution.md) so that the numbers can be reasoned about:
 *
 *   1. When any process on the GPU reports SM utilization, process i gets
 *      util_i / 100 of the interval. If the utilizations add up to more than 100 (sampling
 *      windows that overlap, MPS), they are scaled down to sum to 100.
 *   2. Otherwise, the GPU's busy fraction (its utilization / 100, or 1 when unknown and
 *      processes hold memory) is split by each process's share of the processes' memory.
 *   3. What is left is "idle": the GPU drew it with nothing to show; it is never spread over
 *      processes, so an idle-but-allocated GPU shows up as idle energy, not as a busy job.
 *
 * GPU-seconds are the same shares of the interval's length. Pure, no allocation. */
#ifndef GPUSCOPE_WORKLOAD_ENERGY_H
#define GPUSCOPE_WORKLOAD_ENERGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct energy_process {
	double sm_util; /* percent */
	bool sm_util_valid;
	uint64_t memory_bytes;
};

struct energy_share {
	double fraction; /* of the interval, 0..1 */
	double joules;
	double gpu_seconds;
};

enum energy_method {
	ENERGY_BY_SM_UTIL,
	ENERGY_BY_MEMORY,
	ENERGY_ALL_IDLE, /* no processes, or none used the GPU */
};

struct energy_split {
	enum energy_method method;
	double idle_fraction;
	double idle_joules;
	double idle_gpu_seconds;
};

/* gpu_util_percent is the GPU's own utilization over the interval, used by the memory method
 * only (pass gpu_util_valid false when unknown). out has n elements. */
void energy_apportion(double gpu_joules, double interval_s, double gpu_util_percent,
                      bool gpu_util_valid, const struct energy_process *procs, size_t n,
                      struct energy_share *out, struct energy_split *split);

/* "sm_util", "memory", "idle". */
const char *energy_method_name(enum energy_method m);

#endif
