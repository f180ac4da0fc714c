/* migrate.c - a layout 1 history rebuilt as layout 2, in place, in one transaction.
 *
 * Layout 1 kept gpu_second and gpu_minute as rowid tables in arrival order
 * (every GPU's row of a second side by side) with a (gpu_id, t) index.
 * Layout 2 clusters both on (gpu_id, t), proc_second on (gpu_id, t, proc_id)
 * (it was keyed by time first), and adds gpu_rollup (rollup.c).  The
 * step copies each table into its clustered twin in key order (read through
 * the old index, so the new pages fill one after another), drops the old
 * table, renames the twin, and rolls up every whole minute of 1 s rows.
 *
 * Safety comes from doing all of it inside the writer's open transaction
 * (schema.c: ensure_schema): until COMMIT, the new pages live only in the WAL
 * and a kill -9 at any point leaves the file exactly as it was; the next open
 * starts the migration again.  The cost is WAL space about the size of the GPU
 * tables until the first checkpoint (journal_size_limit trims it after), and
 * a writer that waits for the copy on its first open (the recorder thread
 * opens the store, so `/metrics` does not wait).  Readers keep reading the old
 * layout meanwhile.
 *
 * GPUSCOPE_STORE_MIGRATE_KILL=N (tests only) sends the process SIGKILL at the
 * N-th SQLite progress callback (one per 1000 virtual machine steps) of the
 * migration, so tests kill it mid-copy, mid-rename or mid-rollup on a real file.
 */
#include "store/internal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* proc_second was keyed (t, gpu_id, proc_id); its view names it.  Its columns are the
 * stored process families' (schema.c added any the file lacked before this step). */
static char *rebuild_proc_second(void)
{
	char *create = store_proc_second_sql("proc_second_layout2");
	char *head = NULL, *sql = NULL;
	if (create && asprintf(&head,
	                       "DROP VIEW IF EXISTS proc_second_v; DROP TABLE IF EXISTS "
	                       "proc_second_layout2; %s; INSERT INTO proc_second_layout2 SELECT t, "
	                       "gpu_id, proc_id",
	                       create) < 0)
		head = NULL;
	if (head)
		sql = store_proc_sql(head, ", @",
		                     " FROM proc_second ORDER BY gpu_id, t, proc_id; DROP TABLE "
		                     "proc_second; ALTER TABLE proc_second_layout2 RENAME TO "
		                     "proc_second");
	free(create);
	free(head);
	return sql;
}

static int kill_hook(void *arg)
{
	long *left = arg;
	if (--*left <= 0)
		raise(SIGKILL);
	return 0;
}

/* A group_concat over the old table's columns, malloc'd into *out. */
static int old_columns(struct store *s, const char *sql, const char *table, char **out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	*out = NULL;
	if (rc != SQLITE_OK)
		return store_db_fail(s, rc, "migrating it to the clustered layout");
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *p = (const char *)sqlite3_column_text(st, 0);
		*out = strdup(p ? p : "");
		rc = *out ? SQLITE_DONE : SQLITE_NOMEM;
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_NOMEM)
		return store_fail(s, STORE_ENOMEM, "history %s: out of memory", s->path);
	return rc == SQLITE_DONE ? STORE_OK
	                         : store_db_fail(s, rc, "migrating it to the clustered layout");
}

/* Copies table into its clustered twin and puts the twin in its place.  The
 * columns are the old table's (ours were added just before; a column from a
 * newer gpuscope, if any, travels along). */
static int rebuild(struct store *s, const char *table, bool minute)
{
	char *names = NULL, *defs = NULL, *sql = NULL;
	int rc = old_columns(s, "SELECT group_concat(name, ',') FROM pragma_table_info(?1)", table,
	                     &names);
	if (rc == STORE_OK)
		rc = old_columns(s,
		                 "SELECT group_concat(name || ' INTEGER', ', ') FROM "
		                 "pragma_table_info(?1) WHERE name NOT IN ('gpu_id', 't', 'n')",
		                 table, &defs);
	if (rc == STORE_OK) {
		size_t len = 2 * strlen(names) + strlen(defs) + 8 * strlen(table) + 400;
		if (!(sql = malloc(len)))
			rc = store_fail(s, STORE_ENOMEM, "history %s: out of memory", s->path);
		else
			snprintf(
			    sql, len,
			    "DROP TABLE IF EXISTS %s_layout2; CREATE TABLE %s_layout2(gpu_id "
			    "INTEGER NOT NULL, t INTEGER NOT NULL%s, %s, PRIMARY KEY(gpu_id, t)) "
			    "WITHOUT ROWID; INSERT INTO %s_layout2(%s) SELECT %s FROM %s ORDER BY "
			    "gpu_id, t; DROP TABLE %s; ALTER TABLE %s_layout2 RENAME TO %s;",
			    table, table, minute ? ", n INTEGER NOT NULL" : "", defs, table, names,
			    names, table, table, table, table);
	}
	if (rc == STORE_OK)
		rc = store_exec(s, sql, "migrating it to the clustered layout");
	free(sql);
	free(defs);
	free(names);
	return rc;
}

/* Every whole minute of each GPU's 1 s rows (its last minute may still fill). */
static int rollup_all(struct store *s)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(
	    s->db, "SELECT gpu_id, min(t), max(t) FROM gpu_second GROUP BY gpu_id", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_db_fail(s, rc, "migrating it to the clustered layout");
	int out = STORE_OK;
	while (out == STORE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		out = store_rollup_range(s, sqlite3_column_int64(st, 0),
		                         store_minute_of(sqlite3_column_int64(st, 1)),
		                         store_minute_of(sqlite3_column_int64(st, 2)));
	sqlite3_finalize(st);
	if (out != STORE_OK)
		return out;
	return rc == SQLITE_DONE ? STORE_OK
	                         : store_db_fail(s, rc, "migrating it to the clustered layout");
}

int store_migrate_layout(struct store *s, int64_t version)
{
	const char *hook = getenv("GPUSCOPE_STORE_MIGRATE_KILL");
	long left = hook ? strtol(hook, NULL, 10) : 0;
	int rc;
	if (version != 1)
		return STORE_OK;
	if (left > 0)
		sqlite3_progress_handler(s->db, 1000, kill_hook, &left);
	/* The views name the tables being replaced; ensure_schema makes them again. */
	rc = store_exec(s, "DROP VIEW IF EXISTS gpu_second_v; DROP VIEW IF EXISTS gpu_minute_v",
	                "migrating it to the clustered layout");
	if (rc == STORE_OK)
		rc = rebuild(s, "gpu_second", false);
	if (rc == STORE_OK)
		rc = rebuild(s, "gpu_minute", true);
	if (rc == STORE_OK) {
		char *sql = rebuild_proc_second();
		rc = sql ? store_exec(s, sql, "migrating it to the clustered layout")
		         : store_fail(s, STORE_ENOMEM, "history %s: out of memory", s->path);
		free(sql);
	}
	if (rc == STORE_OK) {
		/* The fold and rollup statements are prepared against this layout. */
		s->has_rollup = true;
		rc = rollup_all(s);
	}
	if (left > 0)
		sqlite3_progress_handler(s->db, 0, NULL, NULL);
	return rc;
}
