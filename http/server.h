/* server.h - the agent's HTTP endpoint (libmicrohttpd).
 *
 * GET /metrics        Prometheus text 0.0.4, or OpenMetrics 1.0.0 when the
 *                     Accept header asks; gzip when Accept-Encoding allows.
 * GET /healthz        200 while no GPU is lost, stalled or failing, else
 *                     503; a JSON body says which GPU and why.
 * GET /api/v1/gpus    JSON snapshot of every GPU.
 * GET /               a small index page.
 * Handlers read board snapshots only: nothing here calls NVML.
 */
#ifndef GPUSCOPE_HTTP_SERVER_H
#define GPUSCOPE_HTTP_SERVER_H

#include <stddef.h>

#include "http/listen_addr.h"
#include "series/snapshot.h"

struct http_server;

struct http_config {
	struct listen_addr addr;
	unsigned names;   /* enum prom_names */
	double fresh_s;   /* a rendered body is reused for this long (one fast tick) */
	unsigned threads; /* worker threads */
};

struct http_server *http_start(struct board *b, const struct http_config *cfg, char *err,
                               size_t errlen);
/* The port actually bound (useful with --listen :0). */
unsigned http_port(const struct http_server *h);
void http_stop(struct http_server *h);

#endif
