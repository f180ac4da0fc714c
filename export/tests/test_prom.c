/* test_prom.c - exposition of a hand-made snapshot: values, labels, absence,
 * both name sets, both formats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/json.h"
#include "export/prom.h"

static struct gpu_record gpus[2];
static struct board_snapshot snap;

static void set(struct gpu_record *g, enum metric_id m, double raw)
{
	g->raw[m] = raw;
	metric_set_add(&g->valid, m);
	metric_set_add(&g->supported, m);
}

static int setup(void **state)
{
	memset(gpus, 0, sizeof(gpus));
	memset(&snap, 0, sizeof(snap));
	for (unsigned i = 0; i < 2; i++) {
		struct gpu_record *g = &gpus[i];
		g->index = i;
		g->health = GPU_OK;
		g->id.minor = (int)i;
		snprintf(g->id.uuid, sizeof(g->id.uuid), "GPU-0000000%u", i);
		snprintf(g->id.name, sizeof(g->id.name), "NVIDIA \"H200\"");
		snprintf(g->id.pci_bus_id, sizeof(g->id.pci_bus_id), "00000000:1%u:00.0", i);
		set(g, METRIC_GPU_UTIL, 45);
		set(g, METRIC_FB_USED, 1000.0 * 1048576 + 12345);
		set(g, METRIC_ENERGY, 5000000123.0);
		set(g, METRIC_ECC_SBE_VOL, 3);
		set(g, METRIC_GPU_UP, 1);
	}
	/* GPU 1 cannot report power; GPU 0 can. */
	set(&gpus[0], METRIC_POWER, 697123);
	metric_set_add(&gpus[1].supported, METRIC_POWER); /* supported but no reading now */
	snap.count = 2;
	snap.gpus = gpus;
	snprintf(snap.info.hostname, sizeof(snap.info.hostname), "node-1");
	snprintf(snap.info.driver_version, sizeof(snap.info.driver_version), "580.159.04");
	return 0;
}

static char *render(unsigned names, bool om)
{
	struct strbuf sb;
	sb_init(&sb, 1024);
	struct prom_options o = {.names = names, .openmetrics = om};
	prom_render(&snap, &o, &sb);
	assert_false(sb.oom);
	return sb.data;
}

static void test_native_values_and_labels(void **state)
{
	char *t = render(NAMES_NATIVE, false);
	assert_non_null(
	    strstr(t, "gpuscope_gpu_utilization_ratio{gpu=\"0\",uuid=\"GPU-00000000\"} 0.45\n"));
	assert_non_null(
	    strstr(t, "gpuscope_memory_used_bytes{gpu=\"1\",uuid=\"GPU-00000001\"} 1048588345\n"));
	assert_non_null(
	    strstr(t, "gpuscope_power_watts{gpu=\"0\",uuid=\"GPU-00000000\"} 697.123\n"));
	assert_non_null(strstr(
	    t, "gpuscope_energy_joules_total{gpu=\"0\",uuid=\"GPU-00000000\"} 5000000.123\n"));
	assert_non_null(strstr(t, "gpuscope_ecc_errors_total{gpu=\"0\",uuid=\"GPU-00000000\",error="
	                          "\"corrected\",scope=\"volatile\"} 3\n"));
	assert_non_null(strstr(t, "# TYPE gpuscope_energy_joules_total counter\n"));
	/* Absent is not zero: no power line for GPU 1, no family without samples. */
	assert_null(strstr(t, "gpuscope_power_watts{gpu=\"1\""));
	assert_null(strstr(t, "gpuscope_temperature_celsius"));
	assert_null(strstr(t, "DCGM_FI_"));
	/* The info metric escapes the model name's quotes. */
	assert_non_null(strstr(t, "name=\"NVIDIA \\\"H200\\\"\""));
	assert_non_null(strstr(t, "driver_version=\"580.159.04\""));
	free(t);
}

static void test_dcgm_units_and_labels(void **state)
{
	char *t = render(NAMES_DCGM, false);
	assert_non_null(strstr(
	    t,
	    "DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",UUID=\"GPU-00000000\",pci_bus_id=\"00000000:10:00.0\","
	    "device=\"nvidia0\",modelName=\"NVIDIA \\\"H200\\\"\",hostname=\"node-1\","
	    "DCGM_FI_DRIVER_VERSION=\"580.159.04\"} 45\n"));
	assert_non_null(strstr(
	    t,
	    "DCGM_FI_DEV_FB_USED{gpu=\"1\",UUID=\"GPU-00000001\",pci_bus_id=\"00000000:11:00.0\","
	    "device=\"nvidia1\",modelName=\"NVIDIA \\\"H200\\\"\",hostname=\"node-1\","
	    "DCGM_FI_DRIVER_VERSION=\"580.159.04\"} 1000\n"));
	assert_non_null(strstr(t, "DCGM_FI_DEV_POWER_USAGE{gpu=\"0\""));
	assert_non_null(strstr(t, "} 697.123\n"));
	assert_non_null(strstr(t, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{gpu=\"0\""));
	assert_non_null(strstr(t, "} 5000000123\n"));
	assert_non_null(strstr(t, "# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter\n"));
	assert_null(strstr(t, "DCGM_FI_DEV_POWER_USAGE{gpu=\"1\""));
	assert_null(strstr(t, "gpuscope_"));
	free(t);
}

static void test_openmetrics(void **state)
{
	char *t = render(NAMES_BOTH, true);
	size_t n = strlen(t);
	assert_true(n > 6 && strcmp(t + n - 6, "# EOF\n") == 0);
	/* Counter families drop _total in metadata, keep it on samples. */
	assert_non_null(strstr(t, "# TYPE gpuscope_energy_joules counter\n"));
	assert_non_null(strstr(t, "gpuscope_energy_joules_total{gpu=\"0\""));
	assert_non_null(strstr(t, "# TYPE gpuscope_gpu info\n"));
	assert_non_null(strstr(t, "# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION unknown\n"));
	free(t);
}

static void test_json_views(void **state)
{
	char *j = json_gpus(&snap);
	assert_non_null(j);
	assert_non_null(strstr(j, "\"gpuscope_gpu_utilization_ratio\": 0.45"));
	assert_non_null(strstr(j, "\"gpuscope_memory_used_bytes\": 1048588345"));
	free(j);
	bool healthy;
	gpus[1].health = GPU_LOST;
	snprintf(gpus[1].health_reason, sizeof(gpus[1].health_reason), "GPU is lost");
	j = json_health(&snap, &healthy);
	assert_false(healthy);
	assert_non_null(strstr(j, "\"lost\""));
	free(j);
	gpus[1].health = GPU_OK;
}

static void test_verdicts_and_health_field(void **state)
{
	struct prom_verdict v[] = {{1, "GPU-b", "idle", "warning"},
	                           {0, "GPU-\"a", "thermal_throttling", "critical"}};
	struct strbuf sb;
	sb_init(&sb, 1024);
	struct prom_options o = {.names = NAMES_NATIVE};
	prom_render_verdicts(v, 2, &o, &sb);
	sb_puts(&sb, "");
	assert_non_null(strstr(sb.data, "# TYPE gpuscope_verdict gauge\n"));
	assert_non_null(strstr(sb.data, "gpuscope_verdict{gpu=\"1\",uuid=\"GPU-b\",verdict="
	                                "\"idle\",severity=\"warning\"} 1\n"));
	assert_non_null(strstr(sb.data, "uuid=\"GPU-\\\"a\""));
	sb_free(&sb);
	/* Nothing without native names, or without verdicts. */
	sb_init(&sb, 64);
	o.names = NAMES_DCGM;
	prom_render_verdicts(v, 2, &o, &sb);
	o.names = NAMES_BOTH;
	prom_render_verdicts(v, 0, &o, &sb);
	assert_int_equal(sb.len, 0);
	sb_free(&sb);

	char *doc =
	    json_with_field(strdup("{\"status\": \"ok\"}"), "history", "{\"state\": \"off\"}");
	assert_non_null(strstr(doc, "\"history\""));
	assert_non_null(strstr(doc, "\"off\""));
	free(doc);
	doc = json_with_field(strdup("{}"), "history", "not json");
	assert_non_null(strstr(doc, "\"history\": null"));
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_native_values_and_labels, setup),
	    cmocka_unit_test_setup(test_dcgm_units_and_labels, setup),
	    cmocka_unit_test_setup(test_openmetrics, setup),
	    cmocka_unit_test_setup(test_json_views, setup),
	    cmocka_unit_test(test_verdicts_and_health_field),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
