/* maintain.c - downsampling and retention, in bounded steps.
 *
 * A step, as of a caller-given `now`:
 *   1. folds each GPU's 1 s rows older than second_retention_s into 1-minute
 *      rows, a whole minute at a time (only minutes that lie entirely before
 *      the cutoff): mean of the second means (every second weighs the same,
 *      which is the time-weighted mean; per-second sample counts are not
 *      kept, to save 30 columns), max of the maxes, min of the mins, and the
 *      latest non-NULL value of one-value metrics; then deletes those seconds;
 *   2. folds process seconds the same way (mean and max of each value);
 *   3. deletes minute rows older than minute_retention_s;
 *   4. once 1-3 are done, deletes processes no row can refer to any more.
 * A folded minute's gpu_rollup row (rollup.c) goes with its seconds; the
 * rollup is made by the same code, into gpu_rollup, seconds kept.
 * Each fold or delete is one minute (or up to the remaining budget of rows),
 * and a step stops once maintain_rows rows were touched, so that the writer
 * (which runs a step with each batch) is held up for milliseconds only.
 * Steady state at 8 GPUs is 40 rows per 5 s batch; the default budget of 600
 * catches up 15x faster than rows age, e.g. after the agent was down.
 *
 * GPU minute rows are folded in C rather than SQL because "latest non-NULL
 * value per column" has no cheap SQL form over 130 columns.  Values stay in
 * the stored quantum (integers), so folding never rounds twice.
 */
#include "store/inference.h"
#include "store/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	M_GPU_IDS,
	M_FIRST_SEC,
	M_SEL_SEC,
	M_SEL_MIN,
	M_INS_MIN,
	M_DEL_SEC,
	M_FIRST_PROC,
	M_FOLD_PROC,
	M_DEL_PROC,
	M_EXP_GPU,
	M_EXP_PROC,
	M_PRUNE,
	M_NEXT_SEC,
	M_INS_ROLL,
	M_DEL_ROLL,
	M_COUNT
};

#define MERGE_MEAN(c)                                                                          \
	c " = CASE WHEN " c " IS NULL THEN excluded." c " WHEN excluded." c " IS NULL THEN " c \
	  " ELSE (" c "*n + excluded." c "*excluded.n)/(n + excluded.n) END"
#define MERGE_MAX(c) c " = max(coalesce(" c ", excluded." c "), coalesce(excluded." c ", " c "))"

/* A minute of proc_second folded into proc_minute: each stored family's mean and max. */
static char *fold_proc_sql(void)
{
	char *a = store_proc_sql("INSERT INTO proc_minute(t, gpu_id, proc_id, n", ", @_mean, @_max",
	                         ") SELECT ?1, gpu_id, proc_id, count(*)");
	char *b = a ? store_proc_sql(a, ", avg(@), max(@)",
	                             " FROM proc_second WHERE t >= ?1 AND t < ?1 + 60 GROUP BY "
	                             "gpu_id, proc_id ON CONFLICT(t, gpu_id, proc_id) DO UPDATE "
	                             "SET n = n + excluded.n")
	            : NULL;
	char *c =
	    b ? store_proc_sql(b, ", " MERGE_MEAN("@_mean") ", " MERGE_MAX("@_max"), "") : NULL;
	free(a);
	free(b);
	return c;
}

/* SQL of the statements whose text depends on the columns. */
static char *columns_sql(const struct store *s, const char *head, const char *tail, bool params)
{
	size_t cap = strlen(head) + strlen(tail) + 16 + s->ncols * (STORE_COL_NAME_MAX + 4);
	char *sql = malloc(cap);
	if (!sql)
		return NULL;
	size_t off = (size_t)snprintf(sql, cap, "%s", head);
	for (size_t i = 0; i < s->ncols; i++)
		off +=
		    (size_t)snprintf(sql + off, cap - off, params ? ",?" : ",%s", s->cols[i].name);
	snprintf(sql + off, cap - off, "%s", tail);
	return sql;
}

static sqlite3_stmt *stmt(struct store *s, int which, int *rc)
{
	if (s->mstmt[which])
		return s->mstmt[which];
	char *owned = NULL, *owned2 = NULL;
	const char *sql = NULL;
	switch (which) {
	case M_GPU_IDS:
		sql = "SELECT id FROM gpus ORDER BY id";
		break;
	case M_FIRST_SEC:
		sql = "SELECT t FROM gpu_second WHERE gpu_id = ?1 AND t < ?2 ORDER BY t LIMIT 1";
		break;
	case M_SEL_SEC:
		sql = owned = columns_sql(
		    s, "SELECT t",
		    " FROM gpu_second WHERE gpu_id = ?1 AND t >= ?2 AND t < ?2 + 60 ORDER BY t",
		    false);
		break;
	case M_SEL_MIN:
		sql = owned = columns_sql(s, "SELECT n",
		                          " FROM gpu_minute WHERE gpu_id = ?1 AND t = ?2", false);
		break;
	case M_INS_MIN:
	case M_INS_ROLL: {
		char *names =
		    columns_sql(s,
		                which == M_INS_MIN ? "INSERT OR REPLACE INTO gpu_minute(gpu_id,t,n"
		                                   : "INSERT OR REPLACE INTO gpu_rollup(gpu_id,t,n",
		                ")", false);
		char *vals = columns_sql(s, " VALUES(?,?,?", ")", true);
		if (names && vals) {
			size_t len = strlen(names) + strlen(vals) + 1;
			if ((owned = malloc(len)))
				snprintf(owned, len, "%s%s", names, vals);
		}
		free(names);
		owned2 = vals;
		sql = owned;
		break;
	}
	case M_DEL_SEC:
		sql = "DELETE FROM gpu_second WHERE gpu_id = ?1 AND t >= ?2 AND t < ?2 + 60";
		break;
	case M_FIRST_PROC:
		sql = "SELECT t FROM proc_second WHERE t < ?1 ORDER BY t LIMIT 1";
		break;
	case M_FOLD_PROC:
		sql = owned = fold_proc_sql();
		break;
	case M_DEL_PROC:
		sql = "DELETE FROM proc_second WHERE t >= ?1 AND t < ?1 + 60";
		break;
	case M_EXP_GPU:
		sql = "DELETE FROM gpu_minute WHERE gpu_id = ?1 AND t IN (SELECT t FROM gpu_minute "
		      "WHERE gpu_id = ?1 AND t < ?2 ORDER BY t LIMIT ?3)";
		break;
	case M_EXP_PROC:
		sql = "DELETE FROM proc_minute WHERE (t, gpu_id, proc_id) IN (SELECT t, gpu_id, "
		      "proc_id FROM proc_minute WHERE t < ?1 ORDER BY t LIMIT ?2)";
		break;
	case M_NEXT_SEC:
		sql =
		    "SELECT t FROM gpu_second WHERE gpu_id = ?1 AND t >= ?2 AND t < ?3 ORDER BY t "
		    "LIMIT 1";
		break;
	case M_DEL_ROLL:
		sql = "DELETE FROM gpu_rollup WHERE gpu_id = ?1 AND t = ?2";
		break;
	case M_PRUNE:
		sql =
		    "DELETE FROM processes WHERE id IN (SELECT id FROM processes WHERE last_t < ?1 "
		    "LIMIT ?2)";
		break;
	}
	if (!sql) {
		*rc = store_fail(s, STORE_ENOMEM, "history %s: out of memory", s->path);
		free(owned2);
		return NULL;
	}
	int src =
	    sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->mstmt[which], NULL);
	free(owned);
	free(owned2);
	if (src != SQLITE_OK) {
		*rc = store_db_fail(s, src, "preparing maintenance");
		s->mstmt[which] = NULL;
		return NULL;
	}
	return s->mstmt[which];
}

/* Steps a statement with no result rows; returns SQLITE_DONE or the error. */
static int run(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc;
}

/* The first t < before in a "SELECT t ... LIMIT 1" statement already bound. */
static int first_t(sqlite3_stmt *st, int64_t *t, bool *found)
{
	int rc = sqlite3_step(st);
	*found = rc == SQLITE_ROW;
	if (*found)
		*t = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}

struct fold_acc {
	double sum[STORE_MAX_COLS], weight[STORE_MAX_COLS], val[STORE_MAX_COLS];
	bool have[STORE_MAX_COLS];
};

static void acc_add(const struct store *s, struct fold_acc *a, size_t i, double v, double w)
{
	switch (s->cols[i].stat) {
	case COL_MEAN:
		a->sum[i] += v * w;
		a->weight[i] += w;
		a->have[i] = true;
		return;
	case COL_MAX:
		a->val[i] = a->have[i] ? fmax(a->val[i], v) : v;
		break;
	case COL_MIN:
		a->val[i] = a->have[i] ? fmin(a->val[i], v) : v;
		break;
	case COL_VALUE:
		a->val[i] = v; /* rows come in time order: the latest stays */
		break;
	}
	a->have[i] = true;
}

static void bind_stored(sqlite3_stmt *st, int idx, double x)
{
	if (fabs(x) < 9.0e15)
		sqlite3_bind_int64(st, idx, llround(x));
	else
		sqlite3_bind_double(st, idx, x);
}

int store_fold_minute(struct store *s, int64_t gid, int64_t m, bool rollup, int *rows)
{
	int rc = STORE_OK, src;
	sqlite3_stmt *sel = stmt(s, M_SEL_SEC, &rc), *old = stmt(s, M_SEL_MIN, &rc),
	             *ins = stmt(s, rollup ? M_INS_ROLL : M_INS_MIN, &rc),
	             *del = stmt(s, M_DEL_SEC, &rc),
	             *del_roll = s->has_rollup ? stmt(s, M_DEL_ROLL, &rc) : NULL;
	if (!sel || !old || !ins || !del || (s->has_rollup && !del_roll))
		return rc;
	struct fold_acc *a = calloc(1, sizeof(*a));
	if (!a)
		return store_fail(s, STORE_ENOMEM, "history %s: out of memory", s->path);
	int64_t n = 0;
	*rows = 0;

	/* An existing minute row (a second written late, after its minute was
	 * folded) goes first, so that the seconds' latest values win.  A rollup
	 * stands for the seconds alone: it is replaced, never merged. */
	sqlite3_bind_int64(old, 1, gid);
	sqlite3_bind_int64(old, 2, m);
	if (!rollup && (src = sqlite3_step(old)) == SQLITE_ROW) {
		n = sqlite3_column_int64(old, 0);
		for (size_t i = 0; i < s->ncols; i++)
			if (sqlite3_column_type(old, 1 + (int)i) != SQLITE_NULL)
				acc_add(s, a, i, sqlite3_column_double(old, 1 + (int)i), (double)n);
		src = SQLITE_DONE;
	} else {
		src = rollup ? SQLITE_DONE : src;
	}
	sqlite3_reset(old);
	if (src != SQLITE_DONE)
		goto db_err;

	sqlite3_bind_int64(sel, 1, gid);
	sqlite3_bind_int64(sel, 2, m);
	int64_t seconds = 0;
	while ((src = sqlite3_step(sel)) == SQLITE_ROW) {
		seconds++;
		for (size_t i = 0; i < s->ncols; i++)
			if (sqlite3_column_type(sel, 1 + (int)i) != SQLITE_NULL)
				acc_add(s, a, i, sqlite3_column_double(sel, 1 + (int)i), 1.0);
	}
	sqlite3_reset(sel);
	if (src != SQLITE_DONE)
		goto db_err;
	n += seconds;

	if (rollup && seconds == 0) {
		/* Nothing left to summarize (rewritten away): no rollup either. */
		sqlite3_bind_int64(del_roll, 1, gid);
		sqlite3_bind_int64(del_roll, 2, m);
		src = run(del_roll);
		free(a);
		return src == SQLITE_DONE ? STORE_OK
		                          : store_db_fail(s, src, "summarizing seconds by minute");
	}
	sqlite3_bind_int64(ins, 1, gid);
	sqlite3_bind_int64(ins, 2, m);
	sqlite3_bind_int64(ins, 3, n);
	for (size_t i = 0; i < s->ncols; i++) {
		if (!a->have[i])
			sqlite3_bind_null(ins, 4 + (int)i);
		else if (s->cols[i].stat == COL_MEAN)
			bind_stored(ins, 4 + (int)i, a->sum[i] / a->weight[i]);
		else
			bind_stored(ins, 4 + (int)i, a->val[i]);
	}
	src = run(ins);
	sqlite3_clear_bindings(ins);
	if (src != SQLITE_DONE || rollup)
		goto out;
	sqlite3_bind_int64(del, 1, gid);
	sqlite3_bind_int64(del, 2, m);
	if ((src = run(del)) != SQLITE_DONE)
		goto db_err;
	*rows = sqlite3_changes(s->db);
	s->stats.rows_folded += (uint64_t)*rows;
	if (del_roll) {
		sqlite3_bind_int64(del_roll, 1, gid);
		sqlite3_bind_int64(del_roll, 2, m);
		src = run(del_roll);
	}
out:
	if (src != SQLITE_DONE)
		goto db_err;
	free(a);
	return STORE_OK;
db_err:
	free(a);
	return store_db_fail(
	    s, src, rollup ? "summarizing seconds by minute" : "folding seconds into minutes");
}

int store_next_second(struct store *s, int64_t gid, int64_t lo, int64_t hi, int64_t *t, bool *found)
{
	int rc = STORE_OK, src;
	sqlite3_stmt *st = stmt(s, M_NEXT_SEC, &rc);
	if (!st)
		return rc;
	sqlite3_bind_int64(st, 1, gid);
	sqlite3_bind_int64(st, 2, lo);
	sqlite3_bind_int64(st, 3, hi);
	src = first_t(st, t, found);
	return src == SQLITE_DONE ? STORE_OK : store_db_fail(s, src, "reading seconds");
}

static int gpu_ids(struct store *s, int64_t **ids, size_t *n)
{
	int rc = STORE_OK, src;
	size_t cap = 0;
	sqlite3_stmt *st = stmt(s, M_GPU_IDS, &rc);
	*ids = NULL;
	*n = 0;
	if (!st)
		return rc;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			int64_t *p = realloc(*ids, cap * sizeof(*p));
			if (!p) {
				sqlite3_reset(st);
				return store_fail(s, STORE_ENOMEM, "history %s: out of memory",
				                  s->path);
			}
			*ids = p;
		}
		(*ids)[(*n)++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	return src == SQLITE_DONE ? STORE_OK : store_db_fail(s, src, "listing GPUs");
}

static int fold_gpus(struct store *s, const int64_t *ids, size_t nids, int64_t fold_end,
                     int *budget)
{
	int rc = STORE_OK, src;
	sqlite3_stmt *first = stmt(s, M_FIRST_SEC, &rc);
	if (!first)
		return rc;
	for (size_t g = 0; g<nids && * budget> 0; g++) {
		while (*budget > 0) {
			int64_t t;
			bool found;
			int rows = 0;
			sqlite3_bind_int64(first, 1, ids[g]);
			sqlite3_bind_int64(first, 2, fold_end);
			if ((src = first_t(first, &t, &found)) != SQLITE_DONE)
				return store_db_fail(s, src, "folding seconds into minutes");
			if (!found)
				break;
			if ((rc = store_fold_minute(s, ids[g], store_minute_of(t), false, &rows)) !=
			    STORE_OK)
				return rc;
			*budget -= rows > 0 ? rows : 1;
		}
	}
	return STORE_OK;
}

static int fold_processes(struct store *s, int64_t fold_end, int *budget)
{
	int rc = STORE_OK, src;
	sqlite3_stmt *first = stmt(s, M_FIRST_PROC, &rc), *fold = stmt(s, M_FOLD_PROC, &rc),
	             *del = stmt(s, M_DEL_PROC, &rc);
	if (!first || !fold || !del)
		return rc;
	while (*budget > 0) {
		int64_t t;
		bool found;
		sqlite3_bind_int64(first, 1, fold_end);
		if ((src = first_t(first, &t, &found)) != SQLITE_DONE)
			goto db_err;
		if (!found)
			break;
		sqlite3_bind_int64(fold, 1, store_minute_of(t));
		sqlite3_bind_int64(del, 1, store_minute_of(t));
		if ((src = run(fold)) != SQLITE_DONE || (src = run(del)) != SQLITE_DONE)
			goto db_err;
		int rows = sqlite3_changes(s->db);
		s->stats.rows_folded += (uint64_t)rows;
		*budget -= rows > 0 ? rows : 1;
	}
	return STORE_OK;
db_err:
	return store_db_fail(s, src, "folding process seconds into minutes");
}

static int expire_minutes(struct store *s, const int64_t *ids, size_t nids, int64_t expire,
                          int *budget)
{
	int rc = STORE_OK, src;
	sqlite3_stmt *gpu = stmt(s, M_EXP_GPU, &rc), *proc = stmt(s, M_EXP_PROC, &rc);
	if (!gpu || !proc)
		return rc;
	for (size_t g = 0; g<nids && * budget> 0; g++) {
		sqlite3_bind_int64(gpu, 1, ids[g]);
		sqlite3_bind_int64(gpu, 2, expire);
		sqlite3_bind_int64(gpu, 3, *budget);
		if ((src = run(gpu)) != SQLITE_DONE)
			goto db_err;
		int rows = sqlite3_changes(s->db);
		s->stats.rows_expired += (uint64_t)rows;
		*budget -= rows;
	}
	if (*budget > 0) {
		sqlite3_bind_int64(proc, 1, expire);
		sqlite3_bind_int64(proc, 2, *budget);
		if ((src = run(proc)) != SQLITE_DONE)
			goto db_err;
		int rows = sqlite3_changes(s->db);
		s->stats.rows_expired += (uint64_t)rows;
		*budget -= rows;
	}
	return STORE_OK;
db_err:
	return store_db_fail(s, src, "deleting expired minutes");
}

int store_maintain_step(struct store *s, int64_t now, int budget, bool *more)
{
	int64_t fold_end = store_minute_of(now - s->opt.second_retention_s);
	int64_t expire = now - s->opt.minute_retention_s;
	int64_t *ids;
	size_t nids;
	int rc = gpu_ids(s, &ids, &nids);

	if (rc == STORE_OK)
		rc = fold_gpus(s, ids, nids, fold_end, &budget);
	if (rc == STORE_OK && budget > 0)
		rc = fold_processes(s, fold_end, &budget);
	if (rc == STORE_OK && budget > 0)
		rc = expire_minutes(s, ids, nids, expire, &budget);
	if (rc == STORE_OK && budget > 0) {
		/* A process's rows all lie within a minute of its last_t (write.c),
		 * so once minutes before `expire` are gone, so are its rows. */
		sqlite3_stmt *prune = stmt(s, M_PRUNE, &rc);
		if (prune) {
			sqlite3_bind_int64(prune, 1, expire - 120);
			sqlite3_bind_int64(prune, 2, budget);
			int src = run(prune);
			if (src != SQLITE_DONE)
				rc = store_db_fail(s, src, "deleting processes that are gone");
			else
				budget -= sqlite3_changes(s->db);
		}
	}
	free(ids);
	*more = rc == STORE_OK && budget <= 0;
	return rc;
}

int store_maintain(struct store *s, int64_t now, bool *more)
{
	bool left = false;
	bool own = !s->in_batch;
	int rc;
	if (more)
		*more = false;
	if (s->opt.read_only)
		return store_fail(s, STORE_EREADONLY, "history %s: opened read-only", s->path);
	if (s->poisoned)
		return store_refuse_corrupt(s);
	rc = store_exec(s, own ? "BEGIN IMMEDIATE" : "SAVEPOINT maintain", "starting maintenance");
	if (rc != STORE_OK)
		return rc;
	rc = store_maintain_step(s, now, s->opt.maintain_rows, &left);
	if (rc == STORE_OK) /* its own tables, its own budget (store/inference.c) */
		rc = store_inference_maintain(s, now, s->opt.maintain_rows, &left);
	if (rc == STORE_OK) {
		rc = store_exec(s, own ? "COMMIT" : "RELEASE maintain", "committing maintenance");
		if (rc == STORE_OK) {
			if (more)
				*more = left;
			return STORE_OK;
		}
	}
	/* Undo this step only; an open batch survives unless SQLite already
	 * rolled the whole transaction back (it may, on a full disk). */
	if (!sqlite3_get_autocommit(s->db)) {
		if (own) {
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		} else {
			sqlite3_exec(s->db, "ROLLBACK TO maintain", NULL, NULL, NULL);
			sqlite3_exec(s->db, "RELEASE maintain", NULL, NULL, NULL);
		}
	} else if (!own) {
		store_batch_rollback(s);
	}
	return rc;
}
