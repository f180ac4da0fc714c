/* series.h - the history a dashboard draws: /api/v1/series.
 *
 * A window of the agent's own history at the resolution the report uses (1 s rows up to
 * REPORT_SECOND_RES_MAX_S, 1-minute rows beyond), cut into at most max_points buckets.
 * Each bucket carries the mean, the max and the min of what fell in it (the max of the 1 s
 * maxima, the min of the minima), so a 100 ms burst survives as a max however far the
 * chart is zoomed out: a chart draws the band, never bucket means alone (a metric without
 * a window, a limit or a total, carries its latest value in all three).  The store folds
 * each bucket while it reads (store_query_bucketed), so memory is the buckets sent, not
 * the rows of the window.  Values are in the native units of the metric table (ratios,
 * bytes, watts, Celsius, hertz); absent is null, never 0.  docs/api.md gives the document.
 */
#ifndef GPUSCOPE_REPORT_SERIES_H
#define GPUSCOPE_REPORT_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define SERIES_POINTS_DEFAULT 600
#define SERIES_POINTS_MAX     4000
#define SERIES_SPAN_MAX_S     (90 * 86400)

struct series_request {
	int64_t from, to; /* Unix seconds, inclusive */
	int gpu;          /* index, -1: every GPU */
	size_t max_points;
};

/* The query's arguments as they came (NULL when absent). */
struct series_args {
	const char *range; /* "15m", "1h", "24h", "7d": the last span to now */
	const char *from;  /* Unix seconds or RFC 3339 (with to; instead of range) */
	const char *to;
	const char *gpu;    /* index */
	const char *points; /* 10..SERIES_POINTS_MAX */
};

/* Turns the arguments into a request as of `now`; 0, or -1 with a sentence in err. */
int series_parse_args(const struct series_args *a, int64_t now, struct series_request *out,
                      char *err, size_t errlen);

/* The JSON document for the request from an open store.  uuids[i] is GPU i's UUID (the
 * board's order, so "gpu" matches /api/v1/gpus); a GPU in the history but no longer on
 * the board is listed with "gpu": null.  Returns malloc'd JSON, or NULL with a message in
 * err (a store error, or out of memory). */
char *series_json(struct store *s, const struct series_request *q, const char *const *uuids,
                  size_t nuuids, bool simulated, char *err, size_t errlen);

#endif
