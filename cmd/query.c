/* query.c - `gpuscope query`: raw history series as CSV or JSON.
 *
 * For notebooks and scripts: one row per GPU per point (CSV, wide: one
 * column per metric) or one series per GPU and metric (JSON), values in the
 * Prometheus base units of the native names (ratios 0-1, W, Hz, bytes),
 * empty/null where absent.  Metrics are named by their native exposition
 * name (gpuscope_power_watts), optionally with its fixed labels
 * (gpuscope_tensor_pipe_active_ratio{pipe="hmma"}); a name shared by several
 * rows selects them all.
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/commands.h"
#include "cmd/options.h"
#include "cmd/query_inference.h"
#include "cmd/query_servers.h"
#include "cmd/window_opts.h"
#include "report/window.h"

#define QUERY_MAX_METRICS 64
#define QUERY_MAX_GPUS    64

static const char *const default_metrics[] = {
    "gpuscope_gpu_utilization_ratio", "gpuscope_sm_active_ratio",   "gpuscope_tensor_active_ratio",
    "gpuscope_dram_active_ratio",     "gpuscope_memory_used_bytes", "gpuscope_power_watts",
    "gpuscope_temperature_celsius",   "gpuscope_sm_clock_hertz",
};

static void query_usage(FILE *to)
{
	fprintf(to,
	        "Usage: gpuscope query [OPTIONS]\n"
	        "\n"
	        "Prints history series for notebooks and scripts: CSV (one row per GPU and\n"
	        "point, one column per metric) or JSON, in Prometheus base units (ratio 0-1,\n"
	        "W, Hz, bytes); absent values are empty (CSV) or null (JSON), never 0.\n"
	        "\n"
	        "Options:\n"
	        "%s"
	        "                         (default: the last hour)\n"
	        "  --gpu UUID|INDEX       only this GPU (repeatable; INDEX counts GPUs in the\n"
	        "                         order the history first saw them)\n"
	        "  --metric NAME          a native metric name, e.g. gpuscope_power_watts or\n"
	        "                         gpuscope_tensor_pipe_active_ratio{pipe=\"hmma\"}\n"
	        "                         (repeatable; default: utilization, SM, tensor and DRAM\n"
	        "                         activity, memory used, power, temperature, SM clock)\n"
	        "  --stat STAT            mean, max or min of each second (or minute) for fast\n"
	        "                         metrics (default mean); other metrics have one value\n"
	        "  --format FMT           csv (default) or json\n"
	        "  --inference            per-inference aggregates instead (gpuscope run\n"
	        "                         programs the agent heard from): per GPU, process and\n"
	        "                         range, count, rate, latency p50/p95/p99, GPU time,\n"
	        "                         energy and money per inference (docs/inference.md)\n"
	        "  --price-per-gpu-hour N with --inference: the GPU-hour price (default: list\n"
	        "                         price by model); --currency CODE its label\n"
	        "  --servers              the inference servers' windows instead: one row per\n"
	        "                         server, model and window (tokens, requests, joules,\n"
	        "                         GPU-seconds, queue, batch, KV cache, TTFT, ITL)\n"
	        "  -h, --help             this help\n"
	        "\n"
	        "The window is narrowed to the seconds that have rows; more than 6 h of rows,\n"
	        "or history older than the 1 s retention, come at 1-minute resolution.\n",
	        window_opts_usage);
}

/* "gpuscope query: ...", the pointer to --help, exit status 2. */
#define bad_usage(...) cmd_usage_error("query", __VA_ARGS__)

/* The row's name as --metric spells it: name, or name{labels}. */
static void metric_label(int m, char *buf, size_t len)
{
	const char *labels = metric_table[m].labels;
	if (labels && *labels)
		snprintf(buf, len, "%s{%s}", metric_table[m].name, labels);
	else
		snprintf(buf, len, "%s", metric_table[m].name);
}

/* Adds the rows NAME selects; returns how many, 0 when none is stored. */
static size_t select_metric(const char *name, int *ids, size_t *n)
{
	size_t added = 0;
	char col[128], full[256];
	for (int m = 0; m < METRIC_COUNT && *n < QUERY_MAX_METRICS; m++) {
		if (!store_column_name(m, STORE_MEAN, col, sizeof(col)))
			continue; /* not stored (run-time labels) */
		metric_label(m, full, sizeof(full));
		if (strcmp(name, metric_table[m].name) != 0 && strcmp(name, full) != 0)
			continue;
		ids[(*n)++] = m;
		added++;
	}
	return added;
}

static void csv_value(FILE *out, double v)
{
	if (!isnan(v))
		fprintf(out, ",%.15g", v);
	else
		fputc(',', out);
}

/* True when GPU k of the list (uuid) is selected by the --gpu values. */
static bool gpu_selected(const char *const *want, size_t nwant, size_t k, const char *uuid)
{
	if (nwant == 0)
		return true;
	for (size_t i = 0; i < nwant; i++) {
		char *end;
		unsigned long idx = strtoul(want[i], &end, 10);
		if ((!*end && end != want[i] && idx == k) || strcmp(want[i], uuid) == 0)
			return true;
	}
	return false;
}

static void json_series(json_t *series, const char *name, const double *v, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, isnan(v[i]) ? json_null() : json_real(v[i]));
	json_object_set_new(series, name, arr);
}

static int query_run(struct window_opts *w, int64_t from, int64_t to, const char *const *want,
                     size_t nwant, const int *ids, size_t nmetrics, enum store_stat stat,
                     bool as_json)
{
	struct store *s = window_opts_open(w, "query");
	if (!s)
		return 1;
	struct store_gpu_info *list = NULL;
	size_t nlist = 0;
	bool *use = NULL; /* use[k]: list[k] is a GPU asked for */
	int rc = 1;
	json_t *doc = NULL, *jgpus = NULL;
	struct store_request req[QUERY_MAX_METRICS];
	for (size_t k = 0; k < nmetrics; k++)
		req[k] = (struct store_request){ids[k], stat};
	if (store_list_gpus(s, from, to, &list, &nlist) != STORE_OK) {
		fprintf(stderr, "gpuscope query: %s\n", store_errmsg(s));
		goto out;
	}
	/* Only the span the GPUs asked for have rows in, as report reads (report/window.h). */
	use = calloc(nlist ? nlist : 1, sizeof(*use));
	if (!use) {
		fprintf(stderr, "gpuscope query: out of memory\n");
		goto out;
	}
	for (size_t k = 0; k < nlist; k++)
		use[k] = gpu_selected(want, nwant, k, list[k].uuid);
	struct report_window win;
	if (!report_window_fit(list, nlist, use, from, to, &win)) {
		fprintf(stderr, "gpuscope query: %s has no %s in that window\n", w->path,
		        nwant ? "rows of the GPUs asked for" : "GPU rows");
		goto out;
	}
	from = win.from;
	to = win.to;
	static const char *stat_names[] = {"mean", "max", "min"};
	char name[256], mark[8], scenario[128] = "";
	/* Data recorded from the simulator is said to be so, as report and --demo say it. */
	bool simulated =
	    store_meta_get(s, STORE_META_SIMULATED, mark, sizeof(mark)) && strcmp(mark, "1") == 0;
	if (simulated) {
		store_meta_get(s, STORE_META_SCENARIO, scenario, sizeof(scenario));
		fprintf(stderr,
		        "gpuscope query: SIMULATED GPUs: %s was recorded from the simulator "
		        "(scenario %s); every number below is made up.\n",
		        w->path, scenario[0] ? scenario : "unknown");
	}
	if (as_json) {
		doc = json_object();
		jgpus = json_array();
		json_object_set_new(doc, "simulated", json_boolean(simulated));
		json_object_set_new(doc, "scenario",
		                    scenario[0] ? json_string(scenario) : json_null());
		json_object_set_new(doc, "history", json_string(w->path));
		json_object_set_new(doc, "from", json_integer(from));
		json_object_set_new(doc, "to", json_integer(to));
		json_object_set_new(doc, "stat", json_string(stat_names[stat]));
		json_object_set_new(doc, "gpus", jgpus);
	} else {
		printf("t,time,gpu,uuid");
		for (size_t k = 0; k < nmetrics; k++) {
			metric_label(ids[k], name, sizeof(name));
			/* a label set has commas and quotes: quote the header cell */
			if (strchr(name, ',') || strchr(name, '"')) {
				fputs(",\"", stdout);
				for (const char *p = name; *p; p++)
					fputs(*p == '"' ? "\"\"" : (char[2]){*p, 0}, stdout);
				fputc('"', stdout);
			} else {
				printf(",%s", name);
			}
		}
		putchar('\n');
	}
	for (size_t g = 0; g < nlist; g++) {
		if (!use[g])
			continue;
		struct store_series ss;
		if (store_query(s, list[g].uuid, from, to, req, nmetrics, win.res, &ss) !=
		    STORE_OK) {
			fprintf(stderr, "gpuscope query: %s\n", store_errmsg(s));
			goto out;
		}
		for (size_t k = 0; k < nmetrics; k++) {
			double *v = ss.values + k * ss.n;
			for (size_t i = 0; i < ss.n; i++)
				if (!isnan(v[i]))
					v[i] = metric_native_value(metric_table[ids[k]].unit, v[i]);
		}
		if (as_json) {
			json_t *o = json_object(), *series = json_object();
			json_object_set_new(o, "gpu", json_integer((json_int_t)g));
			json_object_set_new(o, "uuid", json_string(list[g].uuid));
			json_object_set_new(
			    o, "model", list[g].model ? json_string(list[g].model) : json_null());
			json_object_set_new(o, "t0", json_integer(ss.t0));
			json_object_set_new(o, "step", json_integer(ss.step));
			json_object_set_new(o, "n", json_integer((json_int_t)ss.n));
			for (size_t k = 0; k < nmetrics; k++) {
				metric_label(ids[k], name, sizeof(name));
				json_series(series, name, ss.values + k * ss.n, ss.n);
			}
			json_object_set_new(o, "series", series);
			json_array_append_new(jgpus, o);
		} else {
			for (size_t i = 0; i < ss.n; i++) {
				int64_t t = ss.t0 + (int64_t)i * ss.step;
				bool any = false;
				for (size_t k = 0; k < nmetrics && !any; k++)
					any = !isnan(ss.values[k * ss.n + i]);
				if (!any)
					continue; /* no row that second */
				time_t tt = (time_t)t;
				struct tm tm;
				gmtime_r(&tt, &tm);
				char iso[32];
				strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
				printf("%lld,%s,%zu,%s", (long long)t, iso, g, list[g].uuid);
				for (size_t k = 0; k < nmetrics; k++)
					csv_value(stdout, ss.values[k * ss.n + i]);
				putchar('\n');
			}
		}
		store_series_free(&ss);
	}
	if (as_json) {
		char *text =
		    json_dumps(doc, JSON_INDENT(1) | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(10));
		if (!text) {
			fprintf(stderr, "gpuscope query: out of memory\n");
			goto out;
		}
		printf("%s\n", text);
		free(text);
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "gpuscope query: writing failed: %m\n");
		goto out;
	}
	rc = 0;
out:
	json_decref(doc);
	free(use);
	store_gpu_list_free(list, nlist);
	store_close(s);
	return rc;
}

int cmd_query(int argc, char **argv)
{
	struct window_opts w;
	window_opts_init(&w, 3600);
	const char *gpus[QUERY_MAX_GPUS];
	size_t ngpus = 0, nmetrics = 0;
	int ids[QUERY_MAX_METRICS];
	enum store_stat stat = STORE_MEAN;
	bool json = false, inference = false, servers = false;
	double price = NAN;
	const char *currency = NULL;
	char err[1024];
	static const char *const value_options[] = {
	    "--gpu", "--metric", "--stat", "--format", "--currency", "--price-per-gpu-hour", NULL};

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int taken = window_opts_take(&w, argc, argv, &i, err, sizeof(err));
		if (taken < 0)
			return bad_usage("%s", err);
		if (taken)
			continue;
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			query_usage(stdout);
			return 0;
		} else if (strcmp(a, "--servers") == 0) {
			servers = true;
		} else if (strcmp(a, "--gpu") == 0 && val) {
			if (ngpus == QUERY_MAX_GPUS)
				return bad_usage("at most %d --gpu", QUERY_MAX_GPUS);
			gpus[ngpus++] = argv[++i];
		} else if (strcmp(a, "--metric") == 0 && val) {
			if (!select_metric(argv[++i], ids, &nmetrics))
				return bad_usage(
				    "--metric '%s': not a stored native metric name (see "
				    "docs/metrics.md; NVLink per link and Xid by code are "
				    "not stored)",
				    argv[i]);
		} else if (strcmp(a, "--stat") == 0 && val) {
			const char *s = argv[++i];
			if (strcmp(s, "mean") == 0)
				stat = STORE_MEAN;
			else if (strcmp(s, "max") == 0)
				stat = STORE_MAX;
			else if (strcmp(s, "min") == 0)
				stat = STORE_MIN;
			else
				return bad_usage("--stat '%s': use mean, max or min", s);
		} else if (strcmp(a, "--format") == 0 && val) {
			const char *f = argv[++i];
			if (strcmp(f, "json") != 0 && strcmp(f, "csv") != 0)
				return bad_usage("--format '%s': use csv or json", f);
			json = strcmp(f, "json") == 0;
		} else if (strcmp(a, "--inference") == 0) {
			inference = true;
		} else if (strcmp(a, "--currency") == 0 && val) {
			currency = argv[++i];
		} else if (strcmp(a, "--price-per-gpu-hour") == 0 && val) {
			char *end;
			price = strtod(argv[++i], &end);
			if (*end || !isfinite(price) || price < 0)
				return bad_usage(
				    "--price-per-gpu-hour '%s': give a number, e.g. 2.50", argv[i]);
		} else if (!val && option_is_one_of(a, value_options)) {
			return bad_usage("%s needs a value", a);
		} else {
			return bad_usage("unknown option '%s'", a);
		}
	}
	if (nmetrics == 0)
		for (size_t k = 0; k < sizeof(default_metrics) / sizeof(default_metrics[0]); k++)
			select_metric(default_metrics[k], ids, &nmetrics);
	int64_t from, to;
	if (report_window_resolve(&w.ask, (int64_t)time(NULL), &from, &to, err, sizeof(err)) != 0)
		return bad_usage("%s", err);
	if (inference)
		return query_inference_run(&w, from, to, gpus, ngpus, json, price, currency);
	if (!isnan(price) || currency)
		return bad_usage("--price-per-gpu-hour and --currency go with --inference");
	if (servers)
		return query_servers_run(&w, from, to, json);
	return query_run(&w, from, to, gpus, ngpus, ids, nmetrics, stat, json);
}
