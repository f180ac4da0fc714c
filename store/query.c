/* query.c - history out: per-GPU series, per-process series, GPU lists.
 *
 * Results are plain arrays on a regular grid (NaN where absent), the shape
 * analyze/ and `gpuscope query` take.  At second resolution each point is one
 * gpu_second row.  At minute resolution each point is one whole minute: its
 * gpu_minute row, merged with its gpu_rollup row (the summary of its 1 s rows
 * not folded yet, rollup.c) or, for a minute without one, with its 1 s rows
 * themselves (mean weighted by seconds, max of max, min of min, latest
 * value), so a range that spans the fold boundary reads as one series and a
 * week costs one row per GPU-minute.  Values come back in the metric table's
 * raw units.  A bucketed query folds whole rows (seconds, or minutes) into
 * wider points the same way.  Memory is the result grid, one more double per
 * point and request while folding, and one row at a time: rows stream from
 * SQLite's page cache, nothing maps the file.
 *
 * Reads run in their own implicit transaction, so in WAL mode they see the
 * last committed batch and never wait for, or block, the writer.
 */
#include "store/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int lookup_gpu(struct store *s, const char *uuid, int64_t *gid)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, "SELECT id FROM gpus WHERE uuid = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_db_fail(s, rc, "reading it");
	sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*gid = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return store_fail(s, STORE_ENOENT, "history %s: no rows for GPU %s", s->path, uuid);
	return rc == SQLITE_ROW ? STORE_OK : store_db_fail(s, rc, "reading it");
}

/* Points of a query: t0, t0 + step, ... (n of them).  base is the resolution read (1 s or
 * 60 s rows); step a multiple of it, so a point folds whole rows (or whole minutes). */
struct grid {
	int64_t t0, step, base;
	size_t n;
};

/* Point of a row at t, or n when it falls outside. */
static size_t grid_point(const struct grid *g, int64_t t)
{
	int64_t at = g->base == 60 ? store_minute_of(t) : t;
	if (at < g->t0)
		return g->n;
	uint64_t i = (uint64_t)(at - g->t0) / (uint64_t)g->step;
	return i < g->n ? (size_t)i : g->n;
}

/* The grid for [from, to]: rows of 1 s or 60 s, `bucket` seconds a point (0: one row). */
static int grid(struct store *s, int64_t gid, int64_t from, int64_t to, enum store_resolution res,
                int64_t bucket, struct grid *g)
{
	if (from > to)
		return store_fail(s, STORE_EINVAL, "history %s: query range ends before it starts",
		                  s->path);
	if (bucket < 0 || bucket > 366 * 86400)
		return store_fail(s, STORE_EINVAL, "history %s: a bad point width", s->path);
	g->base = res == STORE_RES_MINUTE ? 60 : 1;
	if (res == STORE_RES_AUTO) {
		sqlite3_stmt *st;
		int rc =
		    sqlite3_prepare_v2(s->db,
		                       "SELECT 1 FROM gpu_minute WHERE gpu_id = ?1 AND t >= ?2 AND "
		                       "t <= ?3 LIMIT 1",
		                       -1, &st, NULL);
		if (rc != SQLITE_OK)
			return store_db_fail(s, rc, "reading it");
		sqlite3_bind_int64(st, 1, gid);
		sqlite3_bind_int64(st, 2, store_minute_of(from));
		sqlite3_bind_int64(st, 3, to);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return store_db_fail(s, rc, "reading it");
		if (rc == SQLITE_ROW)
			g->base = 60;
	}
	/* A point is whole rows: the width rounds up to a multiple of the rows'. */
	g->step = bucket > g->base ? (bucket + g->base - 1) / g->base * g->base : g->base;
	g->t0 = g->base == 60 ? store_minute_of(from) : from;
	int64_t last = g->base == 60 ? store_minute_of(to) : to;
	uint64_t points = (uint64_t)(last - g->t0) / (uint64_t)g->step + 1;
	if (points > STORE_QUERY_MAX_POINTS)
		return store_fail(s, STORE_EINVAL,
		                  "history %s: %llu points asked (at most %zu); ask for minute "
		                  "resolution or a shorter range",
		                  s->path, (unsigned long long)points, STORE_QUERY_MAX_POINTS);
	g->n = (size_t)points;
	return STORE_OK;
}

/* What folding rows into a point keeps, per point and request, in two doubles: the
 * value so far (a: a weighted sum for means) and b, NaN until a row arrived, then the
 * weight (means), 1 (extremes) or the value's time (latest value).  a lives in the
 * result's own array, so a query holds 16 bytes per point and request, whatever the
 * rows it folds. */
static void fold_add(double *a, double *b, enum store_col_stat stat, double v, double w, double t)
{
	bool have = !isnan(*b);
	switch (stat) {
	case COL_MEAN:
		*a = have ? *a + v * w : v * w;
		*b = have ? *b + w : w;
		return;
	case COL_MAX:
		*a = have ? fmax(*a, v) : v;
		break;
	case COL_MIN:
		*a = have ? fmin(*a, v) : v;
		break;
	case COL_VALUE:
		if (!have || t >= *b) {
			*a = v;
			*b = t;
		}
		return;
	}
	*b = 1;
}

static double fold_result(double a, double b, enum store_col_stat stat)
{
	if (isnan(b))
		return NAN;
	return stat == COL_MEAN ? a / b : a;
}

enum series_table { TAB_SECOND, TAB_MINUTE, TAB_ROLLUP };

/* "SELECT t[, n], <column or NULL per request> FROM table WHERE ..." */
static char *series_sql(const struct store *s, const int *ci, size_t nreq, enum series_table tab,
                        bool with_n)
{
	static const char *const names[] = {"gpu_second", "gpu_minute", "gpu_rollup"};
	const bool *has = tab == TAB_MINUTE   ? s->has_min
	                  : tab == TAB_ROLLUP ? s->has_roll
	                                      : s->has_sec;
	size_t cap = 160 + nreq * (STORE_COL_NAME_MAX + 2);
	char *sql = malloc(cap);
	if (!sql)
		return NULL;
	size_t off = (size_t)snprintf(sql, cap, "SELECT t%s", with_n ? ", n" : "");
	for (size_t k = 0; k < nreq; k++)
		off += (size_t)snprintf(sql + off, cap - off, ", %s",
		                        ci[k] >= 0 && has[ci[k]] ? s->cols[ci[k]].name : "NULL");
	snprintf(sql + off, cap - off, " FROM %s WHERE gpu_id = ?1 AND t >= ?2 AND t <= ?3",
	         names[tab]);
	return sql;
}

/* Where one query's rows go: the grid, the requests' columns, the result (values: a of
 * fold_add, or the values themselves when direct) and b; covered marks, per minute from
 * t0, the minutes a rollup row summarized (NULL: not kept). */
struct scan_to {
	const struct grid *g;
	const int *ci;
	size_t nreq;
	double *values, *b;
	bool direct;
	bool *covered;
};

/* Runs one series query (st, prepared from series_sql) over [from, to]. */
static int scan_stmt(struct store *s, sqlite3_stmt *st, int64_t gid, int64_t from, int64_t to,
                     bool with_n, const struct scan_to *o)
{
	int rc;
	size_t n = o->g->n;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, gid);
	sqlite3_bind_int64(st, 2, from);
	sqlite3_bind_int64(st, 3, to);
	int first = with_n ? 2 : 1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t t = sqlite3_column_int64(st, 0);
		size_t i = grid_point(o->g, t);
		double w = with_n ? (double)sqlite3_column_int64(st, 1) : 1.0;
		double when = with_n ? (double)(t + 59) : (double)t;
		if (i >= n)
			continue;
		if (o->covered)
			o->covered[(store_minute_of(t) - o->g->t0) / 60] = true;
		for (size_t k = 0; k < o->nreq; k++) {
			if (o->ci[k] < 0 || sqlite3_column_type(st, first + (int)k) == SQLITE_NULL)
				continue;
			const struct store_col *c = &s->cols[o->ci[k]];
			double v = sqlite3_column_double(st, first + (int)k);
			if (o->direct)
				o->values[k * n + i] = store_unscale(c, v);
			else
				fold_add(&o->values[k * n + i], &o->b[k * n + i], c->stat, v, w,
				         when);
		}
	}
	return rc == SQLITE_DONE ? STORE_OK : store_db_fail(s, rc, "reading it");
}

static int scan(struct store *s, const char *sql, int64_t gid, int64_t from, int64_t to,
                bool with_n, const struct scan_to *o)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_db_fail(s, rc, "reading it");
	rc = scan_stmt(s, st, gid, from, to, with_n, o);
	sqlite3_finalize(st);
	return rc;
}

/* The 1 s rows of the minutes no rollup covered (nmin minutes from the grid's t0), one
 * range read per run of such minutes (in the clustered layout each is one seek and
 * adjacent pages). */
static int scan_uncovered(struct store *s, const char *sql, int64_t gid, size_t nmin,
                          const struct scan_to *o)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_db_fail(s, rc, "reading it");
	struct scan_to secs = *o;
	secs.covered = NULL;
	int64_t t0 = o->g->t0;
	rc = STORE_OK;
	for (size_t i = 0; rc == STORE_OK && i < nmin;) {
		if (o->covered[i]) {
			i++;
			continue;
		}
		size_t j = i;
		while (j + 1 < nmin && !o->covered[j + 1])
			j++;
		rc = scan_stmt(s, st, gid, t0 + (int64_t)i * 60, t0 + (int64_t)j * 60 + 59, false,
		               &secs);
		i = j + 1;
	}
	sqlite3_finalize(st);
	return rc;
}

int store_query(struct store *s, const char *uuid, int64_t from, int64_t to,
                const struct store_request *req, size_t nreq, enum store_resolution res,
                struct store_series *out)
{
	return store_query_bucketed(s, uuid, from, to, req, nreq, res, 0, out);
}

int store_query_bucketed(struct store *s, const char *uuid, int64_t from, int64_t to,
                         const struct store_request *req, size_t nreq, enum store_resolution res,
                         int64_t bucket, struct store_series *out)
{
	int64_t gid;
	struct grid g;
	int rc;
	int *ci = NULL;
	char *sql = NULL;
	double *b = NULL;
	bool *covered = NULL;

	memset(out, 0, sizeof(*out));
	if (!uuid || (nreq && !req))
		return store_fail(s, STORE_EINVAL, "history %s: query without a GPU or requests",
		                  s->path);
	/* A reader opened on a layout 1 file (the agent's series API, say) picks up
	 * the rollups once the writer has migrated the file under it. */
	if (!s->has_rollup && s->opt.read_only && (rc = store_schema_load_columns(s)) != STORE_OK)
		return rc;
	if ((rc = lookup_gpu(s, uuid, &gid)) != STORE_OK ||
	    (rc = grid(s, gid, from, to, res, bucket, &g)) != STORE_OK)
		return rc;
	size_t n = g.n;
	if (nreq > SIZE_MAX / sizeof(double) / n)
		return store_fail(s, STORE_EINVAL, "history %s: query too large", s->path);
	ci = calloc(nreq ? nreq : 1, sizeof(*ci));
	out->values = malloc((nreq ? nreq : 1) * n * sizeof(double));
	if (!ci || !out->values)
		goto oom;
	for (size_t k = 0; k < nreq; k++) {
		int m = req[k].metric;
		ci[k] = -1;
		if (m >= 0 && m < METRIC_COUNT && (int)req[k].stat >= 0 &&
		    req[k].stat <= STORE_MIN) {
			ci[k] = s->col_of[m][metric_windowed(m) ? (int)req[k].stat : COL_VALUE];
		}
	}
	for (size_t i = 0; i < nreq * n; i++)
		out->values[i] = NAN;
	out->t0 = g.t0;
	out->step = g.step;
	out->n = n;
	out->nreq = nreq;
	if (nreq == 0)
		goto done;

	struct scan_to to_ = {&g, ci, nreq, out->values, NULL, g.step == 1, NULL};
	if (!to_.direct) {
		b = malloc(nreq * n * sizeof(*b));
		if (!b)
			goto oom;
		for (size_t i = 0; i < nreq * n; i++)
			b[i] = NAN;
		to_.b = b;
	}
	if (g.base == 1) {
		if (!(sql = series_sql(s, ci, nreq, TAB_SECOND, false)))
			goto oom;
		rc = scan(s, sql, gid, from, to, false, &to_);
		goto fold;
	}
	/* Minutes: folded minute rows, then rollups of minutes whose seconds are
	 * still stored, then the seconds of minutes neither covers (the open
	 * minute; every minute of a layout 1 file). */
	int64_t last = store_minute_of(to);
	size_t nmin = (size_t)((last - g.t0) / 60 + 1);
	covered = calloc(nmin, sizeof(*covered));
	if (!covered || !(sql = series_sql(s, ci, nreq, TAB_MINUTE, true)))
		goto oom;
	rc = scan(s, sql, gid, g.t0, last, true, &to_);
	free(sql);
	sql = NULL;
	if (rc == STORE_OK && s->has_rollup) {
		if (!(sql = series_sql(s, ci, nreq, TAB_ROLLUP, true)))
			goto oom;
		to_.covered = covered;
		rc = scan(s, sql, gid, g.t0, last, true, &to_);
		free(sql);
		sql = NULL;
	}
	if (rc == STORE_OK) {
		if (!(sql = series_sql(s, ci, nreq, TAB_SECOND, false)))
			goto oom;
		to_.covered = covered;
		rc = scan_uncovered(s, sql, gid, nmin, &to_);
	}
fold:
	for (size_t k = 0; rc == STORE_OK && b && k < nreq; k++)
		for (size_t i = 0; ci[k] >= 0 && i < n; i++) {
			const struct store_col *c = &s->cols[ci[k]];
			double *v = &out->values[k * n + i];
			*v = store_unscale(c, fold_result(*v, b[k * n + i], c->stat));
		}
done:
	free(ci);
	free(sql);
	free(b);
	free(covered);
	if (rc != STORE_OK)
		store_series_free(out);
	return rc;
oom:
	rc = store_fail(s, STORE_ENOMEM, "history %s: out of memory for a query", s->path);
	goto done;
}

void store_series_free(struct store_series *out)
{
	if (!out)
		return;
	free(out->values);
	memset(out, 0, sizeof(*out));
}

/* ---- processes ---- */

struct proc_build {
	int64_t id;
	/* values (or sums) and weights of each process family the history keeps (else NULL) */
	double *v[PROC_FAMILY_COUNT], *w[PROC_FAMILY_COUNT];
};

static struct proc_build *proc_slot(struct proc_build **all, size_t *count, size_t *cap, int64_t id,
                                    size_t n)
{
	for (size_t i = 0; i < *count; i++)
		if ((*all)[i].id == id)
			return &(*all)[i];
	if (*count == *cap) {
		size_t c = *cap ? 2 * *cap : 8;
		struct proc_build *p = realloc(*all, c * sizeof(*p));
		if (!p)
			return NULL;
		*all = p;
		*cap = c;
	}
	struct proc_build *b = &(*all)[*count];
	memset(b, 0, sizeof(*b));
	b->id = id;
	(*count)++;
	for (int f = 0; f < PROC_FAMILY_COUNT; f++) {
		if (!process_family_table[f].history)
			continue;
		b->v[f] = calloc(n, sizeof(double));
		b->w[f] = calloc(n, sizeof(double));
		if (!b->v[f] || !b->w[f])
			return NULL;
	}
	return b;
}

static int proc_scan(struct store *s, const char *sql, int64_t gid, int64_t from, int64_t to,
                     bool with_n, const struct grid *g, struct proc_build **all, size_t *count,
                     size_t *cap)
{
	size_t n = g->n;
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_db_fail(s, rc, "reading it");
	sqlite3_bind_int64(st, 1, gid);
	sqlite3_bind_int64(st, 2, from);
	sqlite3_bind_int64(st, 3, to);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t t = sqlite3_column_int64(st, 0);
		size_t i = grid_point(g, t);
		double w = with_n ? (double)sqlite3_column_int64(st, 2) : 1.0;
		if (i >= n)
			continue;
		struct proc_build *b = proc_slot(all, count, cap, sqlite3_column_int64(st, 1), n);
		if (!b) {
			sqlite3_finalize(st);
			return store_fail(s, STORE_ENOMEM, "history %s: out of memory for a query",
			                  s->path);
		}
		for (int f = 0, col = with_n ? 3 : 2; f < PROC_FAMILY_COUNT; f++) {
			if (!b->v[f])
				continue; /* no column: the history does not keep it */
			int c = col++;
			if (sqlite3_column_type(st, c) == SQLITE_NULL)
				continue;
			b->v[f][i] += sqlite3_column_double(st, c) * w;
			b->w[f][i] += w;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? STORE_OK : store_db_fail(s, rc, "reading it");
}

static char *dup_text(sqlite3_stmt *st, int col)
{
	const char *p = (const char *)sqlite3_column_text(st, col);
	return strdup(p ? p : "");
}

static int proc_labels(struct store *s, struct store_process_series *p, int64_t id)
{
	sqlite3_stmt *st;
	int rc =
	    sqlite3_prepare_v2(s->db,
	                       "SELECT pid, name, container, pod, namespace, job FROM processes "
	                       "WHERE id = ?1",
	                       -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_db_fail(s, rc, "reading it");
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		p->pid = (unsigned)sqlite3_column_int64(st, 0);
		p->name = dup_text(st, 1);
		p->container = dup_text(st, 2);
		p->pod = dup_text(st, 3);
		p->namespace_ = dup_text(st, 4);
		p->job = dup_text(st, 5);
	} else {
		/* Rows of a process pruned meanwhile: keep the numbers, no labels. */
		p->name = strdup("");
		p->container = strdup("");
		p->pod = strdup("");
		p->namespace_ = strdup("");
		p->job = strdup("");
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_db_fail(s, rc, "reading it");
	if (!p->name || !p->container || !p->pod || !p->namespace_ || !p->job)
		return store_fail(s, STORE_ENOMEM, "history %s: out of memory for a query",
		                  s->path);
	return STORE_OK;
}

int store_query_processes(struct store *s, const char *uuid, int64_t from, int64_t to,
                          enum store_resolution res, struct store_process_set *out)
{
	return store_query_processes_bucketed(s, uuid, from, to, res, 0, out);
}

int store_query_processes_bucketed(struct store *s, const char *uuid, int64_t from, int64_t to,
                                   enum store_resolution res, int64_t bucket,
                                   struct store_process_set *out)
{
	int64_t gid;
	struct grid g;
	size_t count = 0, cap = 0;
	struct proc_build *all = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!uuid)
		return store_fail(s, STORE_EINVAL, "history %s: query without a GPU", s->path);
	if ((rc = lookup_gpu(s, uuid, &gid)) != STORE_OK ||
	    (rc = grid(s, gid, from, to, res, bucket, &g)) != STORE_OK)
		return rc;
	size_t n = g.n;
	/* each stored process family's column (GPUSCOPE_PROCESS_FAMILIES), in table order */
	char *sec = store_proc_sql("SELECT t, proc_id", ", @",
	                           " FROM proc_second WHERE gpu_id = ?1 AND t >= ?2 AND t <= ?3");
	char *min = store_proc_sql("SELECT t, proc_id, n", ", @_mean",
	                           " FROM proc_minute WHERE gpu_id = ?1 AND t >= ?2 AND t <= ?3");
	if (!sec || !min) {
		rc = store_fail(s, STORE_ENOMEM, "history %s: out of memory for a query", s->path);
	} else if (g.base == 1) {
		rc = proc_scan(s, sec, gid, from, to, false, &g, &all, &count, &cap);
	} else {
		int64_t last = store_minute_of(to);
		rc = proc_scan(s, min, gid, g.t0, last, true, &g, &all, &count, &cap);
		if (rc == STORE_OK)
			rc = proc_scan(s, sec, gid, g.t0, last + 59, false, &g, &all, &count, &cap);
	}
	free(sec);
	free(min);
	out->t0 = g.t0;
	out->step = g.step;
	out->n = n;
	if (count && !(out->procs = calloc(count, sizeof(*out->procs))))
		rc = rc == STORE_OK
		         ? store_fail(s, STORE_ENOMEM, "history %s: out of memory", s->path)
		         : rc;
	for (size_t j = 0; j < count; j++) {
		struct proc_build *b = &all[j];
		if (out->procs && rc == STORE_OK) {
			struct store_process_series *p = &out->procs[out->nprocs++];
			for (int f = 0; f < PROC_FAMILY_COUNT; f++) {
				for (size_t i = 0; b->v[f] && i < n; i++)
					b->v[f][i] = b->w[f][i] > 0 ? b->v[f][i] / b->w[f][i] : NAN;
				p->value[f] = b->v[f];
				b->v[f] = NULL;
			}
			rc = proc_labels(s, p, b->id);
		}
		for (int f = 0; f < PROC_FAMILY_COUNT; f++) {
			free(b->v[f]);
			free(b->w[f]);
		}
	}
	free(all);
	if (rc != STORE_OK)
		store_process_set_free(out);
	return rc;
}

void store_process_set_free(struct store_process_set *out)
{
	if (!out)
		return;
	for (size_t j = 0; j < out->nprocs; j++) {
		struct store_process_series *p = &out->procs[j];
		free(p->name);
		free(p->container);
		free(p->pod);
		free(p->namespace_);
		free(p->job);
		for (int f = 0; f < PROC_FAMILY_COUNT; f++)
			free(p->value[f]);
	}
	free(out->procs);
	memset(out, 0, sizeof(*out));
}

/* ---- GPUs ---- */

/* First (or last) t of a GPU's rows in one table within [from, to]. */
static int edge(sqlite3_stmt *st, int64_t gid, int64_t from, int64_t to, int64_t *t, bool *found)
{
	sqlite3_bind_int64(st, 1, gid);
	sqlite3_bind_int64(st, 2, from);
	sqlite3_bind_int64(st, 3, to);
	int rc = sqlite3_step(st);
	*found = rc == SQLITE_ROW;
	if (*found)
		*t = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}

int store_list_gpus(struct store *s, int64_t from, int64_t to, struct store_gpu_info **out,
                    size_t *n)
{
	static const char *const edge_sql[4] = {
	    "SELECT t FROM gpu_second WHERE gpu_id = ?1 AND t >= ?2 AND t <= ?3 ORDER BY t LIMIT 1",
	    "SELECT t FROM gpu_second WHERE gpu_id = ?1 AND t >= ?2 AND t <= ?3 ORDER BY t DESC "
	    "LIMIT 1",
	    "SELECT t FROM gpu_minute WHERE gpu_id = ?1 AND t >= ?2 AND t <= ?3 ORDER BY t LIMIT 1",
	    "SELECT t FROM gpu_minute WHERE gpu_id = ?1 AND t >= ?2 AND t <= ?3 ORDER BY t DESC "
	    "LIMIT 1",
	};
	sqlite3_stmt *st[4] = {NULL}, *gpus = NULL;
	struct store_gpu_info *list = NULL;
	size_t count = 0, cap = 0;
	int rc = SQLITE_OK;

	*out = NULL;
	*n = 0;
	for (int i = 0; i < 4 && rc == SQLITE_OK; i++)
		rc = sqlite3_prepare_v2(s->db, edge_sql[i], -1, &st[i], NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db, "SELECT id, uuid, model FROM gpus ORDER BY id", -1,
		                        &gpus, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(gpus)) == SQLITE_ROW) {
		int64_t gid = sqlite3_column_int64(gpus, 0), t[4];
		bool f[4];
		rc = SQLITE_OK;
		for (int i = 0; i < 4 && rc == SQLITE_OK; i++) {
			/* Minute rows count from the minute that overlaps `from`. */
			int64_t lo = i >= 2 ? store_minute_of(from) : from;
			rc = edge(st[i], gid, lo, to, &t[i], &f[i]);
			rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		}
		if (rc != SQLITE_OK || (!f[0] && !f[2]))
			continue;
		if (count == cap) {
			size_t c = cap ? 2 * cap : 8;
			struct store_gpu_info *p = realloc(list, c * sizeof(*p));
			if (!p) {
				rc = SQLITE_NOMEM;
				break;
			}
			list = p;
			cap = c;
		}
		struct store_gpu_info *g = &list[count++];
		const char *uuid = (const char *)sqlite3_column_text(gpus, 1);
		const char *model = (const char *)sqlite3_column_text(gpus, 2);
		g->uuid = strdup(uuid ? uuid : "");
		g->model = model ? strdup(model) : NULL;
		g->first_t = f[2] && (!f[0] || t[2] < t[0]) ? t[2] : t[0];
		g->last_t = f[0] && (!f[2] || t[1] > t[3]) ? t[1] : t[3];
		if (!g->uuid || (model && !g->model))
			rc = SQLITE_NOMEM;
	}
	for (int i = 0; i < 4; i++)
		sqlite3_finalize(st[i]);
	sqlite3_finalize(gpus);
	if (rc != SQLITE_DONE && rc != SQLITE_OK) {
		store_gpu_list_free(list, count);
		return rc == SQLITE_NOMEM
		           ? store_fail(s, STORE_ENOMEM, "history %s: out of memory", s->path)
		           : store_db_fail(s, rc, "listing its GPUs");
	}
	*out = list;
	*n = count;
	return STORE_OK;
}

void store_gpu_list_free(struct store_gpu_info *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++) {
		free(list[i].uuid);
		free(list[i].model);
	}
	free(list);
}
