/* prometheus.c - a window of history from Prometheus, for `report
 * --prometheus URL`.
 *
 * One range query (/api/v1/query_range) per DCGM_FI_* name the report needs,
 * so the same report runs on a fleet scraped from gpuscope agents or from
 * NVIDIA's dcgm-exporter.  Series are grouped into GPUs by (hostname, UUID)
 * (Hostname from older exporters, instance when there is neither); MIG instances (GPU_I_ID) are
 * left out, as in the local history.  DCGM's units are turned back into the
 * metric table's raw units by the table's inverse, metric_raw_of_dcgm() (W to mW,
 * MiB to bytes, ratio to percent), so the one conversion in report_convert()
 * applies to every source.
 *
 * What dcgm-exporter does not export (an Xid count: it has only the last
 * code) stays absent, and the engine says what it could not judge; a source
 * no answer filled (the history-only ones are never asked) is never allocated.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

#define PROM_MAX_GPUS   1024
#define PROM_MAX_POINTS 11000 /* Prometheus refuses more points per series */
/* Bounds for fleets.  The default step keeps every series of one name under
 * PROM_NAME_POINTS samples in all (8 GPUs keep 15-60 s steps, 1,000 GPUs over 7 days get
 * 8 min), which bounds what is fetched; no answer carries more than PROM_ANSWER_POINTS
 * points: a longer window is fetched in pieces of time, so the parsed JSON of one answer
 * stays in the tens of MiB whatever the fleet.  What is kept is the report's points
 * (struct fold below): memory does not grow with the window or the samples fetched. */
#define PROM_NAME_POINTS   2000000.0
#define PROM_ANSWER_POINTS 250000.0

struct buf {
	char *data;
	size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t add = size * n;
	char *d = realloc(b->data, b->len + add + 1);
	if (!d)
		return 0;
	memcpy(d + b->len, p, add);
	b->len += add;
	d[b->len] = 0;
	b->data = d;
	return add;
}

/* GET url; the parsed JSON "data" member, or NULL with err filled. */
static json_t *get_json(CURL *c, const char *url, char *err, size_t errlen)
{
	struct buf b = {0};
	char cerr[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "gpuscope-report/" GPUSCOPE_VERSION);
	CURLcode rc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	json_t *doc = NULL;
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
		goto out;
	}
	doc = b.data ? json_loads(b.data, 0, NULL) : NULL;
	const char *status_s = json_string_value(json_object_get(doc, "status"));
	if (!doc || !status_s || strcmp(status_s, "success") != 0) {
		const char *e = json_string_value(json_object_get(doc, "error"));
		snprintf(err, errlen, "HTTP %ld%s%s", status,
		         e ? ": " : " (not a Prometheus API answer)", e ? e : "");
		json_decref(doc);
		doc = NULL;
		goto out;
	}
out:
	free(b.data);
	if (!doc)
		return NULL;
	json_t *data = json_incref(json_object_get(doc, "data"));
	json_decref(doc);
	return data;
}

/* The GPU a series belongs to, created when new; NULL when out of room. */
static struct report_gpu *gpu_for(struct report_data *d, json_t *labels)
{
	const char *uuid = json_string_value(json_object_get(labels, "UUID"));
	/* dcgm-exporter writes hostname since its 4.x releases (#655), Hostname before. */
	const char *host = json_string_value(json_object_get(labels, "hostname"));
	if (!host || !*host)
		host = json_string_value(json_object_get(labels, "Hostname"));
	if (!host || !*host)
		host = json_string_value(json_object_get(labels, "instance"));
	if (!uuid || json_object_get(labels, "GPU_I_ID"))
		return NULL;
	if (!host)
		host = "";
	for (size_t g = 0; g < d->ngpus; g++)
		if (strcmp(d->gpus[g].uuid, uuid) == 0 && strcmp(d->gpus[g].host, host) == 0)
			return &d->gpus[g];
	if (d->ngpus == PROM_MAX_GPUS)
		return NULL;
	struct report_gpu *rg = &d->gpus[d->ngpus];
	const char *model = json_string_value(json_object_get(labels, "modelName"));
	rg->uuid = strdup(uuid);
	rg->host = strdup(host);
	rg->model = strdup(model && *model ? model : "unknown GPU");
	if (!rg->uuid || !rg->host || !rg->model) {
		free(rg->uuid);
		free(rg->host);
		free(rg->model);
		memset(rg, 0, sizeof(*rg));
		return NULL;
	}
	d->ngpus++;
	return rg;
}

/* Folding what arrives into the report's points.  Samples come every `fetch` seconds
 * (the range queries' step); a report point holds `per` of them, folded as the history
 * folds seconds into minutes: the mean of a windowed gauge's samples (its max or min for
 * those stats), the latest value of anything else (counters, states).  Means keep a count
 * per point until the load ends (count[], one array per GPU and source folded), so memory
 * is the report's points, never the samples fetched. */
struct fold {
	struct report_data *d;
	double fetch;
	size_t per;
	double **count; /* PROM_MAX_GPUS x REPORT_SOURCES_MAX, NULL until a mean folds */
	bool oom;
};

enum fold_how { FOLD_LATEST, FOLD_MEAN, FOLD_MAX, FOLD_MIN };

static enum fold_how fold_how(const struct fold *f, size_t k)
{
	const struct report_source *src = &report_sources[k];
	if (f->per == 1 || !metric_windowed(src->metric))
		return FOLD_LATEST;
	return src->stat == STORE_MAX ? FOLD_MAX : src->stat == STORE_MIN ? FOLD_MIN : FOLD_MEAN;
}

/* Sample x (raw units) of source k of GPU rg at time t. */
static void fold_sample(struct fold *f, struct report_gpu *rg, size_t k, double t, double x)
{
	struct report_data *d = f->d;
	double j = round((t - (double)d->from) / f->fetch);
	if (!isfinite(x) || j < 0 || j / (double)f->per >= (double)d->n)
		return;
	size_t i = (size_t)j / f->per;
	double *v = report_gpu_source(rg, k, d->n);
	if (!v) {
		f->oom = true;
		return;
	}
	double **cp = &f->count[(size_t)(rg - d->gpus) * REPORT_SOURCES_MAX + k];
	switch (fold_how(f, k)) {
	case FOLD_LATEST:
		v[i] = x; /* pieces and their samples arrive in time order */
		return;
	case FOLD_MAX:
		v[i] = isnan(v[i]) ? x : fmax(v[i], x);
		return;
	case FOLD_MIN:
		v[i] = isnan(v[i]) ? x : fmin(v[i], x);
		return;
	case FOLD_MEAN:
		if (!*cp && !(*cp = calloc(d->n, sizeof(double)))) {
			f->oom = true;
			return;
		}
		v[i] = (*cp)[i] > 0 ? v[i] + x : x;
		(*cp)[i]++;
		return;
	}
}

/* The means' sums divided by their counts; the counts freed. */
static void fold_finish(struct fold *f)
{
	for (size_t g = 0; g < f->d->ngpus; g++)
		for (size_t k = 0; k < REPORT_SOURCES_MAX; k++) {
			double *c = f->count[g * REPORT_SOURCES_MAX + k];
			double *v = f->d->gpus[g].raw[k];
			for (size_t i = 0; c && i < f->d->n; i++)
				if (c[i] > 0)
					v[i] /= c[i];
			free(c);
			f->count[g * REPORT_SOURCES_MAX + k] = NULL;
		}
}

/* Source k of every GPU from one range query's matrix: DCGM series, or native gpuscope_*
 * ones (the inference servers' tokens per GPU, docs/servers.md), which carry a lower-case
 * uuid and no Hostname, so they join the GPUs the DCGM_FI_* series made by UUID alone
 * (UUIDs are unique across a fleet). */
static void fold_result(struct fold *f, json_t *result, size_t k, bool native)
{
	struct report_data *d = f->d;
	enum metric_unit unit = metric_table[report_sources[k].metric].unit;
	size_t i;
	json_t *series;
	json_array_foreach(result, i, series)
	{
		json_t *labels = json_object_get(series, "metric");
		struct report_gpu *rg = NULL;
		if (native) {
			const char *uuid = json_string_value(json_object_get(labels, "uuid"));
			for (size_t g = 0; uuid && g < d->ngpus && !rg; g++)
				if (strcmp(d->gpus[g].uuid, uuid) == 0)
					rg = &d->gpus[g];
		} else {
			rg = gpu_for(d, labels);
		}
		if (!rg)
			continue;
		size_t j;
		json_t *pt;
		json_array_foreach(json_object_get(series, "values"), j, pt)
		{
			const char *v = json_string_value(json_array_get(pt, 1));
			if (!v)
				continue;
			double x = strtod(v, NULL);
			fold_sample(f, rg, k, json_number_value(json_array_get(pt, 0)),
			            native ? x : metric_raw_of_dcgm(unit, x));
		}
	}
}

/* How many series NAME has in [from, to]: one instant query at `to`, 0 when none (or
 * when the server cannot say: the default step then stays the small-fleet one). */
static size_t count_series(CURL *c, const char *url, int baselen, const char *name, int64_t from,
                           int64_t to)
{
	char q[2048], why[512];
	snprintf(q, sizeof(q),
	         "%.*s/api/v1/query?query=count(last_over_time(%s%%5B%llds%%5D))&time=%lld",
	         baselen, url, name, (long long)(to - from + 1), (long long)to);
	json_t *data = get_json(c, q, why, sizeof(why));
	json_t *v = json_array_get(
	    json_object_get(json_array_get(json_object_get(data, "result"), 0), "value"), 1);
	double n = json_is_string(v) ? strtod(json_string_value(v), NULL) : 0;
	json_decref(data);
	return n >= 1 && n < 1e9 ? (size_t)n : 0;
}

/* Where a name's range queries go: the server, the samples fetched (nf of them, every
 * fetch seconds from `from`, `per` to a report point), and how many steps one answer may
 * hold. */
struct range_ctx {
	CURL *c;
	const char *url;
	int base;
	size_t span;
	int64_t from;
	double fetch;
	size_t nf;
	size_t per;
};

/* What one name's queries ask for: every sample on the fetch grid (agg NULL), or, when a
 * report point holds several, Prometheus' own fold of each point: agg_over_time over the
 * point's width, evaluated at its last sample's time (so fold_sample() files the answer
 * under that point), and a plain instant there for the latest value (agg "").  Prometheus
 * then sends one value a point instead of `per`, and folds every scraped sample rather
 * than one per fetch step. */
static int range_pieces_as(const struct range_ctx *r, const char *name, const char *agg,
                           report_prom_result_fn each, void *arg, char *err, size_t errlen)
{
	bool points = agg && r->per > 1;
	double step = points ? r->fetch * (double)r->per : r->fetch;
	double start = (double)r->from + (points ? (double)(r->per - 1) * r->fetch : 0);
	size_t n = points ? (r->nf + r->per - 1) / r->per : r->nf;
	char query[512];
	if (points && *agg) /* the range is (T - width, T]: no sample counts in two points */
		snprintf(query, sizeof(query), "%s_over_time(%s%%5B%.0fms%%5D)", agg, name,
		         step * 1000 - 1);
	else
		snprintf(query, sizeof(query), "%s", name);
	for (size_t i0 = 0; i0 < n; i0 += r->span) {
		size_t i1 = i0 + r->span < n ? i0 + r->span : n; /* steps [i0, i1) */
		char q[2048], why[512];
		snprintf(q, sizeof(q),
		         "%.*s/api/v1/query_range?query=%s&start=%.0f&end=%.0f&step=%g", r->base,
		         r->url, query, start + (double)i0 * step, start + (double)(i1 - 1) * step,
		         step);
		json_t *data = get_json(r->c, q, why, sizeof(why));
		if (!data) {
			snprintf(err, errlen, "prometheus %.*s: query %s: %s", r->base, r->url,
			         name, why);
			return -1;
		}
		each(json_object_get(data, "result"), arg);
		json_decref(data);
	}
	return 0;
}

static int range_pieces(const struct range_ctx *r, const char *name, report_prom_result_fn each,
                        void *arg, char *err, size_t errlen)
{
	return range_pieces_as(r, name, NULL, each, arg, err, errlen);
}

/* Source k of the GPUs from each answer: DCGM series or native ones. */
struct source_arg {
	struct fold *f;
	size_t k;
	bool native;
};

static void fill_source(json_t *result, void *arg)
{
	const struct source_arg *a = arg;
	fold_result(a->f, result, a->k, a->native);
}

/* The per-model lines' families (serving.h): optional, so a failing query only leaves
 * the family absent. */
static void range_of(void *vctx, const char *name, report_prom_result_fn each, void *arg)
{
	char why[512];
	range_pieces(vctx, name, each, arg, why, sizeof(why));
}

static int by_host_then_uuid(const void *a, const void *b)
{
	const struct report_gpu *x = a, *y = b;
	int c = strcmp(x->host, y->host);
	return c ? c : strcmp(x->uuid, y->uuid);
}

int report_load_prometheus(const char *url, int64_t from, int64_t to, double step,
                           struct report_data *out, bool *empty, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (empty)
		*empty = false;
	CURL *c = curl_easy_init();
	out->gpus = calloc(PROM_MAX_GPUS, sizeof(*out->gpus));
	if (!out->gpus || !c) {
		snprintf(err, errlen, c ? "out of memory" : "libcurl did not start");
		goto err;
	}
	int base = (int)strlen(url);
	while (base > 0 && url[base - 1] == '/')
		base--;
	double span_s = (double)(to - from);
	size_t series = count_series(c, url, base, metric_table[METRIC_POWER].dcgm, from, to);
	if (step <= 0) {
		/* The default: 15 s, doubled until a series fits Prometheus' limit and the
		 * fleet's series of one name fit PROM_NAME_POINTS. */
		step = 15;
		while (span_s / step + 1 > PROM_MAX_POINTS ||
		       (double)series * (span_s / step + 1) > PROM_NAME_POINTS)
			step *= 2;
	}
	if (!(step >= 1))
		step = 1;
	double points = floor(span_s / step) + 1;
	if (points > PROM_MAX_POINTS) {
		snprintf(err, errlen,
		         "%.0f points per series at a %.0f s step; Prometheus answers at most %d: "
		         "give a larger --step or a shorter window",
		         points, step, PROM_MAX_POINTS);
		goto err;
	}
	/* The report's points: `per` samples each, so that the fleet fits the report's
	 * budget (report.h; sized for PROM_MAX_GPUS when the count was not answered). */
	size_t nf = (size_t)points, fleet = series ? series : PROM_MAX_GPUS;
	size_t per_gpu = report_points_per_gpu(fleet);
	struct fold f = {out, step, (nf + per_gpu - 1) / per_gpu, NULL, false};
	f.count = calloc((size_t)PROM_MAX_GPUS * REPORT_SOURCES_MAX, sizeof(*f.count));
	if (!f.count) {
		snprintf(err, errlen, "out of memory");
		goto err;
	}
	out->from = from;
	out->to = to;
	out->step = step * (double)f.per;
	out->n = (nf + f.per - 1) / f.per;
	if (f.per == 1)
		snprintf(out->source, sizeof(out->source), "prometheus %s (step %.0f s)", url,
		         step);
	else
		snprintf(out->source, sizeof(out->source),
		         "prometheus %s (step %.0f s, folded into %.0f s points)", url, step,
		         out->step);
	/* Pieces of time small enough that one answer for the fleet stays under
	 * PROM_ANSWER_POINTS. */
	size_t span = (size_t)fmax(1, floor(PROM_ANSWER_POINTS / (double)fleet));
	struct range_ctx rc = {c, url, base, span, from, step, nf, f.per};
	static const char *const agg_of[] = {
	    [FOLD_LATEST] = "", [FOLD_MEAN] = "avg", [FOLD_MAX] = "max", [FOLD_MIN] = "min"};
	for (size_t k = 0; k < report_nsources && !f.oom; k++) {
		const char *name = metric_table[report_sources[k].metric].dcgm;
		if (!name || report_sources[k].history_only)
			continue;
		struct source_arg sa = {&f, k, false};
		if (range_pieces_as(&rc, name, agg_of[fold_how(&f, k)], fill_source, &sa, err,
		                    errlen) != 0)
			goto err_fold;
	}
	/* Then the native series that have no DCGM name but matter to the report: the
	 * inference servers' tokens, when Prometheus scrapes gpuscope itself. */
	for (size_t k = 0; k < report_nsources && out->ngpus && !f.oom; k++) {
		if (report_sources[k].metric != METRIC_TOKENS_GENERATED)
			continue;
		char why[512]; /* optional: a fleet of dcgm-exporters has none */
		struct source_arg sa = {&f, k, true};
		range_pieces(&rc, metric_table[report_sources[k].metric].name, fill_source, &sa,
		             why, sizeof(why));
	}
	fold_finish(&f);
	free(f.count);
	f.count = NULL;
	if (f.oom) {
		snprintf(err, errlen, "out of memory");
		goto err;
	}
	/* and the agents' per-model figures, for the "Models served" lines (on the samples'
	 * own grid: each stands for `step` seconds of work) */
	if (out->ngpus &&
	    report_serving_from_prometheus(&out->serving, range_of, &rc, from, step, nf) != 0) {
		snprintf(err, errlen, "out of memory");
		goto err;
	}
	curl_easy_cleanup(c);
	c = NULL;
	if (out->ngpus == 0) {
		snprintf(err, errlen,
		         "prometheus %.*s has no DCGM_FI_* GPU series in that window (is it "
		         "scraping gpuscope or dcgm-exporter?)",
		         (int)base, url);
		if (empty)
			*empty = true;
		goto err;
	}
	qsort(out->gpus, out->ngpus, sizeof(*out->gpus), by_host_then_uuid);
	if (report_convert(out) != 0) {
		snprintf(err, errlen, "out of memory");
		goto err;
	}
	return 0;
err_fold:
	fold_finish(&f);
	free(f.count);
err:
	curl_easy_cleanup(c);
	report_data_free(out);
	return -1;
}
