/* sim_gpm.c - the simulator's GPM, driver sample buffers, MIG and NVLink calls.
 *
 * Split out of sim_nvml.c like sim_events.c: each call is a static sim_<field> function with a
 * prototype generated from its NVML_SYMBOLS row and exported by an alias (see sim_exports.h).
 *
 * These calls model what the real driver does with time, measured on an H200 (see
 * ../shared/facts/h200-nvml.md), because that is what the agent must get right:
 *   - GPM counters refresh every 100 ms.  A pair of samples that does not straddle a refresh
 *     reads all zeros while returning SUCCESS; otherwise it reads the mean of each signal
 *     between the two refreshes it straddles.
 *   - Sample buffers: total power every 20 ms (the latest 120 kept), GPU and memory
 *     utilization every 200 ms (the latest 72), timestamped in microseconds since the epoch;
 *     a reader asks for the samples newer than the last timestamp it saw.
 * Refreshes and sample instants are on the wall clock, so a scenario's time_scale speeds the
 * signals up, not the driver.
 */
#include "sim/sim_exports.h"
#include "sim/sim_state.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

NVML_SYMBOLS(SIM_FILE_PROTOTYPE_2)

#define GPM_REFRESH_S 0.100
#define GPM_MAGIC     0x47504d53u /* "GPMS" */

struct nvmlGpmSample_st {
	unsigned magic;
	struct nvmlDevice_st *dev; /* device or MIG instance the sample was taken of */
	double t;                  /* scenario time of the sample */
	bool taken;
};

/* Mean of a signal over scenario times [a, b], from 16 evenly spaced points. */
static double mean_over(const sim_func *f, double a, double b)
{
	if (b <= a)
		return sim_func_eval(f, a);
	double sum = 0;
	for (int i = 0; i < 16; i++)
		sum += sim_func_eval(f, a + (b - a) * (i + 0.5) / 16);
	return sum / 16;
}

/* ---- driver sample buffers ---- */

struct sample_kind {
	enum sim_signal signal;
	double period_s; /* wall seconds between samples */
	unsigned keep;   /* samples the driver keeps */
	double scale;    /* signal unit -> sample unit */
	bool averaged;   /* a sample is the mean over its period (utilization) */
};

static bool sample_kind(int type, struct sample_kind *k)
{
	switch (type) {
	case NVML_TOTAL_POWER_SAMPLES:
		*k = (struct sample_kind){SIM_SIG_POWER, 0.020, 120, 1000, false};
		return true;
	case NVML_GPU_UTILIZATION_SAMPLES:
		*k = (struct sample_kind){SIM_SIG_UTIL_GPU, 0.200, 72, 1, true};
		return true;
	case NVML_MEMORY_UTILIZATION_SAMPLES:
		*k = (struct sample_kind){SIM_SIG_UTIL_MEM, 0.200, 72, 1, true};
		return true;
	}
	return false;
}

static nvmlReturn_t sim_device_get_samples(nvmlDevice_t device, int type,
                                           unsigned long long last_seen, int *value_type,
                                           unsigned *count, nvmlSample_t *samples)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlDeviceGetSamples",
	                                  value_type != NULL && count != NULL);
	if (rc)
		return rc;
	struct sample_kind k;
	if (!sample_kind(type, &k) || c.gpu->unsupported_signals[k.signal] || c.dev->parent)
		return NVML_ERROR_NOT_SUPPORTED;
	*value_type = NVML_VALUE_TYPE_UNSIGNED_INT;
	if (!samples) {
		*count = k.keep;
		return NVML_SUCCESS;
	}
	double scale = sim_state_time_scale();
	double wall = c.t / scale;
	long long newest = (long long)floor(wall / k.period_s);
	long long first = newest - (long long)k.keep + 1;
	if (first < 0)
		first = 0;
	/* Skip what the reader has seen: sample i is at wall offset i * period. */
	while (first <= newest && sim_state_wall_us(first * k.period_s * scale) <= last_seen)
		first++;
	unsigned n = 0;
	for (long long i = first; i <= newest && n < *count; i++, n++) {
		double t = (double)i * k.period_s * scale;
		double v = k.averaged
		               ? mean_over(c.gpu->metrics[k.signal], t - k.period_s * scale, t)
		               : sim_func_eval(c.gpu->metrics[k.signal], t);
		v = sim_signal_clamp(k.signal, v) * k.scale;
		samples[n].timeStamp = sim_state_wall_us(t);
		samples[n].sampleValue.uiVal = v > 0 ? (unsigned)llround(v) : 0;
	}
	*count = n;
	return n ? NVML_SUCCESS : NVML_ERROR_NOT_FOUND;
}

/* ---- GPM ---- */

static nvmlReturn_t sim_gpm_query_device_support(nvmlDevice_t device, nvmlGpmSupport_t *support)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlGpmQueryDeviceSupport", support != NULL);
	if (rc)
		return rc;
	if (support->version != NVML_GPM_SUPPORT_VERSION)
		return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
	support->isSupportedDevice = c.gpu->gpm;
	return NVML_SUCCESS;
}

static nvmlReturn_t sim_gpm_sample_alloc(nvmlGpmSample_t *sample)
{
	if (!sample)
		return NVML_ERROR_INVALID_ARGUMENT;
	struct nvmlGpmSample_st *s = calloc(1, sizeof(*s));
	if (!s)
		return NVML_ERROR_MEMORY;
	s->magic = GPM_MAGIC;
	*sample = s;
	return NVML_SUCCESS;
}

static nvmlReturn_t sim_gpm_sample_free(nvmlGpmSample_t sample)
{
	if (!sample || sample->magic != GPM_MAGIC)
		return NVML_ERROR_INVALID_ARGUMENT;
	sample->magic = 0;
	free(sample);
	return NVML_SUCCESS;
}

static nvmlReturn_t take_sample(struct sim_call *c, nvmlGpmSample_t sample)
{
	if (!c->gpu->gpm)
		return NVML_ERROR_NOT_SUPPORTED;
	sample->dev = c->dev;
	sample->t = c->t;
	sample->taken = true;
	return NVML_SUCCESS;
}

static nvmlReturn_t sim_gpm_sample_get(nvmlDevice_t device, nvmlGpmSample_t sample)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlGpmSampleGet",
	                                  sample != NULL && sample->magic == GPM_MAGIC);
	return rc ? rc : take_sample(&c, sample);
}

static nvmlReturn_t sim_gpm_mig_sample_get(nvmlDevice_t device, unsigned gpu_instance_id,
                                           nvmlGpmSample_t sample)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlGpmMigSampleGet",
	                                  sample != NULL && sample->magic == GPM_MAGIC);
	if (rc)
		return rc;
	for (size_t i = 0; i < c.gpu->n_mig; i++) {
		if (c.dev->mig && c.gpu->mig[i].gpu_instance_id == gpu_instance_id) {
			c.dev = &c.dev->mig[i];
			c.gpu = c.dev->gpu;
			return take_sample(&c, sample);
		}
	}
	return NVML_ERROR_NOT_FOUND;
}

/* The signal behind a GPM metric id; -1 when the simulator does not offer it. */
static int gpm_signal(unsigned id)
{
	switch (id) {
	case NVML_GPM_METRIC_GRAPHICS_UTIL:
		return SIM_SIG_GPM_GRAPHICS;
	case NVML_GPM_METRIC_SM_UTIL:
		return SIM_SIG_GPM_SM_ACTIVE;
	case NVML_GPM_METRIC_SM_OCCUPANCY:
		return SIM_SIG_GPM_SM_OCCUPANCY;
	case NVML_GPM_METRIC_INTEGER_UTIL:
		return SIM_SIG_GPM_INTEGER;
	case NVML_GPM_METRIC_ANY_TENSOR_UTIL:
		return SIM_SIG_GPM_TENSOR;
	case NVML_GPM_METRIC_DFMA_TENSOR_UTIL:
		return SIM_SIG_GPM_DFMA;
	case NVML_GPM_METRIC_HMMA_TENSOR_UTIL:
		return SIM_SIG_GPM_HMMA;
	case NVML_GPM_METRIC_IMMA_TENSOR_UTIL:
		return SIM_SIG_GPM_IMMA;
	case NVML_GPM_METRIC_DRAM_BW_UTIL:
		return SIM_SIG_GPM_DRAM;
	case NVML_GPM_METRIC_FP64_UTIL:
		return SIM_SIG_GPM_FP64;
	case NVML_GPM_METRIC_FP32_UTIL:
		return SIM_SIG_GPM_FP32;
	case NVML_GPM_METRIC_FP16_UTIL:
		return SIM_SIG_GPM_FP16;
	case NVML_GPM_METRIC_PCIE_TX_PER_SEC:
		return SIM_SIG_GPM_PCIE_TX;
	case NVML_GPM_METRIC_PCIE_RX_PER_SEC:
		return SIM_SIG_GPM_PCIE_RX;
	case NVML_GPM_METRIC_NVDEC_0_UTIL:
		return SIM_SIG_GPM_NVDEC;
	case NVML_GPM_METRIC_NVJPG_0_UTIL:
		return SIM_SIG_GPM_NVJPG;
	case NVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC:
		return SIM_SIG_GPM_NVLINK_RX;
	case NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC:
		return SIM_SIG_GPM_NVLINK_TX;
	}
	return -1;
}

static nvmlReturn_t sim_gpm_metrics_get(nvmlGpmMetricsGet_t *m)
{
	if (!m)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (m->version != NVML_GPM_METRICS_GET_VERSION)
		return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
	const struct nvmlGpmSample_st *a = m->sample1, *b = m->sample2;
	if (!a || !b || a->magic != GPM_MAGIC || b->magic != GPM_MAGIC || !a->taken || !b->taken ||
	    a->dev != b->dev || m->numMetrics > NVML_GPM_METRIC_ARRAY)
		return NVML_ERROR_INVALID_ARGUMENT;
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, a->dev, "nvmlGpmMetricsGet", b->t >= a->t);
	if (rc)
		return rc;
	/* The counters the samples read were last refreshed at these instants. */
	double scale = sim_state_time_scale();
	double r1 = floor(a->t / scale / GPM_REFRESH_S) * GPM_REFRESH_S * scale;
	double r2 = floor(b->t / scale / GPM_REFRESH_S) * GPM_REFRESH_S * scale;
	for (unsigned i = 0; i < m->numMetrics; i++) {
		nvmlGpmMetric_t *x = &m->metrics[i];
		int s = gpm_signal(x->metricId);
		x->metricInfo.shortName = x->metricInfo.longName = x->metricInfo.unit = NULL;
		if (s < 0) {
			x->nvmlReturn =
			    NVML_ERROR_INVALID_ARGUMENT; /* as 580 does for unknown ids */
			x->value = 0;
			continue;
		}
		x->nvmlReturn = NVML_SUCCESS;
		/* Same refresh: the driver answers zero and SUCCESS (the trap the agent avoids). */
		x->value = r2 > r1 ? sim_signal_clamp(s, mean_over(c.gpu->metrics[s], r1, r2)) : 0;
		if (x->value < 0)
			x->value = 0;
	}
	return NVML_SUCCESS;
}

/* ---- MIG ---- */

static nvmlReturn_t sim_device_get_mig_mode(nvmlDevice_t device, unsigned *current,
                                            unsigned *pending)
{
	struct sim_call c;
	nvmlReturn_t rc =
	    sim_state_begin(&c, device, "nvmlDeviceGetMigMode", current != NULL && pending != NULL);
	if (rc)
		return rc;
	if (c.dev->parent)
		return NVML_ERROR_NOT_SUPPORTED;
	*current = *pending = c.gpu->n_mig > 0;
	return NVML_SUCCESS;
}

static nvmlReturn_t sim_device_get_max_mig_device_count(nvmlDevice_t device, unsigned *count)
{
	struct sim_call c;
	nvmlReturn_t rc =
	    sim_state_begin(&c, device, "nvmlDeviceGetMaxMigDeviceCount", count != NULL);
	if (!rc)
		*count = c.dev->parent ? 0 : 7;
	return rc;
}

static nvmlReturn_t sim_device_get_mig_device_handle_by_index(nvmlDevice_t device, unsigned index,
                                                              nvmlDevice_t *mig)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlDeviceGetMigDeviceHandleByIndex",
	                                  mig != NULL && index < 7);
	if (rc)
		return rc;
	if (c.dev->parent)
		return NVML_ERROR_NOT_SUPPORTED;
	if (index >= c.gpu->n_mig)
		return NVML_ERROR_NOT_FOUND;
	*mig = &c.dev->mig[index];
	return NVML_SUCCESS;
}

static nvmlReturn_t sim_device_get_gpu_instance_id(nvmlDevice_t device, unsigned *id)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlDeviceGetGpuInstanceId", id != NULL);
	if (rc)
		return rc;
	if (!c.dev->parent)
		return NVML_ERROR_NOT_SUPPORTED;
	*id = c.gpu->gpu_instance_id;
	return NVML_SUCCESS;
}

/* ---- NVLink ---- */

static nvmlReturn_t sim_device_get_nvlink_state(nvmlDevice_t device, unsigned link, int *state)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlDeviceGetNvLinkState", state != NULL);
	if (rc)
		return rc;
	if (!c.gpu->nvlink_links || c.dev->parent)
		return NVML_ERROR_NOT_SUPPORTED;
	if (link >= c.gpu->nvlink_links)
		return NVML_ERROR_INVALID_ARGUMENT;
	*state = (c.gpu->nvlink_down >> link) & 1 ? NVML_FEATURE_DISABLED : NVML_FEATURE_ENABLED;
	return NVML_SUCCESS;
}

NVML_SYMBOLS(SIM_FILE_EXPORT_2)
