/* write.c - rows in, batched into transactions.
 *
 * A batch is one write transaction holding batch_seconds distinct seconds of
 * rows.  It is opened by the first row and committed when a row of a further
 * second arrives, so the agent never waits on a commit more than once per
 * batch, and a kill -9 loses at most the open batch: SQLite's WAL makes each
 * commit atomic, and synchronous=NORMAL keeps commits in the OS page cache
 * without an fsync (a process crash cannot lose them; a power cut can lose
 * the last few but never corrupts the file).
 *
 * Any failure rolls the whole batch back and drops it.  The id caches (GPU
 * uuid -> gpus.id, process identity -> processes.id) are then cleared too,
 * because ids handed out inside the rolled-back transaction no longer exist.
 */
#include "store/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A value in the stored quantum: an integer when it fits (1-8 bytes on disk),
 * NULL when absent or not finite. */
static void bind_scaled(sqlite3_stmt *st, int idx, double v, double scale)
{
	if (!isfinite(v)) {
		sqlite3_bind_null(st, idx);
		return;
	}
	double x = v * scale;
	if (fabs(x) < 9.0e15)
		sqlite3_bind_int64(st, idx, llround(x));
	else
		sqlite3_bind_double(st, idx, x);
}

static void bind_real(sqlite3_stmt *st, int idx, double v)
{
	if (isfinite(v))
		sqlite3_bind_double(st, idx, v);
	else
		sqlite3_bind_null(st, idx);
}

static void procs_clear(struct store *s)
{
	for (size_t i = 0; i < PROC_CACHE_SLOTS; i++) {
		free(s->procs[i].key);
		s->procs[i].key = NULL;
	}
	s->nprocs = 0;
}

void store_caches_clear(struct store *s)
{
	for (size_t i = 0; i < s->ngpus; i++) {
		free(s->gpus[i].uuid);
		free(s->gpus[i].model);
	}
	s->ngpus = 0;
	procs_clear(s);
}

int store_batch_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	if (s->in_batch)
		s->stats.rows_dropped += s->batch_gpu_rows + s->batch_proc_rows;
	s->in_batch = false;
	store_caches_clear(s);
	return STORE_OK;
}

/* Fails the open batch: rolls back, drops it, keeps s->err and returns code. */
static int batch_fail(struct store *s, int code)
{
	store_batch_rollback(s);
	return code;
}

/* Fails the batch on a row of it: the row is lost with the batch, and counted
 * so (a batch's first row can be the one the disk has no room for). */
static int row_fail(struct store *s, uint64_t *rows, int code)
{
	++*rows;
	return batch_fail(s, code);
}

int store_flush(struct store *s)
{
	int rc;
	if (!s->in_batch)
		return STORE_OK;
	if (s->opt.auto_maintain) {
		bool more;
		rc = store_maintain(s, s->batch_max_t, &more);
		if (rc != STORE_OK) {
			s->stats.maintain_errors++;
			if (!s->in_batch) /* the failure took the transaction with it */
				return rc;
		}
	}
	/* Minutes this batch closed get their rollup in the same transaction. */
	if ((rc = store_rollup_pending(s)) != STORE_OK)
		return batch_fail(s, rc);
	rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return batch_fail(s, store_db_fail(s, rc, "committing a batch"));
	s->in_batch = false;
	s->stats.batches++;
	s->stats.rows_gpu += s->batch_gpu_rows;
	s->stats.rows_process += s->batch_proc_rows;
	s->stats.committed_t = s->batch_max_t;
	return STORE_OK;
}

/* Opens a batch, or commits the full one first, for a row of second t. */
static int batch_admit(struct store *s, int64_t t)
{
	int rc;
	if (s->opt.read_only)
		return store_fail(s, STORE_EREADONLY, "history %s: opened read-only", s->path);
	if (s->poisoned)
		return store_refuse_corrupt(s);
	if (s->in_batch && t != s->batch_last_t && s->batch_nsec >= s->opt.batch_seconds)
		if ((rc = store_flush(s)) != STORE_OK)
			return rc;
	if (!s->in_batch) {
		rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			return batch_fail(s, store_db_fail(s, rc, "starting a batch"));
		s->in_batch = true;
		s->batch_nsec = 1;
		s->batch_first_t = s->batch_last_t = s->batch_max_t = t;
		s->batch_gpu_rows = s->batch_proc_rows = 0;
		return STORE_OK;
	}
	if (t != s->batch_last_t) {
		s->batch_nsec++;
		s->batch_last_t = t;
	}
	if (t > s->batch_max_t)
		s->batch_max_t = t;
	return STORE_OK;
}

static char *dup_or_null(const char *p)
{
	return p ? strdup(p) : NULL;
}

/* gpus.id of uuid, inserting it (with its model) on first sight.  *entry (may
 * be NULL) is its cache entry, NULL when it could not be cached. */
static int gpu_id(struct store *s, const char *uuid, const char *model, int64_t t, int64_t *id,
                  struct gpu_cache_entry **entry)
{
	struct gpu_cache_entry *e = NULL;
	if (entry)
		*entry = NULL;
	for (size_t i = 0; i < s->ngpus; i++)
		if (strcmp(s->gpus[i].uuid, uuid) == 0)
			e = &s->gpus[i];
	if (e && (!model || (e->model && strcmp(e->model, model) == 0))) {
		*id = e->id;
		if (entry)
			*entry = e;
		return STORE_OK;
	}
	sqlite3_stmt *st = s->upsert_gpu;
	sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
	if (model)
		sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_int64(st, 3, t);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	int rc2 = sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW)
		return store_db_fail(s, rc2 != SQLITE_OK ? rc2 : rc, "recording a GPU");

	if (!e) {
		if (s->ngpus == s->capgpus) {
			size_t cap = s->capgpus ? 2 * s->capgpus : 16;
			struct gpu_cache_entry *p = realloc(s->gpus, cap * sizeof(*p));
			if (!p)
				return STORE_OK; /* uncached: looked up again next time */
			s->gpus = p;
			s->capgpus = cap;
		}
		e = &s->gpus[s->ngpus];
		if (!(e->uuid = strdup(uuid)))
			return STORE_OK;
		e->model = NULL;
		e->roll_from = INT64_MAX;
		e->newest_t = INT64_MIN;
		s->ngpus++;
	}
	free(e->model);
	e->model = dup_or_null(model);
	e->id = *id;
	if (entry)
		*entry = e;
	return STORE_OK;
}

static uint64_t fnv1a(const char *p)
{
	uint64_t h = 1469598103934665603ULL;
	while (*p) {
		h ^= (unsigned char)*p++;
		h *= 1099511628211ULL;
	}
	return h;
}

static const char *str_or_empty(const char *p)
{
	return p ? p : "";
}

/* processes.id of (pid, name, labels); last_t is kept within a minute of the
 * newest row so that pruning (maintain.c) knows when a process is gone. */
static int process_id(struct store *s, const struct store_process_row *r, int64_t *id)
{
	const char *f[5] = {str_or_empty(r->name), str_or_empty(r->container), str_or_empty(r->pod),
	                    str_or_empty(r->namespace_), str_or_empty(r->job)};
	size_t len = 16;
	for (int i = 0; i < 5; i++)
		len += strlen(f[i]) + 1;
	char *key = malloc(len);
	if (!key)
		return store_fail(s, STORE_ENOMEM, "history %s: out of memory", s->path);
	snprintf(key, len, "%u\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s", r->pid, f[0], f[1], f[2], f[3],
	         f[4]);
	uint64_t h = fnv1a(key);
	size_t slot = h % PROC_CACHE_SLOTS;
	while (s->procs[slot].key &&
	       (s->procs[slot].hash != h || strcmp(s->procs[slot].key, key) != 0))
		slot = (slot + 1) % PROC_CACHE_SLOTS;
	struct proc_cache_entry *e = &s->procs[slot];
	int rc;

	if (e->key) {
		free(key);
		key = NULL;
		if (r->t <= e->last_t + 60) {
			*id = e->id;
			return STORE_OK;
		}
		sqlite3_bind_int64(s->touch_procid, 1, e->id);
		sqlite3_bind_int64(s->touch_procid, 2, r->t);
		rc = sqlite3_step(s->touch_procid);
		sqlite3_reset(s->touch_procid);
		if (rc != SQLITE_DONE)
			return store_db_fail(s, rc, "recording a process");
		if (sqlite3_changes(s->db) > 0) {
			e->last_t = r->t;
			*id = e->id;
			return STORE_OK;
		}
		/* Pruned meanwhile (maintain.c): insert it again, same cache slot. */
	}

	sqlite3_stmt *st = s->upsert_procid;
	sqlite3_bind_int64(st, 1, r->pid);
	for (int i = 0; i < 5; i++)
		sqlite3_bind_text(st, 2 + i, f[i], -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, r->t);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	int rc2 = sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		free(key);
		return store_db_fail(s, rc2 != SQLITE_OK ? rc2 : rc, "recording a process");
	}
	if (!key) {
		e->id = *id;
		e->last_t = r->t;
		return STORE_OK;
	}

	if (s->nprocs >= PROC_CACHE_SLOTS / 2) /* keep probes short: start over */
		procs_clear(s);
	slot = h % PROC_CACHE_SLOTS;
	while (s->procs[slot].key)
		slot = (slot + 1) % PROC_CACHE_SLOTS;
	s->procs[slot] =
	    (struct proc_cache_entry){.hash = h, .key = key, .id = *id, .last_t = r->t};
	s->nprocs++;
	return STORE_OK;
}

int store_put_gpu(struct store *s, const struct store_gpu_row *row)
{
	int64_t gid;
	int rc;
	if (!row || !row->uuid || !*row->uuid)
		return store_fail(s, STORE_EINVAL, "history %s: a GPU row without a uuid", s->path);
	if ((rc = batch_admit(s, row->t)) != STORE_OK)
		return rc;
	struct gpu_cache_entry *e;
	if ((rc = gpu_id(s, row->uuid, row->model, row->t, &gid, &e)) != STORE_OK)
		return row_fail(s, &s->batch_gpu_rows, rc);

	sqlite3_stmt *st = s->ins_second;
	sqlite3_bind_int64(st, 1, gid);
	sqlite3_bind_int64(st, 2, row->t);
	for (size_t i = 0; i < s->ncols; i++) {
		const struct store_col *c = &s->cols[i];
		int m = c->metric;
		double v = NAN;
		if (c->stat != COL_VALUE && row->win) {
			const struct window_agg *a = &row->win[m];
			/* A sum of n equal values over n can land an ulp below them, and the
			 * stored quantum can make that a whole step: the mean is kept between
			 * the extremes it is the mean of. */
			if (a->n > 0)
				v = c->stat == COL_MEAN  ? fmin(fmax(a->sum / a->n, a->min), a->max)
				    : c->stat == COL_MAX ? a->max
				                         : a->min;
		} else if (row->raw && (!row->valid || metric_set_has(row->valid, m))) {
			v = row->raw[m];
		}
		bind_scaled(st, 3 + (int)i, v, c->scale);
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return row_fail(s, &s->batch_gpu_rows, store_db_fail(s, rc, "writing a GPU row"));
	s->batch_gpu_rows++;
	int64_t m = store_minute_of(row->t);
	if (e) {
		e->roll_from = m < e->roll_from ? m : e->roll_from;
		e->newest_t = row->t > e->newest_t ? row->t : e->newest_t;
	} else if (s->has_rollup) {
		/* Uncached (out of memory): nothing remembers this minute, so its
		 * rollup is made again now rather than left behind its seconds. */
		int rows;
		if ((rc = store_fold_minute(s, gid, m, true, &rows)) != STORE_OK)
			return batch_fail(s, rc); /* the row is counted in the batch dropped */
	}
	return STORE_OK;
}

int store_put_process(struct store *s, const struct store_process_row *row)
{
	int64_t gid = 0, pid = 0;
	int rc;
	if (!row || !row->uuid || !*row->uuid)
		return store_fail(s, STORE_EINVAL, "history %s: a process row without a GPU uuid",
		                  s->path);
	if ((rc = batch_admit(s, row->t)) != STORE_OK)
		return rc;
	if ((rc = gpu_id(s, row->uuid, NULL, row->t, &gid, NULL)) != STORE_OK ||
	    (rc = process_id(s, row, &pid)) != STORE_OK)
		return row_fail(s, &s->batch_proc_rows, rc);

	sqlite3_stmt *st = s->ins_proc;
	sqlite3_bind_int64(st, 1, row->t);
	sqlite3_bind_int64(st, 2, gid);
	sqlite3_bind_int64(st, 3, pid);
	for (int f = 0, col = 4; f < PROC_FAMILY_COUNT; f++)
		if (process_family_table[f].history)
			bind_real(st, col++, row->value[f]);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return row_fail(s, &s->batch_proc_rows,
		                store_db_fail(s, rc, "writing a process row"));
	s->batch_proc_rows++;
	return STORE_OK;
}
