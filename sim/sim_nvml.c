/* sim_nvml.c - the NVML calls of libgpuscope-nvml-sim.so, answered from a scenario.
 *
 * Each call is a static sim_<field> function whose prototype is generated from the row of
 * NVML_SYMBOLS in nvml/nvml_abi.h, so a signature that drifts from the ABI fails to compile.
 * The exported names are aliases of those functions: the newest name of every row is
 * generated from the same X-macro (sim_exports.h), and the few fallback names are listed by
 * hand at the bottom (the preprocessor cannot tell a string from NULL); the tests dlsym() both
 * columns of every row.  The event-set calls are in sim_events.c, which generates their
 * prototypes and aliases itself, as an alias must be in the translation unit of its target.
 *
 * Values are rounded the way NVML reports them: whole percent, MHz, degrees and milliwatts.
 */
#include "nvml/nvml_abi.h"
#include "sim/sim_exports.h"
#include "sim/sim_nvml.h"
#include "sim/sim_state.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

NVML_SYMBOLS(SIM_FILE_PROTOTYPE_0)

static const unsigned long long mib = 1048576ULL;

/* ---- rounding to what NVML returns ---- */

static unsigned long long to_ull(double v)
{
	if (!(v > 0))
		return 0;
	if (v >= 1.8e19)
		return ULLONG_MAX;
	return (unsigned long long)llround(v);
}

static unsigned to_uint(double v)
{
	unsigned long long u = to_ull(v);
	return u > UINT_MAX ? UINT_MAX : (unsigned)u;
}

static unsigned to_pct(double v)
{
	unsigned u = to_uint(v);
	return u > 100 ? 100 : u;
}

static double sig(const struct sim_call *c, enum sim_signal s)
{
	return sim_signal_clamp(s, sim_func_eval(c->gpu->metrics[s], c->t));
}

static nvmlReturn_t copy_string(const char *s, char *buf, unsigned length)
{
	if (!buf)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (strlen(s) + 1 > length)
		return NVML_ERROR_INSUFFICIENT_SIZE;
	memcpy(buf, s, strlen(s) + 1);
	return NVML_SUCCESS;
}

/* ---- library and system ---- */

static nvmlReturn_t sim_init(void)
{
	return sim_state_init();
}

static nvmlReturn_t sim_shutdown(void)
{
	return sim_state_shutdown();
}

static const char *sim_error_string(nvmlReturn_t rc)
{
	/* The texts of libnvidia-ml.so 580. */
	static const char *const texts[] = {
	    [0] = "Success",
	    [1] = "Uninitialized",
	    [2] = "Invalid Argument",
	    [3] = "Not Supported",
	    [4] = "Insufficient Permissions",
	    [5] = "Already Initialized",
	    [6] = "Not Found",
	    [7] = "Insufficient Size",
	    [8] = "Insufficient External Power",
	    [9] = "Driver Not Loaded",
	    [10] = "Timeout",
	    [11] = "Interrupt Request Issue",
	    [12] = "NVML Shared Library Not Found",
	    [13] = "Function Not Found",
	    [14] = "Corrupted infoROM",
	    [15] = "GPU is lost",
	    [16] = "GPU requires restart",
	    [17] = "The operating system has blocked the request",
	    [18] = "RM has detected an NVML/RM version mismatch",
	    [19] = "In use by another client",
	    [20] = "Insufficient Memory",
	    [21] = "No data",
	    [22] = "The requested vgpu operation is not available on target device, because ECC "
	           "is enabled",
	    [23] = "Insufficient Resources",
	    [24] = "Frequency not supported",
	    [25] = "Argument version mismatch",
	    [26] = "Deprecated",
	    [27] = "Not Ready",
	    [28] = "GPU not found",
	    [29] = "Invalid state",
	};
	if (rc >= 0 && (size_t)rc < sizeof(texts) / sizeof(texts[0]) && texts[rc])
		return texts[rc];
	return "Unknown Error";
}

static nvmlReturn_t sim_system_get_driver_version(char *version, unsigned length)
{
	const struct sim_scenario *s;
	nvmlReturn_t rc = sim_state_system(&s);
	return rc ? rc : copy_string(s->driver_version, version, length);
}

static nvmlReturn_t sim_system_get_nvml_version(char *version, unsigned length)
{
	const struct sim_scenario *s;
	nvmlReturn_t rc = sim_state_system(&s);
	return rc ? rc : copy_string(s->nvml_version, version, length);
}

static nvmlReturn_t sim_system_get_cuda_driver_version(int *version)
{
	const struct sim_scenario *s;
	nvmlReturn_t rc = sim_state_system(&s);
	if (rc)
		return rc;
	if (!version)
		return NVML_ERROR_INVALID_ARGUMENT;
	*version = s->cuda_driver_version;
	return NVML_SUCCESS;
}

static nvmlReturn_t sim_device_get_count(unsigned *count)
{
	const struct sim_scenario *s;
	nvmlReturn_t rc = sim_state_system(&s);
	if (rc)
		return rc;
	if (!count)
		return NVML_ERROR_INVALID_ARGUMENT;
	*count = (unsigned)s->n_gpus;
	return NVML_SUCCESS;
}

static nvmlReturn_t sim_device_get_handle_by_index(unsigned index, nvmlDevice_t *device)
{
	return sim_state_handle(index, device, "nvmlDeviceGetHandleByIndex_v2");
}

/* ---- identity ---- */

static nvmlReturn_t sim_device_get_name(nvmlDevice_t device, char *name, unsigned length)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlDeviceGetName", name != NULL);
	return rc ? rc : copy_string(c.gpu->model, name, length);
}

static nvmlReturn_t sim_device_get_uuid(nvmlDevice_t device, char *uuid, unsigned length)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlDeviceGetUUID", uuid != NULL);
	return rc ? rc : copy_string(c.gpu->uuid, uuid, length);
}

static nvmlReturn_t sim_device_get_pci_info(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlDeviceGetPciInfo_v3", pci != NULL);
	if (rc)
		return rc;
	unsigned domain = 0, bus = 0, dev = 0, fn = 0;
	sscanf(c.gpu->pci_bus_id, "%x:%x:%x.%x", &domain, &bus, &dev, &fn);
	memset(pci, 0, sizeof(*pci));
	snprintf(pci->busIdLegacy, sizeof(pci->busIdLegacy), "%04X:%02X:%02X.%X", domain & 0xffff,
	         bus & 0xff, dev & 0xff, fn & 0xf);
	snprintf(pci->busId, sizeof(pci->busId), "%s", c.gpu->pci_bus_id);
	pci->domain = domain;
	pci->bus = bus;
	pci->device = dev;
	pci->pciDeviceId = c.gpu->pci_device_id;
	pci->pciSubSystemId = c.gpu->pci_subsystem_id;
	return NVML_SUCCESS;
}

static nvmlReturn_t sim_device_get_minor_number(nvmlDevice_t device, unsigned *minor)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlDeviceGetMinorNumber", minor != NULL);
	if (!rc)
		*minor = c.gpu->minor;
	return rc;
}

/* ---- utilization, memory, temperature ---- */

static nvmlReturn_t sim_device_get_utilization_rates(nvmlDevice_t device, nvmlUtilization_t *u)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlDeviceGetUtilizationRates", u != NULL);
	if (rc)
		return rc;
	if (c.gpu->unsupported_signals[SIM_SIG_UTIL_GPU] ||
	    c.gpu->unsupported_signals[SIM_SIG_UTIL_MEM])
		return NVML_ERROR_NOT_SUPPORTED;
	u->gpu = to_pct(sig(&c, SIM_SIG_UTIL_GPU));
	u->memory = to_pct(sig(&c, SIM_SIG_UTIL_MEM));
	return NVML_SUCCESS;
}

/* Framebuffer bytes: total, reserved by the driver, used by processes (clamped). */
static void memory_now(const struct sim_call *c, unsigned long long *total,
                       unsigned long long *reserved, unsigned long long *used)
{
	*total = c->gpu->memory_total_mib * mib;
	*reserved = c->gpu->memory_reserved_mib * mib;
	*used = to_ull(sig(c, SIM_SIG_FB_USED) * (double)mib);
	if (*used > *total - *reserved)
		*used = *total - *reserved;
}

static nvmlReturn_t sim_device_get_memory_info_v2(nvmlDevice_t device, nvmlMemory_v2_t *m)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlDeviceGetMemoryInfo_v2", m != NULL);
	if (rc)
		return rc;
	if (m->version != nvmlMemory_v2)
		return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
	if (c.gpu->unsupported_signals[SIM_SIG_FB_USED])
		return NVML_ERROR_NOT_SUPPORTED;
	memory_now(&c, &m->total, &m->reserved, &m->used);
	m->free = m->total - m->reserved - m->used;
	return NVML_SUCCESS;
}

static nvmlReturn_t sim_device_get_memory_info(nvmlDevice_t device, nvmlMemory_t *m)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlDeviceGetMemoryInfo", m != NULL);
	if (rc)
		return rc;
	if (c.gpu->unsupported_signals[SIM_SIG_FB_USED])
		return NVML_ERROR_NOT_SUPPORTED;
	unsigned long long reserved;
	memory_now(&c, &m->total, &reserved, &m->used);
	/* The v1 struct has no reserved field: free is total - used, as old drivers report. */
	m->free = m->total - m->used;
	return NVML_SUCCESS;
}

/* Reads one signal as an unsigned int, honouring "unsupported": [signal]. */
static nvmlReturn_t read_uint(nvmlDevice_t device, const char *call, enum sim_signal s,
                              double scale, unsigned *out)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, call, out != NULL);
	if (rc)
		return rc;
	if (c.gpu->unsupported_signals[s])
		return NVML_ERROR_NOT_SUPPORTED;
	*out = to_uint(sig(&c, s) * scale);
	return NVML_SUCCESS;
}

static nvmlReturn_t sim_device_get_temperature(nvmlDevice_t device, int sensor, unsigned *temp)
{
	if (sensor != NVML_TEMPERATURE_GPU) {
		struct sim_call c;
		nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlDeviceGetTemperature", false);
		return rc;
	}
	return read_uint(device, "nvmlDeviceGetTemperature", SIM_SIG_TEMP, 1, temp);
}

static nvmlReturn_t sim_device_get_temperature_threshold(nvmlDevice_t device, int type,
                                                         unsigned *temp)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlDeviceGetTemperatureThreshold",
	                                  temp != NULL && type >= 0 && type < 8);
	if (rc)
		return rc;
	switch (type) {
	case NVML_TEMPERATURE_THRESHOLD_SHUTDOWN:
		*temp = c.gpu->shutdown_temp_c;
		return NVML_SUCCESS;
	case NVML_TEMPERATURE_THRESHOLD_SLOWDOWN:
		*temp = c.gpu->slowdown_temp_c;
		return NVML_SUCCESS;
	case NVML_TEMPERATURE_THRESHOLD_MEM_MAX:
		*temp = c.gpu->mem_max_temp_c;
		return NVML_SUCCESS;
	case NVML_TEMPERATURE_THRESHOLD_GPU_MAX:
		*temp = c.gpu->max_operating_temp_c;
		return NVML_SUCCESS;
	default: /* acoustic and GPS thresholds: not on a data-centre GPU */
		return NVML_ERROR_NOT_SUPPORTED;
	}
}

/* The signal behind a health counter field, or -1. */
static int health_signal(unsigned field)
{
	switch (field) {
	case NVML_FI_DEV_RETIRED_SBE:
		return SIM_SIG_RETIRED_SBE;
	case NVML_FI_DEV_RETIRED_DBE:
		return SIM_SIG_RETIRED_DBE;
	case NVML_FI_DEV_RETIRED_PENDING:
		return SIM_SIG_RETIRED_PENDING;
	case NVML_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL:
		return SIM_SIG_NVLINK_CRC_FLIT;
	case NVML_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL:
		return SIM_SIG_NVLINK_CRC_DATA;
	case NVML_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL:
		return SIM_SIG_NVLINK_REPLAY;
	case NVML_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL:
		return SIM_SIG_NVLINK_RECOVERY;
	}
	return -1;
}

static nvmlReturn_t sim_device_get_field_values(nvmlDevice_t device, int count,
                                                nvmlFieldValue_t *values)
{
	struct sim_call c;
	nvmlReturn_t rc =
	    sim_state_begin(&c, device, "nvmlDeviceGetFieldValues", values != NULL && count > 0);
	if (rc)
		return rc;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	for (int i = 0; i < count; i++) {
		nvmlFieldValue_t *v = &values[i];
		v->timestamp = (long long)tv.tv_sec * 1000000 + tv.tv_usec;
		v->latencyUsec = 0;
		if (v->fieldId == NVML_FI_DEV_MEMORY_TEMP &&
		    !c.gpu->unsupported_signals[SIM_SIG_MEM_TEMP]) {
			v->valueType = NVML_VALUE_TYPE_UNSIGNED_INT;
			v->value.uiVal = to_uint(sig(&c, SIM_SIG_MEM_TEMP));
			v->nvmlReturn = NVML_SUCCESS;
		} else if ((v->fieldId == NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX ||
		            v->fieldId == NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX) &&
		           v->scopeId < c.gpu->nvlink_links) {
			/* KiB per link since the driver loaded: the total split over the up links.
			 */
			unsigned up = c.gpu->nvlink_links -
			              (unsigned)__builtin_popcountll(c.gpu->nvlink_down);
			bool down = (c.gpu->nvlink_down >> v->scopeId) & 1;
			double kib = sim_state_nvlink_kib(
			    c.dev, v->fieldId == NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX, c.t);
			v->valueType = NVML_VALUE_TYPE_UNSIGNED_LONG_LONG;
			v->value.ullVal = down || !up ? 0 : to_ull(kib / up);
			v->nvmlReturn = NVML_SUCCESS;
		} else if (health_signal(v->fieldId) >= 0 &&
		           !c.gpu->unsupported_signals[health_signal(v->fieldId)]) {
			v->valueType = NVML_VALUE_TYPE_UNSIGNED_LONG_LONG;
			v->value.ullVal = to_ull(sig(&c, (enum sim_signal)health_signal(v->fieldId)));
			v->nvmlReturn = NVML_SUCCESS;
		} else {
			/* Unknown fields fail one by one; the call itself succeeds. */
			v->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
		}
	}
	return NVML_SUCCESS;
}

/* ---- power and clocks ---- */

static nvmlReturn_t sim_device_get_power_usage(nvmlDevice_t device, unsigned *mw)
{
	return read_uint(device, "nvmlDeviceGetPowerUsage", SIM_SIG_POWER, 1000, mw);
}

static nvmlReturn_t sim_device_get_enforced_power_limit(nvmlDevice_t device, unsigned *mw)
{
	struct sim_call c;
	nvmlReturn_t rc =
	    sim_state_begin(&c, device, "nvmlDeviceGetEnforcedPowerLimit", mw != NULL);
	if (!rc)
		*mw = c.gpu->power_limit_w * 1000;
	return rc;
}

static nvmlReturn_t sim_device_get_total_energy_consumption(nvmlDevice_t device,
                                                            unsigned long long *mj)
{
	struct sim_call c;
	nvmlReturn_t rc =
	    sim_state_begin(&c, device, "nvmlDeviceGetTotalEnergyConsumption", mj != NULL);
	if (rc)
		return rc;
	if (c.gpu->unsupported_signals[SIM_SIG_POWER])
		return NVML_ERROR_NOT_SUPPORTED;
	*mj = to_ull(sim_state_energy_mj(c.dev, c.t));
	return NVML_SUCCESS;
}

static nvmlReturn_t sim_device_get_clock_info(nvmlDevice_t device, int type, unsigned *clock)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlDeviceGetClockInfo",
	                                  clock != NULL && type >= 0 && type <= NVML_CLOCK_VIDEO);
	if (rc)
		return rc;
	enum sim_signal s = type == NVML_CLOCK_MEM ? SIM_SIG_MEM_CLOCK : SIM_SIG_SM_CLOCK;
	if (type == NVML_CLOCK_VIDEO) {
		*clock = c.gpu->video_clock_mhz;
		return NVML_SUCCESS;
	}
	if (c.gpu->unsupported_signals[s])
		return NVML_ERROR_NOT_SUPPORTED;
	*clock = to_uint(sig(&c, s));
	return NVML_SUCCESS;
}

static nvmlReturn_t sim_device_get_max_clock_info(nvmlDevice_t device, int type, unsigned *clock)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlDeviceGetMaxClockInfo",
	                                  clock != NULL && type >= 0 && type <= NVML_CLOCK_VIDEO);
	if (rc)
		return rc;
	*clock = type == NVML_CLOCK_MEM     ? c.gpu->max_mem_clock_mhz
	         : type == NVML_CLOCK_VIDEO ? c.gpu->video_clock_mhz
	                                    : c.gpu->max_sm_clock_mhz;
	return NVML_SUCCESS;
}

static nvmlReturn_t sim_device_get_clocks_event_reasons(nvmlDevice_t device,
                                                        unsigned long long *reasons)
{
	struct sim_call c;
	nvmlReturn_t rc =
	    sim_state_begin(&c, device, "nvmlDeviceGetCurrentClocksEventReasons", reasons != NULL);
	if (rc)
		return rc;
	if (c.gpu->unsupported_signals[SIM_SIG_CLOCK_REASONS])
		return NVML_ERROR_NOT_SUPPORTED;
	*reasons = to_ull(sig(&c, SIM_SIG_CLOCK_REASONS));
	return NVML_SUCCESS;
}

/* ---- PCIe ---- */

static nvmlReturn_t pcie_const(nvmlDevice_t device, const char *call, unsigned which, unsigned *out)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, call, out != NULL);
	if (rc)
		return rc;
	const unsigned v[] = {c.gpu->pcie_gen, c.gpu->pcie_width, c.gpu->pcie_max_gen,
	                      c.gpu->pcie_max_width};
	*out = v[which];
	return NVML_SUCCESS;
}

static nvmlReturn_t sim_device_get_curr_pcie_link_generation(nvmlDevice_t device, unsigned *v)
{
	return pcie_const(device, "nvmlDeviceGetCurrPcieLinkGeneration", 0, v);
}

static nvmlReturn_t sim_device_get_curr_pcie_link_width(nvmlDevice_t device, unsigned *v)
{
	return pcie_const(device, "nvmlDeviceGetCurrPcieLinkWidth", 1, v);
}

static nvmlReturn_t sim_device_get_max_pcie_link_generation(nvmlDevice_t device, unsigned *v)
{
	return pcie_const(device, "nvmlDeviceGetMaxPcieLinkGeneration", 2, v);
}

static nvmlReturn_t sim_device_get_max_pcie_link_width(nvmlDevice_t device, unsigned *v)
{
	return pcie_const(device, "nvmlDeviceGetMaxPcieLinkWidth", 3, v);
}

static nvmlReturn_t sim_device_get_pcie_replay_counter(nvmlDevice_t device, unsigned *v)
{
	return read_uint(device, "nvmlDeviceGetPcieReplayCounter", SIM_SIG_PCIE_REPLAY, 1, v);
}

/* ---- encoder, decoder, ECC, row remapping, P-state ---- */

static nvmlReturn_t codec_util(nvmlDevice_t device, const char *call, enum sim_signal s,
                               unsigned *util, unsigned *period_us)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, call, util != NULL && period_us != NULL);
	if (rc)
		return rc;
	if (c.gpu->unsupported_signals[s])
		return NVML_ERROR_NOT_SUPPORTED;
	*util = to_pct(sig(&c, s));
	*period_us = 167000; /* the driver's codec sampling period */
	return NVML_SUCCESS;
}

static nvmlReturn_t sim_device_get_encoder_utilization(nvmlDevice_t device, unsigned *util,
                                                       unsigned *period_us)
{
	return codec_util(device, "nvmlDeviceGetEncoderUtilization", SIM_SIG_ENC_UTIL, util,
	                  period_us);
}

static nvmlReturn_t sim_device_get_decoder_utilization(nvmlDevice_t device, unsigned *util,
                                                       unsigned *period_us)
{
	return codec_util(device, "nvmlDeviceGetDecoderUtilization", SIM_SIG_DEC_UTIL, util,
	                  period_us);
}

static nvmlReturn_t sim_device_get_ecc_mode(nvmlDevice_t device, int *current, int *pending)
{
	struct sim_call c;
	nvmlReturn_t rc =
	    sim_state_begin(&c, device, "nvmlDeviceGetEccMode", current != NULL && pending != NULL);
	if (!rc)
		*current = *pending = c.gpu->ecc ? NVML_FEATURE_ENABLED : NVML_FEATURE_DISABLED;
	return rc;
}

static nvmlReturn_t sim_device_get_total_ecc_errors(nvmlDevice_t device, int error_type,
                                                    int counter_type, unsigned long long *count)
{
	struct sim_call c;
	bool ok = count != NULL &&
	          (error_type == NVML_MEMORY_ERROR_TYPE_CORRECTED ||
	           error_type == NVML_MEMORY_ERROR_TYPE_UNCORRECTED) &&
	          (counter_type == NVML_VOLATILE_ECC || counter_type == NVML_AGGREGATE_ECC);
	nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlDeviceGetTotalEccErrors", ok);
	if (rc)
		return rc;
	if (!c.gpu->ecc)
		return NVML_ERROR_NOT_SUPPORTED;
	bool dbe = error_type == NVML_MEMORY_ERROR_TYPE_UNCORRECTED;
	enum sim_signal s = counter_type == NVML_VOLATILE_ECC
	                        ? (dbe ? SIM_SIG_ECC_DBE_VOLATILE : SIM_SIG_ECC_SBE_VOLATILE)
	                        : (dbe ? SIM_SIG_ECC_DBE_AGGREGATE : SIM_SIG_ECC_SBE_AGGREGATE);
	if (c.gpu->unsupported_signals[s])
		return NVML_ERROR_NOT_SUPPORTED;
	*count = to_ull(sig(&c, s));
	return NVML_SUCCESS;
}

static nvmlReturn_t sim_device_get_remapped_rows(nvmlDevice_t device, unsigned *corrected,
                                                 unsigned *uncorrected, unsigned *pending,
                                                 unsigned *failure)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlDeviceGetRemappedRows",
	                                  corrected && uncorrected && pending && failure);
	if (rc)
		return rc;
	*corrected = to_uint(sig(&c, SIM_SIG_REMAPPED_CORRECTABLE));
	*uncorrected = to_uint(sig(&c, SIM_SIG_REMAPPED_UNCORRECTABLE));
	*pending = sig(&c, SIM_SIG_REMAP_PENDING) >= 0.5;
	*failure = sig(&c, SIM_SIG_REMAP_FAILURE) >= 0.5;
	return NVML_SUCCESS;
}

static nvmlReturn_t sim_device_get_performance_state(nvmlDevice_t device, int *pstate)
{
	struct sim_call c;
	nvmlReturn_t rc =
	    sim_state_begin(&c, device, "nvmlDeviceGetPerformanceState", pstate != NULL);
	if (rc)
		return rc;
	if (c.gpu->unsupported_signals[SIM_SIG_PSTATE])
		return NVML_ERROR_NOT_SUPPORTED;
	unsigned p = to_uint(sig(&c, SIM_SIG_PSTATE));
	*pstate = p <= 15 ? (int)p : NVML_PSTATE_UNKNOWN;
	return NVML_SUCCESS;
}

/* ---- events (the event sets are in sim_events.c) ---- */

static nvmlReturn_t sim_device_get_supported_event_types(nvmlDevice_t device,
                                                         unsigned long long *types)
{
	struct sim_call c;
	nvmlReturn_t rc =
	    sim_state_begin(&c, device, "nvmlDeviceGetSupportedEventTypes", types != NULL);
	if (!rc)
		*types = c.gpu->supported_events;
	return rc;
}

/* ---- exports ---- */

SIM_EXPORT const char *gpuscopeSimLastError(void)
{
	return sim_state_last_error();
}

SIM_EXPORT const char *gpuscopeSimScenarioName(void)
{
	return sim_state_scenario_name();
}

/* The newest name of every row defined here: an alias whose assembler name is the symbol. */
NVML_SYMBOLS(SIM_FILE_EXPORT_0)

/* The fallback names (the rows of NVML_SYMBOLS whose second name is not NULL). */
#define SIM_EXPORT_FALLBACK(field, name)                                      \
	SIM_EXPORT __typeof__(sim_##field) sim_fallback_##field __asm__(name) \
	    __attribute__((alias("sim_" #field)));
SIM_EXPORT_FALLBACK(init, "nvmlInit")
SIM_EXPORT_FALLBACK(system_get_cuda_driver_version, "nvmlSystemGetCudaDriverVersion")
SIM_EXPORT_FALLBACK(device_get_count, "nvmlDeviceGetCount")
SIM_EXPORT_FALLBACK(device_get_handle_by_index, "nvmlDeviceGetHandleByIndex")
SIM_EXPORT_FALLBACK(device_get_pci_info, "nvmlDeviceGetPciInfo_v2")
SIM_EXPORT_FALLBACK(device_get_clocks_event_reasons, "nvmlDeviceGetCurrentClocksThrottleReasons")
#undef SIM_EXPORT_FALLBACK
