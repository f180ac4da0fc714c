/* run_nccl.h - `gpuscope run`'s NCCL section: the final lines libgpuscope-nccl.so wrote for
 * each process (nccl-PID.jsonl), kept per process, communicator, rank and collective kind,
 * printed as a table, and turned into the diagnosis engine's input for communication_bound.
 *
 * Fed JSON objects by run_summary_add_line, so its parsing is fuzzed with the summary's.
 */
#ifndef GPUSCOPE_RUN_NCCL_H
#define GPUSCOPE_RUN_NCCL_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "analyze/analyze.h"

struct run_nccl_kind {
	int pid, rank, nranks;
	char comm[24], collective[24], algorithm[24], protocol[16], timing[16];
	double count, bytes, time_s, enqueue_s, busbw; /* NAN: unknown */
};

struct run_nccl_proc {
	int pid;
	char process[64];
	double busy_s, wall_s;
	unsigned long long dropped;
};

#define RUN_NCCL_KINDS 64
#define RUN_NCCL_PROCS 32

struct run_nccl {
	struct run_nccl_kind k[RUN_NCCL_KINDS];
	size_t nk;
	struct run_nccl_proc p[RUN_NCCL_PROCS];
	size_t np;
	size_t overflow; /* lines past the caps */
};

/* o is one JSON line; 1 when it was an NCCL line (kept), 0 when it is not one, -1 when it is
 * one we cannot read. */
int run_nccl_add(struct run_nccl *n, json_t *o);
/* The table (nothing when no process loaded the plugin). */
void run_nccl_print(const struct run_nccl *n, FILE *to);
/* One entry per process, for analyze_run: its time in collectives over its life and the
 * kind that took the most time.  Returns how many (<= cap). */
size_t run_nccl_comms(const struct run_nccl *n, struct analyze_comm_series *out, size_t cap);

#endif
