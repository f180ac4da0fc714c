/* options.h - command-line pieces shared by the commands. */
#ifndef GPUSCOPE_OPTIONS_H
#define GPUSCOPE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

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

/* Options every GPU-reading command takes. */
struct gpu_opts {
	const char *nvml_lib; /* --nvml-lib */
	bool demo;            /* --demo */
	const char *scenario; /* --demo SCENARIO */
};

/* Tries argv[*i] as a shared option (advancing *i past any value).
 * Returns 1 when taken, 0 when not ours, -1 on a bad value (err filled). */
int gpu_opts_take(struct gpu_opts *o, int argc, char **argv, int *i, char *err, size_t errlen);

/* Is arg one of the NULL-terminated option names?  Commands ask it of their options that
 * take a value, so a last word that lacks one says "needs a value" and any other unknown
 * word says "unknown option". */
bool option_is_one_of(const char *arg, const char *const *names);

/* Prints "gpuscope CMD: <message>" and a pointer to `gpuscope CMD --help` to stderr;
 * returns 2, the exit status of bad usage. */
int cmd_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
