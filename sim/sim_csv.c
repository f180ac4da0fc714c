/* sim_csv.c - recorded CSV traces for the time functions: one column as (t, v) rows.
 *
 * Split out of sim_func.c, which parses the {"csv": {...}} object and evaluates the rows as a
 * table.  This file only finds the text (an embedded "builtin:" trace or a file on disk) and
 * reads it: a header row naming the columns, then one row per sample.  The whole file is read
 * into memory and split in place, which is simple and, for traces of kilobytes, cheap.
 * Messages name the file and line ("h200.csv:12: bad time \"x\"") after the JSON path.
 */
#include "sim/sim_csv.h"
#include "sim/sim_embedded.h"
#include "sim/sim_func.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *sim_read_file(const char *name, size_t *len, const char **why)
{
	const size_t max = SIM_FILE_MAX;
	*why = NULL;
	FILE *fp = fopen(name, "rb");
	if (!fp) {
		*why = strerror(errno ? errno : EIO);
		return NULL;
	}
	/* A directory opens and a device (/dev/zero) never ends: only regular files, and
	 * only up to max bytes, so a wrong path is an error, never a hang or a huge malloc. */
	struct stat st;
	if (fstat(fileno(fp), &st) != 0) {
		*why = strerror(errno);
		fclose(fp);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = S_ISDIR(st.st_mode) ? "is a directory, not a file" : "not a regular file";
		fclose(fp);
		return NULL;
	}
	char *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 16384;
			char *nb = realloc(buf, cap);
			if (!nb) {
				*why = "out of memory";
				goto err;
			}
			buf = nb;
		}
		size_t room = cap - n - 1, left = max + 1 - n; /* one byte more tells "too big" */
		size_t got = fread(buf + n, 1, room < left ? room : left, fp);
		n += got;
		if (n > max) {
			*why = "larger than 64 MiB, the most the simulator reads";
			goto err;
		}
		if (got == 0)
			break;
	}
	if (ferror(fp)) {
		*why = strerror(errno ? errno : EIO);
		goto err;
	}
	fclose(fp);
	buf[n] = '\0';
	*len = n;
	return buf;
err:
	free(buf);
	fclose(fp);
	return NULL;
}

/* Splits line (modified in place) at commas into at most max fields; returns the count. */
static size_t split_csv(char *line, char **fields, size_t max)
{
	size_t n = 0;
	for (char *s = line;; s++) {
		if (n < max)
			fields[n] = s;
		n++;
		s = strchr(s, ',');
		if (!s)
			break;
		*s = '\0';
	}
	return n < max ? n : max;
}

enum { CSV_MAX_FIELDS = 64 };

/* A "0x..." cell as a whole integer (sim_func.c reads "0x60" in JSON the same way). */
static bool hex_cell(const char *cell, double *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(cell, &end, 0);
	if (errno || *end)
		return false;
	*out = (double)v;
	return true;
}

/* Fills rows from CSV text (modified in place); rows->t and rows->v may be set on failure. */
bool sim_csv_parse(char *text, const struct sim_csv_query *q, struct sim_csv_rows *rows,
                   const char *path, char *err, size_t errlen)
{
	char *fields[CSV_MAX_FIELDS];
	char *save = NULL;
	char *line = strtok_r(text, "\n", &save);
	if (!line) {
		sim_path_fail(err, errlen, path, "%s: empty file", q->file);
		return false;
	}
	line[strcspn(line, "\r")] = '\0';
	size_t ncol = split_csv(line, fields, CSV_MAX_FIELDS);
	size_t tcol = SIZE_MAX, vcol = SIZE_MAX;
	for (size_t i = 0; i < ncol; i++) {
		if (strcmp(fields[i], q->time_column) == 0)
			tcol = i;
		if (strcmp(fields[i], q->column) == 0)
			vcol = i;
	}
	if (tcol == SIZE_MAX || vcol == SIZE_MAX) {
		sim_path_fail(err, errlen, path, "%s has no column \"%s\"", q->file,
		              tcol == SIZE_MAX ? q->time_column : q->column);
		return false;
	}
	size_t cap = 0, n = 0, lineno = 1;
	bool hex = false;
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		lineno++;
		line[strcspn(line, "\r")] = '\0';
		if (!*line)
			continue;
		size_t got = split_csv(line, fields, CSV_MAX_FIELDS);
		if (got <= tcol || got <= vcol) {
			sim_path_fail(err, errlen, path, "%s:%zu: too few fields", q->file, lineno);
			return false;
		}
		/* An empty cell (a value the recorder could not read) skips the row. */
		if (!*fields[vcol])
			continue;
		char *end;
		double t = strtod(fields[tcol], &end);
		if (end == fields[tcol] || *end || !isfinite(t)) {
			sim_path_fail(err, errlen, path, "%s:%zu: bad time \"%s\"", q->file, lineno,
			              fields[tcol]);
			return false;
		}
		double v;
		const char *cell = fields[vcol];
		if (cell[0] == '0' && (cell[1] == 'x' || cell[1] == 'X')) {
			hex = true;
			if (!hex_cell(cell, &v)) {
				sim_path_fail(err, errlen, path, "%s:%zu: bad hex value \"%s\"",
				              q->file, lineno, cell);
				return false;
			}
		} else {
			v = strtod(cell, &end);
			if (end == cell || *end || !isfinite(v)) {
				sim_path_fail(err, errlen, path, "%s:%zu: bad value \"%s\"",
				              q->file, lineno, cell);
				return false;
			}
		}
		if (t < q->start || t > q->end)
			continue;
		if (n > 0 && t < rows->t[n - 1]) {
			sim_path_fail(err, errlen, path, "%s:%zu: time goes backwards", q->file,
			              lineno);
			return false;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 128;
			double *nt = realloc(rows->t, cap * sizeof(double));
			if (nt)
				rows->t = nt;
			double *nv = realloc(rows->v, cap * sizeof(double));
			if (nv)
				rows->v = nv;
			if (!nt || !nv) {
				sim_path_fail(err, errlen, path, "out of memory");
				return false;
			}
		}
		rows->t[n] = t;
		rows->v[n] = v;
		n++;
	}
	if (n == 0) {
		sim_path_fail(err, errlen, path, "%s: no rows with a value in \"%s\"", q->file,
		              q->column);
		return false;
	}
	rows->n = n;
	rows->hex = hex;
	return true;
}

bool sim_csv_load(const struct sim_csv_query *q, const char *base_dir, struct sim_csv_rows *rows,
                  const char *path, char *err, size_t errlen)
{
	*rows = (struct sim_csv_rows){0};
	char *text = NULL;
	size_t len = 0;
	if (strncmp(q->file, "builtin:", 8) == 0) {
		char name[256];
		snprintf(name, sizeof(name), "traces/%s", q->file + 8);
		const char *data = sim_embedded_find(name, &len);
		text = data ? strdup(data) : NULL;
		if (!data) {
			sim_path_fail(err, errlen, path, "%s: no such built-in trace", q->file);
			return false;
		}
	} else {
		char full[4096];
		if (q->file[0] == '/' || !base_dir || !*base_dir)
			snprintf(full, sizeof(full), "%s", q->file);
		else
			snprintf(full, sizeof(full), "%s/%s", base_dir, q->file);
		const char *why;
		text = sim_read_file(full, &len, &why);
		if (!text) {
			sim_path_fail(err, errlen, path, "%s: %s", full, why);
			return false;
		}
	}
	if (!text) {
		sim_path_fail(err, errlen, path, "out of memory");
		return false;
	}
	bool ok = sim_csv_parse(text, q, rows, path, err, errlen);
	free(text);
	if (!ok) {
		free(rows->t);
		free(rows->v);
		*rows = (struct sim_csv_rows){0};
	}
	return ok;
}
