/* report.c - `gpuscope report`: a diagnosis report over a window of history.
 *
 * Reads the agent's SQLite history (read-only, so it runs beside a serving
 * agent) or, with --demo, an hour of a simulator scenario evaluated at once,
 * runs the diagnosis engine and renders the result (report/).  The options it shares
 * with `gpuscope query` are parsed in cmd/window_opts.c; which window they mean is
 * report/window.c's.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/commands.h"
#include "cmd/options.h"
#include "cmd/window_opts.h"
#include "report/report.h"
#include "report/window.h"
#include "series/time_text.h"

static void report_usage(FILE *to)
{
	fprintf(to,
	        "Usage: gpuscope report [OPTIONS]\n"
	        "\n"
	        "Diagnoses every GPU over a window of the history `gpuscope serve` keeps: fleet\n"
	        "summary (utilization, what idle time costs, top verdicts), then each GPU's\n"
	        "verdicts with evidence and a fix, then workloads when processes were recorded,\n"
	        "and inferences (latency p50/p95/p99, GPU time, energy and money per inference)\n"
	        "when `gpuscope run` programs reported to the agent (docs/inference.md).\n"
	        "\n"
	        "Options:\n"
	        "%s"
	        "  --format FMT           text (default, 80 columns), json (schema\n"
	        "                         gpuscope.diagnosis/v1), markdown, or html (one\n"
	        "                         self-contained page with charts)\n"
	        "  --output FILE          write the report to FILE instead of stdout\n"
	        "  --price-per-gpu-hour N price of one GPU-hour for the waste figures (default:\n"
	        "                         a list price by GPU model, docs/diagnosis.md)\n"
	        "  --currency CODE        currency label of that price (default USD)\n"
	        "  --threshold NAME=VALUE change a diagnosis threshold (repeatable), e.g.\n"
	        "                         idle_util_max=0.1; names and defaults in\n"
	        "                         docs/diagnosis.md\n"
	        "  --demo [SCENARIO]      report at once over an hour of a simulator scenario\n"
	        "                         (the 8-GPU default, or a scenario file; --since sets\n"
	        "                         another length, 1m-24h); no history is read\n"
	        "  --prometheus URL       read the window from a Prometheus server instead of\n"
	        "                         the history (range queries of the DCGM_FI_* series\n"
	        "                         of gpuscope agents or dcgm-exporter), e.g.\n"
	        "                         http://prometheus:9090\n"
	        "  --step DUR             Prometheus: seconds between samples (default: 15s,\n"
	        "                         doubled until a series has at most 11000 samples and\n"
	        "                         one name's series of the whole fleet 2 million); a\n"
	        "                         long window or a large fleet folds several samples\n"
	        "                         into one point (mean, max or min) to bound memory\n"
	        "  -h, --help             this help\n"
	        "\n"
	        "Exit status: 0 report written, 1 no history / empty window / write error,\n"
	        "2 bad usage.\n",
	        window_opts_usage);
}

/* "gpuscope report: ...", the pointer to --help, exit status 2. */
#define bad_usage(...) cmd_usage_error("report", __VA_ARGS__)

int cmd_report(int argc, char **argv)
{
	struct window_opts w;
	window_opts_init(&w, 24 * 3600.0);
	enum report_format fmt = REPORT_TEXT;
	const char *output = NULL, *scenario = NULL, *currency = NULL, *prom = NULL;
	double step = 0;
	bool demo = false;
	double price = NAN;
	const char *thresholds[64];
	size_t nthresholds = 0;
	char err[1024];
	static const char *const value_options[] = {
	    "--format",    "--prometheus",         "--step", "--output", "--currency",
	    "--threshold", "--price-per-gpu-hour", NULL};

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int taken = window_opts_take(&w, argc, argv, &i, err, sizeof(err));
		if (taken < 0)
			return bad_usage("%s", err);
		if (taken)
			continue;
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			report_usage(stdout);
			return 0;
		} else if (strcmp(a, "--demo") == 0) {
			demo = true;
			if (val && val[0] != '-')
				scenario = argv[++i];
		} else if (strcmp(a, "--format") == 0 && val) {
			if (report_parse_format(argv[++i], &fmt) != 0)
				return bad_usage("--format '%s': use text, json, markdown or html",
				                 argv[i]);
		} else if (strcmp(a, "--prometheus") == 0 && val) {
			prom = argv[++i];
			if (strncmp(prom, "http://", 7) != 0 && strncmp(prom, "https://", 8) != 0)
				return bad_usage(
				    "--prometheus '%s': give an http:// or https:// URL", prom);
		} else if (strcmp(a, "--step") == 0 && val) {
			if (parse_span(argv[++i], &step) != 0 || step < 1)
				return bad_usage("--step '%s': give at least 1s, e.g. 15s",
				                 argv[i]);
		} else if (strcmp(a, "--output") == 0 && val) {
			output = argv[++i];
		} else if (strcmp(a, "--currency") == 0 && val) {
			currency = argv[++i];
		} else if (strcmp(a, "--threshold") == 0 && val) {
			struct analyze_config probe;
			analyze_config_default(&probe);
			if (analyze_config_set(&probe, argv[++i], err, sizeof(err)) != 0)
				return bad_usage("--threshold %s", err);
			if (nthresholds >= sizeof(thresholds) / sizeof(thresholds[0]))
				return bad_usage("--threshold: at most 64");
			thresholds[nthresholds++] = argv[i];
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
	int64_t from, to;
	if (report_window_resolve(&w.ask, (int64_t)time(NULL), &from, &to, err, sizeof(err)) != 0)
		return bad_usage("%s", err);

	struct report_data data;
	if (demo && prom)
		return bad_usage("give --demo or --prometheus, not both");
	/* An option that would change nothing in this mode is a mistake worth saying. */
	if (step > 0 && !prom)
		return bad_usage(
		    "--step is the step of Prometheus queries: give it with --prometheus");
	if (demo && (w.ask.has_from || w.ask.has_to))
		return bad_usage("--demo evaluates the last --since of a scenario (1m to 24h); "
		                 "--from and --to are for history and --prometheus");
	if (prom) {
		if (w.history)
			return bad_usage("--prometheus reads Prometheus, not --history");
		bool empty = false;
		if (report_load_prometheus(prom, from, to, step, &data, &empty, err, sizeof(err)) !=
		    0) {
			fprintf(stderr, "gpuscope report: %s\n", err);
			return 1;
		}
	} else if (demo) {
		if (w.history)
			return bad_usage("--demo reports over a simulator scenario, not --history");
		double secs = w.ask.since_given ? w.ask.since : 3600;
		if (secs < 60 || secs > 86400)
			return bad_usage("--demo evaluates 1m to 24h of the scenario (--since)");
		if (report_load_scenario(scenario, (int)secs, (int64_t)time(NULL), &data, err,
		                         sizeof(err)) != 0) {
			fprintf(stderr, "gpuscope report: --demo: %s\n", err);
			return 1;
		}
	} else if (window_opts_load(&w, from, to, &data, "report") != 0) {
		return 1;
	}

	struct analyze_config cfg;
	analyze_config_default(&cfg);
	for (size_t k = 0; k < nthresholds; k++)
		analyze_config_set(&cfg, thresholds[k], err, sizeof(err)); /* checked above */
	if (!isnan(price))
		cfg.price_per_gpu_hour = price;
	if (currency)
		cfg.currency = currency;
	data.serving.price = price; /* NaN: the price each window was recorded with */
	data.serving.currency = currency;
	struct analyze_result *r = NULL;
	if (analyze_run(&data.input, &cfg, &r) != 0) {
		fprintf(stderr, "gpuscope report: the diagnosis engine failed: %m\n");
		report_data_free(&data);
		return 1;
	}
	FILE *out = stdout;
	if (output && !(out = fopen(output, "w"))) {
		fprintf(stderr, "gpuscope report: cannot write %s: %m\n", output);
		analyze_result_free(r);
		report_data_free(&data);
		return 1;
	}
	int rc = report_render(out, fmt, &data, r);
	if (out != stdout && fclose(out) != 0)
		rc = -1;
	else if (out == stdout && fflush(stdout) != 0)
		rc = -1;
	if (rc != 0)
		fprintf(stderr, "gpuscope report: writing the report failed: %m\n");
	analyze_result_free(r);
	report_data_free(&data);
	return rc ? 1 : 0;
}
