/* probe.h - what each GPU can do, asked once at start.
 *
 * Every source is called once.  Success marks the metrics it filled as
 * supported; "unsupported" answers (NOT_SUPPORTED, FUNCTION_NOT_FOUND,
 * ARGUMENT_VERSION_MISMATCH, NO_PERMISSION, ...) mark them unsupported for
 * good: they are never polled again and never exported.  Any other error
 * (a timeout, say) is taken as transient and the source stays on.
 */
#ifndef GPUSCOPE_PROBE_H
#define GPUSCOPE_PROBE_H

#include "sample/sources.h"
#include "series/snapshot.h"

struct probe_result {
	struct source_status sources[SRC_COUNT];
	metric_set supported;
	double raw[METRIC_COUNT]; /* first readings, static tier included */
	metric_set got;
	bool lost;
};

/* Reads the identity; returns the first hard failure (GPU_IS_LOST) or SUCCESS.
 * Fields that cannot be read are left empty. */
nvmlReturn_t probe_identity(const struct nvml_lib *lib, nvmlDevice_t dev, struct gpu_identity *id);

/* Reads every source once, each on the context of the thread that reads it later. */
void probe_device(struct source_ctx *fast, struct source_ctx *worker, struct probe_result *out);

/* The label strings of the identity (serial, VBIOS, brand, inforom versions: identity.c),
 * each left "" when the GPU does not answer; GPU_IS_LOST or SUCCESS. */
nvmlReturn_t identity_read_labels(const struct nvml_lib *lib, nvmlDevice_t dev,
                                  struct gpu_identity *id);

#endif
