/* attrib_table.h - the per-process slots behind attribution.
 *
 * entries[] holds one slot per tracked process: its published record plus the state that
 * must survive between sweeps (CPU baseline, identity deadline, held stat fd or pidfd, growth
 * ring).
 * index[] is an open-addressing hash from pid to slot, at most half full; free_slots[] is a
 * stack of unused slots; results[] lists the slots of the current sweep. All grow together,
 * by doubling, only when a sweep meets more processes than the table ever held: this is the
 * only place a sweep can allocate. Released slots are batched and the index rebuilt once,
 * since releases are rare (processes exit) and lookups are every sweep. */
#ifndef GPUSCOPE_WORKLOAD_ATTRIB_TABLE_H
#define GPUSCOPE_WORKLOAD_ATTRIB_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "workload/attrib.h"
#include "workload/growth.h"

struct attrib_entry {
	struct attrib_process proc; /* what the sweep publishes */
	bool in_use;
	bool have_stat;     /* proc.start_time_ticks is known */
	bool have_identity; /* cgroup/uid/cmdline were read at least once */
	bool have_cpu_base;
	bool cpu_base_clock; /* cpu_time_ns came from the CPU clock, not from stat's ticks */
	bool growth_started;
	int stat_fd;         /* held /proc/PID/stat, or -1 */
	int pidfd;           /* the CPU-clock path (attrib_clock.h): the process, or -1 */
	clockid_t cpu_clock; /* its process CPU clock, with pidfd */
	bool clock_ok;       /* this sweep's clock read worked (clock_cpu_ns) */
	uint64_t clock_cpu_ns;
	uint64_t cpu_time_ns; /* CPU time (all threads) at cpu_ns */
	int64_t cpu_ns;
	int64_t last_seen_ns;
	int64_t identity_due_ns;
	int64_t stat_due_ns;       /* the CPU-clock path's next full stat read */
	uint64_t names_generation; /* of the name tables it was resolved against; 0: never */
	uint64_t sweep;            /* the last sweep that reported it */
	uint32_t result_pos;
	double growth_next_s;
	struct growth_ring growth;
};

struct attrib_table {
	struct attrib_entry *entries;
	size_t capacity;
	size_t in_use;
	uint32_t *free_slots;
	size_t free_count;
	int32_t *index; /* -1: empty */
	size_t index_mask;
	uint32_t *results; /* slots of this sweep's processes, in row order */
	size_t result_count;
};

/* Doubles the table (or gives it its first size). False on out-of-memory, the table as it
 * was. */
bool attrib_table_grow(struct attrib_table *t);

/* The slot of pid, or -1. */
int32_t attrib_table_find(const struct attrib_table *t, pid_t pid);

/* A zeroed slot for pid (stat_fd and pidfd -1), indexed; grows the table when full. -1 on
 * out-of-memory. The caller knows pid is not in the table. */
int32_t attrib_table_acquire(struct attrib_table *t, pid_t pid);

/* Frees a slot. The index still names it until attrib_table_rebuild_index: release a batch,
 * then rebuild once, before the next find. */
void attrib_table_release(struct attrib_table *t, uint32_t slot);
void attrib_table_rebuild_index(struct attrib_table *t);

void attrib_table_free(struct attrib_table *t);

#endif
