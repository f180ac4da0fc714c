/* series_api.h - /api/v1/series in the agent: the history's own read-only handle, one
 * query at a time.
 *
 * Requests run report/series.c on an HTTP worker thread.  At most one runs at a time (a
 * second gets 503 and retries), so however many dashboards are open, at most one worker
 * is ever busy with SQLite and /metrics always has a free one.  The handle is opened on
 * first use, read-only, and never blocks the recorder (WAL readers do not).
 */
#ifndef GPUSCOPE_REPORT_SERIES_API_H
#define GPUSCOPE_REPORT_SERIES_API_H

#include "series/snapshot.h"

struct series_api;

/* NULL when out of memory. */
struct series_api *series_api_new(struct board *b, const char *history_path);
void series_api_free(struct series_api *a);

/* The http_extras.series callback's work: args are range, from, to, gpu, points. */
char *series_api_json(struct series_api *a, const char *const args[5], unsigned *status);

#endif
