/* guard.h - the scrape path under abuse: connection limits, a total time per request,
 * long query strings, and an answer (never a silent close) for a client over a limit.
 *
 * libmicrohttpd's own options carry what they can: a hard connection limit, the idle
 * timeout, the per-connection memory pool.  Three things it does not do, so they are here,
 * hooked in through its callbacks (MHD_OPTION_NOTIFY_CONNECTION, _NOTIFY_COMPLETED,
 * _URI_LOG_CALLBACK):
 *   - a limit per client address, and over it or over the global limit a 503 with
 *     Retry-After (MHD's per-IP and global limits close the socket without a word);
 *   - a total time per request, headers and body (MHD's timeout counts only idle time, so a
 *     client sending one byte every half second held a slot for ever): a reaper thread cuts
 *     an overdue connection with shutdown(2), first writing 408 (503 when over a limit)
 *     when no response was under way;
 *   - query strings longer than the pool can parse: MHD 0.9.75 neither answers nor closes
 *     (the slot is held until the idle timeout), so the query is emptied before MHD parses
 *     it and the request answered 414.
 * A connection's entry lives from MHD's STARTED to its CLOSED notification, which comes
 * before MHD closes the socket: under the guard's lock, an entry's fd is still that
 * connection's, so the reaper never touches a reused descriptor. */
#ifndef GPUSCOPE_HTTP_GUARD_H
#define GPUSCOPE_HTTP_GUARD_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

struct http_guard_limits {
	unsigned max_connections; /* open connections before new ones get 503 */
	unsigned per_address;     /* open connections of one client address before 503 */
	double request_s;         /* total time for one request, headers to last body byte */
	double refused_s;         /* an over-limit connection is cut after this */
	unsigned retry_after_s;   /* Retry-After of a 503 */
	size_t query_max;         /* longer query strings: 414 */
	unsigned params_max;      /* more parameters: 414 */
};

/* The defaults: 2048 connections, 64 per address, 10 s a request, 2 s when refused,
 * Retry-After 1, queries up to 8 KiB and 512 parameters. */
void http_guard_limits_default(struct http_guard_limits *l);

/* The memory pool per connection that the query limits above fit in (MHD's
 * MHD_OPTION_CONNECTION_MEMORY_LIMIT): 64 KiB, mapped lazily by MHD above 32 KiB; a
 * request line and headers over about half of it get 414 or 431 from MHD. */
#define HTTP_GUARD_POOL_BYTES ((size_t)64 * 1024)

struct http_guard;

/* Starts the reaper thread; NULL with errno on failure. */
struct http_guard *http_guard_start(const struct http_guard_limits *l);
/* After MHD_stop_daemon (no callback may still run). NULL is a no-op. */
void http_guard_stop(struct http_guard *g);

/* MHD's hard connection limit to pass with MHD_OPTION_CONNECTION_LIMIT: above the guard's
 * own, so the guard answers 503 before MHD closes silently, and within the open-file
 * limit (raised to its hard maximum here, as far as needed). */
unsigned http_guard_mhd_connection_limit(const struct http_guard *g);

/* The callbacks, cls = the guard. */
void http_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                       enum MHD_ConnectionNotificationCode code);
void http_guard_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                          enum MHD_RequestTerminationCode toe);
void *http_guard_uri(void *cls, const char *uri, struct MHD_Connection *c);

/* First thing in the access handler, every call: on a request's first call, when it is
 * refused (414 for a query over the limits, 503 for a connection over a limit), queues that
 * answer, stores MHD's result in *ret and returns true; otherwise marks the connection as
 * being answered and returns false, as it does on later calls. */
bool http_guard_refuse(struct http_guard *g, struct MHD_Connection *c, void **req_cls,
                       enum MHD_Result *ret);

/* Counters for /healthz and tests: connections open now, refused (503) and cut so far. */
struct http_guard_stats {
	unsigned open;
	unsigned long long refused, cut, uri_too_long;
};
void http_guard_get_stats(struct http_guard *g, struct http_guard_stats *out);

#endif
