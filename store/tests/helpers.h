/* helpers.h - what the store tests share: temporary directories, synthetic
 * rows whose every value is known, and direct SQL on the file (through a
 * separate SQLite connection, as the sqlite3 CLI would see it).  report/'s
 * tests make and remove their history files with them too.
 *
 * Include after <setjmp.h>, <stdarg.h>, <stddef.h> and <cmocka.h>. */
#ifndef GPUSCOPE_STORE_TESTS_HELPERS_H
#define GPUSCOPE_STORE_TESTS_HELPERS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* Test groups, one per file; each returns the number of failed tests. */
int test_roundtrip_run(void);
int test_batch_run(void);
int test_maintain_run(void);
int test_schema_run(void);
int test_errors_run(void);
int test_crash_run(void);
int test_recorder_run(void);
int test_migrate_run(void);

#define T0 1700000040LL /* a minute boundary */

/* A fresh directory under $TMPDIR (or /tmp); removed by tmpdir_remove. */
char *tmpdir_make(void);
void tmpdir_remove(char *dir);
/* dir/name, malloc'd. */
char *path_join(const char *dir, const char *name);

/* A synthetic GPU second: every stored metric valid, values exact in the
 * stored quantum and different for each (gpu, t, metric). */
struct synth_row {
	char uuid[64];
	struct window_agg win[METRIC_COUNT];
	double raw[METRIC_COUNT];
	metric_set valid;
	struct store_gpu_row row;
};
void synth_fill(struct synth_row *r, int gpu, int64_t t);
/* The value synth_fill gives (metric, stat) for (gpu, t). */
double synth_value(int gpu, int64_t t, int metric, enum store_stat stat);

/* Writes GPUs [0, ngpus) for seconds [from, to]; asserts success. */
void write_seconds(struct store *s, int ngpus, int64_t from, int64_t to);

/* A writer with the given batch and second retention (0: defaults). */
struct store *open_writer(const char *path, int batch_seconds, int64_t second_retention);
struct store *open_reader(const char *path);

/* One integer from SQL on the file, through its own connection; INT64_MIN
 * for NULL or no row; fails the test on an SQL error. */
int64_t sql_int(const char *path, const char *sql);
/* Runs SQL (no result) on the file; fails the test on error. */
void sql_exec(const char *path, const char *sql);
/* "ok" or the first line of PRAGMA integrity_check, into buf. */
void integrity(const char *path, char *buf, size_t len);

/* Whole file contents, for "left untouched" checks; free() it. */
unsigned char *file_read(const char *path, size_t *len);
void file_write(const char *path, const void *data, size_t len);

bool near(double a, double b);

#endif
