/* sources.h - one reader per source of the metric table.
 *
 * A reader makes one NVML call for one device and fills the raw values of
 * the metrics that source feeds (see GPUSCOPE_SOURCES / GPUSCOPE_METRICS).
 * It returns the NVML status; on success it marks in `got` what it filled.
 * A reader whose symbol the library lacks returns FUNCTION_NOT_FOUND.
 */
#ifndef GPUSCOPE_SOURCES_H
#define GPUSCOPE_SOURCES_H

#include "nvml/nvml_loader.h"
#include "series/metric_table.h"
#include "series/nvlink.h"
#include "series/snapshot.h"

/* What a reader returns when it did not read this time: GPM, when its last
 * sample is too young for a pair (below) or another GPU's GPM call holds the
 * lock.  The source keeps its values on the board and is tried again at its
 * thread's next step; it is neither a success nor a failure. */
#define SOURCE_SKIPPED NVML_ERROR_IN_USE

/* GPM pairs must straddle a driver refresh (about every 100 ms): a pair
 * closer than that reads zeros with SUCCESS.  So a new GPM sample is taken
 * only once the last is at least this old, and paired with it. */
#define GPM_MIN_WINDOW_S 0.110

/* How often a GPM sample is taken unless --gpm-interval says otherwise. */
#define GPM_DEFAULT_INTERVAL_S 1.0

struct gpm_state {
	nvmlGpmSample_t sample[2];
	int last;       /* index of the newest sample; -1 before the first */
	double last_at; /* monotonic seconds it was taken */
	bool asked;     /* nvmlGpmQueryDeviceSupport said yes */
};

/* Driver samples (timestamped) a buffer read hands to the window ring. */
#define SAMPLE_BATCH_MAX 128
struct sample_batch {
	enum metric_id metric;
	unsigned n;
	struct timed_value v[SAMPLE_BATCH_MAX];
};

struct buffer_state {
	unsigned long long last_seen[3]; /* newest timestamp read, per sample type */
	double integrated_mj;            /* energy from the 20 ms power samples */
	double prev_t, prev_mw;          /* last power sample, for the trapezoid */
	bool have_prev;
};

/* Per-thread reader state: a source_ctx belongs to one sampling thread. */
struct source_ctx {
	const struct nvml_lib *lib;
	nvmlDevice_t dev;
	bool memory_v1; /* the driver rejected nvmlDeviceGetMemoryInfo_v2 at probe */
	double period;  /* seconds: the period of the source being read, set by the sampler
	                 * before each read (0: the probe's); a reader that credits the time
	                 * between its reads judges a gap by it */

	/* fast tier: clock-event accounting and clock loss */
	bool reasons_seen, reasons_now_valid, sm_clock_valid;
	unsigned long long reasons_prev, reasons_now;
	double reasons_t;
	double throttle_s[CLOCK_REASON_COUNT]; /* per reason (series/clock_reasons.h) */
	double sm_clock_now, sm_clock_max;
	struct gpm_state gpm;          /* the fast list (the sweeper's context) */
	struct gpm_state gpm_graphics; /* the graphics engine (the worker's context) */

	/* buffer tier */
	struct buffer_state buf;
	struct sample_batch batch[3];
	unsigned n_batches; /* filled by readers, drained by the sweep */

	/* slow tier */
	struct nvlink_record nvlink; /* states and counters persist between their reads */
	bool nvlink_read;            /* this sweep read NVLink: publish ctx->nvlink */
};

typedef nvmlReturn_t (*source_read_fn)(struct source_ctx *ctx, double *raw, metric_set *got);

/* The reader of a source; NULL for event and agent sources. */
source_read_fn source_reader(enum source_id src);

/* The readers of sources_dcgm.c (fan, power-management limit, violations, virtualization
 * mode, P2P); NULL for any other source. */
source_read_fn sources_dcgm_reader(enum source_id src);

/* Readers with state of their own (gpm.c, buffers.c, nvlink.c). */
nvmlReturn_t read_gpm(struct source_ctx *ctx, double *raw, metric_set *got);
nvmlReturn_t read_power_samples(struct source_ctx *ctx, double *raw, metric_set *got);
nvmlReturn_t read_util_samples(struct source_ctx *ctx, double *raw, metric_set *got);
nvmlReturn_t read_nvlink(struct source_ctx *ctx, double *raw, metric_set *got);
nvmlReturn_t read_nvlink_data(struct source_ctx *ctx, double *raw, metric_set *got);

/* GPM activity of a device (gi < 0) or of GPU instance gi of dev (MIG),
 * from the ring g; fills the GPM rows of raw/got when a pair is ready, and
 * returns SOURCE_SKIPPED when not (the first sample, or one too soon).  The
 * fast list is every GPM row but the graphics engine's, which costs the
 * driver ~1.2 ms to compute and is the slow list's only metric. */
enum gpm_list { GPM_LIST_FAST, GPM_LIST_SLOW };
nvmlReturn_t gpm_read(const struct nvml_lib *lib, struct gpm_state *g, nvmlDevice_t dev, int gi,
                      enum gpm_list list, double *raw, metric_set *got);
nvmlReturn_t read_gpm_graphics(struct source_ctx *ctx, double *raw, metric_set *got);
void gpm_release(const struct nvml_lib *lib, struct gpm_state *g);

/* Releases what readers allocated (GPM samples). */
void source_ctx_release(struct source_ctx *ctx);

#endif
