/* wire.h - an HTTP/1.x request head, parsed in place: the one parser of what a client sends.
 *
 * The agent answers GET and HEAD of small resources, so a request is its head: the request
 * line and the header fields up to the empty line.  The parser is a pure function over the
 * bytes read so far (the engine, engine.h, owns sockets and buffers), so the unit tests and
 * the fuzz target (fuzz/fuzz_wire.c) reach every branch without a server.  It writes NULs
 * into the buffer to end each field and decodes the path and the query's parameters in
 * place (percent-encoding, '+' as space in the query), so a parsed request costs no
 * allocation.  Bodies are never read: the engine discards a Content-Length body and closes
 * the connection after a chunked one.
 *
 * Refusals carry the status to answer: 400 for a malformed head, 414 for a query over the
 * limits, 431 for too many header fields, 505 for a version other than 1.0 and 1.1 (a head
 * too long for the engine's buffer is its 414 or 431). */
#ifndef GPUSCOPE_HTTP_WIRE_H
#define GPUSCOPE_HTTP_WIRE_H

#include <stdbool.h>
#include <stddef.h>

/* Header fields kept per request; more is 431. */
#define WIRE_HEADERS_MAX 64

struct wire_header {
	const char *name, *value; /* value trimmed of surrounding blanks */
};

struct wire_request {
	const char *method;
	const char *path;  /* percent-decoded, starts with '/' */
	const char *query; /* the decoded parameters, read with wire_arg */
	unsigned nparams;  /* pairs in query */
	unsigned minor;    /* HTTP/1.minor: 0 or 1 */
	bool keep_alive;   /* what the version and Connection fields ask */
	long long body;    /* Content-Length; 0 when absent */
	bool chunked;      /* Transfer-Encoding: chunked (the body's end is unknown to us) */
	unsigned nheaders;
	struct wire_header headers[WIRE_HEADERS_MAX];
};

struct wire_limits {
	size_t query_max;    /* bytes of raw query string; more: 414 */
	unsigned params_max; /* parameters; more: 414 */
};

/* Parses the head at the start of buf[0, len).  Returns the head's length (request line to
 * the empty line, inclusive) when it is complete and valid, filling *out with pointers into
 * buf; 0 when more bytes are needed; or minus the HTTP status of a refusal.  A refusal may
 * come before the head is complete (a bad request line is bad however it goes on).  buf is
 * left unchanged while the head is incomplete (0), so it can be parsed again when more
 * bytes came; otherwise its head is changed in place. */
long wire_parse(char *buf, size_t len, const struct wire_limits *lim, struct wire_request *out);

/* The first header field called name (case-insensitive), or NULL. */
const char *wire_header(const struct wire_request *r, const char *name);

/* True when the query has parameter key; *value is its decoded value, NULL for a bare key
 * ("?plain"). */
bool wire_arg(const struct wire_request *r, const char *key, const char **value);

/* Basic credentials of an Authorization field value ("Basic <base64 of user:pass>"):
 * true when well formed and both fit (NUL included), user without ':'. */
bool wire_basic_auth(const char *value, char *user, size_t user_len, char *pass, size_t pass_len);

/* The reason phrase of a status this server sends ("Not Found"); "Unknown" otherwise. */
const char *wire_reason(unsigned status);

#endif
