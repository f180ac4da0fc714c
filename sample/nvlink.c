/* nvlink.c - per-link NVLink state and data counters (costly tier).
 *
 * Two sources, one NVML call each.  NVLINK: links are counted by asking for
 * their state until the driver says there is no such link (headers up to
 * 12.9 have 18, 13.x 36; we keep 18).  NVLINK_DATA: the data counters are
 * NVML fields 138/139 (KiB per link), all links in one
 * nvmlDeviceGetFieldValues call, for the links the last state read counted.
 * A GPU without NVLink (PCIe cards, the H200 VM measured in ../shared/facts)
 * answers NOT_SUPPORTED on link 0, and its NVLink metrics stay absent.
 *
 * Cost, on a 4-GPU H200 host (driver 580, bench/call_cost.c): the first
 * state call 1.65 ms of CPU and the other 17 nearly nothing; the data fields
 * of 18 links 16 ms.  That is what the sampler's rule for dear reads is for
 * (sample/schedule.h): a read of the counters that costly is repeated ten
 * times less often.  Counters lose nothing by being read less often, and GPM
 * gives the total NVLink rates every GPM interval.  Both readers keep their
 * values in ctx->nvlink, which the sampler publishes whole.
 */
#include "sample/sources.h"

#include <string.h>

nvmlReturn_t read_nvlink(struct source_ctx *ctx, double *raw, metric_set *got)
{
	const struct nvml_lib *lib = ctx->lib;
	if (!lib->device_get_nvlink_state)
		return NVML_ERROR_FUNCTION_NOT_FOUND;
	struct nvlink_record *nv = &ctx->nvlink;
	unsigned links = 0;
	for (; links < GPU_MAX_NVLINKS; links++) {
		int state = 0;
		nvmlReturn_t rc = lib->device_get_nvlink_state(ctx->dev, links, &state);
		if (rc == NVML_ERROR_INVALID_ARGUMENT || nvml_rc_is_unsupported(rc))
			break;
		if (rc == NVML_ERROR_GPU_IS_LOST)
			return rc;
		nv->up[links] = rc == NVML_SUCCESS ? state == NVML_FEATURE_ENABLED : -1;
	}
	if (links == 0)
		return NVML_ERROR_NOT_SUPPORTED;
	if (links != nv->links) /* first read, or the link count changed: no counters yet */
		for (unsigned l = 0; l < GPU_MAX_NVLINKS; l++)
			nv->tx_bytes[l] = nv->rx_bytes[l] = -1;
	nv->links = links;
	ctx->nvlink_read = true;
	/* The values live in ctx->nvlink; this marks the row as answered. */
	raw[METRIC_NVLINK_UP] = links;
	metric_set_add(got, METRIC_NVLINK_UP);
	return NVML_SUCCESS;
}

nvmlReturn_t read_nvlink_data(struct source_ctx *ctx, double *raw, metric_set *got)
{
	const struct nvml_lib *lib = ctx->lib;
	struct nvlink_record *nv = &ctx->nvlink;
	if (!lib->device_get_field_values)
		return NVML_ERROR_FUNCTION_NOT_FOUND;
	if (nv->links == 0)
		return NVML_ERROR_NOT_SUPPORTED; /* no link counted (read after NVLINK) */
	unsigned links = nv->links;
	nvmlFieldValue_t f[2 * GPU_MAX_NVLINKS];
	memset(f, 0, sizeof(f));
	for (unsigned l = 0; l < links; l++) {
		f[2 * l] = (nvmlFieldValue_t){.fieldId = NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX,
		                              .scopeId = l};
		f[2 * l + 1] = (nvmlFieldValue_t){.fieldId = NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX,
		                                  .scopeId = l};
	}
	nvmlReturn_t rc = lib->device_get_field_values(ctx->dev, (int)(2 * links), f);
	if (rc != NVML_SUCCESS)
		return rc;
	bool tx = false, rx = false;
	for (unsigned l = 0; l < links; l++) {
		nv->tx_bytes[l] = f[2 * l].nvmlReturn == NVML_SUCCESS
		                      ? (double)f[2 * l].value.ullVal * 1024.0
		                      : -1;
		nv->rx_bytes[l] = f[2 * l + 1].nvmlReturn == NVML_SUCCESS
		                      ? (double)f[2 * l + 1].value.ullVal * 1024.0
		                      : -1;
		tx |= nv->tx_bytes[l] >= 0;
		rx |= nv->rx_bytes[l] >= 0;
	}
	ctx->nvlink_read = true;
	if (!tx && !rx)
		return NVML_ERROR_NOT_SUPPORTED;
	if (tx) {
		raw[METRIC_NVLINK_TX_BYTES] = 0;
		metric_set_add(got, METRIC_NVLINK_TX_BYTES);
	}
	if (rx) {
		raw[METRIC_NVLINK_RX_BYTES] = 0;
		metric_set_add(got, METRIC_NVLINK_RX_BYTES);
	}
	return NVML_SUCCESS;
}
