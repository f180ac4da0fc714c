/* cap.h - the cardinality cap on per-process series.
 *
 * A GPU shared through MPS or time-slicing can carry dozens of processes, and every process
 * is a label set in Prometheus. The exporter keeps the top K processes of a GPU by memory
 * and folds the rest into one "other" entry, so a GPU never costs more than K + 1 series per
 * per-process metric, whatever runs on it. Memory, not utilization, orders them because it
 * is always reported and changes slowly: the set of kept processes does not flap between
 * scrapes. Ties go to the lower pid, so the choice is deterministic. */
#ifndef GPUSCOPE_WORKLOAD_CAP_H
#define GPUSCOPE_WORKLOAD_CAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Per GPU; docs/attribution.md explains the choice. */
#define CAP_DEFAULT_TOP_K 10

struct cap_entry {
	pid_t pid;
	uint64_t memory_bytes;
	double sm_util; /* percent of the GPU's SM time */
	bool sm_util_valid;
	double cpu_cores;
	bool cpu_valid;
	size_t ref; /* the caller's index, carried through the sort */
};

/* What the folded processes add up to. A sum is valid when any folded process had a valid
 * value (the others contribute nothing to it). */
struct cap_other {
	size_t count;
	uint64_t memory_bytes;
	double sm_util;
	bool sm_util_valid;
	double cpu_cores;
	bool cpu_valid;
};

/* Sorts entries (in place, no allocation) by memory descending then pid ascending, keeps the
 * first k and folds the rest into *other. Returns the number kept, min(n, k). */
size_t cap_top_k(struct cap_entry *entries, size_t n, size_t k, struct cap_other *other);

#endif
