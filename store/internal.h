/* internal.h - what the store's files share: the handle, the column catalog
 * generated from the metric table, and the error helpers.  Not for use
 * outside store/. */
#ifndef GPUSCOPE_STORE_INTERNAL_H
#define GPUSCOPE_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* A column of gpu_second / gpu_minute holds one stat of one metric. */
enum store_col_stat { COL_MEAN = STORE_MEAN, COL_MAX = STORE_MAX, COL_MIN = STORE_MIN, COL_VALUE };

#define STORE_MAX_COLS     (3 * METRIC_COUNT)
#define STORE_COL_NAME_MAX 48

struct store_col {
	int metric;
	enum store_col_stat stat;
	char name[STORE_COL_NAME_MAX];
	double scale; /* stored integer = round(raw value x scale) */
};

/* How a raw unit is stored and shown: stored = round(raw x scale), native
 * (Prometheus base unit) = stored x mul / div, each exact. */
struct store_unit {
	const char *raw;    /* the raw unit's name */
	const char *stored; /* what one stored step is */
	double scale, mul, div;
};
const struct store_unit *store_unit_of(int metric);

/* Fills cols (STORE_MAX_COLS entries) from the metric table; returns the count. */
size_t store_columns(struct store_col *cols);

/* Process id cache: (pid, name, labels) -> processes.id.  Open addressing. */
#define PROC_CACHE_SLOTS 1024
struct proc_cache_entry {
	uint64_t hash;
	char *key; /* NULL: empty slot */
	int64_t id;
	int64_t last_t; /* processes.last_t as last written */
};

struct gpu_cache_entry {
	char *uuid;
	char *model;
	int64_t id;
	/* Minutes of gpu_rollup this handle still owes (rollup.c): every minute from
	 * roll_from (INT64_MAX: none) up to the one holding newest_t, which is open. */
	int64_t roll_from, newest_t;
};

struct store {
	sqlite3 *db;
	char *path;
	struct store_options opt;
	char err[1024];
	bool poisoned; /* SQLite reported corruption: no more writes through this handle */

	size_t ncols;
	struct store_col cols[STORE_MAX_COLS];
	bool has_sec[STORE_MAX_COLS], has_min[STORE_MAX_COLS]; /* column exists in the file */
	bool has_roll[STORE_MAX_COLS];
	bool has_rollup; /* the file has gpu_rollup (layout 2); a reader of a layout 1 file
	                  * folds seconds on the fly instead */
	int col_of[METRIC_COUNT][COL_VALUE + 1]; /* index in cols, or -1 */

	/* Writer statements (NULL on a read-only handle). */
	sqlite3_stmt *ins_second, *ins_proc, *upsert_gpu, *upsert_procid, *touch_procid;

	/* Maintenance statements, prepared on first use (maintain.c). */
	sqlite3_stmt *mstmt[16];

	/* The open batch. */
	bool in_batch;
	int batch_nsec;
	int64_t batch_first_t, batch_last_t, batch_max_t;
	uint64_t batch_gpu_rows, batch_proc_rows;

	struct gpu_cache_entry *gpus;
	size_t ngpus, capgpus;
	struct proc_cache_entry procs[PROC_CACHE_SLOTS];
	size_t nprocs;

	struct store_stats stats;
};

/* errors.c */
int store_fail(struct store *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Maps the db's last error to a code and writes a message naming path,
 * cause and remedy into buf; `doing` says what failed ("writing", ...). */
int store_sqlite_error(sqlite3 *db, int rc, const char *path, const char *doing, char *buf,
                       size_t len);
/* The same into s->err; counts the error. */
int store_db_fail(struct store *s, int rc, const char *doing);

/* Refuses a write after corruption was seen (STORE_ECORRUPT). */
int store_refuse_corrupt(struct store *s);

/* Runs SQL without results; on error fills s->err and returns the code. */
int store_exec(struct store *s, const char *sql, const char *doing);

/* SQL with one part per process family that has a history column (GPUSCOPE_PROCESS_FAMILIES):
 * head, then part once per family with each '@' replaced by the family's column, then tail;
 * malloc'd, NULL when out of memory. */
char *store_proc_sql(const char *head, const char *part, const char *tail);
/* proc_second's CREATE TABLE IF NOT EXISTS under the name table (layout 2: clustered by GPU,
 * then time); malloc'd, NULL when out of memory. */
char *store_proc_second_sql(const char *table);

/* schema.c */
int store_schema_open(struct store *s); /* validate, create or upgrade */
int store_schema_load_columns(struct store *s);

/* migrate.c: layout 1 (rowid tables by time) to 2 (clustered by GPU, rollups),
 * inside the caller's write transaction. */
int store_migrate_layout(struct store *s, int64_t version);

/* write.c */
void store_caches_clear(struct store *s);
int store_batch_rollback(struct store *s);

/* maintain.c */
int store_maintain_step(struct store *s, int64_t now, int budget, bool *more);
/* Summarizes minute m of GPU gid from its 1 s rows.  rollup: into gpu_rollup,
 * replacing the minute's row (none when it has no seconds), seconds kept;
 * else: folded into gpu_minute (merged with a row already there), seconds and
 * rollup deleted, *rows set to the seconds deleted. */
int store_fold_minute(struct store *s, int64_t gid, int64_t m, bool rollup, int *rows);
/* The first t of GPU gid's 1 s rows in [lo, hi); *found false when none. */
int store_next_second(struct store *s, int64_t gid, int64_t lo, int64_t hi, int64_t *t,
                      bool *found);

/* rollup.c */
/* Rolls up every minute of GPU gid in [from, to) that has 1 s rows. */
int store_rollup_range(struct store *s, int64_t gid, int64_t from, int64_t to);
/* Rolls up the whole minutes the open batch wrote, as of its newest second;
 * minutes the fold may already have thinned (before now - second_retention_s)
 * are left to it. */
int store_rollup_pending(struct store *s);

/* Floors to a multiple of 60 (toward minus infinity). */
static inline int64_t store_minute_of(int64_t t)
{
	int64_t r = t % 60;
	return r < 0 ? t - r - 60 : t - r;
}

/* A stored (scaled) value of a column back in raw units. */
static inline double store_unscale(const struct store_col *c, double stored)
{
	return stored / c->scale;
}

#endif
