/* live_diagnosis.c - verdicts over the agent's recent history, off the
 * request path.
 *
 * The thread wakes every LIVE_PERIOD_S, opens the history read-only (a
 * reader never blocks the recorder: WAL), loads the window, runs the engine
 * and swaps in the new JSON text and verdict list under a short lock.  The
 * store is closed between runs so a file replaced by an operator is picked
 * up, and an open costs well under a millisecond (readers skip the verify).
 */
#include "report/live_diagnosis.h"

#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report/report.h"
#include "series/now.h"
#include "series/window.h"

#define LIVE_PERIOD_S 30
#define LIVE_FIRST_S  5  /* first look, and again while there is too little to judge */
#define LIVE_MIN_S    10 /* seconds of history before the engine runs at all */

struct live_diagnosis {
	struct board *board;
	char *history;
	double window_s;
	bool simulated;            /* the board reads the simulator */
	struct analyze_config cfg; /* the thresholds (a copy; its strings are static); guarded
	                            * by lock, copied by each run */
	pthread_t thread;
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t wake;
	bool stop;
	bool poked; /* run now (new thresholds) */
	char *json; /* NULL before the first run */
	struct live_verdict *verdicts;
	size_t nverdicts;
	live_comm_source comms; /* NULL: none */
	void *comms_arg;
};

#define LIVE_COMMS_MAX 32

/* {"schema", "status": why, "window_s"}: the document when nothing was judged. */
static char *not_judged_doc(const char *why, double window_s, bool simulated)
{
	json_t *o = json_object();
	json_object_set_new(o, "schema", json_string("gpuscope.diagnosis/v1"));
	json_object_set_new(o, "simulated", json_boolean(simulated));
	json_object_set_new(o, "status", json_string(why));
	json_object_set_new(o, "window_s", json_real(window_s));
	json_object_set_new(o, "verdicts", json_array());
	char *text = json_dumps(o, JSON_INDENT(1) | JSON_ENSURE_ASCII);
	json_decref(o);
	return text;
}

/* Keeps one series per (GPU, verdict id): the most severe. */
static size_t collect_verdicts(const struct analyze_result *r, struct live_verdict *out)
{
	size_t n = 0;
	for (size_t i = 0; i < r->nverdicts; i++) {
		const struct analyze_verdict *v = &r->verdicts[i];
		if (v->about.gpu_index < 0)
			continue; /* group verdicts have no one GPU; see the JSON */
		size_t k = 0;
		while (k < n &&
		       !(out[k].gpu == v->about.gpu_index && strcmp(out[k].id, v->id) == 0))
			k++;
		if (k < n) {
			const char *sev = analyze_severity_name(v->severity);
			if (strcmp(out[k].severity, "critical") != 0 &&
			    (strcmp(sev, "critical") == 0 || strcmp(sev, "warning") == 0))
				out[k].severity = sev;
			continue;
		}
		out[n].gpu = v->about.gpu_index;
		snprintf(out[n].uuid, sizeof(out[n].uuid), "%s", v->about.uuid);
		out[n].id = v->id;
		out[n].severity = analyze_severity_name(v->severity);
		n++;
	}
	return n;
}

/* Seconds of the window in which the first GPU has any value. */
static size_t covered_seconds(const struct report_data *d)
{
	size_t covered = 0;
	for (size_t i = 0; d->ngpus && i < d->n; i++)
		for (size_t k = 0; k < report_nsources; k++)
			if (d->gpus[0].raw[k] && !isnan(d->gpus[0].raw[k][i])) {
				covered++;
				break;
			}
	return (size_t)((double)covered * d->step);
}

/* One run: the JSON text (never NULL unless out of memory) and verdicts;
 * *judged is true when the engine ran. */
static char *judge(struct live_diagnosis *d, struct live_verdict **verdicts, size_t *nverdicts,
                   bool *judged)
{
	*verdicts = NULL;
	*nverdicts = 0;
	*judged = false;
	if (!d->history)
		return not_judged_doc("not judged: no history (started with --no-history)",
		                      d->window_s, d->simulated);
	char err[1024], why[1200];
	struct store_options o;
	store_options_default(&o);
	o.read_only = true;
	struct store *s;
	if (store_open(d->history, &o, &s, err, sizeof(err)) != STORE_OK) {
		snprintf(why, sizeof(why), "not judged: no history yet (%s)", err);
		return not_judged_doc(why, d->window_s, d->simulated);
	}
	/* The last window_s settled seconds (report/window.h): a length alone cannot fail. */
	struct report_window_ask ask = {.since = d->window_s};
	int64_t from, to;
	report_window_resolve(&ask, (int64_t)floor(wall_now()) - WINDOW_SETTLE_S, &from, &to, err,
	                      sizeof(err));
	struct report_data data;
	bool empty = false;
	char *text = NULL;
	if (report_load_store(s, d->history, from, to, &data, &empty, err, sizeof(err)) != 0) {
		store_close(s);
		snprintf(why, sizeof(why), "not judged: %s",
		         empty ? "no history in the window yet" : err);
		return not_judged_doc(why, d->window_s, d->simulated);
	}
	store_close(s);
	/* The agent just started: look again in LIVE_FIRST_S, without running the
	 * engine, so it runs at most once per LIVE_PERIOD_S. */
	size_t covered = covered_seconds(&data);
	if (covered < LIVE_MIN_S) {
		report_data_free(&data);
		snprintf(why, sizeof(why), "not judged yet: %zu s of history, needs %d", covered,
		         LIVE_MIN_S);
		return not_judged_doc(why, d->window_s, d->simulated);
	}
	*judged = true;
	struct analyze_result *r = NULL;
	pthread_mutex_lock(&d->lock);
	struct analyze_config cfg = d->cfg;
	live_comm_source comms = d->comms;
	void *comms_arg = d->comms_arg;
	pthread_mutex_unlock(&d->lock);
	/* NCCL figures are live only (not in history): what each process did since the last
	 * run, judged beside the history window. */
	struct analyze_comm_series cs[LIVE_COMMS_MAX];
	if (comms) {
		data.input.comms = cs;
		data.input.ncomms = comms(comms_arg, cs, LIVE_COMMS_MAX);
	}
	if (analyze_run(&data.input, &cfg, &r) != 0) {
		report_data_free(&data);
		return not_judged_doc("not judged: the diagnosis engine failed (out of memory?)",
		                      d->window_s, d->simulated);
	}
	json_t *doc = report_json(&data, r);
	if (doc) {
		json_object_set_new(doc, "status", json_string("ok"));
		json_object_set_new(doc, "simulated", json_boolean(d->simulated || data.simulated));
		json_object_set_new(doc, "window_s", json_real(d->window_s));
		text =
		    json_dumps(doc, JSON_INDENT(1) | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(10));
		json_decref(doc);
	}
	*verdicts = calloc(r->nverdicts ? r->nverdicts : 1, sizeof(**verdicts));
	if (*verdicts)
		*nverdicts = collect_verdicts(r, *verdicts);
	analyze_result_free(r);
	report_data_free(&data);
	return text;
}

static void *live_main(void *arg)
{
	struct live_diagnosis *d = arg;
	pthread_setname_np(pthread_self(), "gpuscope-diag");
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += d->history ? LIVE_FIRST_S : 0;
	for (;;) {
		pthread_mutex_lock(&d->lock);
		while (!d->stop && !d->poked &&
		       pthread_cond_timedwait(&d->wake, &d->lock, &until) != ETIMEDOUT)
			;
		d->poked = false;
		bool stop = d->stop;
		pthread_mutex_unlock(&d->lock);
		if (stop)
			break;
		struct live_verdict *v;
		size_t nv;
		bool judged;
		char *json = judge(d, &v, &nv, &judged);
		pthread_mutex_lock(&d->lock);
		if (json) {
			free(d->json);
			d->json = json;
			free(d->verdicts);
			d->verdicts = v;
			d->nverdicts = nv;
		} else {
			free(v);
		}
		pthread_mutex_unlock(&d->lock);
		if (judged)
			/* A judge reads the window's history into a few MB and frees them; the
			 * agent keeps freed memory mapped for the scrape path (cmd/serve.c), so
			 * give those pages back now rather than at its next minute. */
			malloc_trim(0);
		clock_gettime(CLOCK_REALTIME, &until);
		/* The engine runs at most every LIVE_PERIOD_S; until there is history
		 * enough to judge, look again sooner. */
		until.tv_sec += judged || !d->history ? LIVE_PERIOD_S : LIVE_FIRST_S;
	}
	return NULL;
}

struct live_diagnosis *live_diagnosis_start(struct board *b, const char *history, double window_s,
                                            const struct analyze_config *cfg, char *err,
                                            size_t errlen)
{
	struct live_diagnosis *d = calloc(1, sizeof(*d));
	if (!d)
		goto oom;
	if (cfg)
		d->cfg = *cfg;
	else
		analyze_config_default(&d->cfg);
	d->board = b;
	d->window_s = window_s;
	d->simulated = b->info.scenario[0] != 0;
	if (history && !(d->history = strdup(history)))
		goto oom;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->wake, NULL);
	int rc = pthread_create(&d->thread, NULL, live_main, d);
	if (rc != 0) {
		snprintf(err, errlen, "diagnosis: cannot start its thread: %s", strerror(rc));
		pthread_cond_destroy(&d->wake);
		pthread_mutex_destroy(&d->lock);
		free(d->history);
		free(d);
		return NULL;
	}
	return d;
oom:
	snprintf(err, errlen, "diagnosis: out of memory");
	free(d);
	return NULL;
}

void live_diagnosis_stop(struct live_diagnosis *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	d->stop = true;
	pthread_cond_broadcast(&d->wake);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	pthread_cond_destroy(&d->wake);
	pthread_mutex_destroy(&d->lock);
	free(d->json);
	free(d->verdicts);
	free(d->history);
	free(d);
}

char *live_diagnosis_json(struct live_diagnosis *d, unsigned *status)
{
	pthread_mutex_lock(&d->lock);
	char *out = d->json ? strdup(d->json) : NULL;
	pthread_mutex_unlock(&d->lock);
	*status = 200;
	if (out)
		return out;
	*status = 503;
	return not_judged_doc("not judged yet: the first diagnosis runs a few seconds after start",
	                      d->window_s, d->simulated);
}

void live_diagnosis_metrics(struct live_diagnosis *d, const struct prom_options *o,
                            struct strbuf *out)
{
	pthread_mutex_lock(&d->lock);
	size_t n = d->nverdicts;
	struct prom_verdict *pv = n ? malloc(n * sizeof(*pv)) : NULL;
	if (!pv)
		n = 0;
	for (size_t i = 0; i < n; i++)
		pv[i] = (struct prom_verdict){.gpu = d->verdicts[i].gpu,
		                              .uuid = d->verdicts[i].uuid,
		                              .verdict = d->verdicts[i].id,
		                              .severity = d->verdicts[i].severity};
	/* Rendered under the lock: the strings belong to the cached list. */
	prom_render_verdicts(pv, n, o, out);
	pthread_mutex_unlock(&d->lock);
	free(pv);
}

void live_diagnosis_set_config(struct live_diagnosis *d, const struct analyze_config *cfg)
{
	pthread_mutex_lock(&d->lock);
	d->cfg = *cfg;
	d->poked = true; /* judge again now, with the new thresholds */
	pthread_cond_broadcast(&d->wake);
	pthread_mutex_unlock(&d->lock);
}

void live_diagnosis_set_comms(struct live_diagnosis *d, live_comm_source fn, void *arg)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	d->comms = fn;
	d->comms_arg = arg;
	pthread_mutex_unlock(&d->lock);
}

struct live_verdict *live_diagnosis_verdicts(struct live_diagnosis *d, size_t *n)
{
	pthread_mutex_lock(&d->lock);
	struct live_verdict *out = NULL;
	*n = 0;
	if (d->nverdicts && (out = malloc(d->nverdicts * sizeof(*out)))) {
		memcpy(out, d->verdicts, d->nverdicts * sizeof(*out));
		*n = d->nverdicts;
	}
	pthread_mutex_unlock(&d->lock);
	return out;
}
