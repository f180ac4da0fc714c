/* deliver.c - the delivery thread: outbox rows to receivers through
 * libcurl, with backoff (the guarantees are in deliver.h and queue.h).
 *
 * One thread serves every receiver in turn; a slow receiver delays the
 * others by at most one request timeout, which is fine for a handful of
 * notifications a minute and keeps the order simple.  The queue's
 * connection is shared with submit() (the evaluation thread) under qlock,
 * so their transactions never interleave.  Errors are logged once per
 * streak (the first failure, then the recovery), never with the URL.
 */
#include "alert/deliver.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert/queue.h"
#include "export/strbuf.h"

#define BACKOFF_MIN_S 1.0
#define TICK_S        0.2

struct receiver {
	struct alert_receiver_config cfg;
	double next_try;     /* wall seconds */
	double backoff;      /* next delay after a failure */
	unsigned streak;     /* consecutive failures */
	double next_refresh; /* Alertmanager: next resend of the firing set */
	/* status, under lock */
	unsigned long delivered, failed, dropped;
	long waiting; /* rows in the outbox, kept here so scrapes never query SQLite */
	char last_error[160];
	double last_success;
};

struct alert_delivery {
	struct alert_delivery_config cfg;
	struct receiver recv[ALERT_RECEIVERS_MAX];
	size_t n;
	struct alert_queue *queue;
	pthread_mutex_t qlock; /* the queue's connection */
	pthread_mutex_t lock;  /* stop, wake and the status fields */
	pthread_cond_t wake;
	bool stop, kicked;
	pthread_t thread;
};

static double now_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

static int abort_on_stop(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t e)
{
	struct alert_delivery *d = ctx;
	pthread_mutex_lock(&d->lock);
	bool stop = d->stop;
	pthread_mutex_unlock(&d->lock);
	return stop ? 1 : 0;
}

enum outcome { SENT, RETRY, REFUSED };

/* POSTs body; the HTTP status or the curl error decides the outcome. */
static enum outcome post(struct alert_delivery *d, const char *url, const char *body, char *why,
                         size_t whylen)
{
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(why, whylen, "out of memory");
		return RETRY;
	}
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "gpuscope/" GPUSCOPE_VERSION);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(d->cfg.timeout_s * 1000));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(d->cfg.timeout_s * 1000));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, abort_on_stop);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, d);
	CURLcode rc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		/* curl_easy_strerror names the failure, never the URL. */
		snprintf(why, whylen, "%s", curl_easy_strerror(rc));
		return RETRY;
	}
	if (status >= 200 && status < 300)
		return SENT;
	snprintf(why, whylen, "HTTP %ld", status);
	return status == 408 || status == 429 || status >= 500 ? RETRY : REFUSED;
}

static char *body_for(struct receiver *r, const struct alert *a, double now, double resend_s)
{
	switch (r->cfg.kind) {
	case ALERT_RECEIVER_ALERTMANAGER:
		return alert_payload_alertmanager(a, 1, now, 4 * resend_s);
	case ALERT_RECEIVER_WEBHOOK:
		return alert_payload_webhook(a, "gpuscope");
	case ALERT_RECEIVER_SLACK:
		return alert_payload_slack(a);
	case ALERT_RECEIVER_PAGERDUTY:
		return alert_payload_pagerduty(a, r->cfg.routing_key ? r->cfg.routing_key : "");
	}
	return NULL;
}

static void note_failure(struct alert_delivery *d, struct receiver *r, const char *why, double now)
{
	pthread_mutex_lock(&d->lock);
	r->failed++;
	snprintf(r->last_error, sizeof(r->last_error), "%s", why);
	pthread_mutex_unlock(&d->lock);
	if (r->streak++ == 0) {
		pthread_mutex_lock(&d->qlock);
		long waiting = alert_queue_pending(d->queue, r->cfg.name);
		pthread_mutex_unlock(&d->qlock);
		fprintf(stderr,
		        "gpuscope: alerts: %s: delivery failed (%s); %ld notification%s kept, "
		        "retrying with backoff\n",
		        r->cfg.name, why, waiting, waiting == 1 ? "" : "s");
	}
	r->next_try = now + r->backoff;
	r->backoff = fmin(r->backoff * 2, d->cfg.backoff_max_s);
}

static void note_success(struct alert_delivery *d, struct receiver *r, double now)
{
	if (r->streak)
		fprintf(stderr,
		        "gpuscope: alerts: %s: delivering again after %u failed attempt%s\n",
		        r->cfg.name, r->streak, r->streak == 1 ? "" : "s");
	r->streak = 0;
	r->backoff = BACKOFF_MIN_S;
	r->next_try = 0;
	pthread_mutex_lock(&d->lock);
	r->last_success = now;
	pthread_mutex_unlock(&d->lock);
}

/* Sends this receiver's backlog until it is empty or a send fails. */
static void drain(struct alert_delivery *d, struct receiver *r)
{
	for (;;) {
		double now = now_wall();
		if (now < r->next_try)
			return;
		pthread_mutex_lock(&d->lock);
		bool stop = d->stop;
		pthread_mutex_unlock(&d->lock);
		if (stop)
			return;
		struct alert_queue_row row;
		pthread_mutex_lock(&d->qlock);
		int got = alert_queue_next(d->queue, r->cfg.name, &row);
		pthread_mutex_unlock(&d->qlock);
		if (got == 0) {
			pthread_mutex_lock(&d->lock);
			r->waiting = 0; /* the count follows the outbox, whatever happened */
			pthread_mutex_unlock(&d->lock);
		}
		if (got <= 0)
			return;
		char *body = body_for(r, &row.alert, now, d->cfg.resend_s);
		char why[160] = "";
		enum outcome o = body ? post(d, r->cfg.url, body, why, sizeof(why)) : RETRY;
		free(body);
		if (o == RETRY) {
			pthread_mutex_lock(&d->qlock);
			alert_queue_failed(d->queue, row.id);
			pthread_mutex_unlock(&d->qlock);
			note_failure(d, r, why[0] ? why : "out of memory", now);
			return;
		}
		pthread_mutex_lock(&d->qlock);
		alert_queue_done(d->queue, row.id);
		pthread_mutex_unlock(&d->qlock);
		pthread_mutex_lock(&d->lock);
		if (r->waiting > 0)
			r->waiting--;
		if (o == SENT)
			r->delivered++;
		else
			r->dropped++;
		pthread_mutex_unlock(&d->lock);
		if (o == REFUSED)
			fprintf(stderr,
			        "gpuscope: alerts: %s refused the %s notification of %s (%s); "
			        "dropped, it would be refused again\n",
			        r->cfg.name,
			        row.alert.state == ALERT_STATE_RESOLVED ? "resolved" : "firing",
			        row.alert.rule, why);
		note_success(d, r, now);
	}
}

/* Alertmanager ends an alert nobody refreshes: resend the firing set. */
static void refresh(struct alert_delivery *d, struct receiver *r)
{
	double now = now_wall();
	if (r->cfg.kind != ALERT_RECEIVER_ALERTMANAGER || now < r->next_refresh ||
	    now < r->next_try)
		return;
	r->next_refresh = now + d->cfg.resend_s;
	struct alert *firing = NULL;
	size_t n = 0;
	pthread_mutex_lock(&d->qlock);
	long waiting = alert_queue_pending(d->queue, r->cfg.name);
	int rc = waiting == 0 ? alert_queue_firing(d->queue, &firing, &n) : -1;
	pthread_mutex_unlock(&d->qlock);
	if (rc == 0 && n) {
		char *body = alert_payload_alertmanager(firing, n, now, 4 * d->cfg.resend_s);
		char why[160] = "";
		if (body && post(d, r->cfg.url, body, why, sizeof(why)) != SENT)
			note_failure(d, r, why, now);
		free(body);
	}
	free(firing);
}

static void *deliver_main(void *arg)
{
	struct alert_delivery *d = arg;
	pthread_setname_np(pthread_self(), "gpuscope-notify");
	for (;;) {
		for (size_t i = 0; i < d->n; i++) {
			drain(d, &d->recv[i]);
			refresh(d, &d->recv[i]);
		}
		pthread_mutex_lock(&d->lock);
		if (!d->kicked && !d->stop) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += (long)(TICK_S * 1e9);
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&d->wake, &d->lock, &until);
		}
		d->kicked = false;
		bool stop = d->stop;
		pthread_mutex_unlock(&d->lock);
		if (stop)
			break;
	}
	return NULL;
}

static void free_secrets(struct alert_delivery *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->recv[i].cfg.url);
		free(d->recv[i].cfg.routing_key);
	}
}

/* Rows owed to receivers that are no longer configured would wait forever. */
static void forget_unknown(struct alert_delivery *d)
{
	const char *names[ALERT_RECEIVERS_MAX];
	for (size_t i = 0; i < d->n; i++)
		names[i] = d->recv[i].cfg.name;
	long gone = alert_queue_forget_except(d->queue, names, d->n);
	if (gone > 0)
		fprintf(stderr,
		        "gpuscope: alerts: dropped %ld queued notification%s for receivers no "
		        "longer configured\n",
		        gone, gone == 1 ? "" : "s");
}

struct alert_delivery *alert_delivery_start(const struct alert_delivery_config *cfg, char *err,
                                            size_t errlen)
{
	struct alert_delivery *d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "alerts: out of memory");
		return NULL;
	}
	d->cfg = *cfg;
	if (!(d->cfg.backoff_max_s >= BACKOFF_MIN_S))
		d->cfg.backoff_max_s = 60;
	if (!(d->cfg.resend_s > 0))
		d->cfg.resend_s = 60;
	if (!(d->cfg.timeout_s > 0))
		d->cfg.timeout_s = 10;
	d->n = cfg->n < ALERT_RECEIVERS_MAX ? cfg->n : ALERT_RECEIVERS_MAX;
	for (size_t i = 0; i < d->n; i++) {
		struct receiver *r = &d->recv[i];
		r->cfg = cfg->receivers[i];
		r->cfg.url = cfg->receivers[i].url ? strdup(cfg->receivers[i].url) : NULL;
		r->cfg.routing_key =
		    cfg->receivers[i].routing_key ? strdup(cfg->receivers[i].routing_key) : NULL;
		r->backoff = BACKOFF_MIN_S;
		/* A restart re-delivers what was queued; the refresh comes later. */
		r->next_refresh = now_wall() + d->cfg.resend_s;
	}
	if (!(d->queue = alert_queue_open(cfg->queue_path, err, errlen)))
		goto err;
	forget_unknown(d);
	for (size_t i = 0; i < d->n; i++) {
		long w = alert_queue_pending(d->queue, d->recv[i].cfg.name);
		d->recv[i].waiting = w > 0 ? w : 0;
	}
	pthread_mutex_init(&d->qlock, NULL);
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->wake, NULL);
	int rc = pthread_create(&d->thread, NULL, deliver_main, d);
	if (rc != 0) {
		snprintf(err, errlen, "alerts: cannot start the delivery thread: %s", strerror(rc));
		alert_queue_close(d->queue);
		goto err;
	}
	return d;
err:
	free_secrets(d);
	free(d);
	return NULL;
}

int alert_delivery_submit(struct alert_delivery *d, const struct alert *events, size_t n,
                          double now, char *err, size_t errlen)
{
	if (!n)
		return 0;
	const char *names[ALERT_RECEIVERS_MAX];
	for (size_t i = 0; i < d->n; i++)
		names[i] = d->recv[i].cfg.name;
	pthread_mutex_lock(&d->qlock);
	int rc = alert_queue_record(d->queue, events, n, names, d->n, now, err, errlen);
	pthread_mutex_unlock(&d->qlock);
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; rc == 0 && i < d->n; i++)
		d->recv[i].waiting += (long)n;
	d->kicked = true;
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

int alert_delivery_firing(struct alert_delivery *d, struct alert **out, size_t *n)
{
	pthread_mutex_lock(&d->qlock);
	int rc = alert_queue_firing(d->queue, out, n);
	pthread_mutex_unlock(&d->qlock);
	return rc;
}

json_t *alert_delivery_status_json(struct alert_delivery *d)
{
	json_t *arr = json_array();
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->n; i++) {
		const struct receiver *r = &d->recv[i];
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(r->cfg.name));
		json_object_set_new(o, "kind", json_string(alert_receiver_kind_name(r->cfg.kind)));
		json_object_set_new(o, "waiting", json_integer(r->waiting));
		json_object_set_new(o, "delivered", json_integer((json_int_t)r->delivered));
		json_object_set_new(o, "failed_attempts", json_integer((json_int_t)r->failed));
		json_object_set_new(o, "dropped", json_integer((json_int_t)r->dropped));
		json_object_set_new(o, "last_error",
		                    r->last_error[0] ? json_string(r->last_error) : json_null());
		if (r->last_success > 0) {
			char t[40];
			alert_format_time(r->last_success, t, sizeof(t));
			json_object_set_new(o, "last_success", json_string(t));
		} else {
			json_object_set_new(o, "last_success", json_null());
		}
		json_array_append_new(arr, o);
	}
	pthread_mutex_unlock(&d->lock);
	return arr;
}

void alert_delivery_render_metrics(struct alert_delivery *d, bool openmetrics, struct strbuf *out)
{
	static const char *const results[] = {"delivered", "failed", "dropped"};
	sb_printf(out,
	          "# HELP gpuscope_alert_notifications_total Alert notifications by receiver and "
	          "result: delivered (2xx), failed (an attempt, retried later), dropped (refused "
	          "for good).\n# TYPE %s counter\n",
	          openmetrics ? "gpuscope_alert_notifications"
	                      : "gpuscope_alert_notifications_total");
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->n; i++) {
		const struct receiver *r = &d->recv[i];
		unsigned long v[] = {r->delivered, r->failed, r->dropped};
		for (size_t k = 0; k < 3; k++)
			sb_printf(
			    out,
			    "gpuscope_alert_notifications_total{receiver=\"%s\",result=\"%s\"} "
			    "%lu\n",
			    r->cfg.name, results[k], v[k]);
	}
	sb_puts(out, "# HELP gpuscope_alert_notifications_waiting Alert notifications in the "
	             "outbox, not yet taken by their receiver.\n"
	             "# TYPE gpuscope_alert_notifications_waiting gauge\n");
	for (size_t i = 0; i < d->n; i++)
		sb_printf(out, "gpuscope_alert_notifications_waiting{receiver=\"%s\"} %ld\n",
		          d->recv[i].cfg.name, d->recv[i].waiting);
	pthread_mutex_unlock(&d->lock);
}

void alert_delivery_stop(struct alert_delivery *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	d->stop = true;
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	alert_queue_close(d->queue);
	pthread_cond_destroy(&d->wake);
	pthread_mutex_destroy(&d->lock);
	pthread_mutex_destroy(&d->qlock);
	free_secrets(d);
	free(d);
}
