/* engine.c - workers, accepting, accounting, start and stop; see engine.h.  One
 * connection's states are conn.c's.
 *
 * Each worker finds its overdue connections by a scan of its own list, done only when the
 * earliest deadline it knows of has passed (deadlines only move later, so that one is
 * never late), and sleeps without a timeout when it has no connection.
 *
 * Accounting of addresses is the one thing workers share: a short list of client
 * addresses with their open connections, under a mutex taken at accept and close. */
#include "http/engine.h"
#include "http/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/abstract.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

double engine_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void http_limits_default(struct http_limits *l)
{
	*l = (struct http_limits){.max_connections = 2048,
	                          .per_address = 64,
	                          .request_s = 10,
	                          .refused_s = 2,
	                          .retry_after_s = 1,
	                          .query_max = 8192,
	                          .params_max = 512};
}

void http_response_set(struct http_response *r, unsigned status, const char *type, const char *body,
                       size_t len, void (*release)(void *cls), void *cls)
{
	r->status = status;
	r->body = body;
	r->len = len;
	r->release = release;
	r->cls = cls;
	r->fields_len = 0;
	http_response_field(r, "Content-Type", type);
}

void http_response_field(struct http_response *r, const char *name, const char *value)
{
	int n = snprintf(r->fields + r->fields_len, sizeof(r->fields) - r->fields_len, "%s: %s\r\n",
	                 name, value);
	if (n > 0 && (size_t)n < sizeof(r->fields) - r->fields_len)
		r->fields_len += (size_t)n;
	else
		r->fields[r->fields_len] = '\0';
}

/* ---- counting addresses ---- */

static void addr_key(const struct sockaddr_storage *ss, uint8_t out[16])
{
	memset(out, 0, 16);
	if (ss->ss_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
	}
}

/* Counts c as open; false when the engine cannot take it at all (descriptors). */
static bool count_open(struct http_engine *e, struct conn *c)
{
	uint8_t key[16];
	addr_key(&c->peer, key);
	pthread_mutex_lock(&e->lock);
	struct peer_count *p = e->peers;
	while (p && memcmp(p->addr, key, 16) != 0)
		p = p->next;
	/* A new address gets its entry only when it is taken: one refused here would stay in
	 * the list with nothing open, forever (a client with many addresses grew it without
	 * bound, and every accept walks it under the lock). */
	bool room = e->open < e->hard_limit;
	if (room && !p && (p = calloc(1, sizeof(*p)))) {
		memcpy(p->addr, key, 16);
		p->next = e->peers;
		e->peers = p;
	}
	room = room && p;
	if (room) {
		c->over = e->open >= e->cfg.limits.max_connections ||
		          p->open >= e->cfg.limits.per_address;
		e->open++;
		p->open++;
		c->counted = p;
		c->open_counted = true;
	}
	pthread_mutex_unlock(&e->lock);
	return room;
}

/* Drops one of p's connections; under e->lock. */
static void peer_release(struct http_engine *e, struct peer_count *p)
{
	if (--p->open == 0) {
		struct peer_count **pp = &e->peers;
		while (*pp != p)
			pp = &(*pp)->next;
		*pp = p->next;
		free(p);
	}
}

void engine_count_closed(struct http_engine *e, struct conn *c)
{
	if (!c->open_counted)
		return;
	pthread_mutex_lock(&e->lock);
	e->open--;
	if (c->counted)
		peer_release(e, c->counted);
	pthread_mutex_unlock(&e->lock);
	c->counted = NULL;
	c->open_counted = false;
}

void engine_count_answered(struct http_engine *e, struct conn *c)
{
	if (!c->counted)
		return;
	pthread_mutex_lock(&e->lock);
	peer_release(e, c->counted);
	pthread_mutex_unlock(&e->lock);
	c->counted = NULL;
}

/* ---- accepting ---- */

static struct conn *conn_new(struct worker *w, int fd, const struct sockaddr_storage *peer)
{
	struct http_engine *e = w->e;
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = fd;
	c->peer = *peer;
	if (!count_open(e, c)) {
		free(c);
		return NULL;
	}
	int one = 1; /* a response is one write: nothing gains from Nagle's wait */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->state = C_HEAD;
	if (e->cfg.tls) {
		if (gnutls_init(&c->tls, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) !=
		        GNUTLS_E_SUCCESS ||
		    gnutls_set_default_priority(c->tls) != GNUTLS_E_SUCCESS ||
		    gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, e->cred) !=
		        GNUTLS_E_SUCCESS) {
			if (c->tls)
				gnutls_deinit(c->tls);
			engine_count_closed(e, c);
			free(c);
			return NULL;
		}
		if (e->cfg.request_client_cert)
			gnutls_certificate_server_set_request(c->tls, GNUTLS_CERT_REQUEST);
		gnutls_transport_set_int2(c->tls, fd, fd);
		c->state = C_HANDSHAKE;
	}
	conn_set_deadline(
	    w, c, engine_now() + (c->over ? e->cfg.limits.refused_s : e->cfg.limits.request_s));
	c->events = EPOLLIN;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		if (c->tls)
			gnutls_deinit(c->tls);
		engine_count_closed(e, c);
		free(c);
		return NULL;
	}
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	return c;
}

static void accept_some(struct worker *w)
{
	struct http_engine *e = w->e;
	for (int i = 0; i < ACCEPT_BURST; i++) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(e->listen_fd, (struct sockaddr *)&peer, &len,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Out of descriptors: stop listening a moment rather than spin. */
				epoll_ctl(w->ep, EPOLL_CTL_DEL, e->listen_fd, NULL);
				w->accept_after = engine_now() + ACCEPT_PAUSE_S;
			}
			return; /* EAGAIN: another worker took it; others: the client's trouble */
		}
		struct conn *c = conn_new(w, fd, &peer);
		if (!c) {
			static const char full[] =
			    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: "
			    "close\r\nContent-Length: 0\r\n\r\n";
			if (!e->cfg.tls)
				(void)!send(fd, full, sizeof(full) - 1,
				            MSG_DONTWAIT | MSG_NOSIGNAL);
			atomic_fetch_add(&e->refused, 1);
			close(fd);
			continue;
		}
		conn_run(w, c); /* the request is often there already */
	}
}

static bool listen_in(struct worker *w)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &w->e->listen_fd};
	return epoll_ctl(w->ep, EPOLL_CTL_ADD, w->e->listen_fd, &ev) == 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct http_engine *e = w->e;
	struct epoll_event evs[64];
	for (;;) {
		double now = engine_now();
		if (now >= w->next_check)
			w->next_check = conn_reap(w, now);
		/* Listening again; if even that fails, pause again rather than leave accept_after
		 * in the past (the timeout below would come out negative: wait forever). */
		if (w->accept_after > 0 && now >= w->accept_after)
			w->accept_after = listen_in(w) ? 0 : now + ACCEPT_PAUSE_S;
		double until = w->conns ? w->next_check : -1;
		if (w->accept_after > 0 && (until < 0 || w->accept_after < until))
			until = w->accept_after;
		int timeout = w->yielded ? 0 : until < 0 ? -1 : (int)((until - now) * 1000) + 1;
		int n = epoll_wait(w->ep, evs, 64, timeout);
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &e->stop_fd)
				goto out;
			if (p == &e->listen_fd)
				accept_some(w);
			else
				conn_run(w, p);
		}
		/* Those that gave way last round, unless an event ran them already. */
		for (struct conn *c = w->conns, *after; c && w->yielded; c = after) {
			after = c->next;
			if (c->yielded)
				conn_run(w, c);
		}
	}
out:
	while (w->conns)
		conn_close(w, w->conns);
	return NULL;
}

/* ---- start and stop ---- */

/* Enough open files for `want` connections, when the hard rlimit allows; the number that
 * fits. */
static unsigned fit_open_files(unsigned want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return want;
	rlim_t need = (rlim_t)want + 256; /* history, NVML, /proc, the kubelet */
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		rlim_t cur =
		    rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
		struct rlimit raised = {.rlim_cur = cur, .rlim_max = rl.rlim_max};
		if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
			rl.rlim_cur = cur;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		return rl.rlim_cur > 512 ? (unsigned)(rl.rlim_cur - 256) : 256;
	return want;
}

/* A listening socket on sa, or -1 with errno. */
static int listen_on(const struct sockaddr *sa, socklen_t len, bool dual)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1, v6only = !dual;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
	if (bind(fd, sa, len) != 0 || listen(fd, SOMAXCONN) != 0) {
		int why = errno;
		close(fd);
		errno = why;
		return -1;
	}
	return fd;
}

static unsigned bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                      : ((struct sockaddr_in *)&ss)->sin_port);
}

static int tls_setup(struct http_engine *e, char *err, size_t errlen)
{
	int rc = gnutls_certificate_allocate_credentials(&e->cred);
	if (rc != GNUTLS_E_SUCCESS) {
		snprintf(err, errlen, "TLS: %s", gnutls_strerror(rc));
		e->cred = NULL;
		return -1;
	}
	gnutls_certificate_set_retrieve_function2(e->cred, e->cfg.retrieve);
	if (e->cfg.ca_pem) {
		gnutls_datum_t ca = {(unsigned char *)e->cfg.ca_pem,
		                     (unsigned)strlen(e->cfg.ca_pem)};
		rc = gnutls_certificate_set_x509_trust_mem(e->cred, &ca, GNUTLS_X509_FMT_PEM);
		if (rc < 0) {
			snprintf(err, errlen, "TLS client CA: %s", gnutls_strerror(rc));
			return -1;
		}
	}
	return 0;
}

static void engine_free(struct http_engine *e)
{
	if (e->listen_fd >= 0)
		close(e->listen_fd);
	if (e->stop_fd >= 0)
		close(e->stop_fd);
	if (e->cred)
		gnutls_certificate_free_credentials(e->cred);
	while (e->peers) {
		struct peer_count *p = e->peers;
		e->peers = p->next;
		free(p);
	}
	pthread_mutex_destroy(&e->lock);
	free(e->workers);
	free(e);
}

struct http_engine *http_engine_start(const struct http_engine_config *cfg, char *err,
                                      size_t errlen)
{
	struct http_engine *e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->cfg = *cfg;
	e->listen_fd = e->stop_fd = -1;
	pthread_mutex_init(&e->lock, NULL);
	e->nworkers = cfg->threads ? cfg->threads : 2;
	/* The descriptor limit above ours, so that our 503 comes before running out. */
	e->hard_limit = fit_open_files(cfg->limits.max_connections + 256);
	if (e->cfg.limits.max_connections + 16 > e->hard_limit)
		e->cfg.limits.max_connections =
		    e->hard_limit > 32 ? e->hard_limit - 16 : e->hard_limit / 2;
	if (cfg->tls && tls_setup(e, err, errlen) != 0)
		goto fail;
	const struct listen_addr *a = &cfg->addr;
	e->listen_fd = listen_on((const struct sockaddr *)&a->ss, a->len,
	                         a->ss.ss_family == AF_INET6 && a->any);
	if (e->listen_fd < 0 && a->any && errno != EADDRINUSE) {
		/* No IPv6 on this host: listen on every IPv4 address instead. */
		struct sockaddr_in v4 = {.sin_family = AF_INET,
		                         .sin_port = htons((uint16_t)a->port),
		                         .sin_addr.s_addr = htonl(INADDR_ANY)};
		e->listen_fd = listen_on((const struct sockaddr *)&v4, sizeof(v4), false);
	}
	if (e->listen_fd < 0) {
		if (errno == EADDRINUSE)
			snprintf(err, errlen,
			         "port %u is already in use (another gpuscope or exporter?); "
			         "choose another with --listen",
			         a->port);
		else
			snprintf(err, errlen,
			         "cannot listen on port %u: %s (choose another with --listen)",
			         a->port, strerror(errno));
		goto fail;
	}
	e->port = bound_port(e->listen_fd);
	e->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	e->workers = calloc(e->nworkers, sizeof(*e->workers));
	if (e->stop_fd < 0 || !e->workers) {
		snprintf(err, errlen, "cannot start the HTTP server: %s", strerror(errno));
		goto fail;
	}
	unsigned started = 0;
	for (; started < e->nworkers; started++) {
		struct worker *w = &e->workers[started];
		w->e = e;
		w->next_check = engine_now() + 3600;
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event stop = {.events = EPOLLIN, .data.ptr = &e->stop_fd};
		int rc = w->ep < 0 || !listen_in(w) ||
		                 epoll_ctl(w->ep, EPOLL_CTL_ADD, e->stop_fd, &stop) != 0
		             ? errno
		             : pthread_create(&w->thread, NULL, worker_main, w);
		if (rc != 0) {
			if (w->ep >= 0)
				close(w->ep);
			errno = rc;
			break;
		}
		/* The scrape path runs on these: bench/run.sh and bench/scrape.py count their CPU.
		 */
		pthread_setname_np(w->thread, "gpuscope-http");
	}
	if (started < e->nworkers) {
		snprintf(err, errlen, "cannot start the HTTP workers: %s", strerror(errno));
		e->nworkers = started;
		http_engine_stop(e);
		return NULL;
	}
	return e;
fail:
	engine_free(e);
	return NULL;
}

unsigned http_engine_port(const struct http_engine *e)
{
	return e->port;
}

void http_engine_stats(struct http_engine *e, struct http_stats *out)
{
	pthread_mutex_lock(&e->lock);
	out->open = e->open;
	pthread_mutex_unlock(&e->lock);
	out->refused = atomic_load(&e->refused);
	out->cut = atomic_load(&e->cut);
	out->uri_too_long = atomic_load(&e->uri_too_long);
}

void http_engine_stop(struct http_engine *e)
{
	if (!e)
		return;
	uint64_t one = 1; /* never read: it wakes every worker, and keeps waking them */
	(void)!write(e->stop_fd, &one, sizeof(one));
	for (unsigned i = 0; i < e->nworkers; i++) {
		pthread_join(e->workers[i].thread, NULL);
		close(e->workers[i].ep);
	}
	engine_free(e);
}
