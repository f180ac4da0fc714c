/* meta.c - facts about the history as a whole, as key/value text in the `meta` table.
 *
 * The first is where the data came from: a history recorded from the simulator is marked
 * "simulated" (with the scenario's name), so that a report or query read from it months
 * later carries the same SIMULATED banner as `--demo` and never prices made-up waste as
 * real.  The mark is sticky: once simulated rows are in a file, the file says so.
 * The table is created with the others (CREATE TABLE IF NOT EXISTS, so files written
 * before it gain it on their next writable open); a reader of an older file finds no
 * table and reads every key as absent.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "store/internal.h"

int store_meta_set(struct store *s, const char *key, const char *value)
{
	if (s->opt.read_only)
		return store_fail(s, STORE_EINVAL, "history %s: opened read-only", s->path);
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)",
	                            -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_db_fail(s, rc, "writing its meta table");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? STORE_OK : store_db_fail(s, rc, "writing its meta table");
}

bool store_meta_get(struct store *s, const char *key, char *out, size_t len)
{
	sqlite3_stmt *st;
	if (len)
		out[0] = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return false; /* no meta table: a file from before it */
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	bool found = false;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, 0);
		if (v && len)
			snprintf(out, len, "%s", (const char *)v);
		found = v != NULL;
	}
	sqlite3_finalize(st);
	return found;
}
