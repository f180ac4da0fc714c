/* test_metrics_cache.c - the /metrics part cache: what it renders and deflates, when, and
 * that every response it hands out (plain or gzip, from many threads) is exactly the parts
 * of one tick.  Fake renderers stand in for the board; zlib's own inflate reads the gzip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "http/metrics_cache.h"

struct fake {
	atomic_uint values, windows, tails;
	atomic_bool fail_values;
	char tail_text[64];
	pthread_mutex_t tail_lock;
};

/* Values: 4000 lines naming the format and generation (a body of ~150 KB). */
static void fake_values(void *ctx, bool om, struct strbuf *out, uint64_t *gen)
{
	struct fake *f = ctx;
	atomic_fetch_add(&f->values, 1);
	if (atomic_load(&f->fail_values)) {
		out->oom = true;
		return;
	}
	for (int i = 0; i < 4000; i++)
		sb_printf(out, "v{om=\"%d\",gen=\"%llu\",i=\"%d\"} %d\n", om,
		          (unsigned long long)*gen, i, i * 7);
}

static void fake_window(void *ctx, bool om, int64_t from, int64_t to, struct strbuf *out)
{
	struct fake *f = ctx;
	atomic_fetch_add(&f->windows, 1);
	for (int i = 0; i < 50; i++)
		sb_printf(out, "w{om=\"%d\",from=\"%lld\",to=\"%lld\"} %d\n", om, (long long)from,
		          (long long)to, i);
}

static void fake_tail(void *ctx, bool om, struct strbuf *out)
{
	struct fake *f = ctx;
	atomic_fetch_add(&f->tails, 1);
	pthread_mutex_lock(&f->tail_lock);
	sb_puts(out, f->tail_text);
	pthread_mutex_unlock(&f->tail_lock);
	if (om)
		sb_puts(out, "# EOF\n");
}

static struct metrics_cache *new_cache(struct fake *f, double fresh_s)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->tail_lock, NULL);
	snprintf(f->tail_text, sizeof(f->tail_text), "t 1\n");
	struct metrics_cache_render r = {
	    .ctx = f, .values = fake_values, .window = fake_window, .tail = fake_tail};
	struct metrics_cache *c = metrics_cache_new(&r, fresh_s);
	assert_non_null(c);
	return c;
}

/* The response's bytes, joined (malloc'd, NUL-terminated). */
static char *joined(const struct metrics_response *r, size_t *len)
{
	char *out = malloc(r->len + 1);
	assert_non_null(out);
	size_t n = 0;
	for (unsigned i = 0; i < r->niov; i++) {
		memcpy(out + n, r->iov[i].base, r->iov[i].len);
		n += r->iov[i].len;
	}
	assert_int_equal(n, r->len);
	out[n] = 0;
	*len = n;
	return out;
}

/* Inflates one gzip member that must span all of in (header and trailer checked by zlib). */
static char *gunzip(const char *in, size_t len, size_t *outlen)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, 16 + 15), Z_OK);
	size_t cap = 1 << 22;
	char *out = malloc(cap + 1);
	assert_non_null(out);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = (Bytef *)out;
	zs.avail_out = (uInt)cap;
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	assert_int_equal(zs.avail_in, 0); /* one member, nothing after it */
	*outlen = zs.total_out;
	out[*outlen] = 0;
	inflateEnd(&zs);
	return out;
}

static struct metrics_request req(bool om, bool gz, uint64_t gen, double now)
{
	return (struct metrics_request){.om = om,
	                                .gz = gz,
	                                .window = true,
	                                .from = 100,
	                                .to = 114,
	                                .generation = gen,
	                                .now = now};
}

/* The body of one request, plain text whatever the encoding. */
static char *body_of(struct metrics_cache *c, const struct metrics_request *q, size_t *len)
{
	struct metrics_response *r = metrics_cache_get(c, q);
	assert_non_null(r);
	size_t n;
	char *raw = joined(r, &n);
	metrics_response_free(r);
	if (!q->gz) {
		*len = n;
		return raw;
	}
	char *plain = gunzip(raw, n, len);
	free(raw);
	return plain;
}

static void test_gzip_is_the_plain_body(void **state)
{
	(void)state;
	struct fake f;
	struct metrics_cache *c = new_cache(&f, 0.1);
	for (int om = 0; om < 2; om++) {
		struct metrics_request p = req(om, false, 7, 1.0), g = req(om, true, 7, 1.0);
		size_t pn, gn;
		char *plain = body_of(c, &p, &pn), *unz = body_of(c, &g, &gn);
		assert_int_equal(pn, gn);
		assert_memory_equal(plain, unz, pn);
		assert_non_null(strstr(plain, "gen=\"7\""));
		assert_non_null(strstr(plain, "w{om="));
		assert_true(pn > 100000);
		if (om)
			assert_string_equal(plain + pn - 6, "# EOF\n");
		free(plain);
		free(unz);
	}
	metrics_cache_free(c);
}

static void test_rendered_and_deflated_once_per_tick(void **state)
{
	(void)state;
	struct fake f;
	struct metrics_cache *c = new_cache(&f, 0.1);
	struct metrics_cache_stats st;
	/* Ten scrapes of each kind in one tick: one values rendering, one deflate. */
	for (int i = 0; i < 10; i++) {
		size_t n;
		struct metrics_request q = req(false, i % 2, 1, 1.0 + i * 0.001);
		free(body_of(c, &q, &n));
	}
	metrics_cache_get_stats(c, &st);
	assert_int_equal(st.values_rendered, 1);
	assert_int_equal(st.values_deflated, 1);
	assert_int_equal(st.windows_rendered, 1);
	assert_int_equal(st.windows_deflated, 1);
	assert_int_equal(st.tails_deflated, 1);
	/* Nothing asked for OpenMetrics: nothing rendered for it. */
	assert_int_equal(atomic_load(&f.values), 1);

	/* The board moved, but within the fresh interval: the same part. */
	size_t n;
	struct metrics_request q = req(false, true, 2, 1.05);
	free(body_of(c, &q, &n));
	metrics_cache_get_stats(c, &st);
	assert_int_equal(st.values_rendered, 1);
	/* A tick later: rendered and deflated again, and so is the window that goes with it;
	 * the tail is the same bytes, so its segment is reused. */
	q = req(false, true, 3, 1.2);
	char *b = body_of(c, &q, &n);
	assert_non_null(strstr(b, "gen=\"3\""));
	assert_null(strstr(b, "gen=\"1\""));
	free(b);
	metrics_cache_get_stats(c, &st);
	assert_int_equal(st.values_rendered, 2);
	assert_int_equal(st.values_deflated, 2);
	assert_int_equal(st.windows_rendered, 2);
	assert_int_equal(st.tails_deflated, 1);
	/* The board did not move: the part stays however old. */
	q = req(false, false, 3, 50.0);
	free(body_of(c, &q, &n));
	metrics_cache_get_stats(c, &st);
	assert_int_equal(st.values_rendered, 2);
	metrics_cache_free(c);
}

static void test_tail_changes_are_served(void **state)
{
	(void)state;
	struct fake f;
	struct metrics_cache *c = new_cache(&f, 0.1);
	size_t n;
	struct metrics_request q = req(false, true, 1, 1.0);
	free(body_of(c, &q, &n));
	snprintf(f.tail_text, sizeof(f.tail_text), "t 2\n");
	char *b = body_of(c, &q, &n);
	assert_string_equal(b + n - 4, "t 2\n");
	free(b);
	struct metrics_cache_stats st;
	metrics_cache_get_stats(c, &st);
	assert_int_equal(st.tails_deflated, 2);
	assert_int_equal(st.values_deflated, 1); /* the rest was not deflated again */
	metrics_cache_free(c);
}

/* Ids name the bytes: the same parts, the same ids; a part that changed gets a new one. */
static void test_ids_follow_the_parts(void **state)
{
	(void)state;
	struct fake f;
	struct metrics_cache *c = new_cache(&f, 0.1);
	struct metrics_request q = req(false, false, 1, 1.0);
	struct metrics_response *a = metrics_cache_get(c, &q);
	struct metrics_response *b = metrics_cache_get(c, &q);
	assert_non_null(a);
	assert_non_null(b);
	for (int i = 0; i < 3; i++) {
		assert_int_not_equal(a->id[i], 0);
		assert_int_equal(a->id[i], b->id[i]);
	}
	metrics_response_free(b);
	q.window = false; /* no window part: id 0 */
	b = metrics_cache_get(c, &q);
	assert_int_equal(b->id[0], a->id[0]);
	assert_int_equal(b->id[1], 0);
	metrics_response_free(b);
	q.window = true;
	snprintf(f.tail_text, sizeof(f.tail_text), "t 2\n"); /* a new tail */
	b = metrics_cache_get(c, &q);
	assert_int_equal(b->id[0], a->id[0]);
	assert_int_equal(b->id[1], a->id[1]);
	assert_int_not_equal(b->id[2], a->id[2]);
	metrics_response_free(b);
	q.generation = 2; /* the next tick: new values and windows */
	q.now = 2.0;
	b = metrics_cache_get(c, &q);
	assert_int_not_equal(b->id[0], a->id[0]);
	assert_int_not_equal(b->id[1], a->id[1]);
	metrics_response_free(b);
	metrics_response_free(a);
	metrics_cache_free(c);
}

static void test_windows_bounded_and_keyed(void **state)
{
	(void)state;
	struct fake f;
	struct metrics_cache *c = new_cache(&f, 0.1);
	size_t n;
	/* METRICS_CACHE_WINDOWS + 1 scrapers with their own windows, twice round. */
	for (int round = 0; round < 2; round++)
		for (int k = 0; k <= METRICS_CACHE_WINDOWS; k++) {
			struct metrics_request q = req(false, false, 1, 1.0);
			q.from = 100 + k;
			char *b = body_of(c, &q, &n);
			char want[64];
			snprintf(want, sizeof(want), "from=\"%d\"", 100 + k);
			assert_non_null(strstr(b, want));
			free(b);
		}
	/* Least recently used goes: each of the 9 windows was rendered again in round 2. */
	assert_int_equal(atomic_load(&f.windows), 2 * (METRICS_CACHE_WINDOWS + 1));
	/* The newest is still cached. */
	struct metrics_request q = req(false, false, 1, 1.0);
	q.from = 100 + METRICS_CACHE_WINDOWS;
	free(body_of(c, &q, &n));
	assert_int_equal(atomic_load(&f.windows), 2 * (METRICS_CACHE_WINDOWS + 1));
	/* No window asked: none rendered, none sent. */
	q.window = false;
	char *b = body_of(c, &q, &n);
	assert_null(strstr(b, "w{"));
	free(b);
	metrics_cache_free(c);
}

static void test_response_outlives_clear_and_oom_is_null(void **state)
{
	(void)state;
	struct fake f;
	struct metrics_cache *c = new_cache(&f, 0.1);
	struct metrics_request q = req(true, true, 1, 1.0);
	struct metrics_response *r = metrics_cache_get(c, &q);
	assert_non_null(r);
	metrics_cache_clear(c); /* SIGHUP while the response is being sent */
	size_t n, pn;
	char *raw = joined(r, &n);
	char *plain = gunzip(raw, n, &pn);
	assert_non_null(strstr(plain, "# EOF\n"));
	free(raw);
	free(plain);
	metrics_response_free(r);
	/* Cleared: the next scrape renders afresh; a renderer out of memory gives no body. */
	atomic_store(&f.fail_values, true);
	assert_null(metrics_cache_get(c, &q));
	atomic_store(&f.fail_values, false);
	q.generation = 2;
	r = metrics_cache_get(c, &q);
	assert_non_null(r);
	metrics_response_free(r);
	metrics_cache_free(c);
}

/* Many threads, every representation, the board moving under them: each body is whole
 * and of one tick, never older than the generation its request saw. */
struct race {
	struct metrics_cache *c;
	atomic_ullong *gen;
	unsigned seed;
	int bad;
};

static void *racer(void *arg)
{
	struct race *x = arg;
	for (int i = 0; i < 300; i++) {
		x->seed = x->seed * 1103515245u + 12345u;
		unsigned pick = x->seed >> 16;
		uint64_t gen = atomic_load(x->gen);
		if (pick % 5 == 0)
			gen = atomic_fetch_add(x->gen, 1) + 1;
		struct metrics_request q = req(pick & 1, pick & 2, gen, 0);
		q.from = 100 + (int)(pick % 3);
		size_t n;
		char *b = body_of(x->c, &q, &n);
		unsigned long long seen = 0;
		int om = -1;
		char want[48];
		if (sscanf(b, "v{om=\"%d\",gen=\"%llu\"", &om, &seen) != 2 ||
		    om != (int)(pick & 1) || seen < gen)
			x->bad++;
		snprintf(want, sizeof(want), "from=\"%d\"", 100 + (int)(pick % 3));
		if (!strstr(b, want) || strstr(b, "i=\"3999\"") == NULL ||
		    (q.om && strcmp(b + n - 6, "# EOF\n") != 0))
			x->bad++;
		free(b);
	}
	return NULL;
}

static void test_concurrent_scrapers(void **state)
{
	(void)state;
	struct fake f;
	struct metrics_cache *c = new_cache(&f, 0); /* every new generation renders */
	atomic_ullong gen;
	atomic_init(&gen, 1);
	pthread_t t[8];
	struct race x[8];
	for (int i = 0; i < 8; i++) {
		x[i] = (struct race){.c = c, .gen = &gen, .seed = (unsigned)i * 7919u + 1};
		assert_int_equal(pthread_create(&t[i], NULL, racer, &x[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(x[i].bad, 0);
	}
	metrics_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gzip_is_the_plain_body),
	    cmocka_unit_test(test_rendered_and_deflated_once_per_tick),
	    cmocka_unit_test(test_tail_changes_are_served),
	    cmocka_unit_test(test_ids_follow_the_parts),
	    cmocka_unit_test(test_windows_bounded_and_keyed),
	    cmocka_unit_test(test_response_outlives_clear_and_oom_is_null),
	    cmocka_unit_test(test_concurrent_scrapers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
