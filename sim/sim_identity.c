/* sim_identity.c - the simulator's identity and policy calls: serial, VBIOS, brand, inforom
 * versions, virtualization mode, fan speed, power-management limit and violation counters.
 *
 * Split out of sim_nvml.c (file 4 in sim_exports.h) so that file stays about the hot calls.
 * What the agent must get right about the real calls, and so what is modelled here:
 *   - a string that does not fit the caller's buffer is INSUFFICIENT_SIZE, never truncated;
 *   - what a GPU lacks is NOT_SUPPORTED (an H200 has no fan and no power-management inforom
 *     object), from an empty string or a signal left NaN in the scenario;
 *   - violation counters are nanoseconds since the driver loaded, with a reference time in
 *     microseconds since the epoch.
 */
#include "sim/sim_exports.h"
#include "sim/sim_state.h"

#include <math.h>
#include <stddef.h>
#include <string.h>
#include <sys/time.h>

NVML_SYMBOLS(SIM_FILE_PROTOTYPE_4)

static nvmlReturn_t answer_string(nvmlDevice_t device, const char *call, char *buf, unsigned len,
                                  size_t offset)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, call, buf != NULL);
	if (rc)
		return rc;
	const char *s = (const char *)c.gpu + offset;
	if (!*s)
		return NVML_ERROR_NOT_SUPPORTED;
	if (strlen(s) + 1 > len)
		return NVML_ERROR_INSUFFICIENT_SIZE;
	memcpy(buf, s, strlen(s) + 1);
	return NVML_SUCCESS;
}

/* A signal's value now, or NOT_SUPPORTED when the scenario leaves it NaN. */
static nvmlReturn_t answer_signal(nvmlDevice_t device, const char *call, bool args_ok,
                                  enum sim_signal s, double *v)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, call, args_ok);
	if (rc)
		return rc;
	if (c.gpu->unsupported_signals[s])
		return NVML_ERROR_NOT_SUPPORTED;
	*v = sim_signal_clamp(s, sim_func_eval(c.gpu->metrics[s], c.t));
	return isnan(*v) ? NVML_ERROR_NOT_SUPPORTED : NVML_SUCCESS;
}

static nvmlReturn_t sim_device_get_serial(nvmlDevice_t device, char *serial, unsigned length)
{
	return answer_string(device, "nvmlDeviceGetSerial", serial, length,
	                     offsetof(struct sim_gpu, serial));
}

static nvmlReturn_t sim_device_get_vbios_version(nvmlDevice_t device, char *version,
                                                 unsigned length)
{
	return answer_string(device, "nvmlDeviceGetVbiosVersion", version, length,
	                     offsetof(struct sim_gpu, vbios_version));
}

static nvmlReturn_t sim_device_get_inforom_image_version(nvmlDevice_t device, char *version,
                                                         unsigned length)
{
	return answer_string(device, "nvmlDeviceGetInforomImageVersion", version, length,
	                     offsetof(struct sim_gpu, inforom_image));
}

static nvmlReturn_t sim_device_get_inforom_version(nvmlDevice_t device, int object, char *version,
                                                   unsigned length)
{
	static const size_t at[] = {offsetof(struct sim_gpu, inforom_oem),
	                            offsetof(struct sim_gpu, inforom_ecc),
	                            offsetof(struct sim_gpu, inforom_power)};
	if (object < NVML_INFOROM_OEM || object > NVML_INFOROM_POWER) {
		struct sim_call c;
		nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlDeviceGetInforomVersion", false);
		return rc ? rc : NVML_ERROR_INVALID_ARGUMENT;
	}
	return answer_string(device, "nvmlDeviceGetInforomVersion", version, length, at[object]);
}

static nvmlReturn_t sim_device_get_brand(nvmlDevice_t device, int *brand)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlDeviceGetBrand", brand != NULL);
	if (!rc)
		*brand = (int)c.gpu->brand;
	return rc;
}

static nvmlReturn_t sim_device_get_virtualization_mode(nvmlDevice_t device, int *mode)
{
	struct sim_call c;
	nvmlReturn_t rc =
	    sim_state_begin(&c, device, "nvmlDeviceGetVirtualizationMode", mode != NULL);
	if (!rc)
		*mode = (int)c.gpu->virtualization_mode;
	return rc;
}

static nvmlReturn_t sim_device_get_power_management_limit(nvmlDevice_t device, unsigned *mw)
{
	struct sim_call c;
	nvmlReturn_t rc =
	    sim_state_begin(&c, device, "nvmlDeviceGetPowerManagementLimit", mw != NULL);
	if (!rc)
		*mw = c.gpu->power_mgmt_limit_w * 1000;
	return rc;
}

static nvmlReturn_t sim_device_get_fan_speed(nvmlDevice_t device, unsigned *speed)
{
	double v;
	nvmlReturn_t rc =
	    answer_signal(device, "nvmlDeviceGetFanSpeed", speed != NULL, SIM_SIG_FAN_SPEED, &v);
	if (!rc)
		*speed = (unsigned)llround(v);
	return rc;
}

static nvmlReturn_t sim_device_get_violation_status(nvmlDevice_t device, int policy,
                                                    nvmlViolationTime_t *t)
{
	enum sim_signal s;
	switch (policy) {
	case NVML_PERF_POLICY_THERMAL:
		s = SIM_SIG_VIOLATION_THERMAL;
		break;
	case NVML_PERF_POLICY_BOARD_LIMIT:
		s = SIM_SIG_VIOLATION_BOARD_LIMIT;
		break;
	case NVML_PERF_POLICY_LOW_UTILIZATION:
		s = SIM_SIG_VIOLATION_LOW_UTIL;
		break;
	case NVML_PERF_POLICY_RELIABILITY:
		s = SIM_SIG_VIOLATION_RELIABILITY;
		break;
	default: /* power and sync boost: not modelled, as if the driver did not count them */
		s = SIM_SIG_COUNT;
	}
	double v = 0;
	nvmlReturn_t rc =
	    answer_signal(device, "nvmlDeviceGetViolationStatus", t != NULL && s != SIM_SIG_COUNT,
	                  s == SIM_SIG_COUNT ? SIM_SIG_VIOLATION_THERMAL : s, &v);
	if (rc)
		return rc;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	t->referenceTime =
	    (unsigned long long)tv.tv_sec * 1000000ULL + (unsigned long long)tv.tv_usec;
	t->violationTime = v > 0 ? (unsigned long long)llround(v * 1e9) : 0;
	return NVML_SUCCESS;
}

/* NVLink P2P between two GPUs: OK when both have NVLink links, else NOT_SUPPORTED (a PCIe
 * H200); a MIG instance or the same GPU twice is an invalid argument. */
static nvmlReturn_t sim_device_get_p2p_status(nvmlDevice_t device1, nvmlDevice_t device2, int index,
                                              int *status)
{
	struct sim_call a, b;
	nvmlReturn_t rc = sim_state_begin(&a, device1, "nvmlDeviceGetP2PStatus",
	                                  status != NULL && index >= 0 && index <= 5);
	if (!rc)
		rc = sim_state_begin(&b, device2, "nvmlDeviceGetP2PStatus", true);
	if (rc)
		return rc;
	if (a.gpu->parent || b.gpu->parent || a.gpu == b.gpu)
		return NVML_ERROR_INVALID_ARGUMENT;
	bool nvlink = a.gpu->nvlink_links > 0 && b.gpu->nvlink_links > 0;
	*status = index != NVML_P2P_CAPS_INDEX_NVLINK || nvlink ? NVML_P2P_STATUS_OK
	                                                        : NVML_P2P_STATUS_NOT_SUPPORTED;
	return NVML_SUCCESS;
}

/* Licensing applies only where the scenario gives vgpu_licensed (as in a vGPU guest):
 * then one vGPU feature, licensed while the value is at least 0.5. */
static nvmlReturn_t sim_device_get_grid_licensable_features(nvmlDevice_t device,
                                                            nvmlGridLicensableFeatures_t *f)
{
	double v;
	nvmlReturn_t rc = answer_signal(device, "nvmlDeviceGetGridLicensableFeatures", f != NULL,
	                                SIM_SIG_VGPU_LICENSED, &v);
	if (rc == NVML_ERROR_NOT_SUPPORTED) {
		memset(f, 0, sizeof(*f));
		return NVML_SUCCESS; /* the driver answers, saying licensing is not supported */
	}
	if (rc)
		return rc;
	memset(f, 0, sizeof(*f));
	f->isGridLicenseSupported = 1;
	f->licensableFeaturesCount = 1;
	f->gridLicensableFeatures[0].featureCode = 1;
	f->gridLicensableFeatures[0].featureState = v >= 0.5;
	f->gridLicensableFeatures[0].featureEnabled = 1;
	return NVML_SUCCESS;
}

NVML_SYMBOLS(SIM_FILE_EXPORT_4)
