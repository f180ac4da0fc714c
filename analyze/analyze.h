/* analyze.h - the diagnosis engine: telemetry of a window in, verdicts out.
 *
 * Given one window of each GPU's series (one sample every `step` seconds,
 * each signal a plain array of doubles, NaN where a sample is absent), its
 * processes' series and the tensor-parallel groups it belongs to, the engine
 * answers "is this GPU used efficiently, and if not, why not?" as a list of
 * verdicts.  Each verdict carries a stable id, a severity, a one-line title,
 * its evidence as numbers plus a sentence, and a concrete fix.
 *
 * Absent is not zero: a signal that was not collected (NULL pointer, or all
 * NaN, e.g. GPM metrics before Hopper) never counts as 0.  A verdict that
 * needs it is listed under not_judged with the reason, so a report can say
 * "could not tell" instead of passing silently.
 *
 * The input is plain arrays so the same engine runs on the agent's 1 s
 * history (per-second means of fast metrics) and on Prometheus range
 * queries.  The caller owns every input byte; the engine allocates only the
 * result, released with analyze_result_free().  All thresholds live in
 * struct analyze_config (defaults in analyze_config_default(), documented
 * in docs/diagnosis.md).  The engine keeps no state between calls and is
 * safe to call from several threads at once (only a test hook in internal.h
 * is global).
 */
#ifndef GPUSCOPE_ANALYZE_H
#define GPUSCOPE_ANALYZE_H

#include <stdbool.h>
#include <stddef.h>

#include "series/clock_reasons.h"

/* Per-GPU signals.  Ratios are 0-1; counters are cumulative (the engine
 * takes increases within the window, Prometheus-style across resets). */
enum analyze_signal {
	ANALYZE_SIG_GPU_UTIL,            /* NVML utilization.gpu, ratio */
	ANALYZE_SIG_MEM_UTIL,            /* NVML utilization.memory, ratio */
	ANALYZE_SIG_SM_ACTIVE,           /* GPM sm_util, ratio */
	ANALYZE_SIG_SM_OCCUPANCY,        /* GPM sm_occupancy, ratio */
	ANALYZE_SIG_TENSOR_ACTIVE,       /* GPM any_tensor, ratio */
	ANALYZE_SIG_DRAM_ACTIVE,         /* GPM dram_bw, ratio */
	ANALYZE_SIG_FB_USED_BYTES,       /* framebuffer in use */
	ANALYZE_SIG_FB_TOTAL_BYTES,      /* framebuffer size */
	ANALYZE_SIG_POWER_W,             /* board power draw */
	ANALYZE_SIG_POWER_LIMIT_W,       /* enforced power limit */
	ANALYZE_SIG_TEMP_C,              /* GPU temperature */
	ANALYZE_SIG_SLOWDOWN_TEMP_C,     /* this GPU's own slowdown threshold */
	ANALYZE_SIG_SM_CLOCK_HZ,         /* current SM clock */
	ANALYZE_SIG_SM_CLOCK_MAX_HZ,     /* maximum SM clock */
	ANALYZE_SIG_CLOCK_EVENT_REASONS, /* bitmask, ANALYZE_CLOCK_* */
	ANALYZE_SIG_PCIE_TX_BYTES_PER_S, /* PCIe transmit throughput */
	ANALYZE_SIG_PCIE_RX_BYTES_PER_S, /* PCIe receive throughput */
	ANALYZE_SIG_PCIE_LINK_GEN,       /* current link generation, 1-6 */
	ANALYZE_SIG_PCIE_LINK_WIDTH,     /* current link width, lanes */
	ANALYZE_SIG_XID_COUNT,           /* Xid events seen, cumulative */
	ANALYZE_SIG_XID_LAST,            /* code of the latest Xid */
	ANALYZE_SIG_ECC_DBE_COUNT,       /* uncorrectable ECC errors, cumulative */
	ANALYZE_SIG_REMAP_FAILURE,       /* 1 when a row remapping failed */
	ANALYZE_SIG_ENERGY_J,            /* energy counter, cumulative joules */
	ANALYZE_SIG_GPU_UTIL_MAX,        /* highest NVML utilization within the sample, ratio */
	ANALYZE_SIG_POWER_MAX_W,         /* highest power within the sample (the driver's
	                                  * 20 ms samples where read) */
	/* Share of the fast tier's readings within the sample in which a clock
	 * event reason was active, ratio 0-1: measured, so a periodic load cannot
	 * alias it the way one reasons bitmask per sample can. */
	ANALYZE_SIG_POWER_CAP_SHARE,   /* SW power cap (0x4) */
	ANALYZE_SIG_POWER_BRAKE_SHARE, /* power brake (0x80) */
	ANALYZE_SIG_SW_THERMAL_SHARE,  /* SW thermal slowdown (0x20) */
	ANALYZE_SIG_HW_THERMAL_SHARE,  /* HW thermal slowdown (0x40) */
	ANALYZE_SIG_COUNT
};

/* Clock event (throttle) reason bits, as NVML reports them: the bits of the one reasons
 * table (series/clock_reasons.h, a header of constants only). */
#define ANALYZE_CLOCK_IDLE        CLOCK_BIT_IDLE
#define ANALYZE_CLOCK_APP_SETTING CLOCK_BIT_APP_SETTING
#define ANALYZE_CLOCK_SW_POWER    CLOCK_BIT_SW_POWER
#define ANALYZE_CLOCK_HW_SLOWDOWN CLOCK_BIT_HW_SLOWDOWN
#define ANALYZE_CLOCK_SYNC_BOOST  CLOCK_BIT_SYNC_BOOST
#define ANALYZE_CLOCK_SW_THERMAL  CLOCK_BIT_SW_THERMAL
#define ANALYZE_CLOCK_HW_THERMAL  CLOCK_BIT_HW_THERMAL
#define ANALYZE_CLOCK_POWER_BRAKE CLOCK_BIT_POWER_BRAKE

/* Stable verdict ids: reports, alerts and the JSON API key on these. */
#define ANALYZE_IDLE                 "idle"
#define ANALYZE_CPU_BOUND_INPUT      "cpu_bound_input"
#define ANALYZE_MEMORY_BW_BOUND      "memory_bandwidth_bound"
#define ANALYZE_COMPUTE_BOUND        "compute_bound"
#define ANALYZE_POWER_CAPPED         "power_capped"
#define ANALYZE_VRAM_PRESSURE        "vram_pressure"
#define ANALYZE_VRAM_OVERPROVISIONED "vram_overprovisioned"
#define ANALYZE_THERMAL_THROTTLING   "thermal_throttling"
#define ANALYZE_PCIE_BOUND           "pcie_bound"
#define ANALYZE_MEMORY_GROWTH        "memory_growth"
#define ANALYZE_UNBALANCED_SHARDS    "unbalanced_shards"
#define ANALYZE_HARDWARE_HEALTH      "hardware_health"
#define ANALYZE_LAUNCH_BOUND         "launch_bound"
#define ANALYZE_BURSTY               "bursty"
#define ANALYZE_COMMUNICATION_BOUND  "communication_bound"

/* One process on one GPU, sampled on the GPU's grid (same t0, step, n). */
struct analyze_process_series {
	unsigned pid;
	const char *name;            /* command name, may be NULL */
	const char *workload;        /* workload label, may be NULL */
	double cpu_cores_usable;     /* cores (or loader threads) its input work can
	                              * use; <= 0 or NaN: 1, a single-threaded loader */
	const double *gpu_mem_bytes; /* GPU memory it holds; NULL = not collected */
	const double *cpu_cores;     /* CPU used, in cores (1.0 = one core busy) */
	const double *sm_util;       /* its share of SM time, ratio; may be NULL */
};

/* One GPU's window.  sig[s] is NULL or points at n values, NaN = absent. */
struct analyze_gpu_series {
	const char *uuid;
	const char *model; /* NVML name, e.g. "NVIDIA H200"; keys the price and MIG tables */
	double t0;         /* time of sample 0, seconds (any epoch) */
	double step;       /* seconds between samples, > 0 */
	size_t n;
	const double *sig[ANALYZE_SIG_COUNT];
	const struct analyze_process_series *procs;
	size_t nprocs;
	double work_done;      /* units of work done in the window (tokens, requests);
	                        * NaN when not known */
	const char *work_unit; /* e.g. "token"; NULL when work_done is NaN */
};

/* GPUs that serve one model together (tensor parallel); indices into
 * analyze_input.gpus. */
struct analyze_tp_group {
	const char *name;
	const size_t *gpu_index;
	size_t n;
};

/* One process's NCCL collectives over a window (libgpuscope-nccl.so, docs/nccl.md).
 * Strings are copied in, so a caller can fill these from a table it then unlocks. */
struct analyze_comm_series {
	unsigned pid;
	char process[64], workload[64];
	long gpu_index;      /* index into analyze_input.gpus it runs on; -1: not known */
	char gpu_uuid[96];   /* or its UUID, matched against the input's GPUs; "": none */
	double window_s;     /* wall time judged */
	double busy_s;       /* of it, inside collectives (union over its communicators) */
	char collective[24]; /* the kind that took the most time, e.g. "AllReduce" */
	char timing[16];     /* how that kind was timed: "gpu", "kernel", "proxy", "enqueue" */
	double calls;        /* its calls */
	double bytes_per_call;
	double busbw;            /* its achieved bus bandwidth, bytes/s; NaN: not known */
	int nranks;              /* ranks of its communicator; 0: not known */
	double link_bytes_per_s; /* NVLink bandwidth of the GPU, one direction; NaN: not known */
};

struct analyze_input {
	const struct analyze_gpu_series *gpus;
	size_t ngpus;
	const struct analyze_tp_group *groups;
	size_t ngroups;
	const struct analyze_comm_series *comms; /* may be NULL with ncomms 0 */
	size_t ncomms;
};

/* Price of one GPU-hour for models whose NVML name contains `match`
 * (case-insensitive); the first matching row wins, so specific rows go first. */
struct analyze_model_price {
	const char *match;
	double per_hour;
};

/* Every threshold the engine uses.  Get the defaults from
 * analyze_config_default() and override fields; docs/diagnosis.md gives the
 * reason for each default.  "share" = fraction of the window's usable samples. */
#define ANALYZE_XID_CRITICAL_MAX 32

struct analyze_config {
	size_t min_samples;   /* fewer usable samples than this: not judged (5) */
	double sustain_share; /* a condition is "sustained" over this share (0.5) */

	double idle_util_max; /* idle: mean utilization below this (0.25) */

	double launch_util_min; /* busy but empty: NVML utilization >= this (0.1) */
	double launch_sm_ratio; /* ... while SM activity < this x NVML utilization (0.25) */

	double bursty_peak_min;    /* a sample whose peak utilization >= this has work (0.4) */
	double bursty_active_min;  /* bursty: samples with work at least this share (0.1) */
	double bursty_duty_max;    /* ... mean utilization / mean peak at most this (0.5) */
	double bursty_burst_max_s; /* ... bursts no longer than this on average (10 s) */

	double cpu_saturated_ratio;       /* process CPU >= this x usable cores (0.9) */
	double cpu_bound_saturated_share; /* ... during this share of the window (0.5) */
	double cpu_bound_gpu_idle_min;    /* while the GPU idles this share (0.5) */

	double bw_dram_min;   /* bandwidth bound: DRAM activity >= (0.6) */
	double bw_tensor_max; /* ... and tensor activity < (0.5) */

	double compute_sm_min;     /* compute bound: SM activity >= (0.8) */
	double compute_tensor_min; /* ... and tensor >= this (0.5) or DRAM < bw_dram_min */

	double power_near_limit;    /* no reason bits: capped when power >= this x limit (0.97) */
	double power_cap_warn_loss; /* capped with clock loss >= this: warning (0.10) */

	double vram_pressure_ratio; /* used/total above this, sustained (0.9) */
	double vram_critical_ratio; /* peak used/total at or above this: critical (0.99) */
	double vram_overprov_ratio; /* peak used/total below this (0.3) */
	double vram_headroom;       /* fit suggestions hold peak x this (1.2) */

	double thermal_min_share; /* throttled at least this share (0.1) */

	double pcie_link_util_min; /* PCIe bound: throughput >= this x link capacity (0.1) */
	double pcie_sm_max;        /* ... while SM activity < this (0.5) */

	double growth_min_r2;     /* linear fit quality needed (0.8) */
	double growth_min_bytes;  /* fitted growth over the window at least (256 MiB) */
	double growth_critical_s; /* time to OOM under this: critical (3600) */

	double shard_mem_skew;  /* TP group: max/min memory at or above (1.2) */
	double shard_util_skew; /* TP group: max/min utilization at or above (1.3) */
	double shard_util_min;  /* utilization skew judged only when max >= this (0.1) */

	double comm_share_max;   /* communication bound: collectives above this share of the
	                          * process's wall time (0.3) */
	double comm_small_bytes; /* ... calls below this size are latency-bound (1 MiB) */

	int xid_critical[ANALYZE_XID_CRITICAL_MAX]; /* Xid codes that make hardware_health */
	size_t nxid_critical;                       /* critical; default: 48 63 64 79 94 95 */

	double price_per_gpu_hour;                /* NaN: look the model up in prices */
	const char *currency;                     /* "USD" */
	const struct analyze_model_price *prices; /* default: analyze_default_prices */
	size_t nprices;
};

/* Sets one threshold from "name=value" (a field name of struct
 * analyze_config, e.g. "idle_util_max=0.1"); returns 0, or -1 with a
 * sentence in err.  Used by `--threshold` on report and serve. */
int analyze_config_set(struct analyze_config *cfg, const char *assignment, char *err,
                       size_t errlen);

/* The thresholds that differ between from and to, as "name old -> new, ..." in out
 * (truncated to len); returns how many differ.  For SIGHUP's report of what changed. */
size_t analyze_config_diff(const struct analyze_config *from, const struct analyze_config *to,
                           char *out, size_t len);

enum analyze_severity {
	ANALYZE_SEVERITY_INFO,
	ANALYZE_SEVERITY_WARNING,
	ANALYZE_SEVERITY_CRITICAL,
};

#define ANALYZE_EVIDENCE_MAX 10

struct analyze_evidence {
	const char *name; /* snake_case, stable (static string) */
	double value;     /* NaN when unknown */
	char unit[24];    /* "ratio", "bytes", "s", "W", "USD/day", ... */
};

/* Whom a verdict or a not-judged entry is about: a GPU (gpu_index >= 0),
 * optionally one of its processes (pid != 0), or a TP group (gpu_index -1). */
struct analyze_subject {
	long gpu_index;
	char uuid[96];
	char group[64];
	unsigned pid;
	char process[64];
	char workload[64];
};

struct analyze_verdict {
	const char *id; /* one of the ANALYZE_* ids above */
	enum analyze_severity severity;
	struct analyze_subject about;
	char title[200];
	char evidence_text[600];
	char fix[400];
	size_t nevidence;
	struct analyze_evidence evidence[ANALYZE_EVIDENCE_MAX];
};

struct analyze_not_judged {
	const char *id;
	struct analyze_subject about;
	char reason[300];
};

/* Per-GPU figures for the fleet summary; NaN where unknown. */
struct analyze_gpu_summary {
	long gpu_index;
	char uuid[96];
	char model[96];
	double window_s;
	double util_mean;        /* SM_ACTIVE where GPM exists, else GPU_UTIL */
	const char *util_source; /* "sm_active" or "gpu_util" (static); NULL when neither */
	double gpu_util_mean;    /* NVML utilization, shown beside SM activity */
	double waste_ratio;      /* 1 - util_mean */
	double price_per_hour;   /* config, else the model table */
	double waste_per_day;    /* waste_ratio x price x 24 */
	double waste_per_year;   /* x 365 days */
	double power_mean_w;
	double util_per_watt;     /* util_mean / power_mean_w */
	double energy_j;          /* counter increase, else mean power x window */
	double energy_per_work_j; /* energy_j / work_done */
	char work_unit[32];
	char line[320]; /* the one-line summary */
};

struct analyze_result {
	struct analyze_verdict *verdicts;
	size_t nverdicts;
	struct analyze_not_judged *not_judged;
	size_t nnot_judged;
	struct analyze_gpu_summary *summaries; /* one per input GPU, same order */
	size_t nsummaries;
	char currency[16];
};

extern const struct analyze_model_price analyze_default_prices[];
extern const size_t analyze_default_prices_count;

void analyze_config_default(struct analyze_config *cfg);

/* Runs every check on every GPU and group.  cfg NULL means the defaults.
 * Returns 0 and sets *out, or -1 with errno EINVAL (malformed input: step
 * <= 0, a NULL array with a non-zero count, a group index out of range) or
 * ENOMEM; *out is then NULL. */
int analyze_run(const struct analyze_input *in, const struct analyze_config *cfg,
                struct analyze_result **out);

void analyze_result_free(struct analyze_result *r);

/* Counts verdicts at or above a severity (for exit codes and tests). */
size_t analyze_count_at_least(const struct analyze_result *r, enum analyze_severity min);

/* The first verdict with this id (and GPU, when gpu_index >= 0), or NULL. */
const struct analyze_verdict *analyze_find(const struct analyze_result *r, const char *id,
                                           long gpu_index);

/* The same lookup in the not-judged list. */
const struct analyze_not_judged *analyze_find_not_judged(const struct analyze_result *r,
                                                         const char *id, long gpu_index);

/* Looks an evidence value up by name; NaN when the verdict has none. */
double analyze_evidence_value(const struct analyze_verdict *v, const char *name);

const char *analyze_severity_name(enum analyze_severity s); /* "info", ... */
const char *analyze_signal_name(enum analyze_signal s);     /* "sm_active", ... */

/* Price of one GPU-hour for a model name from the table, NaN when none
 * matches. */
double analyze_model_price(const struct analyze_model_price *table, size_t n, const char *model);

/* The result as a jansson document (schema "gpuscope.diagnosis/v1" in
 * docs/diagnosis.md); NULL when out of memory.  The caller json_decref()s it. */
struct json_t *analyze_result_json(const struct analyze_result *r);

/* The same document as text (indent 0 = compact); free() it.  NULL on OOM. */
char *analyze_result_json_text(const struct analyze_result *r, int indent);

#endif
