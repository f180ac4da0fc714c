/* gpm.c - GPM (GPU Performance Monitoring) readings: SM, tensor, DRAM and
 * pipe activity without DCGM, on Hopper and newer.
 *
 * A GPM metric is a rate between two samples, and the driver refreshes its
 * counters about every 100 ms: a pair that does not straddle a refresh reads
 * 0 while returning SUCCESS (measured on an H200, ../shared/facts).  The
 * sampler reads GPM every --gpm-interval (never under GPM_MIN_WINDOW_S); the
 * one rule kept here is that a pair must straddle a refresh: a sample taken
 * sooner than GPM_MIN_WINDOW_S after the last is not taken (SOURCE_SKIPPED),
 * and the board keeps the last pair's figures meanwhile.
 * A sample costs 136-172 us of CPU taken cold on an H200 (bench/call_cost.c),
 * the dearest fast call by far: one every 200 ms would cost 0.86 ms/s per
 * GPU, most of the agent's budget, so the default is one a second (each
 * figure a 1 s mean; dcgm-exporter's default is 30 s).  Power and NVML
 * utilization, from their driver buffers and the 100 ms poll, carry the
 * sub-second spikes.  Two samples per device, allocated once.
 *
 * What a MetricsGet costs depends on the metrics asked: on an H200 (driver
 * 580, bench/call_cost.c) every metric costs ~0.3 us except the graphics
 * engine's (id 1), which costs ~1.4 ms of CPU on its own.  So the fast list
 * leaves it out, and the worker's costly tier computes it once a costly
 * interval over a pair that long (GPM_LIST_SLOW, its own two samples, on
 * the worker's context, which the probe primes).
 *
 * GPM calls must not run on two threads at once, even for different GPUs:
 * driver 580 crashed inside nvmlGpmSampleGet and nvmlGpmMetricsGet when they
 * did (a 1-GPU and a 4-GPU H200 host, bench/README.md).  So every GPM call
 * takes gpm_lock.  The shared fast sweeper makes nearly all of them, so the
 * lock is rarely contended; a thread that cannot take it within
 * GPM_LOCK_WAIT_S (another GPU's GPM call hung) skips GPM for that sweep
 * rather than joining the hang.
 */
#include "sample/sources.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

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
#define GPM_ROWS        (sizeof(gpm_rows) / sizeof(gpm_rows[0]))
#define GPM_LOCK_WAIT_S 0.2

static pthread_mutex_t gpm_lock = PTHREAD_MUTEX_INITIALIZER;

/* Takes gpm_lock, waiting at most GPM_LOCK_WAIT_S; false when it could not. */
static bool gpm_lock_take(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)(GPM_LOCK_WAIT_S * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_mutex_timedlock(&gpm_lock, &ts) == 0;
}
#define GPM_ENGINES 8 /* NVDEC_0..7 and NVJPG_0..7: averaged over those present */

static nvmlReturn_t gpm_read_locked(const struct nvml_lib *lib, struct gpm_state *g,
                                    nvmlDevice_t dev, int gi, enum gpm_list list, double *raw,
                                    metric_set *got);

nvmlReturn_t gpm_read(const struct nvml_lib *lib, struct gpm_state *g, nvmlDevice_t dev, int gi,
                      enum gpm_list list, double *raw, metric_set *got)
{
	if (!gpm_lock_take())
		return SOURCE_SKIPPED; /* another GPU's GPM call is stuck: skip a sweep */
	nvmlReturn_t rc = gpm_read_locked(lib, g, dev, gi, list, raw, got);
	pthread_mutex_unlock(&gpm_lock);
	return rc;
}

static void keep(double *raw, metric_set *got, enum metric_id m, double v)
{
	raw[m] = v;
	metric_set_add(got, m);
}

static nvmlReturn_t gpm_read_locked(const struct nvml_lib *lib, struct gpm_state *g,
                                    nvmlDevice_t dev, int gi, enum gpm_list list, double *raw,
                                    metric_set *got)
{
	if (!lib->gpm_query_device_support || !lib->gpm_sample_alloc || !lib->gpm_sample_get ||
	    !lib->gpm_metrics_get || !lib->gpm_sample_free || (gi >= 0 && !lib->gpm_mig_sample_get))
		return NVML_ERROR_FUNCTION_NOT_FOUND;
	if (!g->asked) {
		/* First call (the probe): ask before allocating anything. */
		nvmlGpmSupport_t sup = {.version = NVML_GPM_SUPPORT_VERSION};
		nvmlReturn_t rc = lib->gpm_query_device_support(dev, &sup);
		if (rc != NVML_SUCCESS)
			return rc;
		if (!sup.isSupportedDevice)
			return NVML_ERROR_NOT_SUPPORTED;
		g->asked = true;
		g->last = -1;
	}
	double now = mono_now();
	if (g->last >= 0 && now - g->last_at < GPM_MIN_WINDOW_S)
		return SOURCE_SKIPPED; /* too soon for a pair across a refresh */
	int slot = g->last == 0 ? 1 : 0;
	if (!g->sample[slot]) {
		nvmlReturn_t rc = lib->gpm_sample_alloc(&g->sample[slot]);
		if (rc != NVML_SUCCESS)
			return rc;
	}
	nvmlReturn_t rc = gi >= 0 ? lib->gpm_mig_sample_get(dev, (unsigned)gi, g->sample[slot])
	                          : lib->gpm_sample_get(dev, g->sample[slot]);
	if (rc != NVML_SUCCESS)
		return rc;
	int base = g->last;
	g->last = slot;
	g->last_at = now;
	if (base < 0)
		return SOURCE_SKIPPED; /* the first sample: a pair next time */

	/* 4 KB: off the stack, one per sampling thread. */
	_Thread_local static nvmlGpmMetricsGet_t mg;
	memset(&mg, 0, offsetof(nvmlGpmMetricsGet_t, metrics));
	mg.version = NVML_GPM_METRICS_GET_VERSION;
	mg.sample1 = g->sample[base];
	mg.sample2 = g->sample[slot];
	unsigned n = 0;
	if (list == GPM_LIST_SLOW) {
		mg.metrics[0].metricId = NVML_GPM_METRIC_GRAPHICS_UTIL;
		mg.numMetrics = 1;
		rc = lib->gpm_metrics_get(&mg);
		if (rc != NVML_SUCCESS)
			return rc;
		if (mg.metrics[0].nvmlReturn != NVML_SUCCESS)
			return mg.metrics[0].nvmlReturn;
		if (mg.metrics[0].value >= 0)
			keep(raw, got, METRIC_GPM_GRAPHICS, mg.metrics[0].value);
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
		if (x->nvmlReturn == NVML_SUCCESS && x->value >= 0)
			keep(raw, got, gpm_rows[i].metric, x->value);
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
	if (ndec)
		keep(raw, got, METRIC_GPM_NVDEC, dec / ndec);
	if (njpg)
		keep(raw, got, METRIC_GPM_NVJPG, jpg / njpg);
	return NVML_SUCCESS;
}

nvmlReturn_t read_gpm(struct source_ctx *ctx, double *raw, metric_set *got)
{
	return gpm_read(ctx->lib, &ctx->gpm, ctx->dev, -1, GPM_LIST_FAST, raw, got);
}

nvmlReturn_t read_gpm_graphics(struct source_ctx *ctx, double *raw, metric_set *got)
{
	return gpm_read(ctx->lib, &ctx->gpm_graphics, ctx->dev, -1, GPM_LIST_SLOW, raw, got);
}

void gpm_release(const struct nvml_lib *lib, struct gpm_state *g)
{
	bool locked = gpm_lock_take();
	for (unsigned i = 0; i < 2; i++) {
		if (g->sample[i] && lib->gpm_sample_free && locked)
			lib->gpm_sample_free(g->sample[i]);
		g->sample[i] = NULL; /* not freed without the lock: leaked, at exit only */
	}
	if (locked)
		pthread_mutex_unlock(&gpm_lock);
}

void source_ctx_release(struct source_ctx *ctx)
{
	gpm_release(ctx->lib, &ctx->gpm);
	gpm_release(ctx->lib, &ctx->gpm_graphics);
}
