/* server.h - the agent's HTTP endpoint: routes over the engine (engine.h).
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
 * GET /api/v1/alerts  the agent's pending and firing alerts (when extras give them).
 * GET /api/v1/servers  inference servers, tokens, J/token (when hooks give them).
 * GET /api/v1/advice   batch advice and serving verdicts (the same hooks).
 * GET /health         200 "OK" while the agent serves (dcgm-exporter's probe); 503
 *                     before the GPU library answers; names GPUs still probed.
 * GET /               the web dashboard (dashboard.h; /?plain: index_page.h), and
 *                     its compiled-in assets under /assets/ (web/assets.h).
 * The list of endpoints with one line each is http/endpoints.h.  The port is
 * held exclusively (no SO_REUSEPORT): a second agent on it fails to start.
 * Handlers read board snapshots only: nothing here calls NVML.
 */
#ifndef GPUSCOPE_HTTP_SERVER_H
#define GPUSCOPE_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "http/listen_addr.h"
#include "series/snapshot.h"

struct http_server;
struct strbuf;
struct prom_options;
struct prom_dcgm;
struct webconfig;

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
	/* The /api/v1/inference body for the same arguments (per-inference aggregates). */
	char *(*inference)(void *ctx, const char *const args[5], unsigned *status);
	/* Families appended to every /metrics body, before the end marker. */
	void (*metrics)(void *ctx, const struct prom_options *o, struct strbuf *out);
	/* The /api/v1/alerts body (malloc'd JSON); *status is the HTTP status. */
	char *(*alerts)(void *ctx, unsigned *status);
};

/* The inference-server reader's documents (servers/servers.h), as callbacks like the
 * extras; each returns a malloc'd copy of something computed on its own thread. */
struct http_server_hooks {
	void *ctx;
	char *(*servers)(void *ctx); /* /api/v1/servers */
	char *(*advice)(void *ctx);  /* /api/v1/advice */
	char *(*health)(void *ctx);  /* /healthz "inference_servers" field (JSON value) */
	void (*metrics)(void *ctx, const struct prom_options *o, struct strbuf *out);
};

struct http_config {
	struct listen_addr addr;
	unsigned names;   /* enum prom_names */
	double fresh_s;   /* a rendered body is reused for this long (one fast tick) */
	unsigned threads; /* worker threads */
	const struct http_extras *extras; /* NULL: none */
	unsigned process_cap;             /* per-process series per GPU; 0: default (10) */
	const struct prom_dcgm *dcgm;     /* look of DCGM_FI_* series; NULL: defaults */
	const struct webconfig *web;      /* TLS and basic auth (webconfig.h); NULL: neither */
	const struct http_extras
	    *alerting; /* alert/: /api/v1/alerts and its families; NULL: none */
	/* NULL: no inference-server reader */
	const struct http_server_hooks *servers;
};

/* b may be NULL: the server then listens with no GPU (/healthz and /health: 503
 * "starting") until http_attach. */
struct http_server *http_start(struct board *b, const struct http_config *cfg, char *err,
                               size_t errlen);
/* Hands the GPUs' board over once NVML answered (GPUs still probing are left out of
 * /metrics until probed). */
void http_attach(struct http_server *h, struct board *b);
/* Sets the hooks of rooms started after the server (each NULL: none); call once. */
void http_set_hooks(struct http_server *h, const struct http_extras *extras,
                    const struct http_extras *alerting, const struct http_server_hooks *servers);
/* The port actually bound (useful with --listen :0). */
unsigned http_port(const struct http_server *h);
void http_stop(struct http_server *h);

/* SIGHUP: new name sets and DCGM look; owned (may be NULL) is the collectors dcgm->select
 * points to, freed by the server when replaced or at stop.  The next scrape renders afresh. */
struct collectors;
void http_set_exposition(struct http_server *h, unsigned names, const struct prom_dcgm *dcgm,
                         struct collectors *owned);
/* SIGHUP: new basic-auth users and client-certificate rule (the certificate is
 * http_set_certificate's).  False when reloaded too often to keep the old ones safely. */
bool http_set_auth(struct http_server *h, const struct webconfig *w);
/* SIGHUP: w's certificate and key for every new TLS handshake; connections already open
 * keep theirs.  The trust list for client certificates is fixed at start.  Returns 0, or
 * -1 with a sentence in err and the old pair still in force. */
int http_set_certificate(struct http_server *h, const struct webconfig *w, char *err,
                         size_t errlen);

#endif
