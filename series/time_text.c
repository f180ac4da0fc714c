/* time_text.c - durations, spans and timestamps from text (see time_text.h). */
#include "series/time_text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A plain decimal number ("5", "1.5", ".5") at the start of text; *end after it.  Not
 * strtod: that also takes "0x10", "1e300", "inf" and leading blanks, none of which is a
 * duration anyone means.  At most 12 digits before the point, so any product with a unit
 * stays far inside a 64-bit second count. */
static int parse_decimal(const char *text, double *v, const char **end)
{
	size_t whole = strspn(text, "0123456789"), len = whole;
	if (text[len] == '.')
		len += 1 + strspn(text + len + 1, "0123456789");
	if ((whole == 0 && len <= 1) || whole > 12) /* no digit at all, or absurdly many */
		return -1;
	char num[64]; /* digits of a fraction past the 50th change nothing */
	size_t keep = len < sizeof(num) - 1 ? len : sizeof(num) - 1;
	memcpy(num, text, keep);
	num[keep] = '\0';
	*v = strtod(num, NULL);
	*end = text + len;
	return 0;
}

int parse_duration(const char *text, double *seconds)
{
	if (!text || !*text)
		return -1;
	const char *end;
	double v;
	if (parse_decimal(text, &v, &end) != 0)
		return -1;
	double scale;
	if (strcmp(end, "ms") == 0)
		scale = 1e-3;
	else if (strcmp(end, "s") == 0)
		scale = 1;
	else if (strcmp(end, "m") == 0)
		scale = 60;
	else
		return -1;
	*seconds = v * scale;
	return 0;
}

int parse_span(const char *text, double *seconds)
{
	if (!text || !*text)
		return -1;
	const char *end;
	double v;
	if (parse_decimal(text, &v, &end) != 0 || !*end || end[1])
		return -1;
	static const char units[] = "smhdw";
	static const double scale[] = {1, 60, 3600, 86400, 7 * 86400};
	const char *u = strchr(units, *end);
	if (!u)
		return -1;
	if (v * scale[u - units] > PARSE_SPAN_MAX_S)
		return -1;
	*seconds = v * scale[u - units];
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so no timegm() and no TZ environment is involved. */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

int parse_timestamp(const char *text, long long *unix_s)
{
	if (!text || !*text)
		return -1;
	char *end;
	if (strspn(text, "0123456789") == strlen(text)) {
		errno = 0;
		long long v = strtoll(text, &end, 10);
		if (*end || errno || v > PARSE_TIMESTAMP_MAX)
			return -1;
		*unix_s = v;
		return 0;
	}
	int y, mo, d, h, mi, s, n = 0;
	if (sscanf(text, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &n) != 6 ||
	    n != 19)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
		return -1;
	const char *p = text + n;
	if (*p == '.') {
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	long long offset = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om, k = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &k) != 2 || k != 5 || oh > 23 || om > 59)
			return -1;
		offset = (oh * 3600LL + om * 60LL) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	*unix_s = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400LL + h * 3600LL + mi * 60LL +
	          s - offset;
	return 0;
}
