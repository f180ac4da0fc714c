/* fetch.c - reading servers' /metrics with libcurl: a size cap, a timeout, every target at
 * once through one multi handle (servers.h says why), each reading stamped when its
 * response ended. */
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "series/snapshot.h"
#include "servers/internal.h"

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct fetch_buf *b = ctx;
	size_t len = size * n;
	if (b->len + len > b->max) {
		b->over = true;
		return 0; /* libcurl stops with CURLE_WRITE_ERROR */
	}
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64 * 1024;
		while (cap < b->len + len + 1)
			cap *= 2;
		char *nb = realloc(b->data, cap);
		if (!nb)
			return 0;
		b->data = nb;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = 0;
	return len;
}

/* Sets c up to GET url into b. */
static void fetch_setup(CURL *c, const char *url, double timeout_s, struct fetch_buf *b, size_t max)
{
	b->len = 0;
	b->over = false;
	b->max = max;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout_s * 1000));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_s * 1000));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "gpuscope/" GPUSCOPE_VERSION);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
}

/* 0 when the transfer gave a 200 body, else -1 with why filled. */
static int fetch_result(CURL *c, CURLcode rc, const struct fetch_buf *b, char *why, size_t whylen)
{
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK) {
		if (b->over)
			snprintf(why, whylen, "response larger than %zu bytes: not read", b->max);
		else
			snprintf(why, whylen, "%s", curl_easy_strerror(rc));
		return -1;
	}
	if (status != 200) {
		snprintf(why, whylen, "HTTP status %ld", status);
		return -1;
	}
	return 0;
}

/* One GET, waiting for it (discovery's probes). */
int servers_fetch(struct servers *s, CURL *c, const char *url, double timeout_s, char *why,
                  size_t whylen)
{
	fetch_setup(c, url, timeout_s, &s->probe, s->cfg.max_body);
	return fetch_result(c, curl_easy_perform(c), &s->probe, why, whylen);
}

/* The target's transfer ended with rc at now: parse it; true when a reading was added. */
static bool take_reading(struct target *t, CURLcode rc, double now)
{
	char why[200];
	t->last_try = now;
	struct server_reading *r = malloc(sizeof(*r));
	const char *bad = NULL;
	if (!r) {
		snprintf(t->error, sizeof(t->error), "out of memory");
	} else if (fetch_result(t->curl, rc, &t->buf, why, sizeof(why)) != 0) {
		snprintf(t->error, sizeof(t->error), "%s", why);
	} else if (server_reading_parse(t->buf.data, t->buf.len, r, &bad) != 0) {
		snprintf(t->error, sizeof(t->error), "%s (%zu bytes)", bad, t->buf.len);
	} else {
		if (t->kind != SERVER_UNKNOWN && t->kind != r->kind)
			t->n = 0; /* another server on the port: start over */
		t->kind = r->kind;
		t->up = true;
		t->last_ok = now;
		t->error[0] = 0;
		if (t->n == t->cap) {
			t->head = (t->head + 1) % t->cap;
			t->n--;
		}
		struct slot *sl = &t->ring[(t->head + t->n) % t->cap];
		free(sl->r);
		*sl = (struct slot){now, r, t->acc};
		t->n++;
		return true;
	}
	free(r);
	t->up = false;
	t->failures++;
	return false;
}

/* Reads every target at once (one libcurl multi handle), so a server that hangs costs its
 * own timeout and delays nobody's reading; each reading is stamped when its response
 * ended.  added[k] says whether target k got a new reading. */
void servers_read_targets(struct servers *s, bool *added)
{
	if (s->ntargets == 0)
		return; /* nor load libcurl (http/libcurl.c) */
	CURLM *m = curl_multi_init();
	CURLcode rc[SERVERS_MAX];
	double done[SERVERS_MAX];
	for (unsigned k = 0; k < s->ntargets; k++) {
		struct target *t = &s->targets[k];
		/* within the poll period, so a hung server never stretches the cadence */
		double timeout = fmin(s->cfg.timeout_s, s->cfg.poll_s * 0.8);
		fetch_setup(t->curl, t->url, timeout, &t->buf, s->cfg.max_body);
		rc[k] = CURLE_FAILED_INIT;
		done[k] = 0;
		if (m)
			curl_multi_add_handle(m, t->curl);
	}
	int running = m ? 1 : 0;
	while (running) {
		if (curl_multi_perform(m, &running) != CURLM_OK)
			break;
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left)) != NULL)
			for (unsigned k = 0; k < s->ntargets; k++)
				if (msg->msg == CURLMSG_DONE &&
				    msg->easy_handle == s->targets[k].curl) {
					rc[k] = msg->data.result;
					done[k] = mono_now();
				}
		if (running)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	for (unsigned k = 0; k < s->ntargets; k++) {
		if (m)
			curl_multi_remove_handle(m, s->targets[k].curl);
		added[k] = take_reading(&s->targets[k], rc[k], done[k] > 0 ? done[k] : mono_now());
	}
	if (m)
		curl_multi_cleanup(m);
}
