/* test_rules.c - the built-in rules and the rules file: overrides, model
 * overrides, new rules, and every kind of bad file refused with its line,
 * leaving the previous rules untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert/rules.h"
#include "alert/rules_yaml.h"
#include "alert/tests/tests.h"

static int parse(const char *text, struct alert_rules *rs, char *err)
{
	return alert_rules_parse(text, strlen(text), rs, err, 400);
}

static void test_builtin_covers_the_seeds(void **state)
{
	struct alert_rules rs;
	alert_rules_builtin(&rs);
	const char *want[] = {"GpuXidError",
	                      "GpuTemperatureHigh",
	                      "GpuEccUncorrectable",
	                      "GpuPowerNearLimit",
	                      "GpuUtilizationLow",
	                      "GpuMemoryHigh",
	                      "GpuMemoryOverprovisioned",
	                      "GpuPowerEfficiencyLow",
	                      "GpuMemoryHighSustained",
	                      "GpuInputBottleneck",
	                      "GpuVerdictHardwareHealth",
	                      "GpuVerdictThermalThrottling",
	                      "GpuVerdictVramPressure",
	                      "GpuVerdictMemoryGrowth"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_non_null(alert_rules_find(&rs, want[i]));
	assert_int_equal(rs.n, sizeof(want) / sizeof(want[0]));
	struct alert_rule *t = alert_rules_find(&rs, "GpuTemperatureHigh");
	assert_int_equal(t->severity, ALERT_CRITICAL);
	assert_int_equal(t->cond.gpu_threshold, ALERT_GPU_THRESHOLD_SLOWDOWN_TEMP);
	assert_int_equal(alert_rules_find(&rs, "GpuUtilizationLow")->severity, ALERT_WARNING);
	for (size_t i = 0; i < rs.n; i++) {
		assert_true(rs.rule[i].builtin);
		assert_true(rs.rule[i].summary[0]);
		if (alert_signal_is_counter(rs.rule[i].cond.signal))
			assert_true(rs.rule[i].window_s > 0);
	}
}

static void test_empty_file_is_the_builtin_set(void **state)
{
	struct alert_rules a, b;
	char err[400];
	alert_rules_builtin(&a);
	assert_int_equal(parse("", &b, err), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(parse("rules:\n", &b, err), 0);
	assert_memory_equal(&a, &b, sizeof(a));
}

static void test_overrides(void **state)
{
	struct alert_rules rs;
	char err[400];
	const char *f = "rules:\n"
	                "  - name: GpuTemperatureHigh\n"
	                "    for: 30s\n"
	                "    threshold: 80\n"
	                "    severity: warning\n"
	                "    keep_firing_for: 2m\n"
	                "    models:\n"
	                "      - {match: A100, threshold: 83, for: 1m30s, severity: critical}\n"
	                "      - {match: L4, disabled: true}\n"
	                "  - name: GpuUtilizationLow\n"
	                "    disabled: true\n"
	                "  - name: GpuMemoryHigh\n"
	                "    window: 10s\n"
	                "    stat: mean\n";
	assert_int_equal(parse(f, &rs, err), 0);
	struct alert_rule *t = alert_rules_find(&rs, "GpuTemperatureHigh");
	assert_float_equal(t->for_s, 30, 0);
	assert_float_equal(t->keep_firing_for_s, 120, 0);
	assert_float_equal(t->cond.threshold, 80, 0);
	assert_int_equal(t->cond.gpu_threshold, ALERT_GPU_THRESHOLD_NONE);
	assert_int_equal(t->severity, ALERT_WARNING);
	assert_int_equal(t->nmodels, 2);
	struct alert_rule m;
	alert_rule_for_model(t, "NVIDIA A100-SXM4-80GB", &m);
	assert_float_equal(m.cond.threshold, 83, 0);
	assert_float_equal(m.for_s, 90, 0);
	assert_int_equal(m.severity, ALERT_CRITICAL);
	assert_false(m.disabled);
	alert_rule_for_model(t, "NVIDIA L40S", &m); /* "L4" is contained: disabled */
	assert_true(m.disabled);
	alert_rule_for_model(t, "NVIDIA H200", &m);
	assert_float_equal(m.cond.threshold, 80, 0);
	assert_int_equal(m.severity, ALERT_WARNING);
	assert_true(alert_rules_find(&rs, "GpuUtilizationLow")->disabled);
	struct alert_rule *mh = alert_rules_find(&rs, "GpuMemoryHigh");
	assert_float_equal(mh->window_s, 10, 0);
	assert_int_equal(mh->cond.stat, ALERT_STAT_MEAN);
	/* threshold: slowdown puts the GPU's own threshold back. */
	assert_int_equal(
	    parse("rules:\n  - {name: GpuTemperatureHigh, threshold: slowdown}\n", &rs, err), 0);
	assert_int_equal(alert_rules_find(&rs, "GpuTemperatureHigh")->cond.gpu_threshold,
	                 ALERT_GPU_THRESHOLD_SLOWDOWN_TEMP);
}

static void test_new_rules(void **state)
{
	struct alert_rules rs;
	char err[400];
	const char *f = "rules:\n"
	                "  - name: PowerHigh\n"
	                "    signal: power\n"
	                "    stat: mean\n"
	                "    window: 1m\n"
	                "    op: '>'\n"
	                "    threshold: 0.8\n"
	                "    for: 10m\n"
	                "    severity: warning\n"
	                "    and: {signal: utilization, op: '<', threshold: 0.5}\n"
	                "  - name: IdleVerdict\n"
	                "    signal: verdict\n"
	                "    verdict: idle\n"
	                "    severity: info\n";
	assert_int_equal(parse(f, &rs, err), 0);
	struct alert_rule *p = alert_rules_find(&rs, "PowerHigh");
	assert_non_null(p);
	assert_false(p->builtin);
	assert_int_equal(p->cond.signal, ALERT_SIG_POWER);
	assert_int_equal(p->cond.op, ALERT_OP_GT);
	assert_float_equal(p->cond.threshold, 0.8, 0);
	assert_float_equal(p->window_s, 60, 0);
	assert_float_equal(p->for_s, 600, 0);
	assert_true(p->has_and);
	assert_int_equal(p->and_cond.signal, ALERT_SIG_UTILIZATION);
	assert_int_equal(p->and_cond.op, ALERT_OP_LT);
	struct alert_rule *v = alert_rules_find(&rs, "IdleVerdict");
	assert_int_equal(v->cond.signal, ALERT_SIG_VERDICT);
	assert_string_equal(v->cond.verdict, "idle");
	assert_int_equal(v->severity, ALERT_INFO);
}

static void test_bad_files(void **state)
{
	static const struct {
		const char *text, *says;
	} bad[] = {
	    {"rules: [", "line"},
	    {"- a\n- b\n", "mapping with one key"},
	    {"rulez: []\n", "unknown top-level key 'rulez'"},
	    {"rules: {a: 1}\n", "give a list"},
	    {"rules:\n  - threshold: 3\n", "needs name"},
	    {"rules:\n  - name: GpuMemoryHigh\n    treshold: 3\n", "line 3, column 5: rule "
	                                                           "GpuMemoryHigh: unknown key "
	                                                           "'treshold'"},
	    {"rules:\n  - name: GpuMemoryHigh\n    threshold: lots\n", "threshold: give a number"},
	    {"rules:\n  - name: GpuMemoryHigh\n    for: 5 minutes\n", "for: give a duration"},
	    {"rules:\n  - name: GpuMemoryHigh\n    severity: page\n", "severity: give info"},
	    {"rules:\n  - name: GpuMemoryHigh\n    window: 2h\n", "window: at most 3600"},
	    {"rules:\n  - name: GpuMemoryHigh\n    signal: power\n", "signal cannot change"},
	    {"rules:\n  - name: GpuMemoryHigh\n    op: '=='\n", "op: one of"},
	    {"rules:\n  - name: New\n    signal: power\n    severity: info\n", "needs op and "
	                                                                       "threshold"},
	    {"rules:\n  - name: New\n    signal: power\n    op: '>'\n    threshold: 1\n",
	     "needs a severity"},
	    {"rules:\n  - name: New\n    signal: wattage\n", "signal: one of"},
	    {"rules:\n  - name: New\n    signal: verdict\n    severity: info\n", "verdict: ID"},
	    {"rules:\n  - name: New\n    signal: xid_errors\n    op: '>'\n    threshold: 0\n"
	     "    severity: info\n",
	     "give window > 0"},
	    {"rules:\n  - name: 'bad name'\n", "letters, digits"},
	    {"rules:\n  - name: GpuMemoryHigh\n    models: [{threshold: 1}]\n", "needs match"},
	    {"rules:\n  - name: GpuMemoryHigh\n    models: [{match: A, colour: red}]\n",
	     "unknown key 'colour'"},
	    {"rules:\n  - name: GpuMemoryHigh\n    disabled: maybe\n", "true or false"},
	};
	struct alert_rules before, rs;
	alert_rules_builtin(&before);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[400] = "";
		rs = before;
		rs.rule[0].for_s = 12345; /* a mark: must survive a bad parse */
		int rc = parse(bad[i].text, &rs, err);
		if (rc != -1 || !strstr(err, bad[i].says))
			fail_msg("case %zu: rc %d, err '%s', wanted '%s'", i, rc, err, bad[i].says);
		assert_float_equal(rs.rule[0].for_s, 12345, 0);
	}
}

static void test_load_names_the_file(void **state)
{
	struct alert_rules rs;
	char err[600];
	assert_int_equal(alert_rules_load("/nonexistent/rules.yml", &rs, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/rules.yml"));
	char path[] = "/tmp/alert-rules-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("rules:\n  - name: GpuXidError\n    window: 1m\n", f);
	fclose(f);
	assert_int_equal(alert_rules_load(path, &rs, err, sizeof(err)), 0);
	assert_float_equal(alert_rules_find(&rs, "GpuXidError")->window_s, 60, 0);
	unlink(path);
}

/* Every prefix of a good file, and the file with each byte replaced by
 * characters YAML cares about, parses or fails cleanly (ASan watches). */
static void test_mangled_files_never_crash(void **state)
{
	const char *good = "rules:\n"
	                   "  - name: GpuTemperatureHigh\n"
	                   "    for: 30s\n"
	                   "    models: [{match: A100, threshold: 83}]\n"
	                   "  - &r {name: New, signal: power, op: '>', threshold: 0.5,"
	                   " severity: info, and: {signal: utilization, op: '<', threshold: 1}}\n"
	                   "  - *r\n";
	size_t n = strlen(good);
	char *buf = malloc(n + 1);
	assert_non_null(buf);
	struct alert_rules *rs = malloc(sizeof(*rs));
	assert_non_null(rs);
	char err[400];
	assert_int_equal(alert_rules_parse(good, n, rs, err, sizeof(err)), 0);
	for (size_t len = 0; len < n; len++) {
		memcpy(buf, good, len);
		alert_rules_parse(buf, len, rs, err, sizeof(err));
	}
	const char subst[] = ":-[]{}&*!|>'\"%@`#,\t\n\x80";
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < sizeof(subst) - 1; k++) {
			memcpy(buf, good, n);
			buf[i] = subst[k];
			int rc = alert_rules_parse(buf, n, rs, err, sizeof(err));
			assert_true(rc == 0 || (rc == -1 && err[0]));
		}
	free(rs);
	free(buf);
}

static void test_durations(void **state)
{
	double s;
	assert_int_equal(alert_parse_duration("1h30m", &s), 0);
	assert_float_equal(s, 5400, 0);
	assert_int_equal(alert_parse_duration("500ms", &s), 0);
	assert_float_equal(s, 0.5, 1e-12);
	assert_int_equal(alert_parse_duration("0", &s), 0);
	assert_float_equal(s, 0, 0);
	assert_int_equal(alert_parse_duration("5", &s), -1);
	assert_int_equal(alert_parse_duration("-5s", &s), -1);
	assert_int_equal(alert_parse_duration("", &s), -1);
	char buf[32];
	alert_format_duration(5400, buf, sizeof(buf));
	assert_string_equal(buf, "1h30m");
	alert_format_duration(0, buf, sizeof(buf));
	assert_string_equal(buf, "0s");
	alert_format_duration(61, buf, sizeof(buf));
	assert_string_equal(buf, "1m1s");
}

int test_rules_run(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_builtin_covers_the_seeds),
	    cmocka_unit_test(test_empty_file_is_the_builtin_set),
	    cmocka_unit_test(test_overrides),
	    cmocka_unit_test(test_new_rules),
	    cmocka_unit_test(test_bad_files),
	    cmocka_unit_test(test_load_names_the_file),
	    cmocka_unit_test(test_mangled_files_never_crash),
	    cmocka_unit_test(test_durations),
	};
	return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
