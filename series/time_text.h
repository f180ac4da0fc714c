/* time_text.h - durations, spans and points in time as people write them.
 *
 * Pure parsers over text, shared by the commands' options (cmd/), the history readers'
 * requests (report/series.c) and anything else that takes a time from outside: they keep
 * no state and reach nothing, so they sit in series/ below every room that reads one.
 */
#ifndef GPUSCOPE_TIME_TEXT_H
#define GPUSCOPE_TIME_TEXT_H

/* Parses "100ms", "5s", "1.5s", "2m" into seconds; returns 0 or -1.  Numbers are plain
 * decimals: "0x10s", "1e3s", "inf", " 5s" are errors. */
int parse_duration(const char *text, double *seconds);

/* Parses a longer span: "90s", "10m", "48h", "90d", "2w" (a plain decimal and one
 * unit, s m h d w) into seconds, at most PARSE_SPAN_MAX_S; returns 0 or -1.  For
 * retentions and report windows, where hours and days are the natural units. */
#define PARSE_SPAN_MAX_S (100 * 366 * 86400.0) /* 100 years */
int parse_span(const char *text, double *seconds);

/* Parses a point in time: Unix seconds ("1700000000", at most PARSE_TIMESTAMP_MAX) or RFC 3339
 * ("2026-11-21T09:00:00Z", "2026-11-21T10:00:00+01:00", fraction ignored,
 * "2026-11-21 09:00:00Z" too); returns 0 or -1. */
int parse_timestamp(const char *text, long long *unix_s);
#define PARSE_TIMESTAMP_MAX 253402300799LL /* 9999-12-31T23:59:59Z */

#endif
