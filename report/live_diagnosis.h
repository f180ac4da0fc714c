/* live_diagnosis.h - the agent's verdicts over a sliding window.
 *
 * A background thread reads the last `window` seconds of the history file
 * (its own read-only handle) at most every 30 s, runs the diagnosis engine
 * and keeps two rendered results: the JSON document of /api/v1/diagnosis
 * and the gpuscope_verdict lines appended to /metrics.  Requests only copy
 * those, so a scrape never waits on SQLite or on the engine.
 *
 * It lives in report/ because it is a report kept fresh: the same loader, engine and JSON
 * as `gpuscope report --format json`.  analyze/ keeps no state and reaches nothing outside
 * itself, and http/ reaches the cache only through the callbacks cmd/ hands it
 * (struct http_extras), so neither needs SQLite.
 */
#ifndef GPUSCOPE_REPORT_LIVE_DIAGNOSIS_H
#define GPUSCOPE_REPORT_LIVE_DIAGNOSIS_H

#include <stddef.h>

#include "analyze/analyze.h"
#include "export/prom.h"
#include "series/board.h"

struct live_diagnosis;

/* One verdict about one GPU, the most severe of its id. */
struct live_verdict {
	long gpu;
	char uuid[96];
	const char *id;       /* static (analyze's ids) */
	const char *severity; /* static */
};

/* history NULL: no history; the JSON then says "not judged: no history".
 * cfg: the thresholds (copied; NULL: the defaults).
 * NULL only when out of memory or no thread (err filled). */
struct live_diagnosis *live_diagnosis_start(struct board *b, const char *history, double window_s,
                                            const struct analyze_config *cfg, char *err,
                                            size_t errlen);
void live_diagnosis_stop(struct live_diagnosis *d);

/* New thresholds (SIGHUP): used from the next run on, which is brought forward. */
void live_diagnosis_set_config(struct live_diagnosis *d, const struct analyze_config *cfg);

/* The cached JSON document (malloc'd copy); *status 200, or 503 before the
 * first result. */
char *live_diagnosis_json(struct live_diagnosis *d, unsigned *status);

/* Appends the cached gpuscope_verdict family (native names only). */
void live_diagnosis_metrics(struct live_diagnosis *d, const struct prom_options *o,
                            struct strbuf *out);

/* Where live NCCL figures come from (the agent's inference socket, inference/receiver.h): fills
 * up to cap entries with what each process did since the previous call, returns how many.
 * Called on the diagnosis thread before each run; communication_bound judges them. */
typedef size_t (*live_comm_source)(void *arg, struct analyze_comm_series *out, size_t cap);
void live_diagnosis_set_comms(struct live_diagnosis *d, live_comm_source fn, void *arg);

/* A copy of the latest verdicts (free() it; NULL and *n 0 when none), for
 * the alert rules on verdicts. */
struct live_verdict *live_diagnosis_verdicts(struct live_diagnosis *d, size_t *n);

#endif
