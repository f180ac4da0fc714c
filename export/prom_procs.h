/* prom_procs.h - per-process series and the pod labels of DCGM series (Prometheus).
 *
 * Kept apart from prom.c, which renders the metric table: these series come from each GPU's
 * process table (series/snapshot.h), not from the table of metrics.  Cardinality is bounded:
 * per GPU, the prom_options' process_cap largest processes by GPU memory get series of their
 * own and the rest are summed into one process="_other" series.
 */
#ifndef GPUSCOPE_PROM_PROCS_H
#define GPUSCOPE_PROM_PROCS_H

#include "export/strbuf.h"
#include "series/process_table.h"
#include "series/snapshot.h"

/* Default and largest --process-cap (the board keeps GPU_MAX_PROCESSES per GPU). */
#define PROM_PROCESS_CAP_DEFAULT 10
#define PROM_PROCESS_CAP_MAX     GPU_MAX_PROCESSES

/* Appends the per-process families (GPUSCOPE_PROCESS_FAMILIES, series/metric_table.h) of
 * every GPU.  cap 0 means the default. */
void prom_render_processes(const struct board_snapshot *s, unsigned cap, bool openmetrics,
                           struct strbuf *out);

/* dcgm-exporter's pod, namespace and container labels (",pod=\"...\"..."), when exactly one
 * pod holds the GPU; nothing otherwise. */
void prom_owner_labels(const struct gpu_record *g, struct strbuf *out);

#endif
