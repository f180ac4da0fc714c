/* queue.c - the alert outbox in SQLite (see queue.h for the guarantees).
 *
 * Two tables, created if missing, so they can sit in the history file
 * beside the recorder's: alert_outbox (one row per notification still owed
 * to a receiver, delivered in id order so a resolve never overtakes its
 * firing) and alert_firing (the alerts firing now, by fingerprint).  The
 * connection waits up to 5 s for the recorder's lock; every write is one
 * short transaction, synchronous=FULL, so a row that was committed
 * survives a power cut as well as kill -9.
 */
#include "alert/queue.h"

#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct alert_queue {
	sqlite3 *db;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS alert_outbox("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " receiver TEXT NOT NULL,"
    " fingerprint TEXT NOT NULL,"
    " state TEXT NOT NULL,"
    " alert TEXT NOT NULL,"
    " created REAL NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS alert_outbox_receiver ON alert_outbox(receiver, id);"
    "CREATE TABLE IF NOT EXISTS alert_firing("
    " fingerprint TEXT PRIMARY KEY,"
    " alert TEXT NOT NULL);";

static void set_err(char *err, size_t errlen, const char *what, sqlite3 *db)
{
	if (err)
		snprintf(err, errlen, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
}

struct alert_queue *alert_queue_open(const char *path, char *err, size_t errlen)
{
	struct alert_queue *q = calloc(1, sizeof(*q));
	if (!q) {
		snprintf(err, errlen, "alert queue: out of memory");
		return NULL;
	}
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
	if (sqlite3_open_v2(path, &q->db, flags, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "alert queue %s: %s", path,
		         q->db ? sqlite3_errmsg(q->db) : "out of memory");
		goto err;
	}
	sqlite3_busy_timeout(q->db, 5000);
	char *msg = NULL;
	if (sqlite3_exec(q->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL,
	                 &msg) != SQLITE_OK ||
	    sqlite3_exec(q->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "alert queue %s: %s", path, msg ? msg : "cannot set up");
		sqlite3_free(msg);
		goto err;
	}
	return q;
err:
	sqlite3_close(q->db);
	free(q);
	return NULL;
}

void alert_queue_close(struct alert_queue *q)
{
	if (!q)
		return;
	sqlite3_close(q->db);
	free(q);
}

char *alert_to_json_text(const struct alert *a)
{
	json_t *o = json_object();
	json_object_set_new(o, "fingerprint", json_string(a->fingerprint));
	json_object_set_new(o, "rule", json_string(a->rule));
	json_object_set_new(o, "severity", json_string(alert_severity_name(a->severity)));
	json_object_set_new(o, "state",
	                    json_string(a->state == ALERT_STATE_FIRING     ? "firing"
	                                : a->state == ALERT_STATE_RESOLVED ? "resolved"
	                                                                   : "pending"));
	json_object_set_new(o, "gpu", json_integer(a->gpu));
	json_object_set_new(o, "uuid", json_string(a->uuid));
	json_object_set_new(o, "active_at", json_real(a->active_at));
	json_object_set_new(o, "fired_at", json_real(a->fired_at));
	json_object_set_new(o, "resolved_at", json_real(a->resolved_at));
	json_object_set_new(o, "value", isnan(a->value) ? json_null() : json_real(a->value));
	json_object_set_new(o, "threshold",
	                    isnan(a->threshold) ? json_null() : json_real(a->threshold));
	json_t *labels = json_array();
	for (size_t i = 0; i < a->nlabels; i++)
		json_array_append_new(labels,
		                      json_pack("[ss]", a->labels[i].name, a->labels[i].value));
	json_object_set_new(o, "labels", labels);
	json_object_set_new(o, "summary", json_string(a->summary));
	json_object_set_new(o, "description", json_string(a->description));
	char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
	json_decref(o);
	return text;
}

static void copy_str(char *dst, size_t len, json_t *v)
{
	snprintf(dst, len, "%s", json_is_string(v) ? json_string_value(v) : "");
}

static double num(json_t *v)
{
	return json_is_number(v) ? json_number_value(v) : NAN;
}

int alert_from_json_text(const char *text, struct alert *a)
{
	json_t *o = json_loads(text, 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return -1;
	}
	memset(a, 0, sizeof(*a));
	copy_str(a->fingerprint, sizeof(a->fingerprint), json_object_get(o, "fingerprint"));
	copy_str(a->rule, sizeof(a->rule), json_object_get(o, "rule"));
	enum alert_severity sev = ALERT_WARNING;
	alert_severity_parse(json_string_value(json_object_get(o, "severity")), &sev);
	a->severity = sev;
	const char *st = json_string_value(json_object_get(o, "state"));
	a->state = st && strcmp(st, "resolved") == 0  ? ALERT_STATE_RESOLVED
	           : st && strcmp(st, "pending") == 0 ? ALERT_STATE_PENDING
	                                              : ALERT_STATE_FIRING;
	a->gpu = (long)json_integer_value(json_object_get(o, "gpu"));
	copy_str(a->uuid, sizeof(a->uuid), json_object_get(o, "uuid"));
	a->active_at = num(json_object_get(o, "active_at"));
	a->fired_at = num(json_object_get(o, "fired_at"));
	a->resolved_at = num(json_object_get(o, "resolved_at"));
	a->value = num(json_object_get(o, "value"));
	a->threshold = num(json_object_get(o, "threshold"));
	json_t *labels = json_object_get(o, "labels");
	for (size_t i = 0; i < json_array_size(labels) && a->nlabels < ALERT_LABELS_MAX; i++) {
		json_t *pair = json_array_get(labels, i);
		copy_str(a->labels[a->nlabels].name, sizeof(a->labels[0].name),
		         json_array_get(pair, 0));
		copy_str(a->labels[a->nlabels].value, sizeof(a->labels[0].value),
		         json_array_get(pair, 1));
		a->nlabels++;
	}
	copy_str(a->summary, sizeof(a->summary), json_object_get(o, "summary"));
	copy_str(a->description, sizeof(a->description), json_object_get(o, "description"));
	json_decref(o);
	return a->fingerprint[0] && a->rule[0] ? 0 : -1;
}

static int exec(struct alert_queue *q, const char *sql)
{
	return sqlite3_exec(q->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int alert_queue_record(struct alert_queue *q, const struct alert *events, size_t n,
                       const char *const *receivers, size_t nreceivers, double now, char *err,
                       size_t errlen)
{
	if (!n)
		return 0;
	sqlite3_stmt *ins = NULL, *fire = NULL, *unfire = NULL;
	if (exec(q, "BEGIN IMMEDIATE") != 0) {
		set_err(err, errlen, "alert queue: begin", q->db);
		return -1;
	}
	int rc = -1;
	if (sqlite3_prepare_v2(q->db,
	                       "INSERT INTO alert_outbox(receiver, fingerprint, state, alert, "
	                       "created) VALUES(?, ?, ?, ?, ?)",
	                       -1, &ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(q->db,
	                       "INSERT OR REPLACE INTO alert_firing(fingerprint, alert) "
	                       "VALUES(?, ?)",
	                       -1, &fire, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(q->db, "DELETE FROM alert_firing WHERE fingerprint = ?", -1, &unfire,
	                       NULL) != SQLITE_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		char *text = alert_to_json_text(&events[i]);
		if (!text)
			goto out;
		bool firing = events[i].state == ALERT_STATE_FIRING;
		bool ok = true;
		for (size_t r = 0; ok && r < nreceivers; r++) {
			sqlite3_reset(ins);
			sqlite3_bind_text(ins, 1, receivers[r], -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 2, events[i].fingerprint, -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 3, firing ? "firing" : "resolved", -1,
			                  SQLITE_STATIC);
			sqlite3_bind_text(ins, 4, text, -1, SQLITE_STATIC);
			sqlite3_bind_double(ins, 5, now);
			ok = sqlite3_step(ins) == SQLITE_DONE;
		}
		sqlite3_stmt *st = firing ? fire : unfire;
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, events[i].fingerprint, -1, SQLITE_STATIC);
		if (firing)
			sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
		ok = ok && sqlite3_step(st) == SQLITE_DONE;
		free(text);
		if (!ok)
			goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		set_err(err, errlen, "alert queue: write", q->db);
	sqlite3_finalize(ins);
	sqlite3_finalize(fire);
	sqlite3_finalize(unfire);
	if (rc == 0 && exec(q, "COMMIT") != 0) {
		set_err(err, errlen, "alert queue: commit", q->db);
		rc = -1;
	}
	if (rc != 0)
		exec(q, "ROLLBACK");
	return rc;
}

int alert_queue_next(struct alert_queue *q, const char *receiver, struct alert_queue_row *row)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(q->db,
	                       "SELECT id, alert, attempts, created FROM alert_outbox "
	                       "WHERE receiver = ? ORDER BY id LIMIT 1",
	                       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, receiver, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	int out = rc == SQLITE_DONE ? 0 : -1;
	if (rc == SQLITE_ROW) {
		memset(row, 0, sizeof(*row));
		row->id = sqlite3_column_int64(st, 0);
		snprintf(row->receiver, sizeof(row->receiver), "%s", receiver);
		const char *text = (const char *)sqlite3_column_text(st, 1);
		row->attempts = sqlite3_column_int(st, 2);
		row->created = sqlite3_column_double(st, 3);
		out = text && alert_from_json_text(text, &row->alert) == 0 ? 1 : 2;
	}
	sqlite3_finalize(st);
	if (out == 2) {
		/* A row that does not read back (edited by hand?) cannot be sent. */
		alert_queue_done(q, row->id);
		return alert_queue_next(q, receiver, row);
	}
	return out;
}

static int by_id(struct alert_queue *q, const char *sql, int64_t id)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(st);
	return rc;
}

int alert_queue_done(struct alert_queue *q, int64_t id)
{
	return by_id(q, "DELETE FROM alert_outbox WHERE id = ?", id);
}

int alert_queue_failed(struct alert_queue *q, int64_t id)
{
	return by_id(q, "UPDATE alert_outbox SET attempts = attempts + 1 WHERE id = ?", id);
}

long alert_queue_pending(struct alert_queue *q, const char *receiver)
{
	sqlite3_stmt *st;
	const char *sql = receiver ? "SELECT count(*) FROM alert_outbox WHERE receiver = ?"
	                           : "SELECT count(*) FROM alert_outbox";
	if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (receiver)
		sqlite3_bind_text(st, 1, receiver, -1, SQLITE_STATIC);
	long n = sqlite3_step(st) == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : -1;
	sqlite3_finalize(st);
	return n;
}

int alert_queue_firing(struct alert_queue *q, struct alert **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(q->db, "SELECT alert FROM alert_firing ORDER BY fingerprint", -1,
	                       &st, NULL) != SQLITE_OK)
		return -1;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct alert a;
		const char *text = (const char *)sqlite3_column_text(st, 0);
		if (!text || alert_from_json_text(text, &a) != 0)
			continue;
		struct alert *grown = realloc(*out, (*n + 1) * sizeof(*grown));
		if (!grown) {
			rc = SQLITE_NOMEM;
			break;
		}
		*out = grown;
		grown[(*n)++] = a;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(*out);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

long alert_queue_forget_except(struct alert_queue *q, const char *const *keep, size_t n)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(q->db, "SELECT DISTINCT receiver FROM alert_outbox", -1, &st,
	                       NULL) != SQLITE_OK)
		return -1;
	char gone[16][32];
	size_t ngone = 0;
	while (sqlite3_step(st) == SQLITE_ROW && ngone < 16) {
		const char *r = (const char *)sqlite3_column_text(st, 0);
		bool kept = false;
		for (size_t i = 0; r && i < n; i++)
			kept |= strcmp(r, keep[i]) == 0;
		if (r && !kept)
			snprintf(gone[ngone++], sizeof(gone[0]), "%s", r);
	}
	sqlite3_finalize(st);
	long total = 0;
	for (size_t i = 0; i < ngone; i++) {
		if (sqlite3_prepare_v2(q->db, "DELETE FROM alert_outbox WHERE receiver = ?", -1,
		                       &st, NULL) != SQLITE_OK)
			return -1;
		sqlite3_bind_text(st, 1, gone[i], -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_DONE)
			total += sqlite3_changes(q->db);
		sqlite3_finalize(st);
	}
	return total;
}
