/* promtext.c - the Prometheus text parser behind promtext.h.
 *
 * A line is `name[{label="value",...}] value [timestamp]`.  The cursor never passes the
 * line's end, which never passes len; strings are copied into the sample's fixed buffers
 * and truncated there (a label value longer than PROMTEXT_LVALUE_MAX keeps its prefix:
 * model names are the only long values we read, and a prefix still tells them apart).
 */
#include "servers/promtext.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* Copies [p, q) into dst (cap bytes with the NUL), truncating; false when it did not fit. */
static bool copy_span(char *dst, size_t cap, const char *p, const char *q)
{
	size_t n = (size_t)(q - p);
	bool fits = n < cap;
	if (!fits)
		n = cap - 1;
	memcpy(dst, p, n);
	dst[n] = 0;
	return fits;
}

/* Reads a quoted label value at p (just after the opening quote) into dst; returns the
 * position after the closing quote, or NULL when the line ends first. */
static const char *read_quoted(const char *p, const char *end, char *dst, size_t cap)
{
	size_t n = 0;
	while (p < end && *p != '"') {
		char c = *p++;
		if (c == '\\') {
			if (p >= end)
				return NULL;
			c = *p++;
			c = c == 'n' ? '\n' : c;
		}
		if (n + 1 < cap)
			dst[n++] = c;
	}
	dst[n] = 0;
	return p < end ? p + 1 : NULL;
}

/* Parses the label set at p (just after '{'); returns the position after '}', or NULL. */
static const char *read_labels(const char *p, const char *end, struct promtext_sample *s)
{
	for (;;) {
		p = skip_blanks(p, end);
		if (p < end && *p == '}')
			return p + 1;
		if (p >= end || !name_start(*p))
			return NULL;
		const char *q = p;
		while (q < end && name_char(*q))
			q++;
		bool keep = s->nlabels < PROMTEXT_LABELS_MAX;
		char scratch[PROMTEXT_LVALUE_MAX];
		char *lname = keep ? s->label_name[s->nlabels] : scratch;
		char *lvalue = keep ? s->label_value[s->nlabels] : scratch;
		copy_span(lname, PROMTEXT_LNAME_MAX, p, q);
		p = skip_blanks(q, end);
		if (p >= end || *p != '=')
			return NULL;
		p = skip_blanks(p + 1, end);
		if (p >= end || *p != '"')
			return NULL;
		p = read_quoted(p + 1, end, lvalue, PROMTEXT_LVALUE_MAX);
		if (!p)
			return NULL;
		if (keep)
			s->nlabels++;
		p = skip_blanks(p, end);
		if (p < end && *p == ',')
			p++;
		else if (p >= end || *p != '}')
			return NULL;
	}
}

/* The sample value: a float, NaN, +Inf or -Inf. */
static bool read_value(const char *p, const char *end, double *out)
{
	char tmp[64];
	const char *q = p;
	while (q < end && *q != ' ' && *q != '\t')
		q++;
	if (q == p || !copy_span(tmp, sizeof(tmp), p, q))
		return false;
	if (strcasecmp(tmp, "nan") == 0) {
		*out = NAN;
		return true;
	}
	if (strcasecmp(tmp, "+inf") == 0 || strcasecmp(tmp, "inf") == 0) {
		*out = INFINITY;
		return true;
	}
	if (strcasecmp(tmp, "-inf") == 0) {
		*out = -INFINITY;
		return true;
	}
	char *e;
	*out = strtod(tmp, &e);
	return *e == 0 && isfinite(*out);
}

/* One non-comment line; true when it was a sample. */
static bool parse_line(const char *p, const char *end, struct promtext_sample *s)
{
	if (!name_start(*p))
		return false;
	const char *q = p;
	while (q < end && name_char(*q))
		q++;
	if (!copy_span(s->name, sizeof(s->name), p, q))
		return false;
	s->nlabels = 0;
	p = skip_blanks(q, end);
	if (p < end && *p == '{') {
		p = read_labels(p + 1, end, s);
		if (!p)
			return false;
		p = skip_blanks(p, end);
	}
	return p < end && read_value(p, end, &s->value);
}

unsigned promtext_parse(const char *buf, size_t len, promtext_fn fn, void *ctx, unsigned *bad)
{
	struct promtext_sample s;
	unsigned samples = 0, wrong = 0;
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = eol ? eol : end;
		const char *q = skip_blanks(p, line_end);
		const char *trim = line_end;
		while (trim > q && (trim[-1] == '\r' || trim[-1] == ' ' || trim[-1] == '\t'))
			trim--;
		if (q < trim && *q != '#') {
			if (parse_line(q, trim, &s)) {
				samples++;
				fn(ctx, &s);
			} else {
				wrong++;
			}
		}
		p = eol ? eol + 1 : end;
	}
	if (bad)
		*bad = wrong;
	return samples;
}

const char *promtext_label(const struct promtext_sample *s, const char *name)
{
	for (unsigned i = 0; i < s->nlabels; i++)
		if (strcmp(s->label_name[i], name) == 0)
			return s->label_value[i];
	return NULL;
}

static bool same_char(char a, char b)
{
	return a == b || ((a == ':' || a == '_') && (b == ':' || b == '_'));
}

/* Length of the common prefix of a and b under same_char. */
static size_t common(const char *a, const char *b)
{
	size_t i = 0;
	while (a[i] && b[i] && same_char(a[i], b[i]))
		i++;
	return i;
}

bool promtext_name_eq(const char *have, const char *want)
{
	size_t i = common(have, want);
	const char *h = have + i, *w = want + i;
	if (!*h && !*w)
		return true;
	/* One side ends where the other goes on with "_total" (or ":total"). */
	const char *rest = *h ? h : w;
	return (!*h || !*w) && same_char(rest[0], '_') && strcmp(rest + 1, "total") == 0;
}

const char *promtext_name_suffix(const char *have, const char *base)
{
	size_t i = common(have, base);
	if (base[i])
		return NULL;
	const char *rest = have + i;
	static const char *const suffixes[] = {"", "_bucket", "_sum", "_count"};
	for (size_t k = 0; k < sizeof(suffixes) / sizeof(suffixes[0]); k++)
		if (strcmp(rest, suffixes[k]) == 0)
			return suffixes[k];
	return NULL;
}
