/* conn.h - the engine's connections, workers and engine state: private to http/engine.c
 * (workers, accepting, accounting, start and stop) and http/conn.c (one connection's
 * states: reading a head, answering, discarding a body, lingering, timing out).  Nothing
 * else includes it; engine.h is the interface. */
#ifndef GPUSCOPE_HTTP_CONN_H
#define GPUSCOPE_HTTP_CONN_H

#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "http/engine.h"

#define IN_FIRST       2048        /* a scraper's head is a few hundred bytes */
#define IN_MAX         (32 * 1024) /* request line and fields; more: 414 or 431 */
#define DISCARD_MAX    (1 << 20)   /* bodies up to this are read and dropped; longer: close */
#define LINGER_S       2.0         /* a closing connection waits this long for the client's FIN */
#define HEAD_MAX       (512 + HTTP_FIELDS_MAX)
#define ACCEPT_BURST   32  /* accepts per wake, so workers share a burst */
#define ACCEPT_PAUSE_S 0.1 /* out of descriptors: wait before accepting again */

enum conn_state { C_HANDSHAKE, C_HEAD, C_WRITE, C_DISCARD, C_LINGER };

struct conn {
	struct conn *prev, *next; /* the worker's list */
	int fd;
	gnutls_session_t tls; /* NULL over plain TCP */
	enum conn_state state;
	uint32_t events; /* the epoll interest in force */
	double deadline; /* monotonic seconds */
	bool over;       /* over a limit when accepted: its first request gets 503 */
	struct sockaddr_storage peer;
	struct peer_count *counted; /* its address's entry (NULL: not counted) */
	bool open_counted;          /* counted in the engine's open connections */
	char *in;                   /* bytes read and not yet parsed; NULL while idle */
	size_t in_len, in_cap;
	long long discard; /* body bytes still to drop */
	/* The response under way. */
	char head[HEAD_MAX];
	size_t head_len, head_sent;
	const char *body;
	size_t body_len, body_sent;
	void (*release)(void *cls);
	void *cls;
	bool close_after;
	bool answered; /* at least one response was sent on it */
	bool yielded;  /* counted in its worker's yielded: run again without an event */
};

/* Open connections of one client address (IPv4 as v4-mapped IPv6). */
struct peer_count {
	struct peer_count *next;
	uint8_t addr[16];
	unsigned open;
};

struct worker {
	struct http_engine *e;
	pthread_t thread;
	int ep;
	struct conn *conns;
	double next_check;   /* no deadline passes before this */
	double accept_after; /* > 0: accepting paused (no descriptors) until then */
	unsigned yielded;    /* connections that gave way while they still had work */
};

struct http_engine {
	struct http_engine_config cfg;
	int listen_fd, stop_fd;
	unsigned port;
	unsigned hard_limit; /* open connections the descriptor limit allows */
	struct worker *workers;
	unsigned nworkers;
	gnutls_certificate_credentials_t cred;
	pthread_mutex_t lock; /* peers, open */
	struct peer_count *peers;
	unsigned open;
	atomic_ullong refused, cut, uri_too_long;
};

/* Monotonic seconds. */
double engine_now(void);
/* Gives c's places in the open connections and its address's count back (at close). */
void engine_count_closed(struct http_engine *e, struct conn *c);
/* Gives c's place in its address's count back, once it is answered and only lingers:
 * its descriptor stays counted in the open connections until it is closed. */
void engine_count_answered(struct http_engine *e, struct conn *c);

/* Drives c until it would block (then sets what it waits for) or is closed. */
void conn_run(struct worker *w, struct conn *c);
/* Releases the response, closes the socket and frees c; c leaves w's list. */
void conn_close(struct worker *w, struct conn *c);
/* Sets c's deadline, and w's next check when it is sooner. */
void conn_set_deadline(struct worker *w, struct conn *c, double at);
/* Closes every connection of w past its deadline (telling one still waiting for its head
 * why); returns the earliest deadline left. */
double conn_reap(struct worker *w, double now);

#endif
