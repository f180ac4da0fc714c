/* series.c - /api/v1/series from the store (see series.h).
 *
 * One store_query per GPU at the report's resolution; windowed metrics bring their mean,
 * max and min columns, the others one value per point, and bucketing keeps all three.
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

/* Writes one array of nb buckets of `per` source points from a (and, for max/min, the
 * extremes of b): kind 0 mean, 1 max, 2 min. */
static void bucket_array(struct strbuf *sb, const double *a, size_t n, size_t per, int kind,
                         enum metric_unit unit)
{
	sb_puts(sb, "[");
	for (size_t b = 0, i = 0; i < n; b++) {
		size_t end = i + per < n ? i + per : n;
		double acc = kind == 0 ? 0 : NAN;
		size_t k = 0;
		for (; i < end; i++) {
			double v = a[i];
			if (!isfinite(v))
				continue;
			if (kind == 0)
				acc += v;
			else if (k == 0 || (kind == 1 ? v > acc : v < acc))
				acc = v;
			k++;
		}
		if (b)
			sb_puts(sb, ",");
		if (kind == 0)
			acc = k ? acc / (double)k : NAN;
		number_or_null(sb, k ? metric_native_value(unit, acc) : NAN);
	}
	sb_puts(sb, "]");
}

/* One GPU's "series" object; 0, or a store error. */
static int gpu_series(struct strbuf *sb, struct store *s, const char *uuid,
                      const struct series_request *q, enum store_resolution *res, size_t *per,
                      struct store_series *grid, bool *have_grid)
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
	int rc = store_query(s, uuid, q->from, q->to, req, nreq, *res, &ss);
	if (rc != STORE_OK)
		return rc;
	if (!*have_grid) {
		/* Every GPU on the first one's grid, even where another has minute rows. */
		*res = ss.step == 60 ? STORE_RES_MINUTE : STORE_RES_SECOND;
		*per = (ss.n + q->max_points - 1) / q->max_points;
		if (*per == 0)
			*per = 1;
		*grid = ss;
		grid->values = NULL;
		*have_grid = true;
	}
	sb_puts(sb, "{");
	for (size_t k = 0; k < NMETRICS; k++) {
		int m = series_metrics[k];
		enum metric_unit unit = metric_table[m].unit;
		const double *mean = ss.values + at[k] * ss.n;
		bool w = metric_windowed(m);
		const double *max = w ? mean + ss.n : mean, *min = w ? mean + 2 * ss.n : mean;
		sb_printf(sb, "%s\"%s\": {\"mean\": ", k ? ", " : "", metric_table[m].name);
		bucket_array(sb, mean, ss.n, *per, 0, unit);
		sb_puts(sb, ", \"max\": ");
		bucket_array(sb, max, ss.n, *per, 1, unit);
		sb_puts(sb, ", \"min\": ");
		bucket_array(sb, min, ss.n, *per, 2, unit);
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
	enum store_resolution res = win.res;
	struct strbuf body;
	sb_init(&body, 64 * 1024);
	size_t per = 1, shown = 0;
	struct store_series grid = {0};
	bool have_grid = false;
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
		int rc = gpu_series(&body, s, list[i].uuid, q, &res, &per, &grid, &have_grid);
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
	if (have_grid) {
		size_t nb = (grid.n + per - 1) / per;
		sb_printf(&sb,
		          "\"resolution_s\": %lld, \"step_s\": %lld, \"points\": %zu, \"t\": [",
		          (long long)grid.step, (long long)(grid.step * (int64_t)per), nb);
		for (size_t b = 0; b < nb; b++)
			sb_printf(&sb, "%s%lld", b ? "," : "",
			          (long long)(grid.t0 + (int64_t)(b * per) * grid.step));
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
