/* prom_nccl.h - gpuscope_nccl_* families on /metrics.
 *
 * Beside the per-inference histograms (prom_inference.h) and for the same reason not rows of
 * the metric table: they come from programs' datagrams (series/nccl.h), labelled by process,
 * workload, communicator, rank and collective kind, not from a GPU's board.
 */
#ifndef GPUSCOPE_PROM_NCCL_H
#define GPUSCOPE_PROM_NCCL_H

#include <stdbool.h>

#include "export/strbuf.h"
#include "series/nccl.h"

#define PROM_NCCL_PREFIX "gpuscope_nccl_"

/* Nothing until the first NCCL line arrives. */
void prom_render_nccl(struct nccl_table *t, bool openmetrics, struct strbuf *out);

#endif
