/* metrics_cache.c - the /metrics part cache and its gzip framing (see metrics_cache.h). */
#include "http/metrics_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#ifdef GPUSCOPE_HAVE_ISAL
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#endif

/* One part: its text, and once asked its raw deflate segment.  A part's fields are
 * written before it is published under the format lock and never after, except z,
 * which is set once under that lock; responses read only what they were given. */
struct metrics_part {
	atomic_int refs;
	uint64_t id; /* unique in the process (part_from) */
	char *text;
	size_t len;
	uint32_t crc; /* CRC-32 of text, set with z */
	unsigned char *z;
	size_t zlen;
	/* the key: values (serial, generation, rendered at); windows (from, to, the serial
	 * of the values part they were rendered with) */
	uint64_t serial, generation;
	double at;
	int64_t from, to;
	uint64_t used; /* windows: the format's use counter when last served */
};

struct metrics_format {
	pthread_mutex_t lock;
	struct metrics_part *values;
	struct metrics_part *window[METRICS_CACHE_WINDOWS];
	struct metrics_part *tail;
	uint64_t serial, uses;
	size_t window_len;                 /* of the last window part rendered */
	struct metrics_deflater *deflater; /* made on the first gzip scrape */
};

struct metrics_cache {
	struct metrics_cache_render r;
	double fresh_s;
	struct metrics_format fmt[2]; /* [om] */
	atomic_ullong n_values, n_values_z, n_windows, n_windows_z, n_tails_z;
};

/* The gzip header of every response: deflate, no name, no time, Unix. */
static const unsigned char gzip_header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};

static void part_unref(struct metrics_part *p)
{
	if (p && atomic_fetch_sub(&p->refs, 1) == 1) {
		free(p->text);
		free(p->z);
		free(p);
	}
}

static struct metrics_part *part_ref(struct metrics_part *p)
{
	atomic_fetch_add(&p->refs, 1);
	return p;
}

/* A part that takes sb's bytes; NULL (sb freed) when sb ran out of memory. */
static struct metrics_part *part_from(struct strbuf *sb)
{
	struct metrics_part *p = sb->oom ? NULL : calloc(1, sizeof(*p));
	if (!p) {
		sb_free(sb);
		return NULL;
	}
	static atomic_ullong next_id = 1;
	atomic_init(&p->refs, 1);
	p->id = atomic_fetch_add(&next_id, 1);
	p->text = sb->data;
	p->len = sb->len;
	sb->data = NULL;
	sb->len = sb->cap = 0;
	return p;
}

/* Compresses p->text into a raw deflate segment: the stream's final block when last,
 * else ending with an empty stored block (a sync flush) so that another segment can
 * follow on a byte boundary.
 *
 * With ISA-L (igzip, level 1) when the build found it: on the 2.4 MB of values at 64
 * GPUs it takes ~1 ms where zlib takes 6-16 ms at level 1 or 3 (the fresh tick's largest
 * cost, paid on every scrape when one Prometheus is the only scraper), for a body ~25%
 * larger than zlib's level 3 (nginx's gzip_comp_level is 1).  Reusing the segments of the
 * families that did not change since the previous tick was tried first, with zlib: it
 * halved the deflate work, and took back half of that in matching, history and CRC
 * bookkeeping.  The compressor is the format's (used under its lock), made once. */
#ifdef GPUSCOPE_HAVE_ISAL
struct metrics_deflater {
	struct isal_zstream zs;
	unsigned char level_buf[ISAL_DEF_LVL1_SMALL];
};

static int segment_deflate(struct metrics_format *f, struct metrics_part *p, bool last)
{
	if (!f->deflater && !(f->deflater = malloc(sizeof(*f->deflater))))
		return -1;
	struct isal_zstream *zs = &f->deflater->zs;
	isal_deflate_init(zs);
	zs->level = 1;
	zs->level_buf = f->deflater->level_buf;
	zs->level_buf_size = sizeof(f->deflater->level_buf);
	zs->end_of_stream = last;
	zs->flush = last ? NO_FLUSH : SYNC_FLUSH;
	size_t cap = p->len + p->len / 8 + 1024; /* stored blocks at worst: 5 bytes per 64 KB */
	unsigned char *out = malloc(cap);
	if (!out)
		return -1;
	zs->next_in = (uint8_t *)p->text;
	zs->avail_in = (uint32_t)p->len;
	zs->next_out = out;
	zs->avail_out = (uint32_t)cap;
	int rc = isal_deflate(zs);
	bool done = rc == COMP_OK && zs->avail_in == 0 && zs->avail_out > 0 &&
	            (!last || zs->internal_state.state == ZSTATE_END);
	if (!done) {
		free(out);
		return -1;
	}
	size_t n = zs->total_out;
	unsigned char *fit = realloc(out, n ? n : 1);
	p->z = fit ? fit : out;
	p->zlen = n;
	p->crc = crc32_gzip_refl(0, (const unsigned char *)p->text, (uint64_t)p->len);
	return 0;
}

static void deflater_free(struct metrics_deflater *d)
{
	free(d);
}
#else
/* zlib: small texts get a small compressor (deflateInit2's default state is about
 * 270 KB, and most tails are a few hundred bytes), large ones level 3. */
struct metrics_deflater;

static int segment_deflate(struct metrics_format *f, struct metrics_part *p, bool last)
{
	(void)f;
	bool big = p->len > 16384;
	int bits = big ? 15 : 12, mem = big ? 8 : 6, level = big ? 3 : 6;
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, level, Z_DEFLATED, -bits, mem, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	size_t cap = deflateBound(&zs, (uLong)p->len) + 16; /* the flush's stored block */
	unsigned char *out = malloc(cap);
	if (!out) {
		deflateEnd(&zs);
		return -1;
	}
	zs.next_in = (Bytef *)p->text;
	zs.avail_in = (uInt)p->len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	int rc = deflate(&zs, last ? Z_FINISH : Z_SYNC_FLUSH);
	size_t n = zs.total_out;
	bool done = last ? rc == Z_STREAM_END : rc == Z_OK && zs.avail_in == 0 && zs.avail_out > 0;
	deflateEnd(&zs);
	if (!done) {
		free(out);
		return -1;
	}
	p->z = out;
	p->zlen = n;
	p->crc = (uint32_t)crc32(0L, (const Bytef *)p->text, (uInt)p->len);
	return 0;
}

static void deflater_free(struct metrics_deflater *d)
{
	(void)d;
}
#endif

/* Under f->lock: p's segment, made once. */
static int part_deflate(struct metrics_format *f, struct metrics_part *p, bool last)
{
	return p->z ? 0 : segment_deflate(f, p, last);
}

struct metrics_cache *metrics_cache_new(const struct metrics_cache_render *r, double fresh_s)
{
	struct metrics_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->r = *r;
	c->fresh_s = fresh_s;
	for (int i = 0; i < 2; i++)
		pthread_mutex_init(&c->fmt[i].lock, NULL);
	return c;
}

static void format_clear(struct metrics_format *f)
{
	part_unref(f->values);
	part_unref(f->tail);
	f->values = f->tail = NULL;
	for (int i = 0; i < METRICS_CACHE_WINDOWS; i++) {
		part_unref(f->window[i]);
		f->window[i] = NULL;
	}
}

void metrics_cache_clear(struct metrics_cache *c)
{
	for (int i = 0; i < 2; i++) {
		pthread_mutex_lock(&c->fmt[i].lock);
		format_clear(&c->fmt[i]);
		pthread_mutex_unlock(&c->fmt[i].lock);
	}
}

void metrics_cache_free(struct metrics_cache *c)
{
	if (!c)
		return;
	for (int i = 0; i < 2; i++) {
		format_clear(&c->fmt[i]);
		deflater_free(c->fmt[i].deflater);
		pthread_mutex_destroy(&c->fmt[i].lock);
	}
	free(c);
}

/* Under f->lock: the values part for this scrape, rendered when the board moved on and
 * the part is a tick old. */
static struct metrics_part *values_part(struct metrics_cache *c, struct metrics_format *f,
                                        const struct metrics_request *q)
{
	struct metrics_part *v = f->values;
	if (v && (v->generation == q->generation || q->now - v->at < c->fresh_s))
		return v;
	struct strbuf sb;
	sb_init(&sb, v ? v->len + 4096 : 64 * 1024);
	uint64_t gen = q->generation;
	c->r.values(c->r.ctx, q->om, &sb, &gen);
	struct metrics_part *p = part_from(&sb);
	if (!p)
		return NULL; /* out of memory: a 503 now, not last tick's values */
	p->serial = ++f->serial;
	p->generation = gen;
	p->at = q->now;
	part_unref(f->values);
	/* Windows go with the values part they were rendered with: the old ones are dead. */
	for (int i = 0; i < METRICS_CACHE_WINDOWS; i++) {
		part_unref(f->window[i]);
		f->window[i] = NULL;
	}
	atomic_fetch_add(&c->n_values, 1);
	return f->values = p;
}

/* Under f->lock: the window part [from, to] that goes with values part v. */
static struct metrics_part *window_part(struct metrics_cache *c, struct metrics_format *f,
                                        const struct metrics_request *q,
                                        const struct metrics_part *v)
{
	int oldest = 0;
	for (int i = 0; i < METRICS_CACHE_WINDOWS; i++) {
		struct metrics_part *w = f->window[i];
		if (w && w->serial == v->serial && w->from == q->from && w->to == q->to) {
			w->used = ++f->uses;
			return w;
		}
		if (!w || (f->window[oldest] && w->used < f->window[oldest]->used))
			oldest = i;
	}
	struct strbuf sb;
	sb_init(&sb, f->window_len + 4096); /* the last one's size: no growing copies */
	c->r.window(c->r.ctx, q->om, q->from, q->to, &sb);
	f->window_len = sb.len;
	struct metrics_part *w = part_from(&sb);
	if (!w)
		return NULL;
	w->serial = v->serial;
	w->from = q->from;
	w->to = q->to;
	w->used = ++f->uses;
	part_unref(f->window[oldest]);
	atomic_fetch_add(&c->n_windows, 1);
	return f->window[oldest] = w;
}

/* Under f->lock: this scrape's tail, the cached one when its bytes are the same. */
static struct metrics_part *tail_part(struct metrics_cache *c, struct metrics_format *f,
                                      const struct metrics_request *q)
{
	struct strbuf sb;
	sb_init(&sb, f->tail ? f->tail->len + 256 : 4096);
	if (c->r.tail)
		c->r.tail(c->r.ctx, q->om, &sb);
	if (!sb.oom && f->tail && sb.len == f->tail->len &&
	    memcmp(sb.data, f->tail->text, sb.len) == 0) {
		sb_free(&sb);
		return f->tail;
	}
	struct metrics_part *t = part_from(&sb);
	if (!t)
		return NULL;
	part_unref(f->tail);
	return f->tail = t;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* Under f->lock: fills r's ranges from its parts (and compresses what is not yet). */
static int assemble(struct metrics_cache *c, struct metrics_format *f, struct metrics_response *r,
                    bool gz)
{
	if (!gz) {
		for (unsigned i = 0; i < 3; i++)
			if (r->part[i] && r->part[i]->len)
				r->iov[r->niov++] =
				    (struct metrics_iov){r->part[i]->text, r->part[i]->len};
		return 0;
	}
	r->iov[r->niov++] = (struct metrics_iov){gzip_header, sizeof(gzip_header)};
	uLong crc = crc32(0L, Z_NULL, 0);
	size_t raw = 0;
	for (unsigned i = 0; i < 3; i++) {
		struct metrics_part *p = r->part[i];
		if (!p)
			continue;
		bool fresh = !p->z;
		if (part_deflate(f, p, i == 2) != 0)
			return -1;
		if (fresh)
			atomic_fetch_add(i == 0   ? &c->n_values_z
			                 : i == 1 ? &c->n_windows_z
			                          : &c->n_tails_z,
			                 1);
		r->iov[r->niov++] = (struct metrics_iov){p->z, p->zlen};
		crc = crc32_combine(crc, p->crc, (z_off_t)p->len);
		raw += p->len;
	}
	put_le32(r->trailer, (uint32_t)crc);
	put_le32(r->trailer + 4, (uint32_t)raw); /* ISIZE: the length modulo 2^32 */
	r->iov[r->niov++] = (struct metrics_iov){r->trailer, sizeof(r->trailer)};
	return 0;
}

struct metrics_response *metrics_cache_get(struct metrics_cache *c, const struct metrics_request *q)
{
	struct metrics_response *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	struct metrics_format *f = &c->fmt[q->om];
	pthread_mutex_lock(&f->lock);
	struct metrics_part *v = values_part(c, f, q);
	struct metrics_part *w = v && q->window && c->r.window ? window_part(c, f, q, v) : NULL;
	struct metrics_part *t = v ? tail_part(c, f, q) : NULL;
	/* The tail ends the gzip stream: a response always has one, maybe empty. */
	bool ok = v && t && (w || !q->window || !c->r.window);
	if (ok) {
		r->part[0] = part_ref(v);
		r->part[1] = w ? part_ref(w) : NULL;
		r->part[2] = part_ref(t);
		ok = assemble(c, f, r, q->gz) == 0;
	}
	pthread_mutex_unlock(&f->lock);
	if (!ok) {
		metrics_response_free(r);
		return NULL;
	}
	for (unsigned i = 0; i < r->niov; i++)
		r->len += r->iov[i].len;
	for (unsigned i = 0; i < 3; i++)
		r->id[i] = r->part[i] ? r->part[i]->id : 0;
	return r;
}

void metrics_response_free(void *resp)
{
	struct metrics_response *r = resp;
	if (!r)
		return;
	for (int i = 0; i < 3; i++)
		part_unref(r->part[i]);
	free(r);
}

void metrics_cache_get_stats(struct metrics_cache *c, struct metrics_cache_stats *st)
{
	st->values_rendered = atomic_load(&c->n_values);
	st->values_deflated = atomic_load(&c->n_values_z);
	st->windows_rendered = atomic_load(&c->n_windows);
	st->windows_deflated = atomic_load(&c->n_windows_z);
	st->tails_deflated = atomic_load(&c->n_tails_z);
}
