/* queue.h - the alert outbox: every notification waits in SQLite until
 * its receiver has taken it.
 *
 * A state change (an alert firing or resolving) is written, one row per
 * receiver, in the same transaction that records the alert as firing (or
 * no longer firing) in alert_firing.  A row is deleted only after its
 * receiver answered 2xx.  So a receiver that is down, a receiver answering
 * 500, or the agent killed with -9 between the change and its delivery all
 * end the same way: the row is still there and goes out when the receiver
 * (or the agent) is back, once.  The one window left is between a 2xx and
 * the delete's commit (microseconds); Alertmanager and PagerDuty dedup a
 * repeat by fingerprint and dedup key.  alert_firing is also what a
 * restarted agent restores, so it neither re-sends a firing alert nor
 * forgets to resolve one.
 *
 * The tables can live in any SQLite file (the agent keeps them in a file
 * beside its history; agent.c says why not in it).  Rows hold no
 * secrets: URLs and routing keys are added at send time.
 */
#ifndef GPUSCOPE_ALERT_QUEUE_H
#define GPUSCOPE_ALERT_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "alert/eval.h"

struct alert_queue;

struct alert_queue_row {
	int64_t id;
	char receiver[32];
	struct alert alert;
	int attempts;
	double created;
};

/* Opens (creating the tables) the queue in path; ":memory:" keeps it in
 * memory.  NULL with err filled on failure. */
struct alert_queue *alert_queue_open(const char *path, char *err, size_t errlen);
void alert_queue_close(struct alert_queue *q);

/* Records state changes: one outbox row per (event, receiver), and the
 * firing table, in one transaction.  0, or -1 with err. */
int alert_queue_record(struct alert_queue *q, const struct alert *events, size_t n,
                       const char *const *receivers, size_t nreceivers, double now, char *err,
                       size_t errlen);

/* The oldest row for a receiver: 1 found, 0 none, -1 error. */
int alert_queue_next(struct alert_queue *q, const char *receiver, struct alert_queue_row *row);

/* The receiver took it: the row goes.  0 or -1. */
int alert_queue_done(struct alert_queue *q, int64_t id);

/* A failed attempt: counts it.  0 or -1. */
int alert_queue_failed(struct alert_queue *q, int64_t id);

/* Rows waiting for a receiver (NULL: all); -1 on error. */
long alert_queue_pending(struct alert_queue *q, const char *receiver);

/* Deletes the rows of receivers not in keep; how many went, or -1. */
long alert_queue_forget_except(struct alert_queue *q, const char *const *keep, size_t n);

/* The alerts recorded as firing (malloc'd array, *n entries). 0 or -1. */
int alert_queue_firing(struct alert_queue *q, struct alert **out, size_t *n);

/* An alert to and from the JSON text stored in a row. */
char *alert_to_json_text(const struct alert *a);
int alert_from_json_text(const char *text, struct alert *a);

#endif
