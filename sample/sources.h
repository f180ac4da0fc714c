/* sources.h - one reader per source of the metric table.
 *
 * A reader makes one NVML call for one device and fills the raw values of
 * the metrics that source feeds (see GPUSCOPE_SOURCES / GPUSCOPE_METRICS).
 * It returns the NVML status; on success it marks in `got` what it filled.
 * A reader whose symbol the library lacks returns FUNCTION_NOT_FOUND.
 */
#ifndef GPUSCOPE_SOURCES_H
#define GPUSCOPE_SOURCES_H

#include "nvml/nvml_loader.h"
#include "series/metric_table.h"

struct source_ctx {
	const struct nvml_lib *lib;
	nvmlDevice_t dev;
	bool memory_v1; /* the driver rejected nvmlDeviceGetMemoryInfo_v2 at probe */
};

typedef nvmlReturn_t (*source_read_fn)(struct source_ctx *ctx, double *raw, metric_set *got);

/* The reader of a source; NULL for event and agent sources. */
source_read_fn source_reader(enum source_id src);

#endif
