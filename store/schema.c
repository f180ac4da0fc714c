/* schema.c - the history's tables, generated from the metric table.
 *
 * gpu_second and gpu_minute have one INTEGER column per stored value: three
 * (mean_<id>, max_<id>, min_<id>) for each windowed fast metric and one
 * (<id>) for every other metric, where <id> is the metric's enum suffix in
 * lower case.  The stat is a prefix because suffixes collide: SM_CLOCK's max
 * and SM_CLOCK_MAX would both be sm_clock_max.  Rows with a run-time label (NVLink links, Xid
 * codes) are kept outside raw[] by the agent and are not stored.  A value is stored as round(raw x
 * scale), with scale fixed per raw unit (1/100 percent, 1/10 MHz, mW, ...): SQLite writes small
 * integers in 1-3 bytes where a REAL takes 8, which halves the file (docs/history.md has the
 * figures).  The views gpu_second_v / gpu_minute_v show the same columns in Prometheus base units
 * with the GPU's uuid and an ISO time, for the sqlite3 CLI; metric_columns
 * lists every column with its metric, unit and quantum.
 *
 * Opening a file is "ensure": create what is missing (tables IF NOT EXISTS,
 * columns by ALTER TABLE ADD COLUMN), refresh the catalog and the views, and
 * record the schema version.  A file from a newer gpuscope, or an SQLite file
 * without our schema_version table, is refused before anything is written.
 */
#include "store/inference.h"
#include "store/internal.h"
#include "store/serving.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* 'GPUS': `file` and the sqlite3 CLI's .dbinfo show it. */
#define STORE_APPLICATION_ID 0x47505553

/* Quanta are well under what the sensors resolve: utilization is read in
 * whole percent, clocks in MHz, power in mW. */
static const struct store_unit units[UNIT_KIND_COUNT] = {
    [UNIT_PERCENT] = {"percent", "0.01 percent", 100, 1, 10000},
    [UNIT_ACTIVITY] = {"percent", "0.01 percent", 100, 1, 10000},
    [UNIT_RATIO] = {"ratio", "0.0001", 10000, 1, 10000},
    [UNIT_MIB_PER_S] = {"MiB/s", "0.1 MiB/s", 10, 1048576, 10},
    [UNIT_BYTES] = {"bytes", "1 byte", 1, 1, 1},
    [UNIT_BYTES_PER_S] = {"bytes/s", "0.1 byte/s", 10, 1, 10},
    [UNIT_MILLIWATTS] = {"mW", "1 mW", 1, 1, 1000},
    [UNIT_MILLIJOULES] = {"mJ", "1 mJ", 1, 1, 1000},
    [UNIT_MEGAHERTZ] = {"MHz", "0.1 MHz", 10, 100000, 1},
    [UNIT_CELSIUS] = {"celsius", "0.01 celsius", 100, 1, 100},
    [UNIT_SECONDS] = {"seconds", "1 microsecond", 1e6, 1, 1e6},
    [UNIT_COUNT] = {"count", "1", 1, 1, 1},
};

const struct store_unit *store_unit_of(int metric)
{
	return &units[metric_table[metric].unit];
}

static const char *const stat_prefix[] = {"mean_", "max_", "min_", ""};
static const char *const stat_names[] = {"mean", "max", "min", "value"};

static bool column_name(int m, enum store_col_stat stat, char *buf, size_t len)
{
	const char *id = metric_table[m].id;
	size_t n = strlen(id), pre = strlen(stat_prefix[stat]);
	if (pre + n + 1 > len)
		return false;
	memcpy(buf, stat_prefix[stat], pre);
	for (size_t i = 0; i <= n; i++)
		buf[pre + i] = (char)tolower((unsigned char)id[i]);
	return true;
}

size_t store_columns(struct store_col *cols)
{
	size_t n = 0;
	for (int m = 0; m < METRIC_COUNT; m++) {
		if (!metric_in_history(m))
			continue;
		enum store_col_stat first = metric_windowed(m) ? COL_MEAN : COL_VALUE;
		enum store_col_stat last = metric_windowed(m) ? COL_MIN : COL_VALUE;
		for (enum store_col_stat st = first; st <= last; st++) {
			cols[n].metric = m;
			cols[n].stat = st;
			cols[n].scale = units[metric_table[m].unit].scale;
			column_name(m, st, cols[n].name, sizeof(cols[n].name));
			n++;
		}
	}
	return n;
}

bool store_column_name(int metric, enum store_stat stat, char *buf, size_t len)
{
	if (metric < 0 || metric >= METRIC_COUNT || !metric_in_history(metric) || !buf)
		return false;
	return column_name(metric, metric_windowed(metric) ? (enum store_col_stat)stat : COL_VALUE,
	                   buf, len);
}

/* ---- SQL text, built into a growing buffer ---- */

struct sqlbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

__attribute__((format(printf, 2, 3))) static void sb_add(struct sqlbuf *b, const char *fmt, ...)
{
	va_list ap;
	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap <= b->len + (size_t)n)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

static const char fixed_tables[] =
    "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL, "
    "applied_t INTEGER NOT NULL, gpuscope TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS gpus(id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, "
    "model TEXT, first_t INTEGER);"
    "CREATE TABLE IF NOT EXISTS processes(id INTEGER PRIMARY KEY, pid INTEGER NOT NULL, "
    "name TEXT NOT NULL, container TEXT NOT NULL, pod TEXT NOT NULL, namespace TEXT NOT NULL, "
    "job TEXT NOT NULL, first_t INTEGER NOT NULL, last_t INTEGER NOT NULL, "
    "UNIQUE(pid, name, container, pod, namespace, job));"
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS metric_columns(name TEXT PRIMARY KEY, metric TEXT NOT NULL, "
    "labels TEXT NOT NULL, stat TEXT NOT NULL, type TEXT NOT NULL, raw_unit TEXT NOT NULL, "
    "stored_unit TEXT NOT NULL, scale REAL NOT NULL, native_unit TEXT NOT NULL, "
    "to_native TEXT NOT NULL, help TEXT NOT NULL);";

/* ---- the process tables: one column per process family with a history column ---- */

char *store_proc_sql(const char *head, const char *part, const char *tail)
{
	size_t cap = strlen(head) + strlen(tail) + 1;
	for (int f = 0; f < PROC_FAMILY_COUNT; f++) {
		const char *h = process_family_table[f].history;
		for (const char *p = part; h && *p; p++)
			cap += *p == '@' ? strlen(h) : 1;
	}
	char *sql = malloc(cap), *o = sql;
	if (!sql)
		return NULL;
	o = stpcpy(o, head);
	for (int f = 0; f < PROC_FAMILY_COUNT; f++) {
		const char *h = process_family_table[f].history;
		for (const char *p = part; h && *p; p++) {
			if (*p == '@')
				o = stpcpy(o, h);
			else
				*o++ = *p;
		}
	}
	strcpy(o, tail);
	return sql;
}

/* proc_second keeps each stored family's value of a second, proc_minute its mean and max
 * over the minute (layout 2: proc_second clustered by GPU, then time). */
static const char proc_second_head[] =
    "CREATE TABLE IF NOT EXISTS %s(t INTEGER NOT NULL, gpu_id INTEGER NOT NULL, "
    "proc_id INTEGER NOT NULL";
static const char proc_second_tail[] = ", PRIMARY KEY(gpu_id, t, proc_id)) WITHOUT ROWID";

char *store_proc_second_sql(const char *table)
{
	char head[sizeof(proc_second_head) + 64];
	snprintf(head, sizeof(head), proc_second_head, table);
	return store_proc_sql(head, ", @ REAL", proc_second_tail);
}

/* Adds the columns of a family that a file's proc_second or proc_minute lacks. */
static int add_missing_proc_columns(struct store *s, const char *table, const char *const *suffix,
                                    int nsuffix)
{
	sqlite3_stmt *st;
	char name[STORE_COL_NAME_MAX + 16], sql[200];
	int rc = sqlite3_prepare_v2(s->db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2",
	                            -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_db_fail(s, rc, "reading its schema");
	rc = STORE_OK;
	for (int f = 0; rc == STORE_OK && f < PROC_FAMILY_COUNT; f++) {
		const char *h = process_family_table[f].history;
		for (int k = 0; h && rc == STORE_OK && k < nsuffix; k++) {
			snprintf(name, sizeof(name), "%s%s", h, suffix[k]);
			sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
			int step = sqlite3_step(st);
			sqlite3_reset(st);
			if (step == SQLITE_ROW)
				continue;
			if (step != SQLITE_DONE) {
				rc = store_db_fail(s, step, "reading its schema");
				break;
			}
			snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s REAL", table,
			         name);
			rc = store_exec(s, sql, "adding a column for a new process family");
		}
	}
	sqlite3_finalize(st);
	return rc;
}

/* Creates the process tables a file lacks, and the columns they lack. */
static int ensure_proc_tables(struct store *s)
{
	static const char *const second[] = {""}, *const minute[] = {"_mean", "_max"};
	char *a = store_proc_second_sql("proc_second");
	char *b = store_proc_sql("CREATE TABLE IF NOT EXISTS proc_minute(t INTEGER NOT NULL, "
	                         "gpu_id INTEGER NOT NULL, proc_id INTEGER NOT NULL, "
	                         "n INTEGER NOT NULL",
	                         ", @_mean REAL, @_max REAL",
	                         ", PRIMARY KEY(t, gpu_id, proc_id)) WITHOUT ROWID");
	int rc = !a || !b ? store_fail(s, STORE_ENOMEM, "history %s: out of memory", s->path)
	                  : store_exec(s, a, "creating its tables");
	if (rc == STORE_OK)
		rc = store_exec(s, b, "creating its tables");
	free(a);
	free(b);
	if (rc == STORE_OK)
		rc = add_missing_proc_columns(s, "proc_second", second, 1);
	if (rc == STORE_OK)
		rc = add_missing_proc_columns(s, "proc_minute", minute, 2);
	return rc;
}

/* gpu_second, gpu_minute, gpu_rollup: clustered on (gpu_id, t), so one GPU's
 * range is one run of adjacent pages, read in key order with no index step.
 * (Layout 1 was a rowid table in arrival order, all GPUs' rows of a second
 * side by side, plus a (gpu_id, t) index: a GPU's day cost an index step and a
 * table seek per row through pages shared with the other GPUs.)  Rows of one
 * GPU append at the end of its run, so pages split there and stay about full. */
static void gpu_table_sql(struct sqlbuf *b, const struct store *s, const char *table, bool minute)
{
	sb_add(b, "CREATE TABLE IF NOT EXISTS %s(gpu_id INTEGER NOT NULL, t INTEGER NOT NULL%s",
	       table, minute ? ", n INTEGER NOT NULL" : "");
	for (size_t i = 0; i < s->ncols; i++)
		sb_add(b, ", %s INTEGER", s->cols[i].name);
	sb_add(b, ", PRIMARY KEY(gpu_id, t)) WITHOUT ROWID;");
}

/* "c" in native units: c*mul/div, exact for integers below 2^53. */
static void native_expr(struct sqlbuf *b, const struct store_col *c)
{
	const struct store_unit *u = store_unit_of(c->metric);
	sb_add(b, "s.%s", c->name);
	if (u->mul != 1)
		sb_add(b, "*%.0f", u->mul);
	if (u->div != 1)
		sb_add(b, "/%.1f", u->div);
}

static void view_sql(struct sqlbuf *b, const struct store *s, const char *view, const char *table,
                     bool minute)
{
	sb_add(b,
	       "CREATE VIEW %s AS SELECT g.uuid AS uuid, s.t AS t, datetime(s.t, 'unixepoch') AS "
	       "time%s",
	       view, minute ? ", s.n AS n" : "");
	for (size_t i = 0; i < s->ncols; i++) {
		sb_add(b, ", ");
		native_expr(b, &s->cols[i]);
		sb_add(b, " AS %s", s->cols[i].name);
	}
	sb_add(b, " FROM %s s JOIN gpus g ON g.id = s.gpu_id", table);
}

/* The process views: the stored families' columns, with the process's labels. */
static char *proc_view_sql(bool minute)
{
	return minute
	           ? store_proc_sql(
	                 "CREATE VIEW proc_minute_v AS SELECT g.uuid AS uuid, s.t AS t, "
	                 "datetime(s.t, 'unixepoch') AS time, s.n AS n, p.pid AS pid, p.name AS "
	                 "name, p.container AS container, p.pod AS pod, p.namespace AS "
	                 "namespace, p.job AS job",
	                 ", s.@_mean AS @_mean, s.@_max AS @_max",
	                 " FROM proc_minute s JOIN gpus g ON g.id = s.gpu_id JOIN processes p "
	                 "ON p.id = s.proc_id")
	           : store_proc_sql(
	                 "CREATE VIEW proc_second_v AS SELECT g.uuid AS uuid, s.t AS t, "
	                 "datetime(s.t, 'unixepoch') AS time, p.pid AS pid, p.name AS name, "
	                 "p.container AS container, p.pod AS pod, p.namespace AS namespace, "
	                 "p.job AS job",
	                 ", s.@ AS @",
	                 " FROM proc_second s JOIN gpus g ON g.id = s.gpu_id JOIN processes p ON "
	                 "p.id = s.proc_id");
}

/* Recreates process view `minute` from its SQL. */
static int ensure_view(struct store *s, const char *name, const char *sql);
static int ensure_proc_view(struct store *s, bool minute)
{
	char *sql = proc_view_sql(minute);
	int rc = sql ? ensure_view(s, minute ? "proc_minute_v" : "proc_second_v", sql)
	             : store_fail(s, STORE_ENOMEM, "history %s: out of memory", s->path);
	free(sql);
	return rc;
}

/* One integer (or NULL -> dflt) from a query. */
static int query_int(struct store *s, const char *sql, const char *text_arg, int64_t dflt,
                     int64_t *out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_db_fail(s, rc, "reading its schema");
	if (text_arg)
		sqlite3_bind_text(st, 1, text_arg, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out =
		    sqlite3_column_type(st, 0) == SQLITE_NULL ? dflt : sqlite3_column_int64(st, 0);
		rc = SQLITE_DONE;
	} else if (rc == SQLITE_DONE) {
		*out = dflt;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? STORE_OK : store_db_fail(s, rc, "reading its schema");
}

/* Which of our columns table has (has[i] for cols[i]); *ntable: columns seen. */
static int table_columns(struct store *s, const char *table, bool *has, int64_t *ntable)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, "SELECT name FROM pragma_table_info(?1)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_db_fail(s, rc, "reading its schema");
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	memset(has, 0, s->ncols * sizeof(*has));
	*ntable = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		(*ntable)++;
		for (size_t i = 0; name && i < s->ncols; i++)
			if (strcmp(s->cols[i].name, name) == 0)
				has[i] = true;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? STORE_OK : store_db_fail(s, rc, "reading its schema");
}

int store_schema_load_columns(struct store *s)
{
	int64_t n;
	int rc = table_columns(s, "gpu_second", s->has_sec, &n);
	if (rc == STORE_OK)
		rc = table_columns(s, "gpu_minute", s->has_min, &n);
	if (rc == STORE_OK)
		rc = table_columns(s, "gpu_rollup", s->has_roll, &n);
	s->has_rollup = rc == STORE_OK && n > 0;
	for (int m = 0; m < METRIC_COUNT; m++)
		for (int st = 0; st <= COL_VALUE; st++)
			s->col_of[m][st] = -1;
	for (size_t i = 0; i < s->ncols; i++)
		s->col_of[s->cols[i].metric][s->cols[i].stat] = (int)i;
	return rc;
}

static int add_missing_columns(struct store *s, const char *table)
{
	bool has[STORE_MAX_COLS];
	int64_t n;
	char sql[160];
	int rc = table_columns(s, table, has, &n);
	for (size_t i = 0; rc == STORE_OK && i < s->ncols; i++) {
		if (has[i])
			continue;
		snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s INTEGER", table,
		         s->cols[i].name);
		rc = store_exec(s, sql, "adding a column for a new metric");
	}
	return rc;
}

static int exec_buf(struct store *s, struct sqlbuf *b, const char *doing)
{
	int rc = b->oom ? store_fail(s, STORE_ENOMEM, "history %s: out of memory", s->path)
	                : store_exec(s, b->p, doing);
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
	return rc;
}

/* Recreates a view when its stored SQL differs from ours. */
static int ensure_view(struct store *s, const char *name, const char *sql)
{
	sqlite3_stmt *st;
	bool same = false;
	char drop[96];
	int rc = sqlite3_prepare_v2(
	    s->db, "SELECT sql FROM sqlite_master WHERE type='view' AND name=?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_db_fail(s, rc, "reading its schema");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *old = (const char *)sqlite3_column_text(st, 0);
		same = old && strcmp(old, sql) == 0;
	}
	sqlite3_finalize(st);
	if (same)
		return STORE_OK;
	snprintf(drop, sizeof(drop), "DROP VIEW IF EXISTS %s", name);
	rc = store_exec(s, drop, "updating its views");
	return rc == STORE_OK ? store_exec(s, sql, "updating its views") : rc;
}

/* Binds catalog row c to ?1..?11 of st. */
static void bind_catalog_row(sqlite3_stmt *st, const struct store_col *c)
{
	const struct metric_def *d = &metric_table[c->metric];
	const struct store_unit *u = store_unit_of(c->metric);
	char conv[64];
	if (u->mul != 1 && u->div != 1)
		snprintf(conv, sizeof(conv), "*%.0f/%.0f", u->mul, u->div);
	else if (u->mul != 1)
		snprintf(conv, sizeof(conv), "*%.0f", u->mul);
	else
		snprintf(conv, sizeof(conv), "/%.0f", u->div);
	sqlite3_bind_text(st, 1, c->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, d->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, d->labels, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, stat_names[c->stat], -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, d->type == COUNTER ? "counter" : "gauge", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, u->raw, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, u->stored, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 8, u->scale);
	sqlite3_bind_text(st, 9, metric_native_unit(d->unit), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, conv, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 11, d->help, -1, SQLITE_STATIC);
}

/* True when metric_columns already holds exactly our rows (then an open
 * writes nothing). */
static int catalog_current(struct store *s, bool *current)
{
	sqlite3_stmt *st;
	int64_t total;
	int rc = query_int(s, "SELECT count(*) FROM metric_columns", NULL, 0, &total);
	*current = false;
	if (rc != STORE_OK || total != (int64_t)s->ncols)
		return rc;
	rc = sqlite3_prepare_v2(
	    s->db,
	    "SELECT 1 FROM metric_columns WHERE name=?1 AND metric=?2 AND "
	    "labels=?3 AND stat=?4 AND type=?5 AND raw_unit=?6 AND stored_unit=?7 "
	    "AND scale=?8 AND native_unit=?9 AND to_native=?10 AND help=?11",
	    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_db_fail(s, rc, "reading metric_columns");
	size_t same = 0;
	for (size_t i = 0; i < s->ncols; i++) {
		bind_catalog_row(st, &s->cols[i]);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc == SQLITE_ROW)
			same++;
		else if (rc != SQLITE_DONE)
			break;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_db_fail(s, rc, "reading metric_columns");
	*current = same == s->ncols;
	return STORE_OK;
}

static int refresh_catalog(struct store *s)
{
	sqlite3_stmt *st;
	bool current;
	int rc = catalog_current(s, &current);
	if (rc != STORE_OK || current)
		return rc;
	if ((rc = store_exec(s, "DELETE FROM metric_columns", "updating metric_columns")) !=
	    STORE_OK)
		return rc;
	rc = sqlite3_prepare_v2(
	    s->db, "INSERT INTO metric_columns VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)", -1, &st,
	    NULL);
	if (rc != SQLITE_OK)
		return store_db_fail(s, rc, "updating metric_columns");
	for (size_t i = 0; i < s->ncols && rc == SQLITE_OK; i++) {
		bind_catalog_row(st, &s->cols[i]);
		rc = sqlite3_step(st);
		rc = rc == SQLITE_DONE ? sqlite3_reset(st) : rc;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? STORE_OK : store_db_fail(s, rc, "updating metric_columns");
}

/* PRAGMA quick_check before a writer touches an existing file. */
static int verify(struct store *s)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check(4)", -1, &st, NULL);
	char first[300] = "";
	bool ok = false;
	if (rc != SQLITE_OK)
		return store_db_fail(s, rc, "checking it");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *line = (const char *)sqlite3_column_text(st, 0);
		if (line && strcmp(line, "ok") == 0)
			ok = true;
		else if (line && !first[0])
			snprintf(first, sizeof(first), "%s", line);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store_db_fail(s, rc, "checking it");
	if (!ok) {
		s->poisoned = true;
		return store_fail(
		    s, STORE_ECORRUPT,
		    "history %s: the file is corrupt (quick_check: %s); it was left as "
		    "it is. Move it away (`sqlite3 %s .recover` saves what is readable) "
		    "and restart to begin a new history",
		    s->path, first, s->path);
	}
	return STORE_OK;
}

/* Everything a writer needs, inside one write transaction.  `version` is
 * the file's (0 for a new file).  Future layout changes go here as steps from
 * version to version + 1, before the column pass. */
static int ensure_schema(struct store *s, int64_t version)
{
	struct sqlbuf b = {0};
	char sql[200];
	int rc;

	sb_add(&b, "%s", fixed_tables);
	gpu_table_sql(&b, s, "gpu_second", false);
	gpu_table_sql(&b, s, "gpu_minute", true);
	gpu_table_sql(&b, s, "gpu_rollup", true);
	if ((rc = exec_buf(s, &b, "creating its tables")) != STORE_OK)
		goto out;
	if ((rc = add_missing_columns(s, "gpu_second")) != STORE_OK ||
	    (rc = add_missing_columns(s, "gpu_minute")) != STORE_OK ||
	    (rc = add_missing_columns(s, "gpu_rollup")) != STORE_OK ||
	    (rc = ensure_proc_tables(s)) != STORE_OK)
		goto out;
	/* The layout steps, from the file's version to ours, all in this one
	 * transaction: a kill at any point leaves the file as it was. */
	if (version >= 1 && version < 2 && (rc = store_migrate_layout(s, version)) != STORE_OK)
		goto out;
	/* Process seconds are clustered by GPU for reads; folding and expiry go
	 * by time alone, through this index. */
	if ((rc = store_exec(s, "CREATE INDEX IF NOT EXISTS proc_second_t ON proc_second(t)",
	                     "creating its tables")) != STORE_OK)
		goto out;
	if ((rc = refresh_catalog(s)) != STORE_OK || (rc = store_inference_schema(s)) != STORE_OK)
		goto out;
	if ((rc = store_serving_schema(s)) != STORE_OK) /* store/serving.c */
		goto out;
	view_sql(&b, s, "gpu_second_v", "gpu_second", false);
	if (b.oom || (rc = ensure_view(s, "gpu_second_v", b.p)) != STORE_OK)
		goto out_oom;
	b.len = 0;
	view_sql(&b, s, "gpu_minute_v", "gpu_minute", true);
	if (b.oom || (rc = ensure_view(s, "gpu_minute_v", b.p)) != STORE_OK)
		goto out_oom;
	if ((rc = ensure_proc_view(s, false)) != STORE_OK ||
	    (rc = ensure_proc_view(s, true)) != STORE_OK)
		goto out;
	if (version < STORE_SCHEMA_VERSION) {
		snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES(%d, %lld, '%s')",
		         STORE_SCHEMA_VERSION, (long long)time(NULL), GPUSCOPE_VERSION);
		rc = store_exec(s, sql, "recording the schema version");
	}
	goto out;
out_oom:
	if (b.oom)
		rc = store_fail(s, STORE_ENOMEM, "history %s: out of memory", s->path);
out:
	free(b.p);
	return rc;
}

static int set_wal(struct store *s)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_db_fail(s, rc, "switching it to WAL mode");
	rc = sqlite3_step(st);
	bool wal = rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
	if (rc == SQLITE_ROW)
		rc = SQLITE_OK;
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return store_db_fail(s, rc, "switching it to WAL mode");
	if (!wal)
		return store_fail(s, STORE_EIO,
		                  "history %s: SQLite refused WAL mode (a network file system, or "
		                  "another process holding it open?); choose a local path",
		                  s->path);
	return STORE_OK;
}

int store_schema_open(struct store *s)
{
	int64_t objects, has_version, version = 0;
	char sql[64];
	int rc;

	/* The first read of the file: where "not a database" shows up. */
	if ((rc = query_int(s, "SELECT count(*) FROM sqlite_master", NULL, 0, &objects)) !=
	    STORE_OK)
		return rc;
	if (objects > 0) {
		rc = query_int(s,
		               "SELECT count(*) FROM sqlite_master WHERE type='table' AND "
		               "name='schema_version'",
		               NULL, 0, &has_version);
		if (rc != STORE_OK)
			return rc;
		if (!has_version)
			return store_fail(
			    s, STORE_ENOTDB,
			    "history %s: an SQLite database, but not a gpuscope history "
			    "(no schema_version table); it was left untouched. Choose "
			    "another history path",
			    s->path);
		rc = query_int(s, "SELECT max(version) FROM schema_version", NULL, 0, &version);
		if (rc != STORE_OK)
			return rc;
		if (version > STORE_SCHEMA_VERSION)
			return store_fail(
			    s, STORE_ENEWER,
			    "history %s: written by a newer gpuscope (schema version %lld; "
			    "this one knows up to %d); it was left untouched. Upgrade "
			    "gpuscope or choose another history path",
			    s->path, (long long)version, STORE_SCHEMA_VERSION);
		if (version < 1)
			return store_fail(
			    s, STORE_ENOTDB,
			    "history %s: its schema_version table is empty, so it is not "
			    "a gpuscope history; it was left untouched. Choose another "
			    "history path",
			    s->path);
	} else if (s->opt.read_only) {
		return store_fail(
		    s, STORE_ENOENT,
		    "history %s: empty, no gpuscope history has been written there yet", s->path);
	}

	if (!s->opt.read_only && objects > 0 && s->opt.verify_on_open &&
	    (rc = verify(s)) != STORE_OK)
		return rc;
	if (!s->opt.read_only) {
		if (objects == 0) {
			snprintf(sql, sizeof(sql), "PRAGMA application_id=%d",
			         STORE_APPLICATION_ID);
			if ((rc = store_exec(s, sql, "creating it")) != STORE_OK)
				return rc;
		}
		if ((rc = set_wal(s)) != STORE_OK)
			return rc;
		if ((rc = store_exec(s, "BEGIN IMMEDIATE", "preparing its tables")) != STORE_OK)
			return rc;
		rc = ensure_schema(s, version);
		if (rc == STORE_OK)
			rc = store_exec(s, "COMMIT", "preparing its tables");
		if (rc != STORE_OK && !sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		if (rc != STORE_OK)
			return rc;
	}
	return store_schema_load_columns(s);
}
