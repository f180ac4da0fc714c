/* agent.c - the agent's alerts: the evaluation thread, the reload, and the HTTP extras
 * (see agent.h).
 *
 * Once a second the thread takes a board snapshot and the live diagnosis'
 * verdicts, turns each GPU into an alert_gpu_input (native units: ratios,
 * Celsius), runs the engine, hands the transitions to delivery, and renders
 * the JSON and metric text that requests copy.  So the agent alerts on its
 * own data with no Prometheus, and a scrape never waits on the engine.
 */
#include "alert/agent.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert/deliver.h"
#include "alert/eval.h"
#include "alert/rules_yaml.h"
#include "export/strbuf.h"
#include "report/live_diagnosis.h"
#include "series/process_table.h"
#include "store/recorder.h"

#define ALERTS_PERIOD_S 1

#define PAGERDUTY_EVENTS_URL "https://events.pagerduty.com/v2/enqueue"

struct alert_agent {
	struct alert_agent_config cfg; /* its rules and rules_path change on reload */
	struct board *board;
	struct live_diagnosis *diagnosis;
	struct alert_engine *engine;
	struct alert_delivery *delivery;
	pthread_t thread;
	pthread_mutex_t lock; /* guards everything below, cfg's rules and the engine */
	pthread_cond_t wake;
	bool stop;
	char *json;              /* cached /api/v1/alerts "data.alerts" array text */
	char *metrics;           /* cached families */
	bool stale;              /* evaluated since json and metrics were rendered */
	char loaded_at[40];      /* when the rules in use were read */
	char applied_path[4096]; /* rules_path after alert_agent_apply (a copy it owns) */
	char reload_error[900];
	struct http_extras extras;
};

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

/* Renders what requests read, when an evaluation came since the last render: at most once
 * an evaluation, and never when nobody asks (64 idle GPUs' alerts rendered every second
 * were half the thread's CPU).  Called with the lock held. */
static void render(struct alert_agent *a)
{
	if (!a->stale)
		return;
	a->stale = false;
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

static void evaluate(struct alert_agent *a)
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
	a->stale = true;
	pthread_mutex_unlock(&a->lock);
	free(in);
	char err[600];
	if (a->delivery &&
	    alert_delivery_submit(a->delivery, events, nevents, now, err, sizeof(err)) != 0)
		fprintf(stderr, "gpuscope: alerts: %zu notification%s not queued: %s\n", nevents,
		        nevents == 1 ? "" : "s", err);
	for (size_t i = 0; i < nevents; i++)
		fprintf(stderr, "gpuscope: alert %s %s on GPU %ld (%s)\n", events[i].rule,
		        events[i].state == ALERT_STATE_FIRING ? "firing" : "resolved",
		        events[i].gpu, events[i].uuid);
	free(events);
}

static void *alerts_main(void *arg)
{
	struct alert_agent *a = arg;
	pthread_setname_np(pthread_self(), "gpuscope-alerts");
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
	struct alert_agent *a = ctx;
	json_t *doc = json_object();
	json_object_set_new(doc, "status", json_string("success"));
	json_t *data = json_object();
	json_t *rules = json_object();
	pthread_mutex_lock(&a->lock);
	render(a);
	json_t *list = a->json ? json_loads(a->json, 0, NULL) : NULL;
	json_object_set_new(data, "alerts", list ? list : json_array());
	json_object_set_new(rules, "file",
	                    a->cfg.rules_path ? json_string(a->cfg.rules_path) : json_null());
	size_t enabled = 0;
	for (size_t i = 0; i < a->cfg.rules.n; i++)
		enabled += !a->cfg.rules.rule[i].disabled;
	json_object_set_new(rules, "count", json_integer((json_int_t)a->cfg.rules.n));
	json_object_set_new(rules, "enabled", json_integer((json_int_t)enabled));
	json_object_set_new(rules, "loaded_at", json_string(a->loaded_at));
	json_object_set_new(rules, "last_reload_error",
	                    a->reload_error[0] ? json_string(a->reload_error) : json_null());
	pthread_mutex_unlock(&a->lock);
	json_object_set_new(data, "rules", rules);
	json_object_set_new(data, "receivers",
	                    a->delivery ? alert_delivery_status_json(a->delivery) : json_array());
	json_object_set_new(doc, "data", data);
	char *text = json_dumps(doc, JSON_INDENT(1) | JSON_ENSURE_ASCII);
	json_decref(doc);
	*status = 200;
	return text;
}

static void extra_metrics(void *ctx, const struct prom_options *o, struct strbuf *out)
{
	struct alert_agent *a = ctx;
	if (!(o->names & NAMES_NATIVE))
		return;
	pthread_mutex_lock(&a->lock);
	render(a);
	if (a->metrics)
		sb_puts(out, a->metrics);
	pthread_mutex_unlock(&a->lock);
	if (a->delivery)
		alert_delivery_render_metrics(a->delivery, o->openmetrics, out);
}

/* A secret: the first line of file, else the environment variable; *out
 * NULL when neither is given.  Errors name the file, never its content. */
static int read_secret(const char *file, const char *env, bool url, char **out)
{
	*out = NULL;
	char buf[2048];
	const char *src = NULL;
	if (file) {
		FILE *f = fopen(file, "r");
		if (!f) {
			fprintf(stderr, "gpuscope: alerts: cannot read %s: %s\n", file,
			        strerror(errno));
			return -1;
		}
		src = fgets(buf, sizeof(buf), f);
		fclose(f);
		if (!src) {
			fprintf(stderr, "gpuscope: alerts: %s is empty\n", file);
			return -1;
		}
	} else {
		src = getenv(env);
		if (!src || !*src)
			return 0;
		snprintf(buf, sizeof(buf), "%s", src);
	}
	size_t n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
	             buf[n - 1] == '\t'))
		buf[--n] = '\0';
	const char *where = file ? file : env;
	if (!n || (url && strncmp(buf, "http://", 7) != 0 && strncmp(buf, "https://", 8) != 0)) {
		fprintf(stderr, "gpuscope: alerts: %s does not hold %s\n", where,
		        url ? "an http(s) URL" : "a routing key");
		return -1;
	}
	if (!(*out = strdup(buf))) {
		fprintf(stderr, "gpuscope: alerts: out of memory\n");
		return -1;
	}
	return 1;
}

static void add_receiver(struct alert_delivery_config *c, enum alert_receiver_kind k,
                         const char *name, char *url, char *key)
{
	struct alert_receiver_config *r = &c->receivers[c->n++];
	r->kind = k;
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->url = url;
	r->routing_key = key;
}

/* Where undelivered notifications wait: --alert-queue, else a file beside
 * the history ("<history>-alerts"), else beside where the history would be;
 * under --demo without either, memory.  Not the history file itself: the
 * recorder holds its write lock across 5-second batches, and a delivery
 * that waits behind it would hold up evaluation. */
static void queue_path(struct alert_agent *a, const char *history, bool demo, char *out, size_t len)
{
	if (a->cfg.queue_path) {
		snprintf(out, len, "%s", a->cfg.queue_path);
		return;
	}
	if (history) {
		snprintf(out, len, "%s-alerts", history);
		return;
	}
	if (!demo && recorder_default_path(false, out, len)) {
		char *slash = strrchr(out, '/');
		if (slash && (size_t)(slash - out) + 16 < len) {
			snprintf(slash + 1, len - (size_t)(slash + 1 - out), "alert-queue.db");
			return;
		}
	}
	snprintf(out, len, ":memory:");
	fprintf(stderr,
	        "gpuscope: alerts: undelivered notifications are kept in memory only "
	        "(give --alert-queue FILE or --history PATH to keep them across restarts)\n");
}

static int start_delivery(struct alert_agent *a, const char *history, bool demo)
{
	struct alert_delivery_config c = {.backoff_max_s = a->cfg.backoff_max_s};
	int rc = 0;
	for (size_t i = 0; i < a->cfg.nalertmanager; i++) {
		char name[32], url[1024];
		snprintf(name, sizeof(name), i ? "alertmanager-%zu" : "alertmanager", i + 1);
		size_t n = strlen(a->cfg.alertmanager[i]);
		while (n && a->cfg.alertmanager[i][n - 1] == '/')
			n--;
		snprintf(url, sizeof(url), "%.*s/api/v2/alerts", (int)n, a->cfg.alertmanager[i]);
		add_receiver(&c, ALERT_RECEIVER_ALERTMANAGER, name, strdup(url), NULL);
	}
	char *secret;
	if ((rc = read_secret(a->cfg.webhook_file, "GPUSCOPE_ALERT_WEBHOOK_URL", true, &secret)) >
	    0)
		add_receiver(&c, ALERT_RECEIVER_WEBHOOK, "webhook", secret, NULL);
	if (rc >= 0 &&
	    (rc = read_secret(a->cfg.slack_file, "GPUSCOPE_SLACK_WEBHOOK_URL", true, &secret)) > 0)
		add_receiver(&c, ALERT_RECEIVER_SLACK, "slack", secret, NULL);
	if (rc >= 0 && (rc = read_secret(a->cfg.pagerduty_file, "GPUSCOPE_PAGERDUTY_ROUTING_KEY",
	                                 false, &secret)) > 0)
		add_receiver(
		    &c, ALERT_RECEIVER_PAGERDUTY, "pagerduty",
		    strdup(a->cfg.pagerduty_url ? a->cfg.pagerduty_url : PAGERDUTY_EVENTS_URL),
		    secret);
	char path[4200];
	if (rc >= 0 && c.n) {
		queue_path(a, history, demo, path, sizeof(path));
		c.queue_path = path;
		char err[600];
		if (!(a->delivery = alert_delivery_start(&c, err, sizeof(err)))) {
			fprintf(stderr, "gpuscope: %s\n", err);
			rc = -1;
		} else {
			fprintf(stderr, "gpuscope: alerts: delivering to");
			for (size_t i = 0; i < c.n; i++)
				fprintf(stderr, " %s", c.receivers[i].name);
			fprintf(stderr, " (queue %s)\n", path);
		}
	}
	for (size_t i = 0; i < c.n; i++) {
		free(c.receivers[i].url);
		free(c.receivers[i].routing_key);
	}
	return rc < 0 ? -1 : 0;
}

void alert_agent_config_init(struct alert_agent_config *c)
{
	memset(c, 0, sizeof(*c));
	alert_rules_builtin(&c->rules);
	c->backoff_max_s = 60;
}

struct alert_agent *alert_agent_start(const struct alert_agent_config *cfg, struct board *b,
                                      struct live_diagnosis *d, const char *history, bool demo)
{
	struct alert_agent *a = calloc(1, sizeof(*a));
	if (!a) {
		fprintf(stderr, "gpuscope: alerts: out of memory\n");
		return NULL;
	}
	a->cfg = *cfg;
	a->board = b;
	a->diagnosis = d;
	a->engine = alert_engine_new(&a->cfg.rules, b->info.hostname);
	if (!a->engine) {
		fprintf(stderr, "gpuscope: alerts: out of memory\n");
		goto err;
	}
	stamp(a->loaded_at, sizeof(a->loaded_at));
	if (start_delivery(a, history, demo) != 0)
		goto err;
	struct alert *firing = NULL;
	size_t nfiring = 0;
	if (a->delivery && alert_delivery_firing(a->delivery, &firing, &nfiring) == 0 && nfiring) {
		alert_engine_restore(a->engine, wall_now(), firing, nfiring);
		fprintf(stderr,
		        "gpuscope: alerts: %zu alert%s still firing from before the restart\n",
		        nfiring, nfiring == 1 ? "" : "s");
	}
	free(firing);
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->wake, NULL);
	int rc = pthread_create(&a->thread, NULL, alerts_main, a);
	if (rc != 0) {
		fprintf(stderr, "gpuscope: alerts: cannot start its thread: %s\n", strerror(rc));
		pthread_cond_destroy(&a->wake);
		pthread_mutex_destroy(&a->lock);
		goto err;
	}
	a->extras =
	    (struct http_extras){.ctx = a, .metrics = extra_metrics, .alerts = extra_alerts};
	return a;
err:
	alert_delivery_stop(a->delivery);
	alert_engine_free(a->engine);
	free(a);
	return NULL;
}

/* Puts rs (NULL: a failure, why says it) in place of the rules in use. */
static void apply_rules(struct alert_agent *a, const struct alert_rules *rs, const char *path,
                        const char *why)
{
	char reason[800];
	snprintf(reason, sizeof(reason), "%s", why ? why : "");
	pthread_mutex_lock(&a->lock);
	if (rs && alert_engine_set_rules(a->engine, rs) != 0) {
		rs = NULL;
		snprintf(reason, sizeof(reason), "out of memory");
	}
	if (rs) {
		a->cfg.rules = *rs;
		if (path != a->cfg.rules_path) { /* a fresh parse's string may not outlive it */
			snprintf(a->applied_path, sizeof(a->applied_path), "%s", path ? path : "");
			a->cfg.rules_path = path ? a->applied_path : NULL;
		}
		a->reload_error[0] = '\0';
		stamp(a->loaded_at, sizeof(a->loaded_at));
	} else {
		char at[40];
		stamp(at, sizeof(at));
		snprintf(a->reload_error, sizeof(a->reload_error), "%s: %s", at, reason);
	}
	size_t n = a->cfg.rules.n;
	pthread_mutex_unlock(&a->lock);
	if (rs)
		fprintf(stderr, "gpuscope: alerts: rules reloaded from %s (%zu rules)\n",
		        a->cfg.rules_path ? a->cfg.rules_path : "the built-in set", n);
	else
		fprintf(stderr, "gpuscope: alerts: reload failed, keeping the rules in use: %s\n",
		        reason);
}

void alert_agent_reload(struct alert_agent *a)
{
	if (!a)
		return;
	if (!a->cfg.rules_path) {
		fprintf(stderr, "gpuscope: alerts: SIGHUP: no --alert-rules file to read; the "
		                "built-in rules stay\n");
		return;
	}
	/* The same path a whole-configuration reload takes: parse, then apply. */
	struct alert_rules *fresh = malloc(sizeof(*fresh));
	char path[4096], why[800], err[900] = "out of memory";
	snprintf(path, sizeof(path), "%s", a->cfg.rules_path);
	if (fresh) {
		alert_rules_builtin(fresh);
		if (alert_rules_load(path, fresh, why, sizeof(why)) == 0) {
			alert_agent_apply(a, fresh, path);
			free(fresh);
			return;
		}
		snprintf(err, sizeof(err), "--alert-rules %s", why);
	}
	apply_rules(a, NULL, NULL, err);
	free(fresh);
}

void alert_agent_apply(struct alert_agent *a, const struct alert_rules *rules, const char *path)
{
	if (a)
		apply_rules(a, rules, path, NULL);
}

const struct http_extras *alert_agent_extras(struct alert_agent *a)
{
	return a ? &a->extras : NULL;
}

void alert_agent_stop(struct alert_agent *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_broadcast(&a->wake);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	alert_delivery_stop(a->delivery);
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->lock);
	alert_engine_free(a->engine);
	free(a->json);
	free(a->metrics);
	free(a);
}
