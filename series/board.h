/* board.h - the board: the latest published state of every GPU.
 *
 * Sampler threads publish into one slot per GPU under that slot's mutex,
 * which is only ever held for a memcpy, never across an NVML call.  Readers
 * (HTTP handlers, doctor) take a snapshot: a private copy of every slot, in
 * which staleness has already been judged.  So a hung driver call can stop
 * one tier of one GPU from publishing, and shows up as that GPU going
 * "stalled", but it can never block a reader or another GPU.
 *
 * Sources are read on periods of their own (sample/schedule.h), so a step
 * publishes only what it read: a source's values stay until it is read
 * again, and are withdrawn only when a read fails (or answers without
 * them) or when the source has not been read for 3 of its periods.  No
 * reader has to republish what it did not read.
 *
 * A GPU's record holds its metric values (raw[], by the metric table) and the records of
 * its own kind that live in modules beside the board, with what reads them: NVLink per
 * link (series/nvlink.h), MIG instances (series/mig.h), the Xid tally (series/xid_log.h)
 * and the process table (series/process_table.h).  This file is the slots, the locks and
 * the judgement of staleness.
 */
#ifndef GPUSCOPE_BOARD_H
#define GPUSCOPE_BOARD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "series/metric_table.h"
#include "series/mig.h"
#include "series/nvlink.h"
#include "series/now.h"
#include "series/process_table.h"
#include "series/window.h"
#include "series/xid_log.h"

enum gpu_health {
	GPU_PROBING, /* identity and capability probe not finished yet */
	GPU_OK,
	GPU_STALLED,      /* a tier has not completed a sweep in time (hung call?) */
	GPU_FAILING,      /* calls return errors other than "unsupported" */
	GPU_LOST,         /* NVML said GPU_IS_LOST: fell off the bus */
	GPU_INACCESSIBLE, /* counted by NVML but not ours to read (NO_PERMISSION on its
	                   * handle, as in a container given other GPUs): not a fault */
};

struct gpu_identity {
	char uuid[96];
	char name[96];
	char pci_bus_id[32];
	int minor; /* /dev/nvidiaN, -1 when unknown */
	/* What dcgm-exporter's label fields show ("" when the GPU does not say; identity.c). */
	char serial[32];
	char vbios_version[32];
	char brand[32];
	char inforom_image[32];
	char inforom_oem[16], inforom_ecc[16], inforom_power[16];
};

/* Why a source is not read; filled by the probe. */
struct source_status {
	int rc;      /* NVML return code at probe time */
	bool probed; /* the probe ran it */
	bool supported;
};

/* One reading with the driver's timestamp (seconds since the epoch). */
struct timed_value {
	double t;
	double v;
};

struct gpu_record {
	unsigned index;
	bool has_identity;
	struct gpu_identity id;
	enum gpu_health health;
	char health_reason[192];
	double raw[METRIC_COUNT];
	metric_set valid;            /* raw[i] holds a current reading */
	metric_set supported;        /* probe said yes; never polled when no */
	metric_set sampled;          /* windows fed by driver samples, not by fast sweeps */
	struct nvlink_record nvlink; /* the "@link" rows' values (series/nvlink.h) */
	struct xid_tally xids;       /* the "@xid" rows' values (series/xid_log.h) */
	unsigned n_mig; /* GPU instances (MIG mode on); 0 when MIG is off (series/mig.h) */
	struct mig_record mig[GPU_MAX_MIG];
	struct source_status sources[SRC_COUNT];
	/* Run-time failures: a source whose last read returned an error has its NVML code
	 * here (0: the last read was fine) and since when it fails (monotonic seconds); its
	 * metrics are absent until a read succeeds again (board_publish_reads). */
	int source_error[SRC_COUNT];
	double source_error_since[SRC_COUNT];
	/* The sampler's schedule as of each source's last read: when (monotonic seconds), its
	 * period then (0: not scheduled; its values go stale after 3 periods, at least 2 s),
	 * how many times its table period that is (the rule for dear reads, sample/schedule.h)
	 * and what the read cost in CPU seconds (0 when not timed). */
	double source_read_at[SRC_COUNT];
	double source_period[SRC_COUNT];
	double source_idle_period[SRC_COUNT]; /* its period while the GPU is idle; 0: the idle
	                                       * rule does not slow it (sample/schedule.h) */
	unsigned char source_stretch[SRC_COUNT];
	double source_cost[SRC_COUNT];
	unsigned tiers;               /* bit t: the sampler reads tier t (judged for stalls) */
	double published[TIER_COUNT]; /* monotonic seconds of the last publish */
	double probe_started;
	/* Processes (NULL: none read yet, attribution off, or stale); in a snapshot, a
	 * reference that board_snapshot_free drops (series/process_table.h). */
	const struct process_table *procs;
};

struct board_info {
	char driver_version[80];
	char nvml_version[80];
	char cuda_driver_version[16];
	char hostname[256];
	char library[512];  /* which libnvidia-ml was loaded */
	char scenario[128]; /* simulator scenario name, "" on real GPUs */
};

struct board {
	unsigned count;
	struct gpu_slot *slots;
	struct board_info info;
	double interval[TIER_COUNT];     /* seconds, for staleness */
	atomic_uint_fast64_t generation; /* bumps on every publish */
};

struct board_snapshot {
	unsigned count;
	struct gpu_record *gpus;
	struct board_info info;
	uint64_t generation;
	double taken; /* monotonic seconds */
};

int board_init(struct board *b, unsigned count, double fast_s, double slow_s, double costly_s);
void board_free(struct board *b);

/* Publishing (sampler threads). */
void board_set_identity(struct board *b, unsigned gpu, const struct gpu_identity *id);
/* What the probe found; `sampled` are the windows fed by driver samples rather than by fast
 * sweeps, `tiers` has bit t set for each tier the sampler reads for this GPU. */
void board_set_probe(struct board *b, unsigned gpu, const struct source_status *sources,
                     const metric_set *supported, const metric_set *sampled, unsigned tiers);
void board_set_health(struct board *b, unsigned gpu, enum gpu_health h, const char *reason);
/* What one step of a sampling thread read (board_publish_reads). */
struct board_reads {
	enum sample_tier tier; /* the thread's own tier: marked published */
	const double *raw;
	metric_set got; /* values read now (and the step's own figures, its duration) */
	unsigned n;     /* sources read, and for each: */
	unsigned char src[SRC_COUNT];
	int rc[SRC_COUNT];             /* what it returned (0: success) */
	double period[SRC_COUNT];      /* its period now */
	double idle_period[SRC_COUNT]; /* its period while the GPU is idle (0: not slowed) */
	unsigned char stretch[SRC_COUNT];
	double cost[SRC_COUNT]; /* CPU seconds of the read (0: not timed) */
};

/* Publishes one step: the values in got are taken; the metrics of a source that was read but
 * did not fill them (it failed, or answered without them) become invalid; every other metric
 * keeps its value, until its source is read again or goes stale (3 of its periods, at least
 * 2 s, judged in board_snapshot).  Each source's error, read time and period are recorded. */
void board_publish_reads(struct board *b, unsigned gpu, const struct board_reads *r);
/* Publishes the values in got and marks `tier` published; nothing is invalidated. */
void board_publish(struct board *b, unsigned gpu, enum sample_tier tier, const double *raw,
                   const metric_set *got);
/* Publishes one metric (event counters, agent figures). */
void board_publish_one(struct board *b, unsigned gpu, enum metric_id m, double raw);
/* Folds driver samples of metric m into the GPU's window ring. */
void board_add_samples(struct board *b, unsigned gpu, enum metric_id m, const struct timed_value *v,
                       unsigned n);
/* Publishes the NVLink state of one slow sweep (NULL: none this sweep). */
void board_publish_nvlink(struct board *b, unsigned gpu, const struct nvlink_record *nv);
/* Declares the GPU's MIG instances (identity only; values come with
 * board_publish_mig). */
void board_set_mig(struct board *b, unsigned gpu, unsigned n, const struct mig_record *mig);
/* Publishes what a step read of MIG instance k, with board_publish_reads' rules. */
void board_publish_mig(struct board *b, unsigned gpu, unsigned k, const struct board_reads *r);
/* Publishes the GPU's process table, taking over the caller's reference. */
void board_publish_processes(struct board *b, unsigned gpu, struct process_table *t);
/* The current value of metric m of the GPU, when valid (the attribution reads power). */
bool board_read_value(struct board *b, unsigned gpu, enum metric_id m, double *out);
/* Counts one Xid event of this code in the GPU's tally. */
void board_count_xid(struct board *b, unsigned gpu, unsigned code);
/* Window aggregates of GPU gpu over whole wall-clock seconds [from, to]. */
void board_window(struct board *b, unsigned gpu, int64_t from, int64_t to,
                  struct window_agg out[METRIC_COUNT]);

/* Reading.  Judges staleness: a tier that missed 3 intervals (and at
 * least 2 s) marks the GPU stalled and its values of that tier invalid; a
 * source not read for 3 of its periods (at least 2 s) has its values
 * invalid. */
int board_snapshot(struct board *b, struct board_snapshot *out);
void board_snapshot_free(struct board_snapshot *s);
/* The judgement board_snapshot passes on each copied record, as of monotonic `now`. */
void board_judge(const struct board *b, struct gpu_record *r, double now);
uint64_t board_generation(struct board *b);

const char *gpu_health_name(enum gpu_health h);

/* Why metric m of this GPU is not offered, in words ("supported" when it
 * is), for doctor and the JSON API. */
void gpu_record_reason(const struct gpu_record *r, int m, char *buf, size_t len);

/* When metric m's source fails now, writes why ("nvmlDeviceGetPowerUsage: Unknown Error
 * (NVML 999) for 12 s", as of monotonic now) and returns true. */
bool gpu_record_failing(const struct gpu_record *r, int m, double now, char *buf, size_t len);

/* The GPU's state as reported: its health, or "degraded" when it is ok but some of its
 * supported metrics fail (gpu_record_failing); *n_failing gets how many. */
const char *gpu_record_state(const struct gpu_record *r, unsigned *n_failing);

#endif
