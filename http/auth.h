/* auth.h - who may read the agent: client certificates and basic authentication, as the
 * web configuration (webconfig.h) asks.
 *
 * Checked once per request, on its headers, before any route runs.  A bcrypt costs ~50 ms
 * of CPU at cost 10, so a password that was right once is remembered (its SHA-256, per
 * user, a few entries): Prometheus' scrape every 15 s pays the bcrypt once, not per scrape.
 * A wrong password always pays it, and only one bcrypt runs at a time: a second guess
 * while one is running is told to retry (429), so guessing costs the attacker the bcrypt
 * time and never takes the scrape path's threads.  /health stays open (Kubernetes probes).
 */
#ifndef GPUSCOPE_HTTP_AUTH_H
#define GPUSCOPE_HTTP_AUTH_H

#include <stdbool.h>

#include "http/engine.h"
#include "http/webconfig.h"

struct http_auth;

/* NULL when w asks for nothing (no users, no client certificates) or out of memory. */
struct http_auth *http_auth_new(const struct webconfig *w);
void http_auth_free(struct http_auth *a);

/* True when the request may go on; otherwise out holds the refusal (401 with
 * WWW-Authenticate, 403 for a missing or unverified client certificate, 429 with
 * Retry-After while a bcrypt is running). */
bool http_auth_allow(struct http_auth *a, const struct http_request *rq, const char *url,
                     struct http_response *out);

#endif
