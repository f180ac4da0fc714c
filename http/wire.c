/* wire.c - the request head parser; see wire.h.
 *
 * Two passes over the head: a read-only one finds where it ends and checks the request line
 * (so a head still arriving is never changed, and a bad request line is refused at once),
 * then one that ends fields with NULs and decodes the path and query in place.  Lenient
 * where RFC 9112 allows it (empty lines before the request line, a bare LF for CRLF),
 * strict where leniency is how requests get smuggled (folded lines, blanks before a
 * field's colon, two different Content-Lengths). */
#include "http/wire.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#define METHOD_MAX 16

/* RFC 9110 token characters (method, field names). */
static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The request line's parts, found without changing the buffer. */
struct line_spans {
	size_t method, method_len; /* offsets into buf */
	size_t target, target_len;
	size_t end; /* offset just past the line's LF */
	unsigned minor;
};

/* Checks the request line that starts at `at`; 0 when good (or not yet whole, with
 * s->end == 0), else the status of the refusal. */
static int check_request_line(const char *buf, size_t len, size_t at, const struct wire_limits *lim,
                              struct line_spans *s)
{
	s->end = 0;
	size_t i = at;
	while (i < len && is_tchar((unsigned char)buf[i]))
		i++;
	s->method = at;
	s->method_len = i - at;
	if (i == len)
		return s->method_len > METHOD_MAX ? 400 : 0;
	if (s->method_len == 0 || s->method_len > METHOD_MAX || buf[i] != ' ')
		return 400;
	s->target = ++i;
	while (i < len && (unsigned char)buf[i] > ' ' && buf[i] != 0x7f)
		i++;
	s->target_len = i - s->target;
	/* The query's limits hold while it is still arriving: a query that is already too
	 * long is refused at once, however the line ends. */
	const char *q = memchr(buf + s->target, '?', s->target_len);
	if (q) {
		size_t qlen = (size_t)(buf + i - q - 1), params = 1;
		for (const char *p = q + 1; p < buf + i; p++)
			params += *p == '&';
		if (qlen > lim->query_max || params > lim->params_max)
			return 414;
	}
	if (i == len)
		return 0;
	if (s->target_len == 0 || buf[i] != ' ')
		return 400;
	i++;
	static const char http[] = "HTTP/";
	size_t have = len - i < 8 ? len - i : 8;
	if (memcmp(buf + i, http, have < 5 ? have : 5) != 0)
		return 400;
	/* The version's characters as far as they came: 1.0 and 1.1 only. */
	const char *v = buf + i + 5;
	size_t vn = have <= 5 ? 0 : have - 5 < 3 ? have - 5 : 3;
	if (vn >= 1 && (v[0] < '0' || v[0] > '9'))
		return 400;
	if (vn >= 1 && v[0] != '1')
		return 505;
	if (vn >= 2 && v[1] != '.')
		return 400;
	if (vn >= 3 && (v[2] < '0' || v[2] > '9'))
		return 400;
	if (vn >= 3 && v[2] > '1')
		return 505;
	if (have < 8)
		return 0;
	s->minor = (unsigned)(v[2] - '0');
	i += 8;
	if (i < len && buf[i] == '\r')
		i++;
	if (i == len)
		return 0;
	if (buf[i] != '\n')
		return 400;
	s->end = i + 1;
	return 0;
}

/* Percent-decodes [p, end) to out (out <= p: in place); false on a bad escape or NUL. */
static bool decode(const char *p, const char *end, char *out, bool plus, size_t *out_len)
{
	char *o = out;
	while (p < end) {
		unsigned char c = (unsigned char)*p++;
		if (c == '%') {
			int hi = end - p >= 2 ? hex_value((unsigned char)p[0]) : -1;
			int lo = hi >= 0 ? hex_value((unsigned char)p[1]) : -1;
			if (lo < 0 || (hi == 0 && lo == 0))
				return false;
			c = (unsigned char)(hi * 16 + lo);
			p += 2;
		} else if (c == '+' && plus) {
			c = ' ';
		}
		*o++ = (char)c;
	}
	*out_len = (size_t)(o - out);
	return true;
}

/* Splits and decodes the query [q, end) in place into pairs: "key\0value\0", or "key\1" for
 * a bare key ("?plain").  Each pair is no longer than its raw text with its separator, and
 * the last one's separator is the byte at end (the blank after the target).  Keys holding
 * control characters are refused: \1 ends a bare key. */
static bool decode_query(char *q, char *end, unsigned *nparams)
{
	char *w = q;
	*nparams = 0;
	for (char *p = q; p < end;) {
		char *amp = memchr(p, '&', (size_t)(end - p));
		char *stop = amp ? amp : end;
		if (stop > p) {
			char *eq = memchr(p, '=', (size_t)(stop - p));
			size_t n;
			if (!decode(p, eq ? eq : stop, w, true, &n))
				return false;
			for (size_t i = 0; i < n; i++)
				if ((unsigned char)w[i] < ' ')
					return false;
			w += n;
			if (eq) {
				*w++ = '\0';
				if (!decode(eq + 1, stop, w, true, &n) || memchr(w, '\0', n))
					return false;
				w += n;
				*w++ = '\0';
			} else {
				*w++ = '\1';
			}
			(*nparams)++;
		}
		p = stop + 1;
	}
	return true;
}

/* The field line [p, eol) (CR stripped) into out; 0 or a refusal status. */
static int parse_field(char *p, char *eol, struct wire_request *out)
{
	char *colon = p;
	while (colon < eol && is_tchar((unsigned char)*colon))
		colon++;
	if (colon == p || colon == eol || *colon != ':')
		return 400; /* includes blanks before the colon */
	*colon = '\0';
	char *v = colon + 1, *ve = eol;
	while (v < ve && (*v == ' ' || *v == '\t'))
		v++;
	while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
		ve--;
	for (char *c = v; c < ve; c++)
		if ((unsigned char)*c < ' ' && *c != '\t')
			return 400;
	*ve = '\0';
	if (out->nheaders == WIRE_HEADERS_MAX)
		return 431;
	out->headers[out->nheaders++] = (struct wire_header){p, v};
	return 0;
}

/* Content-Length, Transfer-Encoding and Connection: what the engine does with the bytes. */
static int framing(struct wire_request *r)
{
	long long length = -1;
	r->keep_alive = r->minor >= 1;
	for (unsigned i = 0; i < r->nheaders; i++) {
		const struct wire_header *h = &r->headers[i];
		if (strcasecmp(h->name, "Content-Length") == 0) {
			long long n = 0;
			const char *d = h->value;
			if (!*d)
				return 400;
			for (; *d; d++) {
				if (*d < '0' || *d > '9' || n > (long long)1e15)
					return 400;
				n = n * 10 + (*d - '0');
			}
			if (length >= 0 && n != length)
				return 400;
			length = n;
		} else if (strcasecmp(h->name, "Transfer-Encoding") == 0) {
			r->chunked = true;
		} else if (strcasecmp(h->name, "Connection") == 0) {
			/* A list of tokens: "keep-alive, Upgrade". */
			for (const char *t = h->value; *t;) {
				while (*t == ' ' || *t == '\t' || *t == ',')
					t++;
				size_t n = strcspn(t, " \t,");
				if (n == 5 && strncasecmp(t, "close", 5) == 0)
					r->keep_alive = false;
				else if (n == 10 && strncasecmp(t, "keep-alive", 10) == 0 &&
				         r->minor == 0)
					r->keep_alive = true;
				t += n;
			}
		}
	}
	if (r->chunked && length >= 0)
		return 400; /* both: the classic smuggling shape */
	r->body = length > 0 ? length : 0;
	return 0;
}

long wire_parse(char *buf, size_t len, const struct wire_limits *lim, struct wire_request *out)
{
	size_t at = 0;
	while (at < len && (buf[at] == '\r' || buf[at] == '\n'))
		at++;
	struct line_spans s;
	int refused = check_request_line(buf, len, at, lim, &s);
	if (refused)
		return -refused;
	if (!s.end)
		return 0;
	/* The head ends at the first empty line after the request line. */
	size_t end = 0;
	for (size_t i = s.end; i < len;) {
		const char *lf = memchr(buf + i, '\n', len - i);
		if (!lf)
			break;
		size_t line = (size_t)(lf - (buf + i));
		if (line == 0 || (line == 1 && buf[i] == '\r')) {
			end = (size_t)(lf - buf) + 1;
			break;
		}
		if (buf[i] == ' ' || buf[i] == '\t')
			return -400; /* obsolete line folding */
		i = (size_t)(lf - buf) + 1;
	}
	if (!end)
		return 0;

	memset(out, 0, sizeof(*out));
	out->minor = s.minor;
	buf[s.method + s.method_len] = '\0';
	out->method = buf + s.method;
	char *t = buf + s.target, *te = t + s.target_len;
	size_t scheme = (size_t)(te - t) >= 8 && strncasecmp(t, "https://", 8) == 0  ? 8
	                : (size_t)(te - t) >= 7 && strncasecmp(t, "http://", 7) == 0 ? 7
	                                                                             : 0;
	if (scheme) {
		/* absolute-form (RFC 9112 3.2.2): the path is what follows the authority */
		char *slash = memchr(t + scheme, '/', (size_t)(te - t) - scheme);
		char *qm = memchr(t + scheme, '?', (size_t)(te - t) - scheme);
		if (!slash || (qm && qm < slash))
			return -400;
		t = slash;
	}
	if (*t != '/')
		return -400;
	char *qm = memchr(t, '?', (size_t)(te - t));
	size_t n;
	if (!decode(t, qm ? qm : te, t, false, &n))
		return -400;
	t[n] = '\0'; /* at most onto the '?' or the blank after the target */
	out->path = t;
	if (qm) {
		if (!decode_query(qm + 1, te, &out->nparams))
			return -400;
		out->query = qm + 1;
	}
	for (size_t i = s.end; i < end;) {
		char *lf = memchr(buf + i, '\n', end - i);
		char *eol = lf > buf + i && lf[-1] == '\r' ? lf - 1 : lf;
		if (eol == buf + i)
			break;
		int bad = parse_field(buf + i, eol, out);
		if (bad)
			return -bad;
		i = (size_t)(lf - buf) + 1;
	}
	refused = framing(out);
	return refused ? -refused : (long)end;
}

const char *wire_header(const struct wire_request *r, const char *name)
{
	for (unsigned i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

bool wire_arg(const struct wire_request *r, const char *key, const char **value)
{
	const char *p = r->query;
	size_t klen = strlen(key);
	for (unsigned i = 0; i < r->nparams; i++) {
		size_t n = strcspn(p, "\1"); /* to the key's \0 or \1 */
		bool bare = p[n] == '\1';
		const char *v = p + n + 1;
		if (n == klen && memcmp(p, key, n) == 0) {
			*value = bare ? NULL : v;
			return true;
		}
		p = bare ? v : v + strlen(v) + 1;
	}
	*value = NULL;
	return false;
}

static int base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

bool wire_basic_auth(const char *value, char *user, size_t user_len, char *pass, size_t pass_len)
{
	if (!value || strncasecmp(value, "Basic", 5) != 0 || (value[5] != ' ' && value[5] != '\t'))
		return false;
	const char *p = value + 5;
	while (*p == ' ' || *p == '\t')
		p++;
	char plain[512];
	size_t n = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	for (; *p && *p != '='; p++) {
		int v = base64_value((unsigned char)*p);
		if (v < 0)
			return false;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == sizeof(plain))
				return false;
			plain[n++] = (char)(acc >> bits & 0xff);
		}
	}
	while (*p == '=')
		p++;
	if (*p || memchr(plain, '\0', n))
		return false;
	const char *colon = memchr(plain, ':', n);
	if (!colon)
		return false;
	size_t ul = (size_t)(colon - plain), pl = n - ul - 1;
	if (ul >= user_len || pl >= pass_len)
		return false;
	memcpy(user, plain, ul);
	user[ul] = '\0';
	memcpy(pass, colon + 1, pl);
	pass[pl] = '\0';
	return true;
}

const char *wire_reason(unsigned status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Unknown";
	}
}
