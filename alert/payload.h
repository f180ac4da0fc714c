/* payload.h - the bodies each kind of receiver documents.
 *
 *   Alertmanager  POST /api/v2/alerts: a JSON array of postableAlert
 *                 (labels, annotations, startsAt, endsAt, generatorURL), as
 *                 Prometheus sends, so routing, silences and inhibition apply.
 *   webhook       Alertmanager's webhook_config body, version "4": status,
 *                 receiver, groupLabels, commonLabels, commonAnnotations,
 *                 externalURL, groupKey, truncatedAlerts and alerts[] (status,
 *                 labels, annotations, startsAt, endsAt, generatorURL,
 *                 fingerprint); one alert per message.
 *   Slack         an incoming webhook message: `text` (the notification's
 *                 fallback) and `blocks` (one mrkdwn section).
 *   PagerDuty     Events API v2: routing_key, event_action trigger|resolve,
 *                 dedup_key (stable per alert: "gpuscope-" + fingerprint) and,
 *                 for a trigger, payload {summary, source, severity,
 *                 timestamp, component, group, class, custom_details}.
 *
 * Pure functions of their input; each returns a malloc'd JSON text or NULL
 * when out of memory.
 */
#ifndef GPUSCOPE_ALERT_PAYLOAD_H
#define GPUSCOPE_ALERT_PAYLOAD_H

#include <stddef.h>

#include "alert/eval.h"

enum alert_receiver_kind {
	ALERT_RECEIVER_ALERTMANAGER,
	ALERT_RECEIVER_WEBHOOK,
	ALERT_RECEIVER_SLACK,
	ALERT_RECEIVER_PAGERDUTY,
};

/* "alertmanager", "webhook", "slack", "pagerduty". */
const char *alert_receiver_kind_name(enum alert_receiver_kind k);

/* Firing alerts tell Alertmanager to resolve them by themselves after
 * ends_in_s unless refreshed (Prometheus uses 4 resend intervals). */
char *alert_payload_alertmanager(const struct alert *a, size_t n, double now, double ends_in_s);
char *alert_payload_webhook(const struct alert *a, const char *receiver);
char *alert_payload_slack(const struct alert *a);
char *alert_payload_pagerduty(const struct alert *a, const char *routing_key);

/* The PagerDuty dedup key of an alert (into buf). */
void alert_pagerduty_dedup_key(const struct alert *a, char *buf, size_t len);

#endif
