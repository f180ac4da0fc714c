/* proc_json.h - /api/v1/processes and /api/v1/workloads from a board snapshot.
 *
 * Both read the GPUs' process tables (series/snapshot.h) only; the grouping into workloads and
 * tensor-parallel groups uses workload/tpgroup's pure functions.  docs/api.md has the schema.
 */
#ifndef GPUSCOPE_PROC_JSON_H
#define GPUSCOPE_PROC_JSON_H

#include "series/snapshot.h"
#include "series/process_table.h"

/* Malloc'd JSON documents, or NULL when out of memory. */
char *proc_json_processes(const struct board_snapshot *s);
char *proc_json_workloads(const struct board_snapshot *s);

#endif
