/* nccl.h - NCCL collective figures the agent receives from libgpuscope-nccl.so.
 *
 * The plugin sends, over the same datagram socket as the per-inference lines, one "nccl"
 * JSON line per communicator, rank and collective kind (cumulative counts, bytes, time) and
 * one "nccl_process" line per process (time inside collectives, the share of the last
 * window).  Both carry "v":1; a later version adds fields and keeps these, and an agent
 * that does not know a line's type counts it as rejected, never misreads it
 * (docs/nccl.md).  nccl_msg_parse is a pure function over bytes (fuzz/fuzz_inference.c).
 *
 * The table keeps the latest line per key (the figures are cumulative in the sender, so a
 * lost datagram loses nothing but time); keys are capped (NCCL_SERIES_CAP), later ones
 * counted as folded and not shown.  Series of a process that exited stay, so counters never
 * go back.
 */
#ifndef GPUSCOPE_NCCL_H
#define GPUSCOPE_NCCL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NCCL_LABEL_MAX  64
#define NCCL_SERIES_CAP 256

enum nccl_msg_type { NCCL_MSG_COLL, NCCL_MSG_PROCESS };

struct nccl_msg {
	enum nccl_msg_type type;
	int pid;
	char process[NCCL_LABEL_MAX];
	/* NCCL_MSG_COLL */
	char comm[24], collective[24], algorithm[24], protocol[16], timing[16];
	int rank, nranks;
	double count, bytes, time_s, timed, timed_bytes, enqueue_s, busbw; /* busbw NAN: unknown */
	/* NCCL_MSG_PROCESS */
	double busy_s, wall_s, window_s, window_share; /* window_share NAN: no window yet */
};

/* 0 and m filled, or -1 when buf is not a version-1 nccl line. */
int nccl_msg_parse(const char *buf, size_t len, struct nccl_msg *m);

/* X(name suffix, type, help): the families /metrics shows (docs/metrics.md is generated). */
#define NCCL_FAMILIES(X)                                                                           \
	X("collectives_total", "counter",                                                          \
	  "NCCL collectives (and sends/receives) finished, by communicator, rank and kind.")       \
	X("bytes_total", "counter", "Bytes those collectives moved, as nccl-tests counts size.")   \
	X("time_seconds_total", "counter",                                                         \
	  "Time the timed collectives ran (GPU timers on NCCL 2.27+; see the timing label).")      \
	X("timed_total", "counter",                                                                \
	  "Collectives with a completion time (the rest: enqueue only).")                          \
	X("enqueue_seconds_total", "counter", "Host time spent inside the NCCL calls.")            \
	X("bus_bandwidth_bytes_per_second", "gauge",                                               \
	  "Achieved bus bandwidth of the timed collectives since the process started (nccl-tests " \
	  "busbw).")                                                                               \
	X("busy_seconds_total", "counter",                                                         \
	  "Wall time a process spent inside collectives (union over its communicators).")          \
	X("time_ratio", "gauge",                                                                   \
	  "Share of wall time a process spent inside collectives over the plugin's last window.")

struct nccl_series {
	struct nccl_msg m; /* the latest line */
	char workload[NCCL_LABEL_MAX];
	double received_at; /* wall seconds */
	/* The line as the last nccl_table_windows() saw it (all 0 before). */
	double mark_busy, mark_wall, mark_time, mark_count, mark_bytes;
};

/* One process's collectives between two nccl_table_windows() calls. */
struct nccl_window {
	int pid;
	char process[NCCL_LABEL_MAX], workload[NCCL_LABEL_MAX];
	double window_s, busy_s;
	/* the kind that took the most time in it */
	char collective[24], timing[16];
	double calls, bytes, busbw;
	int nranks;
};

struct nccl_table {
	pthread_mutex_t lock;
	struct nccl_series *s; /* NCCL_SERIES_CAP */
	unsigned n;
	uint64_t received, folded;
};

int nccl_table_init(struct nccl_table *t);
void nccl_table_free(struct nccl_table *t);
void nccl_table_add(struct nccl_table *t, const struct nccl_msg *m, const char *workload,
                    double now);
/* Per process heard from within the last `fresh_s` seconds: what it did since the previous
 * call (since it started, the first time); advances the marks.  Returns how many (<= cap). */
unsigned nccl_table_windows(struct nccl_table *t, double now, double fresh_s,
                            struct nccl_window *out, unsigned cap);
/* A consistent copy (malloc'd; caller frees); counters[0] received, [1] folded. */
int nccl_table_copy(struct nccl_table *t, struct nccl_series **out, unsigned *n,
                    uint64_t counters[2]);

#endif
