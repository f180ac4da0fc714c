/* report.h - history in, a diagnosis report out: the pure parts of
 * `gpuscope report`, `gpuscope query` and the agent's live diagnosis.
 *
 * Loading turns a window of history (the SQLite store, or a simulator
 * scenario evaluated over an hour) into the diagnosis engine's input: one
 * fixed set of (metric, stat) series per GPU in the metric table's raw units,
 * converted to the engine's units (ratios 0-1, W, Hz, bytes) with the one
 * conversion the exporter uses (metric_native_value).  Rendering turns the
 * engine's result plus those series into text (80 columns), Markdown, HTML
 * (self-contained, inline SVG charts) or JSON.
 *
 * Nothing here starts a thread, reads a clock or exits; callers pass times
 * in.  Every allocation belongs to struct report_data.
 */
#ifndef GPUSCOPE_REPORT_H
#define GPUSCOPE_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "analyze/analyze.h"
#include "report/inference.h"
#include "report/serving.h"
#include "report/window.h"
#include "store/store.h"

/* The series a report loads for each GPU, and the engine signal each feeds
 * (-1: charts only). */
struct report_source {
	int metric; /* enum metric_id */
	enum store_stat stat;
	int signal;        /* enum analyze_signal, or -1; when two sources feed one
	                    * signal, the first wins and the later fills its gaps */
	bool history_only; /* a per-second aggregate only the agent's history holds
	                    * (Prometheus has no within-step maxima or shares) */
};
extern const struct report_source report_sources[];
extern const size_t report_nsources;
#define REPORT_SOURCES_MAX 40 /* report_nsources is at most this */

struct report_process {
	struct analyze_process_series a; /* points into the store's set */
	char workload[128];              /* pod, else container, else job, else "" */
};

struct report_gpu {
	char *uuid;
	char *model;
	char *host; /* Prometheus: Hostname (or instance); NULL for local history */
	struct analyze_gpu_series series; /* sig[] point into conv */
	/* Source k's n points in raw units (charts), NULL when it never had a value: a
	 * source a loader cannot fill (Prometheus has no history-only one) costs nothing. */
	double *raw[REPORT_SOURCES_MAX];
	double *conv[ANALYZE_SIG_COUNT]; /* n points in the engine's units, NULL: absent */
	struct store_process_set procs;
	struct report_process *rprocs;
	struct analyze_process_series *aprocs;
	size_t nprocs;
};

struct report_data {
	int64_t from, to; /* the window read, Unix seconds, inclusive */
	double step;      /* seconds between points */
	size_t n;         /* points per series */
	char source[512]; /* "history /path" or "simulator scenario NAME" */
	bool simulated;
	struct report_gpu *gpus;
	size_t ngpus;
	struct analyze_gpu_series *series; /* ngpus, copies for analyze_input */
	struct analyze_input input;
	struct report_inference inference; /* per-inference aggregates (report/inference.h) */
	struct report_serving serving;     /* per-model lines (history only; report/serving.h) */
};

/* Memory bounds.  A series holds at most REPORT_GPU_POINTS points (6 h of seconds), and
 * the fleet's series of one source REPORT_FLEET_POINTS in all (one GPU-day of seconds),
 * so a report's arrays stay under about 46 MB whatever the window: a longer window, or a
 * larger fleet, reads wider points (k seconds or k minutes, each folded from its rows:
 * mean, max of maxima, min of minima, latest value), never more of them.  Fleets beyond
 * REPORT_FLEET_POINTS / REPORT_GPU_POINTS_MIN GPUs keep that floor and grow linearly. */
#define REPORT_GPU_POINTS     21600
#define REPORT_FLEET_POINTS   86400
#define REPORT_GPU_POINTS_MIN 360

/* Points one GPU's series may hold in a fleet of ngpus. */
size_t report_points_per_gpu(size_t ngpus);

/* Source k of rg: its array of n points, allocated NaN on first use; NULL when out of
 * memory.  Loaders fill raw through this, so a source never filled is never allocated. */
double *report_gpu_source(struct report_gpu *rg, size_t k, size_t n);

/* Loads every GPU with rows in [from, to] from an open store, narrowed to
 * the seconds that have rows (out->from, out->to; report/window.h).  Returns 0,
 * or -1 with a message in err: a store error, or "no history in that
 * window" (then *empty is set, when not NULL). */
int report_load_store(struct store *s, const char *path, int64_t from, int64_t to,
                      struct report_data *out, bool *empty, char *err, size_t errlen);

/* Loads `seconds` seconds of a simulator scenario ("" or NULL: the built-in
 * default) from t = 0, evaluated at 1 s steps, dated to end at `end`, folded into
 * at most report_points_per_gpu() points a series (whole seconds each, from t = 0).
 * Returns 0, or -1 with a message in err. */
int report_load_scenario(const char *scenario, int seconds, int64_t end, struct report_data *out,
                         char *err, size_t errlen);

/* Loads [from, to] from a Prometheus server's HTTP API (range queries of
 * the DCGM_FI_* names, every `step` seconds; 0: a default from the window and the
 * fleet's size), one GPU per (Hostname, UUID).  The samples are folded into the
 * report's points as they arrive (mean, max or min of a fast gauge's samples, the
 * latest of anything else), as many samples a point as the budget above needs.
 * Returns 0, or -1 with a message in err (*empty set when it answered but
 * holds no GPU series in the window). */
int report_load_prometheus(const char *url, int64_t from, int64_t to, double step,
                           struct report_data *out, bool *empty, char *err, size_t errlen);

void report_data_free(struct report_data *d);

/* Fills the engine's input from the raw series (after a loader filled raw,
 * or a test did).  Returns 0 or -1 when out of memory. */
/* Builds rg's analyze process series from rg->procs (which it keeps pointing into). */
int report_convert_processes(struct report_gpu *rg);

int report_convert(struct report_data *d);

/* ---- rendering ---- */

enum report_format { REPORT_TEXT, REPORT_JSON, REPORT_MARKDOWN, REPORT_HTML };

/* "text", "json", "markdown" (or "md"), "html"; returns 0 or -1. */
int report_parse_format(const char *s, enum report_format *f);

/* Writes the report; returns 0 or -1 on a write error or out of memory. */
int report_render(FILE *out, enum report_format f, const struct report_data *d,
                  const struct analyze_result *r);

/* The engine's JSON document (analyze_result_json) with the "window" and
 * "workloads" objects added; NULL when out of memory; json_decref() it. */
struct json_t *report_json(const struct report_data *d, const struct analyze_result *r);

/* The engine's JSON (schema gpuscope.diagnosis/v1) with a "window" object
 * (from, to, step, source, simulated) and "workloads"; free() it. */
char *report_json_text(const struct report_data *d, const struct analyze_result *r, int indent);

#endif
