/* remote.c - read a remote agent's JSON API with libcurl (see remote.h).
 *
 * One easy handle is kept for the session, so the connection is reused between
 * refreshes.  Bodies are capped at 16 MiB: a document larger than that is not an
 * agent's answer.
 */
#include "tui/remote.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "series/snapshot.h"

#define BODY_MAX (16u << 20)

struct top_remote {
	CURL *curl;
	char base[512];
	long timeout_ms;
	char *body;
	size_t len, cap;
	bool too_big;
	double inference_at; /* wall seconds of the last /api/v1/inference read */
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct top_remote *r = ctx;
	size_t n = size * nmemb;
	if (r->len + n + 1 > BODY_MAX) {
		r->too_big = true;
		return 0;
	}
	if (r->len + n + 1 > r->cap) {
		size_t cap = (r->len + n + 1) * 2;
		char *p = realloc(r->body, cap);
		if (!p)
			return 0;
		r->body = p;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	r->body[r->len] = 0;
	return n;
}

struct top_remote *top_remote_new(const char *url, double timeout_s, char *err, size_t errlen)
{
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		snprintf(err, errlen, "--url '%s': give http://HOST:PORT, e.g. http://node:9400",
		         url);
		return NULL;
	}
	struct top_remote *r = calloc(1, sizeof(*r));
	if (!r || !(r->curl = curl_easy_init())) {
		free(r);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(r->base, sizeof(r->base), "%s", url);
	size_t n = strlen(r->base);
	while (n > 0 && r->base[n - 1] == '/')
		r->base[--n] = 0;
	r->timeout_ms = (long)(timeout_s * 1000);
	return r;
}

void top_remote_free(struct top_remote *r)
{
	if (!r)
		return;
	curl_easy_cleanup(r->curl);
	free(r->body);
	free(r);
}

/* GETs base+path into r->body; 0, or -1 with why in err. */
static int get(struct top_remote *r, const char *path, char *err, size_t errlen)
{
	char url[640];
	snprintf(url, sizeof(url), "%s%s", r->base, path);
	r->len = 0;
	r->too_big = false;
	CURL *c = r->curl;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, r->timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "gpuscope-top/" GPUSCOPE_VERSION);
	CURLcode rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "agent %.120s unreachable: %.100s", r->base,
		         r->too_big ? "answer larger than 16 MiB" : curl_easy_strerror(rc));
		return -1;
	}
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	/* The diagnosis answers 503 before its first result, with a JSON body saying so. */
	if (status != 200 && !(status == 503 && strcmp(path, "/api/v1/diagnosis") == 0)) {
		snprintf(err, errlen, "agent %.120s: GET %.40s answered HTTP %ld", r->base, path,
		         status);
		return -1;
	}
	if (!r->body) {
		r->body = calloc(1, 1);
		if (!r->body) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

int top_remote_fetch(struct top_remote *r, struct top_model *m)
{
	char err[256];
	if (get(r, "/api/v1/gpus", err, sizeof(err)) != 0 ||
	    top_model_parse_gpus(m, r->body, r->len, err, sizeof(err)) != 0)
		goto fail;
	/* Processes and verdicts are extras: an old agent without them still shows GPUs. */
	if (get(r, "/api/v1/processes", err, sizeof(err)) == 0)
		top_model_parse_processes(m, r->body, r->len, err, sizeof(err));
	if (get(r, "/api/v1/diagnosis", err, sizeof(err)) == 0)
		top_model_parse_diagnosis(m, r->body, r->len, err, sizeof(err));
	else
		snprintf(m->diagnosis_state, sizeof(m->diagnosis_state), "verdicts: %.110s", err);
	/* Inferences come from the agent's history: every 5 s is enough, and an agent
	 * without history (503) or without the endpoint (404) shows none. */
	if (wall_now() - r->inference_at >= 5) {
		r->inference_at = wall_now();
		if (get(r, "/api/v1/inference?range=15m", err, sizeof(err)) != 0 ||
		    top_model_parse_inference(m, r->body, r->len, err, sizeof(err)) != 0)
			m->n_inferences = 0;
	}
	m->error[0] = 0;
	m->updated = wall_now();
	return 0;
fail:
	snprintf(m->error, sizeof(m->error), "%s", err);
	return -1;
}
