/* run_summary.h - `gpuscope run`'s end: the per-inference JSON lines of every process the
 * command started, folded into one table per range name (p50, p95, p99, mean) with the
 * verdicts that follow from it.
 *
 * Fed line by line (run_summary_add_line), so the parser is a pure function over bytes and a
 * fuzz target is one small file.  Lines that are not ours are counted, never fatal.
 */
#ifndef GPUSCOPE_RUN_SUMMARY_H
#define GPUSCOPE_RUN_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "inference/run_nccl.h"

/* Figures of one inference, in the order the table prints them. */
#define RUN_FIGURES(X)                                     \
	X(latency_s, "latency", 's')                       \
	X(gpu_busy_s, "GPU busy (kernels)", 's')           \
	X(gpu_busy_share, "GPU busy share", '%')           \
	X(kernels, "kernels", 'n')                         \
	X(kernel_mean_s, "mean kernel", 's')               \
	X(launch_gap_s, "launch gaps (idle)", 's')         \
	X(h2d_bytes, "host->device", 'b')                  \
	X(h2d_s, "host->device time", 's')                 \
	X(d2h_bytes, "device->host", 'b')                  \
	X(d2h_s, "device->host time", 's')                 \
	X(pageable_share, "pageable share of copies", '%') \
	X(mem_alloc_bytes, "memory allocated", 'b')        \
	X(mem_peak_bytes, "memory peak", 'b')              \
	X(mem_held_after_bytes, "memory held after", 'b')  \
	X(since_previous_s, "host time before", 's')       \
	X(energy_j, "energy", 'J')                         \
	X(sm_cycles, "SM cycles (busy x clock)", 'n')

enum run_figure {
#define X(id, label, unit) RUN_FIG_##id,
	RUN_FIGURES(X)
#undef X
	    RUN_FIG_COUNT
};

struct run_inference {
	double v[RUN_FIG_COUNT]; /* NAN when not known */
	bool complete;
	long long start_unix_ns, end_unix_ns;
	int device;
	int pid;
};

struct run_group {
	char name[64];
	bool nvtx;
	struct run_inference *inf;
	size_t n, cap, incomplete;
};

#define RUN_GROUPS_MAX 32

struct run_summary {
	struct run_group groups[RUN_GROUPS_MAX];
	size_t ngroups;
	char notes[4096]; /* status and exit lines, one per line, already worded */
	unsigned long long dropped_records, lost_events, agent_sent, agent_dropped;
	size_t processes, measured, bad_lines, overflow;
	struct run_nccl nccl; /* libgpuscope-nccl.so's lines (nccl-PID.jsonl) */
};

void run_summary_init(struct run_summary *s);
void run_summary_free(struct run_summary *s);
/* One line of an inject-PID.jsonl or nccl-PID.jsonl file.  Returns 1 for an inference, 0 for
 * another line we know (status, exit), -1 for a line we do not understand. */
int run_summary_add_line(struct run_summary *s, const char *line, size_t len);
/* A line for the notes printed above the tables. */
void run_summary_note(struct run_summary *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The table and verdicts; gap_s is --gap, named when busy periods were the boundary. */
void run_summary_print(const struct run_summary *s, double gap_s, FILE *to);

/* The verdicts a group earns, as bits (tests check them without parsing text). */
enum {
	RUN_VERDICT_LAUNCH_BOUND = 1,
	RUN_VERDICT_PCIE_BOUND = 2,
	RUN_VERDICT_HOST_BOUND = 4,
	RUN_VERDICT_MEMORY_GROWING = 8,
};
unsigned run_group_verdicts(const struct run_group *g);

#endif
