/* sim_func.c - time functions for the simulator: parse a JSON tree once, evaluate it often.
 *
 * Every kind reduces to a few doubles or to a table of (t, v) rows: "steps" and "csv" share
 * the table code (steps hold the last value, CSV traces interpolate linearly unless the
 * column is a hex bitmask, where an average of two masks would mean nothing).  Evaluation
 * does no allocation and takes no lock; a table lookup is a binary search, so evaluating a
 * recorded trace for every 10 ms of an hour costs a few milliseconds.  Reading the CSV file
 * itself is in sim_csv.c.
 */
#include "sim/sim_func.h"
#include "sim/sim_csv.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum sim_func_kind { SF_CONST, SF_RAMP, SF_SINE, SF_SQUARE, SF_TABLE, SF_ADD };

struct sim_func {
	enum sim_func_kind kind;
	union {
		double value;
		struct {
			double from, to, start, duration;
		} ramp;
		struct {
			double mean, amplitude, period, phase;
		} sine;
		struct {
			double low, high, period, duty, phase;
		} square;
		struct {
			size_t n;
			double *t, *v;
			bool hold;     /* piecewise constant instead of linear */
			bool loop;     /* repeat the rows; t=0 reads the first row */
			bool relative; /* row times count from the first row (CSV) */
		} table;
		struct {
			size_t n;
			sim_func **terms;
		} add;
	} u;
};

const char sim_func_kinds[] = "const, ramp, sine, square, steps, csv, add";

void sim_path_fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
{
	int n = snprintf(err, errlen, "%s: ", path);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static sim_func *func_new(enum sim_func_kind kind)
{
	sim_func *f = calloc(1, sizeof(*f));
	if (f)
		f->kind = kind;
	return f;
}

sim_func *sim_func_const(double value)
{
	sim_func *f = func_new(SF_CONST);
	if (f)
		f->u.value = value;
	return f;
}

void sim_func_free(sim_func *f)
{
	if (!f)
		return;
	if (f->kind == SF_TABLE) {
		free(f->u.table.t);
		free(f->u.table.v);
	} else if (f->kind == SF_ADD) {
		for (size_t i = 0; i < f->u.add.n; i++)
			sim_func_free(f->u.add.terms[i]);
		free(f->u.add.terms);
	}
	free(f);
}

/* ---- evaluation ---- */

/* x mod m in [0, m) for m > 0, also for negative x. */
static double wrap(double x, double m)
{
	double r = fmod(x, m);
	return r < 0 ? r + m : r;
}

static double table_eval(const sim_func *f, double t)
{
	const double *ts = f->u.table.t, *vs = f->u.table.v;
	size_t n = f->u.table.n;
	assert(n > 0);
	double x = f->u.table.relative ? ts[0] + t : t;
	double span = ts[n - 1] - ts[0];
	if (f->u.table.loop && span > 0)
		x = ts[0] + wrap(x - ts[0], span);
	if (x < ts[0])
		return vs[0];
	if (x >= ts[n - 1])
		return vs[n - 1];
	/* Largest i with ts[i] <= x; ts[0] <= x < ts[n-1] holds here. */
	size_t lo = 0, hi = n - 1;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (ts[mid] <= x)
			lo = mid;
		else
			hi = mid;
	}
	if (f->u.table.hold || ts[hi] == ts[lo])
		return vs[lo];
	return vs[lo] + (vs[hi] - vs[lo]) * (x - ts[lo]) / (ts[hi] - ts[lo]);
}

double sim_func_eval(const sim_func *f, double t)
{
	switch (f->kind) {
	case SF_CONST:
		return f->u.value;
	case SF_RAMP:
		if (t <= f->u.ramp.start)
			return f->u.ramp.from;
		if (t >= f->u.ramp.start + f->u.ramp.duration)
			return f->u.ramp.to;
		return f->u.ramp.from +
		       (f->u.ramp.to - f->u.ramp.from) * (t - f->u.ramp.start) / f->u.ramp.duration;
	case SF_SINE:
		return f->u.sine.mean +
		       f->u.sine.amplitude *
		           sin(2.0 * M_PI * (t + f->u.sine.phase) / f->u.sine.period);
	case SF_SQUARE: {
		double pos = wrap(t + f->u.square.phase, f->u.square.period) / f->u.square.period;
		return pos < f->u.square.duty ? f->u.square.high : f->u.square.low;
	}
	case SF_TABLE:
		return table_eval(f, t);
	case SF_ADD: {
		double sum = 0;
		for (size_t i = 0; i < f->u.add.n; i++)
			sum += sim_func_eval(f->u.add.terms[i], t);
		return sum;
	}
	}
	assert(!"unknown function kind");
	return 0;
}

/* ---- parsing helpers ---- */

/* A whole string as an integer, decimal or 0x hex ("0x60"). */
static bool parse_int_text(const char *s, double *out)
{
	if (!*s || *s == '-' || *s == '+')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end)
		return false;
	*out = (double)v;
	return true;
}

/* A number, or a string holding a whole integer ("0x60"), as bitmasks are easier in hex. */
static bool number_value(const json_t *v, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return true;
	}
	return json_is_string(v) && parse_int_text(json_string_value(v), out);
}

/* Checks that obj is an object holding only the allowed keys. */
static bool check_object(const json_t *obj, const char *const *allowed, const char *path, char *err,
                         size_t errlen)
{
	if (!json_is_object(obj)) {
		sim_path_fail(err, errlen, path, "expected an object");
		return false;
	}
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)obj, key, val)
	{
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			ok = ok || strcmp(*a, key) == 0;
		if (!ok) {
			char list[256] = "";
			for (const char *const *a = allowed; *a; a++) {
				strncat(list, a == allowed ? "" : ", ",
				        sizeof(list) - strlen(list) - 1);
				strncat(list, *a, sizeof(list) - strlen(list) - 1);
			}
			sim_path_fail(err, errlen, path, "unknown key \"%s\" (expected %s)", key,
			              list);
			return false;
		}
	}
	return true;
}

/* Reads obj.key as a number; absent: *out = def, or an error when required. */
static bool get_number(const json_t *obj, const char *key, bool required, double def, double *out,
                       const char *path, char *err, size_t errlen)
{
	const json_t *v = json_object_get(obj, key);
	if (!v) {
		if (required)
			sim_path_fail(err, errlen, path, "missing \"%s\"", key);
		*out = def;
		return !required;
	}
	if (!number_value(v, out) || !isfinite(*out)) {
		sim_path_fail(err, errlen, path, "\"%s\" must be a number", key);
		return false;
	}
	return true;
}

/* snprintf for JSON paths in messages: a path cut short at the buffer's end is acceptable. */
void sim_path_printf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static void child_path(char *buf, size_t len, const char *path, const char *key)
{
	sim_path_printf(buf, len, "%s.%s", path, key);
}

/* ---- kinds ---- */

static sim_func *parse_ramp(const json_t *p, const char *path, char *err, size_t errlen)
{
	static const char *const keys[] = {"from", "to", "start", "duration", NULL};
	sim_func *f = func_new(SF_RAMP);
	if (!f || !check_object(p, keys, path, err, errlen) ||
	    !get_number(p, "from", true, 0, &f->u.ramp.from, path, err, errlen) ||
	    !get_number(p, "to", true, 0, &f->u.ramp.to, path, err, errlen) ||
	    !get_number(p, "start", false, 0, &f->u.ramp.start, path, err, errlen) ||
	    !get_number(p, "duration", true, 0, &f->u.ramp.duration, path, err, errlen))
		goto err;
	if (f->u.ramp.duration < 0) {
		sim_path_fail(err, errlen, path, "\"duration\" must be >= 0");
		goto err;
	}
	return f;
err:
	sim_func_free(f);
	return NULL;
}

static sim_func *parse_sine(const json_t *p, const char *path, char *err, size_t errlen)
{
	static const char *const keys[] = {"mean", "amplitude", "period", "phase", NULL};
	sim_func *f = func_new(SF_SINE);
	if (!f || !check_object(p, keys, path, err, errlen) ||
	    !get_number(p, "mean", true, 0, &f->u.sine.mean, path, err, errlen) ||
	    !get_number(p, "amplitude", true, 0, &f->u.sine.amplitude, path, err, errlen) ||
	    !get_number(p, "period", true, 0, &f->u.sine.period, path, err, errlen) ||
	    !get_number(p, "phase", false, 0, &f->u.sine.phase, path, err, errlen))
		goto err;
	if (f->u.sine.period <= 0) {
		sim_path_fail(err, errlen, path, "\"period\" must be > 0");
		goto err;
	}
	return f;
err:
	sim_func_free(f);
	return NULL;
}

static sim_func *parse_square(const json_t *p, const char *path, char *err, size_t errlen)
{
	static const char *const keys[] = {"low", "high", "period", "duty", "phase", NULL};
	sim_func *f = func_new(SF_SQUARE);
	if (!f || !check_object(p, keys, path, err, errlen) ||
	    !get_number(p, "low", true, 0, &f->u.square.low, path, err, errlen) ||
	    !get_number(p, "high", true, 0, &f->u.square.high, path, err, errlen) ||
	    !get_number(p, "period", true, 0, &f->u.square.period, path, err, errlen) ||
	    !get_number(p, "duty", false, 0.5, &f->u.square.duty, path, err, errlen) ||
	    !get_number(p, "phase", false, 0, &f->u.square.phase, path, err, errlen))
		goto err;
	if (f->u.square.period <= 0) {
		sim_path_fail(err, errlen, path, "\"period\" must be > 0");
		goto err;
	}
	if (f->u.square.duty < 0 || f->u.square.duty > 1) {
		sim_path_fail(err, errlen, path, "\"duty\" must be between 0 and 1");
		goto err;
	}
	return f;
err:
	sim_func_free(f);
	return NULL;
}

static sim_func *table_new(size_t n)
{
	sim_func *f = func_new(SF_TABLE);
	if (!f)
		return NULL;
	f->u.table.t = calloc(n ? n : 1, sizeof(double));
	f->u.table.v = calloc(n ? n : 1, sizeof(double));
	if (!f->u.table.t || !f->u.table.v) {
		sim_func_free(f);
		return NULL;
	}
	return f;
}

static sim_func *parse_steps(const json_t *p, const char *path, char *err, size_t errlen)
{
	if (!json_is_array(p) || json_array_size(p) == 0) {
		sim_path_fail(err, errlen, path, "expected a non-empty array of [t, value] pairs");
		return NULL;
	}
	size_t n = json_array_size(p);
	sim_func *f = table_new(n);
	if (!f) {
		sim_path_fail(err, errlen, path, "out of memory");
		return NULL;
	}
	f->u.table.hold = true;
	f->u.table.n = n;
	for (size_t i = 0; i < n; i++) {
		const json_t *pair = json_array_get(p, i);
		if (!json_is_array(pair) || json_array_size(pair) != 2 ||
		    !number_value(json_array_get(pair, 0), &f->u.table.t[i]) ||
		    !number_value(json_array_get(pair, 1), &f->u.table.v[i])) {
			sim_path_fail(err, errlen, path,
			              "[%zu] must be a [t, value] pair of numbers", i);
			goto err;
		}
		if (i > 0 && f->u.table.t[i] < f->u.table.t[i - 1]) {
			sim_path_fail(err, errlen, path, "[%zu]: times must not decrease", i);
			goto err;
		}
	}
	return f;
err:
	sim_func_free(f);
	return NULL;
}

/* ---- CSV traces (read by sim_csv.c) ---- */

static sim_func *parse_csv(const json_t *p, const char *base_dir, const char *path, char *err,
                           size_t errlen)
{
	static const char *const keys[] = {"file",  "column", "time_column", "loop",
	                                   "start", "end",    "interpolate", NULL};
	if (!check_object(p, keys, path, err, errlen))
		return NULL;
	struct sim_csv_query o = {.time_column = "t_s", .start = -INFINITY, .end = INFINITY};
	int hold = -1; /* -1: decide from the data (a hex column holds) */
	const json_t *file = json_object_get(p, "file");
	const json_t *column = json_object_get(p, "column");
	const json_t *time_column = json_object_get(p, "time_column");
	const json_t *loop = json_object_get(p, "loop");
	const json_t *interp = json_object_get(p, "interpolate");
	if (!json_is_string(file) || !json_is_string(column)) {
		sim_path_fail(err, errlen, path, "\"file\" and \"column\" must be strings");
		return NULL;
	}
	if ((time_column && !json_is_string(time_column)) || (loop && !json_is_boolean(loop))) {
		sim_path_fail(err, errlen, path,
		              "\"time_column\" must be a string, \"loop\" a boolean");
		return NULL;
	}
	if (interp) {
		const char *s = json_is_string(interp) ? json_string_value(interp) : "";
		if (strcmp(s, "linear") != 0 && strcmp(s, "step") != 0) {
			sim_path_fail(err, errlen, path,
			              "\"interpolate\" must be \"linear\" or \"step\"");
			return NULL;
		}
		hold = strcmp(s, "step") == 0;
	}
	if (!get_number(p, "start", false, -INFINITY, &o.start, path, err, errlen) ||
	    !get_number(p, "end", false, INFINITY, &o.end, path, err, errlen))
		return NULL;
	o.file = json_string_value(file);
	o.column = json_string_value(column);
	if (time_column)
		o.time_column = json_string_value(time_column);

	struct sim_csv_rows rows;
	if (!sim_csv_load(&o, base_dir, &rows, path, err, errlen))
		return NULL;
	sim_func *f = func_new(SF_TABLE);
	if (!f) {
		free(rows.t);
		free(rows.v);
		sim_path_fail(err, errlen, path, "out of memory");
		return NULL;
	}
	f->u.table.t = rows.t;
	f->u.table.v = rows.v;
	f->u.table.n = rows.n;
	f->u.table.hold = hold < 0 ? rows.hex : hold;
	f->u.table.loop = !loop || json_is_true(loop);
	f->u.table.relative = true;
	return f;
}

/* ---- entry point ---- */

sim_func *sim_func_parse(const json_t *spec, const char *base_dir, const char *json_path, char *err,
                         size_t errlen)
{
	double v;
	if (json_is_number(spec) || json_is_string(spec)) {
		if (!number_value(spec, &v) || !isfinite(v)) {
			sim_path_fail(
			    err, errlen, json_path,
			    "expected a number, an integer string like \"0x4\", or a function "
			    "object (%s)",
			    sim_func_kinds);
			return NULL;
		}
		sim_func *f = sim_func_const(v);
		if (!f)
			sim_path_fail(err, errlen, json_path, "out of memory");
		return f;
	}
	if (!json_is_object(spec) || json_object_size(spec) != 1) {
		sim_path_fail(err, errlen, json_path,
		              "expected a number or an object with exactly one key (%s)",
		              sim_func_kinds);
		return NULL;
	}
	const char *kind = json_object_iter_key(json_object_iter((json_t *)spec));
	const json_t *p = json_object_get(spec, kind);
	char path[512];
	child_path(path, sizeof(path), json_path, kind);

	if (strcmp(kind, "const") == 0) {
		if (!number_value(p, &v) || !isfinite(v)) {
			sim_path_fail(err, errlen, path, "expected a number");
			return NULL;
		}
		sim_func *f = sim_func_const(v);
		if (!f)
			sim_path_fail(err, errlen, path, "out of memory");
		return f;
	}
	if (strcmp(kind, "ramp") == 0)
		return parse_ramp(p, path, err, errlen);
	if (strcmp(kind, "sine") == 0)
		return parse_sine(p, path, err, errlen);
	if (strcmp(kind, "square") == 0)
		return parse_square(p, path, err, errlen);
	if (strcmp(kind, "steps") == 0)
		return parse_steps(p, path, err, errlen);
	if (strcmp(kind, "csv") == 0)
		return parse_csv(p, base_dir, path, err, errlen);
	if (strcmp(kind, "add") == 0) {
		if (!json_is_array(p) || json_array_size(p) == 0) {
			sim_path_fail(err, errlen, path, "expected a non-empty array of functions");
			return NULL;
		}
		sim_func *f = func_new(SF_ADD);
		size_t n = json_array_size(p);
		if (!f || !(f->u.add.terms = calloc(n, sizeof(sim_func *)))) {
			sim_func_free(f);
			sim_path_fail(err, errlen, path, "out of memory");
			return NULL;
		}
		for (size_t i = 0; i < n; i++) {
			char item[600];
			sim_path_printf(item, sizeof(item), "%s[%zu]", path, i);
			f->u.add.terms[i] =
			    sim_func_parse(json_array_get(p, i), base_dir, item, err, errlen);
			if (!f->u.add.terms[i]) {
				sim_func_free(f);
				return NULL;
			}
			f->u.add.n = i + 1;
		}
		return f;
	}
	sim_path_fail(err, errlen, json_path, "unknown function \"%s\" (expected %s)", kind,
	              sim_func_kinds);
	return NULL;
}
