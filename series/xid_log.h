/* xid_log.h - the Xid records: a GPU's per-code totals, and the recent events with their
 * times.
 *
 * The tally is the "@xid" rows' values in a GPU's record on the board: totals per code
 * since the agent started (gpuscope_xid_code_errors_total, the code of
 * DCGM_FI_DEV_XID_ERRORS), counted by the event thread through board_count_xid.  The log is
 * for dcgm-exporter's DCGM_EXP_XID_ERRORS_COUNT (Xids per code over a window, 5 minutes by
 * default), which needs each event's time.  The event thread appends here as it publishes;
 * the exporter counts what falls in its window.  One ring for the agent (events are rare: a GPU
 * that raises thousands of Xids in five minutes is already lost), module state behind one
 * mutex, so appending never waits on a scrape for more than a copy.
 */
#ifndef GPUSCOPE_SERIES_XID_LOG_H
#define GPUSCOPE_SERIES_XID_LOG_H

#define GPU_MAX_XID_CODES 32

/* One GPU's Xids per code, in order of first appearance. */
struct xid_tally {
	unsigned n; /* distinct codes seen; later codes beyond the cap are not kept */
	unsigned code[GPU_MAX_XID_CODES];
	double count[GPU_MAX_XID_CODES];
};

/* Counts one event of code (a new code past GPU_MAX_XID_CODES is not kept). */
void xid_tally_count(struct xid_tally *x, unsigned code);

/* Events kept; older ones are forgotten first (a window that would need more undercounts). */
#define XID_LOG_MAX 4096

/* One Xid of code on GPU gpu at monotonic time t (seconds). */
void xid_log_record(unsigned gpu, unsigned code, double t);

/* GPU gpu's events at or after `since`, counted per code: fills code[] and count[] (up to
 * max codes, in order of first appearance) and returns how many codes were filled. */
unsigned xid_log_count(unsigned gpu, double since, unsigned *code, unsigned *count, unsigned max);

#endif
