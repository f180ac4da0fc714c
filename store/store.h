/* store.h - gpuscope's embedded history: one SQLite file per node.
 *
 * `gpuscope serve` hands the store one row per GPU per wall-clock second
 * (mean, max and min of each windowed fast metric over that second, the
 * latest value of every other metric) and one row per GPU process per second.
 * Rows are written in WAL mode, batched: one transaction per batch_seconds
 * distinct seconds (5 by default), so a kill -9 loses at most the open batch
 * and never corrupts the file.  1 s rows older than second_retention_s are
 * folded into 1-minute rows, which are deleted after minute_retention_s; that
 * maintenance runs in bounded steps, by default one step with each batch.
 *
 * The columns of the GPU tables are generated from the metric table
 * (series/metric_table.h): adding a metric adds a column, and opening a file
 * written before that adds the column (ALTER TABLE) instead of failing.
 * Values are stored as integers in a fixed fraction of the metric's raw unit
 * (1/100 percent, 1/10 MHz, mW, ...), which halves the file against REAL
 * columns; docs/history.md gives the schema, the quanta and example queries.
 *
 * Every value crosses this API in the metric table's raw unit (the unit NVML
 * returns, as in series/), NaN where absent; absent is stored as NULL, never 0.
 * Times are Unix seconds and always passed in by the caller, so tests can run
 * on a fake clock.
 *
 * A handle is used by one thread at a time.  Any number of read-only handles
 * (other threads, `gpuscope query`) may read the file while one writer writes.
 * No function exits or aborts on a bad file, a full disk or a read-only path:
 * each returns a STORE_E* code and store_errmsg() says what happened, to which
 * path, and what to do, so the agent can log it and keep serving metrics.
 */
#ifndef GPUSCOPE_STORE_H
#define GPUSCOPE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "series/metric_table.h"
#include "series/window.h"

/* Version of the table layout; stored in the file's schema_version table.
 * New metrics do not bump it (their columns are added on open).  2: GPU rows
 * clustered by (gpu, t) and per-minute rollups (docs/history.md); a writer
 * migrates a version 1 file on open, in one transaction. */
#define STORE_SCHEMA_VERSION 2

enum store_error {
	STORE_OK = 0,
	STORE_EINVAL,    /* a bad argument or option */
	STORE_ENOMEM,    /* out of memory */
	STORE_ECANTOPEN, /* the path cannot be opened or created (directory missing
	                  * or not writable, a directory in the way) */
	STORE_EREADONLY, /* the file or its directory is not writable */
	STORE_EFULL,     /* the disk is full, or max_bytes is reached */
	STORE_ENOTDB,    /* not an SQLite file, or SQLite but not a gpuscope history */
	STORE_ECORRUPT,  /* a gpuscope history whose pages are damaged */
	STORE_ENEWER,    /* written by a newer gpuscope (schema version too high) */
	STORE_EBUSY,     /* locked by another process for longer than busy_timeout_ms */
	STORE_ENOENT,    /* no history for that GPU (store_query) */
	STORE_EIO,       /* any other I/O or SQLite error (the message has SQLite's text) */
};

/* "full", "readonly", ... for logs and tests. */
const char *store_error_name(int code);

struct store_options {
	bool read_only;             /* open to read only (gpuscope query/report); no writes */
	int batch_seconds;          /* distinct seconds per transaction (5) */
	int64_t second_retention_s; /* 1 s rows are folded into minutes after this (48 h) */
	int64_t minute_retention_s; /* 1 min rows are deleted after this (90 days) */
	int maintain_rows;          /* most rows one maintenance step folds or deletes (600) */
	bool auto_maintain;         /* one maintenance step with each batch commit (true) */
	int64_t max_bytes;          /* cap on the database file (0: none); the WAL adds up to
	                             * about 4 MiB more.  Reaching it reads as STORE_EFULL. */
	int busy_timeout_ms;        /* wait for another process's lock (1000) */
	long group;                 /* a new file is created 0640 and given this group id
	                             * (-1, the default: 0600, the owner's alone) */
	bool verify_on_open;        /* writer: PRAGMA quick_check before the first write, so a
	                             * damaged file is refused, not written to (true; reads
	                             * the whole file once, see docs/history.md for the cost) */
	int cache_kib;              /* this connection's page cache in KiB (0: SQLite's
	                             * default, 2000).  What it holds stays in the process
	                             * until the connection closes or store_release_memory. */
};

void store_options_default(struct store_options *o);

struct store;

/* The mode a new history file (and so its -wal and -shm) is created with: the owner's, or
 * also its group's to read when store_options.group is set. */
#define STORE_FILE_MODE       0600
#define STORE_FILE_MODE_GROUP 0640

/* Opens (or, unless read_only, creates) the history at path.  Returns
 * STORE_OK and sets *out, or an error code with *out NULL and a message in
 * err (errlen bytes, may be 0).  A file that is not a gpuscope history, or
 * is from a newer gpuscope, is refused and never written to.  A new file is
 * created STORE_FILE_MODE. */
int store_open(const char *path, const struct store_options *opt, struct store **out, char *err,
               size_t errlen);

/* Commits the open batch, then closes.  Returns the commit's status; the
 * handle is freed either way.  NULL is a no-op. */
int store_close(struct store *s);

/* Gives back the pages this connection caches between uses (a reader held open between
 * requests): the next read takes them from the file again.  NULL is a no-op. */
void store_release_memory(struct store *s);

/* The last error's message ("" after none): names the path, the cause and
 * what to do.  Valid until the next call on s. */
const char *store_errmsg(const struct store *s);

/* ---- facts about the whole file (meta.c) ---- */

/* Keys of the meta table.  STORE_META_SIMULATED is "1" when any row came from the
 * simulator (sticky); STORE_META_SCENARIO names its scenario. */
#define STORE_META_SIMULATED "simulated"
#define STORE_META_SCENARIO  "scenario"

/* Sets key to value (writer only).  STORE_OK or an error code (store_errmsg). */
int store_meta_set(struct store *s, const char *key, const char *value);
/* Copies key's value into out (len bytes); false when absent ("" in out). */
bool store_meta_get(struct store *s, const char *key, char *out, size_t len);

/* ---- writing ---- */

/* One GPU's second.  win[m] is read for windowed metrics (metric_windowed();
 * n == 0: absent); raw[m] for the others, taken where valid has m and the value
 * is finite (valid NULL: every finite value).  With win NULL, windowed metrics
 * take their one raw value as mean, max and min. */
struct store_gpu_row {
	const char *uuid;             /* GPU-... (or MIG-...); required */
	const char *model;            /* NVML name, e.g. "NVIDIA H200"; may be NULL */
	int64_t t;                    /* the wall-clock second (Unix time) */
	const struct window_agg *win; /* [METRIC_COUNT] or NULL */
	const double *raw;            /* [METRIC_COUNT] or NULL */
	const metric_set *valid;      /* or NULL */
};

/* One process on one GPU in one second.  Strings may be NULL or empty
 * (stored as ""); numbers are NaN when absent. */
struct store_process_row {
	int64_t t;
	const char *uuid;
	unsigned pid;
	const char *name;
	const char *container, *pod, *namespace_, *job; /* workload labels */
	/* per process family with a history column (GPUSCOPE_PROCESS_FAMILIES), in its native
	 * unit (process_family_value: memory in bytes, SM share a ratio 0-1, CPU in cores) */
	double value[PROC_FAMILY_COUNT];
};

/* Adds a row to the open batch.  The batch is committed when a row of a new
 * second arrives and the batch already holds batch_seconds distinct seconds
 * (then, with auto_maintain, one maintenance step runs in the same
 * transaction, with the batch's newest second as "now").  A second written
 * twice keeps the later row.  On an error the whole open batch is rolled back
 * and dropped; the next call starts a new one (so writing resumes by itself
 * once the disk has room). */
int store_put_gpu(struct store *s, const struct store_gpu_row *row);
int store_put_process(struct store *s, const struct store_process_row *row);

/* Commits the open batch now (shutdown, or no row for a while). */
int store_flush(struct store *s);

/* One bounded maintenance step as of `now`: folds 1 s rows older than
 * second_retention_s into minute rows (whole minutes only), deletes minute
 * rows older than minute_retention_s and processes no row refers to any more.
 * Touches at most maintain_rows rows; *more (may be NULL) is set when work is
 * left.  Runs inside the open batch if there is one, else commits itself. */
int store_maintain(struct store *s, int64_t now, bool *more);

struct store_stats {
	int64_t committed_t;      /* newest second of the last committed batch, INT64_MIN if none */
	uint64_t batches;         /* transactions committed */
	uint64_t rows_gpu;        /* GPU rows committed */
	uint64_t rows_process;    /* process rows committed */
	uint64_t rows_dropped;    /* rows lost with failed batches */
	uint64_t errors;          /* calls that returned an error */
	uint64_t rows_folded;     /* 1 s rows folded into minutes */
	uint64_t rows_expired;    /* minute rows deleted by retention */
	uint64_t maintain_errors; /* failed automatic maintenance steps (the batch was still
	                           * committed; store_errmsg() keeps the last message) */
};
void store_get_stats(const struct store *s, struct store_stats *out);

/* PRAGMA integrity_check (quick: quick_check).  STORE_OK or STORE_ECORRUPT
 * with the first problems in the message.  Reads the whole file. */
int store_check(struct store *s, bool quick);

/* ---- reading ---- */

enum store_stat { STORE_MEAN, STORE_MAX, STORE_MIN };

/* Statistics apply to windowed metrics; others have one value per second (at
 * minute resolution: the latest in the minute) and ignore stat. */
struct store_request {
	int metric; /* enum metric_id; rows with a run-time label ("@link") are not stored */
	enum store_stat stat;
};

enum store_resolution {
	STORE_RES_AUTO,   /* seconds, unless minute rows exist in the range: then minutes */
	STORE_RES_SECOND, /* seconds; where only minute rows are left: NaN */
	STORE_RES_MINUTE, /* minutes; 1 s rows in the range are folded on the fly */
};

/* Points t0, t0+step, ... (n of them).  At minute resolution t0 is from
 * rounded down to a minute and a point covers its whole minute (or its `step`
 * seconds of whole minutes). */
struct store_series {
	int64_t t0;
	int64_t step; /* 1 or 60, or the point width of a bucketed query */
	size_t n;
	size_t nreq;
	double *values; /* nreq x n: request k's points at values + k * n; NaN = absent */
};

/* The most points one series may have (48 days of seconds). */
#define STORE_QUERY_MAX_POINTS ((size_t)1 << 22)

/* Values of the requested metrics for one GPU over [from, to] (inclusive), in
 * raw units.  STORE_ENOENT when the file has no such GPU. */
int store_query(struct store *s, const char *uuid, int64_t from, int64_t to,
                const struct store_request *req, size_t nreq, enum store_resolution res,
                struct store_series *out);
/* The same, `bucket` seconds a point (rounded up to whole rows of the resolution read:
 * a multiple of 60 at minute resolution; 0 or less than a row: one row a point).  A
 * point folds its rows as a minute folds its seconds: mean weighted by seconds, max of
 * the maxima, min of the minima, the latest value.  Memory is two doubles per point and
 * request, whatever the number of rows folded: a caller bounds a long window's memory by
 * widening the bucket. */
int store_query_bucketed(struct store *s, const char *uuid, int64_t from, int64_t to,
                         const struct store_request *req, size_t nreq, enum store_resolution res,
                         int64_t bucket, struct store_series *out);
void store_series_free(struct store_series *out);

struct store_process_series {
	unsigned pid;
	char *name, *container, *pod, *namespace_, *job;
	/* per process family: n points each (at minutes, the means); NULL for a family the
	 * history does not keep */
	double *value[PROC_FAMILY_COUNT];
};

struct store_process_set {
	int64_t t0, step;
	size_t n;
	size_t nprocs;
	struct store_process_series *procs;
};

/* The processes seen on one GPU over [from, to], on the same grid as
 * store_query with the same resolution would give. */
int store_query_processes(struct store *s, const char *uuid, int64_t from, int64_t to,
                          enum store_resolution res, struct store_process_set *out);
/* ... on the grid store_query_bucketed gives with the same bucket (means per point). */
int store_query_processes_bucketed(struct store *s, const char *uuid, int64_t from, int64_t to,
                                   enum store_resolution res, int64_t bucket,
                                   struct store_process_set *out);
void store_process_set_free(struct store_process_set *out);

struct store_gpu_info {
	char *uuid;
	char *model;             /* NULL when never given */
	int64_t first_t, last_t; /* first and last second with a row inside the range */
};

/* GPUs with at least one row (1 s or 1 min) in [from, to], in first-seen
 * order; free with store_gpu_list_free. */
int store_list_gpus(struct store *s, int64_t from, int64_t to, struct store_gpu_info **out,
                    size_t *n);
void store_gpu_list_free(struct store_gpu_info *list, size_t n);

/* Writes the name of the column that holds (metric, stat), e.g.
 * "max_gpu_util" or "energy", into buf; false when the metric is not stored
 * or buf is too small.  For tests, `gpuscope query` and the docs. */
bool store_column_name(int metric, enum store_stat stat, char *buf, size_t len);

#endif
