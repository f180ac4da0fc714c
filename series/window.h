/* window.h - per-second aggregates of the fast metrics, for scrape windows.
 *
 * nvidia-smi's 1 s averages and a 15 s scrape of the last value both miss a
 * 100 ms burst.  So every value a fast sweep reads, and every sample the
 * driver's buffers hold (power every 20 ms, utilization every 200 ms), is
 * folded into a bucket for its wall-clock second: min, max, sum and count per
 * windowed metric (metric_windowed()).  A ring of WINDOW_SECONDS buckets per
 * GPU then answers "max and mean between these two seconds" for any scrape
 * window up to that length, in O(seconds x metrics), without keeping samples.
 *
 * The ring lives in the GPU's board slot and is guarded by the slot's lock;
 * these functions do no locking of their own.
 */
#ifndef GPUSCOPE_WINDOW_H
#define GPUSCOPE_WINDOW_H

#include <stdint.h>

#include "series/metric_table.h"

/* Seconds of history the ring keeps: the longest scrape window served. */
#define WINDOW_SECONDS 180

/* Driver samples arrive up to one buffer interval late; a second is only
 * served once it is this many seconds old, so no late sample is missed. */
#define WINDOW_SETTLE_S 2

struct window_agg {
	double min, max, sum;
	unsigned n; /* samples; 0: nothing in the window */
};

struct gpu_window;

struct gpu_window *window_new(void);
void window_free(struct gpu_window *w);

/* Folds one reading of metric m taken at wall-clock time t (seconds since
 * the epoch) into its second.  Readings older than the ring are dropped. */
void window_add(struct gpu_window *w, int m, double t, double value);

/* window_add for every windowed metric m in `which`, each raw[m], all read at t: the second
 * is found once (a fast step of one GPU feeds ~25 metrics at once). */
void window_add_set(struct gpu_window *w, double t, const double *raw, const metric_set *which);

/* Aggregates of every windowed metric over the whole seconds
 * [from, to] (inclusive); out is indexed by metric id. */
void window_aggregate(const struct gpu_window *w, int64_t from, int64_t to,
                      struct window_agg out[METRIC_COUNT]);

#endif
