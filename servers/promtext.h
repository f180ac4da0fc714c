/* promtext.h - a parser of the Prometheus text exposition format (0.0.4, and the
 * OpenMetrics lines an inference server may send), as one pure function over a buffer.
 *
 * Inference servers are outside input: the parser never reads past len, never allocates,
 * and turns anything it cannot read into a counted bad line, never a crash.  Each sample
 * is handed to a callback with its name, its labels (unescaped, truncated to fixed sizes)
 * and its value; comments (# HELP, # TYPE, # EOF) are skipped, since the servers' name
 * tables (servers/kinds.h) know each name's type.  One parser call per scrape; the shape
 * (buffer in, callbacks out) is what a fuzz target needs.
 *
 * Names are compared with promtext_name_eq: ':' and '_' are the same character (vLLM's
 * "vllm:x" is sometimes re-exported as "vllm_x") and a trailing "_total" is optional
 * (prometheus_client adds it to counters, TGI's Rust exporter does not).
 */
#ifndef GPUSCOPE_SERVERS_PROMTEXT_H
#define GPUSCOPE_SERVERS_PROMTEXT_H

#include <stdbool.h>
#include <stddef.h>

#define PROMTEXT_NAME_MAX   160
#define PROMTEXT_LABELS_MAX 12
#define PROMTEXT_LNAME_MAX  48
#define PROMTEXT_LVALUE_MAX 128

struct promtext_sample {
	char name[PROMTEXT_NAME_MAX];
	unsigned nlabels;
	char label_name[PROMTEXT_LABELS_MAX][PROMTEXT_LNAME_MAX];
	char label_value[PROMTEXT_LABELS_MAX][PROMTEXT_LVALUE_MAX];
	double value; /* NaN and +-Inf as written */
};

typedef void (*promtext_fn)(void *ctx, const struct promtext_sample *s);

/* Parses buf[0..len) line by line and calls fn for every sample.  Returns the number of
 * samples; *bad (may be NULL) gets the number of lines that were not comments, blank or
 * samples (a name too long, a missing value, a broken label set...). */
unsigned promtext_parse(const char *buf, size_t len, promtext_fn fn, void *ctx, unsigned *bad);

/* The value of label `name`, or NULL. */
const char *promtext_label(const struct promtext_sample *s, const char *name);

/* True when `have` is `want` up to ':' vs '_' and an optional trailing "_total" on
 * either side. */
bool promtext_name_eq(const char *have, const char *want);

/* When `have` is `base` + suffix (with the same equivalences for base, no _total),
 * returns the suffix ("" for none, "_bucket", "_sum", "_count"); else NULL. */
const char *promtext_name_suffix(const char *have, const char *base);

#endif
