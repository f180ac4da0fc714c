/* receiver.h - the agent's end of the inference socket (`serve --inference-socket`).
 *
 * A unix datagram socket that programs under `gpuscope run` send one message per inference
 * to; a thread receives them, takes the sender's pid from the kernel (SCM_CREDENTIALS, not
 * from the message), names its workload from /proc/PID/cgroup, and folds the message into the
 * histograms /metrics exports (export/prom_inference.h).  Messages carry no energy (the
 * injected library never reads NVML); the agent adds it from its own board: the GPU's mean
 * power in each wall-clock second the inference overlaps (the driver's 20 ms samples, else
 * the fast tier's reading) times the time inside that second, once those seconds have
 * settled (INFERENCE_SETTLE_S: the agent reads the driver's power buffer every 2 s); until
 * then the inference waits in a queue of INFERENCE_PENDING_MAX (older ones are measured
 * early, with what is there, when it is full).  NCCL profiler plugin lines ("type":"nccl",
 * series/nccl.h) share the socket and go to their own table.  The socket is world-writable: any
 * local program may report its inferences; what it can do is add to capped histograms.
 */
#ifndef GPUSCOPE_INFERENCE_RECEIVER_H
#define GPUSCOPE_INFERENCE_RECEIVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "export/prom.h"
#include "export/strbuf.h"
#include "series/inference.h"
#include "series/inference_acc.h"
#include "series/nccl.h"
#include "series/snapshot.h"

#define INFERENCE_SETTLE_S    3
#define INFERENCE_PENDING_MAX 4096
#define INFERENCE_RX_MAX      65536 /* one datagram: up to 60 KiB of JSON lines (inject/emit.h) */

struct inference_pending {
	char process[INFERENCE_LABEL_MAX], workload[INFERENCE_LABEL_MAX],
	    range[INFERENCE_LABEL_MAX], boundary[8];
	int gpu, pid;
	long long start_ns, end_ns;
};

struct inference_receiver {
	const char *path_opt; /* a path (--inference-socket); NULL: the default; "none": off */
	unsigned cap;         /* series before the rest fold into "_other" (--inference-cap) */
	/* run time */
	char path[108];
	int fd;
	bool running;
	atomic_bool stop;
	pthread_t thread;
	struct inference_table table;
	struct nccl_table nccl;            /* libgpuscope-nccl.so's lines, on the same socket */
	struct board *board;               /* for energy; NULL: none */
	struct inference_acc *acc;         /* per-interval cells for history; NULL: none */
	struct inference_pending *pending; /* a ring, oldest first */
	size_t pending_head, pending_n;
	char *rx; /* INFERENCE_RX_MAX, one datagram; malloc'd at start, its pages touched only
	           * by the datagrams that come (on main's stack, the struct's memset held
	           * 64 KiB resident for the agent's life) */
};

/* No socket, the default path and cap; the caller may set path_opt and cap before start. */
void inference_receiver_init(struct inference_receiver *si);

/* Binds and starts the receiver.  A default path that cannot be bound is a warning (the
 * agent serves on without it); a path given with --inference-socket is an error (-1). */
int inference_receiver_start(struct inference_receiver *si, struct board *board);
void inference_receiver_stop(struct inference_receiver *si);

/* What each process's NCCL plugin reported since the previous call, for communication_bound
 * (a live_comm_source; arg is the struct inference_receiver). */
struct analyze_comm_series;
size_t inference_receiver_comms(void *arg, struct analyze_comm_series *out, size_t cap);

/* The gpuscope_inference_* and gpuscope_nccl_* families (nothing when the receiver is off). */
void inference_receiver_metrics(struct inference_receiver *si, const struct prom_options *o,
                                struct strbuf *out);

#endif
