/* strbuf.c - growable buffer; out-of-memory is sticky and checked once. */
#include "export/strbuf.h"

#include <float.h>
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

/* |v| rounded to p (<= 17) significant digits: d in [10^(p-1), 10^p) with |v| about
 * d * 10^(x-p+1).  In long double (64-bit mantissa; 10^s exact up to 10^27) a * 10^s is one
 * rounding off, under 1/128 of a unit of d, so d is the correctly rounded value unless
 * a * 10^s lies that close to a tie: then, and out of that range, false (printf decides). */
static bool round_digits(double a, int p, unsigned long long *d, int *x)
{
#if LDBL_MANT_DIG >= 64
	static const long double p10[] = {1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,
	                                  1e7L,  1e8L,  1e9L,  1e10L, 1e11L, 1e12L, 1e13L,
	                                  1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L,
	                                  1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
	const int top = (int)(sizeof(p10) / sizeof(p10[0])) - 1;
	unsigned long long lo = (unsigned long long)p10[p - 1], hi = (unsigned long long)p10[p];
	int e = (int)floor(log10(a));
	for (int tries = 0; tries < 3; tries++) {
		int s = p - 1 - e;
		if (s < -top || s > top)
			return false;
		long double m = s < 0 ? (long double)a / p10[-s] : (long double)a * p10[s];
		long double fl = floorl(m), frac = m - fl;
		if (fabsl(frac - 0.5L) < 1.0L / 64)
			return false;
		if (fl < lo) { /* a < 10^e: log10 rounded up */
			e--;
			continue;
		}
		if (fl >= hi) {
			e++;
			continue;
		}
		unsigned long long r = (unsigned long long)fl + (frac > 0.5L);
		if (r == hi) { /* rounded up to the next power of ten */
			*d = lo;
			*x = e + 1;
		} else {
			*d = r;
			*x = e;
		}
		return true;
	}
#else
	(void)a, (void)p, (void)d, (void)x;
#endif
	return false;
}

/* Whether the decimal d * 10^(x-p+1) reads back as a (strtod rounds correctly, and so
 * does one IEEE multiplication or division of exact operands). */
static bool reads_back(double a, unsigned long long d, int x, int p)
{
	static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
	                             1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	                             1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
	int k = x - p + 1;
	if (d > (1ULL << 53) || k > 22 || k < -22)
		return false;
	return (k >= 0 ? (double)d * p10[k] : (double)d / p10[-k]) == a;
}

/* printf's "%.<p>g" in fixed notation (the caller saw -4 <= x < p) of the digits d: the
 * point placed, the fraction's trailing zeros dropped, and the point with them when
 * nothing follows it. */
static void append_g(struct strbuf *sb, bool negative, unsigned long long d, int x, int p)
{
	char dig[20], out[48];
	for (int i = p - 1; i >= 0; i--, d /= 10)
		dig[i] = (char)('0' + d % 10);
	int n = p;
	while (n > x + 1 && dig[n - 1] == '0')
		n--;
	size_t o = 0;
	if (negative)
		out[o++] = '-';
	if (x >= 0) {
		memcpy(out + o, dig, (size_t)x + 1);
		o += (size_t)x + 1;
		if (n > x + 1) {
			out[o++] = '.';
			memcpy(out + o, dig + x + 1, (size_t)(n - x - 1));
			o += (size_t)(n - x - 1);
		}
	} else {
		out[o++] = '0';
		out[o++] = '.';
		for (int z = 0; z < -x - 1; z++)
			out[o++] = '0';
		memcpy(out + o, dig, (size_t)n);
		o += (size_t)n;
	}
	sb_append(sb, out, o);
}

/* What "%.0f" for a whole number below 10^15, else "%.15g" when that reads back as v, else
 * "%.17g" print, without printf (a tick writes tens of thousands of values): the digits
 * come from round_digits.  Exponent notation, near-ties and values out of range take
 * printf, as every value did before. */
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
	if (a < 1e15 && a == floor(a)) {
		if (signbit(v))
			sb_append(sb, "-", 1); /* "%.0f" of -0.0 is "-0" too */
		sb_uint(sb, (unsigned long long)a);
		return;
	}
	unsigned long long d;
	int x;
	if (round_digits(a, 15, &d, &x) && x >= -4 && x < 15) {
		if (reads_back(a, d, x, 15)) {
			append_g(sb, v < 0, d, x, 15);
			return;
		}
		if (round_digits(a, 17, &d, &x) && x >= -4 && x < 17) {
			append_g(sb, v < 0, d, x, 17);
			return;
		}
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
