/* server.c - routes, scrape windows, and the renderers of the /metrics cache.
 *
 * /metrics is served from memory (metrics_cache.h): every current value is
 * rendered at most once per fast tick per format (text or OpenMetrics) and
 * compressed at most once when some scraper wants gzip; each scraper's window
 * families (max and mean since its previous scrape, see scrape_clients.h) are
 * their own cached part, and the families other rooms add the last.  A body's
 * parts are joined once and sent as one shared response (struct shared_metrics).
 * The server listens before the GPUs are known (http_attach hands the board
 * over) so the port answers at once.  Nothing here calls NVML: rendering reads a
 * snapshot, windows read the rings under each GPU's short lock.
 */
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "export/json.h"
#include "export/proc_json.h"
#include "export/prom.h"
#include "export/collectors.h"
#include "http/accept.h"
#include "http/auth.h"
#include "http/engine.h"
#include "http/dashboard.h"
#include "http/index_page.h"
#include "http/metrics_cache.h"
#include "http/scrape_clients.h"
#include "http/tlscert.h"
#include "web/assets.h"

/* A joined /metrics body in a mapping of its own, shared by every scrape that gets the same
 * parts (by id) and unmapped when the last response holding it is sent: one copy per tick
 * whatever the scrapers, and a tick's few hundred KB do not stay behind in malloc's
 * arenas.  The slot holds one reference; each response being sent holds one. */
struct joined_body {
	atomic_uint refs;
	size_t maplen, len;
	char bytes[];
};

struct shared_metrics {
	pthread_mutex_t lock;
	uint64_t id[3];
	struct joined_body *j; /* NULL until the first scrape */
};

struct http_server {
	struct http_engine *engine;
	/* The GPUs' board: `empty` (no GPU) until http_attach hands the real one over. */
	_Atomic(struct board *) board;
	struct board empty;
	atomic_bool attached;
	/* What other rooms add, set once by http_set_hooks (NULL until then). */
	_Atomic(const struct http_extras *) extras, alerting;
	_Atomic(const struct http_server_hooks *) servers;
	struct http_config cfg;
	pthread_mutex_t lock;
	struct metrics_cache *cache; /* /metrics parts (metrics_cache.h) */
	struct scrape_clients clients;
	_Atomic(struct http_auth *) auth;  /* NULL: no client certificate or password asked */
	struct http_auth *retired_auth[8]; /* replaced by SIGHUP; freed at stop */
	unsigned nretired;
	struct prom_dcgm dcgm; /* under lock: the look of DCGM series (has_dcgm) */
	bool has_dcgm;
	struct collectors *owned_coll; /* under lock: a reload's collectors, ours to free */
	unsigned port;
	struct shared_metrics shared[2][2]; /* [om][gz] */
};

static struct board *board_of(struct http_server *h)
{
	return atomic_load(&h->board);
}

/* Each hook pointer goes from NULL to its value once (http_set_hooks), never back. */
static const struct http_extras *extras_of(struct http_server *h)
{
	return atomic_load(&h->extras);
}

static const struct http_extras *alerting_of(struct http_server *h)
{
	return atomic_load(&h->alerting);
}

static const struct http_server_hooks *servers_of(struct http_server *h)
{
	return atomic_load(&h->servers);
}

/* The exposition's options now (SIGHUP may change them; the collectors they point to
 * stay until the cache was cleared, see http_set_exposition). */
static void exposition_options(struct http_server *h, bool om, struct prom_options *o,
                               struct prom_dcgm *dcgm)
{
	pthread_mutex_lock(&h->lock);
	*dcgm = h->dcgm;
	*o = (struct prom_options){.names = h->cfg.names,
	                           .openmetrics = om,
	                           .process_cap = h->cfg.process_cap,
	                           .dcgm = h->has_dcgm ? dcgm : NULL};
	pthread_mutex_unlock(&h->lock);
}

/* The cache's renderers (metrics_cache.h).  Values: every current value. */
static void render_values(void *ctx, bool om, struct strbuf *out, uint64_t *generation)
{
	struct http_server *h = ctx;
	struct board_snapshot snap;
	if (board_snapshot(board_of(h), &snap) != 0) {
		out->oom = true;
		return;
	}
	struct prom_options o;
	struct prom_dcgm dcgm;
	exposition_options(h, om, &o, &dcgm);
	prom_render_body(&snap, &o, out);
	*generation = snap.generation;
	board_snapshot_free(&snap);
}

/* One scraper's window families, [from, to] from the per-second rings. */
static void render_window(void *ctx, bool om, int64_t from, int64_t to, struct strbuf *out)
{
	struct http_server *h = ctx;
	struct board *b = board_of(h);
	struct board_snapshot snap;
	if (board_snapshot(b, &snap) != 0) {
		out->oom = true;
		return;
	}
	struct prom_options o;
	struct prom_dcgm dcgm;
	exposition_options(h, om, &o, &dcgm);
	struct window_agg(*agg)[METRIC_COUNT] = calloc(snap.count ? snap.count : 1, sizeof(*agg));
	if (agg) {
		for (unsigned i = 0; i < snap.count; i++)
			board_window(b, i, from, to, agg[i]);
		prom_render_windows(&snap, &o, (const struct window_agg(*)[METRIC_COUNT])agg,
		                    (double)(to - from + 1), out);
		free(agg);
	} else {
		out->oom = true;
	}
	board_snapshot_free(&snap);
}

/* Families other rooms keep (verdicts, alerts, servers), then the end marker. */
static void render_tail(void *ctx, bool om, struct strbuf *out)
{
	struct http_server *h = ctx;
	struct prom_options o;
	struct prom_dcgm dcgm;
	exposition_options(h, om, &o, &dcgm);
	o.dcgm = NULL; /* DCGM series are all in the values part; these are native */
	const struct http_extras *x = atomic_load(&h->extras), *a = atomic_load(&h->alerting);
	const struct http_server_hooks *sv = atomic_load(&h->servers);
	if (x && x->metrics)
		x->metrics(x->ctx, &o, out);
	if (a && a->metrics)
		a->metrics(a->ctx, &o, out);
	if (sv && sv->metrics)
		sv->metrics(sv->ctx, &o, out);
	prom_finish(&o, out);
}

/* The client's identity for its scrape window: address and User-Agent. */
static void client_key(const struct http_request *rq, char *key, size_t len)
{
	char host[64] = "?";
	const struct sockaddr_storage *sa = rq->peer;
	if (sa->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof(host));
	else if (sa->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host,
		          sizeof(host));
	const char *ua = wire_header(rq->head, "User-Agent");
	snprintf(key, len, "%s|%.100s", host, ua ? ua : "");
}

/* A copy of text as the body (the text may be the caller's stack). */
static void send_text(struct http_response *out, unsigned status, const char *type,
                      const char *text)
{
	char *copy = strdup(text);
	if (!copy) {
		static const char oom[] = "out of memory\n";
		http_response_set(out, 503, "text/plain; charset=utf-8", oom, sizeof(oom) - 1, NULL,
		                  NULL);
		return;
	}
	http_response_set(out, status, type, copy, strlen(copy), free, copy);
}

/* json is malloc'd and becomes the body (NULL: out of memory). */
static void send_json(struct http_response *out, unsigned status, char *json)
{
	if (!json) {
		send_text(out, 500, "text/plain; charset=utf-8", "out of memory\n");
		return;
	}
	http_response_set(out, status, "application/json", json, strlen(json), free, json);
	http_response_field(out, "Cache-Control", "no-store");
}

static void metrics_unavailable(struct http_response *out)
{
	send_text(out, 503, "text/plain; charset=utf-8", "metrics unavailable (out of memory)\n");
}

static void joined_unref(void *cls)
{
	struct joined_body *j = cls;
	if (atomic_fetch_sub(&j->refs, 1) == 1)
		munmap(j, j->maplen);
}

/* b's bytes in one piece, with one reference (the slot's). */
static struct joined_body *joined_new(const struct metrics_response *b)
{
	size_t maplen = sizeof(struct joined_body) + b->len;
	struct joined_body *j =
	    mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (j == MAP_FAILED)
		return NULL;
	atomic_init(&j->refs, 1);
	j->maplen = maplen;
	j->len = b->len;
	size_t at = 0;
	for (unsigned i = 0; i < b->niov; i++) {
		memcpy(j->bytes + at, b->iov[i].base, b->iov[i].len);
		at += b->iov[i].len;
	}
	return j;
}

/* Answers with b's bytes from s, replacing s's body when b's parts are not its; frees b. */
static void queue_shared(struct http_response *out, struct shared_metrics *s,
                         struct metrics_response *b, bool om, bool gz)
{
	pthread_mutex_lock(&s->lock);
	if (!s->j || memcmp(s->id, b->id, sizeof(s->id)) != 0) {
		struct joined_body *j = joined_new(b);
		if (!j) {
			pthread_mutex_unlock(&s->lock);
			metrics_response_free(b);
			metrics_unavailable(out);
			return;
		}
		if (s->j)
			joined_unref(s->j); /* unmapped when the last response holding it is sent */
		s->j = j;
		memcpy(s->id, b->id, sizeof(s->id));
	}
	struct joined_body *j = s->j;
	atomic_fetch_add(&j->refs, 1); /* under the lock: s->j cannot be dropped before */
	pthread_mutex_unlock(&s->lock);
	metrics_response_free(b);
	http_response_set(out, 200, om ? PROM_CONTENT_TYPE_OPENMETRICS : PROM_CONTENT_TYPE_TEXT,
	                  j->bytes, j->len, joined_unref, j);
	http_response_field(out, "Vary", "Accept, Accept-Encoding");
	if (gz)
		http_response_field(out, "Content-Encoding", "gzip");
}

static void shared_init(struct http_server *h)
{
	for (int om = 0; om < 2; om++)
		for (int gz = 0; gz < 2; gz++)
			pthread_mutex_init(&h->shared[om][gz].lock, NULL);
}

/* After the engine stopped (or before it started): no response takes a body any more. */
static void shared_free(struct http_server *h)
{
	for (int om = 0; om < 2; om++)
		for (int gz = 0; gz < 2; gz++) {
			struct shared_metrics *s = &h->shared[om][gz];
			if (s->j)
				joined_unref(s->j);
			pthread_mutex_destroy(&s->lock);
		}
}

static void serve_metrics(struct http_server *h, const struct http_request *rq,
                          struct http_response *out)
{
	const char *accept = wire_header(rq->head, "Accept");
	const char *enc = wire_header(rq->head, "Accept-Encoding");
	struct metrics_request q = {.om =
	                                http_header_allows(accept, "application/openmetrics-text"),
	                            .gz = http_header_allows(enc, "gzip"),
	                            .generation = board_generation(board_of(h)),
	                            .now = mono_now()};
	pthread_mutex_lock(&h->lock);
	q.window = (h->cfg.names & NAMES_NATIVE) != 0; /* SIGHUP may change it */
	pthread_mutex_unlock(&h->lock);
	if (q.window) {
		char key[SCRAPE_KEY_LEN];
		client_key(rq, key, sizeof(key));
		int64_t newest = (int64_t)wall_now() - WINDOW_SETTLE_S;
		scrape_clients_window(&h->clients, key, newest, WINDOW_SECONDS, q.now, &q.from,
		                      &q.to);
	}
	struct metrics_response *b = metrics_cache_get(h->cache, &q);
	if (!b) {
		metrics_unavailable(out);
		return;
	}
	queue_shared(out, &h->shared[q.om][q.gz], b, q.om, q.gz);
}

static void serve_snapshot_json(struct http_server *h, struct http_response *out, bool health)
{
	if (health && !atomic_load(&h->attached)) {
		send_json(
		    out, 503,
		    strdup("{\"status\": \"starting\", \"nvml\": \"loading\", \"gpus\": []}\n"));
		return;
	}
	struct board_snapshot snap;
	if (board_snapshot(board_of(h), &snap) != 0) {
		send_text(out, 503, "text/plain; charset=utf-8", "out of memory\n");
		return;
	}
	bool healthy = true;
	char *json = health ? json_health(&snap, &healthy) : json_gpus(&snap);
	board_snapshot_free(&snap);
	if (health && json && extras_of(h) && extras_of(h)->health_history) {
		char *history = extras_of(h)->health_history(extras_of(h)->ctx);
		json = json_with_field(json, "history", history);
		free(history);
	}
	if (health && json) {
		struct http_stats st;
		http_engine_stats(h->engine, &st);
		char text[160];
		snprintf(text, sizeof(text),
		         "{\"open_connections\": %u, \"refused\": %llu, \"cut\": %llu, "
		         "\"uri_too_long\": %llu}",
		         st.open, st.refused, st.cut, st.uri_too_long);
		json = json_with_field(json, "http", text);
	}
	if (health && json && servers_of(h) && servers_of(h)->health) {
		char *servers = servers_of(h)->health(servers_of(h)->ctx);
		json = json_with_field(json, "inference_servers", servers);
		free(servers);
	}
	send_json(out, healthy ? 200 : 503, json);
}

/* /api/v1/processes and /api/v1/workloads: from the snapshot's process tables. */
static void serve_processes_json(struct http_server *h, struct http_response *out, bool workloads)
{
	struct board_snapshot snap;
	if (board_snapshot(board_of(h), &snap) != 0) {
		send_text(out, 503, "text/plain; charset=utf-8", "out of memory\n");
		return;
	}
	char *json = workloads ? proc_json_workloads(&snap) : proc_json_processes(&snap);
	board_snapshot_free(&snap);
	send_json(out, 200, json);
}

/* Verdicts computed elsewhere (a background thread) and cached there. */
static void serve_diagnosis(struct http_server *h, struct http_response *out)
{
	if (!extras_of(h) || !extras_of(h)->diagnosis) {
		send_json(out, 200,
		          strdup("{\"schema\": \"gpuscope.diagnosis/v1\", \"status\": "
		                 "\"not judged: no history\"}\n"));
		return;
	}
	unsigned status = 200;
	char *json = extras_of(h)->diagnosis(extras_of(h)->ctx, &status);
	send_json(out, status, json);
}

/* /api/v1/servers and /api/v1/advice: documents the inference-server reader rendered. */
static void serve_servers(struct http_server *h, struct http_response *out, bool advice)
{
	const struct http_server_hooks *hk = servers_of(h);
	if (!hk || !(advice ? hk->advice : hk->servers)) {
		send_json(out, 200,
		          strdup(advice ? "{\"schema\": \"gpuscope.advice/v1\", \"advice\": []}\n"
		                        : "{\"schema\": \"gpuscope.servers/v1\", \"servers\": "
		                          "[]}\n"));
		return;
	}
	send_json(out, 200, advice ? hk->advice(hk->ctx) : hk->servers(hk->ctx));
}

/* History for charts, or per-inference aggregates (inference), read by the extras (they
 * bound the cost). */
static void serve_series(struct http_server *h, const struct http_request *rq,
                         struct http_response *out, bool inference)
{
	if (inference && (!extras_of(h) || !extras_of(h)->inference)) {
		send_json(out, 503,
		          strdup("{\"schema\": \"gpuscope.inference/v1\", \"error\": "
		                 "\"no history: the agent runs with --no-history\"}\n"));
		return;
	}
	if (!extras_of(h) || !extras_of(h)->series) {
		send_json(out, 503,
		          strdup("{\"schema\": \"gpuscope.series/v1\", \"error\": "
		                 "\"no history: the agent runs with --no-history\"}\n"));
		return;
	}
	static const char *names[5] = {"range", "from", "to", "gpu", "points"};
	const char *args[5];
	for (int i = 0; i < 5; i++)
		wire_arg(rq->head, names[i], &args[i]);
	unsigned status = 200;
	const struct http_extras *x = extras_of(h);
	char *json =
	    inference ? x->inference(x->ctx, args, &status) : x->series(x->ctx, args, &status);
	send_json(out, status, json);
}

/* The dashboard's static files, gzip'd at build time (web/assets.h). */
static void serve_asset(const struct http_request *rq, struct http_response *out,
                        const struct web_asset *a)
{
	bool gz = http_header_allows(wire_header(rq->head, "Accept-Encoding"), "gzip");
	http_response_set(out, 200, a->type, (const char *)(gz ? a->gz : a->data),
	                  gz ? a->gz_len : a->len, NULL, NULL);
	http_response_field(out, "Content-Security-Policy", dashboard_csp);
	http_response_field(out, "X-Content-Type-Options", "nosniff");
	http_response_field(out, "Cache-Control", "no-cache");
	http_response_field(out, "Vary", "Accept-Encoding");
	if (gz)
		http_response_field(out, "Content-Encoding", "gzip");
}

/* `/`: the dashboard (or, with ?plain, the index page alone), with its CSP. */
static void serve_dashboard(struct http_server *h, const struct http_request *rq,
                            struct http_response *out)
{
	const char *ignored;
	bool plain = wire_arg(rq->head, "plain", &ignored);
	struct board_snapshot snap;
	if (board_snapshot(board_of(h), &snap) != 0) {
		send_text(out, 503, "text/plain; charset=utf-8", "out of memory\n");
		return;
	}
	struct strbuf sb;
	sb_init(&sb, 16 * 1024);
	if (plain)
		index_page_render(&snap, &sb);
	else
		dashboard_render(&snap, &sb);
	board_snapshot_free(&snap);
	if (sb.oom) {
		sb_free(&sb);
		send_text(out, 503, "text/plain; charset=utf-8", "out of memory\n");
		return;
	}
	http_response_set(out, 200, "text/html; charset=utf-8", sb.data, sb.len, free, sb.data);
	/* The plain page keeps its inline style sheet and has no script at all. */
	http_response_field(out, "Content-Security-Policy",
	                    plain ? "default-src 'none'; style-src 'unsafe-inline'"
	                          : dashboard_csp);
	http_response_field(out, "X-Content-Type-Options", "nosniff");
	http_response_field(out, "Cache-Control", "no-store");
}

/* An unknown path: 404 and the list of every endpoint. */
static void serve_not_found(struct http_response *out)
{
	struct strbuf sb;
	sb_init(&sb, 2 * 1024);
	index_page_not_found(&sb);
	if (sb.oom) {
		sb_free(&sb);
		send_text(out, 503, "text/plain; charset=utf-8", "out of memory\n");
		return;
	}
	http_response_set(out, 404, "text/plain; charset=utf-8", sb.data, sb.len, free, sb.data);
}

/* Alerts evaluated by alert/ on its own thread, cached there. */
static void serve_alerts(struct http_server *h, struct http_response *out)
{
	if (!alerting_of(h) || !alerting_of(h)->alerts) {
		send_json(out, 200,
		          strdup("{\"status\": \"success\", \"data\": {\"alerts\": []}}\n"));
		return;
	}
	unsigned status = 200;
	char *json = alerting_of(h)->alerts(alerting_of(h)->ctx, &status);
	send_json(out, status, json);
}

/* dcgm-exporter's /health: "OK" once the GPU library answers (503 before); GPUs still
 * probed are named, but do not fail it (a probe that hangs must not restart the pod). */
static void serve_health(struct http_server *h, struct http_response *out)
{
	if (!atomic_load(&h->attached)) {
		send_text(out, 503, "text/plain; charset=utf-8",
		          "starting: loading the GPU library");
		return;
	}
	struct board_snapshot snap;
	if (board_snapshot(board_of(h), &snap) != 0) {
		send_text(out, 503, "text/plain; charset=utf-8", "out of memory\n");
		return;
	}
	unsigned probing = 0;
	for (unsigned i = 0; i < snap.count; i++)
		probing += snap.gpus[i].health == GPU_PROBING;
	char text[64];
	snprintf(text, sizeof(text), "OK (probing %u of %u GPUs)", probing, snap.count);
	board_snapshot_free(&snap);
	send_text(out, 200, "text/plain; charset=utf-8", probing ? text : "OK");
}

static void handle(void *cls, const struct http_request *rq, struct http_response *out)
{
	struct http_server *h = cls;
	const char *url = rq->head->path, *method = rq->head->method;
	const struct web_asset *asset;
	/* Who is asking, then a wrong method, before any route. */
	if (!http_auth_allow(atomic_load(&h->auth), rq, url, out))
		return;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		static const char text[] = "method not allowed\n";
		http_response_set(out, 405, "text/plain; charset=utf-8", text, sizeof(text) - 1,
		                  NULL, NULL);
		http_response_field(out, "Allow", "GET, HEAD");
		return;
	}
	if (strcmp(url, "/metrics") == 0)
		serve_metrics(h, rq, out);
	else if (strcmp(url, "/healthz") == 0)
		serve_snapshot_json(h, out, true);
	else if (strcmp(url, "/api/v1/gpus") == 0)
		serve_snapshot_json(h, out, false);
	else if (strcmp(url, "/api/v1/diagnosis") == 0)
		serve_diagnosis(h, out);
	else if (strcmp(url, "/api/v1/alerts") == 0)
		serve_alerts(h, out);
	else if (strcmp(url, "/api/v1/processes") == 0)
		serve_processes_json(h, out, false);
	else if (strcmp(url, "/api/v1/series") == 0)
		serve_series(h, rq, out, false);
	else if (strcmp(url, "/api/v1/inference") == 0)
		serve_series(h, rq, out, true);
	else if (strcmp(url, "/api/v1/workloads") == 0)
		serve_processes_json(h, out, true);
	else if (strcmp(url, "/api/v1/servers") == 0)
		serve_servers(h, out, false);
	else if (strcmp(url, "/api/v1/advice") == 0)
		serve_servers(h, out, true);
	/* dcgm-exporter's probe endpoint: probes written for it work unchanged. */
	else if (strcmp(url, "/health") == 0)
		serve_health(h, out);
	else if (strcmp(url, "/") == 0)
		serve_dashboard(h, rq, out);
	else if ((asset = web_asset_find(url)))
		serve_asset(rq, out, asset);
	else
		serve_not_found(out);
}

struct http_server *http_start(struct board *b, const struct http_config *cfg, char *err,
                               size_t errlen)
{
	struct http_server *h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->cfg = *cfg;
	pthread_mutex_init(&h->lock, NULL);
	shared_init(h);
	scrape_clients_init(&h->clients);
	/* Until http_attach, an empty board: no GPU, /healthz says "starting". */
	if (board_init(&h->empty, 0, cfg->fresh_s, cfg->fresh_s, cfg->fresh_s) != 0) {
		snprintf(err, errlen, "out of memory");
		goto fail_board;
	}
	atomic_init(&h->board, b ? b : &h->empty);
	atomic_init(&h->attached, b != NULL);
	atomic_init(&h->extras, cfg->extras);
	atomic_init(&h->alerting, cfg->alerting);
	atomic_init(&h->servers, cfg->servers);
	struct metrics_cache_render render = {
	    .ctx = h, .values = render_values, .window = render_window, .tail = render_tail};
	if (!(h->cache = metrics_cache_new(&render, cfg->fresh_s))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	const struct webconfig *w = cfg->web;
	if (w)
		atomic_init(&h->auth, http_auth_new(w));
	if (w && w->tls && tlscert_set(w->cert_pem, w->key_pem, err, errlen) != 0)
		goto fail;
	if (cfg->dcgm) {
		h->dcgm = *cfg->dcgm;
		h->has_dcgm = true;
	}
	struct http_engine_config ec = {
	    .addr = cfg->addr, .threads = cfg->threads, .handle = handle, .ctx = h};
	http_limits_default(&ec.limits);
	if (w && w->tls) {
		ec.tls = true;
		ec.retrieve = tlscert_callback(); /* asked per handshake: SIGHUP can swap it */
		/* A trust list makes GnuTLS verify client certificates (auth.c checks them). */
		ec.request_client_cert = w->client_auth != CLIENT_AUTH_NONE;
		ec.ca_pem = ec.request_client_cert ? w->ca_pem : NULL;
	}
	if (!(h->engine = http_engine_start(&ec, err, errlen)))
		goto fail;
	h->port = http_engine_port(h->engine);
	return h;
fail:
	http_auth_free(atomic_load(&h->auth));
	tlscert_clear();
	metrics_cache_free(h->cache);
	board_free(&h->empty);
fail_board:
	scrape_clients_destroy(&h->clients);
	pthread_mutex_destroy(&h->lock);
	shared_free(h);
	free(h);
	return NULL;
}

unsigned http_port(const struct http_server *h)
{
	return h->port;
}

void http_stop(struct http_server *h)
{
	if (!h)
		return;
	http_engine_stop(h->engine);
	tlscert_clear();
	metrics_cache_free(h->cache);
	board_free(&h->empty);
	scrape_clients_destroy(&h->clients);
	http_auth_free(atomic_load(&h->auth));
	for (unsigned i = 0; i < h->nretired; i++)
		http_auth_free(h->retired_auth[i]);
	if (h->owned_coll) {
		collectors_free(h->owned_coll);
		free(h->owned_coll);
	}
	pthread_mutex_destroy(&h->lock);
	shared_free(h);
	free(h);
}

void http_set_exposition(struct http_server *h, unsigned names, const struct prom_dcgm *dcgm,
                         struct collectors *owned)
{
	pthread_mutex_lock(&h->lock);
	h->cfg.names = names;
	h->dcgm = *dcgm;
	h->has_dcgm = true;
	struct collectors *old = h->owned_coll;
	h->owned_coll = owned;
	pthread_mutex_unlock(&h->lock);
	/* Clearing waits for every rendering in progress (they hold their format's lock);
	 * those after it read the new look: then nothing reads the old collectors. */
	metrics_cache_clear(h->cache);
	if (old) {
		collectors_free(old);
		free(old);
	}
}

void http_attach(struct http_server *h, struct board *b)
{
	atomic_store(&h->board, b);
	atomic_store(&h->attached, true);
	metrics_cache_clear(h->cache); /* the empty board's parts are no tick of this one */
}

void http_set_hooks(struct http_server *h, const struct http_extras *extras,
                    const struct http_extras *alerting, const struct http_server_hooks *servers)
{
	atomic_store(&h->extras, extras);
	atomic_store(&h->alerting, alerting);
	atomic_store(&h->servers, servers);
}

bool http_set_auth(struct http_server *h, const struct webconfig *w)
{
	pthread_mutex_lock(&h->lock);
	bool ok = h->nretired < sizeof(h->retired_auth) / sizeof(h->retired_auth[0]);
	if (ok) {
		/* A request may still hold the old one: it is freed at stop, not now. */
		struct http_auth *old = atomic_exchange(&h->auth, http_auth_new(w));
		if (old)
			h->retired_auth[h->nretired++] = old;
	}
	pthread_mutex_unlock(&h->lock);
	return ok;
}

int http_set_certificate(struct http_server *h, const struct webconfig *w, char *err, size_t errlen)
{
	return tlscert_set(w->cert_pem, w->key_pem, err, errlen);
}
