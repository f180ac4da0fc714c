/* recorder.h - the thread that writes the board into the history store.
 *
 * `gpuscope serve` starts one recorder.  Once a second it writes, for every
 * GPU, each settled second (older than WINDOW_SETTLE_S, so late driver
 * samples are in) not written yet: the mean, max and min of the windowed
 * metrics from the GPU's window ring, and the latest value of every other
 * metric from a board snapshot.  The store is opened in this thread, never
 * on the path that starts serving /metrics, because the verified open reads
 * the whole file (seconds for a large history).
 *
 * A store error never stops the agent: it is printed once (one line on
 * stderr per distinct message), kept for /healthz, and the recorder tries to
 * open the file again every retry_s seconds.  Seconds that fall out of the
 * board's ring while the store is down are lost; nothing is buffered.
 */
#ifndef GPUSCOPE_RECORDER_H
#define GPUSCOPE_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "series/snapshot.h"
#include "store/store.h"

struct recorder_config {
	const char *path;         /* the history file (copied) */
	bool create_dir;          /* create the file's directory when missing */
	struct store_options opt; /* retention, batch size (read_only is ignored) */
	double retry_s;           /* after a store error, reopen after this long (60) */
	bool quiet;               /* no stderr lines (tests) */
	/* Called on the recorder's thread after each tick's rows with the open store, and
	 * once more with final set before it closes: tables other modules keep (the agent's
	 * per-inference aggregates, inference/history.c).  Its error counts as the tick's.
	 * NULL: none. */
	int (*extra)(void *ctx, struct store *s, bool final);
	void *extra_ctx;
};

struct recorder;

/* Starts the thread; NULL only when out of memory or no thread could be
 * started (err filled).  Opening the store happens in the thread. */
struct recorder *recorder_start(struct board *b, const struct recorder_config *cfg, char *err,
                                size_t errlen);

/* Another module's rows (servers/: the inference servers' windows), written by the
 * recorder's thread with its handle once a second, after the GPUs' seconds, so the history
 * has one writer.  fn returns STORE_OK or a store error (shown like the recorder's own).
 * Setting NULL waits for a call in progress to end, so ctx may be freed afterwards. */
typedef int (*recorder_extra_fn)(void *ctx, struct store *s);
void recorder_set_extra(struct recorder *r, recorder_extra_fn fn, void *ctx);

/* Stops the thread, commits the open batch and closes the store.  NULL is
 * a no-op. */
void recorder_stop(struct recorder *r);

/* The recorder's state as a JSON object text (malloc'd; NULL on OOM):
 * {"state": "opening"|"ok"|"error", "path", "error", "last_second",
 *  "rows", "rows_dropped"}.  For the "history" field of /healthz. */
char *recorder_status_json(struct recorder *r);

/* Writes every GPU's seconds in (last written, newest] with the given
 * store, one snapshot for all of them; for the thread and for tests.
 * *last is the last second written (INT64_MIN: none yet; then only
 * `newest` is written).  Seconds older than the board's ring are skipped.
 * Returns STORE_OK or the first store error (later seconds are skipped). */
int recorder_write_seconds(struct board *b, struct store *s, int64_t *last, int64_t newest);

/* The history file's default path into buf: /var/lib/gpuscope/history.db
 * when that directory is writable or can be created, else
 * $XDG_STATE_HOME/gpuscope/history.db or ~/.local/state/gpuscope/history.db.
 * With for_reading, the first of those that exists wins.  Returns false
 * when no path can be formed (no HOME). */
bool recorder_default_path(bool for_reading, char *buf, size_t len);

#endif
