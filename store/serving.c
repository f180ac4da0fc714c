/* serving.c - the server_window table of serving.h: schema, writes with their own retention,
 * and streamed reads.
 *
 * Statements are prepared per call: a row is written once per model per window (a minute),
 * so a cached statement would save nothing worth a slot in the shared handle.
 */
#include "store/serving.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "store/internal.h"

static const char *const columns[STORE_SERVING_COUNT] = {
#define COLUMN_NAME(id, col, unit, help) col,
    STORE_SERVING_FIELDS(COLUMN_NAME)
#undef COLUMN_NAME
};

const char *store_serving_column(enum store_serving_field f)
{
	return (unsigned)f < STORE_SERVING_COUNT ? columns[f] : "";
}

/* The text columns before the numeric ones, in order. */
#define TEXT_COLUMNS "server, kind, model, gpus, gpu_model, advice"
#define NTEXT        6

int store_serving_schema(struct store *s)
{
	char sql[4096];
	size_t n = (size_t)snprintf(sql, sizeof(sql),
	                            "CREATE TABLE IF NOT EXISTS server_window("
	                            "t INTEGER NOT NULL, window_s REAL NOT NULL, "
	                            "server TEXT NOT NULL, kind TEXT NOT NULL, "
	                            "model TEXT NOT NULL, gpus TEXT NOT NULL, "
	                            "gpu_model TEXT NOT NULL, advice TEXT NOT NULL");
	for (int f = 0; f < STORE_SERVING_COUNT && n < sizeof(sql); f++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, ", %s REAL", columns[f]);
	if (n < sizeof(sql))
		n += (size_t)snprintf(sql + n, sizeof(sql) - n,
		                      ", UNIQUE(server, model, t));"
		                      "CREATE INDEX IF NOT EXISTS server_window_t ON "
		                      "server_window(t);"
		                      "CREATE VIEW IF NOT EXISTS server_window_v AS SELECT "
		                      "datetime(t, 'unixepoch') AS time, *, "
		                      "gen_tokens / window_s AS tokens_per_second, "
		                      "joules / gen_tokens AS joules_per_token, "
		                      "gpu_seconds / 3600 * price_per_gpu_hour / gen_tokens * 1e6 "
		                      "AS cost_per_million_tokens FROM server_window;");
	if (n >= sizeof(sql))
		return store_fail(s, STORE_EINVAL, "history %s: server_window schema too long",
		                  s->path);
	return store_exec(s, sql, "creating its server_window table");
}

static void bind_value(sqlite3_stmt *st, int idx, double v)
{
	if (isfinite(v))
		sqlite3_bind_double(st, idx, v);
	else
		sqlite3_bind_null(st, idx);
}

static int run_stmt(struct store *s, const char *sql, const struct store_serving_row *row,
                    int64_t before, const char *doing)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_db_fail(s, rc, doing);
	if (row) {
		const char *text[NTEXT] = {row->server, row->kind,      row->model,
		                           row->gpus,   row->gpu_model, row->advice};
		sqlite3_bind_int64(st, 1, row->t);
		sqlite3_bind_double(st, 2, row->window_s);
		for (int i = 0; i < NTEXT; i++)
			sqlite3_bind_text(st, 3 + i, text[i], -1, SQLITE_STATIC);
		for (int f = 0; f < STORE_SERVING_COUNT; f++)
			bind_value(st, 3 + NTEXT + f, row->v[f]);
	} else {
		sqlite3_bind_int64(st, 1, before);
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? STORE_OK : store_db_fail(s, rc, doing);
}

int store_put_serving(struct store *s, const struct store_serving_row *row)
{
	if (s->opt.read_only)
		return store_fail(s, STORE_EREADONLY, "history %s: opened read-only", s->path);
	if (s->poisoned)
		return store_refuse_corrupt(s);
	char sql[2048];
	size_t n = (size_t)snprintf(
	    sql, sizeof(sql), "INSERT OR REPLACE INTO server_window(t, window_s, " TEXT_COLUMNS);
	for (int f = 0; f < STORE_SERVING_COUNT; f++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, ", %s", columns[f]);
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, ") VALUES(?1, ?2");
	for (int i = 0; i < NTEXT + STORE_SERVING_COUNT && n < sizeof(sql); i++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, ", ?%d", 3 + i);
	if (n + 2 >= sizeof(sql))
		return store_fail(s, STORE_EINVAL, "history %s: server_window row too wide",
		                  s->path);
	strcat(sql, ")");
	int rc = run_stmt(s, sql, row, 0, "writing a server_window row");
	if (rc != STORE_OK || s->opt.minute_retention_s <= 0)
		return rc;
	return run_stmt(s,
	                "DELETE FROM server_window WHERE rowid IN (SELECT rowid FROM "
	                "server_window WHERE t < ?1 LIMIT 100)",
	                NULL, row->t - s->opt.minute_retention_s,
	                "deleting expired server_window rows");
}

static void copy_text(sqlite3_stmt *st, int col, char *out, size_t len)
{
	const unsigned char *p = sqlite3_column_text(st, col);
	snprintf(out, len, "%s", p ? (const char *)p : "");
}

int store_serving_each(struct store *s, int64_t from, int64_t to, store_serving_fn fn, void *ctx)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(
	    s->db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='server_window'", -1,
	    &st, NULL);
	if (rc != SQLITE_OK)
		return store_db_fail(s, rc, "reading it");
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return STORE_OK; /* written before the table existed: no rows */
	if (rc != SQLITE_ROW)
		return store_db_fail(s, rc, "reading it");

	char sql[2048];
	size_t n = (size_t)snprintf(sql, sizeof(sql), "SELECT t, window_s, " TEXT_COLUMNS);
	for (int f = 0; f < STORE_SERVING_COUNT; f++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, ", %s", columns[f]);
	if (n + 120 >= sizeof(sql))
		return store_fail(s, STORE_EINVAL, "history %s: server_window query too wide",
		                  s->path);
	snprintf(sql + n, sizeof(sql) - n,
	         " FROM server_window WHERE t BETWEEN ?1 AND ?2 ORDER BY server, model, t");
	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_db_fail(s, rc, "reading its server_window table");
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, to);
	struct store_serving_row row;
	int ret = STORE_OK;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&row, 0, sizeof(row));
		row.t = sqlite3_column_int64(st, 0);
		row.window_s = sqlite3_column_double(st, 1);
		copy_text(st, 2, row.server, sizeof(row.server));
		copy_text(st, 3, row.kind, sizeof(row.kind));
		copy_text(st, 4, row.model, sizeof(row.model));
		copy_text(st, 5, row.gpus, sizeof(row.gpus));
		copy_text(st, 6, row.gpu_model, sizeof(row.gpu_model));
		copy_text(st, 7, row.advice, sizeof(row.advice));
		for (int f = 0; f < STORE_SERVING_COUNT; f++)
			row.v[f] = sqlite3_column_type(st, 2 + NTEXT + f) == SQLITE_NULL
			               ? NAN
			               : sqlite3_column_double(st, 2 + NTEXT + f);
		if ((ret = fn(ctx, &row)) != 0)
			break;
	}
	sqlite3_finalize(st);
	if (ret != STORE_OK)
		return ret;
	return rc == SQLITE_DONE ? STORE_OK
	                         : store_db_fail(s, rc, "reading its server_window table");
}
