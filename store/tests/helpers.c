/* helpers.c - temporary directories, synthetic rows and direct SQL for the store tests. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "store/tests/helpers.h"

char *tmpdir_make(void)
{
	const char *base = getenv("TMPDIR");
	char tmpl[512];
	snprintf(tmpl, sizeof(tmpl), "%s/gpuscope-store-XXXXXX", base && *base ? base : "/tmp");
	char *dir = mkdtemp(tmpl);
	assert_non_null(dir);
	return strdup(dir);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	chmod(path, 0700); /* read-only test directories */
	return remove(path);
}

static int unlock_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_D || flag == FTW_DNR)
		chmod(path, 0700);
	else if (S_ISREG(st->st_mode))
		chmod(path, 0600);
	return 0;
}

void tmpdir_remove(char *dir)
{
	if (!dir)
		return;
	nftw(dir, unlock_entry, 16, FTW_PHYS);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

char *path_join(const char *dir, const char *name)
{
	size_t len = strlen(dir) + strlen(name) + 2;
	char *p = malloc(len);
	assert_non_null(p);
	snprintf(p, len, "%s/%s", dir, name);
	return p;
}

static double magnitude(int m)
{
	switch (metric_table[m].unit) {
	case UNIT_BYTES:
		return 1e9;
	case UNIT_MILLIWATTS:
	case UNIT_MILLIJOULES:
		return 1000;
	case UNIT_MEGAHERTZ:
		return 20;
	default:
		return 1;
	}
}

/* A half quantum step where the quantum allows it (all units finer than 1). */
static double frac(int m)
{
	return metric_table[m].unit == UNIT_BYTES || metric_table[m].unit == UNIT_MILLIWATTS ||
	               metric_table[m].unit == UNIT_MILLIJOULES ||
	               metric_table[m].unit == UNIT_COUNT
	           ? 0
	           : 0.5;
}

double synth_value(int gpu, int64_t t, int m, enum store_stat stat)
{
	double base = (double)((t * 7 + gpu * 13 + m * 3) % 97) * magnitude(m);
	if (!metric_windowed(m))
		return base + frac(m);
	switch (stat) {
	case STORE_MEAN:
		return base + frac(m);
	case STORE_MAX:
		return base + 3;
	case STORE_MIN:
		return base - 2;
	}
	return NAN;
}

void synth_fill(struct synth_row *r, int gpu, int64_t t)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->uuid, sizeof(r->uuid), "GPU-%08d-test", gpu);
	for (int m = 0; m < METRIC_COUNT; m++) {
		if (metric_windowed(m)) {
			double mean = synth_value(gpu, t, m, STORE_MEAN);
			r->win[m] = (struct window_agg){.min = synth_value(gpu, t, m, STORE_MIN),
			                                .max = synth_value(gpu, t, m, STORE_MAX),
			                                .sum = mean * 4,
			                                .n = 4};
		}
		r->raw[m] = synth_value(gpu, t, m, STORE_MEAN);
		metric_set_add(&r->valid, m);
	}
	r->row = (struct store_gpu_row){.uuid = r->uuid,
	                                .model = "NVIDIA H200",
	                                .t = t,
	                                .win = r->win,
	                                .raw = r->raw,
	                                .valid = &r->valid};
}

void write_seconds(struct store *s, int ngpus, int64_t from, int64_t to)
{
	struct synth_row r;
	for (int64_t t = from; t <= to; t++)
		for (int g = 0; g < ngpus; g++) {
			synth_fill(&r, g, t);
			int rc = store_put_gpu(s, &r.row);
			if (rc != STORE_OK)
				fail_msg("put %d at %lld: %s", g, (long long)t, store_errmsg(s));
		}
}

struct store *open_writer(const char *path, int batch_seconds, int64_t second_retention)
{
	struct store_options o;
	struct store *s;
	char err[1024];
	store_options_default(&o);
	if (batch_seconds)
		o.batch_seconds = batch_seconds;
	if (second_retention)
		o.second_retention_s = second_retention;
	int rc = store_open(path, &o, &s, err, sizeof(err));
	if (rc != STORE_OK)
		fail_msg("open %s: %s", path, err);
	return s;
}

struct store *open_reader(const char *path)
{
	struct store_options o;
	struct store *s;
	char err[1024];
	store_options_default(&o);
	o.read_only = true;
	int rc = store_open(path, &o, &s, err, sizeof(err));
	if (rc != STORE_OK)
		fail_msg("open %s to read: %s", path, err);
	return s;
}

int64_t sql_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = INT64_MIN;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

void sql_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	char *err = NULL;
	assert_int_equal(
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
	    SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
	sqlite3_close(db);
}

void integrity(const char *path, char *buf, size_t len)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	snprintf(buf, len, "(no answer)");
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	} else {
		snprintf(buf, len, "%s", sqlite3_errmsg(db));
	}
	sqlite3_close(db);
}

unsigned char *file_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *p = malloc(n > 0 ? (size_t)n : 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

void file_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

bool near(double a, double b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	return fabs(a - b) <= 1e-9 * fmax(1.0, fmax(fabs(a), fabs(b)));
}
