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
 *
 * Bandwidth (DCGM_FI_DEV_NVLINK_BANDWIDTH_*): each data read turns the
 * counters into a tx+rx rate per link over the time since the previous read,
 * kept beside them.  A first read, a link unknown at either read, or a
 * counter that went back (driver reload) gives no rate rather than 0 or a
 * spike; the total is the sum over the links that have one.
 */
#include "sample/sources.h"

#include <string.h>

#include "series/now.h"

nvmlReturn_t read_nvlink(struct source_ctx *ctx, double *raw, metric_set *got)
{
	const struct nvml_lib *lib = ctx->lib;
	if (!lib->device_get_nvlink_state)
		return NVML_ERROR_FUNCTION_NOT_FOUND;
	struct nvlink_record *nv = &ctx->nvlink;
	double *up = NVLINK_ROW(nv, METRIC_NVLINK_UP);
	unsigned links = 0;
	for (; links < GPU_MAX_NVLINKS; links++) {
		int state = 0;
		nvmlReturn_t rc = lib->device_get_nvlink_state(ctx->dev, links, &state);
		if (rc == NVML_ERROR_INVALID_ARGUMENT || nvml_rc_is_unsupported(rc))
			break;
		if (rc == NVML_ERROR_GPU_IS_LOST)
			return rc;
		up[links] = rc == NVML_SUCCESS ? state == NVML_FEATURE_ENABLED : -1;
	}
	if (links == 0)
		return NVML_ERROR_NOT_SUPPORTED;
	if (links != nv->links) /* first read, or the link count changed: no counters yet */
		for (unsigned l = 0; l < GPU_MAX_NVLINKS; l++) {
			double *tx = NVLINK_ROW(nv, METRIC_NVLINK_TX_BYTES);
			double *rx = NVLINK_ROW(nv, METRIC_NVLINK_RX_BYTES);
			double *bw = NVLINK_ROW(nv, METRIC_NVLINK_BANDWIDTH);
			tx[l] = rx[l] = bw[l] = -1;
		}
	nv->links = links;
	ctx->nvlink_read = true;
	/* The values live in ctx->nvlink; this marks the row as answered. */
	raw[METRIC_NVLINK_UP] = links;
	metric_set_add(got, METRIC_NVLINK_UP);
	return NVML_SUCCESS;
}

/* tx+rx bytes per second of one link between two reads dt seconds apart; -1 when a
 * counter is unknown at either read, went back, or no time passed. */
static double link_rate(double tx0, double rx0, double tx1, double rx1, double dt)
{
	if (dt <= 0 || tx0 < 0 || rx0 < 0 || tx1 < tx0 || rx1 < rx0)
		return -1;
	return (tx1 - tx0 + rx1 - rx0) / dt;
}

nvmlReturn_t read_nvlink_data(struct source_ctx *ctx, double *raw, metric_set *got)
{
	const struct nvml_lib *lib = ctx->lib;
	struct nvlink_record *nv = &ctx->nvlink;
	double *tx_bytes = NVLINK_ROW(nv, METRIC_NVLINK_TX_BYTES);
	double *rx_bytes = NVLINK_ROW(nv, METRIC_NVLINK_RX_BYTES);
	double *bw = NVLINK_ROW(nv, METRIC_NVLINK_BANDWIDTH);
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
	double now = mono_now(), dt = nv->data_at > 0 ? now - nv->data_at : 0;
	double prev_tx[GPU_MAX_NVLINKS], prev_rx[GPU_MAX_NVLINKS];
	memcpy(prev_tx, tx_bytes, sizeof(prev_tx));
	memcpy(prev_rx, rx_bytes, sizeof(prev_rx));
	nv->data_at = now;
	bool tx = false, rx = false, any_bw = false;
	double total = 0;
	for (unsigned l = 0; l < links; l++) {
		tx_bytes[l] = f[2 * l].nvmlReturn == NVML_SUCCESS
		                  ? (double)f[2 * l].value.ullVal * 1024.0
		                  : -1;
		rx_bytes[l] = f[2 * l + 1].nvmlReturn == NVML_SUCCESS
		                  ? (double)f[2 * l + 1].value.ullVal * 1024.0
		                  : -1;
		tx |= tx_bytes[l] >= 0;
		rx |= rx_bytes[l] >= 0;
		bw[l] = link_rate(prev_tx[l], prev_rx[l], tx_bytes[l], rx_bytes[l], dt);
		if (bw[l] >= 0) {
			total += bw[l];
			any_bw = true;
		}
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
	if (any_bw) {
		raw[METRIC_NVLINK_BANDWIDTH] = 0; /* the values are in ctx->nvlink */
		metric_set_add(got, METRIC_NVLINK_BANDWIDTH);
		raw[METRIC_NVLINK_BANDWIDTH_TOTAL] = total;
		metric_set_add(got, METRIC_NVLINK_BANDWIDTH_TOTAL);
	}
	return NVML_SUCCESS;
}
