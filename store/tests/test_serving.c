/* test_serving.c - the server_window table (store/serving.h) on real files: rows read back
 * as written (NULL as NaN, ordered by server, model, t), a second write of a window
 * replaces the first, the minute retention deletes old rows as new ones arrive, and a
 * history from before the table reads as having no rows.  Its own executable, so the
 * store's shared test files stay as they are. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/serving.h"
#include "store/tests/helpers.h"

static struct store *open_with_retention(const char *path, int64_t minute_retention)
{
	struct store_options o;
	store_options_default(&o);
	if (minute_retention) {
		o.second_retention_s = 60; /* the minute retention may not be shorter */
		o.minute_retention_s = minute_retention;
	}
	struct store *s = NULL;
	char err[512];
	assert_int_equal(store_open(path, &o, &s, err, sizeof(err)), STORE_OK);
	return s;
}

static void row_at(struct store_serving_row *r, const char *server, const char *model, int64_t t)
{
	memset(r, 0, sizeof(*r));
	r->t = t;
	r->window_s = 60;
	snprintf(r->server, sizeof(r->server), "%s", server);
	snprintf(r->kind, sizeof(r->kind), "vllm");
	snprintf(r->model, sizeof(r->model), "%s", model);
	snprintf(r->gpus, sizeof(r->gpus), "GPU-a,GPU-b");
	snprintf(r->advice, sizeof(r->advice), "raise");
	for (int f = 0; f < STORE_SERVING_COUNT; f++)
		r->v[f] = (double)(t - T0) + f / 8.0;
	r->v[STORE_SERVING_JOULES] = NAN; /* energy unknown in this window */
}

struct seen {
	size_t n, stop_after;
	struct store_serving_row rows[32];
};

static int collect(void *ctx, const struct store_serving_row *r)
{
	struct seen *s = ctx;
	if (s->n < 32)
		s->rows[s->n] = *r;
	s->n++;
	return s->stop_after && s->n == s->stop_after ? 7 : 0;
}

static void test_roundtrip_and_order(void **state)
{
	(void)state;
	char *dir = tmpdir_make(), *path = path_join(dir, "h.db");
	struct store *s = open_with_retention(path, 0);
	struct store_serving_row r;
	/* written out of order: read back by server, model, t */
	row_at(&r, "b:1", "m", T0 + 60);
	assert_int_equal(store_put_serving(s, &r), STORE_OK);
	row_at(&r, "a:1", "m", T0 + 60);
	assert_int_equal(store_put_serving(s, &r), STORE_OK);
	row_at(&r, "a:1", "m", T0);
	r.v[STORE_SERVING_GEN_TOKENS] = 1; /* replaced below */
	assert_int_equal(store_put_serving(s, &r), STORE_OK);
	row_at(&r, "a:1", "m", T0);
	r.v[STORE_SERVING_GEN_TOKENS] = 6000;
	assert_int_equal(store_put_serving(s, &r), STORE_OK);
	struct seen seen = {0};
	assert_int_equal(store_serving_each(s, T0, T0 + 3600, collect, &seen), STORE_OK);
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.rows[0].server, "a:1");
	assert_int_equal(seen.rows[0].t, T0);
	assert_true(seen.rows[0].v[STORE_SERVING_GEN_TOKENS] == 6000);
	assert_true(isnan(seen.rows[0].v[STORE_SERVING_JOULES]));
	assert_true(seen.rows[0].v[STORE_SERVING_BATCH_TARGET] == (STORE_SERVING_COUNT - 1) / 8.0);
	assert_string_equal(seen.rows[0].gpus, "GPU-a,GPU-b");
	assert_string_equal(seen.rows[0].advice, "raise");
	assert_int_equal(seen.rows[1].t, T0 + 60);
	assert_string_equal(seen.rows[2].server, "b:1");
	/* the window bounds are inclusive, and fn's non-zero return stops the walk */
	seen = (struct seen){0};
	assert_int_equal(store_serving_each(s, T0 + 60, T0 + 60, collect, &seen), STORE_OK);
	assert_int_equal(seen.n, 2);
	seen = (struct seen){.stop_after = 1};
	assert_int_equal(store_serving_each(s, T0, T0 + 3600, collect, &seen), 7);
	assert_int_equal(seen.n, 1);
	assert_int_equal(store_close(s), STORE_OK);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM server_window"), 3);
	free(path);
	tmpdir_remove(dir);
}

static void test_retention(void **state)
{
	(void)state;
	char *dir = tmpdir_make(), *path = path_join(dir, "h.db");
	struct store *s = open_with_retention(path, 600);
	struct store_serving_row r;
	for (int64_t t = T0; t <= T0 + 900; t += 60) {
		row_at(&r, "a:1", "m", t);
		assert_int_equal(store_put_serving(s, &r), STORE_OK);
	}
	/* the last write (T0 + 900) deleted every row older than T0 + 300 */
	assert_int_equal(store_close(s), STORE_OK);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM server_window"), 11);
	assert_int_equal(sql_int(path, "SELECT min(t) FROM server_window"), T0 + 300);
	free(path);
	tmpdir_remove(dir);
}

static void test_file_without_the_table(void **state)
{
	(void)state;
	char *dir = tmpdir_make(), *path = path_join(dir, "h.db");
	struct store *s = open_writer(path, 0, 0);
	write_seconds(s, 1, T0, T0 + 2);
	assert_int_equal(store_close(s), STORE_OK);
	sql_exec(path, "DROP VIEW server_window_v; DROP TABLE server_window");
	s = open_reader(path);
	struct seen seen = {0};
	assert_int_equal(store_serving_each(s, T0, T0 + 60, collect, &seen), STORE_OK);
	assert_int_equal(seen.n, 0);
	struct store_serving_row r;
	row_at(&r, "a:1", "m", T0);
	assert_int_equal(store_put_serving(s, &r), STORE_EREADONLY);
	store_close(s);
	/* a writer's open adds the table back */
	s = open_writer(path, 0, 0);
	assert_int_equal(store_put_serving(s, &r), STORE_OK);
	assert_int_equal(store_close(s), STORE_OK);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM server_window"), 1);
	free(path);
	tmpdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_and_order),
	    cmocka_unit_test(test_retention),
	    cmocka_unit_test(test_file_without_the_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
