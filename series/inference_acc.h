/* inference_acc.h - the agent's open per-interval inference aggregates, waiting for history.
 *
 * The inference receiver adds each inference to the cell of its (GPU, pid, process,
 * workload, range, boundary) and of the INFERENCE_ACC_WIDTH_S interval its end falls in;
 * the history recorder takes the cells whose interval closed INFERENCE_ACC_CLOSE_S ago
 * (messages arrive up to about 3 s after an inference ends, and the agent's energy for it
 * 3 s after that) and writes them (store/inference.h).  A message or an energy reading
 * that comes later still opens a new cell for the same interval, and the store merges it
 * into the row already written, so nothing is counted twice or lost for being late.
 * At most INFERENCE_ACC_CELLS cells are open; past that (or when the array cannot
 * grow), inferences are dropped and counted.  The array grows with the cells open (4 KB
 * each: an agent no program reports to holds none).  One mutex; the receiver holds it
 * for a lookup and a few additions.
 */
#ifndef GPUSCOPE_INFERENCE_ACC_H
#define GPUSCOPE_INFERENCE_ACC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "series/inference.h"
#include "series/inference_agg.h"

#define INFERENCE_ACC_WIDTH_S 10
#define INFERENCE_ACC_CLOSE_S 8
#define INFERENCE_ACC_CELLS   512

struct inference_key {
	int gpu; /* board index; -1: unknown */
	int pid;
	char process[INFERENCE_LABEL_MAX], workload[INFERENCE_LABEL_MAX],
	    range[INFERENCE_LABEL_MAX], boundary[8];
};

struct inference_cell {
	struct inference_key key;
	int64_t t; /* the interval's first second */
	struct inference_agg agg;
};

struct inference_acc {
	pthread_mutex_t lock;
	struct inference_cell *cells; /* cap of them, n open; NULL until the first */
	unsigned n, cap;
	uint64_t dropped; /* inferences or energy readings that found no free cell */
};

int inference_acc_init(struct inference_acc *a);
void inference_acc_free(struct inference_acc *a);

/* Adds one inference (its interval is that of its end; its start when it has no end). */
void inference_acc_add(struct inference_acc *a, const struct inference_key *k,
                       const struct inference_msg *m);
/* Adds energy measured later for an inference that ended at end_ns. */
void inference_acc_add_energy(struct inference_acc *a, const struct inference_key *k,
                              long long end_ns, double joules);

/* Moves the cells whose interval ended at least INFERENCE_ACC_CLOSE_S before now (all
 * of them when all) into *out (malloc'd; NULL when none); returns how many, or -1 when
 * out of memory (nothing is taken then). */
int inference_acc_take(struct inference_acc *a, int64_t now, bool all, struct inference_cell **out);
/* Puts cells back (a write failed and will be retried); ones that no longer fit are
 * dropped and counted. */
void inference_acc_put_back(struct inference_acc *a, const struct inference_cell *c, unsigned n);
/* A copy of every open cell, for live views; returns how many, -1 when out of memory. */
int inference_acc_copy(struct inference_acc *a, struct inference_cell **out, uint64_t *dropped);

#endif
