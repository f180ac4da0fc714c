/* prom_inference.h - gpuscope_inference_* histograms on /metrics.
 *
 * Beside the per-process families (prom_procs.h), not rows of the metric table: these come
 * from injected programs' datagrams (series/inference.h), labelled by process, workload and
 * range name within the table's cap, not from a GPU's board.
 */
#ifndef GPUSCOPE_PROM_INFERENCE_H
#define GPUSCOPE_PROM_INFERENCE_H

#include <stdbool.h>

#include "export/strbuf.h"
#include "series/inference.h"

#define PROM_INFERENCE_PREFIX "gpuscope_inference_"

/* The histogram families of every series, then the receive counters. */
void prom_render_inference(struct inference_table *t, bool openmetrics, struct strbuf *out);

#endif
