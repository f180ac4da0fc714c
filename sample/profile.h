/* profile.h - what each source costs the agent in CPU, when asked.
 *
 * With GPUSCOPE_PROFILE=1 in its environment, `gpuscope serve` times every
 * reader call (and each GPU's process sweep) on the calling thread's CPU
 * clock and, when it stops, prints one line per source to stderr:
 *
 *   profile TIER SOURCE CALLS CPU_US_PER_CALL CPU_MS_PER_S
 *
 * CPU_MS_PER_S is over all GPUs and the whole run.  Then one line per source
 * whose period the rule for dear reads has stretched (sample/schedule.h):
 *
 *   profile stretched gpuN SOURCE BASE_S PERIOD_S LAST_READ_CPU_MS
 *
 * and one per GPU under the idle rule: how long its fast sources were on the idle period,
 * of the whole run, and how many times it went idle:
 *
 *   profile idle gpuN IDLE_PERIOD_S SECONDS_IDLE SECONDS_RUN TIMES_IDLE
 *
 * It is a benchmarking aid
 * (bench/README.md): the two clock reads per call cost about a microsecond,
 * so it is off unless asked for.
 */
#ifndef GPUSCOPE_PROFILE_H
#define GPUSCOPE_PROFILE_H

#include <stdbool.h>
#include <stdio.h>

#include "series/metric_table.h"

/* Extra rows beside the sources. */
enum profile_extra {
	PROFILE_PROCESSES = SRC_COUNT, /* a GPU's whole process sweep, of which: */
	PROFILE_PROCESS_LISTS,         /* the compute and graphics lists */
	PROFILE_PROCESS_UTIL,          /* per-process utilization */
	PROFILE_MIG,
	PROFILE_ROWS
};

/* Reads GPUSCOPE_PROFILE once; later calls return the same answer. */
bool profile_enabled(void);

/* Thread CPU time now, in ns (0 when profiling is off). */
long long profile_begin(void);
/* Adds the CPU spent since `begun` (from profile_begin) to row `row`. */
void profile_end(int tier, int row, long long begun);

/* Prints the table (nothing when off); `seconds` is the run's length. */
void profile_print(FILE *to, double seconds);

#endif
