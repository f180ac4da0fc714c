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
#include <microhttpd.h>
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
#include "http/guard.h"
#include "http/dashboard.h"
#include "http/index_page.h"
#include "http/metrics_cache.h"
#include "http/scrape_clients.h"
#include "http/tlscert.h"
#include "web/assets.h"

/* The last /metrics response of one format and encoding, its body in one piece, queued
 * for every scrape that gets the same parts (by id): libmicrohttpd then sends the
 * headers and the body in one sendmsg, and builds no response per request.  The
 * response is reference counted by libmicrohttpd; ours is one reference, and a
 * connection still sending an older body holds its own. */
struct shared_metrics {
	pthread_mutex_t lock;
	uint64_t id[3];
	struct MHD_Response *r; /* NULL until the first scrape */
};

struct http_server {
	struct MHD_Daemon *daemon;
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
	struct http_guard *guard;           /* limits and time per request (guard.h) */
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
static void client_key(struct MHD_Connection *c, char *key, size_t len)
{
	char host[64] = "?";
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host,
			          sizeof(host));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host,
			          sizeof(host));
	}
	const char *ua = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
	snprintf(key, len, "%s|%.100s", host, ua ? ua : "");
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *type,
                                 const char *text)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, char *json)
{
	if (!json)
		return send_text(c, 500, "text/plain; charset=utf-8", "out of memory\n");
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(json), json, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(json);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result metrics_unavailable(struct MHD_Connection *c)
{
	return send_text(c, 503, "text/plain; charset=utf-8",
	                 "metrics unavailable (out of memory)\n");
}

/* A joined body in a mapping of its own, unmapped when libmicrohttpd drops the last
 * response holding it: a tick's few hundred KB do not stay behind in malloc's arenas. */
struct joined_body {
	size_t maplen;
	char bytes[];
};

static void joined_body_free(void *cls)
{
	struct joined_body *j = cls;
	munmap(j, j->maplen);
}

/* A response holding b's bytes in one piece, with the /metrics headers. */
static struct MHD_Response *joined_response(const struct metrics_response *b, bool om, bool gz)
{
	size_t maplen = sizeof(struct joined_body) + b->len;
	struct joined_body *j =
	    mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (j == MAP_FAILED)
		return NULL;
	j->maplen = maplen;
	size_t at = 0;
	for (unsigned i = 0; i < b->niov; i++) {
		memcpy(j->bytes + at, b->iov[i].base, b->iov[i].len);
		at += b->iov[i].len;
	}
	struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(
	    b->len, j->bytes, joined_body_free, j);
	if (!r) {
		joined_body_free(j);
		return NULL;
	}
	MHD_add_response_header(r, "Content-Type",
	                        om ? PROM_CONTENT_TYPE_OPENMETRICS : PROM_CONTENT_TYPE_TEXT);
	MHD_add_response_header(r, "Vary", "Accept, Accept-Encoding");
	if (gz)
		MHD_add_response_header(r, "Content-Encoding", "gzip");
	return r;
}

/* Queues b's bytes from s, replacing s's response when b's parts are not its; frees b. */
static enum MHD_Result queue_shared(struct MHD_Connection *c, struct shared_metrics *s,
                                    struct metrics_response *b, bool om, bool gz)
{
	pthread_mutex_lock(&s->lock);
	if (!s->r || memcmp(s->id, b->id, sizeof(s->id)) != 0) {
		struct MHD_Response *r = joined_response(b, om, gz);
		if (!r) {
			pthread_mutex_unlock(&s->lock);
			metrics_response_free(b);
			return metrics_unavailable(c);
		}
		if (s->r)
			MHD_destroy_response(s->r); /* freed when the last connection is done */
		s->r = r;
		memcpy(s->id, b->id, sizeof(s->id));
	}
	/* Under the lock: no other thread can destroy s->r before MHD holds its reference. */
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, s->r);
	pthread_mutex_unlock(&s->lock);
	metrics_response_free(b);
	return ret;
}

static void shared_init(struct http_server *h)
{
	for (int om = 0; om < 2; om++)
		for (int gz = 0; gz < 2; gz++)
			pthread_mutex_init(&h->shared[om][gz].lock, NULL);
}

/* After MHD_stop_daemon (or before any start): no connection queues any more. */
static void shared_free(struct http_server *h)
{
	for (int om = 0; om < 2; om++)
		for (int gz = 0; gz < 2; gz++) {
			struct shared_metrics *s = &h->shared[om][gz];
			if (s->r)
				MHD_destroy_response(s->r);
			pthread_mutex_destroy(&s->lock);
		}
}

static enum MHD_Result serve_metrics(struct http_server *h, struct MHD_Connection *c)
{
	const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
	const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
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
		client_key(c, key, sizeof(key));
		int64_t newest = (int64_t)wall_now() - WINDOW_SETTLE_S;
		scrape_clients_window(&h->clients, key, newest, WINDOW_SECONDS, q.now, &q.from,
		                      &q.to);
	}
	struct metrics_response *b = metrics_cache_get(h->cache, &q);
	if (!b)
		return metrics_unavailable(c);
	return queue_shared(c, &h->shared[q.om][q.gz], b, q.om, q.gz);
}

static enum MHD_Result serve_snapshot_json(struct http_server *h, struct MHD_Connection *c,
                                           bool health)
{
	if (health && !atomic_load(&h->attached))
		return send_json(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		                 strdup("{\"status\": \"starting\", \"nvml\": \"loading\", "
		                        "\"gpus\": []}\n"));
	struct board_snapshot snap;
	if (board_snapshot(board_of(h), &snap) != 0)
		return send_text(c, 503, "text/plain; charset=utf-8", "out of memory\n");
	bool healthy = true;
	char *json = health ? json_health(&snap, &healthy) : json_gpus(&snap);
	board_snapshot_free(&snap);
	if (health && json && extras_of(h) && extras_of(h)->health_history) {
		char *history = extras_of(h)->health_history(extras_of(h)->ctx);
		json = json_with_field(json, "history", history);
		free(history);
	}
	if (health && json) {
		struct http_guard_stats st;
		http_guard_get_stats(h->guard, &st);
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
	return send_json(c, healthy ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, json);
}

/* /api/v1/processes and /api/v1/workloads: from the snapshot's process tables. */
static enum MHD_Result serve_processes_json(struct http_server *h, struct MHD_Connection *c,
                                            bool workloads)
{
	struct board_snapshot snap;
	if (board_snapshot(board_of(h), &snap) != 0)
		return send_text(c, 503, "text/plain; charset=utf-8", "out of memory\n");
	char *json = workloads ? proc_json_workloads(&snap) : proc_json_processes(&snap);
	board_snapshot_free(&snap);
	return send_json(c, MHD_HTTP_OK, json);
}

/* Verdicts computed elsewhere (a background thread) and cached there. */
static enum MHD_Result serve_diagnosis(struct http_server *h, struct MHD_Connection *c)
{
	if (!extras_of(h) || !extras_of(h)->diagnosis)
		return send_json(c, MHD_HTTP_OK,
		                 strdup("{\"schema\": \"gpuscope.diagnosis/v1\", \"status\": "
		                        "\"not judged: no history\"}\n"));
	unsigned status = MHD_HTTP_OK;
	char *json = extras_of(h)->diagnosis(extras_of(h)->ctx, &status);
	return send_json(c, status, json);
}

/* /api/v1/servers and /api/v1/advice: documents the inference-server reader rendered. */
static enum MHD_Result serve_servers(struct http_server *h, struct MHD_Connection *c, bool advice)
{
	const struct http_server_hooks *hk = servers_of(h);
	if (!hk || !(advice ? hk->advice : hk->servers))
		return send_json(
		    c, MHD_HTTP_OK,
		    strdup(advice ? "{\"schema\": \"gpuscope.advice/v1\", \"advice\": []}\n"
		                  : "{\"schema\": \"gpuscope.servers/v1\", \"servers\": "
		                    "[]}\n"));
	return send_json(c, MHD_HTTP_OK, advice ? hk->advice(hk->ctx) : hk->servers(hk->ctx));
}

/* History for charts, or per-inference aggregates (inference), read by the extras (they
 * bound the cost). */
static enum MHD_Result serve_series(struct http_server *h, struct MHD_Connection *c, bool inference)
{
	if (inference && (!extras_of(h) || !extras_of(h)->inference))
		return send_json(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		                 strdup("{\"schema\": \"gpuscope.inference/v1\", \"error\": "
		                        "\"no history: the agent runs with --no-history\"}\n"));
	if (!extras_of(h) || !extras_of(h)->series)
		return send_json(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		                 strdup("{\"schema\": \"gpuscope.series/v1\", \"error\": "
		                        "\"no history: the agent runs with --no-history\"}\n"));
	static const char *names[5] = {"range", "from", "to", "gpu", "points"};
	const char *args[5];
	for (int i = 0; i < 5; i++)
		args[i] = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, names[i]);
	unsigned status = MHD_HTTP_OK;
	const struct http_extras *x = extras_of(h);
	char *json =
	    inference ? x->inference(x->ctx, args, &status) : x->series(x->ctx, args, &status);
	return send_json(c, status, json);
}

static enum MHD_Result has_plain(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
	if (strcmp(key, "plain") == 0) {
		*(bool *)cls = true;
		return MHD_NO;
	}
	return MHD_YES;
}

/* The dashboard's static files, gzip'd at build time (web/assets.h). */
static enum MHD_Result serve_asset(struct MHD_Connection *c, const struct web_asset *a)
{
	const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
	bool gz = http_header_allows(enc, "gzip");
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    gz ? a->gz_len : a->len, (void *)(gz ? a->gz : a->data), MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", a->type);
	MHD_add_response_header(r, "Content-Security-Policy", dashboard_csp);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	MHD_add_response_header(r, "Vary", "Accept-Encoding");
	if (gz)
		MHD_add_response_header(r, "Content-Encoding", "gzip");
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* `/`: the dashboard (or, with ?plain, the index page alone), with its CSP. */
static enum MHD_Result serve_dashboard(struct http_server *h, struct MHD_Connection *c)
{
	bool plain = false;
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, has_plain, &plain);
	struct board_snapshot snap;
	if (board_snapshot(board_of(h), &snap) != 0)
		return send_text(c, 503, "text/plain; charset=utf-8", "out of memory\n");
	struct strbuf sb;
	sb_init(&sb, 16 * 1024);
	if (plain)
		index_page_render(&snap, &sb);
	else
		dashboard_render(&snap, &sb);
	board_snapshot_free(&snap);
	if (sb.oom) {
		sb_free(&sb);
		return send_text(c, 503, "text/plain; charset=utf-8", "out of memory\n");
	}
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(sb.len, sb.data, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		sb_free(&sb);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "text/html; charset=utf-8");
	/* The plain page keeps its inline style sheet and has no script at all. */
	MHD_add_response_header(r, "Content-Security-Policy",
	                        plain ? "default-src 'none'; style-src 'unsafe-inline'"
	                              : dashboard_csp);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* An unknown path: 404 and the list of every endpoint. */
static enum MHD_Result serve_not_found(struct MHD_Connection *c)
{
	struct strbuf sb;
	sb_init(&sb, 2 * 1024);
	index_page_not_found(&sb);
	enum MHD_Result ret =
	    sb.oom ? send_text(c, 503, "text/plain; charset=utf-8", "out of memory\n")
	           : send_text(c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", sb.data);
	sb_free(&sb);
	return ret;
}

/* Alerts evaluated by alert/ on its own thread, cached there. */
static enum MHD_Result serve_alerts(struct http_server *h, struct MHD_Connection *c)
{
	if (!alerting_of(h) || !alerting_of(h)->alerts)
		return send_json(c, MHD_HTTP_OK,
		                 strdup("{\"status\": \"success\", \"data\": {\"alerts\": []}}\n"));
	unsigned status = MHD_HTTP_OK;
	char *json = alerting_of(h)->alerts(alerting_of(h)->ctx, &status);
	return send_json(c, status, json);
}

/* dcgm-exporter's /health: "OK" once the GPU library answers (503 before); GPUs still
 * probed are named, but do not fail it (a probe that hangs must not restart the pod). */
static enum MHD_Result serve_health(struct http_server *h, struct MHD_Connection *c)
{
	if (!atomic_load(&h->attached))
		return send_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
		                 "starting: loading the GPU library");
	struct board_snapshot snap;
	if (board_snapshot(board_of(h), &snap) != 0)
		return send_text(c, 503, "text/plain; charset=utf-8", "out of memory\n");
	unsigned probing = 0;
	for (unsigned i = 0; i < snap.count; i++)
		probing += snap.gpus[i].health == GPU_PROBING;
	char text[64];
	snprintf(text, sizeof(text), "OK (probing %u of %u GPUs)", probing, snap.count);
	board_snapshot_free(&snap);
	return send_text(c, MHD_HTTP_OK, "text/plain; charset=utf-8", probing ? text : "OK");
}

static int request_marker;

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_size, void **req_cls)
{
	struct http_server *h = cls;
	enum MHD_Result refused;
	if (http_guard_refuse(h->guard, c, req_cls, &refused))
		return refused;
	bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
	bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	if (!*req_cls) {
		/* First call: headers only.  Who is asking, then a wrong method, at once. */
		*req_cls = &request_marker;
		if (!http_auth_allow(atomic_load(&h->auth), c, url, &refused))
			return refused;
		if (!get && !head) {
			struct MHD_Response *r = MHD_create_response_from_buffer(
			    19, (void *)"method not allowed\n", MHD_RESPMEM_PERSISTENT);
			if (!r)
				return MHD_NO;
			MHD_add_response_header(r, "Allow", "GET, HEAD");
			MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
			enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
			MHD_destroy_response(r);
			return ret;
		}
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; /* a GET body means nothing here; drain it */
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") == 0)
		return serve_metrics(h, c);
	if (strcmp(url, "/healthz") == 0)
		return serve_snapshot_json(h, c, true);
	if (strcmp(url, "/api/v1/gpus") == 0)
		return serve_snapshot_json(h, c, false);
	if (strcmp(url, "/api/v1/diagnosis") == 0)
		return serve_diagnosis(h, c);
	if (strcmp(url, "/api/v1/alerts") == 0)
		return serve_alerts(h, c);
	if (strcmp(url, "/api/v1/processes") == 0)
		return serve_processes_json(h, c, false);
	if (strcmp(url, "/api/v1/series") == 0)
		return serve_series(h, c, false);
	if (strcmp(url, "/api/v1/inference") == 0)
		return serve_series(h, c, true);
	if (strcmp(url, "/api/v1/workloads") == 0)
		return serve_processes_json(h, c, true);
	if (strcmp(url, "/api/v1/servers") == 0)
		return serve_servers(h, c, false);
	if (strcmp(url, "/api/v1/advice") == 0)
		return serve_servers(h, c, true);
	/* dcgm-exporter's probe endpoint: probes written for it work unchanged. */
	if (strcmp(url, "/health") == 0)
		return serve_health(h, c);
	if (strcmp(url, "/") == 0)
		return serve_dashboard(h, c);
	const struct web_asset *asset = web_asset_find(url);
	if (asset)
		return serve_asset(c, asset);
	return serve_not_found(c);
}

static struct MHD_Daemon *start_daemon(struct http_server *h, unsigned flags,
                                       const struct sockaddr *sa)
{
	const struct webconfig *w = h->cfg.web;
	struct MHD_OptionItem tls[4];
	size_t n = 0;
	if (w && w->tls) {
		flags |= MHD_USE_TLS;
		/* Asked per handshake, so SIGHUP can swap it (tlscert.h). */
		tls[n++] =
		    (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK, 0, tlscert_callback()};
		/* A trust list makes GnuTLS ask for client certificates (auth.c checks them). */
		if (w->ca_pem && w->client_auth != CLIENT_AUTH_NONE)
			tls[n++] =
			    (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, w->ca_pem};
	}
	tls[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	return MHD_start_daemon(
	    flags, 0, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_THREAD_POOL_SIZE,
	    (unsigned)h->cfg.threads, MHD_OPTION_CONNECTION_LIMIT,
	    http_guard_mhd_connection_limit(h->guard), MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, HTTP_GUARD_POOL_BYTES, MHD_OPTION_NOTIFY_CONNECTION,
	    http_guard_notify, h->guard, MHD_OPTION_NOTIFY_COMPLETED, http_guard_completed,
	    h->guard, MHD_OPTION_URI_LOG_CALLBACK, http_guard_uri, h->guard, MHD_OPTION_ARRAY, tls,
	    MHD_OPTION_END);
}

/* Why the address cannot be bound, as an errno (0: it can, so the failure was
 * elsewhere).  Asked after libmicrohttpd failed, for a message that names the cause. */
static int bind_error(const struct listen_addr *a)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	int one = 1, why = 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) != 0)
		why = errno;
	close(fd);
	return why;
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
	if (h->cfg.threads == 0)
		h->cfg.threads = 2;
	/* Until http_attach, an empty board: no GPU, /healthz says "starting". */
	if (board_init(&h->empty, 0, cfg->fresh_s, cfg->fresh_s, cfg->fresh_s) != 0) {
		snprintf(err, errlen, "out of memory");
		free(h);
		return NULL;
	}
	atomic_init(&h->board, b ? b : &h->empty);
	atomic_init(&h->attached, b != NULL);
	atomic_init(&h->extras, cfg->extras);
	atomic_init(&h->alerting, cfg->alerting);
	atomic_init(&h->servers, cfg->servers);
	struct metrics_cache_render render = {
	    .ctx = h, .values = render_values, .window = render_window, .tail = render_tail};
	h->cache = metrics_cache_new(&render, cfg->fresh_s);
	struct http_guard_limits lim;
	http_guard_limits_default(&lim);
	if (!h->cache || !(h->guard = http_guard_start(&lim))) {
		snprintf(err, errlen, "cannot start the HTTP guard thread: %s", strerror(errno));
		metrics_cache_free(h->cache);
		board_free(&h->empty);
		free(h);
		return NULL;
	}
	pthread_mutex_init(&h->lock, NULL);
	shared_init(h);
	scrape_clients_init(&h->clients);
	if (cfg->web)
		atomic_init(&h->auth, http_auth_new(cfg->web));
	if (cfg->web && cfg->web->tls &&
	    tlscert_set(cfg->web->cert_pem, cfg->web->key_pem, err, errlen) != 0) {
		http_auth_free(atomic_load(&h->auth));
		scrape_clients_destroy(&h->clients);
		pthread_mutex_destroy(&h->lock);
		shared_free(h);
		http_guard_stop(h->guard);
		metrics_cache_free(h->cache);
		board_free(&h->empty);
		free(h);
		return NULL;
	}
	if (cfg->dcgm) {
		h->dcgm = *cfg->dcgm;
		h->has_dcgm = true;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
	const struct sockaddr *sa = (const struct sockaddr *)&cfg->addr.ss;
	if (cfg->addr.ss.ss_family == AF_INET6)
		flags |= cfg->addr.any ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
	h->daemon = start_daemon(h, flags, sa);
	if (!h->daemon && cfg->addr.any) {
		/* No IPv6 on this host: listen on every IPv4 address instead. */
		struct sockaddr_in v4 = {.sin_family = AF_INET,
		                         .sin_port = htons((uint16_t)cfg->addr.port),
		                         .sin_addr.s_addr = htonl(INADDR_ANY)};
		h->daemon = start_daemon(h, MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO,
		                         (const struct sockaddr *)&v4);
	}
	if (!h->daemon) {
		int why = bind_error(&cfg->addr);
		if (why == EADDRINUSE)
			snprintf(err, errlen,
			         "port %u is already in use (another gpuscope or exporter?); "
			         "choose another with --listen",
			         cfg->addr.port);
		else
			snprintf(err, errlen,
			         "cannot listen on port %u: %s (choose another with --listen)",
			         cfg->addr.port,
			         why ? strerror(why) : "libmicrohttpd refused to start");
		http_auth_free(atomic_load(&h->auth));
		tlscert_clear();
		scrape_clients_destroy(&h->clients);
		pthread_mutex_destroy(&h->lock);
		shared_free(h);
		http_guard_stop(h->guard);
		metrics_cache_free(h->cache);
		board_free(&h->empty);
		free(h);
		return NULL;
	}
	const union MHD_DaemonInfo *info =
	    MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : cfg->addr.port;
	return h;
}

unsigned http_port(const struct http_server *h)
{
	return h->port;
}

void http_stop(struct http_server *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->daemon);
	tlscert_clear();
	http_guard_stop(h->guard);
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
