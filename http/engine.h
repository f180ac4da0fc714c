/* engine.h - the agent's HTTP/1.1 server: sockets, connections, limits, TLS.
 *
 * Why not a library: libmicrohttpd, which this replaces, is linked against GnuTLS and
 * initializes it at load, so every agent paid about 2.5 MiB of resident pages for TLS that
 * few configure.  The agent's HTTP is small (GET and HEAD of bodies already in memory), so
 * it is served here, and GnuTLS is loaded only when the web configuration asks for TLS
 * (http/libgnutls.c).
 *
 * Shape: `threads` workers, each with its own epoll set; the listening socket is in every
 * set (EPOLLEXCLUSIVE: one worker wakes per connection) and a connection stays with the
 * worker that accepted it.  The handler runs on that worker with the whole request head
 * (wire.h) and fills one response; the worker writes it without blocking, keeps the
 * connection for the next request (HTTP/1.1 keep-alive, pipelining) or closes it.  A
 * worker with no connection sleeps in epoll_wait without a timeout: an idle agent's HTTP
 * costs no wake-ups.
 *
 * Under abuse (tests/integration/test_abuse.py):
 *   - a limit of open connections in all and per client address (a connection answered
 *     and lingering for the client's FIN counts only in all); over either, the
 *     connection gets 503 with Retry-After, never a silent close, and is cut after
 *     refused_s if it sends nothing;
 *   - a total time per request, from its first byte (or the previous response's end) to
 *     its response's last byte: a client sending one byte every half second, or reading
 *     the body that slowly, is cut at request_s, told 408 when no response was under way;
 *   - heads over 32 KiB are answered 414 or 431 and the connection closed; a query over
 *     the limits is answered 414 as soon as the request line shows it;
 *   - request bodies are not read: a Content-Length body up to 1 MiB is discarded, a
 *     longer or chunked one closes the connection after the response (lingering, so the
 *     response is not lost to a reset). */
#ifndef GPUSCOPE_HTTP_ENGINE_H
#define GPUSCOPE_HTTP_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "http/listen_addr.h"
#include "http/wire.h"

struct http_limits {
	unsigned max_connections; /* open connections before new ones get 503 */
	unsigned per_address;     /* open connections of one client address before 503 */
	double request_s;         /* total time for one request, first byte to last */
	double refused_s;         /* an over-limit connection is cut after this */
	unsigned retry_after_s;   /* Retry-After of a 503 */
	size_t query_max;         /* longer query strings: 414 */
	unsigned params_max;      /* more parameters: 414 */
};

/* The defaults: 2048 connections, 64 per address, 10 s a request, 2 s when refused,
 * Retry-After 1, queries up to 8 KiB and 512 parameters. */
void http_limits_default(struct http_limits *l);

/* What a handler sees: the parsed head and who sent it. */
struct http_request {
	const struct wire_request *head;
	const struct sockaddr_storage *peer;
	void *tls; /* the connection's gnutls_session_t; NULL over plain TCP */
};

#define HTTP_FIELDS_MAX 1024

/* What a handler fills.  The body is sent as is and released (release(cls), when given)
 * once sent or dropped; `fields` holds header lines ("Name: value\r\n") beyond the status
 * line, Date, Content-Length and Connection, which the engine writes. */
struct http_response {
	unsigned status;
	const char *body;
	size_t len;
	void (*release)(void *cls);
	void *cls;
	char fields[HTTP_FIELDS_MAX];
	size_t fields_len;
	bool close; /* close the connection after this response */
};

/* Sets the status, Content-Type and body of r. */
void http_response_set(struct http_response *r, unsigned status, const char *type, const char *body,
                       size_t len, void (*release)(void *cls), void *cls);
/* Adds a header line; one that does not fit is dropped (the fields are ours, not a
 * client's: sized for the longest, the dashboard's Content-Security-Policy). */
void http_response_field(struct http_response *r, const char *name, const char *value);

typedef void (*http_handler)(void *ctx, const struct http_request *rq, struct http_response *out);

struct http_engine_config {
	struct listen_addr addr;
	unsigned threads; /* workers; 0: 2 */
	struct http_limits limits;
	http_handler handle;
	void *ctx;
	/* TLS, when tls: every handshake asks retrieve (a gnutls_certificate_retrieve_function2,
	 * tlscert.h) for the certificate; ca_pem (NULL: none) is the trust list for client
	 * certificates, which are asked for when request_client_cert. */
	bool tls;
	void *retrieve;
	const char *ca_pem;
	bool request_client_cert;
};

struct http_engine;

/* Binds, listens and starts the workers.  NULL with a sentence in err (a port in use is
 * named as such). */
struct http_engine *http_engine_start(const struct http_engine_config *cfg, char *err,
                                      size_t errlen);
/* The port bound (the one chosen for port 0). */
unsigned http_engine_port(const struct http_engine *e);

/* Counters for /healthz and tests: connections open now, refused (503), cut (timed out)
 * and queries refused 414 so far. */
struct http_stats {
	unsigned open;
	unsigned long long refused, cut, uri_too_long;
};
void http_engine_stats(struct http_engine *e, struct http_stats *out);

/* Stops accepting, waits for the handlers running, closes every connection. NULL: no-op. */
void http_engine_stop(struct http_engine *e);

#endif
