/* guard.c - connection limits, a total time per request and long queries; see guard.h.
 *
 * The open connections are a doubly linked list under one mutex: an accept scans it to
 * count its address (at most max_connections entries, a few microseconds), the reaper
 * scans it five times a second.  Both are small next to rendering one /metrics body. */
#include "http/guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

struct conn_entry {
	struct conn_entry *prev, *next;
	int fd;
	uint8_t addr[16]; /* IPv4 as v4-mapped IPv6, so both families compare alike */
	double start;     /* of the current request (accept, or the previous one's end) */
	bool over;        /* over a limit when accepted: answered 503 */
	bool answering;   /* the handler has the request: a response may be under way */
	bool cut;         /* shutdown() done; waiting for MHD's CLOSED */
};

struct http_guard {
	struct http_guard_limits lim;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t reaper;
	bool stop;
	struct conn_entry *head;
	unsigned open;
	unsigned long long refused, cut, uri_too_long;
	unsigned mhd_limit;
};

/* Handed to the access handler as the request context of a query over the limits. */
static int uri_too_long_marker;

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void http_guard_limits_default(struct http_guard_limits *l)
{
	*l = (struct http_guard_limits){.max_connections = 2048,
	                                .per_address = 64,
	                                .request_s = 10,
	                                .refused_s = 2,
	                                .retry_after_s = 1,
	                                .query_max = 8192,
	                                .params_max = 512};
}

static void addr_key(const struct sockaddr *sa, uint8_t out[16])
{
	memset(out, 0, 16);
	if (!sa)
		return;
	if (sa->sa_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
}

/* Writes a whole small answer if the socket takes it now; never blocks. */
static void write_raw(int fd, const char *text)
{
	(void)!send(fd, text, strlen(text), MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void *reaper_main(void *arg)
{
	struct http_guard *g = arg;
	static const char busy_body[] = "too many connections; retry\n";
	static const char slow_body[] = "the request took too long; retry\n";
	char busy[256], slow[256];
	snprintf(busy, sizeof(busy),
	         "HTTP/1.1 503 Service Unavailable\r\nRetry-After: %u\r\nConnection: close\r\n"
	         "Content-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
	         g->lim.retry_after_s, strlen(busy_body), busy_body);
	snprintf(slow, sizeof(slow),
	         "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: "
	         "text/plain\r\nContent-Length: %zu\r\n\r\n%s",
	         strlen(slow_body), slow_body);
	pthread_mutex_lock(&g->lock);
	while (!g->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 200 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&g->wake, &g->lock, &until);
		double now = mono_s();
		for (struct conn_entry *e = g->head; e; e = e->next) {
			double limit =
			    e->over && !e->answering ? g->lim.refused_s : g->lim.request_s;
			if (e->cut || now - e->start < limit)
				continue;
			/* Nothing sent yet: say why before hanging up.  Mid-response (a reader
			 * too slow for the body) there is no clean way to, so just cut. */
			if (!e->answering)
				write_raw(e->fd, e->over ? busy : slow);
			shutdown(e->fd, SHUT_RDWR);
			e->cut = true;
			g->cut++;
		}
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

/* Enough open files for the hard connection limit, when the hard rlimit allows. */
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

struct http_guard *http_guard_start(const struct http_guard_limits *l)
{
	struct http_guard *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->lim = *l;
	/* MHD's own limit sits above ours so that our 503 comes first. */
	g->mhd_limit = fit_open_files(l->max_connections + 256);
	if (g->lim.max_connections + 16 > g->mhd_limit)
		g->lim.max_connections = g->mhd_limit > 32 ? g->mhd_limit - 16 : g->mhd_limit / 2;
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->wake, NULL);
	int rc = pthread_create(&g->reaper, NULL, reaper_main, g);
	if (rc != 0) {
		pthread_cond_destroy(&g->wake);
		pthread_mutex_destroy(&g->lock);
		free(g);
		errno = rc;
		return NULL;
	}
	return g;
}

void http_guard_stop(struct http_guard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stop = true;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->reaper, NULL);
	while (g->head) { /* MHD is stopped; entries it did not report closed */
		struct conn_entry *e = g->head;
		g->head = e->next;
		free(e);
	}
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

unsigned http_guard_mhd_connection_limit(const struct http_guard *g)
{
	return g->mhd_limit;
}

void http_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                       enum MHD_ConnectionNotificationCode code)
{
	struct http_guard *g = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		struct conn_entry *e = calloc(1, sizeof(*e));
		*socket_context = e;
		if (!e)
			return; /* unguarded, but served */
		const union MHD_ConnectionInfo *fd =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *addr =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		e->fd = fd ? fd->connect_fd : -1;
		addr_key(addr ? addr->client_addr : NULL, e->addr);
		e->start = mono_s();
		pthread_mutex_lock(&g->lock);
		unsigned same = 0;
		for (struct conn_entry *o = g->head; o; o = o->next)
			same += memcmp(o->addr, e->addr, 16) == 0;
		e->over = g->open >= g->lim.max_connections || same >= g->lim.per_address;
		if (e->fd < 0)
			e->cut = true; /* never shut down an fd we do not know */
		e->next = g->head;
		if (g->head)
			g->head->prev = e;
		g->head = e;
		g->open++;
		pthread_mutex_unlock(&g->lock);
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		struct conn_entry *e = *socket_context;
		*socket_context = NULL;
		if (!e)
			return;
		pthread_mutex_lock(&g->lock);
		if (e->prev)
			e->prev->next = e->next;
		else
			g->head = e->next;
		if (e->next)
			e->next->prev = e->prev;
		g->open--;
		pthread_mutex_unlock(&g->lock);
		free(e);
	}
}

static struct conn_entry *entry_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return i ? i->socket_context : NULL;
}

void http_guard_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                          enum MHD_RequestTerminationCode toe)
{
	struct http_guard *g = cls;
	struct conn_entry *e = entry_of(c);
	if (!e)
		return;
	/* The next request on this connection gets its own time. */
	pthread_mutex_lock(&g->lock);
	e->start = mono_s();
	e->answering = false;
	pthread_mutex_unlock(&g->lock);
}

void *http_guard_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct http_guard *g = cls;
	char *q = strchr(uri, '?');
	if (!q)
		return NULL;
	size_t len = strlen(q + 1), params = 1;
	for (const char *p = q + 1; *p; p++)
		params += *p == '&';
	if (len <= g->lim.query_max && params <= g->lim.params_max)
		return NULL;
	/* MHD calls this before it splits the query into its pool, in its own writable read
	 * buffer: an empty query leaves nothing to split, and the handler answers 414. */
	q[1] = '\0';
	pthread_mutex_lock(&g->lock);
	g->uri_too_long++;
	pthread_mutex_unlock(&g->lock);
	return &uri_too_long_marker;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *text,
                              unsigned retry_after)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
	MHD_add_response_header(r, "Connection", "close");
	if (retry_after) {
		char v[16];
		snprintf(v, sizeof(v), "%u", retry_after);
		MHD_add_response_header(r, "Retry-After", v);
	}
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

bool http_guard_refuse(struct http_guard *g, struct MHD_Connection *c, void **req_cls,
                       enum MHD_Result *ret)
{
	if (*req_cls && *req_cls != &uri_too_long_marker)
		return false; /* not the request's first call: decided then */
	struct conn_entry *e = entry_of(c);
	bool over = false;
	pthread_mutex_lock(&g->lock);
	if (e) {
		e->answering = true;
		over = e->over;
		if (over)
			g->refused++;
	}
	pthread_mutex_unlock(&g->lock);
	if (*req_cls == &uri_too_long_marker) {
		*req_cls = NULL;
		*ret = answer(c, MHD_HTTP_URI_TOO_LONG,
		              "query string too long: at most 8 KiB and 512 parameters\n", 0);
		return true;
	}
	if (over) {
		*ret = answer(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		              "too many connections from this address or in all; retry\n",
		              g->lim.retry_after_s);
		return true;
	}
	return false;
}

void http_guard_get_stats(struct http_guard *g, struct http_guard_stats *out)
{
	pthread_mutex_lock(&g->lock);
	*out = (struct http_guard_stats){
	    .open = g->open, .refused = g->refused, .cut = g->cut, .uri_too_long = g->uri_too_long};
	pthread_mutex_unlock(&g->lock);
}
