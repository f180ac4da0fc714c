/* json.h - JSON views of a snapshot: /api/v1/gpus and /healthz. */
#ifndef GPUSCOPE_JSON_H
#define GPUSCOPE_JSON_H

#include <stdbool.h>

#include "series/snapshot.h"

/* Returns a malloc'd JSON document, or NULL when out of memory. */
char *json_gpus(const struct board_snapshot *s);

/* Health document; *healthy is true when no GPU is lost, stalled or
 * failing (probing counts as healthy: it lasts milliseconds; so does a GPU
 * this process may not read, which is configuration, not a fault). */
char *json_health(const struct board_snapshot *s, bool *healthy);

/* Adds "key": value_json (a JSON value as text; NULL or unparseable: null)
 * to the object document doc (malloc'd JSON text, freed here).  Returns the
 * new document, or NULL when out of memory. */
char *json_with_field(char *doc, const char *key, const char *value_json);

#endif
