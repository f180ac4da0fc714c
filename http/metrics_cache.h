/* metrics_cache.h - /metrics bodies served from memory, rendered and compressed once a tick.
 *
 * A /metrics body is three parts, each cached on its own:
 *   values  every current value (the bulk: 200 KB at 8 GPUs, 1.5 MB at 64), one per
 *           format and tick, rendered on the first scrape of the tick that wants it;
 *   window  the scraper's window families (since its previous scrape), keyed by the
 *           window and the values part they go with, a few entries per format;
 *   tail    the families other rooms append (verdicts, alerts, servers) and the end
 *           marker, rendered on every scrape (they are copies of text kept elsewhere)
 *           and reused when the bytes are the same as last time.
 * The plain response is the three parts back to back, handed out by reference (no
 * copy here; the server joins them once per distinct body, told apart by the parts'
 * ids).  For gzip, each part is compressed at most once, lazily, as a raw deflate
 * segment that ends on a byte boundary (Z_SYNC_FLUSH, or the final block for the
 * tail); the response is a gzip header, the segments, and a trailer whose CRC-32 is
 * combined from the parts' (crc32_combine).  That is one ordinary gzip member, which
 * every client reads (curl and some browsers stop after the first of several members,
 * so concatenated members were not an option), and a scrape whose window and tail were
 * already seen costs no deflate at all.
 *
 * The owner renders (the cache knows no board, no formats): it passes callbacks.
 * Thread-safe: one lock per format, held while a part of that format is looked up,
 * rendered or compressed, so scrapers of one format in one tick wait for one rendering
 * instead of doing it again.  Memory is bounded: per format one values part, one tail
 * and METRICS_CACHE_WINDOWS windows, each with its deflate segment, plus the parts
 * that responses still being sent hold (reference counted).
 */
#ifndef GPUSCOPE_METRICS_CACHE_H
#define GPUSCOPE_METRICS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export/strbuf.h"

#define METRICS_CACHE_WINDOWS 8

/* How the owner renders each part (appending to out).  values also returns the
 * generation its data reflects; window and tail may be NULL (nothing). */
struct metrics_cache_render {
	void *ctx;
	void (*values)(void *ctx, bool om, struct strbuf *out, uint64_t *generation);
	void (*window)(void *ctx, bool om, int64_t from, int64_t to, struct strbuf *out);
	void (*tail)(void *ctx, bool om, struct strbuf *out);
};

/* One scrape. */
struct metrics_request {
	bool om;             /* OpenMetrics (else text 0.0.4) */
	bool gz;             /* gzip */
	bool window;         /* with window families [from, to] */
	int64_t from, to;    /* whole seconds, as scrape_clients_window gives them */
	uint64_t generation; /* the board's now */
	double now;          /* monotonic seconds */
};

struct metrics_cache;

/* fresh_s: a values part is rendered again only when the generation moved and it is
 * at least this old (one fast tick). */
struct metrics_cache *metrics_cache_new(const struct metrics_cache_render *r, double fresh_s);
void metrics_cache_free(struct metrics_cache *c);

/* Forgets every part (the exposition's look changed: SIGHUP); the next scrape renders. */
void metrics_cache_clear(struct metrics_cache *c);

/* A body being sent: a few byte ranges, and the references that keep them alive. */
struct metrics_iov {
	const void *base;
	size_t len;
};
#define METRICS_RESPONSE_IOV 5
struct metrics_response {
	struct metrics_iov iov[METRICS_RESPONSE_IOV];
	unsigned niov;
	size_t len; /* the sum of the ranges */
	struct metrics_part *part[3];
	/* The parts' identities (0: none), unique in the process: two responses of one
	 * format and encoding with the same ids are the same bytes. */
	uint64_t id[3];
	unsigned char trailer[8];
};

/* The body for one scrape, or NULL when out of memory.  Free with metrics_response_free
 * (a free callback's shape) once the bytes are sent. */
struct metrics_response *metrics_cache_get(struct metrics_cache *c,
                                           const struct metrics_request *q);
void metrics_response_free(void *resp);

/* What the cache did so far, for tests and benchmarks. */
struct metrics_cache_stats {
	unsigned long long values_rendered, values_deflated;
	unsigned long long windows_rendered, windows_deflated;
	unsigned long long tails_deflated;
};
void metrics_cache_get_stats(struct metrics_cache *c, struct metrics_cache_stats *st);

#endif
