/* nvml_abi.h - gpuscope's own declarations of the NVML ABI subset it uses.
 *
 * No NVIDIA header is needed to build gpuscope: the types, constants and
 * struct layouts below are written from the public nvml.h (CUDA 13.x header,
 * NVML_API_VERSION 13) and checked against the sizes that header compiles to
 * on x86-64 (see ../shared/facts/nvml-gpm-nccl-cupti-apis.md).  Layout
 * assertions at the bottom keep them honest.
 *
 * The symbol list is one X-macro, NVML_SYMBOLS, so the loader (nvml_loader.c)
 * and the simulator (sim/) are generated from the same rows and can never
 * disagree on a signature.  Each row names the newest symbol first and an
 * older fallback with the same signature, or NULL when there is none.
 */
#ifndef GPUSCOPE_NVML_ABI_H
#define GPUSCOPE_NVML_ABI_H

#include <stddef.h>

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct nvmlEventSet_st *nvmlEventSet_t;
typedef struct nvmlGpmSample_st *nvmlGpmSample_t;

enum {
	NVML_SUCCESS = 0,
	NVML_ERROR_UNINITIALIZED = 1,
	NVML_ERROR_INVALID_ARGUMENT = 2,
	NVML_ERROR_NOT_SUPPORTED = 3,
	NVML_ERROR_NO_PERMISSION = 4,
	NVML_ERROR_ALREADY_INITIALIZED = 5,
	NVML_ERROR_NOT_FOUND = 6,
	NVML_ERROR_INSUFFICIENT_SIZE = 7,
	NVML_ERROR_INSUFFICIENT_POWER = 8,
	NVML_ERROR_DRIVER_NOT_LOADED = 9,
	NVML_ERROR_TIMEOUT = 10,
	NVML_ERROR_IRQ_ISSUE = 11,
	NVML_ERROR_LIBRARY_NOT_FOUND = 12,
	NVML_ERROR_FUNCTION_NOT_FOUND = 13,
	NVML_ERROR_CORRUPTED_INFOROM = 14,
	NVML_ERROR_GPU_IS_LOST = 15,
	NVML_ERROR_RESET_REQUIRED = 16,
	NVML_ERROR_OPERATING_SYSTEM = 17,
	NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
	NVML_ERROR_IN_USE = 19,
	NVML_ERROR_MEMORY = 20,
	NVML_ERROR_NO_DATA = 21,
	NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
	NVML_ERROR_DEPRECATED = 26,
	NVML_ERROR_NOT_READY = 27,
	NVML_ERROR_GPU_NOT_FOUND = 28,
	NVML_ERROR_INVALID_STATE = 29,
	NVML_ERROR_UNKNOWN = 999,
};

/* Buffer sizes (the _V2 ones are the larger, current sizes). */
#define NVML_DEVICE_NAME_V2_BUFFER_SIZE        96
#define NVML_DEVICE_UUID_V2_BUFFER_SIZE        96
#define NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE 80
#define NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE   80
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE     32
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE  16

/* Versioned structs carry sizeof | version << 24 (a bare 2 is rejected). */
#define NVML_STRUCT_VERSION(size, ver) ((unsigned)(size) | ((unsigned)(ver) << 24))

typedef struct {
	char busIdLegacy[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE];
	unsigned domain;
	unsigned bus;
	unsigned device;
	unsigned pciDeviceId; /* device << 16 | vendor */
	unsigned pciSubSystemId;
	char busId[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
} nvmlPciInfo_t;

typedef struct {
	unsigned gpu;    /* percent of time a kernel ran */
	unsigned memory; /* percent of time device memory was read or written */
} nvmlUtilization_t;

typedef struct {
	unsigned long long total;
	unsigned long long free;
	unsigned long long used;
} nvmlMemory_t;

typedef struct {
	unsigned version;
	unsigned long long total;
	unsigned long long reserved;
	unsigned long long free;
	unsigned long long used;
} nvmlMemory_v2_t;
#define nvmlMemory_v2 NVML_STRUCT_VERSION(sizeof(nvmlMemory_v2_t), 2)

typedef union {
	double dVal;
	int siVal;
	unsigned uiVal;
	unsigned long ulVal;
	unsigned long long ullVal;
	long long sllVal;
	unsigned short usVal;
} nvmlValue_t;

enum {
	NVML_VALUE_TYPE_DOUBLE = 0,
	NVML_VALUE_TYPE_UNSIGNED_INT = 1,
	NVML_VALUE_TYPE_UNSIGNED_LONG = 2,
	NVML_VALUE_TYPE_UNSIGNED_LONG_LONG = 3,
	NVML_VALUE_TYPE_SIGNED_LONG_LONG = 4,
	NVML_VALUE_TYPE_SIGNED_INT = 5,
	NVML_VALUE_TYPE_UNSIGNED_SHORT = 6,
};

typedef struct {
	unsigned fieldId;
	unsigned scopeId;
	long long timestamp; /* us since the epoch */
	long long latencyUsec;
	int valueType; /* NVML_VALUE_TYPE_* */
	nvmlReturn_t nvmlReturn;
	nvmlValue_t value;
} nvmlFieldValue_t;

/* Field ids (NVML_FI_*) that gpuscope reads.  The NVLink throughput fields
 * count KiB per link (scopeId = link). */
#define NVML_FI_DEV_MEMORY_TEMP               82
#define NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX 138
#define NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX 139
/* Health counters read together on the slow tier (sample/sources.c read_health_fields):
 * pages retired for single- and double-bit errors and pending retirement (pre-Hopper; row
 * remapping replaced it), and NVLink error totals over all links. */
#define NVML_FI_DEV_RETIRED_SBE                       29
#define NVML_FI_DEV_RETIRED_DBE                       30
#define NVML_FI_DEV_RETIRED_PENDING                   31
#define NVML_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL 38
#define NVML_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL 45
#define NVML_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL   52
#define NVML_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL 59

/* Driver sample buffers (nvmlDeviceGetSamples). */
enum {
	NVML_TOTAL_POWER_SAMPLES = 0,     /* mW, every 20 ms on an H200 */
	NVML_GPU_UTILIZATION_SAMPLES = 1, /* percent, every 200 ms */
	NVML_MEMORY_UTILIZATION_SAMPLES = 2,
};

typedef struct {
	unsigned long long timeStamp; /* us since the epoch */
	nvmlValue_t sampleValue;
} nvmlSample_t;

/* GPM (Hopper and newer).  The driver reads only numMetrics entries, so
 * an array of the 12.x header's 98 works with every driver. */
#define NVML_GPM_METRICS_GET_VERSION 1 /* a plain 1, not NVML_STRUCT_VERSION */
#define NVML_GPM_SUPPORT_VERSION     1
#define NVML_GPM_METRIC_ARRAY        98

typedef struct {
	unsigned version;
	unsigned isSupportedDevice;
} nvmlGpmSupport_t;

typedef struct {
	unsigned metricId;
	nvmlReturn_t nvmlReturn;
	double value;
	struct {
		char *shortName;
		char *longName;
		char *unit;
	} metricInfo;
} nvmlGpmMetric_t;

typedef struct {
	unsigned version;
	unsigned numMetrics;
	nvmlGpmSample_t sample1;
	nvmlGpmSample_t sample2;
	nvmlGpmMetric_t metrics[NVML_GPM_METRIC_ARRAY];
} nvmlGpmMetricsGet_t;

/* GPM metric ids (nvmlGpmMetricId_t); percentages are 0-100. */
enum {
	NVML_GPM_METRIC_GRAPHICS_UTIL = 1,
	NVML_GPM_METRIC_SM_UTIL = 2,
	NVML_GPM_METRIC_SM_OCCUPANCY = 3,
	NVML_GPM_METRIC_INTEGER_UTIL = 4,
	NVML_GPM_METRIC_ANY_TENSOR_UTIL = 5,
	NVML_GPM_METRIC_DFMA_TENSOR_UTIL = 6,
	NVML_GPM_METRIC_HMMA_TENSOR_UTIL = 7,
	NVML_GPM_METRIC_IMMA_TENSOR_UTIL = 9,
	NVML_GPM_METRIC_DRAM_BW_UTIL = 10,
	NVML_GPM_METRIC_FP64_UTIL = 11,
	NVML_GPM_METRIC_FP32_UTIL = 12,
	NVML_GPM_METRIC_FP16_UTIL = 13,
	NVML_GPM_METRIC_PCIE_TX_PER_SEC = 20, /* MiB/s */
	NVML_GPM_METRIC_PCIE_RX_PER_SEC = 21,
	NVML_GPM_METRIC_NVDEC_0_UTIL = 30,
	NVML_GPM_METRIC_NVJPG_0_UTIL = 40,
	NVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC = 60, /* MiB/s */
	NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC = 61,
};

/* NVLink: headers up to 12.9 have 18 links, 13.x 36; loop until the driver
 * says INVALID_ARGUMENT. */
#define NVML_NVLINK_MAX_LINKS 18

typedef struct {
	nvmlDevice_t device;
	unsigned long long eventType;
	unsigned long long eventData; /* the Xid number for Xid events */
	unsigned gpuInstanceId;
	unsigned computeInstanceId;
} nvmlEventData_t;

/* Event type bits. */
#define nvmlEventTypeSingleBitEccError 0x1ULL
#define nvmlEventTypeDoubleBitEccError 0x2ULL
#define nvmlEventTypeXidCriticalError  0x8ULL

/* Processes on a GPU (nvmlDeviceGet{Compute,Graphics}RunningProcesses_v3, 24 B entries; the
 * _v2 layout is the same).  Some drivers broke the stride (32 B on early R535, 16 B on one
 * report): sample/processes.c checks it.  gpuInstanceId and computeInstanceId are
 * 0xFFFFFFFF when MIG is off.  usedGpuMemory is NVML_VALUE_NOT_AVAILABLE when the driver
 * cannot tell (Windows WDDM, some containers). */
typedef struct {
	unsigned pid;
	unsigned long long usedGpuMemory;
	unsigned gpuInstanceId;
	unsigned computeInstanceId;
} nvmlProcessInfo_t;
#define NVML_VALUE_NOT_AVAILABLE_ULL 0xFFFFFFFFFFFFFFFFULL
#define NVML_NO_INSTANCE_ID          0xFFFFFFFFu

/* nvmlDeviceGetProcessUtilization: one sample per process and driver sample period, percent
 * of the period; asked for samples newer than lastSeenTimeStamp (us since the epoch).
 * NOT_FOUND means no new samples; NOT_SUPPORTED with MIG on. */
typedef struct {
	unsigned pid;
	unsigned long long timeStamp; /* us since the epoch */
	unsigned smUtil;
	unsigned memUtil;
	unsigned encUtil;
	unsigned decUtil;
} nvmlProcessUtilizationSample_t;

enum { NVML_TEMPERATURE_GPU = 0 };
enum {
	NVML_TEMPERATURE_THRESHOLD_SHUTDOWN = 0,
	NVML_TEMPERATURE_THRESHOLD_SLOWDOWN = 1,
	NVML_TEMPERATURE_THRESHOLD_MEM_MAX = 2,
	NVML_TEMPERATURE_THRESHOLD_GPU_MAX = 3,
};
enum { NVML_CLOCK_GRAPHICS = 0, NVML_CLOCK_SM = 1, NVML_CLOCK_MEM = 2, NVML_CLOCK_VIDEO = 3 };
enum { NVML_FEATURE_DISABLED = 0, NVML_FEATURE_ENABLED = 1 };
enum { NVML_MEMORY_ERROR_TYPE_CORRECTED = 0, NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1 };
enum { NVML_VOLATILE_ECC = 0, NVML_AGGREGATE_ECC = 1 };
#define NVML_PSTATE_UNKNOWN 32

/* nvmlDeviceGetViolationStatus: how long the driver held the clocks below what was asked, by
 * policy, since it loaded (violationTime in ns; referenceTime in us since the epoch). */
typedef struct {
	unsigned long long referenceTime;
	unsigned long long violationTime;
} nvmlViolationTime_t;
enum {
	NVML_PERF_POLICY_POWER = 0,
	NVML_PERF_POLICY_THERMAL = 1,
	NVML_PERF_POLICY_SYNC_BOOST = 2,
	NVML_PERF_POLICY_BOARD_LIMIT = 3,
	NVML_PERF_POLICY_LOW_UTILIZATION = 4,
	NVML_PERF_POLICY_RELIABILITY = 5,
};
/* nvmlDeviceGetInforomVersion's objects, and the string buffers of the identity calls. */
enum { NVML_INFOROM_OEM = 0, NVML_INFOROM_ECC = 1, NVML_INFOROM_POWER = 2 };
#define NVML_DEVICE_INFOROM_VERSION_BUFFER_SIZE 16
#define NVML_DEVICE_SERIAL_BUFFER_SIZE          30
#define NVML_DEVICE_VBIOS_VERSION_BUFFER_SIZE   32
/* nvmlDeviceGetVirtualizationMode: 0 none (bare metal), 1 pass-through, 2 vGPU guest,
 * 3 vGPU host, 4 vSGA host. */
enum { NVML_GPU_VIRTUALIZATION_MODE_HOST_VSGA = 4 };
/* nvmlDeviceGetP2PStatus: the capability asked (NVLink), and its answer (nvmlGpuP2PStatus_t:
 * 0 OK, 1 chipset, 2 GPU, 3 topology not supported, 4 disabled by regkey, 5 not supported,
 * 6 unknown). */
enum { NVML_P2P_CAPS_INDEX_NVLINK = 2 };
enum { NVML_P2P_STATUS_OK = 0, NVML_P2P_STATUS_NOT_SUPPORTED = 5, NVML_P2P_STATUS_UNKNOWN = 6 };
/* nvmlDeviceGetGridLicensableFeatures_v4: a vGPU guest's (or a licensed passthrough GPU's)
 * software licences.  featureState is non-zero while the feature is licensed. */
#define NVML_GRID_LICENSE_BUFFER_SIZE       128
#define NVML_GRID_LICENSE_FEATURE_MAX_COUNT 3
typedef struct {
	unsigned int year;
	unsigned short month, day, hour, min, sec;
	unsigned char status;
} nvmlGridLicenseExpiry_t;
typedef struct {
	int featureCode; /* 1 vGPU, 2 virtual workstation, ... */
	unsigned int featureState;
	char licenseInfo[NVML_GRID_LICENSE_BUFFER_SIZE];
	char productName[NVML_GRID_LICENSE_BUFFER_SIZE];
	unsigned int featureEnabled;
	nvmlGridLicenseExpiry_t licenseExpiry;
} nvmlGridLicensableFeature_t;
typedef struct {
	int isGridLicenseSupported;
	unsigned int licensableFeaturesCount;
	nvmlGridLicensableFeature_t gridLicensableFeatures[NVML_GRID_LICENSE_FEATURE_MAX_COUNT];
} nvmlGridLicensableFeatures_t;
/* nvmlBrandType_t values 0-16 (nvmlDeviceGetBrand); newer drivers may add more. */
#define NVML_BRAND_COUNT 17

/* Clock event (throttle) reason bits. */
#define NVML_CLOCKS_EVENT_REASON_GPU_IDLE                    0x1ULL
#define NVML_CLOCKS_EVENT_REASON_APPLICATIONS_CLOCKS_SETTING 0x2ULL
#define NVML_CLOCKS_EVENT_REASON_SW_POWER_CAP                0x4ULL
#define NVML_CLOCKS_EVENT_REASON_HW_SLOWDOWN                 0x8ULL
#define NVML_CLOCKS_EVENT_REASON_SYNC_BOOST                  0x10ULL
#define NVML_CLOCKS_EVENT_REASON_SW_THERMAL_SLOWDOWN         0x20ULL
#define NVML_CLOCKS_EVENT_REASON_HW_THERMAL_SLOWDOWN         0x40ULL
#define NVML_CLOCKS_EVENT_REASON_HW_POWER_BRAKE_SLOWDOWN     0x80ULL
#define NVML_CLOCKS_EVENT_REASON_DISPLAY_CLOCK_SETTING       0x100ULL

/*
 * X(field, required, return, params, newest symbol, fallback symbol or NULL)
 *
 * required: 1 when gpuscope cannot work without it (the loader refuses a
 * library that lacks it), 0 when a missing symbol only makes the metrics
 * that need it unsupported.
 */
#define NVML_SYMBOLS(X)                                                                            \
	X(init, 1, nvmlReturn_t, (void), "nvmlInit_v2", "nvmlInit")                                \
	X(shutdown, 1, nvmlReturn_t, (void), "nvmlShutdown", NULL)                                 \
	X(error_string, 0, const char *, (nvmlReturn_t), "nvmlErrorString", NULL)                  \
	X(system_get_driver_version, 0, nvmlReturn_t, (char *, unsigned),                          \
	  "nvmlSystemGetDriverVersion", NULL)                                                      \
	X(system_get_nvml_version, 0, nvmlReturn_t, (char *, unsigned),                            \
	  "nvmlSystemGetNVMLVersion", NULL)                                                        \
	X(system_get_cuda_driver_version, 0, nvmlReturn_t, (int *),                                \
	  "nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion")                   \
	X(device_get_count, 1, nvmlReturn_t, (unsigned *), "nvmlDeviceGetCount_v2",                \
	  "nvmlDeviceGetCount")                                                                    \
	X(device_get_handle_by_index, 1, nvmlReturn_t, (unsigned, nvmlDevice_t *),                 \
	  "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex")                           \
	X(device_get_name, 0, nvmlReturn_t, (nvmlDevice_t, char *, unsigned), "nvmlDeviceGetName", \
	  NULL)                                                                                    \
	X(device_get_uuid, 0, nvmlReturn_t, (nvmlDevice_t, char *, unsigned), "nvmlDeviceGetUUID", \
	  NULL)                                                                                    \
	X(device_get_pci_info, 0, nvmlReturn_t, (nvmlDevice_t, nvmlPciInfo_t *),                   \
	  "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2")                                    \
	X(device_get_minor_number, 0, nvmlReturn_t, (nvmlDevice_t, unsigned *),                    \
	  "nvmlDeviceGetMinorNumber", NULL)                                                        \
	X(device_get_utilization_rates, 0, nvmlReturn_t, (nvmlDevice_t, nvmlUtilization_t *),      \
	  "nvmlDeviceGetUtilizationRates", NULL)                                                   \
	X(device_get_memory_info_v2, 0, nvmlReturn_t, (nvmlDevice_t, nvmlMemory_v2_t *),           \
	  "nvmlDeviceGetMemoryInfo_v2", NULL)                                                      \
	X(device_get_memory_info, 0, nvmlReturn_t, (nvmlDevice_t, nvmlMemory_t *),                 \
	  "nvmlDeviceGetMemoryInfo", NULL)                                                         \
	X(device_get_temperature, 0, nvmlReturn_t, (nvmlDevice_t, int, unsigned *),                \
	  "nvmlDeviceGetTemperature", NULL)                                                        \
	X(device_get_temperature_threshold, 0, nvmlReturn_t, (nvmlDevice_t, int, unsigned *),      \
	  "nvmlDeviceGetTemperatureThreshold", NULL)                                               \
	X(device_get_field_values, 0, nvmlReturn_t, (nvmlDevice_t, int, nvmlFieldValue_t *),       \
	  "nvmlDeviceGetFieldValues", NULL)                                                        \
	X(device_get_power_usage, 0, nvmlReturn_t, (nvmlDevice_t, unsigned *),                     \
	  "nvmlDeviceGetPowerUsage", NULL)                                                         \
	X(device_get_enforced_power_limit, 0, nvmlReturn_t, (nvmlDevice_t, unsigned *),            \
	  "nvmlDeviceGetEnforcedPowerLimit", NULL)                                                 \
	X(device_get_total_energy_consumption, 0, nvmlReturn_t,                                    \
	  (nvmlDevice_t, unsigned long long *), "nvmlDeviceGetTotalEnergyConsumption", NULL)       \
	X(device_get_clock_info, 0, nvmlReturn_t, (nvmlDevice_t, int, unsigned *),                 \
	  "nvmlDeviceGetClockInfo", NULL)                                                          \
	X(device_get_max_clock_info, 0, nvmlReturn_t, (nvmlDevice_t, int, unsigned *),             \
	  "nvmlDeviceGetMaxClockInfo", NULL)                                                       \
	X(device_get_clocks_event_reasons, 0, nvmlReturn_t, (nvmlDevice_t, unsigned long long *),  \
	  "nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons")   \
	X(device_get_curr_pcie_link_generation, 0, nvmlReturn_t, (nvmlDevice_t, unsigned *),       \
	  "nvmlDeviceGetCurrPcieLinkGeneration", NULL)                                             \
	X(device_get_curr_pcie_link_width, 0, nvmlReturn_t, (nvmlDevice_t, unsigned *),            \
	  "nvmlDeviceGetCurrPcieLinkWidth", NULL)                                                  \
	X(device_get_max_pcie_link_generation, 0, nvmlReturn_t, (nvmlDevice_t, unsigned *),        \
	  "nvmlDeviceGetMaxPcieLinkGeneration", NULL)                                              \
	X(device_get_max_pcie_link_width, 0, nvmlReturn_t, (nvmlDevice_t, unsigned *),             \
	  "nvmlDeviceGetMaxPcieLinkWidth", NULL)                                                   \
	X(device_get_pcie_replay_counter, 0, nvmlReturn_t, (nvmlDevice_t, unsigned *),             \
	  "nvmlDeviceGetPcieReplayCounter", NULL)                                                  \
	X(device_get_encoder_utilization, 0, nvmlReturn_t, (nvmlDevice_t, unsigned *, unsigned *), \
	  "nvmlDeviceGetEncoderUtilization", NULL)                                                 \
	X(device_get_decoder_utilization, 0, nvmlReturn_t, (nvmlDevice_t, unsigned *, unsigned *), \
	  "nvmlDeviceGetDecoderUtilization", NULL)                                                 \
	X(device_get_ecc_mode, 0, nvmlReturn_t, (nvmlDevice_t, int *, int *),                      \
	  "nvmlDeviceGetEccMode", NULL)                                                            \
	X(device_get_total_ecc_errors, 0, nvmlReturn_t,                                            \
	  (nvmlDevice_t, int, int, unsigned long long *), "nvmlDeviceGetTotalEccErrors", NULL)     \
	X(device_get_remapped_rows, 0, nvmlReturn_t,                                               \
	  (nvmlDevice_t, unsigned *, unsigned *, unsigned *, unsigned *),                          \
	  "nvmlDeviceGetRemappedRows", NULL)                                                       \
	X(device_get_performance_state, 0, nvmlReturn_t, (nvmlDevice_t, int *),                    \
	  "nvmlDeviceGetPerformanceState", NULL)                                                   \
	X(event_set_create, 0, nvmlReturn_t, (nvmlEventSet_t *), "nvmlEventSetCreate", NULL)       \
	X(device_get_supported_event_types, 0, nvmlReturn_t, (nvmlDevice_t, unsigned long long *), \
	  "nvmlDeviceGetSupportedEventTypes", NULL)                                                \
	X(device_register_events, 0, nvmlReturn_t,                                                 \
	  (nvmlDevice_t, unsigned long long, nvmlEventSet_t), "nvmlDeviceRegisterEvents", NULL)    \
	X(event_set_wait, 0, nvmlReturn_t, (nvmlEventSet_t, nvmlEventData_t *, unsigned),          \
	  "nvmlEventSetWait_v2", NULL)                                                             \
	X(event_set_free, 0, nvmlReturn_t, (nvmlEventSet_t), "nvmlEventSetFree", NULL)             \
	X(device_get_samples, 0, nvmlReturn_t,                                                     \
	  (nvmlDevice_t, int, unsigned long long, int *, unsigned *, nvmlSample_t *),              \
	  "nvmlDeviceGetSamples", NULL)                                                            \
	X(gpm_query_device_support, 0, nvmlReturn_t, (nvmlDevice_t, nvmlGpmSupport_t *),           \
	  "nvmlGpmQueryDeviceSupport", NULL)                                                       \
	X(gpm_sample_alloc, 0, nvmlReturn_t, (nvmlGpmSample_t *), "nvmlGpmSampleAlloc", NULL)      \
	X(gpm_sample_free, 0, nvmlReturn_t, (nvmlGpmSample_t), "nvmlGpmSampleFree", NULL)          \
	X(gpm_sample_get, 0, nvmlReturn_t, (nvmlDevice_t, nvmlGpmSample_t), "nvmlGpmSampleGet",    \
	  NULL)                                                                                    \
	X(gpm_mig_sample_get, 0, nvmlReturn_t, (nvmlDevice_t, unsigned, nvmlGpmSample_t),          \
	  "nvmlGpmMigSampleGet", NULL)                                                             \
	X(gpm_metrics_get, 0, nvmlReturn_t, (nvmlGpmMetricsGet_t *), "nvmlGpmMetricsGet", NULL)    \
	X(device_get_mig_mode, 0, nvmlReturn_t, (nvmlDevice_t, unsigned *, unsigned *),            \
	  "nvmlDeviceGetMigMode", NULL)                                                            \
	X(device_get_max_mig_device_count, 0, nvmlReturn_t, (nvmlDevice_t, unsigned *),            \
	  "nvmlDeviceGetMaxMigDeviceCount", NULL)                                                  \
	X(device_get_mig_device_handle_by_index, 0, nvmlReturn_t,                                  \
	  (nvmlDevice_t, unsigned, nvmlDevice_t *), "nvmlDeviceGetMigDeviceHandleByIndex", NULL)   \
	X(device_get_gpu_instance_id, 0, nvmlReturn_t, (nvmlDevice_t, unsigned *),                 \
	  "nvmlDeviceGetGpuInstanceId", NULL)                                                      \
	X(device_get_nvlink_state, 0, nvmlReturn_t, (nvmlDevice_t, unsigned, int *),               \
	  "nvmlDeviceGetNvLinkState", NULL)                                                        \
	X(device_get_compute_running_processes, 0, nvmlReturn_t,                                   \
	  (nvmlDevice_t, unsigned *, nvmlProcessInfo_t *),                                         \
	  "nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetComputeRunningProcesses_v2")    \
	X(device_get_graphics_running_processes, 0, nvmlReturn_t,                                  \
	  (nvmlDevice_t, unsigned *, nvmlProcessInfo_t *),                                         \
	  "nvmlDeviceGetGraphicsRunningProcesses_v3", "nvmlDeviceGetGraphicsRunningProcesses_v2")  \
	X(device_get_process_utilization, 0, nvmlReturn_t,                                         \
	  (nvmlDevice_t, nvmlProcessUtilizationSample_t *, unsigned *, unsigned long long),        \
	  "nvmlDeviceGetProcessUtilization", NULL)                                                 \
	X(device_get_fan_speed, 0, nvmlReturn_t, (nvmlDevice_t, unsigned *),                       \
	  "nvmlDeviceGetFanSpeed", NULL)                                                           \
	X(device_get_power_management_limit, 0, nvmlReturn_t, (nvmlDevice_t, unsigned *),          \
	  "nvmlDeviceGetPowerManagementLimit", NULL)                                               \
	X(device_get_violation_status, 0, nvmlReturn_t,                                            \
	  (nvmlDevice_t, int, nvmlViolationTime_t *), "nvmlDeviceGetViolationStatus", NULL)        \
	X(device_get_virtualization_mode, 0, nvmlReturn_t, (nvmlDevice_t, int *),                  \
	  "nvmlDeviceGetVirtualizationMode", NULL)                                                 \
	X(device_get_grid_licensable_features, 0, nvmlReturn_t,                                    \
	  (nvmlDevice_t, nvmlGridLicensableFeatures_t *),                                          \
	  "nvmlDeviceGetGridLicensableFeatures_v4", NULL)                                          \
	X(device_get_brand, 0, nvmlReturn_t, (nvmlDevice_t, int *), "nvmlDeviceGetBrand", NULL)    \
	X(device_get_serial, 0, nvmlReturn_t, (nvmlDevice_t, char *, unsigned),                    \
	  "nvmlDeviceGetSerial", NULL)                                                             \
	X(device_get_vbios_version, 0, nvmlReturn_t, (nvmlDevice_t, char *, unsigned),             \
	  "nvmlDeviceGetVbiosVersion", NULL)                                                       \
	X(device_get_inforom_version, 0, nvmlReturn_t, (nvmlDevice_t, int, char *, unsigned),      \
	  "nvmlDeviceGetInforomVersion", NULL)                                                     \
	X(device_get_inforom_image_version, 0, nvmlReturn_t, (nvmlDevice_t, char *, unsigned),     \
	  "nvmlDeviceGetInforomImageVersion", NULL)                                                \
	X(device_get_p2p_status, 0, nvmlReturn_t, (nvmlDevice_t, nvmlDevice_t, int, int *),        \
	  "nvmlDeviceGetP2PStatus", NULL)

/* Layouts that must match the driver (x86-64 / LP64). */
_Static_assert(sizeof(nvmlPciInfo_t) == 68, "nvmlPciInfo_t layout");
_Static_assert(sizeof(nvmlMemory_t) == 24, "nvmlMemory_t layout");
_Static_assert(sizeof(nvmlMemory_v2_t) == 40, "nvmlMemory_v2_t layout");
_Static_assert(nvmlMemory_v2 == 0x02000028, "nvmlMemory_v2 version word");
_Static_assert(sizeof(nvmlFieldValue_t) == 40, "nvmlFieldValue_t layout");
_Static_assert(offsetof(nvmlFieldValue_t, value) == 32, "nvmlFieldValue_t.value offset");
_Static_assert(sizeof(nvmlEventData_t) == 32, "nvmlEventData_t layout");
_Static_assert(sizeof(nvmlSample_t) == 16, "nvmlSample_t layout");
_Static_assert(sizeof(nvmlViolationTime_t) == 16, "nvmlViolationTime_t layout");
_Static_assert(sizeof(nvmlGridLicensableFeature_t) == 284, "nvmlGridLicensableFeature_t layout");
_Static_assert(sizeof(nvmlGpmMetric_t) == 40, "nvmlGpmMetric_t layout");
_Static_assert(offsetof(nvmlGpmMetricsGet_t, sample1) == 8, "nvmlGpmMetricsGet_t.sample1");
_Static_assert(offsetof(nvmlGpmMetricsGet_t, metrics) == 24, "nvmlGpmMetricsGet_t.metrics");
_Static_assert(sizeof(nvmlProcessInfo_t) == 24, "nvmlProcessInfo_t layout");
_Static_assert(offsetof(nvmlProcessInfo_t, gpuInstanceId) == 16, "nvmlProcessInfo_t.gpuInstanceId");
_Static_assert(sizeof(nvmlProcessUtilizationSample_t) == 32, "nvmlProcessUtilizationSample_t");
_Static_assert(offsetof(nvmlProcessUtilizationSample_t, smUtil) == 16, "smUtil offset");

#endif
