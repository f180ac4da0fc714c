/* alerts.c - `gpuscope serve`'s alerts: flags, the evaluation thread, the
 * reload, and the HTTP extras.
 *
 * Once a second the thread takes a board snapshot and the live diagnosis'
 * verdicts, turns each GPU into an alert_gpu_input (native units: ratios,
 * Celsius), runs the engine, hands the transitions to delivery, and renders
 * the JSON and metric text that requests copy.  So the agent alerts on its
 * own data with no Prometheus, and a scrape never waits on the engine.
 */
#include "cmd/alerts.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert/eval.h"
#include "alert/rules_yaml.h"
#include "cmd/live_diagnosis.h"
#include "export/strbuf.h"

#define ALERTS_PERIOD_S 1

const char serve_alerts_usage[] =
    "  --alert-rules FILE     change the built-in alert rules (YAML; docs/alerts.md);\n"
    "                         re-read on SIGHUP, a bad file keeps the rules in use\n"
    "  --no-alerts            evaluate no alert rules\n";

void serve_alerts_init(struct serve_alerts *a)
{
	memset(a, 0, sizeof(*a));
	alert_rules_builtin(&a->rules);
	a->backoff_max_s = 60;
}

int serve_alerts_take(struct serve_alerts *a, int argc, char **argv, int *i, char *err,
                      size_t errlen)
{
	const char *arg = argv[*i];
	const char *val = *i + 1 < argc ? argv[*i + 1] : NULL;
	if (strcmp(arg, "--no-alerts") == 0) {
		a->off = true;
		return 1;
	}
	if (strcmp(arg, "--alert-rules") != 0)
		return 0;
	if (!val || !*val) {
		snprintf(err, errlen, "%s needs a value", arg);
		return -1;
	}
	++*i;
	char why[800];
	if (alert_rules_load(val, &a->rules, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "--alert-rules %s", why);
		return -1;
	}
	a->rules_path = val;
	return 1;
}

static double native(const struct gpu_record *r, enum metric_id m)
{
	if (!metric_set_has(&r->valid, m))
		return NAN;
	return metric_native_value(metric_table[m].unit, r->raw[m]);
}

/* A counter the event thread keeps: 0 until the first event, when supported. */
static double event_count(const struct gpu_record *r, enum metric_id m)
{
	double v = native(r, m);
	if (isnan(v) && metric_set_has(&r->supported, m))
		v = 0;
	return v;
}

static enum alert_severity severity_of(const char *s)
{
	enum alert_severity v = ALERT_INFO;
	alert_severity_parse(s, &v);
	return v;
}

/* One GPU of the snapshot as the engine's input. */
static void gpu_input(const struct gpu_record *r, const struct live_verdict *v, size_t nv,
                      struct alert_gpu_input *in)
{
	memset(in, 0, sizeof(*in));
	in->index = (long)r->index;
	snprintf(in->uuid, sizeof(in->uuid), "%s", r->id.uuid);
	snprintf(in->model, sizeof(in->model), "%s", r->id.name);
	double util = native(r, METRIC_GPU_UTIL);
	double used = native(r, METRIC_FB_USED), total = native(r, METRIC_FB_TOTAL);
	double power = native(r, METRIC_POWER), limit = native(r, METRIC_POWER_LIMIT);
	double power_ratio = limit > 0 ? power / limit : NAN;
	in->value[ALERT_SIG_UTILIZATION] = util;
	in->value[ALERT_SIG_MEMORY_USED] = total > 0 ? used / total : NAN;
	in->value[ALERT_SIG_TEMPERATURE] = native(r, METRIC_GPU_TEMP);
	in->value[ALERT_SIG_POWER] = power_ratio;
	in->value[ALERT_SIG_POWER_EFFICIENCY] = power_ratio > 0 ? util / power_ratio : NAN;
	in->value[ALERT_SIG_SM_ACTIVE] = native(r, METRIC_GPM_SM_ACTIVE);
	in->value[ALERT_SIG_XID_ERRORS] = event_count(r, METRIC_XID_COUNT);
	/* The volatile counter (slow tier) and the events (at once) see the same
	 * errors on a real GPU; their sum only ever rises when either does, which
	 * is all an "increase > 0" rule asks.  Either alone may be missing. */
	double dbe = native(r, METRIC_ECC_DBE_VOL), ev = event_count(r, METRIC_DBE_EVENTS);
	in->value[ALERT_SIG_ECC_UNCORRECTED] = isnan(dbe) ? ev : isnan(ev) ? dbe : dbe + ev;
	in->value[ALERT_SIG_VERDICT] = NAN;
	in->slowdown_temp_c = native(r, METRIC_SLOWDOWN_TEMP);
	double xid = native(r, METRIC_XID_LAST);
	in->xid_last = xid > 0 ? (unsigned)xid : 0;
	const struct process_table *t = r->procs;
	if (t && t->owner_valid) {
		snprintf(in->pod, sizeof(in->pod), "%s", t->owner_pod);
		snprintf(in->pod_namespace, sizeof(in->pod_namespace), "%s", t->owner_namespace);
		snprintf(in->container, sizeof(in->container), "%s", t->owner_container);
	}
	if (t && t->n)
		snprintf(in->process, sizeof(in->process), "%s", t->proc[0].name);
	for (size_t i = 0; i < nv && in->nverdicts < ALERT_GPU_VERDICTS_MAX; i++) {
		if (strcmp(v[i].uuid, r->id.uuid) != 0)
			continue;
		struct alert_gpu_verdict *gv = &in->verdicts[in->nverdicts++];
		snprintf(gv->id, sizeof(gv->id), "%s", v[i].id);
		gv->severity = severity_of(v[i].severity);
	}
}

/* Renders what requests read; called with the lock held. */
static void render(struct serve_alerts *a)
{
	size_t n;
	const struct alert *act = alert_engine_active(a->engine, &n);
	json_t *arr = alert_list_json(act, n);
	char *json = arr ? json_dumps(arr, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(arr);
	struct strbuf sb;
	sb_init(&sb, 1024);
	alert_render_metrics(act, n, &sb);
	sb_append(&sb, "", 1);
	if (json) {
		free(a->json);
		a->json = json;
	}
	if (!sb.oom) {
		free(a->metrics);
		a->metrics = sb.data;
	} else {
		sb_free(&sb);
	}
}

static void evaluate(struct serve_alerts *a)
{
	struct board_snapshot snap;
	if (board_snapshot(a->board, &snap) != 0)
		return;
	size_t nv = 0;
	struct live_verdict *v = a->diagnosis ? live_diagnosis_verdicts(a->diagnosis, &nv) : NULL;
	struct alert_gpu_input *in = calloc(snap.count ? snap.count : 1, sizeof(*in));
	size_t n = 0;
	for (unsigned i = 0; in && i < snap.count; i++)
		if (snap.gpus[i].has_identity)
			gpu_input(&snap.gpus[i], v, nv, &in[n++]);
	double now = wall_now();
	board_snapshot_free(&snap);
	free(v);
	if (!in)
		return;
	struct alert *events = NULL;
	size_t nevents = 0;
	pthread_mutex_lock(&a->lock);
	if (alert_engine_eval(a->engine, now, in, n, &events, &nevents) < 0)
		fprintf(stderr, "gpuscope: alerts: evaluation ran out of memory\n");
	render(a);
	pthread_mutex_unlock(&a->lock);
	free(in);
	for (size_t i = 0; i < nevents; i++)
		fprintf(stderr, "gpuscope: alert %s %s on GPU %ld (%s)\n", events[i].rule,
		        events[i].state == ALERT_STATE_FIRING ? "firing" : "resolved",
		        events[i].gpu, events[i].uuid);
	free(events);
}

static void *alerts_main(void *arg)
{
	struct serve_alerts *a = arg;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	for (;;) {
		pthread_mutex_lock(&a->lock);
		while (!a->stop && pthread_cond_timedwait(&a->wake, &a->lock, &until) != ETIMEDOUT)
			;
		bool stop = a->stop;
		pthread_mutex_unlock(&a->lock);
		if (stop)
			break;
		evaluate(a);
		until.tv_sec += ALERTS_PERIOD_S;
	}
	return NULL;
}

static void stamp(char *buf, size_t len)
{
	alert_format_time(wall_now(), buf, len);
}

static char *extra_alerts(void *ctx, unsigned *status)
{
	struct serve_alerts *a = ctx;
	json_t *doc = json_object();
	json_object_set_new(doc, "status", json_string("success"));
	json_t *data = json_object();
	json_t *rules = json_object();
	pthread_mutex_lock(&a->lock);
	json_t *list = a->json ? json_loads(a->json, 0, NULL) : NULL;
	json_object_set_new(data, "alerts", list ? list : json_array());
	json_object_set_new(rules, "file",
	                    a->rules_path ? json_string(a->rules_path) : json_null());
	size_t enabled = 0;
	for (size_t i = 0; i < a->rules.n; i++)
		enabled += !a->rules.rule[i].disabled;
	json_object_set_new(rules, "count", json_integer((json_int_t)a->rules.n));
	json_object_set_new(rules, "enabled", json_integer((json_int_t)enabled));
	json_object_set_new(rules, "loaded_at", json_string(a->loaded_at));
	json_object_set_new(rules, "last_reload_error",
	                    a->reload_error[0] ? json_string(a->reload_error) : json_null());
	pthread_mutex_unlock(&a->lock);
	json_object_set_new(data, "rules", rules);
	json_object_set_new(doc, "data", data);
	char *text = json_dumps(doc, JSON_INDENT(1) | JSON_ENSURE_ASCII);
	json_decref(doc);
	*status = 200;
	return text;
}

static void extra_metrics(void *ctx, const struct prom_options *o, struct strbuf *out)
{
	struct serve_alerts *a = ctx;
	if (!(o->names & NAMES_NATIVE))
		return;
	pthread_mutex_lock(&a->lock);
	if (a->metrics)
		sb_puts(out, a->metrics);
	pthread_mutex_unlock(&a->lock);
}

int serve_alerts_start(struct serve_alerts *a, struct board *b, struct live_diagnosis *d,
                       const char *history)
{
	(void)history;
	if (a->off)
		return 0;
	a->board = b;
	a->diagnosis = d;
	a->engine = alert_engine_new(&a->rules, b->info.hostname);
	if (!a->engine) {
		fprintf(stderr, "gpuscope: alerts: out of memory\n");
		return -1;
	}
	stamp(a->loaded_at, sizeof(a->loaded_at));
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->wake, NULL);
	int rc = pthread_create(&a->thread, NULL, alerts_main, a);
	if (rc != 0) {
		fprintf(stderr, "gpuscope: alerts: cannot start its thread: %s\n", strerror(rc));
		alert_engine_free(a->engine);
		a->engine = NULL;
		return -1;
	}
	a->started = true;
	a->extras =
	    (struct http_extras){.ctx = a, .metrics = extra_metrics, .alerts = extra_alerts};
	return 0;
}

void serve_alerts_reload(struct serve_alerts *a)
{
	if (!a->started)
		return;
	if (!a->rules_path) {
		fprintf(stderr, "gpuscope: alerts: SIGHUP: no --alert-rules file to read; the "
		                "built-in rules stay\n");
		return;
	}
	struct alert_rules *rs = malloc(sizeof(*rs));
	char why[800];
	int rc = rs ? alert_rules_load(a->rules_path, rs, why, sizeof(why)) : -1;
	if (!rs)
		snprintf(why, sizeof(why), "out of memory");
	pthread_mutex_lock(&a->lock);
	if (rc == 0 && alert_engine_set_rules(a->engine, rs) != 0) {
		rc = -1;
		snprintf(why, sizeof(why), "out of memory");
	}
	if (rc == 0) {
		a->rules = *rs;
		a->reload_error[0] = '\0';
		stamp(a->loaded_at, sizeof(a->loaded_at));
	} else {
		char at[40];
		stamp(at, sizeof(at));
		snprintf(a->reload_error, sizeof(a->reload_error), "%s: %s", at, why);
	}
	size_t n = a->rules.n;
	pthread_mutex_unlock(&a->lock);
	free(rs);
	if (rc == 0)
		fprintf(stderr, "gpuscope: alerts: rules reloaded from %s (%zu rules)\n",
		        a->rules_path, n);
	else
		fprintf(stderr, "gpuscope: alerts: reload failed, keeping the rules in use: %s\n",
		        why);
}

const struct http_extras *serve_alerts_extras(struct serve_alerts *a)
{
	return a->started ? &a->extras : NULL;
}

void serve_alerts_stop(struct serve_alerts *a)
{
	if (!a->started)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_broadcast(&a->wake);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->lock);
	alert_engine_free(a->engine);
	free(a->json);
	free(a->metrics);
	a->started = false;
}
