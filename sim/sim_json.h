/* sim_json.h - strict readers of JSON fields for scenario parsing (private to sim/).
 *
 * Shared by sim_scenario.c and sim_faults.c.  Every reader names the bad value by its JSON path
 * in the message, so a typo in a scenario fails loudly; see sim_json.c.
 */
#ifndef GPUSCOPE_SIM_JSON_H
#define GPUSCOPE_SIM_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* One parse: the file (for messages), where relative CSV paths resolve, the error buffer. */
struct sim_json_ctx {
	const char *file;
	const char *base_dir;
	char *err;
	size_t errlen;
};

/* Writes "file: path: message" ("file: message" for the root path "") to c->err. */
void sim_json_fail(const struct sim_json_ctx *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checks that obj is an object holding only the keys of the NULL-terminated list allowed. */
bool sim_json_check_keys(const struct sim_json_ctx *c, const json_t *obj,
                         const char *const *allowed, const char *path);

/* path.key into buf ("key" at the root). */
void sim_json_join(char *buf, size_t len, const char *path, const char *key);

/*
 * Readers of obj.key: absent leaves *out = def and succeeds.  Numbers may also be strings
 * holding a whole integer ("0xff9f").  uint takes whole numbers from 0 to max.
 */
bool sim_json_get_double(const struct sim_json_ctx *c, const json_t *obj, const char *key,
                         const char *path, double def, double *out);
bool sim_json_get_uint(const struct sim_json_ctx *c, const json_t *obj, const char *key,
                       const char *path, unsigned long long def, unsigned long long max,
                       unsigned long long *out);
bool sim_json_get_u32(const struct sim_json_ctx *c, const json_t *obj, const char *key,
                      const char *path, unsigned def, unsigned *out);
/* A string shorter than outlen, copied into out. */
bool sim_json_get_string(const struct sim_json_ctx *c, const json_t *obj, const char *key,
                         const char *path, const char *def, char *out, size_t outlen);
bool sim_json_get_bool(const struct sim_json_ctx *c, const json_t *obj, const char *key,
                       const char *path, bool def, bool *out);
/* Checks that obj.key, if present, is an array; *out is it, or NULL when absent. */
bool sim_json_get_array(const struct sim_json_ctx *c, const json_t *obj, const char *key,
                        const char *path, const json_t **out);

#endif
