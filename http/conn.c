/* conn.c - one connection of the engine; see conn.h and engine.h.
 *
 * A connection moves through: HANDSHAKE (TLS only) -> HEAD (reading a request head) ->
 * WRITE (the response) -> DISCARD (a Content-Length body, when one came) -> HEAD again, or
 * -> LINGER (half-closed, reading what the client still sends until it closes) -> gone.
 * conn_run drives one connection as far as it can go without blocking, then says which
 * readiness it waits for.  Every state has a deadline (conn_reap). */
#include "http/conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum { IO_AGAIN = -2, IO_ERROR = -1 };

/* The readiness a TLS call that returned GNUTLS_E_AGAIN waits for. */
static uint32_t tls_wants(const struct conn *c)
{
	return gnutls_record_get_direction(c->tls) ? EPOLLOUT : EPOLLIN;
}

static ssize_t tls_result(ssize_t n)
{
	if (n >= 0)
		return n;
	if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
		return IO_AGAIN;
	return IO_ERROR; /* renegotiation and warnings included: the agent asks for neither */
}

static ssize_t conn_read(struct conn *c, void *buf, size_t len)
{
	if (c->tls)
		return tls_result(gnutls_record_recv(c->tls, buf, len));
	for (;;) {
		ssize_t n = recv(c->fd, buf, len, 0);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? IO_AGAIN : IO_ERROR;
	}
}

/* Sends what is left of head and body; the bytes sent, or IO_AGAIN / IO_ERROR. */
static ssize_t conn_write(struct conn *c)
{
	const char *p = c->head + c->head_sent;
	size_t left = c->head_len - c->head_sent;
	if (c->tls) {
		/* After GNUTLS_E_AGAIN GnuTLS wants the same data again: head, then body. */
		if (!left) {
			p = c->body + c->body_sent;
			left = c->body_len - c->body_sent;
		}
		return tls_result(gnutls_record_send(c->tls, p, left));
	}
	struct iovec iov[2] = {{(void *)p, left},
	                       {(void *)(c->body + c->body_sent), c->body_len - c->body_sent}};
	struct msghdr m = {.msg_iov = left ? iov : iov + 1, .msg_iovlen = left ? 2 : 1};
	for (;;) {
		ssize_t n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? IO_AGAIN : IO_ERROR;
	}
}

/* ---- connections ---- */

static void set_interest(struct worker *w, struct conn *c, uint32_t events)
{
	if (c->events == events)
		return;
	struct epoll_event ev = {.events = events, .data.ptr = c};
	if (epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = events;
}

void conn_set_deadline(struct worker *w, struct conn *c, double at)
{
	c->deadline = at;
	if (at < w->next_check)
		w->next_check = at;
}

static void release_body(struct conn *c)
{
	if (c->release)
		c->release(c->cls);
	c->release = NULL;
	c->body = NULL;
	c->body_len = c->body_sent = 0;
}

/* Gives c->in back (see conn_room). */
static void in_free(struct conn *c)
{
	if (c->in_cap > IN_FIRST)
		munmap(c->in, c->in_cap);
	else
		free(c->in);
	c->in = NULL;
	c->in_len = c->in_cap = 0;
}

void conn_close(struct worker *w, struct conn *c)
{
	if (c->yielded)
		w->yielded--;
	release_body(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	engine_count_closed(w->e, c);
	if (c->tls)
		gnutls_deinit(c->tls);
	epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	in_free(c);
	free(c);
}

/* Queues a response; the connection goes to WRITE.  HEAD requests get the head alone.
 * http10: the request was HTTP/1.0, whose connections persist only when the response says
 * "keep-alive" (without it, a client reading to the end of the connection waited for the
 * request deadline, then read our 408 as part of the body). */
static void conn_respond(struct conn *c, struct http_response *r, bool head_only, bool keep_alive,
                         bool http10)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&now, &tm));
	c->close_after = !keep_alive || r->close;
	int n = snprintf(c->head, sizeof(c->head),
	                 "HTTP/1.1 %u %s\r\nDate: %s\r\nContent-Length: %zu\r\n%s%.*s\r\n",
	                 r->status, wire_reason(r->status), date, r->len,
	                 c->close_after ? "Connection: close\r\n"
	                 : http10       ? "Connection: keep-alive\r\n"
	                                : "",
	                 (int)r->fields_len, r->fields);
	c->head_len = n > 0 && (size_t)n < sizeof(c->head) ? (size_t)n : 0;
	c->head_sent = 0;
	c->body = r->body;
	c->body_len = head_only ? 0 : r->len;
	c->body_sent = 0;
	c->release = r->release;
	c->cls = r->cls;
	if (head_only || !c->head_len)
		release_body(c);
	if (!c->head_len)
		c->close_after = true; /* cannot happen with our fields; never send half a head */
	c->state = C_WRITE;
}

/* A refusal of the engine's own (400, 408, 414, 431, 503, 505): text, then close. */
static void conn_refuse(struct http_engine *e, struct conn *c, unsigned status)
{
	const char *text;
	switch (status) {
	case 400:
		text = "bad request\n";
		break;
	case 408:
		text = "the request took too long; retry\n";
		break;
	case 414:
		text = "query string too long: at most 8 KiB and 512 parameters\n";
		break;
	case 431:
		text = "request header fields too large\n";
		break;
	case 503:
		text = "too many connections from this address or in all; retry\n";
		break;
	case 505:
		text = "HTTP version not supported: use HTTP/1.1\n";
		break;
	default:
		text = "refused\n";
		break;
	}
	struct http_response r;
	http_response_set(&r, status, "text/plain; charset=utf-8", text, strlen(text), NULL, NULL);
	if (status == 503) {
		char v[16];
		snprintf(v, sizeof(v), "%u", e->cfg.limits.retry_after_s);
		http_response_field(&r, "Retry-After", v);
	}
	if (status == 414)
		atomic_fetch_add(&e->uri_too_long, 1);
	conn_respond(c, &r, false, false, false);
}

/* A complete head of `used` bytes is at c->in: answer it. */
static void conn_dispatch(struct worker *w, struct conn *c, struct wire_request *rq, size_t used)
{
	struct http_engine *e = w->e;
	bool head_only = strcmp(rq->method, "HEAD") == 0;
	bool keep = rq->keep_alive && !rq->chunked && rq->body <= DISCARD_MAX;
	if (c->over) {
		conn_refuse(e, c, 503);
		atomic_fetch_add(&e->refused, 1);
	} else {
		struct http_response r = {.status = 500};
		struct http_request q = {.head = rq, .peer = &c->peer, .tls = c->tls};
		e->cfg.handle(e->cfg.ctx, &q, &r);
		conn_respond(c, &r, head_only, keep, rq->minor == 0);
	}
	/* The head is answered: what follows it is the body, then the next request. */
	long long body = rq->chunked ? 0 : rq->body;
	size_t drop =
	    used +
	    (size_t)(body < (long long)(c->in_len - used) ? body : (long long)(c->in_len - used));
	memmove(c->in, c->in + drop, c->in_len - drop);
	c->in_len -= drop;
	c->discard = body - (long long)(drop - used);
}

/* The response is sent: next request, body to drop, or close. */
static void conn_finished(struct worker *w, struct conn *c)
{
	release_body(c);
	c->answered = true;
	if (c->close_after) {
		if (c->tls)
			gnutls_bye(c->tls, GNUTLS_SHUT_WR); /* best effort; never waits */
		shutdown(c->fd, SHUT_WR);
		c->in_len = 0;
		c->state = C_LINGER;
		/* Answered: waiting for the client's FIN is no longer the client's connection.
		 * Counted until then, a client's closed connections (whose FIN was not read
		 * yet) kept its new ones at 503: 40 threads scraping in turn got 27 of 200. */
		engine_count_answered(w->e, c);
		conn_set_deadline(w, c, engine_now() + LINGER_S);
		return;
	}
	conn_set_deadline(w, c, engine_now() + w->e->cfg.limits.request_s);
	c->state = c->discard > 0 ? C_DISCARD : C_HEAD;
	if (!c->in_len) /* idle between requests: hold no buffer */
		in_free(c);
}

/* Room to read into at c->in; false when the head has outgrown IN_MAX.  IN_FIRST bytes
 * come from malloc; a head longer than that gets a mapping of IN_MAX of its own, unmapped
 * when the connection is done with it.  From malloc, a hostile client's long heads (up to
 * IN_MAX on every connection it may open) stayed in the workers' arenas after the
 * connections closed: 1,500 connections of 30 KB heads left the agent at 56 MB. */
static bool conn_room(struct conn *c)
{
	if (c->in_len < c->in_cap)
		return true;
	if (c->in_cap >= IN_MAX)
		return false;
	if (!c->in_cap) {
		c->in = malloc(IN_FIRST);
		c->in_cap = c->in ? IN_FIRST : 0;
		return c->in != NULL;
	}
	char *p = mmap(NULL, IN_MAX, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return false;
	memcpy(p, c->in, c->in_len);
	free(c->in);
	c->in = p;
	c->in_cap = IN_MAX;
	return true;
}

void conn_run(struct worker *w, struct conn *c)
{
	struct http_engine *e = w->e;
	if (c->yielded) {
		c->yielded = false;
		w->yielded--;
	}
	for (int steps = 0; steps < 64; steps++) {
		ssize_t n;
		switch (c->state) {
		case C_HANDSHAKE: {
			int rc = gnutls_handshake(c->tls);
			if (rc == GNUTLS_E_SUCCESS) {
				c->state = C_HEAD;
				continue;
			}
			if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED ||
			    !gnutls_error_is_fatal(rc)) {
				if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
					set_interest(w, c, tls_wants(c));
					return;
				}
				continue;
			}
			conn_close(w, c);
			return;
		}
		case C_HEAD: {
			if (c->in_len) {
				struct wire_request rq;
				struct wire_limits lim = {e->cfg.limits.query_max,
				                          e->cfg.limits.params_max};
				long used = wire_parse(c->in, c->in_len, &lim, &rq);
				if (used > 0) {
					conn_dispatch(w, c, &rq, (size_t)used);
					continue;
				}
				if (used < 0) {
					conn_refuse(e, c, (unsigned)-used);
					continue;
				}
			}
			if (!conn_room(c)) {
				/* Still no end of the request line (past the empty lines a client
				 * may send first): the target is too long. */
				size_t at = 0;
				while (at < c->in_len && (c->in[at] == '\r' || c->in[at] == '\n'))
					at++;
				bool line = memchr(c->in + at, '\n', c->in_len - at) != NULL;
				conn_refuse(e, c, line ? 431 : 414);
				continue;
			}
			n = conn_read(c, c->in + c->in_len, c->in_cap - c->in_len);
			if (n > 0) {
				c->in_len += (size_t)n;
				continue;
			}
			if (n == IO_AGAIN) {
				if (!c->in_len)
					in_free(c);
				set_interest(w, c, c->tls ? tls_wants(c) : EPOLLIN);
				return;
			}
			conn_close(w, c); /* closed by the client, or broken */
			return;
		}
		case C_WRITE:
			if (c->head_sent == c->head_len && c->body_sent == c->body_len) {
				conn_finished(w, c);
				continue;
			}
			n = conn_write(c);
			if (n >= 0) {
				size_t head_left = c->head_len - c->head_sent;
				size_t to_head = (size_t)n < head_left ? (size_t)n : head_left;
				c->head_sent += to_head;
				c->body_sent += (size_t)n - to_head;
				continue;
			}
			if (n == IO_AGAIN) {
				set_interest(w, c, c->tls ? tls_wants(c) : EPOLLOUT);
				return;
			}
			conn_close(w, c);
			return;
		case C_DISCARD:
		case C_LINGER: {
			char sink[4096];
			if (c->state == C_DISCARD && c->discard <= 0) {
				c->state = C_HEAD;
				continue;
			}
			size_t want = sizeof(sink);
			if (c->state == C_DISCARD && c->discard < (long long)want)
				want = (size_t)c->discard;
			n = conn_read(c, sink, want);
			if (n > 0) {
				if (c->state == C_DISCARD)
					c->discard -= n;
				continue;
			}
			if (n == IO_AGAIN) {
				set_interest(w, c, c->tls ? tls_wants(c) : EPOLLIN);
				return;
			}
			conn_close(w, c);
			return;
		}
		}
	}
	/* A client that keeps us busy (pipelined requests) yields to the others, and runs
	 * again after them without waiting for its socket: what it sent may already be read
	 * (in c->in, or decrypted inside GnuTLS), where epoll cannot see it. */
	c->yielded = true;
	w->yielded++;
}

double conn_reap(struct worker *w, double now)
{
	struct http_engine *e = w->e;
	double next = now + 3600;
	for (struct conn *c = w->conns, *after; c; c = after) {
		after = c->next;
		if (c->deadline > now) {
			if (c->deadline < next)
				next = c->deadline;
			continue;
		}
		/* A kept-alive connection that sent nothing since its last answer is only idle:
		 * closed without a word, and not counted as cut (Prometheus pools them). */
		bool idle = c->state == C_HEAD && c->answered && c->in_len == 0;
		/* Waiting for a head, nothing sent yet: say why before hanging up.  Mid-response
		 * (a reader too slow for the body) or mid-handshake there is no clean way to. */
		if (c->state == C_HEAD && !idle) {
			conn_refuse(e, c, c->over ? 503 : 408);
			(void)conn_write(c); /* what the socket takes now; never waits */
		}
		if (c->state != C_LINGER && !idle)
			atomic_fetch_add(&e->cut, 1);
		conn_close(w, c);
	}
	return next;
}
