/* test_inference.c - per-inference aggregates in the history (store/inference.h) and the
 * latency sketch under them (series/inference_agg.h), on real SQLite files and a fake
 * clock: percentiles to the sketch's precision, exact sums, a late interval merged into the
 * row already written, per-step reads, folding into 10-minute rows that change no figure,
 * expiry with the minute retention, and a file written before the tables existed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store/inference.h"
#include "store/tests/helpers.h"

#define PRECISION 0.0219 /* 2^(1/32) - 1: half a bucket of 16 per octave */

static void assert_close(double got, double want, double rel)
{
	if (!(fabs(got - want) <= rel * fabs(want)))
		fail_msg("%.9g is not within %.2f%% of %.9g", got, rel * 100, want);
}

static void sketch_quantiles(void **state)
{
	(void)state;
	struct inference_sketch *s = calloc(1, sizeof(*s));
	/* 1..10000 us and 1..10000 ms: two decades each side. */
	for (int i = 1; i <= 10000; i++) {
		inference_sketch_add(s, i * 1e-6);
		inference_sketch_add(s, i * 1e-3);
	}
	assert_int_equal(s->n, 20000);
	assert_close(inference_sketch_quantile(s, 0.25), 5000e-6, PRECISION);
	assert_close(inference_sketch_quantile(s, 0.50), 10000e-6, PRECISION);
	assert_close(inference_sketch_quantile(s, 0.95), 9000e-3, PRECISION);
	assert_close(inference_sketch_quantile(s, 0.99), 9800e-3, PRECISION);
	assert_close(inference_sketch_quantile(s, 1.0), 10.0, PRECISION);
	/* Out of range: below 1 us and above the top bucket are clamped, never lost. */
	inference_sketch_add(s, 0);
	inference_sketch_add(s, 1e9);
	inference_sketch_add(s, NAN);
	inference_sketch_add(s, -1);
	assert_int_equal(s->n, 20002);
	struct inference_sketch *e = calloc(1, sizeof(*e));
	assert_true(isnan(inference_sketch_quantile(e, 0.5)));
	free(e);
	free(s);
}

static void sketch_encoding(void **state)
{
	(void)state;
	struct inference_sketch *s = calloc(1, sizeof(*s)), *d = calloc(1, sizeof(*d));
	unsigned char *buf = malloc(INFERENCE_SKETCH_ENCODED_MAX);
	for (int i = 0; i < 1000; i++)
		inference_sketch_add(s, 0.001 * (1 + i % 37));
	s->c[0] = 3; /* the first and the last bucket too */
	s->c[INFERENCE_SKETCH_BUCKETS - 1] = 1ULL << 40;
	s->n += 3 + (1ULL << 40);
	size_t len = inference_sketch_encode(s, buf, INFERENCE_SKETCH_ENCODED_MAX);
	assert_true(len > 0 && len < 200);
	assert_int_equal(inference_sketch_decode(buf, len, d), 0);
	assert_memory_equal(s, d, sizeof(*s));
	/* Every bucket used: the documented maximum is enough. */
	for (unsigned i = 0; i < INFERENCE_SKETCH_BUCKETS; i++)
		s->c[i] = UINT64_MAX / INFERENCE_SKETCH_BUCKETS;
	s->n = UINT64_MAX / INFERENCE_SKETCH_BUCKETS * INFERENCE_SKETCH_BUCKETS;
	len = inference_sketch_encode(s, buf, INFERENCE_SKETCH_ENCODED_MAX);
	assert_true(len > 0);
	assert_int_equal(inference_sketch_decode(buf, len, d), 0);
	assert_memory_equal(s, d, sizeof(*s));
	/* Malformed: truncated, past the last bucket, a zero count, counts that overflow. */
	assert_int_equal(inference_sketch_decode(buf, len - 1, d), -1);
	assert_int_equal(d->n, 0);
	const unsigned char past[] = {0xe0, 0x03, 0x01}; /* gap 480 */
	assert_int_equal(inference_sketch_decode(past, sizeof(past), d), -1);
	const unsigned char zero[] = {0x05, 0x00};
	assert_int_equal(inference_sketch_decode(zero, sizeof(zero), d), -1);
	const unsigned char big[] = {0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	                             0xff, 0xff, 0xff, 0x01, 0x00, 0x01};
	assert_int_equal(inference_sketch_decode(big, sizeof(big), d), -1);
	const unsigned char ok[] = {0x02, 0x05, 0x00, 0x01};
	assert_int_equal(inference_sketch_decode(ok, sizeof(ok), d), 0);
	assert_int_equal(d->c[2], 5);
	assert_int_equal(d->c[3], 1);
	assert_int_equal(d->n, 6);
	assert_int_equal(inference_sketch_decode(NULL, 0, d), 0);
	assert_int_equal(d->n, 0);
	free(buf);
	free(s);
	free(d);
}

struct fixture {
	char *dir, *path;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->dir = tmpdir_make();
	f->path = path_join(f->dir, "history.db");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	tmpdir_remove(f->dir);
	free(f->path);
	free(f);
	return 0;
}

/* An interval of n inferences of latency base x (1..n), busy half of it, e joules each. */
static struct inference_agg *agg_of(int n, double base, double e)
{
	struct inference_agg *a = calloc(1, sizeof(*a));
	for (int i = 1; i <= n; i++)
		inference_agg_add(a, base * i, base * i / 2, e, 100, 10, 3, 1e9 + i, i != n);
	return a;
}

static void put(struct store *s, const char *uuid, const char *range, int64_t t,
                const struct inference_agg *a)
{
	struct store_inference_interval iv = {.uuid = uuid,
	                                      .model = "NVIDIA H200",
	                                      .pid = 42,
	                                      .process = "python",
	                                      .workload = "pod:abc",
	                                      .range = range,
	                                      .boundary = "nvtx",
	                                      .t = t,
	                                      .width = STORE_INFERENCE_WIDTH_S,
	                                      .agg = a};
	int rc = store_put_inference(s, &iv);
	if (rc != STORE_OK)
		fail_msg("put: %s", store_errmsg(s));
}

static void roundtrip_and_merge(void **state)
{
	struct fixture *f = *state;
	struct store *w = open_writer(f->path, 5, 0);
	/* Outside a batch (own transaction) and inside one (committed with it). */
	struct inference_agg *a = agg_of(100, 0.001, 2.0), *b = agg_of(50, 0.002, 1.0);
	put(w, "GPU-a", "infer", T0, a);
	write_seconds(w, 1, T0, T0 + 1);
	put(w, "GPU-a", "infer", T0 + 10, b);
	put(w, NULL, "infer", T0 + 10, b); /* GPU unknown: its own row */
	assert_int_equal(store_flush(w), STORE_OK);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM inference_interval"), 3);

	struct store *r = open_reader(f->path);
	struct store_inference_row *rows;
	size_t n;
	assert_int_equal(store_query_inference(r, T0, T0 + 59, 0, &rows, &n), STORE_OK);
	assert_int_equal(n, 2);
	const struct store_inference_row *x = rows[0].uuid ? &rows[0] : &rows[1];
	assert_string_equal(x->uuid, "GPU-a");
	assert_string_equal(x->model, "NVIDIA H200");
	assert_string_equal(x->workload, "pod:abc");
	assert_int_equal(x->pid, 42);
	assert_int_equal(x->first_t, T0);
	assert_int_equal(x->last_t, T0 + 20);
	assert_int_equal(x->agg.n, 150);
	assert_int_equal(x->agg.incomplete, 2);
	assert_true(near(x->agg.latency_sum, 5.05 + 2.55));
	assert_true(near(x->agg.energy_sum, 250));
	assert_int_equal(x->agg.energy_n, 150);
	assert_true(near(x->agg.h2d_sum, 15000));
	assert_true(near(x->agg.mem_peak_max, 1e9 + 100));
	/* p50 of 1..100 ms and 2..100 ms (step 2): the 75th smallest of 150 is 50 ms. */
	assert_close(inference_sketch_quantile(&x->agg.latency, 0.5), 0.050, PRECISION);
	assert_close(inference_sketch_quantile(&x->agg.latency, 0.99), 0.100, PRECISION);
	store_inference_rows_free(rows, n);

	/* Per step: one row per 10 s. */
	assert_int_equal(store_query_inference(r, T0, T0 + 59, 10, &rows, &n), STORE_OK);
	assert_int_equal(n, 3);
	store_inference_rows_free(rows, n);
	/* A late interval merges into the row already written. */
	put(w, "GPU-a", "infer", T0, b);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM inference_interval"), 3);
	assert_int_equal(
	    sql_int(f->path, "SELECT sum(n) FROM inference_interval WHERE t = 1700000040"), 150);
	/* Bad arguments and a read-only handle. */
	assert_int_equal(store_query_inference(r, T0 + 5, T0, 0, &rows, &n), STORE_EINVAL);
	struct store_inference_interval bad = {.t = T0, .width = 0, .agg = a};
	assert_int_equal(store_put_inference(w, &bad), STORE_EINVAL);
	bad.width = 10;
	assert_int_equal(store_put_inference(r, &bad), STORE_EREADONLY);
	store_close(r);
	store_close(w);
	free(a);
	free(b);
}

static void fold_and_expire(void **state)
{
	struct fixture *f = *state;
	struct store_options o;
	store_options_default(&o);
	o.second_retention_s = 3600;
	o.minute_retention_s = 7200;
	o.auto_maintain = false;
	struct store *w;
	char err[512];
	assert_int_equal(store_open(f->path, &o, &w, err, sizeof(err)), STORE_OK);
	/* 10 minutes (T0 - 60 + k*10 is 600-aligned at k = 6: 1700000400) of two keys. */
	const int64_t span = 1700000400;
	struct inference_agg *a = agg_of(10, 0.001, 1.0), *total = calloc(1, sizeof(*total));
	for (int k = 0; k < 60; k++) {
		put(w, "GPU-a", "infer", span + 10 * k, a);
		put(w, "GPU-a", "prefill", span + 10 * k, a);
		inference_agg_merge(total, a);
	}
	put(w, "GPU-a", "infer", span + 600, a); /* the next span: not whole yet */
	bool more = false;
	assert_int_equal(store_maintain(w, span + 600 + 3600 - 1, &more), STORE_OK);
	assert_int_equal(
	    sql_int(f->path, "SELECT count(*) FROM inference_interval WHERE width = 600"), 0);
	assert_int_equal(store_maintain(w, span + 600 + 3600, &more), STORE_OK);
	assert_int_equal(
	    sql_int(f->path, "SELECT count(*) FROM inference_interval WHERE width = 600"), 2);
	assert_int_equal(
	    sql_int(f->path, "SELECT count(*) FROM inference_interval WHERE width = 10"), 1);
	/* Folding changes no figure. */
	struct store_inference_row *rows;
	size_t n;
	assert_int_equal(store_query_inference(w, span, span + 599, 0, &rows, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].agg.n, total->n);
	assert_true(near(rows[0].agg.latency_sum, total->latency_sum));
	assert_memory_equal(&rows[0].agg.latency, &total->latency, sizeof(total->latency));
	assert_int_equal(rows[0].last_t, span + 600);
	store_inference_rows_free(rows, n);
	/* Expiry after the minute retention, then the keys no row refers to. */
	assert_int_equal(store_maintain(w, span + 7200 + 700, &more), STORE_OK);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM inference_interval"), 0);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM inference_keys"), 0);
	store_close(w);
	free(a);
	free(total);
}

static void file_without_the_tables(void **state)
{
	struct fixture *f = *state;
	struct store *w = open_writer(f->path, 5, 0);
	write_seconds(w, 1, T0, T0 + 5);
	store_close(w);
	sql_exec(f->path, "DROP VIEW inference_interval_v; DROP TABLE inference_interval; "
	                  "DROP TABLE inference_keys");
	struct store *r = open_reader(f->path);
	struct store_inference_row *rows = (void *)1;
	size_t n = 7;
	assert_int_equal(store_query_inference(r, T0, T0 + 60, 0, &rows, &n), STORE_OK);
	assert_int_equal(n, 0);
	assert_null(rows);
	bool more;
	store_close(r);
	/* A writer's open adds them back; maintenance on them works. */
	w = open_writer(f->path, 5, 0);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM sqlite_master WHERE name = "
	                                  "'inference_interval_v'"),
	                 1);
	assert_int_equal(store_maintain(w, T0 + 100, &more), STORE_OK);
	store_close(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(sketch_quantiles),
	    cmocka_unit_test(sketch_encoding),
	    cmocka_unit_test_setup_teardown(roundtrip_and_merge, setup, teardown),
	    cmocka_unit_test_setup_teardown(fold_and_expire, setup, teardown),
	    cmocka_unit_test_setup_teardown(file_without_the_tables, setup, teardown),
	};
	return cmocka_run_group_tests_name("store.inference", tests, NULL, NULL);
}
