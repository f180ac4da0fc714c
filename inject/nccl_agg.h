/* nccl_agg.h - what the NCCL profiler plugin keeps: finished collectives folded per
 * communicator and kind, and the share of wall time spent inside collectives.
 *
 * NCCL's threads never touch this: they fill fixed event slots and push one nccl_done record
 * per finished collective into a bounded lock-free queue (nccl_plugin.c).  The plugin's own
 * reporter thread drains the queue into a struct nccl_agg here, single-threaded, and formats
 * the JSON lines that go to the agent and to `gpuscope run` (docs/nccl.md lists the fields).
 * Kept apart from the plugin so its arithmetic is tested without dlopen.
 */
#ifndef GPUSCOPE_NCCL_AGG_H
#define GPUSCOPE_NCCL_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Collective kinds, labelled as NCCL names its functions. */
#define NCCL_KINDS(X)                     \
	X(ALLREDUCE, "AllReduce")         \
	X(ALLGATHER, "AllGather")         \
	X(REDUCESCATTER, "ReduceScatter") \
	X(BROADCAST, "Broadcast")         \
	X(REDUCE, "Reduce")               \
	X(SEND, "Send")                   \
	X(RECV, "Recv")                   \
	X(OTHER, "Other")

enum nccl_kind {
#define X(id, name) NCCL_KIND_##id,
	NCCL_KINDS(X)
#undef X
	    NCCL_KIND_COUNT
};

#define NCCL_ALGOS(X)                       \
	X(UNKNOWN, "")                      \
	X(TREE, "tree")                     \
	X(RING, "ring")                     \
	X(COLLNET_DIRECT, "collnet_direct") \
	X(COLLNET_CHAIN, "collnet_chain")   \
	X(NVLS, "nvls")                     \
	X(NVLS_TREE, "nvls_tree")           \
	X(PAT, "pat")

enum nccl_algo {
#define X(id, name) NCCL_ALGO_##id,
	NCCL_ALGOS(X)
#undef X
	    NCCL_ALGO_COUNT
};

enum nccl_proto {
	NCCL_PROTO_UNKNOWN,
	NCCL_PROTO_LL,
	NCCL_PROTO_LL128,
	NCCL_PROTO_SIMPLE,
	NCCL_PROTO_COUNT
};

/* Where a collective's duration comes from, best first.  ENQUEUE is the host time inside the
 * NCCL call only: the GPU work is not in it. */
enum nccl_timing {
	NCCL_TIMING_GPU,     /* kernel channels' GPU globaltimer, first start to last stop */
	NCCL_TIMING_KERNEL,  /* kernel channel events as the host saw them (v3) */
	NCCL_TIMING_PROXY,   /* proxy operations (network transfers) */
	NCCL_TIMING_ENQUEUE, /* no completion events: enqueue only */
	NCCL_TIMING_COUNT
};

/* One finished collective (or send/recv). */
struct nccl_done {
	uint32_t comm; /* index into the plugin's communicators */
	uint8_t kind, algo, proto, timing;
	uint64_t bytes;   /* the operation's size as nccl-tests counts it */
	uint64_t start;   /* GPU timing: the GPU globaltimer at the first channel's start;
	                   * else host monotonic ns of the first event seen, or the call */
	uint64_t dur;     /* ns, by `timing` */
	uint64_t enqueue; /* ns inside the NCCL call */
};

struct nccl_kind_stats {
	uint64_t count, bytes, timed, enqueue_only;
	double time_s;      /* sum of durations of the timed ones */
	double timed_bytes; /* their bytes, for bandwidth */
	double enqueue_s;   /* host time inside the calls, all of them */
	uint64_t by_timing[NCCL_TIMING_COUNT];
	uint64_t by_algo[NCCL_ALGO_COUNT];
	uint64_t by_proto[NCCL_PROTO_COUNT];
	uint64_t max_bytes;
};

#define NCCL_NAME_MAX 64

struct nccl_comm_info {
	uint64_t hash;
	char name[NCCL_NAME_MAX];
	int rank, nranks, nnodes; /* nranks 0: unknown (ABI v1-v3 do not say) */
	int abi;
	bool finalized;
};

struct nccl_agg_comm {
	struct nccl_comm_info info;
	struct nccl_kind_stats k[NCCL_KIND_COUNT];
};

#define NCCL_AGG_COMMS_MAX 64

struct nccl_agg {
	struct nccl_agg_comm comm[NCCL_AGG_COMMS_MAX];
	unsigned ncomm;
	/* Share of wall time inside collectives: the union of their intervals. */
	uint64_t covered_until[2]; /* end of the union so far: host ns, GPU timer ns */
	uint64_t busy_ns;          /* union length, all time */
	uint64_t window_busy_ns, window_start;
	uint64_t last_window_ns, last_window_busy_ns; /* the last closed window */
	uint64_t first_ns;                            /* first communicator's init */
	uint64_t last_ns;                             /* the last window's end */
	uint64_t dropped, foreign_proxy, late_children, swept;
};

void nccl_agg_init(struct nccl_agg *a, uint64_t now);
void nccl_agg_add(struct nccl_agg *a, const struct nccl_done *d);
/* Closes the current window at `now` (its share is then last_window_*). */
void nccl_agg_window(struct nccl_agg *a, uint64_t now);

/* Bus bandwidth factor (nccl-tests): bytes on the busiest link per byte of the operation.
 * NAN when nranks is unknown. */
double nccl_bus_factor(enum nccl_kind k, int nranks);

/* Name parsing for descriptors (case-insensitive, NULL-safe). */
enum nccl_kind nccl_kind_of(const char *func);
enum nccl_algo nccl_algo_of(const char *algo);
enum nccl_proto nccl_proto_of(const char *proto);
/* Bytes per element of an NCCL datatype name ("ncclFloat32", "bfloat16"); 0: unknown. */
unsigned nccl_type_size(const char *datatype);
/* The v1 ABI's enums. */
enum nccl_kind nccl_kind_of_v1(uint8_t func);
enum nccl_algo nccl_algo_of_v1(uint8_t algo);
enum nccl_proto nccl_proto_of_v1(uint8_t proto);
unsigned nccl_type_size_v1(uint8_t datatype);
/* The operation's size: count elements, times nranks for AllGather and ReduceScatter
 * (NCCL's count is per rank there). */
uint64_t nccl_op_bytes(enum nccl_kind k, uint64_t count, unsigned type_size, int nranks);

const char *nccl_kind_name(enum nccl_kind k);
const char *nccl_algo_name(enum nccl_algo a);
const char *nccl_proto_name(enum nccl_proto p);
const char *nccl_timing_name(enum nccl_timing t);

struct nccl_line_meta {
	int pid;
	const char *process; /* already JSON-escaped */
	const char *final;   /* "true" at exit, else "false" */
};

/* One "nccl" JSON line per communicator and kind with calls, then one "nccl_process" line;
 * calls emit(line, len, arg) for each.  Returns how many lines. */
unsigned nccl_agg_format(const struct nccl_agg *a, const struct nccl_line_meta *m,
                         void (*emit)(const char *line, size_t len, void *arg), void *arg);

#endif
