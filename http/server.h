/* server.h - the agent's HTTP endpoint (libmicrohttpd).
 *
 * GET /metrics        Prometheus text 0.0.4, or OpenMetrics 1.0.0 when the
 *                     Accept header asks; gzip when Accept-Encoding allows.
 * GET /healthz        200 while no GPU is lost, stalled or failing, else
 *                     503; a JSON body says which GPU and why.
 * GET /api/v1/gpus    JSON snapshot of every GPU.
 * GET /api/v1/diagnosis  verdicts over a recent window (when extras give them).
 * GET /api/v1/series  history series for charts (when extras give them).
 * GET /api/v1/processes  every GPU's processes (attribution, export/proc_json.h).
 * GET /api/v1/workloads  processes grouped by workload; tensor-parallel groups.
 * GET /health         200 "OK" while the agent serves (dcgm-exporter's probe).
 * GET /               the web dashboard (dashboard.h; /?plain: index_page.h), and
 *                     its compiled-in assets under /assets/ (web/assets.h).
 * The list of endpoints with one line each is http/endpoints.h.  The port is
 * held exclusively (no SO_REUSEPORT): a second agent on it fails to start.
 * Handlers read board snapshots only: nothing here calls NVML.
 */
#ifndef GPUSCOPE_HTTP_SERVER_H
#define GPUSCOPE_HTTP_SERVER_H

#include <stddef.h>

#include "http/listen_addr.h"
#include "series/snapshot.h"

struct http_server;
struct strbuf;
struct prom_options;

/* What rooms outside the core add to the endpoint (history, diagnosis),
 * as callbacks, so http/ never links them.  Each callback may be NULL; each
 * must be quick (a copy of something computed elsewhere). */
struct http_extras {
	void *ctx;
	/* JSON value text for /healthz's "history" field (malloc'd; NULL: none). */
	char *(*health_history)(void *ctx);
	/* The /api/v1/diagnosis body (malloc'd JSON); *status is the HTTP status. */
	char *(*diagnosis)(void *ctx, unsigned *status);
	/* The /api/v1/series body for the query's arguments (range, from, to, gpu, points;
	 * NULL when absent), malloc'd JSON; *status is the HTTP status.  May read the
	 * history: it must bound its own cost (one query at a time). */
	char *(*series)(void *ctx, const char *const args[5], unsigned *status);
	/* Families appended to every /metrics body, before the end marker. */
	void (*metrics)(void *ctx, const struct prom_options *o, struct strbuf *out);
};

struct http_config {
	struct listen_addr addr;
	unsigned names;   /* enum prom_names */
	double fresh_s;   /* a rendered body is reused for this long (one fast tick) */
	unsigned threads; /* worker threads */
	const struct http_extras *extras; /* NULL: none */
	unsigned process_cap;             /* per-process series per GPU; 0: default (10) */
};

struct http_server *http_start(struct board *b, const struct http_config *cfg, char *err,
                               size_t errlen);
/* The port actually bound (useful with --listen :0). */
unsigned http_port(const struct http_server *h);
void http_stop(struct http_server *h);

#endif
