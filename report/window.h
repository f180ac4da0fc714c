/* window.h - which seconds of history a reader reads, and at which resolution.
 *
 * One policy for `gpuscope report`, `gpuscope query`, /api/v1/series and the live
 * diagnosis.  The window asked is the last --since as of now, or --from/--to (--to
 * defaults to now); it is then narrowed to the seconds that have rows, so a 24 h report of
 * a history one hour old is that hour at 1 s, not a day of mostly empty minutes.  A window
 * longer than REPORT_SECOND_RES_MAX_S is read at 1-minute resolution; a shorter one at 1 s,
 * unless it holds minute rows, history older than the 1 s retention (STORE_RES_AUTO).
 * A reader that answers with fewer points than the window has rows reads wider ones
 * (report_window_points): memory follows the points answered, not the rows folded.
 * Pure functions: the commands parse the options and print the errors, the loaders call
 * the store.
 */
#ifndef GPUSCOPE_REPORT_WINDOW_H
#define GPUSCOPE_REPORT_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Windows longer than this are read at 1-minute resolution. */
#define REPORT_SECOND_RES_MAX_S (6 * 3600)

/* The window as asked (the options, parsed). */
struct report_window_ask {
	double since;     /* seconds: the length when from is not given */
	bool since_given; /* --since was given (not with --from) */
	bool has_from, has_to;
	int64_t from, to; /* Unix seconds, when given */
};

/* The window to read. */
struct report_window {
	int64_t from, to; /* Unix seconds, inclusive */
	enum store_resolution res;
};

/* [from, to] as asked, as of `now` (Unix seconds): to is --to or now, from is --from or
 * to - since + 1.  Returns 0, or -1 with a sentence in err: --since with --from, or a
 * window that starts after it ends. */
int report_window_resolve(const struct report_window_ask *a, int64_t now, int64_t *from,
                          int64_t *to, char *err, size_t errlen);

/* The resolution to read [from, to] at. */
enum store_resolution report_window_resolution(int64_t from, int64_t to);

/* Fits [from, to] to what the history holds: list is store_list_gpus over [from, to], and
 * only its GPUs with use[k] true count (use NULL: every one).  out gets [from, to] narrowed
 * to the first and last second with a row of those GPUs, and its resolution; returns
 * false when none of them has a row inside [from, to] (out is then the window as asked). */
/* How to read `w` as at most `points` points, as store_query_bucketed lays them out:
 * *bucket is the point width in seconds (whole rows of the resolution read) and *res the
 * resolution to ask.  Points of a minute or more read the minute rows and their rollups,
 * on a grid from w->from's minute; narrower ones read w->res from w->from.  Either way no
 * more than `points` points come back, even where STORE_RES_AUTO finds minute rows. */
void report_window_points(const struct report_window *w, size_t points, int64_t *bucket,
                          enum store_resolution *res);

bool report_window_fit(const struct store_gpu_info *list, size_t n, const bool *use, int64_t from,
                       int64_t to, struct report_window *out);

#endif
