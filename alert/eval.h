/* eval.h - alert evaluation: rules over each GPU's recent values, with
 * pending, firing and resolved states.
 *
 * The caller (the agent's alert thread) hands the engine, about once a
 * second, one alert_gpu_input per GPU: the current value of every signal
 * (from the board), the GPU's own thresholds, its labels and the live
 * diagnosis' verdicts about it.  The engine keeps a short ring of those
 * inputs per GPU (as long as the longest rule window), computes each rule's
 * windowed value, and moves each (rule, GPU) alert through Prometheus'
 * states: inactive -> pending when the condition holds, -> firing once it
 * has held for `for`, -> resolved once it has been false for
 * `keep_firing_for` (the flap damping: a condition that dips for a few
 * seconds neither resolves nor re-fires the alert).  Absent is not zero: a
 * signal the GPU does not report makes the condition false, never true.
 *
 * Every transition to firing or resolved is returned as an event; those
 * are what the delivery queue (alert/queue.h) stores.  Firing alerts can be
 * restored after a restart (from the queue's state table) so a restart
 * neither repeats a firing notification nor forgets to send the resolve.
 * The engine is not thread-safe: one thread evaluates; readers take the
 * rendered JSON and metrics text it produces under the caller's lock.
 */
#ifndef GPUSCOPE_ALERT_EVAL_H
#define GPUSCOPE_ALERT_EVAL_H

#include <stdbool.h>
#include <stddef.h>

#include "alert/rules.h"

struct strbuf;

#define ALERT_LABELS_MAX       12
#define ALERT_LABEL_NAME_MAX   24
#define ALERT_LABEL_VALUE_MAX  256
#define ALERT_GPU_VERDICTS_MAX 16

struct alert_label {
	char name[ALERT_LABEL_NAME_MAX];
	char value[ALERT_LABEL_VALUE_MAX];
};

struct alert_gpu_verdict {
	char id[ALERT_VERDICT_MAX];
	enum alert_severity severity;
};

/* One GPU at one instant.  value[] holds NaN where the GPU has no reading;
 * the counter signals (Xid, ECC) are cumulative counts. */
struct alert_gpu_input {
	long index;
	char uuid[96];
	char model[96];
	double value[ALERT_SIG_COUNT];
	double slowdown_temp_c; /* NaN: not reported */
	unsigned xid_last;      /* code of the latest Xid, 0: none */
	/* Who uses it, when known ("" otherwise): become labels. */
	char pod[ALERT_LABEL_VALUE_MAX], pod_namespace[64], container[64], process[64];
	size_t nverdicts;
	struct alert_gpu_verdict verdicts[ALERT_GPU_VERDICTS_MAX];
};

enum alert_state { ALERT_STATE_PENDING, ALERT_STATE_FIRING, ALERT_STATE_RESOLVED };

struct alert {
	char fingerprint[17]; /* 16 hex digits, stable for (rule, host, GPU UUID) */
	char rule[ALERT_NAME_MAX];
	enum alert_severity severity;
	enum alert_state state;
	long gpu;
	char uuid[96];
	double active_at;   /* wall seconds: condition first held (pending since) */
	double fired_at;    /* wall seconds: became firing (0 while pending) */
	double resolved_at; /* wall seconds: resolved (0 until then) */
	double last_true;   /* wall seconds: condition last held */
	double value;       /* the rule's windowed value at the last evaluation */
	double threshold;   /* the threshold it was compared with */
	size_t nlabels;     /* alertname, severity, Hostname, gpu, UUID, modelName, ... */
	struct alert_label labels[ALERT_LABELS_MAX];
	char summary[ALERT_TEXT_MAX];
	char description[768];
};

struct alert_engine;

/* hostname: the Hostname label.  NULL when out of memory. */
struct alert_engine *alert_engine_new(const struct alert_rules *rules, const char *hostname);
void alert_engine_free(struct alert_engine *e);

/* Swaps the rules (a reload).  Alerts of rules that still exist keep their
 * state; alerts of rules that are gone or now disabled resolve at the next
 * evaluation.  0, or -1 when out of memory (the old rules stay). */
int alert_engine_set_rules(struct alert_engine *e, const struct alert_rules *rules);

/* Puts back firing alerts saved before a restart; they resolve through
 * keep_firing_for when their condition no longer holds.  0 or -1 (OOM). */
int alert_engine_restore(struct alert_engine *e, double now, const struct alert *firing, size_t n);

/* One evaluation at wall time now.  Appends every transition to firing or
 * resolved to *events (grown with realloc; the caller frees it) and
 * returns how many, or -1 when out of memory. */
int alert_engine_eval(struct alert_engine *e, double now, const struct alert_gpu_input *gpus,
                      size_t n, struct alert **events, size_t *nevents);

/* The pending and firing alerts now (a borrowed array, valid until the
 * next call on the engine). */
const struct alert *alert_engine_active(const struct alert_engine *e, size_t *n);

/* The label value of an alert, or NULL. */
const char *alert_label(const struct alert *a, const char *name);

/* The alerts as Prometheus' /api/v1/alerts "alerts" array (jansson). */
struct json_t *alert_list_json(const struct alert *a, size_t n);

/* One alert as Alertmanager's API v2 postable alert (labels, annotations,
 * startsAt, endsAt, generatorURL); endsAt is the resolve time, or
 * now + ends_in_s for a firing alert. */
struct json_t *alert_postable_json(const struct alert *a, double now, double ends_in_s);

/* The gpuscope_alert and gpuscope_alert_active_since_seconds families
 * (ALERTS and ALERTS_FOR_STATE with gpuscope's prefix). */
void alert_render_metrics(const struct alert *a, size_t n, struct strbuf *out);

/* RFC 3339 UTC with milliseconds. */
void alert_format_time(double t, char *buf, size_t len);

#endif
