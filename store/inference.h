/* inference.h - per-inference aggregates in the history (tables inference_keys and
 * inference_interval).
 *
 * The agent writes one row per 10 s interval per (GPU, pid, process, workload, range,
 * boundary) that saw inferences: counts, sums and a latency sketch (series/inference_agg.h),
 * never the events themselves, so the table grows with time and keys, not with the request
 * rate.  Rows older than second_retention_s are folded into 10-minute rows (sums add, the
 * sketches merge: nothing is lost but time resolution) and deleted after
 * minute_retention_s, in the same bounded maintenance steps as the GPU rows.  A row written
 * twice for the same interval (a late message) is merged, not replaced.
 *
 * Reading merges the rows of a window per key (or per key and step), so p50/p95/p99 over
 * any window are right to the sketch's bucket precision.  A history written before these
 * tables existed reads as empty.  docs/history.md has the schema.
 */
#ifndef GPUSCOPE_STORE_INFERENCE_H
#define GPUSCOPE_STORE_INFERENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "series/inference_agg.h"
#include "store/store.h"

#define STORE_INFERENCE_WIDTH_S  10  /* rows as the agent writes them */
#define STORE_INFERENCE_FOLDED_S 600 /* rows after second_retention_s */
#define STORE_INFERENCE_ROWS_MAX 1000000

/* One interval of one key.  Strings may be NULL (stored as ""). */
struct store_inference_interval {
	const char *uuid;  /* the GPU; NULL or "": not known */
	const char *model; /* may be NULL */
	unsigned pid;
	const char *process, *workload, *range, *boundary;
	int64_t t; /* the interval's first second */
	int width; /* STORE_INFERENCE_WIDTH_S (or any width the caller aggregates at) */
	const struct inference_agg *agg;
};

/* Adds an interval: into the open batch when there is one (committed with it), else in a
 * transaction of its own.  Merges into a row already there for the same interval. */
int store_put_inference(struct store *s, const struct store_inference_interval *iv);

/* A key's aggregate over a window, or over one step of it. */
struct store_inference_row {
	char *uuid, *model; /* NULL when the GPU was not known */
	unsigned pid;
	char *process, *workload, *range, *boundary;
	int64_t t;               /* step > 0: the step's first second; else the first row's */
	int64_t first_t, last_t; /* first row's start, last row's end (exclusive) */
	struct inference_agg agg;
};

/* Rows whose interval starts in [from, to], merged per key (step 0) or per key and step
 * (t = from + k x step), ordered by GPU, key and time.  *out is malloc'd (free with
 * store_inference_rows_free); STORE_OK with *n = 0 when there are none (or the file
 * predates the tables).  More than STORE_INFERENCE_ROWS_MAX results: STORE_EINVAL. */
int store_query_inference(struct store *s, int64_t from, int64_t to, int64_t step,
                          struct store_inference_row **out, size_t *n);
void store_inference_rows_free(struct store_inference_row *rows, size_t n);

/* For store/ itself: the tables (called from the schema setup, inside its transaction),
 * and one bounded maintenance step (folding, expiry; *more is set, never cleared). */
int store_inference_schema(struct store *s);
int store_inference_maintain(struct store *s, int64_t now, int budget, bool *more);

#endif
