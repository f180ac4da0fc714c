/* sim_scenario.h - the simulator's scenario: simulated GPUs, their signals and faults.
 *
 * A scenario is a JSON file (schema in docs/simulator.md).  Parsing is strict: an unknown key
 * or a value of the wrong type is an error whose message names the file, the line:column
 * when the JSON itself is malformed, and the JSON path of the bad value, so a typo in a
 * demo scenario fails loudly instead of silently simulating something else.  Every optional
 * value gets a default taken from a real H200 (see shared facts).
 *
 * The parsed scenario is immutable; the NVML layer (sim_nvml.c) keeps its own mutable state.
 */
#ifndef GPUSCOPE_SIM_SCENARIO_H
#define GPUSCOPE_SIM_SCENARIO_H

#include "sim/sim_func.h"

#include <stdbool.h>
#include <stddef.h>

/* X(id, JSON name, default value) - every simulated signal. */
#include <math.h>

#define SIM_SIGNALS(X)                                                                     \
	X(UTIL_GPU, "util_gpu_pct", 0)                                                     \
	X(UTIL_MEM, "util_mem_pct", 0)                                                     \
	X(FB_USED, "fb_used_mib", 0)                                                       \
	X(POWER, "power_w", 70)                                                            \
	X(TEMP, "temp_c", 30)                                                              \
	X(MEM_TEMP, "mem_temp_c", 35)                                                      \
	X(SM_CLOCK, "sm_clock_mhz", 1980)   /* default: the GPU's max_sm_clock_mhz */      \
	X(MEM_CLOCK, "mem_clock_mhz", 3201) /* default: the GPU's max_mem_clock_mhz */     \
	X(CLOCK_REASONS, "clock_event_reasons", 0)                                         \
	X(ENC_UTIL, "enc_util_pct", 0)                                                     \
	X(DEC_UTIL, "dec_util_pct", 0)                                                     \
	X(PSTATE, "pstate", 0)                                                             \
	X(PCIE_REPLAY, "pcie_replay", 0)                                                   \
	X(ECC_SBE_VOLATILE, "ecc_sbe_volatile", 0)                                         \
	X(ECC_DBE_VOLATILE, "ecc_dbe_volatile", 0)                                         \
	X(ECC_SBE_AGGREGATE, "ecc_sbe_aggregate", 0)                                       \
	X(ECC_DBE_AGGREGATE, "ecc_dbe_aggregate", 0)                                       \
	X(REMAPPED_CORRECTABLE, "remapped_correctable", 0)                                 \
	X(REMAPPED_UNCORRECTABLE, "remapped_uncorrectable", 0)                             \
	X(REMAP_PENDING, "remap_pending", 0)                                               \
	X(REMAP_FAILURE, "remap_failure", 0)                                               \
	X(GPM_GRAPHICS, "gpm_graphics_pct", 0)                                             \
	X(GPM_SM_ACTIVE, "gpm_sm_active_pct", 0)                                           \
	X(GPM_SM_OCCUPANCY, "gpm_sm_occupancy_pct", 0)                                     \
	X(GPM_INTEGER, "gpm_integer_pct", 0)                                               \
	X(GPM_TENSOR, "gpm_tensor_active_pct", 0)                                          \
	X(GPM_DFMA, "gpm_dfma_tensor_pct", 0)                                              \
	X(GPM_HMMA, "gpm_hmma_tensor_pct", 0)                                              \
	X(GPM_IMMA, "gpm_imma_tensor_pct", 0)                                              \
	X(GPM_DRAM, "gpm_dram_active_pct", 0)                                              \
	X(GPM_FP64, "gpm_fp64_pct", 0)                                                     \
	X(GPM_FP32, "gpm_fp32_pct", 0)                                                     \
	X(GPM_FP16, "gpm_fp16_pct", 0)                                                     \
	X(GPM_PCIE_TX, "gpm_pcie_tx_mibps", 0)                                             \
	X(GPM_PCIE_RX, "gpm_pcie_rx_mibps", 0)                                             \
	X(GPM_NVLINK_TX, "nvlink_tx_mibps", 0) /* all links together */                    \
	X(GPM_NVLINK_RX, "nvlink_rx_mibps", 0)                                             \
	X(GPM_NVDEC, "gpm_nvdec_pct", 0)                                                   \
	X(GPM_NVJPG, "gpm_nvjpg_pct", 0)                                                   \
	/* NAN: not answered unless the scenario gives it (an H200 has no page retirement, \
	 * and no NVLink in a VM) */                                                       \
	X(RETIRED_SBE, "retired_sbe", NAN)                                                 \
	X(RETIRED_DBE, "retired_dbe", NAN)                                                 \
	X(RETIRED_PENDING, "retired_pending", NAN)                                         \
	X(NVLINK_CRC_FLIT, "nvlink_crc_flit_errors", NAN)                                  \
	X(NVLINK_CRC_DATA, "nvlink_crc_data_errors", NAN)                                  \
	X(NVLINK_REPLAY, "nvlink_replay_errors", NAN)                                      \
	X(NVLINK_RECOVERY, "nvlink_recovery_errors", NAN)                                  \
	/* NAN too: no fan on an H200; violation seconds by policy */                      \
	X(FAN_SPEED, "fan_speed_pct", NAN)                                                 \
	X(VIOLATION_THERMAL, "violation_thermal_s", NAN)                                   \
	X(VIOLATION_BOARD_LIMIT, "violation_board_limit_s", NAN)                           \
	X(VIOLATION_LOW_UTIL, "violation_low_util_s", NAN)                                 \
	X(VIOLATION_RELIABILITY, "violation_reliability_s", NAN)                           \
	/* NAN: licensing does not apply (bare metal), as an H200 outside a vGPU guest */  \
	X(VGPU_LICENSED, "vgpu_licensed", NAN)

enum sim_signal {
#define SIM_SIGNAL_ENUM(id, name, def) SIM_SIG_##id,
	SIM_SIGNALS(SIM_SIGNAL_ENUM)
#undef SIM_SIGNAL_ENUM
	    SIM_SIG_COUNT
};

/* The JSON name of a signal ("power_w"). */
const char *sim_signal_name(enum sim_signal s);

/* A signal's value as the driver can report it: no negative reading, no
 * percentage over 100 (the JSON names ending in "_pct").  A scenario's
 * function may go anywhere; the simulated NVML calls and `report --demo`
 * both read it through this, so the two never disagree.  NaN stays NaN. */
double sim_signal_clamp(enum sim_signal s, double v);

/* The signal with that JSON name, as an int, or -1 when there is none. */
int sim_signal_index(const char *name);

/*
 * Fault rules name an NVML device call by its newest symbol ("nvmlDeviceGetPowerUsage"); a
 * fallback name in the file is stored as the newest one.  "*" matches every device call.
 */
struct sim_fault_error {
	const char *call;   /* static string: a symbol name from nvml_abi.h, or "*" */
	int ret;            /* the nvmlReturn_t to answer */
	double from, until; /* active for from <= t < until (until may be INFINITY) */
};

struct sim_fault_slow {
	const char *call;
	double ms;
};

struct sim_fault_hang {
	const char *call;
	double at;
};

struct sim_event {
	double at;
	unsigned long long type; /* nvmlEventType* bit */
	unsigned long long data; /* the Xid for Xid events */
};

/* A process on a simulated GPU (docs/simulator.md, "Processes").  NVML reports its pid, used
 * memory and utilization; name and cgroup are never reported by NVML, they are there so a
 * test can build a fixture /proc that matches the pids the simulator reports. */
/* Scenario seconds per real second; outside this range time stops being useful. */
#define SIM_TIME_SCALE_MIN 0.001
#define SIM_TIME_SCALE_MAX 10000.0

#define SIM_PROCESS_NAME_MAX   64
#define SIM_PROCESS_CGROUP_MAX 256
/* An inference server the process runs ("server" key): the simulated host serves its
 * /metrics on a loopback port with that server's names (sim_serve.h); counters are the
 * integrals of the rates over the scenario's time. */
struct sim_server {
	char kind[16];                          /* "vllm", "sglang", "tgi", "triton", "llamacpp" */
	char model[128];                        /* the model label */
	sim_func *tokens_per_s;                 /* generated tokens per second */
	sim_func *requests_per_s;               /* requests completed per second */
	sim_func *running, *waiting, *kv_cache; /* batch, queue, KV cache in use 0-1 */
	sim_func *ttft_s;                       /* time to first token of each request */
	double prompt_tokens_per_request;
};

struct sim_process {
	unsigned pid;
	char name[SIM_PROCESS_NAME_MAX];
	char cgroup[SIM_PROCESS_CGROUP_MAX];
	bool graphics;            /* listed by the graphics call, not the compute one */
	bool has_gpu_instance;    /* on a MIG GPU: the instance it runs in */
	unsigned gpu_instance_id; /* meaningful with has_gpu_instance */
	double from, until;       /* runs for from <= t < until (until may be INFINITY) */
	sim_func *used_mib;       /* GPU memory, MiB; < 0 reads as "not available" */
	sim_func *sm_util_pct;    /* per-process utilization samples (200 ms) */
	sim_func *mem_util_pct;
	sim_func *cpu_cores; /* the process's CPU in cores; NULL: absent.  `report --demo` reads
	                      * it, and `serve --demo` through the simulated host (sim_host.h) */
	/* Who the process is, for the simulated host's /proc, passwd and kubelet logs. */
	char user[32];          /* "root" by default */
	char cmdline[256];      /* argv joined by spaces; "" -> "/usr/bin/<name>" */
	double rss_mib;         /* resident memory */
	unsigned threads;       /* threads of the process */
	char pod_namespace[64]; /* "" unless the scenario gives a "pod" */
	char pod_name[128];
	char pod_container[64];
	char pod_uid[40];      /* derived from namespace and name */
	char container_id[68]; /* derived from namespace, pod and container */
	/* NULL: serves nothing */
	struct sim_server *server;
};

struct sim_gpu {
	unsigned index;
	/* MIG instances are sim_gpus too (only memory and GPM signals apply), children of
	 * the physical GPU: parent set, gpu_instance_id and profile ("1g.18gb") filled. */
	const struct sim_gpu *parent;
	unsigned gpu_instance_id;
	char profile[32];
	char *description;
	char model[96];
	char uuid[96];
	char pci_bus_id[32];
	unsigned pci_device_id, pci_subsystem_id;
	unsigned minor;
	unsigned long long memory_total_mib, memory_reserved_mib;
	unsigned power_limit_w;
	unsigned power_mgmt_limit_w; /* default: power_limit_w */
	/* Identity strings ("" answers NOT_SUPPORTED) and modes (sim_identity.c answers them). */
	char serial[32], vbios_version[32], inforom_image[32];
	char inforom_oem[16], inforom_ecc[16], inforom_power[16];
	unsigned brand;               /* nvmlBrandType_t; 14: NVIDIA */
	unsigned virtualization_mode; /* 0 none, 1 pass-through, 2 vGPU guest, ... */
	unsigned max_sm_clock_mhz, max_mem_clock_mhz, video_clock_mhz;
	unsigned shutdown_temp_c, slowdown_temp_c, max_operating_temp_c, mem_max_temp_c;
	unsigned pcie_gen, pcie_width, pcie_max_gen, pcie_max_width;
	bool ecc;
	unsigned long long supported_events;
	double energy_start_mj;
	bool gpm;                       /* nvmlGpmQueryDeviceSupport says yes (Hopper and newer) */
	unsigned nvlink_links;          /* 0: NVLink NOT_SUPPORTED, as on a PCIe or VM H200 */
	unsigned long long nvlink_down; /* bit per link reported DISABLED */
	struct sim_gpu *mig;            /* MIG mode is on when n_mig > 0 */
	size_t n_mig;

	sim_func *metrics[SIM_SIG_COUNT]; /* never NULL after parsing */

	/* faults */
	const char **unsupported_calls; /* newest symbol names */
	size_t n_unsupported_calls;
	bool unsupported_signals[SIM_SIG_COUNT];
	struct sim_fault_error *errors;
	size_t n_errors;
	struct sim_fault_slow *slow;
	size_t n_slow;
	struct sim_fault_hang *hangs;
	size_t n_hangs;
	double lost_at;           /* INFINITY: never */
	struct sim_event *events; /* Xid and ECC events, sorted by time */
	size_t n_events;

	struct sim_process *processes; /* "processes" (sim_processes.c) */
	size_t n_processes;
};

struct sim_scenario {
	char *name;
	char *description;
	char *file; /* as given, for messages */
	char driver_version[80];
	char nvml_version[80];
	int cuda_driver_version;
	int init_error;    /* 0: nvmlInit succeeds */
	double time_scale; /* SIM_TIME_SCALE_MIN to SIM_TIME_SCALE_MAX */
	struct sim_gpu *gpus;
	size_t n_gpus;
};

/*
 * Loads a scenario file.  "builtin:NAME" loads sim/scenarios/NAME embedded into the library.
 * Returns NULL and a message in err ("file: gpus[2].metrics.power_w: ...") on failure.
 */
struct sim_scenario *sim_scenario_load_file(const char *path, char *err, size_t errlen);

/*
 * Parses scenario text; file names it in messages, base_dir is where relative CSV paths
 * resolve (NULL: the current folder).
 */
struct sim_scenario *sim_scenario_parse(const char *text, size_t len, const char *file,
                                        const char *base_dir, char *err, size_t errlen);

/* The built-in default scenario (never fails unless out of memory or the build is broken). */
struct sim_scenario *sim_scenario_load_default(char *err, size_t errlen);

void sim_scenario_free(struct sim_scenario *s);

#endif
