/* strbuf.c - growable buffer; out-of-memory is sticky and checked once. */
#include "export/strbuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sb_init(struct strbuf *sb, size_t cap)
{
	sb->len = 0;
	sb->oom = false;
	sb->cap = cap ? cap : 256;
	sb->data = malloc(sb->cap);
	if (!sb->data) {
		sb->cap = 0;
		sb->oom = true;
	} else {
		sb->data[0] = 0;
	}
}

void sb_free(struct strbuf *sb)
{
	free(sb->data);
	sb->data = NULL;
	sb->len = sb->cap = 0;
}

static bool reserve(struct strbuf *sb, size_t extra)
{
	if (sb->oom)
		return false;
	if (sb->len + extra + 1 <= sb->cap)
		return true;
	size_t cap = sb->cap ? sb->cap : 256;
	while (cap < sb->len + extra + 1)
		cap *= 2;
	char *p = realloc(sb->data, cap);
	if (!p) {
		sb->oom = true;
		return false;
	}
	sb->data = p;
	sb->cap = cap;
	return true;
}

void sb_append(struct strbuf *sb, const char *s, size_t n)
{
	if (!reserve(sb, n))
		return;
	memcpy(sb->data + sb->len, s, n);
	sb->len += n;
	sb->data[sb->len] = 0;
}

void sb_puts(struct strbuf *sb, const char *s)
{
	sb_append(sb, s, strlen(s));
}

void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char small[256];
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		sb_append(sb, small, (size_t)n);
		return;
	}
	if (!reserve(sb, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

void sb_uint(struct strbuf *sb, unsigned long long u)
{
	char buf[24], *p = buf + sizeof(buf);
	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	sb_append(sb, p, (size_t)(buf + sizeof(buf) - p));
}

/* Whether |v| is r / 10^k for some k in 1..6 and r < 10^15 (the smallest such k). */
static bool short_decimal(double a, unsigned long long *r, int *k, unsigned long long *p10)
{
	if (a < 1e-4 || a >= 1e15)
		return false;
	*p10 = 1;
	for (*k = 1; *k <= 6; ++*k) {
		*p10 *= 10;
		double m = nearbyint(a * (double)*p10);
		if (m >= 1e15)
			return false;
		if (m / (double)*p10 == a) {
			*r = (unsigned long long)m;
			return true;
		}
	}
	return false;
}

/* The fast paths print what "%.0f" and "%.15g" print, without printf (the exposition
 * writes tens of thousands of values a tick).  A whole number below 10^15 is its digits.
 * Otherwise, when some r / 10^k (k <= 6, r < 10^15) rounds to |v| exactly, that decimal
 * has at most 15 significant digits and |v| is the double nearest to it, so "%.15g"
 * rounds |v| back to it (half an ulp is well inside half a unit of the 15th digit), it
 * reads back as v, and the smallest such k leaves no trailing zero; |v| >= 1e-4 keeps
 * "%g" in fixed notation.  Anything else (window means, 16-17 digit values) takes printf. */
void sb_double(struct strbuf *sb, double v)
{
	if (isnan(v)) {
		sb_puts(sb, "NaN");
		return;
	}
	if (isinf(v)) {
		sb_puts(sb, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	double a = fabs(v);
	unsigned long long r, p10;
	int k;
	if (a < 1e15 && a == floor(a)) {
		if (signbit(v))
			sb_append(sb, "-", 1); /* "%.0f" of -0.0 is "-0" too */
		sb_uint(sb, (unsigned long long)a);
		return;
	}
	if (short_decimal(a, &r, &k, &p10)) {
		char frac[8];
		unsigned long long f = r % p10;
		for (int i = k - 1; i >= 0; i--, f /= 10)
			frac[i] = (char)('0' + f % 10);
		if (v < 0)
			sb_append(sb, "-", 1);
		sb_uint(sb, r / p10);
		sb_append(sb, ".", 1);
		sb_append(sb, frac, (size_t)k);
		return;
	}
	char buf[40];
	snprintf(buf, sizeof(buf), "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, sizeof(buf), "%.17g", v);
	sb_puts(sb, buf);
}

void sb_label_value(struct strbuf *sb, const char *s)
{
	for (;;) {
		size_t run = strcspn(s, "\\\"\n");
		sb_append(sb, s, run);
		s += run;
		if (!*s)
			return;
		sb_puts(sb, *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : "\\n");
		s++;
	}
}
