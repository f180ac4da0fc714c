/* load.c - a window of history as the diagnosis engine's input.
 *
 * One fixed list of (metric, stat) pairs is read per GPU (report_sources).
 * The stat is chosen for what the engine does with the signal: means for
 * rates and activities (a second's mean is its time-weighted value), the
 * max for memory in use and temperature (a peak is what overflows or
 * throttles).  Units are converted once, with metric_native_value(): the
 * same operation the exporter applies, so 100 % reads 1.0 in both.
 */
#include "report/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct report_source report_sources[] = {
    {METRIC_GPU_UTIL, STORE_MEAN, ANALYZE_SIG_GPU_UTIL, false},
    {METRIC_MEM_UTIL, STORE_MEAN, ANALYZE_SIG_MEM_UTIL, false},
    {METRIC_GPM_SM_ACTIVE, STORE_MEAN, ANALYZE_SIG_SM_ACTIVE, false},
    {METRIC_GPM_SM_OCCUPANCY, STORE_MEAN, ANALYZE_SIG_SM_OCCUPANCY, false},
    {METRIC_GPM_TENSOR, STORE_MEAN, ANALYZE_SIG_TENSOR_ACTIVE, false},
    {METRIC_GPM_DRAM, STORE_MEAN, ANALYZE_SIG_DRAM_ACTIVE, false},
    {METRIC_FB_USED, STORE_MAX, ANALYZE_SIG_FB_USED_BYTES, false},
    {METRIC_FB_TOTAL, STORE_MEAN, ANALYZE_SIG_FB_TOTAL_BYTES, false},
    {METRIC_POWER, STORE_MEAN, ANALYZE_SIG_POWER_W, false},
    {METRIC_POWER_LIMIT, STORE_MEAN, ANALYZE_SIG_POWER_LIMIT_W, false},
    {METRIC_GPU_TEMP, STORE_MAX, ANALYZE_SIG_TEMP_C, false},
    {METRIC_SLOWDOWN_TEMP, STORE_MEAN, ANALYZE_SIG_SLOWDOWN_TEMP_C, false},
    {METRIC_SM_CLOCK, STORE_MEAN, ANALYZE_SIG_SM_CLOCK_HZ, false},
    {METRIC_SM_CLOCK_MAX, STORE_MEAN, ANALYZE_SIG_SM_CLOCK_MAX_HZ, false},
    {METRIC_CLOCK_EVENT_REASONS, STORE_MEAN, ANALYZE_SIG_CLOCK_EVENT_REASONS, false},
    {METRIC_GPM_PCIE_TX, STORE_MEAN, ANALYZE_SIG_PCIE_TX_BYTES_PER_S, false},
    {METRIC_GPM_PCIE_RX, STORE_MEAN, ANALYZE_SIG_PCIE_RX_BYTES_PER_S, false},
    {METRIC_PCIE_LINK_GEN, STORE_MEAN, ANALYZE_SIG_PCIE_LINK_GEN, false},
    {METRIC_PCIE_LINK_WIDTH, STORE_MEAN, ANALYZE_SIG_PCIE_LINK_WIDTH, false},
    {METRIC_XID_COUNT, STORE_MEAN, ANALYZE_SIG_XID_COUNT, false},
    {METRIC_XID_LAST, STORE_MEAN, ANALYZE_SIG_XID_LAST, false},
    {METRIC_ECC_DBE_VOL, STORE_MEAN, ANALYZE_SIG_ECC_DBE_COUNT, false},
    {METRIC_REMAP_FAILURE, STORE_MEAN, ANALYZE_SIG_REMAP_FAILURE, false},
    {METRIC_ENERGY, STORE_MEAN, ANALYZE_SIG_ENERGY_J, false},
    /* Peaks for bursts: the driver's 20 ms power samples where read, else
     * the fast tier's readings. */
    {METRIC_POWER_INSTANT, STORE_MAX, ANALYZE_SIG_POWER_MAX_W, true},
    {METRIC_POWER, STORE_MAX, ANALYZE_SIG_POWER_MAX_W, true},
    {METRIC_GPU_UTIL, STORE_MAX, ANALYZE_SIG_GPU_UTIL_MAX, true},
    /* Measured shares of the clock event reasons (each second's mean of a
     * 0/1 reading per fast sweep). */
    {METRIC_CLOCK_ACTIVE_POWER_CAP, STORE_MEAN, ANALYZE_SIG_POWER_CAP_SHARE, true},
    {METRIC_CLOCK_ACTIVE_POWER_BRAKE, STORE_MEAN, ANALYZE_SIG_POWER_BRAKE_SHARE, true},
    {METRIC_CLOCK_ACTIVE_SW_THERMAL, STORE_MEAN, ANALYZE_SIG_SW_THERMAL_SHARE, true},
    {METRIC_CLOCK_ACTIVE_HW_THERMAL, STORE_MEAN, ANALYZE_SIG_HW_THERMAL_SHARE, true},
    /* the inference servers' tokens on the GPU: the work that J/token divides by */
    {METRIC_TOKENS_GENERATED, STORE_MEAN, -1, false},
    /* Charts only: the bands of the HTML report (a burst is a max, not a mean). */
    {METRIC_POWER, STORE_MIN, -1, true},
    {METRIC_GPU_UTIL, STORE_MIN, -1, true},
};
const size_t report_nsources = sizeof(report_sources) / sizeof(report_sources[0]);
_Static_assert(sizeof(report_sources) / sizeof(report_sources[0]) <= REPORT_SOURCES_MAX,
               "struct report_gpu holds REPORT_SOURCES_MAX sources");

size_t report_points_per_gpu(size_t ngpus)
{
	size_t per = REPORT_FLEET_POINTS / (ngpus ? ngpus : 1);
	per = per < REPORT_GPU_POINTS ? per : REPORT_GPU_POINTS;
	return per > REPORT_GPU_POINTS_MIN ? per : REPORT_GPU_POINTS_MIN;
}

static double *nan_array(size_t n)
{
	double *v = malloc(sizeof(double) * (n ? n : 1));
	for (size_t i = 0; v && i < n; i++)
		v[i] = NAN;
	return v;
}

double *report_gpu_source(struct report_gpu *rg, size_t k, size_t n)
{
	if (!rg->raw[k])
		rg->raw[k] = nan_array(n);
	return rg->raw[k];
}

static bool all_nan(const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isnan(v[i]))
			return false;
	return true;
}

/* Increase of a counter over the points that have it, restarts counted from zero. */
static double counter_increase(const double *v, size_t n)
{
	double inc = 0, prev = NAN;
	for (size_t i = 0; i < n; i++) {
		if (isnan(v[i]))
			continue;
		if (!isnan(prev))
			inc += v[i] >= prev ? v[i] - prev : v[i];
		prev = v[i];
	}
	return inc;
}

int report_convert(struct report_data *d)
{
	free(d->series);
	d->series = calloc(d->ngpus ? d->ngpus : 1, sizeof(*d->series));
	if (!d->series)
		return -1;
	for (size_t g = 0; g < d->ngpus; g++) {
		struct report_gpu *rg = &d->gpus[g];
		size_t n = d->n;
		struct analyze_gpu_series *a = &rg->series;
		memset(a, 0, sizeof(*a));
		a->uuid = rg->uuid;
		a->model = rg->model;
		a->t0 = (double)d->from;
		a->step = d->step;
		a->n = n;
		a->work_done = NAN;
		for (int sig = 0; sig < ANALYZE_SIG_COUNT; sig++) {
			free(rg->conv[sig]);
			rg->conv[sig] = NULL;
		}
		for (size_t k = 0; k < report_nsources; k++) {
			int sig = report_sources[k].signal;
			const double *raw = rg->raw[k];
			if (!raw || all_nan(raw, n))
				continue; /* never collected: the engine says "absent" */
			if (report_sources[k].metric == METRIC_TOKENS_GENERATED) {
				a->work_done = counter_increase(raw, n);
				a->work_unit = "token";
			}
			if (sig < 0)
				continue;
			enum metric_unit unit = metric_table[report_sources[k].metric].unit;
			bool fill_gaps = rg->conv[sig] != NULL;
			double *out = fill_gaps ? rg->conv[sig] : (rg->conv[sig] = nan_array(n));
			if (!out)
				return -1;
			for (size_t i = 0; i < n; i++)
				if (!fill_gaps || isnan(out[i]))
					out[i] =
					    isnan(raw[i]) ? NAN : metric_native_value(unit, raw[i]);
			a->sig[sig] = out;
		}
		a->procs = rg->aprocs;
		a->nprocs = rg->nprocs;
		d->series[g] = *a;
	}
	d->input = (struct analyze_input){.gpus = d->series, .ngpus = d->ngpus};
	return 0;
}

/* The store's process set as the engine's process series. */
int report_convert_processes(struct report_gpu *rg)
{
	size_t np = rg->procs.nprocs;
	rg->nprocs = 0;
	if (np == 0)
		return 0;
	rg->rprocs = calloc(np, sizeof(*rg->rprocs));
	rg->aprocs = calloc(np, sizeof(*rg->aprocs));
	if (!rg->rprocs || !rg->aprocs)
		return -1;
	for (size_t i = 0; i < np; i++) {
		const struct store_process_series *p = &rg->procs.procs[i];
		struct report_process *rp = &rg->rprocs[i];
		const char *w = p->pod && *p->pod               ? p->pod
		                : p->container && *p->container ? p->container
		                : p->job && *p->job             ? p->job
		                                                : "";
		if (p->pod && *p->pod && p->namespace_ && *p->namespace_)
			snprintf(rp->workload, sizeof(rp->workload), "%s/%s", p->namespace_,
			         p->pod);
		else
			snprintf(rp->workload, sizeof(rp->workload), "%s", w);
		rp->a = (struct analyze_process_series){
		    .pid = p->pid,
		    .name = p->name,
		    .workload = rp->workload[0] ? rp->workload : NULL,
		    .cpu_cores_usable = NAN,
		    .gpu_mem_bytes = p->value[PROC_FAMILY_MEMORY],
		    .cpu_cores = p->value[PROC_FAMILY_CPU],
		    .sm_util = p->value[PROC_FAMILY_SM]};
		rg->aprocs[i] = rp->a;
	}
	rg->nprocs = np;
	return 0;
}

int report_load_store(struct store *s, const char *path, int64_t from, int64_t to,
                      struct report_data *out, bool *empty, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (empty)
		*empty = false;
	int64_t asked_from = from, asked_to = to; /* the servers' windows: not narrowed */
	out->from = from;
	out->to = to;
	snprintf(out->source, sizeof(out->source), "history %s", path ? path : "");
	/* A history recorded from the simulator reads as simulated, banner and all. */
	char mark[8], scenario[128];
	if (store_meta_get(s, STORE_META_SIMULATED, mark, sizeof(mark)) && strcmp(mark, "1") == 0) {
		out->simulated = true;
		if (store_meta_get(s, STORE_META_SCENARIO, scenario, sizeof(scenario)))
			snprintf(out->source, sizeof(out->source),
			         "history %.400s (simulator scenario %.60s)", path ? path : "",
			         scenario);
	}
	struct store_gpu_info *list = NULL;
	size_t nlist = 0;
	struct store_request *req = NULL;
	int rc = store_list_gpus(s, from, to, &list, &nlist);
	if (rc != STORE_OK) {
		snprintf(err, errlen, "%s", store_errmsg(s));
		goto err;
	}
	if (nlist == 0) {
		snprintf(err, errlen, "%s has no GPU rows between the window's start and end",
		         path ? path : "the history");
		if (empty)
			*empty = true;
		goto err;
	}
	/* Read only the span that has rows, at its resolution (report/window.h). */
	struct report_window win;
	report_window_fit(list, nlist, NULL, from, to, &win);
	from = out->from = win.from;
	to = out->to = win.to;
	out->gpus = calloc(nlist, sizeof(*out->gpus));
	req = calloc(report_nsources, sizeof(*req));
	if (!out->gpus || !req)
		goto oom;
	for (size_t k = 0; k < report_nsources; k++)
		req[k] = (struct store_request){report_sources[k].metric, report_sources[k].stat};
	/* Points wide enough that the fleet's arrays stay within the budget (report.h);
	 * a point of a minute or more reads the minute rows and their rollups. */
	int64_t bucket;
	enum store_resolution res;
	report_window_points(&win, report_points_per_gpu(nlist), &bucket, &res);
	for (size_t g = 0; g < nlist; g++) {
		struct report_gpu *rg = &out->gpus[g];
		out->ngpus = g + 1;
		rg->uuid = strdup(list[g].uuid);
		rg->model = strdup(list[g].model ? list[g].model : "unknown GPU");
		if (!rg->uuid || !rg->model)
			goto oom;
		struct store_series ss;
		rc = store_query_bucketed(s, list[g].uuid, from, to, req, report_nsources, res,
		                          bucket, &ss);
		if (rc != STORE_OK) {
			snprintf(err, errlen, "%s", store_errmsg(s));
			goto err;
		}
		/* Every GPU is read on the same grid; the first fixes it. */
		if (g == 0) {
			out->n = ss.n;
			out->step = (double)ss.step;
			out->from = ss.t0;
			res = ss.step % 60 == 0 ? STORE_RES_MINUTE : STORE_RES_SECOND;
			bucket = ss.step;
		}
		size_t n = out->n;
		for (size_t k = 0; k < report_nsources && ss.n == n; k++) {
			const double *v = ss.values + k * n;
			if (all_nan(v, n))
				continue;
			if (!report_gpu_source(rg, k, n)) {
				store_series_free(&ss);
				goto oom;
			}
			memcpy(rg->raw[k], v, sizeof(double) * n);
		}
		store_series_free(&ss);
		rc = store_query_processes_bucketed(s, list[g].uuid, from, to, res, bucket,
		                                    &rg->procs);
		if (rc != STORE_OK) {
			snprintf(err, errlen, "%s", store_errmsg(s));
			goto err;
		}
		if (rg->procs.n != n) { /* cannot happen: same grid; never misalign */
			store_process_set_free(&rg->procs);
			memset(&rg->procs, 0, sizeof(rg->procs));
		}
		if (report_convert_processes(rg) != 0)
			goto oom;
	}
	if (report_convert(out) != 0)
		goto oom;
	if (report_serving_load(s, asked_from, asked_to, &out->serving, err, errlen) != 0)
		goto err;
	free(req);
	store_gpu_list_free(list, nlist);
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
err:
	free(req);
	store_gpu_list_free(list, nlist);
	report_data_free(out);
	return -1;
}

void report_data_free(struct report_data *d)
{
	for (size_t g = 0; g < d->ngpus; g++) {
		struct report_gpu *rg = &d->gpus[g];
		free(rg->uuid);
		free(rg->model);
		free(rg->host);
		for (size_t k = 0; k < report_nsources; k++)
			free(rg->raw[k]);
		for (int sig = 0; sig < ANALYZE_SIG_COUNT; sig++)
			free(rg->conv[sig]);
		store_process_set_free(&rg->procs);
		free(rg->rprocs);
		free(rg->aprocs);
	}
	free(d->gpus);
	free(d->series);
	report_inference_free(&d->inference);
	report_serving_free(&d->serving);
	memset(d, 0, sizeof(*d));
}
