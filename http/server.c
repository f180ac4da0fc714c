/* server.c - routes, the rendered-body cache, scrape windows, gzip.
 *
 * The bulk of /metrics (every current value) is rendered at most once per
 * fast tick per format (text or OpenMetrics) and kept in memory, reference
 * counted.  Each scrape then appends its own window families (max and mean
 * since that client's previous scrape, see scrape_clients.h), a few
 * hundred lines aggregated from the per-second rings, and is compressed
 * when the client accepts gzip.  Nothing here calls NVML: rendering reads a
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
#include "http/scrape_clients.h"
#include "web/assets.h"

struct body {
	atomic_int refs;
	size_t len;
	char data[];
};

struct cached {
	struct body *body;
	uint64_t generation;
	double rendered_at; /* for gzip variants: of the plain body compressed */
};

struct http_server {
	struct MHD_Daemon *daemon;
	struct board *board;
	struct http_config cfg;
	pthread_mutex_t lock;
	struct cached plain[2]; /* [openmetrics], without "# EOF" */
	struct scrape_clients clients;
	_Atomic(struct http_auth *) auth;  /* NULL: no client certificate or password asked */
	struct http_auth *retired_auth[8]; /* replaced by SIGHUP; freed at stop */
	unsigned nretired;
	struct prom_dcgm dcgm; /* under lock: the look of DCGM series (has_dcgm) */
	bool has_dcgm;
	struct collectors *owned_coll; /* under lock: a reload's collectors, ours to free */
	unsigned port;
	struct http_guard *guard; /* limits and time per request (guard.h) */
};

static struct body *body_new(const char *data, size_t len)
{
	struct body *b = malloc(sizeof(*b) + len + 1);
	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	b->len = len;
	memcpy(b->data, data, len);
	b->data[len] = 0;
	return b;
}

static void body_unref(void *cls)
{
	struct body *b = cls;
	if (b && atomic_fetch_sub(&b->refs, 1) == 1)
		free(b);
}

static struct body *body_ref(struct body *b)
{
	atomic_fetch_add(&b->refs, 1);
	return b;
}

static struct body *gzip_body(const struct strbuf *in)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	uLong bound = deflateBound(&zs, (uLong)in->len);
	struct body *out = malloc(sizeof(*out) + bound + 1);
	if (!out) {
		deflateEnd(&zs);
		return NULL;
	}
	zs.next_in = (Bytef *)in->data;
	zs.avail_in = (uInt)in->len;
	zs.next_out = (Bytef *)out->data;
	zs.avail_out = (uInt)bound;
	int rc = deflate(&zs, Z_FINISH);
	out->len = zs.total_out;
	deflateEnd(&zs);
	if (rc != Z_STREAM_END) {
		free(out);
		return NULL;
	}
	atomic_init(&out->refs, 1);
	return out;
}

static void cache_set(struct cached *c, struct body *b, uint64_t gen, double now)
{
	body_unref(c->body);
	c->body = b;
	c->generation = gen;
	c->rendered_at = now;
}

/* Returns a referenced copy of the current values' exposition in one
 * format, rendering it when the board changed and the copy is older than
 * one fast tick. */
static struct body *values_body(struct http_server *h, bool om)
{
	struct body *out = NULL;
	pthread_mutex_lock(&h->lock);
	uint64_t gen = board_generation(h->board);
	double now = mono_now();
	struct cached *p = &h->plain[om];
	if (!p->body || (p->generation != gen && now - p->rendered_at >= h->cfg.fresh_s)) {
		struct board_snapshot snap;
		if (board_snapshot(h->board, &snap) == 0) {
			struct strbuf sb;
			sb_init(&sb, 64 * 1024);
			struct prom_options o = {.names = h->cfg.names,
			                         .openmetrics = om,
			                         .process_cap = h->cfg.process_cap,
			                         .dcgm = h->has_dcgm ? &h->dcgm : NULL};
			prom_render_body(&snap, &o, &sb);
			if (!sb.oom) {
				struct body *b = body_new(sb.data, sb.len);
				if (b)
					cache_set(p, b, snap.generation, now);
			}
			sb_free(&sb);
			board_snapshot_free(&snap);
		}
	}
	if (p->body)
		out = body_ref(p->body);
	pthread_mutex_unlock(&h->lock);
	return out;
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

/* The whole response body for one scrape: the cached values, this
 * client's window families, the end marker; gzipped when asked. */
static struct body *metrics_body(struct http_server *h, struct MHD_Connection *c, bool om, bool gz)
{
	struct body *values = values_body(h, om);
	if (!values)
		return NULL;
	pthread_mutex_lock(&h->lock);
	unsigned names = h->cfg.names; /* SIGHUP may change it */
	pthread_mutex_unlock(&h->lock);
	/* DCGM series are all in the cached values; this scrape's own part is native. */
	struct prom_options o = {
	    .names = names, .openmetrics = om, .process_cap = h->cfg.process_cap};
	struct strbuf sb;
	sb_init(&sb, values->len + 32 * 1024);
	sb_append(&sb, values->data, values->len);
	body_unref(values);

	struct board_snapshot snap;
	if ((o.names & NAMES_NATIVE) && board_snapshot(h->board, &snap) == 0) {
		char key[SCRAPE_KEY_LEN];
		client_key(c, key, sizeof(key));
		int64_t newest = (int64_t)wall_now() - WINDOW_SETTLE_S, from, to;
		scrape_clients_window(&h->clients, key, newest, WINDOW_SECONDS, mono_now(), &from,
		                      &to);
		struct window_agg(*agg)[METRIC_COUNT] =
		    calloc(snap.count ? snap.count : 1, sizeof(*agg));
		if (agg) {
			for (unsigned i = 0; i < snap.count; i++)
				board_window(h->board, i, from, to, agg[i]);
			prom_render_windows(&snap, &o,
			                    (const struct window_agg(*)[METRIC_COUNT])agg,
			                    (double)(to - from + 1), &sb);
			free(agg);
		}
		board_snapshot_free(&snap);
	}
	if (h->cfg.extras && h->cfg.extras->metrics)
		h->cfg.extras->metrics(h->cfg.extras->ctx, &o, &sb);
	if (h->cfg.alerting && h->cfg.alerting->metrics)
		h->cfg.alerting->metrics(h->cfg.alerting->ctx, &o, &sb);
	if (h->cfg.servers && h->cfg.servers->metrics)
		h->cfg.servers->metrics(h->cfg.servers->ctx, &o, &sb);
	prom_finish(&o, &sb);
	struct body *out = NULL;
	if (!sb.oom)
		out = gz ? gzip_body(&sb) : body_new(sb.data, sb.len);
	sb_free(&sb);
	return out;
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

static enum MHD_Result serve_metrics(struct http_server *h, struct MHD_Connection *c)
{
	const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
	const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
	bool om = http_header_allows(accept, "application/openmetrics-text");
	bool gz = http_header_allows(enc, "gzip");
	struct body *b = metrics_body(h, c, om, gz);
	if (!b)
		return send_text(c, 503, "text/plain; charset=utf-8",
		                 "metrics unavailable (out of memory)\n");
	struct MHD_Response *r =
	    MHD_create_response_from_buffer_with_free_callback_cls(b->len, b->data, body_unref, b);
	if (!r) {
		body_unref(b);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type",
	                        om ? PROM_CONTENT_TYPE_OPENMETRICS : PROM_CONTENT_TYPE_TEXT);
	MHD_add_response_header(r, "Vary", "Accept, Accept-Encoding");
	if (gz)
		MHD_add_response_header(r, "Content-Encoding", "gzip");
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result serve_snapshot_json(struct http_server *h, struct MHD_Connection *c,
                                           bool health)
{
	struct board_snapshot snap;
	if (board_snapshot(h->board, &snap) != 0)
		return send_text(c, 503, "text/plain; charset=utf-8", "out of memory\n");
	bool healthy = true;
	char *json = health ? json_health(&snap, &healthy) : json_gpus(&snap);
	board_snapshot_free(&snap);
	if (health && json && h->cfg.extras && h->cfg.extras->health_history) {
		char *history = h->cfg.extras->health_history(h->cfg.extras->ctx);
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
	if (health && json && h->cfg.servers && h->cfg.servers->health) {
		char *servers = h->cfg.servers->health(h->cfg.servers->ctx);
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
	if (board_snapshot(h->board, &snap) != 0)
		return send_text(c, 503, "text/plain; charset=utf-8", "out of memory\n");
	char *json = workloads ? proc_json_workloads(&snap) : proc_json_processes(&snap);
	board_snapshot_free(&snap);
	return send_json(c, MHD_HTTP_OK, json);
}

/* Verdicts computed elsewhere (a background thread) and cached there. */
static enum MHD_Result serve_diagnosis(struct http_server *h, struct MHD_Connection *c)
{
	if (!h->cfg.extras || !h->cfg.extras->diagnosis)
		return send_json(c, MHD_HTTP_OK,
		                 strdup("{\"schema\": \"gpuscope.diagnosis/v1\", \"status\": "
		                        "\"not judged: no history\"}\n"));
	unsigned status = MHD_HTTP_OK;
	char *json = h->cfg.extras->diagnosis(h->cfg.extras->ctx, &status);
	return send_json(c, status, json);
}

/* /api/v1/servers and /api/v1/advice: documents the inference-server reader rendered. */
static enum MHD_Result serve_servers(struct http_server *h, struct MHD_Connection *c, bool advice)
{
	const struct http_server_hooks *hk = h->cfg.servers;
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
	if (inference && (!h->cfg.extras || !h->cfg.extras->inference))
		return send_json(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		                 strdup("{\"schema\": \"gpuscope.inference/v1\", \"error\": "
		                        "\"no history: the agent runs with --no-history\"}\n"));
	if (!h->cfg.extras || !h->cfg.extras->series)
		return send_json(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		                 strdup("{\"schema\": \"gpuscope.series/v1\", \"error\": "
		                        "\"no history: the agent runs with --no-history\"}\n"));
	static const char *names[5] = {"range", "from", "to", "gpu", "points"};
	const char *args[5];
	for (int i = 0; i < 5; i++)
		args[i] = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, names[i]);
	unsigned status = MHD_HTTP_OK;
	char *json = (inference ? h->cfg.extras->inference
	                        : h->cfg.extras->series)(h->cfg.extras->ctx, args, &status);
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
	if (board_snapshot(h->board, &snap) != 0)
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
	if (!h->cfg.alerting || !h->cfg.alerting->alerts)
		return send_json(c, MHD_HTTP_OK,
		                 strdup("{\"status\": \"success\", \"data\": {\"alerts\": []}}\n"));
	unsigned status = MHD_HTTP_OK;
	char *json = h->cfg.alerting->alerts(h->cfg.alerting->ctx, &status);
	return send_json(c, status, json);
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
		return send_text(c, MHD_HTTP_OK, "text/plain; charset=utf-8", "OK");
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
		tls[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, w->key_pem};
		tls[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, w->cert_pem};
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
	h->board = b;
	h->cfg = *cfg;
	if (h->cfg.threads == 0)
		h->cfg.threads = 2;
	struct http_guard_limits lim;
	http_guard_limits_default(&lim);
	if (!(h->guard = http_guard_start(&lim))) {
		snprintf(err, errlen, "cannot start the HTTP guard thread: %s", strerror(errno));
		free(h);
		return NULL;
	}
	pthread_mutex_init(&h->lock, NULL);
	scrape_clients_init(&h->clients);
	if (cfg->web)
		atomic_init(&h->auth, http_auth_new(cfg->web));
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
		scrape_clients_destroy(&h->clients);
		pthread_mutex_destroy(&h->lock);
		http_guard_stop(h->guard);
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
	http_guard_stop(h->guard);
	for (int i = 0; i < 2; i++)
		body_unref(h->plain[i].body);
	scrape_clients_destroy(&h->clients);
	http_auth_free(atomic_load(&h->auth));
	for (unsigned i = 0; i < h->nretired; i++)
		http_auth_free(h->retired_auth[i]);
	if (h->owned_coll) {
		collectors_free(h->owned_coll);
		free(h->owned_coll);
	}
	pthread_mutex_destroy(&h->lock);
	free(h);
}

void http_set_exposition(struct http_server *h, unsigned names, const struct prom_dcgm *dcgm,
                         struct collectors *owned)
{
	pthread_mutex_lock(&h->lock);
	h->cfg.names = names;
	h->dcgm = *dcgm;
	h->has_dcgm = true;
	/* Rendering happens under this lock, so nothing reads the old collectors now. */
	if (h->owned_coll) {
		collectors_free(h->owned_coll);
		free(h->owned_coll);
	}
	h->owned_coll = owned;
	for (int i = 0; i < 2; i++) { /* render afresh on the next scrape */
		body_unref(h->plain[i].body);
		h->plain[i].body = NULL;
	}
	pthread_mutex_unlock(&h->lock);
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
