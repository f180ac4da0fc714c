/* sim_json.c - strict readers of JSON fields, for scenario and fault parsing (jansson).
 *
 * Split out of sim_scenario.c so that sim_faults.c can read its rules the same way.  Each
 * reader takes the key's parent object and JSON path, leaves the default when the key is
 * absent, and on a value of the wrong type or range writes "file: path.key: what is wrong"
 * and returns false; callers chain them with || and stop at the first error.
 */
#include "sim/sim_json.h"
#include "sim/sim_func.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sim_json_fail(const struct sim_json_ctx *c, const char *path, const char *fmt, ...)
{
	int n = snprintf(c->err, c->errlen, "%s: %s%s", c->file, path, *path ? ": " : "");
	if (n < 0 || (size_t)n >= c->errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

bool sim_json_check_keys(const struct sim_json_ctx *c, const json_t *obj,
                         const char *const *allowed, const char *path)
{
	if (!json_is_object(obj)) {
		sim_json_fail(c, path, "expected an object");
		return false;
	}
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)obj, key, val)
	{
		const char *const *a = allowed;
		while (*a && strcmp(*a, key) != 0)
			a++;
		if (!*a) {
			sim_json_fail(c, path, "unknown key \"%s\"", key);
			return false;
		}
	}
	return true;
}

void sim_json_join(char *buf, size_t len, const char *path, const char *key)
{
	sim_path_printf(buf, len, "%s%s%s", path, *path ? "." : "", key);
}

/* A number, or a string holding a whole integer ("0xff9f"). */
static bool number_of(const json_t *v, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return isfinite(*out);
	}
	if (!json_is_string(v))
		return false;
	const char *s = json_string_value(v);
	if (!*s || *s == '-')
		return false;
	char *end;
	errno = 0;
	unsigned long long u = strtoull(s, &end, 0);
	if (errno || *end)
		return false;
	*out = (double)u;
	return true;
}

bool sim_json_get_double(const struct sim_json_ctx *c, const json_t *obj, const char *key,
                         const char *path, double def, double *out)
{
	const json_t *v = json_object_get(obj, key);
	*out = def;
	if (!v)
		return true;
	char p[512];
	sim_json_join(p, sizeof(p), path, key);
	if (!number_of(v, out)) {
		sim_json_fail(c, p, "expected a number");
		return false;
	}
	return true;
}

/* An integer in [min, max]. */
bool sim_json_get_uint(const struct sim_json_ctx *c, const json_t *obj, const char *key,
                       const char *path, unsigned long long def, unsigned long long max,
                       unsigned long long *out)
{
	const json_t *v = json_object_get(obj, key);
	*out = def;
	if (!v)
		return true;
	char p[512];
	sim_json_join(p, sizeof(p), path, key);
	double d;
	if (!number_of(v, &d) || d < 0 || d != floor(d) || d > (double)max) {
		sim_json_fail(c, p, "expected a whole number from 0 to %llu", max);
		return false;
	}
	*out = (unsigned long long)d;
	return true;
}

bool sim_json_get_u32(const struct sim_json_ctx *c, const json_t *obj, const char *key,
                      const char *path, unsigned def, unsigned *out)
{
	unsigned long long v;
	if (!sim_json_get_uint(c, obj, key, path, def, UINT_MAX, &v))
		return false;
	*out = (unsigned)v;
	return true;
}

bool sim_json_get_string(const struct sim_json_ctx *c, const json_t *obj, const char *key,
                         const char *path, const char *def, char *out, size_t outlen)
{
	const json_t *v = json_object_get(obj, key);
	char p[512];
	sim_json_join(p, sizeof(p), path, key);
	if (v && !json_is_string(v)) {
		sim_json_fail(c, p, "expected a string");
		return false;
	}
	const char *s = v ? json_string_value(v) : def;
	if (strlen(s) >= outlen) {
		sim_json_fail(c, p, "longer than %zu characters", outlen - 1);
		return false;
	}
	snprintf(out, outlen, "%s", s);
	return true;
}

bool sim_json_get_bool(const struct sim_json_ctx *c, const json_t *obj, const char *key,
                       const char *path, bool def, bool *out)
{
	const json_t *v = json_object_get(obj, key);
	*out = def;
	if (!v)
		return true;
	if (!json_is_boolean(v)) {
		char p[512];
		sim_json_join(p, sizeof(p), path, key);
		sim_json_fail(c, p, "expected true or false");
		return false;
	}
	*out = json_is_true(v);
	return true;
}

/* Checks that obj.key, if present, is an array; returns it (or NULL when absent). */
bool sim_json_get_array(const struct sim_json_ctx *c, const json_t *obj, const char *key,
                        const char *path, const json_t **out)
{
	*out = json_object_get(obj, key);
	if (*out && !json_is_array(*out)) {
		char p[512];
		sim_json_join(p, sizeof(p), path, key);
		sim_json_fail(c, p, "expected an array");
		return false;
	}
	return true;
}
