/* inference.c - per-inference aggregates in the history (see inference.h).
 *
 * Two tables of their own, kept apart from the GPU and process tables so either can change
 * layout without the other: inference_keys interns (pid, process, workload, range,
 * boundary) like `processes` does, and inference_interval holds one row per (t, GPU, key,
 * width), WITHOUT ROWID on that key so a window is one range scan of t.  Sums are REAL in
 * base units (seconds, joules, bytes); the latency sketch is a BLOB in the sparse varint
 * encoding of series/inference_agg.c (tens of bytes a row).  Statements are prepared per
 * call: the agent writes a few rows every 10 s, so caching them would save nothing.
 */
#include "store/inference.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

static const char tables_sql[] =
    "CREATE TABLE IF NOT EXISTS inference_keys(id INTEGER PRIMARY KEY, pid INTEGER NOT NULL, "
    "process TEXT NOT NULL, workload TEXT NOT NULL, range_name TEXT NOT NULL, "
    "boundary TEXT NOT NULL, first_t INTEGER NOT NULL, last_t INTEGER NOT NULL, "
    "UNIQUE(pid, process, workload, range_name, boundary));"
    "CREATE TABLE IF NOT EXISTS inference_interval(t INTEGER NOT NULL, gpu_id INTEGER NOT "
    "NULL, key_id INTEGER NOT NULL, width INTEGER NOT NULL, n INTEGER NOT NULL, incomplete "
    "INTEGER NOT NULL, latency_sum REAL NOT NULL, busy_sum REAL NOT NULL, busy_n INTEGER NOT "
    "NULL, energy_sum REAL NOT NULL, energy_n INTEGER NOT NULL, h2d_sum REAL NOT NULL, "
    "d2h_sum REAL NOT NULL, kernels_sum REAL NOT NULL, copies_n INTEGER NOT NULL, "
    "mem_peak_max REAL NOT NULL, latency_sketch BLOB, "
    "PRIMARY KEY(t, gpu_id, key_id, width)) WITHOUT ROWID;";

/* For the sqlite3 CLI: means per row, the GPU's uuid, the key's names, an ISO time. */
static const char view_sql[] =
    "CREATE VIEW inference_interval_v AS SELECT i.t AS t, datetime(i.t, 'unixepoch') AS "
    "time, i.width AS width, g.uuid AS uuid, k.pid AS pid, k.process AS process, k.workload "
    "AS workload, k.range_name AS range_name, k.boundary AS boundary, i.n AS inferences, "
    "i.incomplete AS incomplete, i.latency_sum / nullif(i.n, 0) AS latency_mean_s, "
    "i.busy_sum / nullif(i.busy_n, 0) AS gpu_busy_mean_s, i.energy_sum / nullif(i.energy_n, "
    "0) AS energy_mean_j, i.mem_peak_max AS mem_peak_max_bytes FROM inference_interval i "
    "JOIN inference_keys k ON k.id = i.key_id LEFT JOIN gpus g ON g.id = i.gpu_id";

int store_inference_schema(struct store *s)
{
	int rc = store_exec(s, tables_sql, "creating its inference tables");
	if (rc != STORE_OK)
		return rc;
	sqlite3_stmt *st;
	bool same = false;
	if (sqlite3_prepare_v2(s->db,
	                       "SELECT sql FROM sqlite_master WHERE type='view' AND "
	                       "name='inference_interval_v'",
	                       -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			const char *old = (const char *)sqlite3_column_text(st, 0);
			same = old && !strcmp(old, view_sql);
		}
		sqlite3_finalize(st);
	}
	if (same)
		return STORE_OK;
	rc = store_exec(s, "DROP VIEW IF EXISTS inference_interval_v", "updating its views");
	return rc == STORE_OK ? store_exec(s, view_sql, "updating its views") : rc;
}

static const char *str(const char *p)
{
	return p ? p : "";
}

/* ---- rows <-> aggregates ---- */

#define ROW_COLUMNS                                                                              \
	"n, incomplete, latency_sum, busy_sum, busy_n, energy_sum, energy_n, h2d_sum, d2h_sum, " \
	"kernels_sum, copies_n, mem_peak_max, latency_sketch"

/* Reads ROW_COLUMNS starting at column `at`; -1 when the sketch does not decode. */
static int read_agg(sqlite3_stmt *st, int at, struct inference_agg *a)
{
	memset(a, 0, sizeof(*a));
	a->n = (uint64_t)sqlite3_column_int64(st, at);
	a->incomplete = (uint64_t)sqlite3_column_int64(st, at + 1);
	a->latency_sum = sqlite3_column_double(st, at + 2);
	a->busy_sum = sqlite3_column_double(st, at + 3);
	a->busy_n = (uint64_t)sqlite3_column_int64(st, at + 4);
	a->energy_sum = sqlite3_column_double(st, at + 5);
	a->energy_n = (uint64_t)sqlite3_column_int64(st, at + 6);
	a->h2d_sum = sqlite3_column_double(st, at + 7);
	a->d2h_sum = sqlite3_column_double(st, at + 8);
	a->kernels_sum = sqlite3_column_double(st, at + 9);
	a->copies_n = (uint64_t)sqlite3_column_int64(st, at + 10);
	a->mem_peak_max = sqlite3_column_double(st, at + 11);
	const void *blob = sqlite3_column_blob(st, at + 12);
	int len = sqlite3_column_bytes(st, at + 12);
	return inference_sketch_decode(blob, blob ? (size_t)len : 0, &a->latency);
}

/* Binds ROW_COLUMNS to ?at.. of st; buf holds the encoded sketch until the step. */
static void bind_agg(sqlite3_stmt *st, int at, const struct inference_agg *a, unsigned char *buf)
{
	sqlite3_bind_int64(st, at, (sqlite3_int64)a->n);
	sqlite3_bind_int64(st, at + 1, (sqlite3_int64)a->incomplete);
	sqlite3_bind_double(st, at + 2, a->latency_sum);
	sqlite3_bind_double(st, at + 3, a->busy_sum);
	sqlite3_bind_int64(st, at + 4, (sqlite3_int64)a->busy_n);
	sqlite3_bind_double(st, at + 5, a->energy_sum);
	sqlite3_bind_int64(st, at + 6, (sqlite3_int64)a->energy_n);
	sqlite3_bind_double(st, at + 7, a->h2d_sum);
	sqlite3_bind_double(st, at + 8, a->d2h_sum);
	sqlite3_bind_double(st, at + 9, a->kernels_sum);
	sqlite3_bind_int64(st, at + 10, (sqlite3_int64)a->copies_n);
	sqlite3_bind_double(st, at + 11, a->mem_peak_max);
	size_t len = inference_sketch_encode(&a->latency, buf, INFERENCE_SKETCH_ENCODED_MAX);
	if (len)
		sqlite3_bind_blob(st, at + 12, buf, (int)len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, at + 12);
}

/* Merges agg into the row (t, gpu_id, key_id, width), creating it when missing. */
static int merge_row(struct store *s, int64_t t, int64_t gpu_id, int64_t key_id, int width,
                     const struct inference_agg *agg)
{
	static const char sel[] = "SELECT " ROW_COLUMNS " FROM inference_interval WHERE t=?1 AND "
	                          "gpu_id=?2 AND key_id=?3 AND width=?4";
	static const char ins[] = "INSERT OR REPLACE INTO inference_interval(t, gpu_id, key_id, "
	                          "width, " ROW_COLUMNS ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,"
	                          "?11,?12,?13,?14,?15,?16,?17)";
	struct inference_agg *sum = malloc(sizeof(*sum));
	unsigned char *buf = malloc(INFERENCE_SKETCH_ENCODED_MAX);
	sqlite3_stmt *st = NULL;
	int rc = STORE_ENOMEM;
	if (!sum || !buf)
		goto out;
	*sum = *agg;
	int src = sqlite3_prepare_v2(s->db, sel, -1, &st, NULL);
	if (src != SQLITE_OK)
		goto db;
	sqlite3_bind_int64(st, 1, t);
	sqlite3_bind_int64(st, 2, gpu_id);
	sqlite3_bind_int64(st, 3, key_id);
	sqlite3_bind_int(st, 4, width);
	if ((src = sqlite3_step(st)) == SQLITE_ROW) {
		struct inference_agg *old = malloc(sizeof(*old));
		if (!old)
			goto out;
		if (read_agg(st, 0, old) == 0) /* an unreadable sketch is replaced, sums kept */
			inference_agg_merge(sum, old);
		else
			sum->n += old->n;
		free(old);
		src = SQLITE_DONE;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (src != SQLITE_DONE)
		goto db;
	if ((src = sqlite3_prepare_v2(s->db, ins, -1, &st, NULL)) != SQLITE_OK)
		goto db;
	sqlite3_bind_int64(st, 1, t);
	sqlite3_bind_int64(st, 2, gpu_id);
	sqlite3_bind_int64(st, 3, key_id);
	sqlite3_bind_int(st, 4, width);
	bind_agg(st, 5, sum, buf);
	if ((src = sqlite3_step(st)) != SQLITE_DONE)
		goto db;
	rc = STORE_OK;
	goto out;
db:
	rc = store_db_fail(s, src, "writing inference aggregates");
out:
	if (rc == STORE_ENOMEM)
		store_fail(s, rc, "history %s: out of memory", s->path);
	sqlite3_finalize(st);
	free(sum);
	free(buf);
	return rc;
}

/* One id from an INSERT ... RETURNING id. */
static int returning_id(struct store *s, sqlite3_stmt *st, int64_t *id, const char *doing)
{
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	int src2 = sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (src != SQLITE_ROW)
		return store_db_fail(s, src2 != SQLITE_OK ? src2 : src, doing);
	return STORE_OK;
}

static int put_inside(struct store *s, const struct store_inference_interval *iv)
{
	int64_t gpu_id = 0, key_id;
	int rc = STORE_OK;
	if (iv->uuid && iv->uuid[0]) { /* the writer's own GPU upsert: one gpus table */
		sqlite3_bind_text(s->upsert_gpu, 1, iv->uuid, -1, SQLITE_STATIC);
		if (iv->model)
			sqlite3_bind_text(s->upsert_gpu, 2, iv->model, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s->upsert_gpu, 3, iv->t);
		if ((rc = returning_id(s, s->upsert_gpu, &gpu_id, "recording a GPU")) != STORE_OK)
			return rc;
	}
	sqlite3_stmt *st;
	int src = sqlite3_prepare_v2(
	    s->db,
	    "INSERT INTO inference_keys(pid, process, workload, range_name, boundary, first_t, "
	    "last_t) VALUES(?1,?2,?3,?4,?5,?6,?6) ON CONFLICT(pid, process, workload, range_name, "
	    "boundary) DO UPDATE SET last_t = max(last_t, excluded.last_t) RETURNING id",
	    -1, &st, NULL);
	if (src != SQLITE_OK)
		return store_db_fail(s, src, "recording an inference key");
	sqlite3_bind_int64(st, 1, iv->pid);
	sqlite3_bind_text(st, 2, str(iv->process), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, str(iv->workload), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, str(iv->range), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, str(iv->boundary), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, iv->t + iv->width);
	rc = returning_id(s, st, &key_id, "recording an inference key");
	sqlite3_finalize(st);
	if (rc != STORE_OK)
		return rc;
	return merge_row(s, iv->t, gpu_id, key_id, iv->width, iv->agg);
}

int store_put_inference(struct store *s, const struct store_inference_interval *iv)
{
	if (!iv || !iv->agg || iv->width <= 0)
		return store_fail(s, STORE_EINVAL, "history %s: a bad inference interval", s->path);
	if (s->opt.read_only)
		return store_fail(s, STORE_EREADONLY, "history %s: opened read-only", s->path);
	if (s->poisoned)
		return store_refuse_corrupt(s);
	bool own = !s->in_batch;
	int rc;
	if (own &&
	    (rc = store_exec(s, "BEGIN IMMEDIATE", "writing inference aggregates")) != STORE_OK)
		return rc;
	rc = put_inside(s, iv);
	if (own) {
		if (rc == STORE_OK)
			rc = store_exec(s, "COMMIT", "writing inference aggregates");
		if (rc != STORE_OK && !sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	} else if (rc != STORE_OK && sqlite3_get_autocommit(s->db)) {
		store_batch_rollback(s); /* SQLite took the batch's transaction with it */
	}
	return rc;
}

/* ---- reading ---- */

static bool has_tables(struct store *s)
{
	sqlite3_stmt *st;
	bool yes = false;
	if (sqlite3_prepare_v2(s->db,
	                       "SELECT 1 FROM sqlite_master WHERE type='table' AND "
	                       "name='inference_interval'",
	                       -1, &st, NULL) == SQLITE_OK) {
		yes = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
	}
	return yes;
}

static char *dup_col(sqlite3_stmt *st, int i)
{
	const char *p = (const char *)sqlite3_column_text(st, i);
	return p ? strdup(p) : NULL;
}

void store_inference_rows_free(struct store_inference_row *rows, size_t n)
{
	for (size_t i = 0; rows && i < n; i++) {
		free(rows[i].uuid);
		free(rows[i].model);
		free(rows[i].process);
		free(rows[i].workload);
		free(rows[i].range);
		free(rows[i].boundary);
	}
	free(rows);
}

int store_query_inference(struct store *s, int64_t from, int64_t to, int64_t step,
                          struct store_inference_row **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (to < from || step < 0)
		return store_fail(s, STORE_EINVAL, "history %s: a bad window", s->path);
	if (!has_tables(s))
		return STORE_OK;
	sqlite3_stmt *st;
	int src = sqlite3_prepare_v2(
	    s->db,
	    "SELECT i.gpu_id, i.key_id, i.t, i.width, g.uuid, g.model, k.pid, k.process, "
	    "k.workload, k.range_name, k.boundary, " ROW_COLUMNS
	    " FROM inference_interval i JOIN inference_keys k ON k.id = i.key_id LEFT JOIN gpus g "
	    "ON g.id = i.gpu_id WHERE i.t >= ?1 AND i.t <= ?2 ORDER BY i.gpu_id, i.key_id, i.t",
	    -1, &st, NULL);
	if (src != SQLITE_OK)
		return store_db_fail(s, src, "reading inference aggregates");
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, to);
	struct store_inference_row *rows = NULL;
	size_t nrows = 0, cap = 0;
	int64_t cur_gpu = -1, cur_key = -1, cur_step = INT64_MIN;
	struct inference_agg *agg = malloc(sizeof(*agg));
	int rc = agg ? STORE_OK : STORE_ENOMEM;
	while (rc == STORE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t gpu = sqlite3_column_int64(st, 0), key = sqlite3_column_int64(st, 1);
		int64_t t = sqlite3_column_int64(st, 2), width = sqlite3_column_int64(st, 3);
		int64_t k = step > 0 ? from + (t - from) / step * step : from;
		if (read_agg(st, 11, agg) != 0)
			memset(&agg->latency, 0, sizeof(agg->latency)); /* sums still count */
		if (gpu == cur_gpu && key == cur_key && k == cur_step) {
			struct store_inference_row *r = &rows[nrows - 1];
			inference_agg_merge(&r->agg, agg);
			if (t + width > r->last_t)
				r->last_t = t + width;
			continue;
		}
		if (nrows == STORE_INFERENCE_ROWS_MAX) {
			rc = store_fail(s, STORE_EINVAL,
			                "history %s: more than %d inference rows; ask for a "
			                "coarser step",
			                s->path, STORE_INFERENCE_ROWS_MAX);
			break;
		}
		if (nrows == cap) {
			size_t nc = cap ? 2 * cap : 16;
			struct store_inference_row *p = realloc(rows, nc * sizeof(*p));
			if (!p) {
				rc = STORE_ENOMEM;
				break;
			}
			rows = p;
			cap = nc;
		}
		struct store_inference_row *r = &rows[nrows++];
		memset(r, 0, sizeof(*r));
		r->uuid = dup_col(st, 4);
		r->model = dup_col(st, 5);
		r->pid = (unsigned)sqlite3_column_int64(st, 6);
		r->process = dup_col(st, 7);
		r->workload = dup_col(st, 8);
		r->range = dup_col(st, 9);
		r->boundary = dup_col(st, 10);
		if (!r->process || !r->workload || !r->range || !r->boundary) {
			rc = STORE_ENOMEM;
			break;
		}
		r->t = step > 0 ? k : t;
		r->first_t = t;
		r->last_t = t + width;
		r->agg = *agg;
		cur_gpu = gpu;
		cur_key = key;
		cur_step = k;
	}
	sqlite3_finalize(st);
	free(agg);
	if (rc == STORE_ENOMEM)
		store_fail(s, rc, "history %s: out of memory", s->path);
	else if (rc == STORE_OK && src != SQLITE_DONE)
		rc = store_db_fail(s, src, "reading inference aggregates");
	if (rc != STORE_OK) {
		store_inference_rows_free(rows, nrows);
		return rc;
	}
	*out = rows;
	*n = nrows;
	return STORE_OK;
}

/* ---- maintenance ---- */

/* Folds the 10 s rows of the oldest whole 10-minute span before cutoff into one row per
 * (GPU, key); *rows counts the rows read.  *none: nothing left to fold. */
static int fold_one_span(struct store *s, int64_t cutoff, int *rows, bool *none)
{
	int64_t first = INT64_MIN;
	sqlite3_stmt *st;
	*rows = 0;
	*none = true;
	int src = sqlite3_prepare_v2(
	    s->db, "SELECT min(t) FROM inference_interval WHERE width < ?1 AND t < ?2", -1, &st,
	    NULL);
	if (src != SQLITE_OK)
		return store_db_fail(s, src, "folding inference aggregates");
	sqlite3_bind_int(st, 1, STORE_INFERENCE_FOLDED_S);
	sqlite3_bind_int64(st, 2, cutoff);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		first = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (first == INT64_MIN)
		return STORE_OK;
	int64_t span = first - (((first % STORE_INFERENCE_FOLDED_S) + STORE_INFERENCE_FOLDED_S) %
	                        STORE_INFERENCE_FOLDED_S);
	if (span + STORE_INFERENCE_FOLDED_S > cutoff)
		return STORE_OK; /* the oldest span is not whole yet */
	*none = false;

	size_t n = 0;
	int rc = STORE_OK;
	src = sqlite3_prepare_v2(s->db,
	                         "SELECT gpu_id, key_id, " ROW_COLUMNS
	                         " FROM inference_interval WHERE t >= ?1 AND "
	                         "t < ?1 + ?2 AND width < ?2 ORDER BY gpu_id, key_id",
	                         -1, &st, NULL);
	if (src != SQLITE_OK)
		return store_db_fail(s, src, "folding inference aggregates");
	sqlite3_bind_int64(st, 1, span);
	sqlite3_bind_int(st, 2, STORE_INFERENCE_FOLDED_S);
	struct fold {
		int64_t gpu, key;
		struct inference_agg agg;
	} *f = NULL;
	size_t cap = 0;
	struct inference_agg *one = malloc(sizeof(*one));
	if (!one)
		rc = STORE_ENOMEM;
	while (rc == STORE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t gpu = sqlite3_column_int64(st, 0), key = sqlite3_column_int64(st, 1);
		if (read_agg(st, 2, one) != 0)
			memset(&one->latency, 0, sizeof(one->latency));
		++*rows;
		if (n && f[n - 1].gpu == gpu && f[n - 1].key == key) {
			inference_agg_merge(&f[n - 1].agg, one);
			continue;
		}
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 8;
			struct fold *p = realloc(f, nc * sizeof(*p));
			if (!p) {
				rc = STORE_ENOMEM;
				break;
			}
			f = p;
			cap = nc;
		}
		f[n++] = (struct fold){.gpu = gpu, .key = key, .agg = *one};
	}
	sqlite3_finalize(st);
	free(one);
	if (rc == STORE_OK && src != SQLITE_DONE)
		rc = store_db_fail(s, src, "folding inference aggregates");
	for (size_t i = 0; rc == STORE_OK && i < n; i++)
		rc = merge_row(s, span, f[i].gpu, f[i].key, STORE_INFERENCE_FOLDED_S, &f[i].agg);
	free(f);
	if (rc == STORE_ENOMEM)
		return store_fail(s, rc, "history %s: out of memory", s->path);
	if (rc != STORE_OK)
		return rc;
	src = sqlite3_prepare_v2(s->db,
	                         "DELETE FROM inference_interval WHERE t >= ?1 AND t < ?1 + ?2 "
	                         "AND width < ?2",
	                         -1, &st, NULL);
	if (src != SQLITE_OK)
		return store_db_fail(s, src, "folding inference aggregates");
	sqlite3_bind_int64(st, 1, span);
	sqlite3_bind_int(st, 2, STORE_INFERENCE_FOLDED_S);
	src = sqlite3_step(st);
	sqlite3_finalize(st);
	return src == SQLITE_DONE ? STORE_OK
	                          : store_db_fail(s, src, "folding inference aggregates");
}

/* Runs one statement binding ?1 (and ?2 = limit); *changed: rows it deleted. */
static int delete_some(struct store *s, const char *sql, int64_t arg, int limit, int *changed)
{
	sqlite3_stmt *st;
	int src = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (src != SQLITE_OK)
		return store_db_fail(s, src, "expiring inference aggregates");
	sqlite3_bind_int64(st, 1, arg);
	sqlite3_bind_int(st, 2, limit);
	src = sqlite3_step(st);
	sqlite3_finalize(st);
	*changed = sqlite3_changes(s->db);
	return src == SQLITE_DONE ? STORE_OK
	                          : store_db_fail(s, src, "expiring inference aggregates");
}

int store_inference_maintain(struct store *s, int64_t now, int budget, bool *more)
{
	if (!has_tables(s))
		return STORE_OK;
	int rc = STORE_OK, rows, changed;
	bool none = false;
	while (budget > 0 && !none && rc == STORE_OK) {
		rc = fold_one_span(s, now - s->opt.second_retention_s, &rows, &none);
		budget -= rows;
	}
	if (rc != STORE_OK)
		return rc;
	rc = delete_some(s,
	                 "DELETE FROM inference_interval WHERE (t, gpu_id, key_id, width) IN "
	                 "(SELECT t, gpu_id, key_id, width FROM inference_interval WHERE t < ?1 "
	                 "LIMIT ?2)",
	                 now - s->opt.minute_retention_s, budget > 0 ? budget : 1, &changed);
	budget -= changed;
	if (rc == STORE_OK && changed > 0)
		rc = delete_some(s,
		                 "DELETE FROM inference_keys WHERE last_t < ?1 AND NOT EXISTS "
		                 "(SELECT 1 FROM inference_interval i WHERE i.key_id = "
		                 "inference_keys.id) AND ?2 > 0",
		                 now - s->opt.minute_retention_s, 1, &changed);
	if (budget <= 0 || !none)
		*more = true;
	return rc;
}
