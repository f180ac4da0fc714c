/* sources.c - the NVML calls behind every metric, one small reader each.
 *
 * Readers are plain functions over (library, device): no state beyond the
 * source_ctx flags the probe sets, no allocation, no locking.  Each is one
 * NVML call; when it runs is the sampler's business (sample/schedule.h), so
 * no reader keeps a clock of its own.
 */
#include "sample/sources.h"

#include <string.h>

#include "series/snapshot.h"

#define NEED(sym)                                             \
	do {                                                  \
		if (!ctx->lib->sym)                           \
			return NVML_ERROR_FUNCTION_NOT_FOUND; \
	} while (0)

#define SET(metric, value)                              \
	do {                                            \
		raw[METRIC_##metric] = (double)(value); \
		metric_set_add(got, METRIC_##metric);   \
	} while (0)

static nvmlReturn_t read_utilization(struct source_ctx *ctx, double *raw, metric_set *got)
{
	NEED(device_get_utilization_rates);
	nvmlUtilization_t u;
	nvmlReturn_t rc = ctx->lib->device_get_utilization_rates(ctx->dev, &u);
	if (rc == NVML_SUCCESS) {
		SET(GPU_UTIL, u.gpu);
		SET(MEM_UTIL, u.memory);
	}
	return rc;
}

/* _v2 adds the reserved figure and is right on unified-memory parts; old
 * drivers lack it or reject the version word, and then v1 answers.  It is
 * the dearest of the plain fast calls (19 us of CPU a call in the agent on a
 * 4-GPU H200 host, 47-51 us cold) and what it reports moves with
 * allocations, not kernels: its period is the fast interval, at most 5 reads
 * a second (PERIOD_FAST_5HZ). */
static nvmlReturn_t read_memory(struct source_ctx *ctx, double *raw, metric_set *got)
{
	if (!ctx->memory_v1 && ctx->lib->device_get_memory_info_v2) {
		nvmlMemory_v2_t m = {.version = nvmlMemory_v2};
		nvmlReturn_t rc = ctx->lib->device_get_memory_info_v2(ctx->dev, &m);
		if (rc == NVML_SUCCESS) {
			SET(FB_USED, m.used);
			SET(FB_FREE, m.free);
			SET(FB_RESERVED, m.reserved);
			SET(FB_TOTAL, m.total);
			return rc;
		}
		if (!nvml_rc_is_unsupported(rc))
			return rc;
		ctx->memory_v1 = true;
	}
	NEED(device_get_memory_info);
	nvmlMemory_t m;
	nvmlReturn_t rc = ctx->lib->device_get_memory_info(ctx->dev, &m);
	if (rc == NVML_SUCCESS) {
		SET(FB_USED, m.used);
		SET(FB_FREE, m.free);
		SET(FB_TOTAL, m.total);
	}
	return rc;
}

static double field_value(const nvmlFieldValue_t *f)
{
	switch (f->valueType) {
	case NVML_VALUE_TYPE_DOUBLE:
		return f->value.dVal;
	case NVML_VALUE_TYPE_UNSIGNED_INT:
		return f->value.uiVal;
	case NVML_VALUE_TYPE_UNSIGNED_LONG:
		return (double)f->value.ulVal;
	case NVML_VALUE_TYPE_UNSIGNED_LONG_LONG:
		return (double)f->value.ullVal;
	case NVML_VALUE_TYPE_SIGNED_LONG_LONG:
		return (double)f->value.sllVal;
	case NVML_VALUE_TYPE_SIGNED_INT:
		return f->value.siVal;
	case NVML_VALUE_TYPE_UNSIGNED_SHORT:
		return f->value.usVal;
	}
	return f->value.uiVal;
}

/* The whole call succeeds even when the field does not: the per-field
 * status is the answer. */
static nvmlReturn_t read_memory_temperature(struct source_ctx *ctx, double *raw, metric_set *got)
{
	NEED(device_get_field_values);
	nvmlFieldValue_t f = {.fieldId = NVML_FI_DEV_MEMORY_TEMP};
	nvmlReturn_t rc = ctx->lib->device_get_field_values(ctx->dev, 1, &f);
	if (rc != NVML_SUCCESS)
		return rc;
	if (f.nvmlReturn != NVML_SUCCESS)
		return f.nvmlReturn;
	SET(MEM_TEMP, field_value(&f));
	return rc;
}

static nvmlReturn_t read_power(struct source_ctx *ctx, double *raw, metric_set *got)
{
	NEED(device_get_power_usage);
	unsigned mw;
	nvmlReturn_t rc = ctx->lib->device_get_power_usage(ctx->dev, &mw);
	if (rc == NVML_SUCCESS)
		SET(POWER, mw);
	return rc;
}

/* Clocks, maximum clocks and temperature thresholds are all calls of the
 * form (device, selector, unsigned *); one reader serves them. */
typedef nvmlReturn_t (*selector_call)(nvmlDevice_t, int, unsigned *);

static nvmlReturn_t read_selected(struct source_ctx *ctx, selector_call call, int selector,
                                  enum metric_id m, double *raw, metric_set *got)
{
	if (!call)
		return NVML_ERROR_FUNCTION_NOT_FOUND;
	unsigned v;
	nvmlReturn_t rc = call(ctx->dev, selector, &v);
	if (rc == NVML_SUCCESS) {
		raw[m] = v;
		metric_set_add(got, m);
	}
	return rc;
}

#define SELECTED_READER(fn, sym, selector, metric)                                             \
	static nvmlReturn_t fn(struct source_ctx *ctx, double *raw, metric_set *got)           \
	{                                                                                      \
		return read_selected(ctx, ctx->lib->sym, selector, METRIC_##metric, raw, got); \
	}
SELECTED_READER(read_mem_clock, device_get_clock_info, NVML_CLOCK_MEM, MEM_CLOCK)
SELECTED_READER(read_sm_clock_max, device_get_max_clock_info, NVML_CLOCK_SM, SM_CLOCK_MAX)
SELECTED_READER(read_mem_clock_max, device_get_max_clock_info, NVML_CLOCK_MEM, MEM_CLOCK_MAX)
SELECTED_READER(read_slowdown_temp, device_get_temperature_threshold,
                NVML_TEMPERATURE_THRESHOLD_SLOWDOWN, SLOWDOWN_TEMP)
SELECTED_READER(read_shutdown_temp, device_get_temperature_threshold,
                NVML_TEMPERATURE_THRESHOLD_SHUTDOWN, SHUTDOWN_TEMP)
SELECTED_READER(read_gpu_max_temp, device_get_temperature_threshold,
                NVML_TEMPERATURE_THRESHOLD_GPU_MAX, GPU_MAX_TEMP)
SELECTED_READER(read_mem_max_temp, device_get_temperature_threshold,
                NVML_TEMPERATURE_THRESHOLD_MEM_MAX, MEM_MAX_TEMP)
SELECTED_READER(read_temperature, device_get_temperature, NVML_TEMPERATURE_GPU, GPU_TEMP)

/* The SM clock, kept in ctx for the clock-loss figure of the same sweep. */
static nvmlReturn_t read_sm_clock(struct source_ctx *ctx, double *raw, metric_set *got)
{
	ctx->sm_clock_valid = false;
	nvmlReturn_t rc = read_selected(ctx, ctx->lib->device_get_clock_info, NVML_CLOCK_SM,
	                                METRIC_SM_CLOCK, raw, got);
	if (rc == NVML_SUCCESS) {
		ctx->sm_clock_now = raw[METRIC_SM_CLOCK];
		ctx->sm_clock_valid = true;
	}
	return rc;
}

/* The reasons bitmask, and the seconds each reason has held the clocks
 * down: each read credits the time since the previous read to the
 * reasons that read saw (a gap over 2 s, or over two of the source's
 * periods when they are longer, as on an idle GPU: a stalled thread, is
 * not credited to anything). */
static nvmlReturn_t read_clock_event_reasons(struct source_ctx *ctx, double *raw, metric_set *got)
{
	NEED(device_get_clocks_event_reasons);
	ctx->reasons_now_valid = false;
	unsigned long long bits;
	nvmlReturn_t rc = ctx->lib->device_get_clocks_event_reasons(ctx->dev, &bits);
	if (rc != NVML_SUCCESS)
		return rc;
	double now = mono_now();
	double gap_max = 2 * ctx->period > 2.0 ? 2 * ctx->period : 2.0;
	if (ctx->reasons_seen && now > ctx->reasons_t && now - ctx->reasons_t <= gap_max)
		for (int b = 0; b < CLOCK_REASON_COUNT; b++)
			if (ctx->reasons_prev & clock_reason_table[b].bit)
				ctx->throttle_s[b] += now - ctx->reasons_t;
	ctx->reasons_seen = true;
	ctx->reasons_prev = bits;
	ctx->reasons_t = now;
	ctx->reasons_now = bits;
	ctx->reasons_now_valid = true;
	SET(CLOCK_EVENT_REASONS, bits);
	/* Per reason (series/clock_reasons.h): its seconds, and where it has a share row 0 or 1
	 * per sweep: the window's per-second mean is the share of the sweeps in which the
	 * reason held, which history keeps. */
	for (int b = 0; b < CLOCK_REASON_COUNT; b++) {
		const struct clock_reason_def *r = &clock_reason_table[b];
		raw[r->seconds] = ctx->throttle_s[b];
		metric_set_add(got, r->seconds);
		if (r->active != METRIC_NO_ROW) {
			raw[r->active] = (bits & r->bit) != 0;
			metric_set_add(got, r->active);
		}
	}
	return rc;
}

/* Clock lost to throttling: 1 - clock/max while a reason other than idle
 * holds the clocks down (an idle GPU's low clock is not a loss).  No NVML
 * call beyond a one-time maximum-clock read. */
static nvmlReturn_t read_clock_loss(struct source_ctx *ctx, double *raw, metric_set *got)
{
	if (ctx->sm_clock_max <= 0) {
		NEED(device_get_max_clock_info);
		unsigned max;
		nvmlReturn_t rc =
		    ctx->lib->device_get_max_clock_info(ctx->dev, NVML_CLOCK_SM, &max);
		if (rc != NVML_SUCCESS)
			return rc;
		if (max == 0)
			return NVML_ERROR_NOT_SUPPORTED;
		ctx->sm_clock_max = max;
	}
	if (!ctx->sm_clock_valid || !ctx->reasons_now_valid)
		return ctx->lib->device_get_clocks_event_reasons ? NVML_SUCCESS
		                                                 : NVML_ERROR_NOT_SUPPORTED;
	double loss = 0;
	if (ctx->reasons_now & ~NVML_CLOCKS_EVENT_REASON_GPU_IDLE & 0xffULL) {
		loss = 1 - ctx->sm_clock_now / ctx->sm_clock_max;
		if (loss < 0)
			loss = 0;
	}
	SET(CLOCK_LOSS, loss);
	return NVML_SUCCESS;
}

static nvmlReturn_t read_pstate(struct source_ctx *ctx, double *raw, metric_set *got)
{
	NEED(device_get_performance_state);
	int p;
	nvmlReturn_t rc = ctx->lib->device_get_performance_state(ctx->dev, &p);
	if (rc == NVML_SUCCESS && (p < 0 || p > 15))
		return NVML_ERROR_NOT_SUPPORTED; /* NVML_PSTATE_UNKNOWN */
	if (rc == NVML_SUCCESS)
		SET(PSTATE, p);
	return rc;
}

static nvmlReturn_t read_encoder(struct source_ctx *ctx, double *raw, metric_set *got)
{
	NEED(device_get_encoder_utilization);
	unsigned pct, period_us;
	nvmlReturn_t rc = ctx->lib->device_get_encoder_utilization(ctx->dev, &pct, &period_us);
	if (rc == NVML_SUCCESS)
		SET(ENC_UTIL, pct);
	return rc;
}

static nvmlReturn_t read_decoder(struct source_ctx *ctx, double *raw, metric_set *got)
{
	NEED(device_get_decoder_utilization);
	unsigned pct, period_us;
	nvmlReturn_t rc = ctx->lib->device_get_decoder_utilization(ctx->dev, &pct, &period_us);
	if (rc == NVML_SUCCESS)
		SET(DEC_UTIL, pct);
	return rc;
}

static nvmlReturn_t read_energy(struct source_ctx *ctx, double *raw, metric_set *got)
{
	NEED(device_get_total_energy_consumption);
	unsigned long long mj;
	nvmlReturn_t rc = ctx->lib->device_get_total_energy_consumption(ctx->dev, &mj);
	if (rc == NVML_SUCCESS)
		SET(ENERGY, mj);
	return rc;
}

static nvmlReturn_t read_power_limit(struct source_ctx *ctx, double *raw, metric_set *got)
{
	NEED(device_get_enforced_power_limit);
	unsigned mw;
	nvmlReturn_t rc = ctx->lib->device_get_enforced_power_limit(ctx->dev, &mw);
	if (rc == NVML_SUCCESS)
		SET(POWER_LIMIT, mw);
	return rc;
}

/* The PCIe link getters share one signature; the table below names which. */
#define UNSIGNED_READER(fn, sym, metric)                                             \
	static nvmlReturn_t fn(struct source_ctx *ctx, double *raw, metric_set *got) \
	{                                                                            \
		NEED(sym);                                                           \
		unsigned v;                                                          \
		nvmlReturn_t rc = ctx->lib->sym(ctx->dev, &v);                       \
		if (rc == NVML_SUCCESS)                                              \
			SET(metric, v);                                              \
		return rc;                                                           \
	}
UNSIGNED_READER(read_pcie_gen, device_get_curr_pcie_link_generation, PCIE_LINK_GEN)
UNSIGNED_READER(read_pcie_width, device_get_curr_pcie_link_width, PCIE_LINK_WIDTH)
UNSIGNED_READER(read_pcie_max_gen, device_get_max_pcie_link_generation, PCIE_MAX_GEN)
UNSIGNED_READER(read_pcie_max_width, device_get_max_pcie_link_width, PCIE_MAX_WIDTH)
UNSIGNED_READER(read_pcie_replay, device_get_pcie_replay_counter, PCIE_REPLAY)

static nvmlReturn_t read_ecc_mode(struct source_ctx *ctx, double *raw, metric_set *got)
{
	NEED(device_get_ecc_mode);
	int current, pending;
	nvmlReturn_t rc = ctx->lib->device_get_ecc_mode(ctx->dev, &current, &pending);
	if (rc == NVML_SUCCESS)
		SET(ECC_ENABLED, current == NVML_FEATURE_ENABLED);
	return rc;
}

static nvmlReturn_t read_ecc(struct source_ctx *ctx, int type, int counter, enum metric_id m,
                             double *raw, metric_set *got)
{
	NEED(device_get_total_ecc_errors);
	unsigned long long n;
	nvmlReturn_t rc = ctx->lib->device_get_total_ecc_errors(ctx->dev, type, counter, &n);
	if (rc == NVML_SUCCESS) {
		raw[m] = (double)n;
		metric_set_add(got, m);
	}
	return rc;
}

#define ECC_READER(fn, type, counter, metric)                                             \
	static nvmlReturn_t fn(struct source_ctx *ctx, double *raw, metric_set *got)      \
	{                                                                                 \
		return read_ecc(ctx, NVML_MEMORY_ERROR_TYPE_##type, NVML_##counter##_ECC, \
		                METRIC_##metric, raw, got);                               \
	}
ECC_READER(read_ecc_sbe_vol, CORRECTED, VOLATILE, ECC_SBE_VOL)
ECC_READER(read_ecc_dbe_vol, UNCORRECTED, VOLATILE, ECC_DBE_VOL)
ECC_READER(read_ecc_sbe_agg, CORRECTED, AGGREGATE, ECC_SBE_AGG)
ECC_READER(read_ecc_dbe_agg, UNCORRECTED, AGGREGATE, ECC_DBE_AGG)

static nvmlReturn_t read_remapped_rows(struct source_ctx *ctx, double *raw, metric_set *got)
{
	NEED(device_get_remapped_rows);
	unsigned corr, unc, pending, failure;
	nvmlReturn_t rc =
	    ctx->lib->device_get_remapped_rows(ctx->dev, &corr, &unc, &pending, &failure);
	if (rc == NVML_SUCCESS) {
		SET(REMAP_CORRECTABLE, corr);
		SET(REMAP_UNCORRECTABLE, unc);
		SET(REMAP_PENDING, pending != 0);
		SET(REMAP_FAILURE, failure != 0);
	}
	return rc;
}

/* Retired pages and NVLink error totals: seven counters in one field-values call, each
 * with its own answer (a GPU without NVLink, or with row remapping instead of page
 * retirement, fails those fields alone). */
static nvmlReturn_t read_health_fields(struct source_ctx *ctx, double *raw, metric_set *got)
{
	static const struct {
		unsigned field;
		enum metric_id metric;
	} rows[] = {
	    {NVML_FI_DEV_RETIRED_SBE, METRIC_RETIRED_SBE},
	    {NVML_FI_DEV_RETIRED_DBE, METRIC_RETIRED_DBE},
	    {NVML_FI_DEV_RETIRED_PENDING, METRIC_RETIRED_PENDING},
	    {NVML_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL, METRIC_NVLINK_CRC_FLIT},
	    {NVML_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL, METRIC_NVLINK_CRC_DATA},
	    {NVML_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL, METRIC_NVLINK_REPLAY},
	    {NVML_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL, METRIC_NVLINK_RECOVERY},
	};
	enum { N = sizeof(rows) / sizeof(rows[0]) };
	NEED(device_get_field_values);
	nvmlFieldValue_t f[N];
	memset(f, 0, sizeof(f));
	for (int i = 0; i < N; i++)
		f[i].fieldId = rows[i].field;
	nvmlReturn_t rc = ctx->lib->device_get_field_values(ctx->dev, N, f);
	if (rc != NVML_SUCCESS)
		return rc;
	nvmlReturn_t any = NVML_ERROR_NOT_SUPPORTED;
	for (int i = 0; i < N; i++) {
		if (f[i].nvmlReturn != NVML_SUCCESS)
			continue;
		raw[rows[i].metric] = field_value(&f[i]);
		metric_set_add(got, rows[i].metric);
		any = NVML_SUCCESS;
	}
	return any;
}

static const source_read_fn readers[SRC_COUNT] = {
    [SRC_UTILIZATION] = read_utilization,
    [SRC_MEMORY] = read_memory,
    [SRC_TEMPERATURE] = read_temperature,
    [SRC_MEMORY_TEMPERATURE] = read_memory_temperature,
    [SRC_POWER] = read_power,
    [SRC_SM_CLOCK] = read_sm_clock,
    [SRC_MEM_CLOCK] = read_mem_clock,
    [SRC_CLOCK_EVENT_REASONS] = read_clock_event_reasons,
    [SRC_PSTATE] = read_pstate,
    [SRC_ENCODER] = read_encoder,
    [SRC_DECODER] = read_decoder,
    [SRC_GPM] = read_gpm,
    [SRC_GPM_GRAPHICS] = read_gpm_graphics,
    [SRC_CLOCK_LOSS] = read_clock_loss,
    [SRC_POWER_SAMPLES] = read_power_samples,
    [SRC_UTIL_SAMPLES] = read_util_samples,
    [SRC_NVLINK] = read_nvlink,
    [SRC_NVLINK_DATA] = read_nvlink_data,
    [SRC_ENERGY] = read_energy,
    [SRC_POWER_LIMIT] = read_power_limit,
    [SRC_PCIE_GEN] = read_pcie_gen,
    [SRC_PCIE_WIDTH] = read_pcie_width,
    [SRC_PCIE_REPLAY] = read_pcie_replay,
    [SRC_ECC_MODE] = read_ecc_mode,
    [SRC_ECC_SBE_VOLATILE] = read_ecc_sbe_vol,
    [SRC_ECC_DBE_VOLATILE] = read_ecc_dbe_vol,
    [SRC_ECC_SBE_AGGREGATE] = read_ecc_sbe_agg,
    [SRC_ECC_DBE_AGGREGATE] = read_ecc_dbe_agg,
    [SRC_REMAPPED_ROWS] = read_remapped_rows,
    [SRC_HEALTH_FIELDS] = read_health_fields,
    [SRC_SLOWDOWN_TEMP] = read_slowdown_temp,
    [SRC_SHUTDOWN_TEMP] = read_shutdown_temp,
    [SRC_GPU_MAX_TEMP] = read_gpu_max_temp,
    [SRC_MEM_MAX_TEMP] = read_mem_max_temp,
    [SRC_SM_CLOCK_MAX] = read_sm_clock_max,
    [SRC_MEM_CLOCK_MAX] = read_mem_clock_max,
    [SRC_PCIE_MAX_GEN] = read_pcie_max_gen,
    [SRC_PCIE_MAX_WIDTH] = read_pcie_max_width,
};

source_read_fn source_reader(enum source_id src)
{
	return readers[src] ? readers[src] : sources_dcgm_reader(src);
}
