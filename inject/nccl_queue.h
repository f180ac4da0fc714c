/* nccl_queue.h - a bounded lock-free queue of finished collectives.
 *
 * NCCL's threads push (many producers), the plugin's reporter pops (one consumer): Dmitry
 * Vyukov's bounded MPMC queue, a sequence number per cell, one compare-and-swap per push.
 * Full means the reporter is behind: the push fails and the caller counts it, never waits.
 */
#ifndef GPUSCOPE_NCCL_QUEUE_H
#define GPUSCOPE_NCCL_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "inject/nccl_agg.h"

#define NCCL_QUEUE_CELLS 8192 /* a power of two */

struct nccl_queue {
	struct {
		_Atomic size_t seq;
		struct nccl_done rec;
	} cell[NCCL_QUEUE_CELLS];
	_Atomic size_t enq;
	size_t deq; /* the consumer's own */
};

void nccl_queue_init(struct nccl_queue *q);
/* false when full. */
bool nccl_queue_push(struct nccl_queue *q, const struct nccl_done *d);
/* false when empty; one consumer only. */
bool nccl_queue_pop(struct nccl_queue *q, struct nccl_done *out);

#endif
