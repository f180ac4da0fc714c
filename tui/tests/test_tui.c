/* test_tui.c - tui/: the parsers of the agent's documents (absent values stay absent,
 * garbage leaves the model as it was, rings follow a GPU), the live verdict picked by
 * severity, and the frame's shape at 80x24 and 200x60 (every GPU shown, nothing past the
 * right edge), sorting, filtering and keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tui/frame.h"
#include "tui/model.h"

/* A /api/v1/gpus document of n GPUs; GPU 1 has no temperature (not supported). */
static char *gpus_doc(unsigned n, double util)
{
	size_t cap = 4096 + n * 1024;
	char *s = malloc(cap);
	size_t len = (size_t)snprintf(s, cap,
	                              "{\"hostname\": \"node-a\", \"driver_version\": "
	                              "\"580.1\", \"simulated\": true, \"simulator\": "
	                              "\"t\", \"gpus\": [");
	for (unsigned i = 0; i < n; i++)
		len += (size_t)snprintf(
		    s + len, cap - len,
		    "%s{\"gpu\": %u, \"uuid\": \"GPU-%u\", \"name\": \"NVIDIA H200\", "
		    "\"health\": \"ok\", \"reason\": \"\", \"metrics\": {"
		    "\"gpuscope_gpu_utilization_ratio\": %g, \"gpuscope_sm_active_ratio\": 0.5, "
		    "\"gpuscope_memory_used_bytes\": 4e10, \"gpuscope_memory_total_bytes\": "
		    "1.4e11, "
		    "\"gpuscope_power_watts\": 300, \"gpuscope_power_limit_watts\": 700%s, "
		    "\"gpuscope_clock_event_reasons\": 36, \"gpuscope_xid_errors_total\": %d}}",
		    i ? ", " : "", i, i, util,
		    i == 1 ? "" : ", \"gpuscope_temperature_celsius\": 60", i == 2 ? 3 : 0);
	snprintf(s + len, cap - len, "]}");
	return s;
}

static const char procs_doc[] =
    "{\"gpus\": [{\"gpu\": 0, \"processes\": ["
    "{\"pid\": 10, \"name\": \"small\", \"user\": \"ann\", \"memory_used_bytes\": 1e9, "
    "\"sm_utilization_ratio\": 0.9, \"cpu_utilization_ratio\": 0.1, \"workload\": "
    "{\"namespace\": \"ml\", \"pod\": \"train-0\"}},"
    "{\"pid\": 11, \"name\": \"big\", \"user\": \"bob\", \"memory_used_bytes\": 9e9, "
    "\"sm_utilization_ratio\": 0.1, \"cpu_utilization_ratio\": 2.5, \"workload\": "
    "{\"container_id\": \"0123456789abcdef0123\"}}]},"
    "{\"gpu\": 1, \"processes\": [{\"pid\": 12, \"name\": \"nomem\", \"user\": \"cy\", "
    "\"memory_used_bytes\": null, \"workload\": {\"slurm_job\": 77}}]}]}";

static const char diag_doc[] =
    "{\"verdicts\": ["
    "{\"id\": \"compute_bound\", \"severity\": \"info\", \"title\": \"GPU 0 (H200) is "
    "compute bound\", \"gpu\": 0, \"evidence\": {\"text\": \"e\"}, \"fix\": \"f\"},"
    "{\"id\": \"thermal\", \"severity\": \"critical\", \"title\": \"GPU 0 (H200) is "
    "thermally throttled\", \"gpu\": 0, \"evidence\": {\"text\": \"hot\"}, \"fix\": \"cool\"},"
    "{\"id\": \"power_capped\", \"severity\": \"warning\", \"title\": \"GPU 0 (H200) is "
    "power-capped\", \"gpu\": 0, \"evidence\": {\"text\": \"e\"}, \"fix\": \"f\"}]}";

static struct top_model *model_of(unsigned n)
{
	struct top_model *m = malloc(sizeof(*m));
	char err[256];
	top_model_init(m);
	char *doc = gpus_doc(n, 0.25);
	assert_int_equal(top_model_parse_gpus(m, doc, strlen(doc), err, sizeof(err)), 0);
	free(doc);
	assert_int_equal(top_model_parse_processes(m, procs_doc, strlen(procs_doc), err, 256), 0);
	assert_int_equal(top_model_parse_diagnosis(m, diag_doc, strlen(diag_doc), err, 256), 0);
	return m;
}

static void parses_values_and_keeps_absent_absent(void **state)
{
	struct top_model *m = model_of(3);
	assert_int_equal(m->n_gpus, 3);
	assert_string_equal(m->hostname, "node-a");
	assert_true(m->simulated);
	assert_true(m->gpu[0].temp.ok);
	assert_false(m->gpu[1].temp.ok); /* absent, not 0 */
	assert_false(m->gpu[0].tensor.ok);
	assert_true(m->gpu[0].util.ok);
	assert_true(m->gpu[0].util.v == 0.25);
	assert_int_equal(m->n_procs, 3);
	assert_string_equal(m->proc[0].workload, "ml/train-0");
	assert_string_equal(m->proc[1].workload, "ctr:0123456789ab");
	assert_string_equal(m->proc[2].workload, "slurm:77");
	assert_false(m->proc[2].mem.ok);
	char reasons[64];
	top_clock_reasons_text(m->gpu[0].clock_reasons.v, reasons, sizeof(reasons));
	assert_string_equal(reasons, "power_cap sw_thermal");
	free(m);
}

static void garbage_leaves_the_model(void **state)
{
	struct top_model *m = model_of(2);
	char err[256] = "";
	const char *bad[] = {
	    "", "{", "[]", "{\"gpus\": 3}", "nul", "{\"gpus\": [1, {\"gpu\": -1}]}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = top_model_parse_gpus(m, bad[i], strlen(bad[i]), err, sizeof(err));
		if (rc == 0) /* the last one parses: no usable GPU in it */
			assert_int_equal(m->n_gpus, 0);
		else
			assert_true(err[0] != 0);
	}
	free(m);
	m = model_of(2);
	assert_int_equal(top_model_parse_processes(m, "{\"x\":1}", 7, err, sizeof(err)), -1);
	assert_int_equal(m->n_procs, 3);
	free(m);
}

static void rings_follow_each_gpu(void **state)
{
	struct top_model *m = model_of(3);
	char err[256];
	for (int k = 0; k < 5; k++) {
		char *doc = gpus_doc(3, 0.5);
		assert_int_equal(top_model_parse_gpus(m, doc, strlen(doc), err, sizeof(err)), 0);
		free(doc);
	}
	double v[TOP_RING];
	bool ok[TOP_RING];
	assert_int_equal(top_ring_last(&m->gpu[1].ring[TS_UTIL], 100, v, ok), 6);
	assert_true(v[0] == 0.25 && v[5] == 0.5);
	assert_int_equal(top_ring_last(&m->gpu[1].ring[TS_TEMP], 100, v, ok), 6);
	assert_false(ok[5]); /* an absent point, drawn blank */
	/* A document with one GPU gone: the others keep their history. */
	const char *two = "{\"gpus\": [{\"gpu\": 2, \"uuid\": \"GPU-2\", \"metrics\": {}}]}";
	assert_int_equal(top_model_parse_gpus(m, two, strlen(two), err, sizeof(err)), 0);
	assert_int_equal(m->n_gpus, 1);
	assert_int_equal(m->gpu[0].index, 2);
	assert_int_equal(top_ring_last(&m->gpu[0].ring[TS_UTIL], 100, v, ok), 7);
	free(m);
}

static void live_verdict_is_the_most_severe(void **state)
{
	struct top_model *m = model_of(2);
	assert_string_equal(m->gpu[0].verdict_severity, "critical");
	assert_string_equal(m->gpu[0].verdict_id, "thermal");
	assert_int_equal(m->gpu[0].verdicts, 3);
	assert_string_equal(m->gpu[1].verdict_severity, "");
	const char *pending = "{\"status\": \"pending\", \"reason\": \"first window\"}";
	char err[64];
	assert_int_equal(top_model_parse_diagnosis(m, pending, strlen(pending), err, 64), 0);
	assert_string_equal(m->gpu[0].verdict_severity, "");
	assert_non_null(strstr(m->diagnosis_state, "first window"));
	free(m);
}

static char *text_of(const struct top_frame *f)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	top_frame_print(f, out);
	fclose(out);
	return buf;
}

static void check_frame(const struct top_frame *f, unsigned n_gpus, int rows, int cols)
{
	char *text = text_of(f);
	int lines = 0;
	for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1, lines++) {
		/* Every glyph is one column: code points, not bytes, count. */
		int width = 0;
		for (char *c = line; c < nl; c++)
			width += ((unsigned char)*c & 0xc0) != 0x80;
		assert_true(width <= cols);
	}
	assert_int_equal(lines, rows);
	for (unsigned g = 0; g < n_gpus; g++) {
		char want[32];
		snprintf(want, sizeof(want), "%2u H200", g);
		assert_non_null(strstr(text, want));
	}
	assert_non_null(strstr(text, "SIMULATED"));
	free(text);
}

static void frame_fits_80x24_and_200x60(void **state)
{
	struct top_model *m = model_of(8);
	struct top_frame *f = malloc(sizeof(*f));
	struct top_view v = {0};
	struct top_status st = {.source = "test", .now = 0, .interval_s = 1};
	top_frame_draw(f, 24, 80, true, m, &v, &st);
	check_frame(f, 8, 24, 80);
	char *text = text_of(f);
	assert_non_null(strstr(text, "critical: thermally throttled (+2)"));
	assert_non_null(strstr(text, "XID 3"));
	assert_non_null(strstr(text, "[power_cap sw_thermal]"));
	assert_non_null(strstr(text, "-/-C")); /* GPU 1's absent temperature */
	free(text);
	top_frame_draw(f, 60, 200, false, m, &v, &st);
	check_frame(f, 8, 60, 200);
	free(f);
	free(m);
}

static void sort_filter_and_keys(void **state)
{
	struct top_model *m = model_of(2);
	struct top_frame *f = malloc(sizeof(*f));
	struct top_view v = {0};
	struct top_status st = {.source = "test", .interval_s = 1};
	top_frame_draw(f, 40, 120, true, m, &v, &st);
	char *text = text_of(f);
	assert_true(strstr(text, " big") < strstr(text, " small")); /* by memory */
	free(text);
	assert_true(top_view_key(&v, m, 's'));
	assert_int_equal(v.sort, SORT_SM);
	top_frame_draw(f, 40, 120, true, m, &v, &st);
	text = text_of(f);
	assert_true(strstr(text, " small") < strstr(text, " big"));
	free(text);
	top_view_key(&v, m, '/');
	for (const char *k = "BIG"; *k; k++)
		top_view_key(&v, m, *k);
	top_view_key(&v, m, TOP_KEY_ENTER);
	assert_false(v.editing);
	top_frame_draw(f, 40, 120, true, m, &v, &st);
	text = text_of(f);
	assert_non_null(strstr(text, "PROCESSES 1 of 3"));
	assert_null(strstr(text, " small"));
	free(text);
	top_view_key(&v, m, TOP_KEY_DOWN);
	top_view_key(&v, m, TOP_KEY_DOWN); /* stops at the last GPU */
	assert_int_equal(v.selected, 1);
	top_view_key(&v, m, TOP_KEY_UP);
	top_view_key(&v, m, TOP_KEY_ENTER);
	assert_true(v.detail);
	top_frame_draw(f, 40, 120, true, m, &v, &st);
	text = text_of(f);
	/* The GPU's verdicts, most severe first, with evidence and fix. */
	char *crit = strstr(text, "critical"), *warn = strstr(text, "warning");
	assert_non_null(crit);
	assert_non_null(warn);
	assert_true(crit < warn);
	assert_non_null(strstr(text, "fix: cool"));
	free(text);
	top_view_key(&v, m, '?');
	assert_true(v.help);
	top_view_key(&v, m, 'x');
	assert_false(v.help);
	top_view_key(&v, m, 'q');
	assert_true(v.quit);
	free(f);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parses_values_and_keeps_absent_absent),
	    cmocka_unit_test(garbage_leaves_the_model),
	    cmocka_unit_test(rings_follow_each_gpu),
	    cmocka_unit_test(live_verdict_is_the_most_severe),
	    cmocka_unit_test(frame_fits_80x24_and_200x60),
	    cmocka_unit_test(sort_filter_and_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
