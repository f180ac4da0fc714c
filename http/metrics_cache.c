/* metrics_cache.c - the /metrics part cache and its gzip framing (see metrics_cache.h). */
#include "http/metrics_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* One part: its text, and once asked its raw deflate segment.  A part's fields are
 * written before it is published under the format lock and never after, except z,
 * which is set once under that lock; responses read only what they were given. */
struct metrics_part {
	atomic_int refs;
	char *text;
	size_t len;
	uint32_t crc; /* CRC-32 of text, set with z */
	unsigned char *z;
	size_t zlen;
	struct metrics_chunk *chunk; /* values: its families' segments within z */
	unsigned nchunk;
	/* the key: values (serial, generation, rendered at); windows (from, to, the serial
	 * of the values part they were rendered with) */
	uint64_t serial, generation;
	double at;
	int64_t from, to;
	uint64_t used; /* windows: the format's use counter when last served */
};

/* A run of whole families of a values part, and where its segment lies in z. */
struct metrics_chunk {
	size_t off, len;
	size_t zoff, zlen;
	uint32_t crc;
};

struct metrics_format {
	pthread_mutex_t lock;
	struct metrics_part *values;
	struct metrics_part *values_z; /* the last values part deflated: what the next reuses */
	z_stream zs;                   /* the values compressor, kept between ticks */
	bool zs_ready;
	struct metrics_part *window[METRICS_CACHE_WINDOWS];
	struct metrics_part *tail;
	uint64_t serial, uses;
};

struct metrics_cache {
	struct metrics_cache_render r;
	double fresh_s;
	struct metrics_format fmt[2]; /* [om] */
	atomic_ullong n_values, n_values_z, n_windows, n_windows_z, n_tails_z, n_reused;
};

/* The gzip header of every response: deflate, no name, no time, Unix. */
static const unsigned char gzip_header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};

static void part_unref(struct metrics_part *p)
{
	if (p && atomic_fetch_sub(&p->refs, 1) == 1) {
		free(p->text);
		free(p->z);
		free(p->chunk);
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
	atomic_init(&p->refs, 1);
	p->text = sb->data;
	p->len = sb->len;
	sb->data = NULL;
	sb->len = sb->cap = 0;
	return p;
}

/* Compresses p->text into a raw deflate segment: the stream's final block when last,
 * else ending with an empty stored block (Z_SYNC_FLUSH) so that another segment can
 * follow on a byte boundary.  Small texts get a small compressor: deflateInit2's
 * default state is about 270 KB, and most tails are a few hundred bytes.  Large ones
 * get level 3: on the 1.8 MB body of 64 GPUs it is 11% larger than level 6 (90 vs
 * 81 KB) for half the CPU (6.2 vs 13.0 ms), and a fresh tick pays it on every scrape
 * when one Prometheus is the only scraper (nginx's gzip_comp_level is 1). */
static int part_deflate(struct metrics_part *p, bool last)
{
	if (p->z)
		return 0;
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

/* Values parts are deflated by chunks, and a chunk whose bytes did not change since the
 * previous tick keeps its segment: at 64 GPUs two thirds of the values text is the same
 * from one tick to the next (identities, limits, totals, idle processes), and deflating
 * it again was the largest cost of a fresh tick.  A chunk is a run of whole families of at
 * least CHUNK_MIN bytes, cut before a "# HELP" line (a cut elsewhere would be correct,
 * only matched less often).  The chunks share one stream, each ending with Z_SYNC_FLUSH,
 * so their segments still reach back into the 32 KB before them: as small as one stream
 * (smaller than separate chunks by half).  Hence the rule: a segment is reused only when
 * its chunk and every byte of the 32 KB before it are the same as when it was made; the
 * compressor then resumes after it with those 32 KB as its dictionary. */
#define CHUNK_MIN      4096
#define DEFLATE_WINDOW 32768

/* Cuts p->text into chunks; -1 when out of memory. */
static int values_chunks(struct metrics_part *p)
{
	unsigned cap = (unsigned)(p->len / CHUNK_MIN) + 1, n = 0;
	struct metrics_chunk *ch = calloc(cap, sizeof(*ch));
	if (!ch)
		return -1;
	const char *t = p->text, *end = t + p->len;
	size_t start = 0;
	const char *at = t + CHUNK_MIN;
	while (at < end) {
		const char *hash = memchr(at, '#', (size_t)(end - at));
		if (!hash)
			break;
		if (hash[-1] == '\n' && (size_t)(end - hash) > 7 &&
		    memcmp(hash, "# HELP ", 7) == 0) {
			size_t cut = (size_t)(hash - t);
			ch[n++] = (struct metrics_chunk){.off = start, .len = cut - start};
			start = cut;
			at = hash + CHUNK_MIN;
		} else {
			const char *nl = memchr(hash, '\n', (size_t)(end - hash));
			at = nl ? nl : end;
		}
	}
	if (start < p->len || n == 0)
		ch[n++] = (struct metrics_chunk){.off = start, .len = p->len - start};
	p->chunk = ch;
	p->nchunk = n;
	return 0;
}

/* The chunk of old with the same bytes as chunk c of p, looked for first after the chunk
 * matched last (the families come in the same order); -1 when none. */
static int chunk_match(const struct metrics_part *old, const struct metrics_part *p,
                       const struct metrics_chunk *c, int after)
{
	for (unsigned k = 0; old && k < old->nchunk; k++) {
		unsigned i = ((unsigned)(after + 1) + k) % old->nchunk;
		const struct metrics_chunk *o = &old->chunk[i];
		if (o->len == c->len && memcmp(old->text + o->off, p->text + c->off, c->len) == 0)
			return (int)i;
	}
	return -1;
}

/* Room for n more bytes in the growing buffer *z of *cap bytes. */
static int z_reserve(unsigned char **z, size_t *cap, size_t len, size_t n)
{
	if (len + n <= *cap)
		return 0;
	size_t want = *cap ? *cap : 64 * 1024;
	while (want < len + n)
		want *= 2;
	unsigned char *q = realloc(*z, want);
	if (!q)
		return -1;
	*z = q;
	*cap = want;
	return 0;
}

/* Deflates chunk c of p on f's stream into *z; the stream's history is p's text before c
 * when fresh_history is false, else it is set so first. */
static int chunk_deflate(struct metrics_format *f, const struct metrics_part *p,
                         struct metrics_chunk *c, bool fresh_history, unsigned char **z,
                         size_t *cap, size_t *len)
{
	z_stream *zs = &f->zs;
	if (!f->zs_ready) {
		memset(zs, 0, sizeof(*zs));
		if (deflateInit2(zs, 3, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			return -1;
		f->zs_ready = true;
	} else if (fresh_history && deflateReset(zs) != Z_OK) {
		return -1;
	}
	if (fresh_history && c->off > 0) {
		size_t d = c->off < DEFLATE_WINDOW ? c->off : DEFLATE_WINDOW;
		if (deflateSetDictionary(zs, (const Bytef *)p->text + c->off - d, (uInt)d) != Z_OK)
			return -1; /* only on a stream error: a reset follows */
	}
	size_t bound = deflateBound(zs, (uLong)c->len) + 16;
	if (z_reserve(z, cap, *len, bound) != 0)
		return -1;
	zs->next_in = (Bytef *)p->text + c->off;
	zs->avail_in = (uInt)c->len;
	zs->next_out = *z + *len;
	zs->avail_out = (uInt)bound;
	int rc = deflate(zs, Z_SYNC_FLUSH);
	if (rc != Z_OK || zs->avail_in != 0 || zs->avail_out == 0) {
		deflateEnd(zs); /* in no known state: the next chunk starts a new one */
		f->zs_ready = false;
		return -1;
	}
	c->zoff = *len;
	c->zlen = bound - zs->avail_out;
	c->crc = (uint32_t)crc32(0L, (const Bytef *)p->text + c->off, (uInt)c->len);
	*len += c->zlen;
	return 0;
}

/* Under f->lock: p's segment (never the last of a stream), reusing what it can of the
 * values part deflated before it. */
static int values_deflate(struct metrics_cache *c, struct metrics_format *f, struct metrics_part *p)
{
	if (p->z)
		return 0;
	const struct metrics_part *old = f->values_z;
	if (values_chunks(p) != 0)
		return -1;
	unsigned char *z = NULL;
	size_t cap = 0, len = 0, same = 0; /* same: bytes before the chunk known unchanged */
	bool history = false;              /* the stream's history is the text before it */
	uLong crc = crc32(0L, Z_NULL, 0);
	int prev = -1; /* the old chunk the previous one matched, -1 none */
	int last = -1; /* the last old chunk matched */
	for (unsigned i = 0; i < p->nchunk; i++) {
		struct metrics_chunk *ch = &p->chunk[i];
		int m = chunk_match(old, p, ch, last);
		if (m < 0)
			same = 0;
		else if (i == 0 && m == 0)
			same = SIZE_MAX; /* both begin the stream */
		else if (prev < 0 || m != prev + 1)
			same = 0;
		if (m >= 0 && same >= DEFLATE_WINDOW) {
			const struct metrics_chunk *o = &old->chunk[m];
			if (z_reserve(&z, &cap, len, o->zlen) != 0)
				goto err;
			memcpy(z + len, old->z + o->zoff, o->zlen);
			*ch = (struct metrics_chunk){ch->off, ch->len, len, o->zlen, o->crc};
			len += o->zlen;
			history = false;
			atomic_fetch_add(&c->n_reused, ch->len);
		} else if (chunk_deflate(f, p, ch, !history, &z, &cap, &len) != 0) {
			goto err;
		} else {
			history = true;
		}
		if (m >= 0) {
			last = m;
			if (same != SIZE_MAX)
				same += ch->len;
		}
		prev = m;
		crc = crc32_combine(crc, ch->crc, (z_off_t)ch->len);
	}
	p->z = z;
	p->zlen = len;
	p->crc = (uint32_t)crc;
	part_unref(f->values_z);
	f->values_z = part_ref(p);
	return 0;
err:
	free(z);
	return -1;
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
	part_unref(f->values_z);
	part_unref(f->tail);
	f->values = f->values_z = f->tail = NULL;
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
		if (c->fmt[i].zs_ready)
			deflateEnd(&c->fmt[i].zs);
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
	sb_init(&sb, 16 * 1024);
	c->r.window(c->r.ctx, q->om, q->from, q->to, &sb);
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
		if ((i == 0 ? values_deflate(c, f, p) : part_deflate(p, i == 2)) != 0)
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
	st->values_bytes_reused = atomic_load(&c->n_reused);
}
