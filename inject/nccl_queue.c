/* nccl_queue.c - the bounded lock-free queue (see nccl_queue.h). */
#include "inject/nccl_queue.h"

#include <stdint.h>

void nccl_queue_init(struct nccl_queue *q)
{
	for (size_t i = 0; i < NCCL_QUEUE_CELLS; i++)
		atomic_store_explicit(&q->cell[i].seq, i, memory_order_relaxed);
	atomic_store(&q->enq, 0);
	q->deq = 0;
}

bool nccl_queue_push(struct nccl_queue *q, const struct nccl_done *d)
{
	size_t pos = atomic_load_explicit(&q->enq, memory_order_relaxed);
	for (;;) {
		size_t i = pos & (NCCL_QUEUE_CELLS - 1);
		size_t seq = atomic_load_explicit(&q->cell[i].seq, memory_order_acquire);
		intptr_t diff = (intptr_t)seq - (intptr_t)pos;
		if (diff == 0) {
			if (atomic_compare_exchange_weak_explicit(&q->enq, &pos, pos + 1,
			                                          memory_order_relaxed,
			                                          memory_order_relaxed)) {
				q->cell[i].rec = *d;
				atomic_store_explicit(&q->cell[i].seq, pos + 1,
				                      memory_order_release);
				return true;
			}
		} else if (diff < 0) {
			return false;
		} else {
			pos = atomic_load_explicit(&q->enq, memory_order_relaxed);
		}
	}
}

bool nccl_queue_pop(struct nccl_queue *q, struct nccl_done *out)
{
	size_t i = q->deq & (NCCL_QUEUE_CELLS - 1);
	size_t seq = atomic_load_explicit(&q->cell[i].seq, memory_order_acquire);
	if (seq != q->deq + 1)
		return false;
	*out = q->cell[i].rec;
	atomic_store_explicit(&q->cell[i].seq, q->deq + NCCL_QUEUE_CELLS, memory_order_release);
	q->deq++;
	return true;
}
