/* prom.h - Prometheus exposition of a board snapshot.
 *
 * Two name sets from the one metric table: gpuscope_* (Prometheus base
 * units, ratios 0-1, _total counters) and dcgm-exporter's DCGM_FI_* (its
 * units and labels, so dashboards 12239 and 13770 work unchanged).  Two
 * formats: text 0.0.4 and OpenMetrics 1.0.0.  A metric without a current
 * valid reading is left out, never written as 0.
 */
#ifndef GPUSCOPE_PROM_H
#define GPUSCOPE_PROM_H

#include "export/strbuf.h"
#include "series/mig.h"
#include "series/snapshot.h"

enum prom_names { NAMES_NATIVE = 1, NAMES_DCGM = 2, NAMES_BOTH = 3 };

struct collectors;

/* How the DCGM_FI_* series look, as dcgm-exporter's flags set them (NULL in prom_options:
 * the defaults of prom_dcgm_default). */
struct prom_dcgm {
	const char *host_label;      /* "hostname" (dcgm-exporter since #655), "Hostname" (older
	                              * dashboards), or NULL for none (-n/--no-hostname) */
	bool driver_version;         /* DCGM_FI_DRIVER_VERSION="..." on every series */
	bool nvml_version;           /* DCGM_FI_NVML_VERSION="..." on every series */
	unsigned gpu_labels;         /* 1 << enum collector_label: the GPU's own label fields
	                              * (DCGM_FI_DEV_SERIAL="...", ...) on its series */
	unsigned xid_window_ms;      /* DCGM_EXP_XID_ERRORS_COUNT's window (-x, 300000) */
	unsigned clock_window_ms;    /* DCGM_EXP_CLOCK_EVENTS_COUNT's (300000) */
	unsigned collect_ms;         /* dcgm-exporter's -c (30000): its sample period */
	bool hpc_jobs;               /* --hpc-job-mapping-dir: one series per job, hpc_job */
	const struct hpc_map *hpc;   /* set by the renderer while it holds the map */
	const struct strbuf *labels; /* set by the renderer for one body: the series labels
	                              * of labeled[i] (no MIG instance, no Xid), rendered
	                              * once, not on each of its ~150 lines; NULL: per line */
	const struct gpu_record *labeled;
	const struct collectors *select; /* -f: only these names, typed and described as the
	                                  * file says (the label rows set the two above);
	                                  * NULL: every DCGM name gpuscope has */
};

/* hostname label, driver version label on, no NVML version label, every name. */
void prom_dcgm_default(struct prom_dcgm *d);

/* The labels dcgm-exporter puts on every series of GPU g (or of its MIG instance mig),
 * after the opening brace and without the closing one (export/prom_dcgm_exp.c). */
void prom_dcgm_series_labels(struct strbuf *out, const struct gpu_record *g,
                             const struct board_info *info, const struct prom_dcgm *o,
                             const struct mig_record *mig);

struct prom_options {
	unsigned names; /* enum prom_names bits */
	bool openmetrics;
	unsigned process_cap; /* per-process series per GPU (export/prom_procs.h); 0: default */
	const struct prom_dcgm *dcgm; /* NULL: prom_dcgm_default */
};

#define PROM_CONTENT_TYPE_TEXT        "text/plain; version=0.0.4; charset=utf-8"
#define PROM_CONTENT_TYPE_OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"

/* Parses "native", "dcgm" or "both"; returns 0 or -1. */
int prom_parse_names(const char *s, unsigned *names);

/* The whole exposition of a snapshot: prom_render_body, then prom_finish. */
void prom_render(const struct board_snapshot *s, const struct prom_options *o, struct strbuf *out);

/* Every family of the snapshot, without the OpenMetrics "# EOF" line, so a
 * cached body can be followed by a scrape's own window families. */
void prom_render_body(const struct board_snapshot *s, const struct prom_options *o,
                      struct strbuf *out);

/* Window aggregates (native names only): for each windowed metric,
 * <base>_max_<unit> and <base>_mean_<unit>, from agg[gpu][metric] over the
 * scrape's window of `seconds` seconds. */
void prom_render_windows(const struct board_snapshot *s, const struct prom_options *o,
                         const struct window_agg (*agg)[METRIC_COUNT], double seconds,
                         struct strbuf *out);

/* The window family's name of a native name: stat ("max", "mean") goes
 * before the unit suffix (gpuscope_power_window_max_watts). */
void prom_window_name(const char *name, const char *stat, char *buf, size_t len);

/* One active diagnosis verdict about one GPU (analyze/ ids and severities). */
struct prom_verdict {
	long gpu;
	const char *uuid;
	const char *verdict;  /* "idle", "power_capped", ... */
	const char *severity; /* "info", "warning", "critical" */
};

/* The gpuscope_verdict family: one series of value 1 per verdict (native
 * names only; nothing when n is 0 or native names are off). */
void prom_render_verdicts(const struct prom_verdict *v, size_t n, const struct prom_options *o,
                          struct strbuf *out);

/* Ends the exposition ("# EOF" in OpenMetrics) and NUL-terminates it. */
void prom_finish(const struct prom_options *o, struct strbuf *out);

#endif
