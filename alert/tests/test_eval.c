/* test_eval.c - the alert state machine, driven one evaluation a second by
 * hand: pending, firing after `for`, resolved after `keep_firing_for`,
 * flap damping, the GPU's own thresholds, absent data, counters, verdicts,
 * reloads and restarts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/eval.h"
#include "alert/rules_yaml.h"
#include "alert/tests/tests.h"
#include "export/strbuf.h"

#define T0 1800000000.0

static void gpu_init(struct alert_gpu_input *g, long index, const char *model)
{
	memset(g, 0, sizeof(*g));
	g->index = index;
	snprintf(g->uuid, sizeof(g->uuid), "GPU-test-%ld", index);
	snprintf(g->model, sizeof(g->model), "%s", model);
	for (int s = 0; s < ALERT_SIG_COUNT; s++)
		g->value[s] = NAN;
	/* A healthy, busy GPU: no built-in rule holds. */
	g->value[ALERT_SIG_UTILIZATION] = 0.8;
	g->value[ALERT_SIG_MEMORY_USED] = 0.5;
	g->value[ALERT_SIG_TEMPERATURE] = 60;
	g->value[ALERT_SIG_POWER] = 0.7;
	g->value[ALERT_SIG_POWER_EFFICIENCY] = 0.8 / 0.7;
	g->value[ALERT_SIG_XID_ERRORS] = 0;
	g->value[ALERT_SIG_ECC_UNCORRECTED] = 0;
	g->slowdown_temp_c = NAN;
}

/* Only the named rules, with the file's changes. */
static struct alert_engine *engine(const char *file)
{
	struct alert_rules rs;
	char err[400];
	if (alert_rules_parse(file, strlen(file), &rs, err, sizeof(err)) != 0)
		fail_msg("rules: %s", err);
	return alert_engine_new(&rs, "node-1");
}

/* A reload with the file's rules; asserts it parses and applies. */
static void reload(struct alert_engine *e, const char *file)
{
	struct alert_rules rs;
	char err[400];
	if (alert_rules_parse(file, strlen(file), &rs, err, sizeof(err)) != 0)
		fail_msg("rules: %s", err);
	assert_int_equal(alert_engine_set_rules(e, &rs), 0);
}

/* Runs evaluations at T0+from .. T0+to (inclusive), one a second; returns
 * the events (caller frees) and their count in *n. */
static struct alert *run(struct alert_engine *e, int from, int to, struct alert_gpu_input *g,
                         size_t ng, size_t *n)
{
	struct alert *ev = NULL;
	*n = 0;
	for (int t = from; t <= to; t++)
		assert_true(alert_engine_eval(e, T0 + t, g, ng, &ev, n) >= 0);
	return ev;
}

static const char only_temp[] = "rules:\n"
                                "  - {name: GpuUtilizationLow, disabled: true}\n"
                                "  - {name: GpuMemoryOverprovisioned, disabled: true}\n"
                                "  - {name: GpuTemperatureHigh, for: 10s, window: 0,"
                                " keep_firing_for: 5s}\n";

static void test_pending_firing_resolved(void **state)
{
	struct alert_engine *e = engine(only_temp);
	struct alert_gpu_input g;
	gpu_init(&g, 3, "NVIDIA H200");
	g.slowdown_temp_c = 89;
	g.value[ALERT_SIG_TEMPERATURE] = 88; /* under this GPU's threshold, over the fallback */
	size_t n;
	struct alert *ev = run(e, 0, 20, &g, 1, &n);
	assert_int_equal(n, 0);
	size_t na;
	alert_engine_active(e, &na);
	assert_int_equal(na, 0);
	free(ev);

	g.value[ALERT_SIG_TEMPERATURE] = 90;
	ev = run(e, 21, 30, &g, 1, &n); /* 21..30: held 9 s */
	assert_int_equal(n, 0);
	const struct alert *act = alert_engine_active(e, &na);
	assert_int_equal(na, 1);
	assert_int_equal(act[0].state, ALERT_STATE_PENDING);
	free(ev);
	ev = run(e, 31, 31, &g, 1, &n); /* 10 s: fires */
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].state, ALERT_STATE_FIRING);
	assert_string_equal(alert_label(&ev[0], "alertname"), "GpuTemperatureHigh");
	assert_string_equal(alert_label(&ev[0], "severity"), "critical");
	assert_string_equal(alert_label(&ev[0], "hostname"), "node-1");
	assert_string_equal(alert_label(&ev[0], "gpu"), "3");
	assert_string_equal(alert_label(&ev[0], "UUID"), "GPU-test-3");
	assert_string_equal(alert_label(&ev[0], "modelName"), "NVIDIA H200");
	assert_null(alert_label(&ev[0], "pod")); /* unknown: no label, not "" */
	assert_float_equal(ev[0].threshold, 89, 0);
	assert_float_equal(ev[0].active_at, T0 + 21, 0);
	assert_float_equal(ev[0].fired_at, T0 + 31, 0);
	char fp[17];
	memcpy(fp, ev[0].fingerprint, sizeof(fp));
	free(ev);

	/* Cools: stays firing for keep_firing_for (5 s), then resolves once. */
	g.value[ALERT_SIG_TEMPERATURE] = 70;
	ev = run(e, 32, 35, &g, 1, &n);
	assert_int_equal(n, 0);
	free(ev);
	ev = run(e, 36, 60, &g, 1, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].state, ALERT_STATE_RESOLVED);
	assert_float_equal(ev[0].resolved_at, T0 + 36, 0); /* 5 s after it last held */
	assert_string_equal(ev[0].fingerprint, fp);        /* same alert */
	free(ev);
	alert_engine_active(e, &na);
	assert_int_equal(na, 0);
	alert_engine_free(e);
}

static void test_flap_damping_and_pending_reset(void **state)
{
	struct alert_engine *e = engine(only_temp);
	struct alert_gpu_input g;
	gpu_init(&g, 0, "NVIDIA H200"); /* no slowdown threshold: the fallback 83 */
	g.value[ALERT_SIG_TEMPERATURE] = 84;
	size_t n, total = 0;
	struct alert *ev = run(e, 0, 5, &g, 1, &n);
	free(ev);
	/* Dips before `for`: back to inactive, and the clock starts again. */
	g.value[ALERT_SIG_TEMPERATURE] = 80;
	ev = run(e, 6, 6, &g, 1, &n);
	free(ev);
	g.value[ALERT_SIG_TEMPERATURE] = 84;
	ev = run(e, 7, 16, &g, 1, &n);
	assert_int_equal(n, 0); /* 7..16 is 9 s */
	free(ev);
	ev = run(e, 17, 17, &g, 1, &n);
	assert_int_equal(n, 1);
	free(ev);
	/* Flapping every few seconds, shorter than keep_firing_for: no event. */
	for (int t = 18; t < 100; t++) {
		g.value[ALERT_SIG_TEMPERATURE] = t % 6 < 3 ? 80 : 84;
		ev = run(e, t, t, &g, 1, &n);
		total += n;
		free(ev);
	}
	assert_int_equal(total, 0);
	alert_engine_free(e);
}

static void test_absent_is_not_zero(void **state)
{
	struct alert_engine *e = engine("rules:\n"
	                                "  - {name: GpuUtilizationLow, for: 0, window: 0}\n"
	                                "  - {name: GpuMemoryOverprovisioned, for: 0, window: 0}\n"
	                                "  - {name: GpuMemoryHigh, for: 0, window: 0}\n");
	struct alert_gpu_input g;
	gpu_init(&g, 0, "NVIDIA H200");
	for (int s = 0; s < ALERT_SIG_COUNT; s++)
		g.value[s] = NAN; /* a GPU that reports nothing */
	size_t n;
	struct alert *ev = run(e, 0, 30, &g, 1, &n);
	assert_int_equal(n, 0);
	free(ev);
	g.value[ALERT_SIG_UTILIZATION] = 0.1;
	ev = run(e, 31, 31, &g, 1, &n);
	assert_int_equal(n, 1);
	assert_string_equal(ev[0].rule, "GpuUtilizationLow");
	free(ev);
	alert_engine_free(e);
}

static void test_counters_over_window(void **state)
{
	struct alert_engine *e = engine("rules:\n"
	                                "  - {name: GpuUtilizationLow, disabled: true}\n"
	                                "  - {name: GpuXidError, window: 20s}\n");
	struct alert_gpu_input g;
	gpu_init(&g, 1, "NVIDIA H200");
	g.value[ALERT_SIG_XID_ERRORS] = 5; /* errors before: the increase counts */
	size_t n;
	struct alert *ev = run(e, 0, 10, &g, 1, &n);
	assert_int_equal(n, 0);
	free(ev);
	g.value[ALERT_SIG_XID_ERRORS] = 6;
	g.xid_last = 79;
	ev = run(e, 11, 11, &g, 1, &n);
	assert_int_equal(n, 1);
	assert_string_equal(ev[0].rule, "GpuXidError");
	assert_string_equal(alert_label(&ev[0], "xid"), "79");
	assert_float_equal(ev[0].value, 1, 0);
	free(ev);
	/* Once the reading before the error leaves the 20 s window
	 * (keep_firing_for 0): resolved. */
	ev = run(e, 12, 30, &g, 1, &n);
	assert_int_equal(n, 0);
	free(ev);
	ev = run(e, 31, 31, &g, 1, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].state, ALERT_STATE_RESOLVED);
	free(ev);
	/* A counter reset (driver reload) is not an error burst. */
	g.value[ALERT_SIG_XID_ERRORS] = 0;
	ev = run(e, 33, 40, &g, 1, &n);
	assert_int_equal(n, 0);
	free(ev);
	alert_engine_free(e);
}

static void test_verdicts_and_labels(void **state)
{
	struct alert_engine *e = engine("rules:\n  - {name: GpuUtilizationLow, disabled: true}\n");
	struct alert_gpu_input g;
	gpu_init(&g, 2, "NVIDIA H200");
	snprintf(g.pod, sizeof(g.pod), "vllm-0");
	snprintf(g.pod_namespace, sizeof(g.pod_namespace), "serving");
	snprintf(g.process, sizeof(g.process), "python3");
	g.nverdicts = 1;
	snprintf(g.verdicts[0].id, sizeof(g.verdicts[0].id), "hardware_health");
	g.verdicts[0].severity = ALERT_WARNING; /* not critical: no alert */
	size_t n;
	struct alert *ev = run(e, 0, 3, &g, 1, &n);
	assert_int_equal(n, 0);
	free(ev);
	g.verdicts[0].severity = ALERT_CRITICAL;
	ev = run(e, 4, 4, &g, 1, &n);
	assert_int_equal(n, 1);
	assert_string_equal(ev[0].rule, "GpuVerdictHardwareHealth");
	assert_string_equal(alert_label(&ev[0], "verdict"), "hardware_health");
	assert_string_equal(alert_label(&ev[0], "pod"), "vllm-0");
	assert_string_equal(alert_label(&ev[0], "namespace"), "serving");
	assert_string_equal(alert_label(&ev[0], "process"), "python3");
	free(ev);
	alert_engine_free(e);
}

/* A pending alert's text and labels follow the value, the GPU's labels and a reload
 * (the engine describes an alert again only when one of them changed). */
static void test_pending_text_follows_its_inputs(void **state)
{
	struct alert_engine *e = engine(only_temp);
	struct alert_gpu_input g;
	gpu_init(&g, 1, "NVIDIA H200");
	g.value[ALERT_SIG_TEMPERATURE] = 90;
	size_t n, na;
	free(run(e, 0, 3, &g, 1, &n));
	const struct alert *act = alert_engine_active(e, &na);
	assert_int_equal(na, 1);
	assert_int_equal(act[0].state, ALERT_STATE_PENDING);
	assert_non_null(strstr(act[0].description, "is 90,"));
	assert_null(alert_label(&act[0], "pod"));

	g.value[ALERT_SIG_TEMPERATURE] = 91.5;
	free(run(e, 4, 4, &g, 1, &n));
	act = alert_engine_active(e, &na);
	assert_non_null(strstr(act[0].description, "is 91.5,"));

	snprintf(g.pod, sizeof(g.pod), "vllm-1");
	free(run(e, 5, 5, &g, 1, &n));
	act = alert_engine_active(e, &na);
	assert_string_equal(alert_label(&act[0], "pod"), "vllm-1");
	assert_non_null(strstr(act[0].description, "is 91.5,"));

	reload(e, "rules:\n"
	          "  - {name: GpuUtilizationLow, disabled: true}\n"
	          "  - {name: GpuMemoryOverprovisioned, disabled: true}\n"
	          "  - {name: GpuTemperatureHigh, for: 10s, window: 0,"
	          " keep_firing_for: 5s, summary: Too hot}\n");
	free(run(e, 6, 6, &g, 1, &n));
	act = alert_engine_active(e, &na);
	assert_int_equal(na, 1);
	assert_int_equal(act[0].state, ALERT_STATE_PENDING);
	assert_string_equal(act[0].summary, "Too hot");

	/* What it fires with is the last description: the value it last held. */
	g.value[ALERT_SIG_TEMPERATURE] = 92;
	struct alert *ev = run(e, 7, 20, &g, 1, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].state, ALERT_STATE_FIRING);
	assert_non_null(strstr(ev[0].description, "is 92,"));
	free(ev);
	alert_engine_free(e);
}

static void test_reload_and_restore(void **state)
{
	struct alert_engine *e = engine(only_temp);
	struct alert_gpu_input g;
	gpu_init(&g, 0, "NVIDIA H200");
	g.value[ALERT_SIG_TEMPERATURE] = 95;
	size_t n;
	struct alert *ev = run(e, 0, 10, &g, 1, &n);
	assert_int_equal(n, 1);
	struct alert fired = ev[0];
	free(ev);

	/* A restart: the saved firing alert comes back; while the condition
	 * holds no second firing event is sent. */
	struct alert_engine *e2 = engine(only_temp);
	assert_int_equal(alert_engine_restore(e2, T0 + 20, &fired, 1), 0);
	ev = run(e2, 20, 40, &g, 1, &n);
	assert_int_equal(n, 0);
	free(ev);

	/* Disabled by a reload: resolves at the next evaluation. */
	reload(e2, "rules:\n  - {name: GpuTemperatureHigh, disabled: true}\n");
	ev = run(e2, 41, 41, &g, 1, &n);
	size_t resolved = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(ev[i].rule, "GpuTemperatureHigh") == 0) {
			assert_int_equal(ev[i].state, ALERT_STATE_RESOLVED);
			assert_string_equal(ev[i].fingerprint, fired.fingerprint);
			resolved++;
		}
	assert_int_equal(resolved, 1);
	free(ev);
	alert_engine_free(e);
	alert_engine_free(e2);
}

static void test_gpu_gone_resolves_after_damping(void **state)
{
	struct alert_engine *e = engine(only_temp);
	struct alert_gpu_input g;
	gpu_init(&g, 0, "NVIDIA H200");
	g.value[ALERT_SIG_TEMPERATURE] = 95;
	size_t n;
	struct alert *ev = run(e, 0, 10, &g, 1, &n);
	assert_int_equal(n, 1);
	free(ev);
	ev = run(e, 11, 14, NULL, 0, &n);
	assert_int_equal(n, 0);
	free(ev);
	ev = run(e, 15, 15, NULL, 0, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].state, ALERT_STATE_RESOLVED);
	free(ev);
	alert_engine_free(e);
}

/* Many GPUs at once, and GPUs that come and go: each keeps its own ring. */
static void test_many_gpus(void **state)
{
	struct alert_engine *e = engine(only_temp);
	struct alert_gpu_input g[9];
	for (int i = 0; i < 9; i++) {
		gpu_init(&g[i], i, "NVIDIA H200");
		g[i].value[ALERT_SIG_TEMPERATURE] = i % 2 ? 95 : 50;
	}
	size_t n;
	struct alert *ev = run(e, 0, 12, g, 9, &n);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++)
		assert_true(ev[i].gpu % 2 == 1);
	free(ev);
	ev = run(e, 13, 20, g + 3, 6, &n); /* GPUs 0-2 leave: GPU 1's alert resolves */
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].gpu, 1);
	assert_int_equal(ev[0].state, ALERT_STATE_RESOLVED);
	free(ev);
	ev = run(e, 21, 40, g, 9, &n); /* and come back: GPU 1 fires again */
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].gpu, 1);
	free(ev);
	alert_engine_free(e);
}

/* The fingerprint as documented: FNV-1a 64 over rule, host and UUID, each followed by a
 * 0xff separator, in 16 hex digits (saved alerts carry it across versions). */
static void reference_fingerprint(const char *rule, const char *host, const char *uuid,
                                  char out[17])
{
	uint64_t h = 1469598103934665603ULL;
	const char *parts[] = {rule, host, uuid};
	for (size_t p = 0; p < 3; p++) {
		for (const unsigned char *c = (const unsigned char *)parts[p]; *c; c++)
			h = (h ^ *c) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL;
	}
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* Hundreds of alerts: the engine's index grows past its first size and is rebuilt as
 * alerts resolve out of the middle of the array; every alert stays found (no second
 * firing, no lost resolve) and keeps its fingerprint. */
static void test_hundreds_of_alerts(void **state)
{
	static const char rules[] =
	    "rules:\n"
	    "  - {name: GpuUtilizationLow, disabled: true}\n"
	    "  - {name: GpuMemoryOverprovisioned, disabled: true}\n"
	    "  - {name: GpuTemperatureHigh, for: 2s, window: 0,"
	    " keep_firing_for: 0s}\n"
	    "  - {name: GpuPowerNearLimit, for: 2s, window: 0, keep_firing_for: 0s}\n";
	struct alert_engine *e = engine(rules);
	enum { N = 150 };
	static struct alert_gpu_input g[N];
	for (int i = 0; i < N; i++) {
		gpu_init(&g[i], i, "NVIDIA H200");
		g[i].value[ALERT_SIG_TEMPERATURE] = 95;
		g[i].value[ALERT_SIG_POWER] = 1.2;
	}
	size_t n, na;
	struct alert *ev = run(e, 0, 5, g, N, &n);
	assert_int_equal(n, 2 * N);
	for (size_t i = 0; i < n; i++) {
		char fp[17];
		reference_fingerprint(ev[i].rule, "node-1", ev[i].uuid, fp);
		assert_string_equal(ev[i].fingerprint, fp);
	}
	free(ev);
	/* Every third GPU cools: its temperature alert resolves, once; nothing fires again. */
	for (int i = 0; i < N; i += 3)
		g[i].value[ALERT_SIG_TEMPERATURE] = 50;
	ev = run(e, 6, 12, g, N, &n);
	assert_int_equal(n, N / 3);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ev[i].state, ALERT_STATE_RESOLVED);
		assert_int_equal(ev[i].gpu % 3, 0);
		assert_string_equal(ev[i].rule, "GpuTemperatureHigh");
	}
	free(ev);
	alert_engine_active(e, &na);
	assert_int_equal(na, 2 * N - N / 3);
	/* They heat again: exactly those fire again. */
	for (int i = 0; i < N; i += 3)
		g[i].value[ALERT_SIG_TEMPERATURE] = 95;
	ev = run(e, 13, 20, g, N, &n);
	assert_int_equal(n, N / 3);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ev[i].state, ALERT_STATE_FIRING);
	free(ev);
	/* All cool and calm: every alert resolves exactly once. */
	for (int i = 0; i < N; i++) {
		g[i].value[ALERT_SIG_TEMPERATURE] = 50;
		g[i].value[ALERT_SIG_POWER] = 0.5;
	}
	ev = run(e, 21, 30, g, N, &n);
	assert_int_equal(n, 2 * N);
	free(ev);
	alert_engine_active(e, &na);
	assert_int_equal(na, 0);
	alert_engine_free(e);
}

static void test_render(void **state)
{
	struct alert_engine *e = engine(only_temp);
	struct alert_gpu_input g;
	gpu_init(&g, 0, "NVIDIA \"H200\"");
	g.value[ALERT_SIG_TEMPERATURE] = 95;
	size_t n, na;
	free(run(e, 0, 3, &g, 1, &n));
	const struct alert *a = alert_engine_active(e, &na);
	assert_int_equal(na, 1);
	struct strbuf sb;
	sb_init(&sb, 256);
	alert_render_metrics(a, na, &sb);
	sb_append(&sb, "", 1);
	assert_non_null(strstr(sb.data, "gpuscope_alert{alertstate=\"pending\",alertname="
	                                "\"GpuTemperatureHigh\",severity=\"critical\""));
	assert_non_null(strstr(sb.data, "model_name=\"NVIDIA \\\"H200\\\"\""));
	assert_null(strstr(sb.data, "UUID="));
	assert_non_null(strstr(sb.data, "gpuscope_alert_active_since_seconds{"));
	sb_free(&sb);
	json_t *j = alert_list_json(a, na);
	assert_int_equal(json_array_size(j), 1);
	json_t *o = json_array_get(j, 0);
	assert_string_equal(json_string_value(json_object_get(o, "state")), "pending");
	assert_string_equal(json_string_value(json_object_get(o, "activeAt")),
	                    "2027-01-15T08:00:00.000Z");
	assert_string_equal(json_string_value(json_object_get(o, "value")), "95");
	json_decref(j);
	j = alert_postable_json(a, T0 + 3, 240);
	assert_string_equal(json_string_value(json_object_get(j, "endsAt")),
	                    "2027-01-15T08:04:03.000Z");
	assert_non_null(json_object_get(json_object_get(j, "annotations"), "summary"));
	json_decref(j);
	alert_engine_free(e);
}

int test_eval_run(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pending_firing_resolved),
	    cmocka_unit_test(test_flap_damping_and_pending_reset),
	    cmocka_unit_test(test_absent_is_not_zero),
	    cmocka_unit_test(test_counters_over_window),
	    cmocka_unit_test(test_verdicts_and_labels),
	    cmocka_unit_test(test_pending_text_follows_its_inputs),
	    cmocka_unit_test(test_reload_and_restore),
	    cmocka_unit_test(test_gpu_gone_resolves_after_damping),
	    cmocka_unit_test(test_many_gpus),
	    cmocka_unit_test(test_hundreds_of_alerts),
	    cmocka_unit_test(test_render),
	};
	return cmocka_run_group_tests_name("eval", tests, NULL, NULL);
}
