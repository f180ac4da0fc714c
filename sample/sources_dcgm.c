/* sources_dcgm.c - readers of the fields dcgm-exporter serves that the rest of gpuscope
 * had no use for: fan speed, the power-management limit, the driver's violation counters by
 * policy, the virtualization mode, the vGPU licence and NVLink P2P status towards the other
 * GPUs.
 *
 * Kept apart from sources.c so the hot readers stay together; each reader is still one NVML
 * call.  What a GPU does not have (an H200 has no fan) answers NOT_SUPPORTED at the probe and
 * is never polled again, so it is absent, not 0.
 */
#include "sample/sources.h"

#include <string.h>

#include "series/p2p.h"

#define NEED(sym)                                             \
	do {                                                  \
		if (!ctx->lib->sym)                           \
			return NVML_ERROR_FUNCTION_NOT_FOUND; \
	} while (0)

static nvmlReturn_t read_fan_speed(struct source_ctx *ctx, double *raw, metric_set *got)
{
	NEED(device_get_fan_speed);
	unsigned pct;
	nvmlReturn_t rc = ctx->lib->device_get_fan_speed(ctx->dev, &pct);
	/* Some boards report the target of a fan they cannot drive as more than 100. */
	if (rc == NVML_SUCCESS && pct > 100)
		pct = 100;
	if (rc == NVML_SUCCESS) {
		raw[METRIC_FAN_SPEED] = pct;
		metric_set_add(got, METRIC_FAN_SPEED);
	}
	return rc;
}

static nvmlReturn_t read_power_mgmt_limit(struct source_ctx *ctx, double *raw, metric_set *got)
{
	NEED(device_get_power_management_limit);
	unsigned mw;
	nvmlReturn_t rc = ctx->lib->device_get_power_management_limit(ctx->dev, &mw);
	if (rc == NVML_SUCCESS) {
		raw[METRIC_POWER_MGMT_LIMIT] = mw;
		metric_set_add(got, METRIC_POWER_MGMT_LIMIT);
	}
	return rc;
}

/* The driver counts nanoseconds; the row's raw unit is seconds (one division, so a count
 * below 2^53 ns, 104 days, comes back to the same integer in DCGM's ns). */
static nvmlReturn_t read_violation(struct source_ctx *ctx, int policy, enum metric_id m,
                                   double *raw, metric_set *got)
{
	NEED(device_get_violation_status);
	nvmlViolationTime_t v = {0};
	nvmlReturn_t rc = ctx->lib->device_get_violation_status(ctx->dev, policy, &v);
	if (rc == NVML_SUCCESS) {
		raw[m] = (double)v.violationTime / 1e9;
		metric_set_add(got, m);
	}
	return rc;
}

#define VIOLATION_READER(fn, policy, metric)                                                      \
	static nvmlReturn_t fn(struct source_ctx *ctx, double *raw, metric_set *got)              \
	{                                                                                         \
		return read_violation(ctx, NVML_PERF_POLICY_##policy, METRIC_##metric, raw, got); \
	}
VIOLATION_READER(read_violation_thermal, THERMAL, VIOLATION_THERMAL)
VIOLATION_READER(read_violation_board_limit, BOARD_LIMIT, VIOLATION_BOARD_LIMIT)
VIOLATION_READER(read_violation_low_util, LOW_UTILIZATION, VIOLATION_LOW_UTIL)
VIOLATION_READER(read_violation_reliability, RELIABILITY, VIOLATION_RELIABILITY)

static nvmlReturn_t read_virtualization_mode(struct source_ctx *ctx, double *raw, metric_set *got)
{
	NEED(device_get_virtualization_mode);
	int mode;
	nvmlReturn_t rc = ctx->lib->device_get_virtualization_mode(ctx->dev, &mode);
	if (rc == NVML_SUCCESS && (mode < 0 || mode > NVML_GPU_VIRTUALIZATION_MODE_HOST_VSGA))
		return NVML_ERROR_NOT_SUPPORTED; /* a mode this build does not know */
	if (rc == NVML_SUCCESS) {
		raw[METRIC_VIRTUALIZATION_MODE] = mode;
		metric_set_add(got, METRIC_VIRTUALIZATION_MODE);
	}
	return rc;
}

/* Licensed when any licensable feature is; not supported where the driver says licensing
 * does not apply.  The driver writes its own struct size: the buffer leaves room. */
static nvmlReturn_t read_vgpu_license(struct source_ctx *ctx, double *raw, metric_set *got)
{
	NEED(device_get_grid_licensable_features);
	union {
		nvmlGridLicensableFeatures_t f;
		char room[4096];
	} buf;
	memset(&buf, 0, sizeof(buf));
	nvmlReturn_t rc = ctx->lib->device_get_grid_licensable_features(ctx->dev, &buf.f);
	if (rc != NVML_SUCCESS)
		return rc;
	if (!buf.f.isGridLicenseSupported)
		return NVML_ERROR_NOT_SUPPORTED;
	unsigned n = buf.f.licensableFeaturesCount;
	bool licensed = false;
	for (unsigned i = 0; i < n && i < NVML_GRID_LICENSE_FEATURE_MAX_COUNT; i++)
		licensed |= buf.f.gridLicensableFeatures[i].featureState != 0;
	raw[METRIC_VGPU_LICENSED] = licensed;
	metric_set_add(got, METRIC_VGPU_LICENSED);
	return NVML_SUCCESS;
}

/* NVLink P2P towards every other GPU: the pair's status goes to series/p2p.h for
 * DCGM_EXP_P2P_STATUS, the count of reachable peers to the row.  NVML numbers GPUs by handle
 * index, so this GPU's index is the one whose handle is ctx->dev. */
static nvmlReturn_t read_p2p(struct source_ctx *ctx, double *raw, metric_set *got)
{
	NEED(device_get_p2p_status);
	unsigned n, self = ~0u;
	nvmlReturn_t rc = ctx->lib->device_get_count(&n);
	if (rc != NVML_SUCCESS)
		return rc;
	for (unsigned j = 0; j < n && self == ~0u; j++) {
		nvmlDevice_t h;
		if (ctx->lib->device_get_handle_by_index(j, &h) == NVML_SUCCESS && h == ctx->dev)
			self = j;
	}
	if (self == ~0u)
		return NVML_ERROR_NOT_SUPPORTED; /* a MIG device, or not one NVML lists */
	unsigned peers = 0, answered = 0;
	nvmlReturn_t failed = NVML_SUCCESS;
	for (unsigned j = 0; j < n; j++) {
		nvmlDevice_t h;
		int status;
		if (j == self || ctx->lib->device_get_handle_by_index(j, &h) != NVML_SUCCESS)
			continue;
		rc = ctx->lib->device_get_p2p_status(ctx->dev, h, NVML_P2P_CAPS_INDEX_NVLINK,
		                                     &status);
		if (rc == NVML_ERROR_GPU_IS_LOST)
			return rc;
		if (rc != NVML_SUCCESS) {
			failed = rc; /* this pair stays unread (the peer lost, no permission) */
			continue;
		}
		answered++;
		p2p_set(self, j, status);
		peers += status == NVML_P2P_STATUS_OK;
	}
	if (answered == 0 && failed != NVML_SUCCESS)
		return failed; /* no pair answered: the call itself is not there */
	raw[METRIC_NVLINK_P2P_PEERS] = peers;
	metric_set_add(got, METRIC_NVLINK_P2P_PEERS);
	return NVML_SUCCESS;
}

source_read_fn sources_dcgm_reader(enum source_id src)
{
	switch (src) {
	case SRC_FAN_SPEED:
		return read_fan_speed;
	case SRC_POWER_MGMT_LIMIT:
		return read_power_mgmt_limit;
	case SRC_VIOLATION_THERMAL:
		return read_violation_thermal;
	case SRC_VIOLATION_BOARD_LIMIT:
		return read_violation_board_limit;
	case SRC_VIOLATION_LOW_UTIL:
		return read_violation_low_util;
	case SRC_VIOLATION_RELIABILITY:
		return read_violation_reliability;
	case SRC_VIRTUALIZATION_MODE:
		return read_virtualization_mode;
	case SRC_VGPU_LICENSE:
		return read_vgpu_license;
	case SRC_P2P:
		return read_p2p;
	default:
		return NULL;
	}
}
