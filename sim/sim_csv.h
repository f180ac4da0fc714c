/* sim_csv.h - recorded CSV traces for sim_func.c (private to sim/).
 *
 * The {"csv": {...}} function of a scenario reads one column of a trace recorded on a real GPU;
 * sim_func.c parses the JSON and evaluates the rows, sim_csv.c finds and reads the file.
 */
#ifndef GPUSCOPE_SIM_CSV_H
#define GPUSCOPE_SIM_CSV_H

#include <stdbool.h>
#include <stddef.h>

struct sim_csv_query {
	const char *file;        /* "builtin:NAME" (sim/traces/NAME) or a path */
	const char *column;      /* the value column */
	const char *time_column; /* seconds */
	double start, end;       /* rows kept: start <= t <= end (trace seconds) */
};

/* The rows read, in file order (times never decrease); t and v are malloc()ed, n >= 1. */
struct sim_csv_rows {
	double *t, *v;
	size_t n;
	bool hex; /* the column holds 0x bitmasks, which interpolation would turn into nonsense */
};

/*
 * Reads the trace q names; a relative path resolves against base_dir (NULL or "": the current
 * folder).  Rows with an empty value cell are skipped.  Returns false with "path: file:line:
 * what is wrong" in err, and rows zeroed.
 */
bool sim_csv_load(const struct sim_csv_query *q, const char *base_dir, struct sim_csv_rows *rows,
                  const char *path, char *err, size_t errlen);

/*
 * Parses a trace's text (split in place, so modified): a header row, then rows; keeps q's
 * column for start <= t <= end.  rows must start zeroed; on false (message in err as for
 * sim_csv_load) the caller frees rows->t and rows->v.  sim_csv_load's parser, exposed for
 * the fuzz target.
 */
bool sim_csv_parse(char *text, const struct sim_csv_query *q, struct sim_csv_rows *rows,
                   const char *path, char *err, size_t errlen);

/* The most a scenario or trace file may hold; bigger is a mistake, not a trace. */
#define SIM_FILE_MAX ((size_t)64 << 20)

/*
 * Reads a whole regular file of at most SIM_FILE_MAX bytes, NUL-terminated, into a malloc()ed
 * buffer.  NULL with a phrase in *why ("is a directory, not a file", "No such file or
 * directory", ...) for a missing, unreadable, non-regular (directory, /dev/zero, FIFO) or
 * oversized file.
 */
char *sim_read_file(const char *name, size_t *len, const char **why);

#endif
