/* payload.c - notification bodies, field for field as each receiver's
 * documentation gives them (payload.h lists the fields).  Nothing secret is
 * stored with an alert: the PagerDuty routing key is put in here, at send
 * time, and Slack's and the webhook's secrets are their URLs.
 */
#include "alert/payload.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

const char *alert_receiver_kind_name(enum alert_receiver_kind k)
{
	switch (k) {
	case ALERT_RECEIVER_ALERTMANAGER:
		return "alertmanager";
	case ALERT_RECEIVER_WEBHOOK:
		return "webhook";
	case ALERT_RECEIVER_SLACK:
		return "slack";
	case ALERT_RECEIVER_PAGERDUTY:
		return "pagerduty";
	}
	return "?";
}

static char *dump(json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(o);
	return text;
}

char *alert_payload_alertmanager(const struct alert *a, size_t n, double now, double ends_in_s)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, alert_postable_json(&a[i], now, ends_in_s));
	return dump(arr);
}

static json_t *labels_json(const struct alert *a)
{
	json_t *o = json_object();
	for (size_t i = 0; i < a->nlabels; i++)
		json_object_set_new(o, a->labels[i].name, json_string(a->labels[i].value));
	return o;
}

static bool resolved(const struct alert *a)
{
	return a->state == ALERT_STATE_RESOLVED;
}

char *alert_payload_webhook(const struct alert *a, const char *receiver)
{
	char t[40];
	json_t *al = json_object();
	json_object_set_new(al, "status", json_string(resolved(a) ? "resolved" : "firing"));
	json_object_set_new(al, "labels", labels_json(a));
	json_t *ann = json_object();
	json_object_set_new(ann, "summary", json_string(a->summary));
	json_object_set_new(ann, "description", json_string(a->description));
	json_object_set_new(al, "annotations", json_deep_copy(ann));
	alert_format_time(a->fired_at > 0 ? a->fired_at : a->active_at, t, sizeof(t));
	json_object_set_new(al, "startsAt", json_string(t));
	/* Alertmanager writes the zero time for an alert that has not ended. */
	if (resolved(a))
		alert_format_time(a->resolved_at, t, sizeof(t));
	json_object_set_new(al, "endsAt", json_string(resolved(a) ? t : "0001-01-01T00:00:00Z"));
	json_object_set_new(al, "generatorURL", json_string("/api/v1/alerts"));
	json_object_set_new(al, "fingerprint", json_string(a->fingerprint));

	json_t *o = json_object();
	json_object_set_new(o, "version", json_string("4"));
	char key[128];
	snprintf(key, sizeof(key), "{}:{alertname=\"%s\"}", a->rule);
	json_object_set_new(o, "groupKey", json_string(key));
	json_object_set_new(o, "truncatedAlerts", json_integer(0));
	json_object_set_new(o, "status", json_string(resolved(a) ? "resolved" : "firing"));
	json_object_set_new(o, "receiver", json_string(receiver));
	json_t *group = json_object();
	json_object_set_new(group, "alertname", json_string(a->rule));
	json_object_set_new(o, "groupLabels", group);
	json_object_set_new(o, "commonLabels", labels_json(a));
	json_object_set_new(o, "commonAnnotations", ann);
	json_object_set_new(o, "externalURL", json_string(""));
	json_t *alerts = json_array();
	json_array_append_new(alerts, al);
	json_object_set_new(o, "alerts", alerts);
	return dump(o);
}

char *alert_payload_slack(const struct alert *a)
{
	const char *host = alert_label(a, "hostname");
	char text[600], md[1400];
	snprintf(text, sizeof(text), "[%s] %s on %s GPU %ld: %s",
	         resolved(a) ? "RESOLVED" : "FIRING", a->rule, host ? host : "?", a->gpu,
	         a->summary);
	snprintf(md, sizeof(md), "*[%s] %s* (%s)\n%s\n%s", resolved(a) ? "RESOLVED" : "FIRING",
	         a->rule, alert_severity_name(a->severity), a->summary, a->description);
	json_t *section = json_object();
	json_object_set_new(section, "type", json_string("section"));
	json_t *tx = json_object();
	json_object_set_new(tx, "type", json_string("mrkdwn"));
	json_object_set_new(tx, "text", json_string(md));
	json_object_set_new(section, "text", tx);
	json_t *blocks = json_array();
	json_array_append_new(blocks, section);
	json_t *o = json_object();
	json_object_set_new(o, "text", json_string(text));
	json_object_set_new(o, "blocks", blocks);
	return dump(o);
}

void alert_pagerduty_dedup_key(const struct alert *a, char *buf, size_t len)
{
	snprintf(buf, len, "gpuscope-%s", a->fingerprint);
}

char *alert_payload_pagerduty(const struct alert *a, const char *routing_key)
{
	char key[64];
	alert_pagerduty_dedup_key(a, key, sizeof(key));
	json_t *o = json_object();
	json_object_set_new(o, "routing_key", json_string(routing_key));
	json_object_set_new(o, "event_action", json_string(resolved(a) ? "resolve" : "trigger"));
	json_object_set_new(o, "dedup_key", json_string(key));
	if (!resolved(a)) {
		const char *host = alert_label(a, "hostname");
		char summary[1024], source[256], component[32], t[40];
		snprintf(summary, sizeof(summary), "%s on %s GPU %ld: %s", a->rule,
		         host ? host : "?", a->gpu, a->summary);
		snprintf(source, sizeof(source), "%s", host && *host ? host : "gpuscope");
		snprintf(component, sizeof(component), "gpu%ld", a->gpu);
		alert_format_time(a->fired_at > 0 ? a->fired_at : a->active_at, t, sizeof(t));
		json_t *p = json_object();
		json_object_set_new(p, "summary", json_string(summary));
		json_object_set_new(p, "source", json_string(source));
		/* Events v2 severities: critical, error, warning, info. */
		json_object_set_new(p, "severity", json_string(alert_severity_name(a->severity)));
		json_object_set_new(p, "timestamp", json_string(t));
		json_object_set_new(p, "component", json_string(component));
		json_object_set_new(p, "group", json_string(source));
		json_object_set_new(p, "class", json_string(a->rule));
		json_t *details = labels_json(a);
		json_object_set_new(details, "description", json_string(a->description));
		if (!isnan(a->value))
			json_object_set_new(details, "value", json_real(a->value));
		json_object_set_new(p, "custom_details", details);
		json_object_set_new(o, "payload", p);
		json_object_set_new(o, "client", json_string("gpuscope"));
	}
	return dump(o);
}
