/* render.h - what the report's renderers share (text, Markdown, JSON in
 * render.c; HTML in html.c): fleet figures, workload lines, time texts. */
#ifndef GPUSCOPE_REPORT_RENDER_H
#define GPUSCOPE_REPORT_RENDER_H

#include "report/report.h"

#define REPORT_TOP_MAX       12
#define REPORT_WORKLOADS_MAX 64

struct report_top {
	const char *id;
	enum analyze_severity severity; /* the most severe seen */
	size_t count;
};

struct report_fleet {
	double util_mean;      /* mean over GPUs of their mean, NaN when none */
	double waste_per_day;  /* sum over the GPUs with a price; NaN when none */
	double price_per_hour; /* when every priced GPU has the same price, else NaN */
	size_t priced;         /* GPUs with a price */
	double energy_j;
	size_t critical, warning;
	struct report_top top[REPORT_TOP_MAX]; /* most severe, then most common first */
	size_t ntop;
};

void report_fleet(const struct report_data *d, const struct analyze_result *r,
                  struct report_fleet *f);

struct report_workload {
	char name[128];
	size_t gpus, processes;
	double gpu_mem_peak;   /* bytes: sum of each process's peak; NaN when none is known */
	double cpu_cores_mean; /* sum of each known process's mean; NaN when none is known */
	double sm_util_sum;    /* sum of process means; / sm_n for the mean */
	size_t sm_n;
	long last_gpu; /* for counting GPUs */
};

/* Per-workload lines (workload label, else process name, else "pid N"); at
 * most max.  Unknown figures are NaN, printed "unknown" (JSON null), never 0. */
size_t report_workloads(const struct report_data *d, struct report_workload *out, size_t max);

/* v with `decimals` decimals and a suffix into buf, or "unknown" when v is NaN. */
const char *report_num(char *buf, size_t len, double v, int decimals, const char *suffix);

/* "2026-11-21 09:00:00 UTC" */
void report_time(int64_t t, char *buf, size_t len);
/* "24.0 h", "10 min" */
void report_span(double s, char *buf, size_t len);

int report_render_html(FILE *out, const struct report_data *d, const struct analyze_result *r);

#endif
