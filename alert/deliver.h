/* deliver.h - sending alert notifications, off the evaluation path.
 *
 * The evaluator submits state changes; they go into the outbox
 * (alert/queue.h) before anything is sent.  A background thread takes each
 * receiver's oldest row and POSTs it through libcurl: a 2xx deletes it; a
 * timeout, a refused connection, 408, 429 or 5xx keeps it and retries with
 * exponential backoff (1 s doubling to backoff_max_s); any other answer
 * means the receiver will never take that body, so the row is dropped and
 * counted.  Rows go out in order per receiver, so a resolve never
 * overtakes its firing.  Alertmanager also gets every firing alert again
 * each resend_s (as Prometheus does), since it ends an alert that is not
 * refreshed.
 *
 * Receivers are named by kind ("alertmanager", "webhook", "slack",
 * "pagerduty"); URLs and routing keys are held only in memory, never
 * written to the queue, logs or status.
 */
#ifndef GPUSCOPE_ALERT_DELIVER_H
#define GPUSCOPE_ALERT_DELIVER_H

#include <stdbool.h>
#include <stddef.h>

#include "alert/eval.h"
#include "alert/payload.h"

#define ALERT_RECEIVERS_MAX 8

struct alert_receiver_config {
	enum alert_receiver_kind kind;
	char name[32];
	char *url;         /* where to POST (a secret for Slack and webhooks) */
	char *routing_key; /* PagerDuty's (a secret) */
};

struct alert_delivery_config {
	const char *queue_path; /* SQLite file, or ":memory:" */
	size_t n;
	struct alert_receiver_config receivers[ALERT_RECEIVERS_MAX];
	double backoff_max_s; /* 60 */
	double resend_s;      /* Alertmanager refresh, 60 */
	double timeout_s;     /* per request, 10 */
};

struct alert_delivery;

/* Opens the queue and starts the thread; NULL with err on failure.  The
 * secrets are copied. */
struct alert_delivery *alert_delivery_start(const struct alert_delivery_config *cfg, char *err,
                                            size_t errlen);

/* Queues state changes for every receiver and wakes the thread.  0, or -1
 * when the queue cannot be written (err says why; those are lost). */
int alert_delivery_submit(struct alert_delivery *d, const struct alert *events, size_t n,
                          double now, char *err, size_t errlen);

/* The alerts the queue records as firing (for alert_engine_restore). */
int alert_delivery_firing(struct alert_delivery *d, struct alert **out, size_t *n);

/* Per receiver: name, kind, waiting, delivered, failed_attempts, dropped,
 * last_error, last_success (jansson array; no URLs or keys). */
struct json_t *alert_delivery_status_json(struct alert_delivery *d);

/* gpuscope_alert_notifications_total{receiver, result} and
 * gpuscope_alert_notifications_waiting{receiver}, from memory (a scrape never
 * waits on the outbox). */
struct strbuf;
void alert_delivery_render_metrics(struct alert_delivery *d, bool openmetrics, struct strbuf *out);

/* Stops the thread (an in-flight request is aborted; its row stays). */
void alert_delivery_stop(struct alert_delivery *d);

#endif
