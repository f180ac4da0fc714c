/* nvlink.c - per-link NVLink state and data counters (costly tier).
 *
 * Links are counted by asking for their state until the driver says there
 * is no such link (headers up to 12.9 have 18, 13.x 36; we keep 18).  The
 * data counters are NVML fields 138/139 (KiB per link), all links in one
 * nvmlDeviceGetFieldValues call.  A GPU without NVLink (PCIe cards, the
 * H200 VM measured in ../shared/facts) answers NOT_SUPPORTED on link 0, and
 * its NVLink metrics stay absent.
 *
 * Cost, on a 4-GPU H200 host (driver 580, bench/call_cost.c): the first
 * state call 1.65 ms of CPU and the other 17 nearly nothing; the data fields
 * of 18 links 16 ms.  So the states are read every costly sweep, and when a
 * read of the counters costs more than NVLINK_DATA_DEAR_S of CPU, the next
 * NVLINK_DATA_EVERY - 1 sweeps keep the last ones (at the default 30 s, the
 * counters of an H200 are read every 5 min).  Counters lose nothing by being
 * read less often, and GPM gives the total NVLink rates every GPM interval.
 */
#include "sample/sources.h"

#include <string.h>

#define NVLINK_DATA_EVERY  10    /* a dear read of the counters is good for this many sweeps */
#define NVLINK_DATA_DEAR_S 0.002 /* CPU seconds */

nvmlReturn_t read_nvlink(struct source_ctx *ctx, double *raw, metric_set *got)
{
	const struct nvml_lib *lib = ctx->lib;
	if (!lib->device_get_nvlink_state)
		return NVML_ERROR_FUNCTION_NOT_FOUND;
	struct nvlink_record *nv = &ctx->nvlink;
	bool data_due = ctx->nvlink_skip == 0;
	if (!data_due)
		ctx->nvlink_skip--;
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
	if (links != nv->links)
		data_due = true; /* first read, or the link count changed: the counters too */
	nv->links = links;
	if (data_due)
		for (unsigned l = 0; l < links; l++)
			nv->tx_bytes[l] = nv->rx_bytes[l] = -1;
	if (data_due && lib->device_get_field_values) {
		double cpu0 = thread_cpu_now();
		nvmlFieldValue_t f[2 * GPU_MAX_NVLINKS];
		memset(f, 0, sizeof(f));
		for (unsigned l = 0; l < links; l++) {
			f[2 * l] = (nvmlFieldValue_t){
			    .fieldId = NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX, .scopeId = l};
			f[2 * l + 1] = (nvmlFieldValue_t){
			    .fieldId = NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX, .scopeId = l};
		}
		nvmlReturn_t rc = lib->device_get_field_values(ctx->dev, (int)(2 * links), f);
		if (rc == NVML_ERROR_GPU_IS_LOST)
			return rc;
		for (unsigned l = 0; rc == NVML_SUCCESS && l < links; l++) {
			if (f[2 * l].nvmlReturn == NVML_SUCCESS)
				nv->tx_bytes[l] = (double)f[2 * l].value.ullVal * 1024.0;
			if (f[2 * l + 1].nvmlReturn == NVML_SUCCESS)
				nv->rx_bytes[l] = (double)f[2 * l + 1].value.ullVal * 1024.0;
		}
		ctx->nvlink_skip =
		    thread_cpu_now() - cpu0 > NVLINK_DATA_DEAR_S ? NVLINK_DATA_EVERY - 1 : 0;
	}
	ctx->nvlink_read = true;
	/* The values live in ctx->nvlink; these mark the rows as answered. */
	raw[METRIC_NVLINK_UP] = links;
	metric_set_add(got, METRIC_NVLINK_UP);
	bool tx = false, rx = false;
	for (unsigned l = 0; l < links; l++) {
		tx |= nv->tx_bytes[l] >= 0;
		rx |= nv->rx_bytes[l] >= 0;
	}
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
