/* render.c - alerts as the world reads them: Prometheus' /api/v1/alerts
 * entries, Alertmanager's postable alerts, and metric families.
 *
 * Field names follow the upstream documents exactly (Prometheus HTTP API
 * "alerts"; Alertmanager OpenAPI v2 postableAlert), so a tool that reads
 * Prometheus reads the agent too.
 */
#include "alert/eval.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "export/strbuf.h"

void alert_format_time(double t, char *buf, size_t len)
{
	time_t s = (time_t)floor(t);
	int ms = (int)((t - floor(t)) * 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	char base[32];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", base, ms);
}

static json_t *labels_json(const struct alert *a)
{
	json_t *o = json_object();
	for (size_t i = 0; i < a->nlabels; i++)
		json_object_set_new(o, a->labels[i].name, json_string(a->labels[i].value));
	return o;
}

static json_t *annotations_json(const struct alert *a)
{
	json_t *o = json_object();
	json_object_set_new(o, "summary", json_string(a->summary));
	json_object_set_new(o, "description", json_string(a->description));
	return o;
}

static const char *state_name(enum alert_state s)
{
	return s == ALERT_STATE_PENDING  ? "pending"
	       : s == ALERT_STATE_FIRING ? "firing"
	                                 : "resolved";
}

json_t *alert_list_json(const struct alert *a, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		char t[40];
		json_t *o = json_object();
		json_object_set_new(o, "labels", labels_json(&a[i]));
		json_object_set_new(o, "annotations", annotations_json(&a[i]));
		json_object_set_new(o, "state", json_string(state_name(a[i].state)));
		alert_format_time(a[i].active_at, t, sizeof(t));
		json_object_set_new(o, "activeAt", json_string(t));
		if (a[i].fired_at > 0) {
			alert_format_time(a[i].fired_at, t, sizeof(t));
			json_object_set_new(o, "firedAt", json_string(t));
		}
		/* Prometheus gives the value as a string; NaN as "NaN". */
		char v[40];
		snprintf(v, sizeof(v), "%.6g", a[i].value);
		json_object_set_new(o, "value", json_string(isnan(a[i].value) ? "NaN" : v));
		json_object_set_new(o, "fingerprint", json_string(a[i].fingerprint));
		json_array_append_new(arr, o);
	}
	return arr;
}

json_t *alert_postable_json(const struct alert *a, double now, double ends_in_s)
{
	char t[40];
	json_t *o = json_object();
	json_object_set_new(o, "labels", labels_json(a));
	json_object_set_new(o, "annotations", annotations_json(a));
	alert_format_time(a->fired_at > 0 ? a->fired_at : a->active_at, t, sizeof(t));
	json_object_set_new(o, "startsAt", json_string(t));
	alert_format_time(a->state == ALERT_STATE_RESOLVED ? a->resolved_at : now + ends_in_s, t,
	                  sizeof(t));
	json_object_set_new(o, "endsAt", json_string(t));
	json_object_set_new(o, "generatorURL", json_string("/api/v1/alerts"));
	return o;
}

/* gpuscope_* series spell labels in snake_case (uuid, as on every native
 * series); the alert itself keeps dcgm-exporter's spelling for receivers. */
static const char *native_label(const char *name)
{
	if (strcmp(name, "UUID") == 0)
		return "uuid";
	if (strcmp(name, "modelName") == 0)
		return "model_name";
	return name;
}

static void label_set(const struct alert *a, const char *state, struct strbuf *out)
{
	sb_puts(out, "{alertstate=\"");
	sb_puts(out, state);
	sb_puts(out, "\"");
	for (size_t i = 0; i < a->nlabels; i++) {
		sb_printf(out, ",%s=\"", native_label(a->labels[i].name));
		sb_label_value(out, a->labels[i].value);
		sb_puts(out, "\"");
	}
	sb_puts(out, "}");
}

void alert_render_metrics(const struct alert *a, size_t n, struct strbuf *out)
{
	sb_puts(out, "# HELP gpuscope_alert The agent's pending and firing alerts, 1 per alert "
	             "(Prometheus' ALERTS, with gpuscope's prefix so it never mixes with a "
	             "server's own).\n# TYPE gpuscope_alert gauge\n");
	for (size_t i = 0; i < n; i++) {
		sb_puts(out, "gpuscope_alert");
		label_set(&a[i], state_name(a[i].state), out);
		sb_puts(out, " 1\n");
	}
	sb_puts(out, "# HELP gpuscope_alert_active_since_seconds When each pending or firing "
	             "alert's condition first held, Unix seconds (Prometheus' "
	             "ALERTS_FOR_STATE).\n# TYPE gpuscope_alert_active_since_seconds gauge\n");
	for (size_t i = 0; i < n; i++) {
		sb_puts(out, "gpuscope_alert_active_since_seconds");
		label_set(&a[i], state_name(a[i].state), out);
		sb_puts(out, " ");
		sb_double(out, floor(a[i].active_at));
		sb_puts(out, "\n");
	}
}
