/* test_report.c - report/: unit conversion into the engine, the default
 * simulator scenario's eight stories and their verdicts, history read back
 * from a real store file, and the renderers' shape (80 columns, one HTML
 * page with its charts, JSON with the window). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "report/render.h"
#include "report/report.h"
#include "store/tests/helpers.h"

static size_t source_index(int metric, enum store_stat stat)
{
	for (size_t k = 0; k < report_nsources; k++)
		if (report_sources[k].metric == metric && report_sources[k].stat == stat)
			return k;
	fail_msg("no source for metric %d", metric);
	return 0;
}

/* One GPU, n points, every raw series NaN. */
static void one_gpu(struct report_data *d, size_t n)
{
	memset(d, 0, sizeof(*d));
	d->from = 1000;
	d->to = 1000 + (int64_t)n - 1;
	d->step = 1;
	d->n = n;
	d->ngpus = 1;
	d->gpus = calloc(1, sizeof(*d->gpus));
	d->gpus[0].uuid = strdup("GPU-test");
	d->gpus[0].model = strdup("NVIDIA H200");
	for (size_t k = 0; k < report_nsources; k++)
		assert_non_null(report_gpu_source(&d->gpus[0], k, n));
}

static void set_raw(struct report_data *d, int metric, enum store_stat stat, double v)
{
	size_t k = source_index(metric, stat);
	for (size_t i = 0; i < d->n; i++)
		d->gpus[0].raw[k][i] = v;
}

static void converts_units(void **state)
{
	struct report_data d;
	one_gpu(&d, 10);
	set_raw(&d, METRIC_GPU_UTIL, STORE_MEAN, 50);         /* percent */
	set_raw(&d, METRIC_POWER, STORE_MEAN, 350000);        /* mW */
	set_raw(&d, METRIC_SM_CLOCK, STORE_MEAN, 1980);       /* MHz */
	set_raw(&d, METRIC_FB_USED, STORE_MAX, 1073741824.0); /* bytes */
	set_raw(&d, METRIC_GPM_DRAM, STORE_MEAN, 85);         /* activity percent */
	set_raw(&d, METRIC_ENERGY, STORE_MEAN, 5000);         /* mJ */
	assert_int_equal(report_convert(&d), 0);
	const struct analyze_gpu_series *a = &d.input.gpus[0];
	assert_int_equal(d.input.ngpus, 1);
	assert_true(a->sig[ANALYZE_SIG_GPU_UTIL][3] == 0.5);
	assert_true(a->sig[ANALYZE_SIG_POWER_W][3] == 350);
	assert_true(a->sig[ANALYZE_SIG_SM_CLOCK_HZ][3] == 1980e6);
	assert_true(a->sig[ANALYZE_SIG_FB_USED_BYTES][3] == 1073741824.0);
	assert_true(a->sig[ANALYZE_SIG_DRAM_ACTIVE][3] == 0.85);
	assert_true(a->sig[ANALYZE_SIG_ENERGY_J][3] == 5);
	/* Never collected: NULL, so the engine says "absent", not 0. */
	assert_null(a->sig[ANALYZE_SIG_TENSOR_ACTIVE]);
	assert_null(a->sig[ANALYZE_SIG_XID_COUNT]);
	assert_true(a->step == 1 && a->n == 10 && a->t0 == 1000);
	report_data_free(&d);
}

/* The verdict each GPU of sim/scenarios/default.json is there to show (its
 * "description"), and a second warning its story also implies ("" none):
 * the leaking GPU is also underused. */
static const char *const intended[8][2] = {
    {ANALYZE_POWER_CAPPED, ""},    {ANALYZE_IDLE, ""},
    {ANALYZE_MEMORY_BW_BOUND, ""}, {ANALYZE_MEMORY_GROWTH, ANALYZE_IDLE},
    {ANALYZE_CPU_BOUND_INPUT, ""}, {ANALYZE_THERMAL_THROTTLING, ""},
    {ANALYZE_VRAM_PRESSURE, ""},   {ANALYZE_HARDWARE_HEALTH, ""},
};

static void default_scenario_tells_its_stories(void **state)
{
	struct report_data d;
	char err[512];
	assert_int_equal(report_load_scenario(NULL, 3600, 1700003599, &d, err, sizeof(err)), 0);
	assert_int_equal(d.ngpus, 8);
	assert_true(d.simulated);
	assert_int_equal(d.from, 1700000000);
	struct analyze_result *r;
	assert_int_equal(analyze_run(&d.input, NULL, &r), 0);
	for (long g = 0; g < 8; g++) {
		const char *want = intended[g][0];
		/* (GPU 4's loader process carries its CPU in the scenario.) */
		if (!analyze_find(r, want, g))
			fail_msg("GPU %ld: no %s verdict", g, want);
		for (size_t i = 0; i < r->nverdicts; i++) {
			const struct analyze_verdict *v = &r->verdicts[i];
			if (v->about.gpu_index != g || v->severity == ANALYZE_SEVERITY_INFO)
				continue;
			if (strcmp(v->id, want) != 0 && strcmp(v->id, intended[g][1]) != 0)
				fail_msg("GPU %ld: unexpected %s %s", g,
				         analyze_severity_name(v->severity), v->id);
		}
	}
	report_data_free(&d);
	analyze_result_free(r);
}

static void bad_scenario_is_an_error(void **state)
{
	struct report_data d;
	char err[512] = "";
	assert_int_equal(report_load_scenario("/nonexistent.json", 60, 0, &d, err, sizeof(err)),
	                 -1);
	assert_true(strlen(err) > 0);
}

static char *render(enum report_format f, const struct report_data *d,
                    const struct analyze_result *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	assert_int_equal(report_render(m, f, d, r), 0);
	fclose(m);
	return buf;
}

/* A scenario no GPU could report: 150 % utilization, -50 W, and a process
 * whose CPU is not in the scenario and whose name is empty. */
static const char wild_scenario[] =
    "{\"name\": \"wild\", \"gpus\": [{\"model\": \"NVIDIA H200\", \"gpm\": true,"
    " \"metrics\": {\"util_gpu_pct\": 150, \"gpm_sm_active_pct\": 180, \"power_w\": -50,"
    " \"clock_event_reasons\": {\"square\": {\"low\": 0, \"high\": 4, \"period\": 1,"
    " \"duty\": 0.4}}},"
    " \"processes\": [{\"pid\": 77, \"name\": \"\", \"used_mib\": 1024}]}]}";

static void demo_reads_a_scenario_as_the_agent_does(void **state)
{
	char path[] = "/tmp/gpuscope-wild-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, wild_scenario, sizeof(wild_scenario) - 1),
	                 (ssize_t)(sizeof(wild_scenario) - 1));
	close(fd);
	struct report_data d;
	char err[512];
	int rc = report_load_scenario(path, 60, 1700000059, &d, err, sizeof(err));
	unlink(path);
	assert_int_equal(rc, 0);
	const struct analyze_gpu_series *g = &d.input.gpus[0];
	for (size_t i = 0; i < d.n; i++) {
		/* Clamped as the simulated NVML calls clamp. */
		assert_true(g->sig[ANALYZE_SIG_GPU_UTIL][i] == 1.0);
		assert_true(g->sig[ANALYZE_SIG_SM_ACTIVE][i] == 1.0);
		assert_true(g->sig[ANALYZE_SIG_POWER_W][i] == 0.0);
		/* A 1 s square wave at 40 %: 4 of the 10 readings, the share of the fast
		 * readings, every second, where one reading a second would say 0 or 1. */
		assert_float_equal(g->sig[ANALYZE_SIG_POWER_CAP_SHARE][i], 0.4, 1e-9);
	}
	struct analyze_result *r;
	assert_int_equal(analyze_run(&d.input, NULL, &r), 0);
	assert_non_null(strstr(r->summaries[0].line, "100% utilized"));
	assert_null(strstr(r->summaries[0].line, "nan"));
	assert_null(strstr(r->summaries[0].line, "-50"));
	/* Unknown is "unknown" (null in JSON), never 0 or an empty name. */
	char *text = render(REPORT_TEXT, &d, r);
	assert_non_null(strstr(text, "pid 77"));
	assert_non_null(strstr(text, "unknown"));
	assert_null(strstr(text, "nan"));
	free(text);
	text = render(REPORT_MARKDOWN, &d, r);
	assert_non_null(strstr(text, "| pid 77 | 1 | 1 | 1.0 GiB | unknown |"));
	free(text);
	text = render(REPORT_HTML, &d, r);
	assert_non_null(strstr(text, "<td>unknown</td>"));
	free(text);
	text = report_json_text(&d, r, 0);
	assert_non_null(strstr(text, "\"cpu_cores_mean\":null"));
	assert_null(strstr(text, "\"cpu_cores_mean\":0"));
	free(text);
	analyze_result_free(r);
	report_data_free(&d);
}

static void renderers_have_their_shape(void **state)
{
	struct report_data d;
	char err[512];
	assert_int_equal(report_load_scenario(NULL, 600, 1700000599, &d, err, sizeof(err)), 0);
	struct analyze_result *r;
	assert_int_equal(analyze_run(&d.input, NULL, &r), 0);

	char *text = render(REPORT_TEXT, &d, r);
	assert_non_null(strstr(text, "FLEET"));
	assert_non_null(strstr(text, "GPU 7"));
	assert_non_null(strstr(text, "SIMULATED"));
	for (char *line = text, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		assert_non_null(nl);
		if (nl - line > 80)
			fail_msg("line longer than 80 columns: %.*s", (int)(nl - line), line);
	}
	free(text);

	char *md = render(REPORT_MARKDOWN, &d, r);
	assert_non_null(strstr(md, "# gpuscope report"));
	assert_non_null(strstr(md, "## GPU 0"));
	free(md);

	char *html = render(REPORT_HTML, &d, r);
	assert_non_null(strstr(html, "<!doctype html>"));
	assert_non_null(strstr(html, "<polyline"));
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "src=\"http"));
	assert_non_null(strstr(html, "</html>"));
	free(html);

	char *json = render(REPORT_JSON, &d, r);
	assert_non_null(strstr(json, "\"schema\": \"gpuscope.diagnosis/v1\""));
	assert_non_null(strstr(json, "\"window\""));
	assert_non_null(strstr(json, "\"simulated\": true"));
	free(json);
	analyze_result_free(r);
	report_data_free(&d);
}

static void reads_a_store_and_reports_an_empty_window(void **state)
{
	char *dir = tmpdir_make(), *path = path_join(dir, "h.db"), err[1024];
	struct store *s = open_writer(path, 0, 0);
	double raw[METRIC_COUNT];
	for (int m = 0; m < METRIC_COUNT; m++)
		raw[m] = NAN;
	raw[METRIC_GPU_UTIL] = 2;
	raw[METRIC_POWER] = 90000;
	raw[METRIC_FB_USED] = 2e9;
	raw[METRIC_FB_TOTAL] = 150e9;
	for (int64_t t = 1700000000; t < 1700000120; t++) {
		struct store_gpu_row row = {
		    .uuid = "GPU-r", .model = "NVIDIA H200", .t = t, .raw = raw};
		assert_int_equal(store_put_gpu(s, &row), STORE_OK);
		struct store_process_row p = {.t = t,
		                              .uuid = "GPU-r",
		                              .pid = 4242,
		                              .name = "python3",
		                              .pod = "llm-0",
		                              .namespace_ = "serving",
		                              .value = {[PROC_FAMILY_MEMORY] = 1e9,
		                                        [PROC_FAMILY_SM] = 0.01,
		                                        [PROC_FAMILY_CPU] = 1.0}};
		assert_int_equal(store_put_process(s, &p), STORE_OK);
	}
	assert_int_equal(store_close(s), STORE_OK);
	s = open_reader(path);

	struct report_data d;
	bool empty = false;
	assert_int_equal(
	    report_load_store(s, path, 1700000000, 1700000119, &d, &empty, err, sizeof(err)), 0);
	assert_int_equal(d.ngpus, 1);
	assert_int_equal(d.n, 120);
	assert_true(d.input.gpus[0].sig[ANALYZE_SIG_GPU_UTIL][5] == 0.02);
	assert_true(d.input.gpus[0].sig[ANALYZE_SIG_POWER_W][5] == 90);
	assert_int_equal(d.gpus[0].nprocs, 1);
	assert_string_equal(d.gpus[0].rprocs[0].workload, "serving/llm-0");
	assert_true(d.input.gpus[0].procs[0].cpu_cores[7] == 1.0);
	struct analyze_result *r;
	assert_int_equal(analyze_run(&d.input, NULL, &r), 0);
	/* A saturated single-threaded loader while the GPU idles: the input
	 * pipeline is the story, so "idle" (give the GPU back) is not told. */
	assert_non_null(analyze_find(r, ANALYZE_CPU_BOUND_INPUT, 0));
	assert_null(analyze_find(r, ANALYZE_IDLE, 0));
	char *text = render(REPORT_TEXT, &d, r);
	assert_non_null(strstr(text, "WORKLOADS"));
	assert_non_null(strstr(text, "serving/llm-0"));
	free(text);
	analyze_result_free(r);
	report_data_free(&d);

	assert_int_equal(
	    report_load_store(s, path, 1600000000, 1600000100, &d, &empty, err, sizeof(err)), -1);
	assert_true(empty);
	store_close(s);
	free(path);
	tmpdir_remove(dir);
}

/* A window and a fleet larger than the budget read wider points, not more of them: 100
 * GPUs over a day get at most report_points_per_gpu(100) points a series, each folded
 * from the rows inside it (here one row every 10 minutes, so a 2-minute point is its
 * row or absent), and the memory of the arrays no longer grows with the window. */
static void a_long_window_reads_bounded_points(void **state)
{
	char *dir = tmpdir_make(), *path = path_join(dir, "h.db"), err[1024];
	struct store *s = open_writer(path, 0, 0);
	double raw[METRIC_COUNT];
	for (int m = 0; m < METRIC_COUNT; m++)
		raw[m] = NAN;
	const int64_t t0 = 1700000080, ngpus = 100; /* t0: 40 s into a minute */
	for (int64_t t = t0; t < t0 + 86400; t += 600)
		for (int g = 0; g < ngpus; g++) {
			char uuid[32];
			snprintf(uuid, sizeof(uuid), "GPU-%03d", g);
			raw[METRIC_GPU_UTIL] = (t - t0) / 600 % 2 ? 80 : 20;
			raw[METRIC_POWER] = 1000.0 * (double)(100 + g);
			struct store_gpu_row row = {
			    .uuid = uuid, .model = "NVIDIA H200", .t = t, .raw = raw};
			assert_int_equal(store_put_gpu(s, &row), STORE_OK);
		}
	assert_int_equal(store_close(s), STORE_OK);
	s = open_reader(path);

	struct report_data d;
	assert_int_equal(report_load_store(s, path, t0, t0 + 86399, &d, NULL, err, sizeof(err)), 0);
	assert_int_equal(d.ngpus, ngpus);
	/* 86,400 points for the fleet: 864 a GPU, so points of 100 s rounded up to whole
	 * minutes: 120 s from the minute of t0. */
	assert_true(d.n <= report_points_per_gpu((size_t)ngpus));
	assert_true(d.step == 120);
	assert_int_equal(d.from, t0 - 40);
	for (size_t g = 0; g < d.ngpus; g++) {
		const double *util = d.input.gpus[g].sig[ANALYZE_SIG_GPU_UTIL];
		const double *power = d.input.gpus[g].sig[ANALYZE_SIG_POWER_W];
		for (size_t i = 0; i < d.n; i++) {
			int64_t a = d.from + (int64_t)i * 120;
			bool has_row = (a + 40 - t0) % 600 == 0; /* the row at a + 40 */
			if (!has_row) {
				assert_true(isnan(util[i]));
				continue;
			}
			assert_true(util[i] == ((a + 40 - t0) / 600 % 2 ? 0.8 : 0.2));
			assert_true(power[i] == (double)(100 + atoi(d.gpus[g].uuid + 4)));
		}
	}
	/* Sources no row had are not held at all. */
	for (size_t k = 0; k < report_nsources; k++)
		if (report_sources[k].metric != METRIC_GPU_UTIL &&
		    report_sources[k].metric != METRIC_POWER)
			assert_null(d.gpus[0].raw[k]);
	report_data_free(&d);
	store_close(s);
	free(path);
	tmpdir_remove(dir);
}

/* The value a point of `n` seconds v[0..n-1] holds for source k, folded as the store
 * folds rows: the stat of a windowed metric over the seconds, else the latest. */
static double folded(size_t k, const double *v, size_t n)
{
	int m = report_sources[k].metric;
	enum store_stat stat = report_sources[k].stat;
	double acc = NAN;
	size_t have = 0;
	for (size_t i = 0; i < n; i++) {
		if (isnan(v[i]))
			continue;
		if (have == 0 || !metric_windowed(m))
			acc = v[i];
		else if (stat == STORE_MEAN)
			acc += v[i];
		else
			acc = stat == STORE_MAX ? fmax(acc, v[i]) : fmin(acc, v[i]);
		have++;
	}
	return have && metric_windowed(m) && stat == STORE_MEAN ? acc / (double)have : acc;
}

static void near_point(double got, double want, const char *what, size_t g, size_t i)
{
	if (isnan(want) ? !isnan(got) : !(fabs(got - want) <= 1e-9 * fmax(1, fabs(want))))
		fail_msg("GPU %zu %s point %zu: %.17g, want %.17g", g, what, i, got, want);
}

/* Half a day of the demo is folded into the points a report of 8 GPUs may hold (10,800
 * a series) while it is evaluated: 4 s points from the scenario's start, not 43,200
 * seconds, each exactly its seconds folded (mean, max, min, latest). */
static void a_long_demo_holds_the_points_of_its_window(void **state)
{
	struct report_data day, hour;
	char err[512];
	const int64_t from = 1700000000;
	const size_t step = 4;
	const int seconds = 12 * 3600;
	assert_int_equal(
	    report_load_scenario(NULL, seconds, from + seconds - 1, &day, err, sizeof(err)), 0);
	assert_int_equal(day.n, (size_t)seconds / step);
	assert_true(day.n <= report_points_per_gpu(day.ngpus));
	assert_true(day.step == (double)step);
	assert_int_equal(day.from, from);
	/* Its first hour, evaluated alone, stays at 1 s: the points hold those seconds. */
	assert_int_equal(report_load_scenario(NULL, 3600, from + 3599, &hour, err, sizeof(err)), 0);
	assert_int_equal(hour.n, 3600);
	assert_true(hour.step == 1);
	for (size_t g = 0; g < day.ngpus; g++) {
		const struct report_gpu *dg = &day.gpus[g], *hg = &hour.gpus[g];
		for (size_t k = 0; k < report_nsources; k++)
			for (size_t i = 0; i < 3600 / step; i++)
				near_point(dg->raw[k][i], folded(k, hg->raw[k] + step * i, step),
				           metric_table[report_sources[k].metric].name, g, i);
		assert_int_equal(dg->procs.nprocs, hg->procs.nprocs);
		for (size_t p = 0; p < dg->procs.nprocs; p++)
			for (size_t i = 0; i < 3600 / step; i++) {
				const struct store_process_series *dp = &dg->procs.procs[p],
				                                  *hp = &hg->procs.procs[p];
				double mem = 0, sm = 0;
				size_t nmem = 0, nsm = 0;
				for (size_t j = step * i; j < step * i + step; j++) {
					if (!isnan(hp->value[PROC_FAMILY_MEMORY][j]))
						mem += hp->value[PROC_FAMILY_MEMORY][j], nmem++;
					if (!isnan(hp->value[PROC_FAMILY_SM][j]))
						sm += hp->value[PROC_FAMILY_SM][j], nsm++;
				}
				near_point(dp->value[PROC_FAMILY_MEMORY][i],
				           nmem ? mem / (double)nmem : NAN, "process memory", g, i);
				near_point(dp->value[PROC_FAMILY_SM][i],
				           nsm ? sm / (double)nsm : NAN, "process SM", g, i);
			}
	}
	report_data_free(&day);
	report_data_free(&hour);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(converts_units),
	    cmocka_unit_test(default_scenario_tells_its_stories),
	    cmocka_unit_test(bad_scenario_is_an_error),
	    cmocka_unit_test(renderers_have_their_shape),
	    cmocka_unit_test(demo_reads_a_scenario_as_the_agent_does),
	    cmocka_unit_test(reads_a_store_and_reports_an_empty_window),
	    cmocka_unit_test(a_long_window_reads_bounded_points),
	    cmocka_unit_test(a_long_demo_holds_the_points_of_its_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
