/* gpm.c - GPM (GPU Performance Monitoring) readings: SM, tensor, DRAM and
 * pipe activity without DCGM, on Hopper and newer.
 *
 * A GPM metric is a rate between two samples, and the driver refreshes its
 * counters about every 100 ms: a pair that does not straddle a refresh reads
 * 0 while returning SUCCESS (measured on an H200, ../shared/facts).  So each
 * fast sweep takes one sample into a small ring and pairs it with the newest
 * earlier sample at least GPM_MIN_WINDOW_S old.  At the default 100 ms fast
 * interval that is the sample two sweeps back: every sweep publishes the
 * activity over the last ~200 ms, sliding by 100 ms, and a steady load never
 * shows a false zero.  One SampleGet (~27 us on an H200) and one MetricsGet
 * per sweep; samples are allocated once.
 *
 * What a MetricsGet costs depends on the metrics asked: on an H200 (driver
 * 580, bench/call_cost.c) every metric costs ~0.3 us except the graphics
 * engine's (id 1), which costs ~1.4 ms of CPU on its own.  So the fast list
 * leaves it out, and the fast step computes it once a costly interval over a
 * pair that long (GPM_LIST_SLOW), on the same thread: GPM calls of one GPU
 * must not come from two threads at once (driver 580 crashed).
 */
#include "sample/sources.h"

#include <string.h>

#include "series/snapshot.h"

/* The GPM metric behind each table row. */
static const struct {
	unsigned id;
	enum metric_id metric;
} gpm_rows[] = {
    {NVML_GPM_METRIC_SM_UTIL, METRIC_GPM_SM_ACTIVE},
    {NVML_GPM_METRIC_SM_OCCUPANCY, METRIC_GPM_SM_OCCUPANCY},
    {NVML_GPM_METRIC_INTEGER_UTIL, METRIC_GPM_INTEGER},
    {NVML_GPM_METRIC_ANY_TENSOR_UTIL, METRIC_GPM_TENSOR},
    {NVML_GPM_METRIC_DFMA_TENSOR_UTIL, METRIC_GPM_DFMA},
    {NVML_GPM_METRIC_HMMA_TENSOR_UTIL, METRIC_GPM_HMMA},
    {NVML_GPM_METRIC_IMMA_TENSOR_UTIL, METRIC_GPM_IMMA},
    {NVML_GPM_METRIC_DRAM_BW_UTIL, METRIC_GPM_DRAM},
    {NVML_GPM_METRIC_FP64_UTIL, METRIC_GPM_FP64},
    {NVML_GPM_METRIC_FP32_UTIL, METRIC_GPM_FP32},
    {NVML_GPM_METRIC_FP16_UTIL, METRIC_GPM_FP16},
    {NVML_GPM_METRIC_PCIE_TX_PER_SEC, METRIC_GPM_PCIE_TX},
    {NVML_GPM_METRIC_PCIE_RX_PER_SEC, METRIC_GPM_PCIE_RX},
    {NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC, METRIC_GPM_NVLINK_TX},
    {NVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC, METRIC_GPM_NVLINK_RX},
};
#define GPM_ROWS    (sizeof(gpm_rows) / sizeof(gpm_rows[0]))
#define GPM_ENGINES 8 /* NVDEC_0..7 and NVJPG_0..7: averaged over those present */

nvmlReturn_t gpm_read(const struct nvml_lib *lib, struct gpm_state *g, nvmlDevice_t dev, int gi,
                      enum gpm_list list, double *raw, metric_set *got)
{
	if (!lib->gpm_query_device_support || !lib->gpm_sample_alloc || !lib->gpm_sample_get ||
	    !lib->gpm_metrics_get || !lib->gpm_sample_free || (gi >= 0 && !lib->gpm_mig_sample_get))
		return NVML_ERROR_FUNCTION_NOT_FOUND;
	if (g->taken == 0 && !g->ring[0]) {
		/* First call (the probe): ask before allocating anything. */
		nvmlGpmSupport_t sup = {.version = NVML_GPM_SUPPORT_VERSION};
		nvmlReturn_t rc = lib->gpm_query_device_support(dev, &sup);
		if (rc != NVML_SUCCESS)
			return rc;
		if (!sup.isSupportedDevice)
			return NVML_ERROR_NOT_SUPPORTED;
	}
	unsigned slot = g->next;
	if (!g->ring[slot]) {
		nvmlReturn_t rc = lib->gpm_sample_alloc(&g->ring[slot]);
		if (rc != NVML_SUCCESS)
			return rc;
	}
	double now = mono_now();
	nvmlReturn_t rc = gi >= 0 ? lib->gpm_mig_sample_get(dev, (unsigned)gi, g->ring[slot])
	                          : lib->gpm_sample_get(dev, g->ring[slot]);
	if (rc != NVML_SUCCESS)
		return rc;
	g->at[slot] = now;
	g->next = (slot + 1) % GPM_RING;
	if (g->taken < GPM_RING)
		g->taken++;

	/* The newest earlier sample old enough to straddle a refresh. */
	int base = -1;
	for (unsigned k = 1; k < g->taken; k++) {
		unsigned i = (slot + GPM_RING - k) % GPM_RING;
		if (now - g->at[i] >= GPM_MIN_WINDOW_S) {
			base = (int)i;
			break;
		}
	}
	if (base < 0)
		return NVML_SUCCESS; /* too early for a first pair: nothing yet */

	/* 4 KB: off the stack, one per sampling thread. */
	_Thread_local static nvmlGpmMetricsGet_t mg;
	memset(&mg, 0, offsetof(nvmlGpmMetricsGet_t, metrics));
	mg.version = NVML_GPM_METRICS_GET_VERSION;
	mg.sample1 = g->ring[base];
	mg.sample2 = g->ring[slot];
	unsigned n = 0;
	if (list == GPM_LIST_SLOW) {
		mg.metrics[0].metricId = NVML_GPM_METRIC_GRAPHICS_UTIL;
		mg.numMetrics = 1;
		rc = lib->gpm_metrics_get(&mg);
		if (rc != NVML_SUCCESS)
			return rc;
		if (mg.metrics[0].nvmlReturn != NVML_SUCCESS)
			return mg.metrics[0].nvmlReturn;
		if (mg.metrics[0].value >= 0) {
			raw[METRIC_GPM_GRAPHICS] = mg.metrics[0].value;
			metric_set_add(got, METRIC_GPM_GRAPHICS);
		}
		return NVML_SUCCESS;
	}
	for (size_t i = 0; i < GPM_ROWS; i++)
		mg.metrics[n++].metricId = gpm_rows[i].id;
	for (unsigned e = 0; e < GPM_ENGINES; e++) {
		mg.metrics[n++].metricId = NVML_GPM_METRIC_NVDEC_0_UTIL + e;
		mg.metrics[n++].metricId = NVML_GPM_METRIC_NVJPG_0_UTIL + e;
	}
	mg.numMetrics = n;
	rc = lib->gpm_metrics_get(&mg);
	if (rc != NVML_SUCCESS)
		return rc;
	for (size_t i = 0; i < GPM_ROWS; i++) {
		const nvmlGpmMetric_t *x = &mg.metrics[i];
		if (x->nvmlReturn != NVML_SUCCESS || !(x->value >= 0))
			continue;
		raw[gpm_rows[i].metric] = x->value;
		metric_set_add(got, gpm_rows[i].metric);
	}
	double dec = 0, jpg = 0;
	unsigned ndec = 0, njpg = 0;
	for (unsigned k = GPM_ROWS; k < n; k++) {
		const nvmlGpmMetric_t *x = &mg.metrics[k];
		if (x->nvmlReturn != NVML_SUCCESS || !(x->value >= 0))
			continue;
		if (x->metricId < NVML_GPM_METRIC_NVJPG_0_UTIL) {
			dec += x->value;
			ndec++;
		} else {
			jpg += x->value;
			njpg++;
		}
	}
	if (ndec) {
		raw[METRIC_GPM_NVDEC] = dec / ndec;
		metric_set_add(got, METRIC_GPM_NVDEC);
	}
	if (njpg) {
		raw[METRIC_GPM_NVJPG] = jpg / njpg;
		metric_set_add(got, METRIC_GPM_NVJPG);
	}
	return NVML_SUCCESS;
}

nvmlReturn_t read_gpm(struct source_ctx *ctx, double *raw, metric_set *got)
{
	return gpm_read(ctx->lib, &ctx->gpm, ctx->dev, -1, GPM_LIST_FAST, raw, got);
}

nvmlReturn_t read_gpm_graphics(struct source_ctx *ctx, double *raw, metric_set *got)
{
	return gpm_read(ctx->lib, &ctx->gpm, ctx->dev, -1, GPM_LIST_SLOW, raw, got);
}

void gpm_release(const struct nvml_lib *lib, struct gpm_state *g)
{
	for (unsigned i = 0; i < GPM_RING; i++) {
		if (g->ring[i] && lib->gpm_sample_free)
			lib->gpm_sample_free(g->ring[i]);
		g->ring[i] = NULL;
	}
}

void source_ctx_release(struct source_ctx *ctx)
{
	gpm_release(ctx->lib, &ctx->gpm);
}
