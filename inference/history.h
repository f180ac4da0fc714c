/* history.h - the agent's per-inference aggregates: into the history, and out on
 * /api/v1/inference.
 *
 * The inference receiver (receiver.c) adds every inference it gets to the open
 * cells here (series/inference_acc.h); the history recorder's extra step
 * (inference_history_write) writes the cells whose 10 s interval has closed
 * (store/inference.h).  /api/v1/inference answers from the history merged with the cells
 * still open, so the newest seconds show before they are written; like /api/v1/series it
 * runs one query at a time on its own read-only handle (a second request gets 503).
 * Owned by the history (cmd/history.c) and freed after the receiver and the recorder have
 * stopped.
 */
#ifndef GPUSCOPE_INFERENCE_HISTORY_H
#define GPUSCOPE_INFERENCE_HISTORY_H

#include <stdbool.h>

#include "series/inference_acc.h"
#include "series/snapshot.h"
#include "store/store.h"

struct inference_history;

/* NULL when out of memory.  price: --price-per-gpu-hour (NaN: the model's list price). */
struct inference_history *inference_history_new(struct board *b, const char *history_path,
                                                double price);
void inference_history_free(struct inference_history *h);

/* Where the receiver adds inferences. */
struct inference_acc *inference_history_acc(struct inference_history *h);

/* The recorder's extra step (store/recorder.h): writes closed cells (all with final). */
int inference_history_write(void *ctx, struct store *s, bool final);

/* The /api/v1/inference body for (range, from, to, gpu, points); *status the HTTP status. */
char *inference_history_json(struct inference_history *h, const char *const args[5],
                             unsigned *status);

#endif
