/* store.c - opening and closing a history, and the error messages.
 *
 * Every failure becomes a STORE_E* code plus one sentence that names the
 * path, the cause (SQLite's text and the OS errno when there is one) and what
 * the operator can do.  The agent logs it and carries on without history;
 * nothing here exits or aborts.
 */
#include "store/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *store_error_name(int code)
{
	static const char *const names[] = {
	    [STORE_OK] = "ok",
	    [STORE_EINVAL] = "invalid",
	    [STORE_ENOMEM] = "nomem",
	    [STORE_ECANTOPEN] = "cantopen",
	    [STORE_EREADONLY] = "readonly",
	    [STORE_EFULL] = "full",
	    [STORE_ENOTDB] = "notdb",
	    [STORE_ECORRUPT] = "corrupt",
	    [STORE_ENEWER] = "newer",
	    [STORE_EBUSY] = "busy",
	    [STORE_ENOENT] = "noent",
	    [STORE_EIO] = "io",
	};
	if (code < 0 || (size_t)code >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[code];
}

void store_options_default(struct store_options *o)
{
	*o = (struct store_options){
	    .read_only = false,
	    .batch_seconds = 5,
	    .second_retention_s = 48 * 3600,
	    .minute_retention_s = 90 * 86400,
	    .maintain_rows = 600,
	    .auto_maintain = true,
	    .max_bytes = 0,
	    .busy_timeout_ms = 1000,
	    .verify_on_open = true,
	    .group = -1,
	};
}

int store_fail(struct store *s, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	s->stats.errors++;
	return code;
}

/* SQLite's message, plus the OS error when SQLite kept one. */
static void cause_text(sqlite3 *db, char *buf, size_t len)
{
	int e = db ? sqlite3_system_errno(db) : 0;
	const char *msg = db ? sqlite3_errmsg(db) : "out of memory";
	if (e)
		snprintf(buf, len, "%s: %s", msg, strerror(e));
	else
		snprintf(buf, len, "%s", msg);
}

static int classify(sqlite3 *db, int rc)
{
	int e = db ? sqlite3_system_errno(db) : 0;
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return STORE_EFULL;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return STORE_EREADONLY;
	case SQLITE_CANTOPEN:
		return STORE_ECANTOPEN;
	case SQLITE_NOTADB:
		return STORE_ENOTDB;
	case SQLITE_CORRUPT:
		return STORE_ECORRUPT;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return STORE_EBUSY;
	case SQLITE_NOMEM:
		return STORE_ENOMEM;
	case SQLITE_IOERR:
		if (e == ENOSPC || e == EDQUOT)
			return STORE_EFULL;
		if (e == EROFS || e == EACCES || e == EPERM)
			return STORE_EREADONLY;
		return STORE_EIO;
	}
	return STORE_EIO;
}

int store_sqlite_error(sqlite3 *db, int rc, const char *path, const char *doing, char *buf,
                       size_t len)
{
	char cause[400];
	int code = classify(db, rc);
	cause_text(db, cause, sizeof(cause));
	if (!buf || !len)
		return code;
	switch (code) {
	case STORE_EFULL:
		snprintf(
		    buf, len,
		    "history %s: disk full while %s (%s), or the history size cap (max_bytes) "
		    "is reached; the open batch was dropped. Free space on that file system or "
		    "lower the history retention; writing resumes by itself once there is room",
		    path, doing, cause);
		break;
	case STORE_EREADONLY:
		snprintf(buf, len,
		         "history %s: not writable while %s (%s). Make the file and its directory "
		         "writable by uid %d (SQLite creates %s-wal and %s-shm next to it), or "
		         "choose another history path",
		         path, doing, cause, (int)geteuid(), path, path);
		break;
	case STORE_ECANTOPEN:
		snprintf(buf, len,
		         "history %s: cannot open or create it%s%s (%s). Check that the directory "
		         "exists and is writable by uid %d (SQLite also creates %s-wal and %s-shm "
		         "there), or choose another history path",
		         path, strncmp(doing, "opening", 7) ? " while " : "",
		         strncmp(doing, "opening", 7) ? doing : "", cause, (int)geteuid(), path,
		         path);
		break;
	case STORE_ENOTDB:
		snprintf(buf, len,
		         "history %s: not an SQLite database (%s); it was left untouched. Move it "
		         "away or choose another history path",
		         path, cause);
		break;
	case STORE_ECORRUPT:
		snprintf(
		    buf, len,
		    "history %s: the file is corrupt (%s) while %s; it was left as it is. Move "
		    "it away (`sqlite3 %s .recover` saves what is readable) and restart to "
		    "begin a new history",
		    path, cause, doing, path);
		break;
	case STORE_EBUSY:
		snprintf(buf, len,
		         "history %s: locked by another process while %s (%s). Is a second "
		         "`gpuscope serve` writing the same file, or a long sqlite3 session "
		         "holding a write transaction?",
		         path, doing, cause);
		break;
	case STORE_ENOMEM:
		snprintf(buf, len, "history %s: out of memory while %s", path, doing);
		break;
	default:
		snprintf(buf, len,
		         "history %s: error while %s (%s). Check the disk and the kernel log; "
		         "the history is not recorded meanwhile",
		         path, doing, cause);
		break;
	}
	return code;
}

int store_db_fail(struct store *s, int rc, const char *doing)
{
	int code = store_sqlite_error(s->db, rc, s->path, doing, s->err, sizeof(s->err));
	s->stats.errors++;
	if (code == STORE_ECORRUPT)
		s->poisoned = true; /* never write into a damaged file again */
	if (code == STORE_EFULL && s->opt.max_bytes > 0) {
		size_t n = strlen(s->err);
		snprintf(s->err + n, sizeof(s->err) - n, " (max_bytes is %lld)",
		         (long long)s->opt.max_bytes);
	}
	return code;
}

int store_exec(struct store *s, const char *sql, const char *doing)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? STORE_OK : store_db_fail(s, rc, doing);
}

const char *store_errmsg(const struct store *s)
{
	return s ? s->err : "history: no store handle";
}

static int check_options(const struct store_options *o, char *err, size_t errlen)
{
	const char *bad = NULL;
	if (o->batch_seconds < 1)
		bad = "batch_seconds must be at least 1";
	else if (o->second_retention_s < 60)
		bad = "second_retention_s must be at least 60";
	else if (o->minute_retention_s < o->second_retention_s)
		bad = "minute_retention_s must be at least second_retention_s";
	else if (o->maintain_rows < 60)
		bad = "maintain_rows must be at least 60 (one minute of one GPU)";
	else if (o->max_bytes < 0 || o->busy_timeout_ms < 0 || o->cache_kib < 0)
		bad = "max_bytes, busy_timeout_ms and cache_kib must not be negative";
	if (bad && err && errlen)
		snprintf(err, errlen, "history: invalid option: %s", bad);
	return bad ? STORE_EINVAL : STORE_OK;
}

static void copy_err(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
}

static int pragma_setup(struct store *s)
{
	char sql[128];
	int rc;
	if (s->opt.read_only)
		/* No mmap: a mapped file counts in the reader's RSS page by page as
		 * it is read (a 24 h, 8-GPU report of layout 1 peaked at the file's
		 * 271 MiB).  Reads stream through SQLite's bounded page cache, and
		 * the clustered layout and the rollups keep them short. */
		return store_exec(s, "PRAGMA query_only=ON; PRAGMA mmap_size=0", "opening it");
	/* NORMAL in WAL mode: no fsync per commit, durable against a process
	 * crash, consistent (not durable) across a power cut.  The WAL is
	 * truncated back to 8 MiB after a checkpoint that a long reader delayed. */
	rc = store_exec(s, "PRAGMA synchronous=NORMAL; PRAGMA journal_size_limit=8388608",
	                "opening it");
	if (rc == STORE_OK && s->opt.max_bytes > 0) {
		/* The cap is per connection; pages in use above it stay readable. */
		snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%lld",
		         (long long)(s->opt.max_bytes / 4096 > 0 ? s->opt.max_bytes / 4096 : 1));
		rc = store_exec(s, sql, "setting max_bytes");
	}
	return rc;
}

static int prepare(struct store *s, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
	return rc == SQLITE_OK ? STORE_OK : store_db_fail(s, rc, "preparing statements");
}

static int prepare_writer(struct store *s)
{
	/* gpu_id, t, then every column: built from the catalog. */
	size_t cap = 64 + s->ncols * (STORE_COL_NAME_MAX + 4);
	char *sql = malloc(cap);
	int rc;
	if (!sql)
		return store_fail(s, STORE_ENOMEM, "history %s: out of memory", s->path);
	size_t off = (size_t)snprintf(sql, cap, "INSERT OR REPLACE INTO gpu_second(gpu_id,t");
	for (size_t i = 0; i < s->ncols; i++)
		off += (size_t)snprintf(sql + off, cap - off, ",%s", s->cols[i].name);
	off += (size_t)snprintf(sql + off, cap - off, ") VALUES(?,?");
	for (size_t i = 0; i < s->ncols; i++)
		off += (size_t)snprintf(sql + off, cap - off, ",?");
	snprintf(sql + off, cap - off, ")");
	rc = prepare(s, sql, &s->ins_second);
	free(sql);
	if (rc == STORE_OK) {
		/* t, gpu_id, proc_id, then each stored process family's column */
		char *names = store_proc_sql("INSERT OR REPLACE INTO proc_second(t,gpu_id,proc_id",
		                             ",@", ") VALUES(?,?,?");
		char *ins = names ? store_proc_sql(names, ",?", ")") : NULL;
		rc = ins ? prepare(s, ins, &s->ins_proc)
		         : store_fail(s, STORE_ENOMEM, "history %s: out of memory", s->path);
		free(names);
		free(ins);
	}
	if (rc == STORE_OK)
		rc = prepare(
		    s,
		    "INSERT INTO gpus(uuid,model,first_t) VALUES(?1,?2,?3) ON CONFLICT(uuid) "
		    "DO UPDATE SET model=coalesce(?2,model) RETURNING id",
		    &s->upsert_gpu);
	if (rc == STORE_OK)
		rc = prepare(
		    s,
		    "INSERT INTO processes(pid,name,container,pod,namespace,job,first_t,last_t) "
		    "VALUES(?1,?2,?3,?4,?5,?6,?7,?7) ON CONFLICT(pid,name,container,pod,"
		    "namespace,job) DO UPDATE SET last_t=max(last_t,?7) RETURNING id",
		    &s->upsert_procid);
	if (rc == STORE_OK)
		rc = prepare(s, "UPDATE processes SET last_t=max(last_t,?2) WHERE id=?1",
		             &s->touch_procid);
	return rc;
}

static void free_handle(struct store *s)
{
	sqlite3_finalize(s->ins_second);
	sqlite3_finalize(s->ins_proc);
	sqlite3_finalize(s->upsert_gpu);
	sqlite3_finalize(s->upsert_procid);
	sqlite3_finalize(s->touch_procid);
	for (size_t i = 0; i < sizeof(s->mstmt) / sizeof(s->mstmt[0]); i++)
		sqlite3_finalize(s->mstmt[i]);
	store_caches_clear(s);
	free(s->gpus);
	sqlite3_close(s->db); /* the last connection checkpoints and removes the WAL */
	free(s->path);
	free(s);
}

int store_open(const char *path, const struct store_options *opt, struct store **out, char *err,
               size_t errlen)
{
	struct store *s = NULL;
	int rc, flags;

	*out = NULL;
	if (!path || !*path) {
		copy_err(err, errlen, "history: no path given");
		return STORE_EINVAL;
	}
	struct store_options o;
	if (opt)
		o = *opt;
	else
		store_options_default(&o);
	if ((rc = check_options(&o, err, errlen)) != STORE_OK)
		return rc;

	s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(path))) {
		free(s);
		copy_err(err, errlen, "history: out of memory");
		return STORE_ENOMEM;
	}
	s->opt = o;
	s->stats.committed_t = INT64_MIN;
	s->ncols = store_columns(s->cols);

	/* A store handle belongs to one thread at a time, so SQLite's per-call
	 * mutex (10% of a long report's time) is not needed. */
	flags = (o.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
	        SQLITE_OPEN_NOMUTEX;
	if (!o.read_only) {
		/* SQLite would create the file 0644 (less the umask), and its -wal and -shm
		 * take the main file's mode: create it 0600 first, so the history (process
		 * names, users, pods) is private.  An existing file keeps its mode. */
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		              o.group >= 0 ? STORE_FILE_MODE_GROUP : STORE_FILE_MODE);
		if (fd >= 0 && o.group >= 0 && fchown(fd, (uid_t)-1, (gid_t)o.group) != 0) {
			int e = errno;
			close(fd);
			unlink(path);
			rc = store_fail(s, STORE_EREADONLY,
			                "history %s: cannot give it to group %ld: %s (the agent "
			                "must run as root or as a member of that group)",
			                path, o.group, strerror(e));
			goto err;
		}
		if (fd >= 0)
			close(fd);
	}
	rc = sqlite3_open_v2(path, &s->db, flags, NULL);
	if (rc != SQLITE_OK && o.read_only && access(path, F_OK) != 0) {
		rc = store_fail(
		    s, STORE_ECANTOPEN,
		    "history %s: no such file. Is it the path `gpuscope serve` writes its "
		    "history to?",
		    path);
		goto err;
	}
	if (rc != SQLITE_OK) {
		rc = store_db_fail(s, rc, o.read_only ? "opening it to read" : "opening it");
		goto err;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, o.busy_timeout_ms);
	if (o.cache_kib > 0) {
		/* Before anything is read: the check on open reads the whole file through it. */
		char sql[48];
		snprintf(sql, sizeof(sql), "PRAGMA cache_size=-%d", o.cache_kib);
		if ((rc = store_exec(s, sql, "opening it")) != STORE_OK)
			goto err;
	}
	if (!o.read_only && sqlite3_db_readonly(s->db, "main") == 1) {
		/* SQLite fell back to read-only: the file is write-protected. */
		rc = store_fail(s, STORE_EREADONLY,
		                "history %s: the file is read-only for uid %d. Make it (and its "
		                "directory) writable, or choose another history path",
		                path, (int)geteuid());
		goto err;
	}
	if ((rc = store_schema_open(s)) != STORE_OK)
		goto err;
	if ((rc = pragma_setup(s)) != STORE_OK)
		goto err;
	if (!o.read_only && (rc = prepare_writer(s)) != STORE_OK)
		goto err;
	s->err[0] = '\0';
	s->stats.errors = 0;
	*out = s;
	return STORE_OK;
err:
	copy_err(err, errlen, s->err);
	free_handle(s);
	return rc;
}

int store_close(struct store *s)
{
	int rc = STORE_OK;
	if (!s)
		return STORE_OK;
	if (s->in_batch)
		rc = store_flush(s);
	free_handle(s);
	return rc;
}

void store_release_memory(struct store *s)
{
	if (s)
		sqlite3_db_release_memory(s->db);
}

void store_get_stats(const struct store *s, struct store_stats *out)
{
	*out = s->stats;
}

int store_check(struct store *s, bool quick)
{
	sqlite3_stmt *st;
	char report[600] = "";
	size_t off = 0;
	int rc = sqlite3_prepare_v2(
	    s->db, quick ? "PRAGMA quick_check(8)" : "PRAGMA integrity_check(8)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_db_fail(s, rc, "checking it");
	bool ok = false;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *line = (const char *)sqlite3_column_text(st, 0);
		if (line && strcmp(line, "ok") == 0)
			ok = true;
		else if (line && off < sizeof(report) - 2)
			off += (size_t)snprintf(report + off, sizeof(report) - off, "%s%s",
			                        off ? "; " : "", line);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store_db_fail(s, rc, "checking it");
	if (!ok) {
		s->poisoned = true;
		return store_fail(s, STORE_ECORRUPT,
		                  "history %s: integrity check failed: %s. Move the file away "
		                  "(`sqlite3 %s .recover` saves what is readable) and restart",
		                  s->path, report, s->path);
	}
	return STORE_OK;
}

int store_refuse_corrupt(struct store *s)
{
	return store_fail(
	    s, STORE_ECORRUPT,
	    "history %s: SQLite found the file corrupt, so nothing more is written to "
	    "it. Move it away (`sqlite3 %s .recover` saves what is readable) and "
	    "restart to begin a new history",
	    s->path, s->path);
}
