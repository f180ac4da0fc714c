/* series.c - /api/v1/series from the store (see series.h).
 *
 * One store_query_bucketed per GPU, its points as wide as the window and max_points ask
 * (report_window_points): the store folds the rows of a point as it reads them, so a
 * week costs the points sent, never a week of rows.  Windowed metrics bring their mean,
 * max and min columns, the others one value per point (the latest in it).
 * The document is written with a string buffer rather than jansson: a week of eight GPUs
 * is some 150,000 numbers, and a tree of them would cost more than the query.
 */
#include "report/series.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/strbuf.h"
#include "report/report.h"
#include "series/metric_table.h"
#include "series/time_text.h"

/* What the dashboard draws: activity, memory, power and its limit, temperature and its
 * slowdown threshold, SM clock. */
static const int series_metrics[] = {
    METRIC_GPU_UTIL, METRIC_GPM_SM_ACTIVE, METRIC_GPM_TENSOR, METRIC_GPM_DRAM,
    METRIC_FB_USED,  METRIC_FB_TOTAL,      METRIC_POWER,      METRIC_POWER_LIMIT,
    METRIC_GPU_TEMP, METRIC_SLOWDOWN_TEMP, METRIC_SM_CLOCK,
};
#define NMETRICS (sizeof(series_metrics) / sizeof(series_metrics[0]))

int series_parse_args(const struct series_args *a, int64_t now, struct series_request *out,
                      char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->gpu = -1;
	out->max_points = SERIES_POINTS_DEFAULT;
	double span = 3600;
	if ((a->from || a->to) && a->range) {
		snprintf(err, errlen, "give range, or from and to, not both");
		return -1;
	}
	if (a->from || a->to) {
		long long f, t;
		if (!a->from || !a->to || parse_timestamp(a->from, &f) != 0 ||
		    parse_timestamp(a->to, &t) != 0) {
			snprintf(err, errlen,
			         "from and to: give both, as Unix seconds or RFC 3339 times");
			return -1;
		}
		if (t < f || t - f > SERIES_SPAN_MAX_S) {
			snprintf(err, errlen, "from must be before to, at most 90 days apart");
			return -1;
		}
		out->from = f;
		out->to = t;
	} else {
		if (a->range &&
		    (parse_span(a->range, &span) != 0 || span < 60 || span > SERIES_SPAN_MAX_S)) {
			snprintf(err, errlen,
			         "range '%.40s': give 1m to 90d, e.g. 15m, 1h, 24h, 7d", a->range);
			return -1;
		}
		out->to = now;
		out->from = now - (int64_t)span + 1;
	}
	if (a->gpu) {
		char *end;
		long g = strtol(a->gpu, &end, 10);
		if (!*a->gpu || *end || g < 0 || g > 4096) {
			snprintf(err, errlen, "gpu '%.20s': give a GPU index, e.g. 0", a->gpu);
			return -1;
		}
		out->gpu = (int)g;
	}
	if (a->points) {
		char *end;
		long p = strtol(a->points, &end, 10);
		if (!*a->points || *end || p < 10 || p > SERIES_POINTS_MAX) {
			snprintf(err, errlen, "points '%.20s': give 10 to %d", a->points,
			         SERIES_POINTS_MAX);
			return -1;
		}
		out->max_points = (size_t)p;
	}
	return 0;
}

static void number_or_null(struct strbuf *sb, double v)
{
	if (isfinite(v))
		sb_printf(sb, "%.6g", v);
	else
		sb_puts(sb, "null");
}

/* Writes one series as a JSON array in the metric's native unit. */
static void value_array(struct strbuf *sb, const double *v, size_t n, enum metric_unit unit)
{
	sb_puts(sb, "[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_puts(sb, ",");
		number_or_null(sb, isnan(v[i]) ? NAN : metric_native_value(unit, v[i]));
	}
	sb_puts(sb, "]");
}

/* The points every GPU is read on: the first GPU's query fixes them (a later one with
 * minute rows where the first had none is still read on the first's grid). */
struct series_grid {
	enum store_resolution res;
	int64_t bucket;
	struct store_series first; /* t0, step and n of the first GPU's answer (no values) */
	bool fixed;
};

/* One GPU's "series" object, read as points of the grid's width: the store folds each
 * point's rows (mean weighted by seconds, max of the maxima, min of the minima, the latest
 * value of the others), so memory is the points written, not the rows in the window.
 * 0, or a store error. */
static int gpu_series(struct strbuf *sb, struct store *s, const char *uuid,
                      const struct series_request *q, struct series_grid *grid)
{
	struct store_request req[NMETRICS * 3];
	size_t nreq = 0, at[NMETRICS];
	for (size_t k = 0; k < NMETRICS; k++) {
		at[k] = nreq;
		req[nreq++] = (struct store_request){series_metrics[k], STORE_MEAN};
		if (metric_windowed(series_metrics[k])) {
			req[nreq++] = (struct store_request){series_metrics[k], STORE_MAX};
			req[nreq++] = (struct store_request){series_metrics[k], STORE_MIN};
		}
	}
	struct store_series ss;
	int rc =
	    store_query_bucketed(s, uuid, q->from, q->to, req, nreq, grid->res, grid->bucket, &ss);
	if (rc != STORE_OK)
		return rc;
	if (!grid->fixed) {
		/* A point under a minute read with AUTO comes back a minute wide where the
		 * GPU has minute rows: the others then read minutes too. */
		grid->res = ss.step % 60 == 0 ? STORE_RES_MINUTE : STORE_RES_SECOND;
		grid->bucket = ss.step;
		grid->first = ss;
		grid->first.values = NULL;
		grid->fixed = true;
	}
	sb_puts(sb, "{");
	for (size_t k = 0; k < NMETRICS; k++) {
		int m = series_metrics[k];
		enum metric_unit unit = metric_table[m].unit;
		const double *mean = ss.values + at[k] * ss.n;
		bool w = metric_windowed(m);
		const double *max = w ? mean + ss.n : mean, *min = w ? mean + 2 * ss.n : mean;
		sb_printf(sb, "%s\"%s\": {\"mean\": ", k ? ", " : "", metric_table[m].name);
		value_array(sb, mean, ss.n, unit);
		sb_puts(sb, ", \"max\": ");
		value_array(sb, max, ss.n, unit);
		sb_puts(sb, ", \"min\": ");
		value_array(sb, min, ss.n, unit);
		sb_puts(sb, "}");
	}
	sb_puts(sb, "}");
	store_series_free(&ss);
	return STORE_OK;
}

static void json_string(struct strbuf *sb, const char *s)
{
	sb_puts(sb, "\"");
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			sb_printf(sb, "\\%c", c);
		else if (c < 0x20)
			sb_printf(sb, "\\u%04x", c);
		else
			sb_append(sb, (const char *)&c, 1);
	}
	sb_puts(sb, "\"");
}

char *series_json(struct store *s, const struct series_request *request, const char *const *uuids,
                  size_t nuuids, bool simulated, char *err, size_t errlen)
{
	struct store_gpu_info *list = NULL;
	size_t nlist = 0;
	if (store_list_gpus(s, request->from, request->to, &list, &nlist) != STORE_OK) {
		snprintf(err, errlen, "%s", store_errmsg(s));
		return NULL;
	}
	/* Narrowed to the seconds that have rows (as the report is): a week asked of an
	 * hour-old history is that hour, at the hour's resolution (report/window.h). */
	struct series_request narrowed = *request, *q = &narrowed;
	struct report_window win;
	report_window_fit(list, nlist, NULL, q->from, q->to, &win);
	q->from = win.from;
	q->to = win.to;
	struct series_grid grid = {0};
	report_window_points(&win, q->max_points, &grid.bucket, &grid.res);
	struct strbuf body;
	sb_init(&body, 64 * 1024);
	size_t shown = 0;
	for (size_t i = 0; i < nlist; i++) {
		int index = -1;
		for (size_t k = 0; k < nuuids; k++)
			if (uuids[k] && strcmp(uuids[k], list[i].uuid) == 0)
				index = (int)k;
		if (q->gpu >= 0 && index != q->gpu)
			continue;
		sb_puts(&body, shown++ ? ",\n  {" : "\n  {");
		if (index >= 0)
			sb_printf(&body, "\"gpu\": %d, \"uuid\": ", index);
		else
			sb_puts(&body, "\"gpu\": null, \"uuid\": ");
		json_string(&body, list[i].uuid);
		sb_puts(&body, ", \"model\": ");
		json_string(&body, list[i].model ? list[i].model : "");
		sb_puts(&body, ", \"series\": ");
		int rc = gpu_series(&body, s, list[i].uuid, q, &grid);
		if (rc != STORE_OK) {
			snprintf(err, errlen, "%s", store_errmsg(s));
			store_gpu_list_free(list, nlist);
			sb_free(&body);
			return NULL;
		}
		sb_puts(&body, "}");
	}
	store_gpu_list_free(list, nlist);

	struct strbuf sb;
	sb_init(&sb, body.len + 4096);
	sb_printf(&sb,
	          "{\"schema\": \"gpuscope.series/v1\", \"requested\": {\"from\": %lld, "
	          "\"to\": %lld}, \"from\": %lld, \"to\": %lld, \"simulated\": %s, ",
	          (long long)request->from, (long long)request->to, (long long)q->from,
	          (long long)q->to, simulated ? "true" : "false");
	if (grid.fixed) {
		const struct store_series *g = &grid.first;
		sb_printf(&sb, "\"resolution_s\": %d, \"step_s\": %lld, \"points\": %zu, \"t\": [",
		          grid.res == STORE_RES_MINUTE ? 60 : 1, (long long)g->step, g->n);
		for (size_t b = 0; b < g->n; b++)
			sb_printf(&sb, "%s%lld", b ? "," : "",
			          (long long)(g->t0 + (int64_t)b * g->step));
		sb_puts(&sb, "], ");
	} else {
		sb_puts(&sb,
		        "\"resolution_s\": null, \"step_s\": null, \"points\": 0, \"t\": [], ");
	}
	sb_puts(&sb, "\"units\": {");
	for (size_t k = 0; k < NMETRICS; k++) {
		int m = series_metrics[k];
		sb_printf(&sb, "%s\"%s\": \"%s\"", k ? ", " : "", metric_table[m].name,
		          metric_native_unit(metric_table[m].unit));
	}
	sb_puts(&sb, "},\n \"gpus\": [");
	sb_append(&sb, body.data ? body.data : "", body.len);
	sb_puts(&sb, "]}\n");
	sb_free(&body);
	if (sb.oom) {
		sb_free(&sb);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return sb.data; /* the buffer is the caller's now */
}
