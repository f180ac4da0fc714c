/* xid_log.h - the recent Xid events with their times, for dcgm-exporter's
 * DCGM_EXP_XID_ERRORS_COUNT (Xids per code over a window, 5 minutes by default).
 *
 * The board keeps per-code totals since the agent started (gpuscope_xid_code_errors_total);
 * a window needs each event's time.  The event thread appends here as it publishes; the
 * exporter counts what falls in its window.  One ring for the agent (events are rare: a GPU
 * that raises thousands of Xids in five minutes is already lost), module state behind one
 * mutex, so appending never waits on a scrape for more than a copy.
 */
#ifndef GPUSCOPE_SERIES_XID_LOG_H
#define GPUSCOPE_SERIES_XID_LOG_H

/* Events kept; older ones are forgotten first (a window that would need more undercounts). */
#define XID_LOG_MAX 4096

/* One Xid of code on GPU gpu at monotonic time t (seconds). */
void xid_log_record(unsigned gpu, unsigned code, double t);

/* GPU gpu's events at or after `since`, counted per code: fills code[] and count[] (up to
 * max codes, in order of first appearance) and returns how many codes were filled. */
unsigned xid_log_count(unsigned gpu, double since, unsigned *code, unsigned *count, unsigned max);

#endif
