/* metric_table.h - the one table every gpuscope metric is a row of.
 *
 * Exposition (native and dcgm-exporter names, window aggregates, MIG
 * instances), the JSON API, the history's columns, `gpuscope doctor`,
 * dcgm-exporter's counters CSV, `report --prometheus`, docs/metrics.md and
 * the tests are generated from or checked against GPUSCOPE_METRICS below; no
 * other file keeps a list of metrics.  Adding a metric is one row here plus
 * one reader in sample/ (docs/architecture.md, "The metric table", has the
 * steps).
 *
 * Values are kept in the unit NVML returns them in (the row's raw unit:
 * percent, bytes, milliwatts, millijoules, megahertz, ...).  Both exported
 * forms are computed from that raw value with a single exact operation, so a
 * 45 % utilization is exported as 0.45 natively and 45 to dcgm users, never as
 * 45.00000000000001.  metric_native_value() and metric_dcgm_value() are the
 * only two conversions, and metric_raw_of_dcgm() their one inverse.
 *
 * Columns of X(id, name, labels, type, unit, source, flags, help, dcgm, dcgm_help):
 *   id      enum suffix (METRIC_<id>); in lower case, the history's column name
 *   name    native Prometheus name; rows of one family share the name and
 *           differ by their fixed labels, and must be adjacent
 *   labels  fixed extra labels for this row ("" for none), already in
 *           Prometheus syntax, e.g. "error=\"corrected\""; or "@name" for a
 *           row with one series per value of a label found at run time
 *           (NVLink link, Xid code), kept outside raw[] (see snapshot.h) and
 *           not in the history
 *   type    GAUGE or COUNTER
 *   unit    the raw unit (enum metric_unit), which decides both conversions
 *   source  the NVML call that reads it (enum source_id, sample/sources.h);
 *           the source decides the sampling tier
 *   flags   0, or WINDOWED and/or PER_MIG (enum metric_flag)
 *   help    native HELP text
 *   dcgm    dcgm-exporter name, or NULL when dcgm-exporter has none; a "@link"
 *           row's name is a prefix, followed by the link number (_L0.._L17)
 *   dcgm_help dcgm-exporter's HELP text (from its default-counters.csv)
 */
#ifndef GPUSCOPE_METRIC_TABLE_H
#define GPUSCOPE_METRIC_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "series/clock_reasons.h"

enum metric_type { GAUGE, COUNTER };

/* Raw units: what NVML hands back.  Each maps to one native base unit and
 * one dcgm-exporter unit (see metric_unit_info in metric_table.c). */
enum metric_unit {
	UNIT_PERCENT,     /* native ratio 0-1, dcgm % */
	UNIT_ACTIVITY,    /* GPM percent of cycles: native ratio 0-1, dcgm profiling ratio 0-1 */
	UNIT_RATIO,       /* already a ratio 0-1 in both */
	UNIT_MIB_PER_S,   /* GPM MiB/s: native and dcgm bytes per second */
	UNIT_BYTES,       /* native bytes, dcgm MiB (floored, as DCGM does) */
	UNIT_MILLIWATTS,  /* native W, dcgm W */
	UNIT_MILLIJOULES, /* native J, dcgm mJ */
	UNIT_MEGAHERTZ,   /* native Hz, dcgm MHz */
	UNIT_CELSIUS,     /* both degrees Celsius */
	UNIT_SECONDS,     /* both seconds */
	UNIT_COUNT,       /* dimensionless count, state or code */
	UNIT_BYTES_PER_S, /* native bytes per second, dcgm MB/s (10^6 bytes) */
	UNIT_KIND_COUNT
};

/* Sampling tiers.  FAST runs every --fast-interval (100 ms), SLOW every
 * --slow-interval (5 s), BUFFER every BUFFER_INTERVAL_S on the fast thread
 * (the driver's sample buffers, read since the last sample seen: power holds
 * only ~2.4 s of 20 ms samples), COSTLY every --costly-interval (60 s) for
 * calls that burn milliseconds of CPU (on an H200: energy counter 3.4 ms,
 * PCIe replay counter 0.5 ms, GPM graphics engine 1.4 ms, NVLink link states
 * 1.7 ms and counters 16 ms with 18 links; bench/call_cost.c),
 * STATIC once after the probe, EVENT on the event thread, AGENT is computed
 * by gpuscope. */
enum sample_tier {
	TIER_FAST,
	TIER_SLOW,
	TIER_BUFFER,
	TIER_COSTLY,
	TIER_STATIC,
	TIER_EVENT,
	TIER_AGENT,
	TIER_COUNT
};

/* Seconds between reads of the driver's sample buffers: each read costs
 * ~0.7 ms of CPU on an H200 whatever span it covers, and the power buffer
 * holds ~2.4 s (0.4 s of slack for a late sweep). */
#define BUFFER_INTERVAL_S 2.0

/* Utilization samples come every 200 ms; a fast tier at least that fast
 * already sees each one (nvmlDeviceGetUtilizationRates, ~9 us), so their
 * buffers (~2.7 ms a read) are read only when the fast tier is slower. */
#define UTIL_SAMPLE_PERIOD_S 0.2

/* Where a value comes from: X(id, tier, period, NVML call).  Every source is
 * one NVML call (or one agent measurement); sample/sources.c reads them.
 *
 * The tier says which thread reads it (fast and buffer: the fast sweeper;
 * slow and costly: the GPU's worker; static: the probe, once; event: the
 * event thread; agent: computed by gpuscope) and which staleness clock it
 * counts against.  The period says how often (enum source_period); the
 * sampler keeps, per GPU, one list of {source, period, next due} and reads
 * what is due (sample/schedule.h).  Both follow what a call costs taken cold
 * on an H200 (bench/call_cost.c and GPUSCOPE_PROFILE, bench/README.md): the
 * FAST calls 1-20 us, memory info 19-51 us (at most 5 reads a second); PCIe
 * link width 0.16 ms and replays 0.5 ms, the energy counter 3.4 ms, the GPM
 * graphics engine 1.4 ms, NVLink states 1.7 ms and data counters 16 ms for
 * 18 links (COSTLY); ECC mode 0.57 ms, and it only changes across a GPU
 * reset, so it is read once (STATIC).  A worker source whose read costs
 * more than SCHED_DEAR_S of CPU is read SCHED_STRETCH times less often, by
 * one rule in the sampler (the NVLink counters on an H200). */
enum source_period {
	PERIOD_ONCE,     /* not scheduled: read by the probe, on events, or computed */
	PERIOD_FAST,     /* --fast-interval */
	PERIOD_FAST_5HZ, /* --fast-interval, but at most 5 reads a second */
	PERIOD_GPM,      /* --gpm-interval */
	PERIOD_BUFFER,   /* BUFFER_INTERVAL_S: what the driver's buffers hold allows */
	PERIOD_SLOW,     /* --slow-interval */
	PERIOD_COSTLY,   /* --costly-interval */
};

#define GPUSCOPE_SOURCES(X)                                                                      \
	X(UTILIZATION, TIER_FAST, PERIOD_FAST, "nvmlDeviceGetUtilizationRates")                  \
	X(MEMORY, TIER_FAST, PERIOD_FAST_5HZ, "nvmlDeviceGetMemoryInfo_v2")                      \
	X(TEMPERATURE, TIER_FAST, PERIOD_FAST, "nvmlDeviceGetTemperature")                       \
	X(MEMORY_TEMPERATURE, TIER_FAST, PERIOD_FAST, "nvmlDeviceGetFieldValues")                \
	X(POWER, TIER_FAST, PERIOD_FAST, "nvmlDeviceGetPowerUsage")                              \
	X(SM_CLOCK, TIER_FAST, PERIOD_FAST, "nvmlDeviceGetClockInfo")                            \
	X(MEM_CLOCK, TIER_FAST, PERIOD_FAST, "nvmlDeviceGetClockInfo")                           \
	X(CLOCK_EVENT_REASONS, TIER_FAST, PERIOD_FAST, "nvmlDeviceGetCurrentClocksEventReasons") \
	X(PSTATE, TIER_FAST, PERIOD_FAST, "nvmlDeviceGetPerformanceState")                       \
	X(ENCODER, TIER_FAST, PERIOD_FAST, "nvmlDeviceGetEncoderUtilization")                    \
	X(DECODER, TIER_FAST, PERIOD_FAST, "nvmlDeviceGetDecoderUtilization")                    \
	X(GPM, TIER_FAST, PERIOD_GPM, "nvmlGpmMetricsGet")                                       \
	X(GPM_GRAPHICS, TIER_COSTLY, PERIOD_COSTLY, "nvmlGpmMetricsGet")                         \
	X(CLOCK_LOSS, TIER_FAST, PERIOD_FAST, "(SM clock against its maximum)")                  \
	X(POWER_SAMPLES, TIER_BUFFER, PERIOD_BUFFER, "nvmlDeviceGetSamples")                     \
	X(UTIL_SAMPLES, TIER_BUFFER, PERIOD_BUFFER, "nvmlDeviceGetSamples")                      \
	X(ENERGY, TIER_COSTLY, PERIOD_COSTLY, "nvmlDeviceGetTotalEnergyConsumption")             \
	X(POWER_LIMIT, TIER_SLOW, PERIOD_SLOW, "nvmlDeviceGetEnforcedPowerLimit")                \
	X(PCIE_GEN, TIER_SLOW, PERIOD_SLOW, "nvmlDeviceGetCurrPcieLinkGeneration")               \
	X(PCIE_WIDTH, TIER_COSTLY, PERIOD_COSTLY, "nvmlDeviceGetCurrPcieLinkWidth")              \
	X(PCIE_REPLAY, TIER_COSTLY, PERIOD_COSTLY, "nvmlDeviceGetPcieReplayCounter")             \
	X(ECC_MODE, TIER_STATIC, PERIOD_ONCE, "nvmlDeviceGetEccMode")                            \
	X(ECC_SBE_VOLATILE, TIER_SLOW, PERIOD_SLOW, "nvmlDeviceGetTotalEccErrors")               \
	X(ECC_DBE_VOLATILE, TIER_SLOW, PERIOD_SLOW, "nvmlDeviceGetTotalEccErrors")               \
	X(ECC_SBE_AGGREGATE, TIER_SLOW, PERIOD_SLOW, "nvmlDeviceGetTotalEccErrors")              \
	X(ECC_DBE_AGGREGATE, TIER_SLOW, PERIOD_SLOW, "nvmlDeviceGetTotalEccErrors")              \
	X(REMAPPED_ROWS, TIER_SLOW, PERIOD_SLOW, "nvmlDeviceGetRemappedRows")                    \
	X(HEALTH_FIELDS, TIER_SLOW, PERIOD_SLOW, "nvmlDeviceGetFieldValues")                     \
	X(NVLINK, TIER_COSTLY, PERIOD_COSTLY, "nvmlDeviceGetNvLinkState")                        \
	X(NVLINK_DATA, TIER_COSTLY, PERIOD_COSTLY, "nvmlDeviceGetFieldValues")                   \
	X(SLOWDOWN_TEMP, TIER_STATIC, PERIOD_ONCE, "nvmlDeviceGetTemperatureThreshold")          \
	X(SHUTDOWN_TEMP, TIER_STATIC, PERIOD_ONCE, "nvmlDeviceGetTemperatureThreshold")          \
	X(GPU_MAX_TEMP, TIER_STATIC, PERIOD_ONCE, "nvmlDeviceGetTemperatureThreshold")           \
	X(MEM_MAX_TEMP, TIER_STATIC, PERIOD_ONCE, "nvmlDeviceGetTemperatureThreshold")           \
	X(SM_CLOCK_MAX, TIER_STATIC, PERIOD_ONCE, "nvmlDeviceGetMaxClockInfo")                   \
	X(MEM_CLOCK_MAX, TIER_STATIC, PERIOD_ONCE, "nvmlDeviceGetMaxClockInfo")                  \
	X(PCIE_MAX_GEN, TIER_STATIC, PERIOD_ONCE, "nvmlDeviceGetMaxPcieLinkGeneration")          \
	X(PCIE_MAX_WIDTH, TIER_STATIC, PERIOD_ONCE, "nvmlDeviceGetMaxPcieLinkWidth")             \
	X(XID_EVENTS, TIER_EVENT, PERIOD_ONCE, "nvmlDeviceRegisterEvents")                       \
	X(DBE_EVENTS, TIER_EVENT, PERIOD_ONCE, "nvmlDeviceRegisterEvents")                       \
	X(FAN_SPEED, TIER_SLOW, PERIOD_SLOW, "nvmlDeviceGetFanSpeed")                            \
	X(POWER_MGMT_LIMIT, TIER_SLOW, PERIOD_SLOW, "nvmlDeviceGetPowerManagementLimit")         \
	X(VIOLATION_THERMAL, TIER_SLOW, PERIOD_SLOW, "nvmlDeviceGetViolationStatus")             \
	X(VIOLATION_BOARD_LIMIT, TIER_SLOW, PERIOD_SLOW, "nvmlDeviceGetViolationStatus")         \
	X(VIOLATION_LOW_UTIL, TIER_SLOW, PERIOD_SLOW, "nvmlDeviceGetViolationStatus")            \
	X(VIOLATION_RELIABILITY, TIER_SLOW, PERIOD_SLOW, "nvmlDeviceGetViolationStatus")         \
	X(VIRTUALIZATION_MODE, TIER_STATIC, PERIOD_ONCE, "nvmlDeviceGetVirtualizationMode")      \
	X(VGPU_LICENSE, TIER_COSTLY, PERIOD_COSTLY, "nvmlDeviceGetGridLicensableFeatures")       \
	X(P2P, TIER_STATIC, PERIOD_ONCE, "nvmlDeviceGetP2PStatus")                               \
	X(AGENT, TIER_AGENT, PERIOD_ONCE, "(gpuscope)")

enum source_id {
#define SOURCE_ENUM(id, tier, period, call) SRC_##id,
	GPUSCOPE_SOURCES(SOURCE_ENUM)
#undef SOURCE_ENUM
	    SRC_COUNT
};

struct source_def {
	enum sample_tier tier;
	enum source_period period;
	const char *call;
	const char *name; /* the X-macro id: "MEMORY", "GPM" */
};
extern const struct source_def source_table[SRC_COUNT];
const char *sample_tier_name(enum sample_tier tier);

/* What a row has beyond its current value:
 *   WINDOWED  a fast gauge whose every reading is folded into the window ring
 *             (series/window.h): the exporter serves <name>_window_max_<unit>
 *             and _window_mean_ families, and the history keeps the second's
 *             mean, max and min (columns mean_<id>, max_<id>, min_<id>; other
 *             rows keep one value, column <id>)
 *   PER_MIG   a MIG GPU instance has a value of its own (memory, GPM): served
 *             per instance under both name sets (not the GPM graphics engine:
 *             the costly tier reads it for the whole GPU) */
enum metric_flag { WINDOWED = 1, PER_MIG = 2 };

/* A test build adds rows at the end of the table (and of the process families below)
 * through these hooks (series/tests/metric_table_extra.h), to show that one row is all a
 * metric needs; they are empty otherwise. */
#ifndef GPUSCOPE_METRICS_EXTRA
#define GPUSCOPE_METRICS_EXTRA(X)
#endif
#ifndef GPUSCOPE_PROCESS_FAMILIES_EXTRA
#define GPUSCOPE_PROCESS_FAMILIES_EXTRA(X)
#endif

/* clang-format off */
#define GPUSCOPE_METRICS(X) \
X(GPU_UTIL, "gpuscope_gpu_utilization_ratio", "", GAUGE, UNIT_PERCENT, SRC_UTILIZATION, WINDOWED, \
  "Fraction of the driver's last sample period during which one or more kernels ran (NVML utilization.gpu; says nothing of how busy the SMs were).", \
  "DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).") \
X(MEM_UTIL, "gpuscope_memory_controller_utilization_ratio", "", GAUGE, UNIT_PERCENT, SRC_UTILIZATION, WINDOWED, \
  "Fraction of the driver's last sample period during which device memory was read or written.", \
  "DCGM_FI_DEV_MEM_COPY_UTIL", "Memory utilization (in %).") \
X(FB_USED, "gpuscope_memory_used_bytes", "", GAUGE, UNIT_BYTES, SRC_MEMORY, WINDOWED | PER_MIG, \
  "Device memory allocated by processes and the driver.", \
  "DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).") \
X(FB_FREE, "gpuscope_memory_free_bytes", "", GAUGE, UNIT_BYTES, SRC_MEMORY, PER_MIG, \
  "Device memory free for allocation.", \
  "DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).") \
X(FB_RESERVED, "gpuscope_memory_reserved_bytes", "", GAUGE, UNIT_BYTES, SRC_MEMORY, PER_MIG, \
  "Device memory reserved by the system (firmware, ECC); absent on drivers without nvmlDeviceGetMemoryInfo_v2.", \
  "DCGM_FI_DEV_FB_RESERVED", "Framebuffer memory reserved (in MiB).") \
X(FB_TOTAL, "gpuscope_memory_total_bytes", "", GAUGE, UNIT_BYTES, SRC_MEMORY, PER_MIG, \
  "Total installed device memory.", \
  "DCGM_FI_DEV_FB_TOTAL", "Framebuffer memory total (in MiB).") \
X(GPU_TEMP, "gpuscope_temperature_celsius", "", GAUGE, UNIT_CELSIUS, SRC_TEMPERATURE, WINDOWED, \
  "GPU die temperature.", \
  "DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).") \
X(MEM_TEMP, "gpuscope_memory_temperature_celsius", "", GAUGE, UNIT_CELSIUS, SRC_MEMORY_TEMPERATURE, WINDOWED, \
  "HBM memory temperature.", \
  "DCGM_FI_DEV_MEMORY_TEMP", "Memory temperature (in C).") \
X(SLOWDOWN_TEMP, "gpuscope_temperature_slowdown_threshold_celsius", "", GAUGE, UNIT_CELSIUS, SRC_SLOWDOWN_TEMP, 0, \
  "GPU temperature at which the GPU starts slowing its clocks.", \
  "DCGM_FI_DEV_SLOWDOWN_TEMP", "Slowdown temperature for the device (in C).") \
X(SHUTDOWN_TEMP, "gpuscope_temperature_shutdown_threshold_celsius", "", GAUGE, UNIT_CELSIUS, SRC_SHUTDOWN_TEMP, 0, \
  "GPU temperature at which the GPU shuts down.", \
  "DCGM_FI_DEV_SHUTDOWN_TEMP", "Shutdown temperature for the device (in C).") \
X(GPU_MAX_TEMP, "gpuscope_temperature_max_operating_celsius", "", GAUGE, UNIT_CELSIUS, SRC_GPU_MAX_TEMP, 0, \
  "Maximum GPU temperature for normal operation.", \
  "DCGM_FI_DEV_GPU_MAX_OP_TEMP", "Maximum operating temperature for the GPU (in C).") \
X(MEM_MAX_TEMP, "gpuscope_memory_temperature_max_operating_celsius", "", GAUGE, UNIT_CELSIUS, SRC_MEM_MAX_TEMP, 0, \
  "Maximum memory temperature for normal operation.", \
  "DCGM_FI_DEV_MEM_MAX_OP_TEMP", "Maximum operating temperature for the memory (in C).") \
X(FAN_SPEED, "gpuscope_fan_speed_ratio", "", GAUGE, UNIT_PERCENT, SRC_FAN_SPEED, 0, \
  "Fan speed the driver asks for, as a fraction of the maximum; absent on GPUs cooled by the chassis (an H200 answers NOT_SUPPORTED).", \
  "DCGM_FI_DEV_FAN_SPEED", "Fan speed for the device in percent 0-100.") \
X(POWER, "gpuscope_power_watts", "", GAUGE, UNIT_MILLIWATTS, SRC_POWER, WINDOWED, \
  "Power draw as the driver reports it (a 1 s average on Ampere and newer, except GA100).", \
  "DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).") \
X(POWER_LIMIT, "gpuscope_power_limit_watts", "", GAUGE, UNIT_MILLIWATTS, SRC_POWER_LIMIT, 0, \
  "Power limit the driver enforces.", \
  "DCGM_FI_DEV_ENFORCED_POWER_LIMIT", "Effective power limit that the driver enforces (in W).") \
X(POWER_MGMT_LIMIT, "gpuscope_power_management_limit_watts", "", GAUGE, UNIT_MILLIWATTS, SRC_POWER_MGMT_LIMIT, 0, \
  "Power limit set for the GPU (its default, or what nvidia-smi -pl set); the limit the driver enforces can be lower (gpuscope_power_limit_watts).", \
  "DCGM_FI_DEV_POWER_MGMT_LIMIT", "Current power limit for the device (in W).") \
X(ENERGY, "gpuscope_energy_joules_total", "", COUNTER, UNIT_MILLIJOULES, SRC_ENERGY, 0, \
  "Energy consumed since the driver was last loaded (read every --costly-interval: the call costs milliseconds).", \
  "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "Total energy consumption since boot (in mJ).") \
X(SM_CLOCK, "gpuscope_sm_clock_hertz", "", GAUGE, UNIT_MEGAHERTZ, SRC_SM_CLOCK, WINDOWED, \
  "Current SM clock.", \
  "DCGM_FI_DEV_SM_CLOCK", "SM clock frequency (in MHz).") \
X(MEM_CLOCK, "gpuscope_memory_clock_hertz", "", GAUGE, UNIT_MEGAHERTZ, SRC_MEM_CLOCK, WINDOWED, \
  "Current memory clock.", \
  "DCGM_FI_DEV_MEM_CLOCK", "Memory clock frequency (in MHz).") \
X(SM_CLOCK_MAX, "gpuscope_sm_clock_max_hertz", "", GAUGE, UNIT_MEGAHERTZ, SRC_SM_CLOCK_MAX, 0, \
  "Maximum SM clock of the GPU.", \
  "DCGM_FI_DEV_MAX_SM_CLOCK", "Maximum SM clock for the device (in MHz).") \
X(MEM_CLOCK_MAX, "gpuscope_memory_clock_max_hertz", "", GAUGE, UNIT_MEGAHERTZ, SRC_MEM_CLOCK_MAX, 0, \
  "Maximum memory clock of the GPU.", \
  "DCGM_FI_DEV_MAX_MEM_CLOCK", "Maximum memory clock for the device (in MHz).") \
X(CLOCK_EVENT_REASONS, "gpuscope_clock_event_reasons", "", GAUGE, UNIT_COUNT, SRC_CLOCK_EVENT_REASONS, 0, \
  "Bitmask of the reasons the clocks are held down now (0x1 idle, 0x2 applications clocks setting, 0x4 software power cap, 0x8 hardware slowdown, 0x10 sync boost, 0x20 software thermal slowdown, 0x40 hardware thermal slowdown, 0x80 power brake, 0x100 display clock setting).", \
  "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", "Current clock throttle reasons (bitmask).") \
X(PSTATE, "gpuscope_performance_state", "", GAUGE, UNIT_COUNT, SRC_PSTATE, 0, \
  "Performance state, 0 (P0, maximum performance) to 15 (P15, minimum).", \
  "DCGM_FI_DEV_PSTATE", "Performance state (P-State) 0-15. 0=highest") \
X(ENC_UTIL, "gpuscope_encoder_utilization_ratio", "", GAUGE, UNIT_PERCENT, SRC_ENCODER, WINDOWED, \
  "Fraction of time the video encoder was busy.", \
  "DCGM_FI_DEV_ENC_UTIL", "Encoder utilization (in %).") \
X(DEC_UTIL, "gpuscope_decoder_utilization_ratio", "", GAUGE, UNIT_PERCENT, SRC_DECODER, WINDOWED, \
  "Fraction of time the video decoder was busy.", \
  "DCGM_FI_DEV_DEC_UTIL", "Decoder utilization (in %).") \
X(GPM_GRAPHICS, "gpuscope_graphics_engine_active_ratio", "", GAUGE, UNIT_ACTIVITY, SRC_GPM_GRAPHICS, 0, \
  "Fraction of time the graphics or compute engine was active over the last --costly-interval (GPM; the driver takes ~1.4 ms of CPU to compute it).", \
  "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "Ratio of time the graphics engine is active.") \
X(GPM_SM_ACTIVE, "gpuscope_sm_active_ratio", "", GAUGE, UNIT_ACTIVITY, SRC_GPM, WINDOWED | PER_MIG, \
  "Fraction of SM cycles with at least one warp resident, averaged over all SMs (GPM); unlike utilization it falls when a kernel uses few SMs.", \
  "DCGM_FI_PROF_SM_ACTIVE", "The ratio of cycles an SM has at least 1 warp assigned.") \
X(GPM_SM_OCCUPANCY, "gpuscope_sm_occupancy_ratio", "", GAUGE, UNIT_ACTIVITY, SRC_GPM, WINDOWED | PER_MIG, \
  "Resident warps as a fraction of the maximum an SM can hold, averaged over time and SMs (GPM).", \
  "DCGM_FI_PROF_SM_OCCUPANCY", "The ratio of number of warps resident on an SM.") \
X(GPM_TENSOR, "gpuscope_tensor_active_ratio", "", GAUGE, UNIT_ACTIVITY, SRC_GPM, WINDOWED | PER_MIG, \
  "Fraction of cycles any tensor-core pipe was active (GPM); high with high SM activity means tensor-bound.", \
  "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "Ratio of cycles the tensor (HMMA) pipe is active.") \
X(GPM_HMMA, "gpuscope_tensor_pipe_active_ratio", "pipe=\"hmma\"", GAUGE, UNIT_ACTIVITY, SRC_GPM, WINDOWED | PER_MIG, \
  "Fraction of cycles each tensor-core pipe was active (GPM): hmma (fp16/bf16/tf32/fp8), imma (integer), dfma (fp64).", \
  "DCGM_FI_PROF_PIPE_TENSOR_HMMA_ACTIVE", "Ratio of cycles the tensor (HMMA) pipe is active.") \
X(GPM_IMMA, "gpuscope_tensor_pipe_active_ratio", "pipe=\"imma\"", GAUGE, UNIT_ACTIVITY, SRC_GPM, WINDOWED | PER_MIG, \
  "Fraction of cycles each tensor-core pipe was active (GPM): hmma (fp16/bf16/tf32/fp8), imma (integer), dfma (fp64).", \
  "DCGM_FI_PROF_PIPE_TENSOR_IMMA_ACTIVE", "Ratio of cycles the tensor (IMMA) pipe is active.") \
X(GPM_DFMA, "gpuscope_tensor_pipe_active_ratio", "pipe=\"dfma\"", GAUGE, UNIT_ACTIVITY, SRC_GPM, WINDOWED | PER_MIG, \
  "Fraction of cycles each tensor-core pipe was active (GPM): hmma (fp16/bf16/tf32/fp8), imma (integer), dfma (fp64).", \
  "DCGM_FI_PROF_PIPE_TENSOR_DFMA_ACTIVE", "Ratio of cycles the tensor (DFMA) pipe is active.") \
X(GPM_DRAM, "gpuscope_dram_active_ratio", "", GAUGE, UNIT_ACTIVITY, SRC_GPM, WINDOWED | PER_MIG, \
  "Fraction of cycles the device memory interface was sending or receiving data (GPM); near 1 with low tensor activity means bandwidth-bound.", \
  "DCGM_FI_PROF_DRAM_ACTIVE", "Ratio of cycles the device memory interface is active sending or receiving data.") \
X(GPM_FP64, "gpuscope_pipe_active_ratio", "pipe=\"fp64\"", GAUGE, UNIT_ACTIVITY, SRC_GPM, WINDOWED | PER_MIG, \
  "Fraction of cycles each arithmetic pipe was active (GPM): fp64, fp32, fp16, integer.", \
  "DCGM_FI_PROF_PIPE_FP64_ACTIVE", "Ratio of cycles the fp64 pipes are active.") \
X(GPM_FP32, "gpuscope_pipe_active_ratio", "pipe=\"fp32\"", GAUGE, UNIT_ACTIVITY, SRC_GPM, WINDOWED | PER_MIG, \
  "Fraction of cycles each arithmetic pipe was active (GPM): fp64, fp32, fp16, integer.", \
  "DCGM_FI_PROF_PIPE_FP32_ACTIVE", "Ratio of cycles the fp32 pipes are active.") \
X(GPM_FP16, "gpuscope_pipe_active_ratio", "pipe=\"fp16\"", GAUGE, UNIT_ACTIVITY, SRC_GPM, WINDOWED | PER_MIG, \
  "Fraction of cycles each arithmetic pipe was active (GPM): fp64, fp32, fp16, integer.", \
  "DCGM_FI_PROF_PIPE_FP16_ACTIVE", "Ratio of cycles the fp16 pipes are active.") \
X(GPM_INTEGER, "gpuscope_pipe_active_ratio", "pipe=\"integer\"", GAUGE, UNIT_ACTIVITY, SRC_GPM, WINDOWED | PER_MIG, \
  "Fraction of cycles each arithmetic pipe was active (GPM): fp64, fp32, fp16, integer.", \
  "DCGM_FI_PROF_PIPE_INT_ACTIVE", "Ratio of cycles the integer pipe is active.") \
X(GPM_PCIE_TX, "gpuscope_pcie_transmit_bytes_per_second", "", GAUGE, UNIT_MIB_PER_S, SRC_GPM, WINDOWED | PER_MIG, \
  "PCIe traffic from the GPU to the host, headers included (GPM).", \
  "DCGM_FI_PROF_PCIE_TX_BYTES", "The rate of data transmitted over the PCIe bus - including both protocol headers and data payloads - in bytes per second.") \
X(GPM_PCIE_RX, "gpuscope_pcie_receive_bytes_per_second", "", GAUGE, UNIT_MIB_PER_S, SRC_GPM, WINDOWED | PER_MIG, \
  "PCIe traffic from the host to the GPU, headers included (GPM).", \
  "DCGM_FI_PROF_PCIE_RX_BYTES", "The rate of data received over the PCIe bus - including both protocol headers and data payloads - in bytes per second.") \
X(GPM_NVLINK_TX, "gpuscope_nvlink_transmit_bytes_per_second", "", GAUGE, UNIT_MIB_PER_S, SRC_GPM, WINDOWED | PER_MIG, \
  "NVLink traffic sent by the GPU over all links (GPM).", \
  "DCGM_FI_PROF_NVLINK_TX_BYTES", "The rate of data transmitted over NVLink, not including protocol headers, in bytes per second.") \
X(GPM_NVLINK_RX, "gpuscope_nvlink_receive_bytes_per_second", "", GAUGE, UNIT_MIB_PER_S, SRC_GPM, WINDOWED | PER_MIG, \
  "NVLink traffic received by the GPU over all links (GPM).", \
  "DCGM_FI_PROF_NVLINK_RX_BYTES", "The rate of data received over NVLink, not including protocol headers, in bytes per second.") \
X(GPM_NVDEC, "gpuscope_nvdec_active_ratio", "", GAUGE, UNIT_ACTIVITY, SRC_GPM, WINDOWED | PER_MIG, \
  "Fraction of time the video decoders (NVDEC) were busy, averaged over the decoders the GPU has (GPM).", \
  NULL, NULL) \
X(GPM_NVJPG, "gpuscope_nvjpg_active_ratio", "", GAUGE, UNIT_ACTIVITY, SRC_GPM, WINDOWED | PER_MIG, \
  "Fraction of time the JPEG decoders (NVJPG) were busy, averaged over the decoders the GPU has (GPM).", \
  NULL, NULL) \
X(CLOCK_LOSS, "gpuscope_sm_clock_loss_ratio", "", GAUGE, UNIT_RATIO, SRC_CLOCK_LOSS, WINDOWED, \
  "Fraction of the maximum SM clock lost to throttling now: 1 - clock/max while a reason other than idle holds the clocks down, else 0.", \
  NULL, NULL) \
X(POWER_INSTANT, "gpuscope_power_instant_watts", "", GAUGE, UNIT_MILLIWATTS, SRC_POWER_SAMPLES, WINDOWED, \
  "Newest of the driver's 20 ms power samples (instantaneous, unlike gpuscope_power_watts); its window aggregates see every sample.", \
  "DCGM_FI_DEV_POWER_USAGE_INSTANT", "Current instantaneous power usage of the device (in W).") \
X(POWER_INTEGRATED, "gpuscope_power_integrated_joules_total", "", COUNTER, UNIT_MILLIJOULES, SRC_POWER_SAMPLES, 0, \
  "Energy integrated from the driver's 20 ms power samples since the agent started: finer than the energy counter for windows shorter than the slow tier.", \
  NULL, NULL) \
X(THROTTLE_IDLE, "gpuscope_clock_event_seconds_total", "reason=\"idle\"", COUNTER, UNIT_SECONDS, SRC_CLOCK_EVENT_REASONS, 0, \
  "Time the clocks were held down, by reason (from the reasons bitmask at each fast sweep, so resolution is one --fast-interval).", \
  NULL, NULL) \
X(THROTTLE_APP_CLOCKS, "gpuscope_clock_event_seconds_total", "reason=\"clocks_setting\"", COUNTER, UNIT_SECONDS, SRC_CLOCK_EVENT_REASONS, 0, \
  "Time the clocks were held down, by reason (from the reasons bitmask at each fast sweep, so resolution is one --fast-interval).", \
  NULL, NULL) \
X(THROTTLE_POWER_CAP, "gpuscope_clock_event_seconds_total", "reason=\"power_cap\"", COUNTER, UNIT_SECONDS, SRC_CLOCK_EVENT_REASONS, 0, \
  "Time the clocks were held down, by reason (from the reasons bitmask at each fast sweep, so resolution is one --fast-interval).", \
  "DCGM_FI_DEV_POWER_VIOLATION", "Throttling duration due to power constraints (in ns).") \
X(THROTTLE_HW_SLOWDOWN, "gpuscope_clock_event_seconds_total", "reason=\"hw_slowdown\"", COUNTER, UNIT_SECONDS, SRC_CLOCK_EVENT_REASONS, 0, \
  "Time the clocks were held down, by reason (from the reasons bitmask at each fast sweep, so resolution is one --fast-interval).", \
  NULL, NULL) \
X(THROTTLE_SYNC_BOOST, "gpuscope_clock_event_seconds_total", "reason=\"sync_boost\"", COUNTER, UNIT_SECONDS, SRC_CLOCK_EVENT_REASONS, 0, \
  "Time the clocks were held down, by reason (from the reasons bitmask at each fast sweep, so resolution is one --fast-interval).", \
  "DCGM_FI_DEV_SYNC_BOOST_VIOLATION", "Throttling duration due to sync-boost constraints (in ns).") \
X(THROTTLE_SW_THERMAL, "gpuscope_clock_event_seconds_total", "reason=\"sw_thermal\"", COUNTER, UNIT_SECONDS, SRC_CLOCK_EVENT_REASONS, 0, \
  "Time the clocks were held down, by reason (from the reasons bitmask at each fast sweep, so resolution is one --fast-interval).", \
  NULL, NULL) \
X(THROTTLE_HW_THERMAL, "gpuscope_clock_event_seconds_total", "reason=\"hw_thermal\"", COUNTER, UNIT_SECONDS, SRC_CLOCK_EVENT_REASONS, 0, \
  "Time the clocks were held down, by reason (from the reasons bitmask at each fast sweep, so resolution is one --fast-interval).", \
  NULL, NULL) \
X(THROTTLE_POWER_BRAKE, "gpuscope_clock_event_seconds_total", "reason=\"power_brake\"", COUNTER, UNIT_SECONDS, SRC_CLOCK_EVENT_REASONS, 0, \
  "Time the clocks were held down, by reason (from the reasons bitmask at each fast sweep, so resolution is one --fast-interval).", \
  NULL, NULL) \
X(CLOCK_ACTIVE_POWER_CAP, "gpuscope_clock_event_active_ratio", "reason=\"power_cap\"", GAUGE, UNIT_RATIO, SRC_CLOCK_EVENT_REASONS, WINDOWED, \
  "1 while the reason holds the clocks down at this fast sweep, else 0; its window mean is the share of the fast sweeps in which it held (history keeps it per second, so a periodic load cannot alias it).", \
  NULL, NULL) \
X(CLOCK_ACTIVE_POWER_BRAKE, "gpuscope_clock_event_active_ratio", "reason=\"power_brake\"", GAUGE, UNIT_RATIO, SRC_CLOCK_EVENT_REASONS, WINDOWED, \
  "1 while the reason holds the clocks down at this fast sweep, else 0; its window mean is the share of the fast sweeps in which it held (history keeps it per second, so a periodic load cannot alias it).", \
  NULL, NULL) \
X(CLOCK_ACTIVE_SW_THERMAL, "gpuscope_clock_event_active_ratio", "reason=\"sw_thermal\"", GAUGE, UNIT_RATIO, SRC_CLOCK_EVENT_REASONS, WINDOWED, \
  "1 while the reason holds the clocks down at this fast sweep, else 0; its window mean is the share of the fast sweeps in which it held (history keeps it per second, so a periodic load cannot alias it).", \
  NULL, NULL) \
X(CLOCK_ACTIVE_HW_THERMAL, "gpuscope_clock_event_active_ratio", "reason=\"hw_thermal\"", GAUGE, UNIT_RATIO, SRC_CLOCK_EVENT_REASONS, WINDOWED, \
  "1 while the reason holds the clocks down at this fast sweep, else 0; its window mean is the share of the fast sweeps in which it held (history keeps it per second, so a periodic load cannot alias it).", \
  NULL, NULL) \
X(VIOLATION_THERMAL, "gpuscope_clock_violation_seconds_total", "policy=\"thermal\"", COUNTER, UNIT_SECONDS, SRC_VIOLATION_THERMAL, 0, \
  "Time the driver held the clocks below those requested, by policy, since it loaded (its own count, nvmlDeviceGetViolationStatus; unlike gpuscope_clock_event_seconds_total it is not sampled).", \
  "DCGM_FI_DEV_THERMAL_VIOLATION", "Throttling duration due to thermal constraints (in ns).") \
X(VIOLATION_BOARD_LIMIT, "gpuscope_clock_violation_seconds_total", "policy=\"board_limit\"", COUNTER, UNIT_SECONDS, SRC_VIOLATION_BOARD_LIMIT, 0, \
  "Time the driver held the clocks below those requested, by policy, since it loaded (its own count, nvmlDeviceGetViolationStatus; unlike gpuscope_clock_event_seconds_total it is not sampled).", \
  "DCGM_FI_DEV_BOARD_LIMIT_VIOLATION", "Throttling duration due to board limit constraints (in ns).") \
X(VIOLATION_LOW_UTIL, "gpuscope_clock_violation_seconds_total", "policy=\"low_utilization\"", COUNTER, UNIT_SECONDS, SRC_VIOLATION_LOW_UTIL, 0, \
  "Time the driver held the clocks below those requested, by policy, since it loaded (its own count, nvmlDeviceGetViolationStatus; unlike gpuscope_clock_event_seconds_total it is not sampled).", \
  "DCGM_FI_DEV_LOW_UTIL_VIOLATION", "Throttling duration due to low utilization (in ns).") \
X(VIOLATION_RELIABILITY, "gpuscope_clock_violation_seconds_total", "policy=\"reliability\"", COUNTER, UNIT_SECONDS, SRC_VIOLATION_RELIABILITY, 0, \
  "Time the driver held the clocks below those requested, by policy, since it loaded (its own count, nvmlDeviceGetViolationStatus; unlike gpuscope_clock_event_seconds_total it is not sampled).", \
  "DCGM_FI_DEV_RELIABILITY_VIOLATION", "Throttling duration due to reliability constraints (in ns).") \
X(PCIE_LINK_GEN, "gpuscope_pcie_link_generation", "", GAUGE, UNIT_COUNT, SRC_PCIE_GEN, 0, \
  "Current PCIe link generation (drops when the link idles or degrades).", \
  "DCGM_FI_DEV_PCIE_LINK_GEN", "PCIe link generation.") \
X(PCIE_LINK_WIDTH, "gpuscope_pcie_link_width", "", GAUGE, UNIT_COUNT, SRC_PCIE_WIDTH, 0, \
  "Current PCIe link width in lanes.", \
  "DCGM_FI_DEV_PCIE_LINK_WIDTH", "PCIe link width.") \
X(PCIE_MAX_GEN, "gpuscope_pcie_link_max_generation", "", GAUGE, UNIT_COUNT, SRC_PCIE_MAX_GEN, 0, \
  "Maximum PCIe link generation of the GPU and system.", \
  "DCGM_FI_DEV_PCIE_MAX_LINK_GEN", "Maximum PCIe link generation.") \
X(PCIE_MAX_WIDTH, "gpuscope_pcie_link_max_width", "", GAUGE, UNIT_COUNT, SRC_PCIE_MAX_WIDTH, 0, \
  "Maximum PCIe link width in lanes.", \
  "DCGM_FI_DEV_PCIE_MAX_LINK_WIDTH", "Maximum PCIe link width.") \
X(PCIE_REPLAY, "gpuscope_pcie_replays_total", "", COUNTER, UNIT_COUNT, SRC_PCIE_REPLAY, 0, \
  "PCIe replays (link-level retransmissions); a growing count means a marginal link.", \
  "DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "Total number of PCIe retries.") \
X(ECC_ENABLED, "gpuscope_ecc_enabled", "", GAUGE, UNIT_COUNT, SRC_ECC_MODE, 0, \
  "1 when ECC is enabled on the GPU now, 0 when it is off.", \
  "DCGM_FI_DEV_ECC_CURRENT", "Current ECC mode for the device.") \
X(ECC_SBE_VOL, "gpuscope_ecc_errors_total", "error=\"corrected\",scope=\"volatile\"", COUNTER, UNIT_COUNT, SRC_ECC_SBE_VOLATILE, 0, \
  "ECC errors: corrected (single-bit) or uncorrected (double-bit), since the driver loaded (volatile) or over the GPU's life (aggregate).", \
  "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", "Total number of single-bit volatile ECC errors.") \
X(ECC_DBE_VOL, "gpuscope_ecc_errors_total", "error=\"uncorrected\",scope=\"volatile\"", COUNTER, UNIT_COUNT, SRC_ECC_DBE_VOLATILE, 0, \
  "ECC errors: corrected (single-bit) or uncorrected (double-bit), since the driver loaded (volatile) or over the GPU's life (aggregate).", \
  "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "Total number of double-bit volatile ECC errors.") \
X(ECC_SBE_AGG, "gpuscope_ecc_errors_total", "error=\"corrected\",scope=\"aggregate\"", COUNTER, UNIT_COUNT, SRC_ECC_SBE_AGGREGATE, 0, \
  "ECC errors: corrected (single-bit) or uncorrected (double-bit), since the driver loaded (volatile) or over the GPU's life (aggregate).", \
  "DCGM_FI_DEV_ECC_SBE_AGG_TOTAL", "Total number of single-bit persistent ECC errors.") \
X(ECC_DBE_AGG, "gpuscope_ecc_errors_total", "error=\"uncorrected\",scope=\"aggregate\"", COUNTER, UNIT_COUNT, SRC_ECC_DBE_AGGREGATE, 0, \
  "ECC errors: corrected (single-bit) or uncorrected (double-bit), since the driver loaded (volatile) or over the GPU's life (aggregate).", \
  "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL", "Total number of double-bit persistent ECC errors.") \
X(REMAP_CORRECTABLE, "gpuscope_remapped_rows_total", "cause=\"correctable\"", COUNTER, UNIT_COUNT, SRC_REMAPPED_ROWS, 0, \
  "Memory rows remapped to spares, by the kind of error that caused it.", \
  "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "Number of remapped rows for correctable errors") \
X(REMAP_UNCORRECTABLE, "gpuscope_remapped_rows_total", "cause=\"uncorrectable\"", COUNTER, UNIT_COUNT, SRC_REMAPPED_ROWS, 0, \
  "Memory rows remapped to spares, by the kind of error that caused it.", \
  "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "Number of remapped rows for uncorrectable errors") \
X(REMAP_PENDING, "gpuscope_row_remap_pending", "", GAUGE, UNIT_COUNT, SRC_REMAPPED_ROWS, 0, \
  "1 when a row remap waits for a GPU reset to take effect.", \
  "DCGM_FI_DEV_ROW_REMAP_PENDING", "Whether remapping of rows is pending.") \
X(REMAP_FAILURE, "gpuscope_row_remap_failure", "", GAUGE, UNIT_COUNT, SRC_REMAPPED_ROWS, 0, \
  "1 when a row remap has failed (the GPU needs service).", \
  "DCGM_FI_DEV_ROW_REMAP_FAILURE", "Whether remapping of rows has failed") \
X(RETIRED_SBE, "gpuscope_retired_pages_total", "cause=\"single_bit\"", COUNTER, UNIT_COUNT, SRC_HEALTH_FIELDS, 0, \
  "Memory pages retired, by the kind of ECC error that caused it (GPUs before Hopper; Hopper and newer remap rows instead).", \
  "DCGM_FI_DEV_RETIRED_SBE", "Total number of retired pages due to single-bit errors.") \
X(RETIRED_DBE, "gpuscope_retired_pages_total", "cause=\"double_bit\"", COUNTER, UNIT_COUNT, SRC_HEALTH_FIELDS, 0, \
  "Memory pages retired, by the kind of ECC error that caused it (GPUs before Hopper; Hopper and newer remap rows instead).", \
  "DCGM_FI_DEV_RETIRED_DBE", "Total number of retired pages due to double-bit errors.") \
X(RETIRED_PENDING, "gpuscope_retired_pages_pending", "", GAUGE, UNIT_COUNT, SRC_HEALTH_FIELDS, 0, \
  "Memory pages waiting to be retired at the next GPU reset.", \
  "DCGM_FI_DEV_RETIRED_PENDING", "Total number of pages pending retirement.") \
X(NVLINK_CRC_FLIT, "gpuscope_nvlink_errors_total", "error=\"crc_flit\"", COUNTER, UNIT_COUNT, SRC_HEALTH_FIELDS, 0, \
  "NVLink errors over all links, by kind: flow-control CRC, data CRC, replays, recoveries (growing counts mean a failing link).", \
  "DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL", "Total number of NVLink flow-control CRC errors.") \
X(NVLINK_CRC_DATA, "gpuscope_nvlink_errors_total", "error=\"crc_data\"", COUNTER, UNIT_COUNT, SRC_HEALTH_FIELDS, 0, \
  "NVLink errors over all links, by kind: flow-control CRC, data CRC, replays, recoveries (growing counts mean a failing link).", \
  "DCGM_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL", "Total number of NVLink data CRC errors.") \
X(NVLINK_REPLAY, "gpuscope_nvlink_errors_total", "error=\"replay\"", COUNTER, UNIT_COUNT, SRC_HEALTH_FIELDS, 0, \
  "NVLink errors over all links, by kind: flow-control CRC, data CRC, replays, recoveries (growing counts mean a failing link).", \
  "DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL", "Total number of NVLink retries.") \
X(NVLINK_RECOVERY, "gpuscope_nvlink_errors_total", "error=\"recovery\"", COUNTER, UNIT_COUNT, SRC_HEALTH_FIELDS, 0, \
  "NVLink errors over all links, by kind: flow-control CRC, data CRC, replays, recoveries (growing counts mean a failing link).", \
  "DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL", "Total number of NVLink recovery errors.") \
X(NVLINK_UP, "gpuscope_nvlink_up", "@link", GAUGE, UNIT_COUNT, SRC_NVLINK, 0, \
  "1 when the NVLink link is up, 0 when it is down; one series per link the GPU has.", \
  NULL, NULL) \
X(NVLINK_TX_BYTES, "gpuscope_nvlink_transmit_bytes_total", "@link", COUNTER, UNIT_BYTES, SRC_NVLINK_DATA, 0, \
  "Data bytes sent over each NVLink link since the driver loaded (NVML field 138, KiB resolution).", \
  NULL, NULL) \
X(NVLINK_RX_BYTES, "gpuscope_nvlink_receive_bytes_total", "@link", COUNTER, UNIT_BYTES, SRC_NVLINK_DATA, 0, \
  "Data bytes received over each NVLink link since the driver loaded (NVML field 139, KiB resolution).", \
  NULL, NULL) \
X(NVLINK_BANDWIDTH, "gpuscope_nvlink_link_data_bytes_per_second", "@link", GAUGE, UNIT_BYTES_PER_S, SRC_NVLINK_DATA, 0, \
  "Data bytes sent plus received per second over each NVLink link, between the last two reads of its counters (none after the first read or when a counter went back).", \
  "DCGM_FI_DEV_NVLINK_BANDWIDTH_L", "NVLink bandwidth of one link (tx+rx) in MB/s.") \
X(NVLINK_BANDWIDTH_TOTAL, "gpuscope_nvlink_data_bytes_per_second", "", GAUGE, UNIT_BYTES_PER_S, SRC_NVLINK_DATA, 0, \
  "Data bytes sent plus received per second over all NVLink links, between the last two reads of their counters.", \
  "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "Total number of NVLink bandwidth counters for all lanes.") \
X(VIRTUALIZATION_MODE, "gpuscope_virtualization_mode", "", GAUGE, UNIT_COUNT, SRC_VIRTUALIZATION_MODE, 0, \
  "How the GPU is virtualized: 0 not at all (bare metal), 1 passed through to a VM, 2 a vGPU in a guest, 3 a vGPU host, 4 a vSGA host.", \
  "DCGM_FI_DEV_VIRTUAL_MODE", "Virtualization mode of the GPU.") \
X(VGPU_LICENSED, "gpuscope_vgpu_licensed", "", GAUGE, UNIT_COUNT, SRC_VGPU_LICENSE, 0, \
  "1 while the GPU's vGPU software licence is held, 0 when it is not (a vGPU guest, or a GPU that takes a licence; absent where licensing does not apply, as on bare metal).", \
  "DCGM_FI_DEV_VGPU_LICENSE_STATUS", "vGPU License status") \
X(NVLINK_P2P_PEERS, "gpuscope_nvlink_p2p_peers", "", GAUGE, UNIT_COUNT, SRC_P2P, 0, \
  "Other GPUs this GPU reaches peer-to-peer over NVLink (nvmlDeviceGetP2PStatus, read once; 0 on a GPU linked by PCIe alone); each pair's status is served under dcgm-exporter's P2P status name.", \
  NULL, NULL) \
X(XID_COUNT, "gpuscope_xid_errors_total", "", COUNTER, UNIT_COUNT, SRC_XID_EVENTS, 0, \
  "Xid error events the driver reported since the agent started.", \
  NULL, NULL) \
X(XID_BY_CODE, "gpuscope_xid_code_errors_total", "@xid", COUNTER, UNIT_COUNT, SRC_XID_EVENTS, 0, \
  "Xid error events since the agent started, by Xid code (a series appears with the first event of its code).", \
  NULL, NULL) \
X(XID_LAST, "gpuscope_xid_last", "", GAUGE, UNIT_COUNT, SRC_XID_EVENTS, 0, \
  "Code of the last Xid error since the agent started (0: none).", \
  "DCGM_FI_DEV_XID_ERRORS", "Value of the last XID error encountered.") \
X(DBE_EVENTS, "gpuscope_ecc_dbe_events_total", "", COUNTER, UNIT_COUNT, SRC_DBE_EVENTS, 0, \
  "Double-bit (uncorrectable) ECC error events since the agent started.", \
  NULL, NULL) \
X(GPU_UP, "gpuscope_gpu_up", "", GAUGE, UNIT_COUNT, SRC_AGENT, 0, \
  "1 while the GPU answers; 0 when it is lost, hung or failing (see /healthz for why).", \
  NULL, NULL) \
X(FAST_SWEEP, "gpuscope_sample_duration_seconds", "tier=\"fast\"", GAUGE, UNIT_SECONDS, SRC_AGENT, 0, \
  "Wall time of the last sampling sweep of this GPU, by tier.", \
  NULL, NULL) \
X(SLOW_SWEEP, "gpuscope_sample_duration_seconds", "tier=\"slow\"", GAUGE, UNIT_SECONDS, SRC_AGENT, 0, \
  "Wall time of the last sampling sweep of this GPU, by tier.", \
  NULL, NULL) \
X(FAST_READS, "gpuscope_sample_reads_total", "tier=\"fast\"", COUNTER, UNIT_COUNT, SRC_AGENT, 0, \
  "NVML reads the fast tier made for this GPU since the agent started (fewer while the GPU is idle: --idle-interval).", \
  NULL, NULL) \
X(SAMPLE_IDLE, "gpuscope_sample_idle", "", GAUGE, UNIT_COUNT, SRC_AGENT, 0, \
  "1 while the sampler's idle rule reads this GPU's fast sources every --idle-interval (utilization still every fast interval), 0 otherwise.", \
  NULL, NULL) \
X(TOKENS_GENERATED, "gpuscope_tokens_generated_total", "", COUNTER, UNIT_COUNT, SRC_AGENT, 0, \
  "Tokens generated by the inference servers on this GPU since the agent started, a server on several GPUs split by its share of each (docs/servers.md); absent while no server is joined to the GPU.", \
  NULL, NULL) \
X(REQUESTS_COMPLETED, "gpuscope_inference_requests_total", "", COUNTER, UNIT_COUNT, SRC_AGENT, 0, \
  "Requests completed by the inference servers on this GPU since the agent started, split like gpuscope_tokens_generated_total.", \
  NULL, NULL) \
GPUSCOPE_METRICS_EXTRA(X)
/* clang-format on */

enum metric_id {
#define METRIC_ENUM(id, ...) METRIC_##id,
	GPUSCOPE_METRICS(METRIC_ENUM)
#undef METRIC_ENUM
	    METRIC_COUNT
};

struct metric_def {
	const char *id; /* "GPU_UTIL" */
	const char *name;
	const char *labels;
	enum metric_type type;
	enum metric_unit unit;
	enum source_id source;
	unsigned flags; /* enum metric_flag bits */
	const char *help;
	const char *dcgm;
	const char *dcgm_help;
};

extern const struct metric_def metric_table[METRIC_COUNT];

/* Units as documented in docs/metrics.md. */
const char *metric_native_unit(enum metric_unit unit);
const char *metric_dcgm_unit(enum metric_unit unit);

/* The two exported forms of a raw value; each is one correctly rounded
 * operation on the raw value (or a floor, for MiB). */
double metric_native_value(enum metric_unit unit, double raw);
double metric_dcgm_value(enum metric_unit unit, double raw);

/* A dcgm-exporter value back in the raw unit: metric_dcgm_value's inverse
 * (MiB were floored, so bytes come back as whole MiB). */
double metric_raw_of_dcgm(enum metric_unit unit, double dcgm);

/* The row of a dcgm-exporter name: the row whose dcgm is that name, or for a
 * "@link" row the name followed by a link number below link_count, without a
 * leading zero (DCGM_FI_DEV_NVLINK_BANDWIDTH_L3).  -1 for a name no row has. */
int metric_of_dcgm(const char *name, unsigned link_count);

/* The run-time label of a "@name" row, or NULL for a row of fixed labels. */
const char *metric_dynamic_label(int m);

/* Row m's place among the "@link" rows (0, 1, ...: where series/nvlink.h keeps its
 * per-link values), or -1 for any other row. */
int metric_link_row(int m);

/* The row's flags (enum metric_flag). */
bool metric_windowed(int m);
bool metric_per_mig(int m);

/* True for the rows the history stores (every row of fixed labels). */
bool metric_in_history(int m);

/* True when row i begins a family (its name differs from row i-1). */
bool metric_family_first(int i);

/* The per-process families: X(id, name, per_process, history, help), in output order.
 * Their values come from each GPU's process table (series/process_table.h), not
 * from raw[]; process_family_value() (series/process_table.c, one case per family) is
 * their one reader: export/prom_procs.c renders it, the recorder stores it; gen_metrics_doc
 * and the Grafana dashboard list them.  per_process: one series per process (labels gpu,
 * uuid, pid, process, ...); else one per GPU.  history: the column of the history's
 * process tables (proc_second keeps <history>, proc_minute <history>_mean and
 * <history>_max, REAL in the family's native unit; store/schema.c adds a new one on the
 * next open), or NULL for a family not stored. */
/* clang-format off */
#define GPUSCOPE_PROCESS_FAMILIES(X) \
X(PROCESSES, "gpuscope_processes", false, NULL, \
  "Processes NVML lists on the GPU (compute and graphics), all of them, capped or not.") \
X(MEMORY, "gpuscope_process_memory_used_bytes", true, "gpu_mem_bytes", \
  "GPU memory a process holds on the GPU (NVML usedGpuMemory).") \
X(SM, "gpuscope_process_sm_utilization_ratio", true, "sm_util", \
  "Share of the GPU's time a kernel of the process ran over the last slow interval " \
  "(nvmlDeviceGetProcessUtilization; not available with MIG).") \
X(CPU, "gpuscope_process_cpu_utilization_ratio", true, "cpu_cores", \
  "CPU seconds the process used per wall second over the last slow interval (1 = one core " \
  "busy; can exceed 1).") \
GPUSCOPE_PROCESS_FAMILIES_EXTRA(X)
/* clang-format on */

enum process_family {
#define PROCESS_FAMILY_ENUM(id, ...) PROC_FAMILY_##id,
	GPUSCOPE_PROCESS_FAMILIES(PROCESS_FAMILY_ENUM)
#undef PROCESS_FAMILY_ENUM
	    PROC_FAMILY_COUNT
};

struct process_family_def {
	const char *name;
	bool per_process;
	const char *history; /* the history's column, or NULL */
	const char *help;
};

extern const struct process_family_def process_family_table[PROC_FAMILY_COUNT];

/* The clock event reasons (series/clock_reasons.h) with their rows: the seconds each held
 * the clocks and, where the reason has one, its per-sweep share (else METRIC_NO_ROW). */
enum { METRIC_NO_ROW = -1 };
struct clock_reason_def {
	unsigned long long bit; /* 1 << the row's index */
	const char *dcgm;       /* dcgm-exporter's clock_event label */
	int seconds;            /* enum metric_id: gpuscope_clock_event_seconds_total */
	int active;             /* enum metric_id, or METRIC_NO_ROW */
};
extern const struct clock_reason_def clock_reason_table[CLOCK_REASON_COUNT];

/* The reason whose share row is m, or -1. */
int clock_reason_of_active(int m);

/* A fixed-size set of metric ids. */
#define METRIC_SET_WORDS ((METRIC_COUNT + 63) / 64)
typedef struct {
	uint64_t w[METRIC_SET_WORDS];
} metric_set;

static inline void metric_set_add(metric_set *s, int id)
{
	s->w[id / 64] |= 1ULL << (id % 64);
}
static inline void metric_set_del(metric_set *s, int id)
{
	s->w[id / 64] &= ~(1ULL << (id % 64));
}
static inline bool metric_set_has(const metric_set *s, int id)
{
	return (s->w[id / 64] >> (id % 64)) & 1;
}

#endif
