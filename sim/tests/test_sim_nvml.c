/* test_sim_nvml.c - libgpuscope-nvml-sim.so end to end, through dlopen() like the agent.
 *
 * The function table and the list of symbol names are generated from NVML_SYMBOLS, so a row
 * added to nvml_abi.h without a simulator implementation fails here.  The library is never
 * dlclose()d: the hang test leaves a thread asleep inside it until the process exits.
 */
#include "nvml/nvml_abi.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
#define SIM_TEST_FIELD(field, req, ret, params, newest, fallback) ret(*field) params;
	NVML_SYMBOLS(SIM_TEST_FIELD)
#undef SIM_TEST_FIELD
	const char *(*last_error)(void);
	const char *(*scenario_name)(void);
} nv;

static const char *const symbol_names[][2] = {
#define SIM_TEST_NAME(field, req, ret, params, newest, fallback) {newest, fallback},
    NVML_SYMBOLS(SIM_TEST_NAME)
#undef SIM_TEST_NAME
};

static void *lib;
static char dir[] = "/tmp/sim_nvml_testXXXXXX";

static int setup(void **state)
{
	lib = dlopen(SIM_LIBRARY_PATH, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "%s\n", dlerror());
		return -1;
	}
#define SIM_TEST_LOAD(field, req, ret, params, newest, fallback) \
	*(void **)&nv.field = dlsym(lib, newest);
	NVML_SYMBOLS(SIM_TEST_LOAD)
#undef SIM_TEST_LOAD
	*(void **)&nv.last_error = dlsym(lib, "gpuscopeSimLastError");
	*(void **)&nv.scenario_name = dlsym(lib, "gpuscopeSimScenarioName");
	return mkdtemp(dir) ? 0 : -1;
}

/* Writes a scenario into the temp folder and points GPUSCOPE_SIM_SCENARIO at it. */
static void use_scenario(const char *json)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/scenario.json", dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(json, fp);
	fclose(fp);
	setenv("GPUSCOPE_SIM_SCENARIO", path, 1);
}

static nvmlDevice_t handle(unsigned i)
{
	nvmlDevice_t d = NULL;
	assert_int_equal(nv.device_get_handle_by_index(i, &d), NVML_SUCCESS);
	return d;
}

static double ms_since(const struct timespec *a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) * 1e3 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

static void test_every_symbol(void **state)
{
	for (size_t i = 0; i < sizeof(symbol_names) / sizeof(symbol_names[0]); i++) {
		for (int k = 0; k < 2; k++) {
			if (!symbol_names[i][k])
				continue;
			if (!dlsym(lib, symbol_names[i][k]))
				fail_msg("missing symbol %s", symbol_names[i][k]);
		}
	}
	assert_non_null(nv.last_error);
	assert_non_null(nv.scenario_name);
}

static const char constants[] =
    "{\"name\": \"constants\", \"driver_version\": \"1.2.3\", \"gpus\": [{"
    "\"uuid\": \"GPU-11111111-2222-3333-4444-555555555555\", \"pci_bus_id\": "
    "\"00000000:2A:00.0\", \"memory_total_mib\": 1000, \"memory_reserved_mib\": 10,"
    "\"energy_start_mj\": 1000000,"
    "\"metrics\": {\"util_gpu_pct\": 87, \"util_mem_pct\": 150, \"fb_used_mib\": 400,"
    " \"power_w\": 512.5, \"temp_c\": 58, \"mem_temp_c\": 64, \"sm_clock_mhz\": 1410,"
    " \"clock_event_reasons\": \"0x4\", \"pstate\": 2, \"pcie_replay\": 7,"
    " \"ecc_sbe_aggregate\": 12, \"ecc_dbe_volatile\": 1, \"remapped_uncorrectable\": 2,"
    " \"remap_pending\": 1, \"dec_util_pct\": 33}}, {\"metrics\": {\"fb_used_mib\": 150000}}]}";

static void test_constants(void **state)
{
	use_scenario(constants);
	assert_int_equal(nv.init(), NVML_SUCCESS);
	assert_string_equal(nv.scenario_name(), "constants");
	char buf[96];
	unsigned u, u2, u3, u4;
	int i1, i2;
	unsigned long long ull;
	assert_int_equal(nv.system_get_driver_version(buf, sizeof(buf)), NVML_SUCCESS);
	assert_string_equal(buf, "1.2.3");
	assert_int_equal(nv.system_get_driver_version(buf, 5), NVML_ERROR_INSUFFICIENT_SIZE);
	assert_int_equal(nv.system_get_cuda_driver_version(&i1), NVML_SUCCESS);
	assert_int_equal(i1, 13000);
	assert_int_equal(nv.device_get_count(&u), NVML_SUCCESS);
	assert_int_equal(u, 2);
	nvmlDevice_t d = handle(0);
	nvmlDevice_t out;
	assert_int_equal(nv.device_get_handle_by_index(2, &out), NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.device_get_handle_by_index(0, NULL), NVML_ERROR_INVALID_ARGUMENT);

	assert_int_equal(nv.device_get_name(d, buf, sizeof(buf)), NVML_SUCCESS);
	assert_string_equal(buf, "NVIDIA H200");
	assert_int_equal(nv.device_get_name(d, buf, 4), NVML_ERROR_INSUFFICIENT_SIZE);
	assert_int_equal(nv.device_get_name(d, NULL, 96), NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.device_get_uuid(d, buf, sizeof(buf)), NVML_SUCCESS);
	assert_string_equal(buf, "GPU-11111111-2222-3333-4444-555555555555");
	nvmlPciInfo_t pci;
	assert_int_equal(nv.device_get_pci_info(d, &pci), NVML_SUCCESS);
	assert_string_equal(pci.busId, "00000000:2A:00.0");
	assert_string_equal(pci.busIdLegacy, "0000:2A:00.0");
	assert_int_equal(pci.bus, 0x2a);

	nvmlUtilization_t util;
	assert_int_equal(nv.device_get_utilization_rates(d, &util), NVML_SUCCESS);
	assert_int_equal(util.gpu, 87);
	assert_int_equal(util.memory, 100); /* clamped */
	assert_int_equal(nv.device_get_utilization_rates(d, NULL), NVML_ERROR_INVALID_ARGUMENT);

	nvmlMemory_v2_t m2 = {.version = nvmlMemory_v2};
	assert_int_equal(nv.device_get_memory_info_v2(d, &m2), NVML_SUCCESS);
	assert_int_equal(m2.total, 1000ULL << 20);
	assert_int_equal(m2.reserved, 10ULL << 20);
	assert_int_equal(m2.used, 400ULL << 20);
	assert_int_equal(m2.free, 590ULL << 20);
	m2.version = 2; /* a bare version number is rejected, like the real driver does */
	assert_int_equal(nv.device_get_memory_info_v2(d, &m2),
	                 NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
	nvmlMemory_t m1;
	assert_int_equal(nv.device_get_memory_info(d, &m1), NVML_SUCCESS);
	assert_int_equal(m1.used, 400ULL << 20);
	assert_int_equal(m1.free, 600ULL << 20);
	/* fb_used is clamped to total - reserved */
	m2.version = nvmlMemory_v2;
	assert_int_equal(nv.device_get_memory_info_v2(handle(1), &m2), NVML_SUCCESS);
	assert_int_equal(m2.used, (143771ULL - 575) << 20);

	assert_int_equal(nv.device_get_temperature(d, NVML_TEMPERATURE_GPU, &u), NVML_SUCCESS);
	assert_int_equal(u, 58);
	assert_int_equal(nv.device_get_temperature(d, 1, &u), NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(
	    nv.device_get_temperature_threshold(d, NVML_TEMPERATURE_THRESHOLD_SLOWDOWN, &u),
	    NVML_SUCCESS);
	assert_int_equal(u, 89);
	assert_int_equal(nv.device_get_power_usage(d, &u), NVML_SUCCESS);
	assert_int_equal(u, 512500);
	assert_int_equal(nv.device_get_enforced_power_limit(d, &u), NVML_SUCCESS);
	assert_int_equal(u, 700000);
	assert_int_equal(nv.device_get_clock_info(d, NVML_CLOCK_SM, &u), NVML_SUCCESS);
	assert_int_equal(u, 1410);
	assert_int_equal(nv.device_get_clock_info(d, NVML_CLOCK_MEM, &u), NVML_SUCCESS);
	assert_int_equal(u, 3201);
	assert_int_equal(nv.device_get_max_clock_info(d, NVML_CLOCK_SM, &u), NVML_SUCCESS);
	assert_int_equal(u, 1980);
	assert_int_equal(nv.device_get_clocks_event_reasons(d, &ull), NVML_SUCCESS);
	assert_int_equal(ull, NVML_CLOCKS_EVENT_REASON_SW_POWER_CAP);
	assert_int_equal(nv.device_get_performance_state(d, &i1), NVML_SUCCESS);
	assert_int_equal(i1, 2);
	assert_int_equal(nv.device_get_pcie_replay_counter(d, &u), NVML_SUCCESS);
	assert_int_equal(u, 7);
	assert_int_equal(nv.device_get_curr_pcie_link_generation(d, &u), NVML_SUCCESS);
	assert_int_equal(u, 5);
	assert_int_equal(nv.device_get_decoder_utilization(d, &u, &u2), NVML_SUCCESS);
	assert_int_equal(u, 33);
	assert_int_equal(nv.device_get_ecc_mode(d, &i1, &i2), NVML_SUCCESS);
	assert_int_equal(i1, NVML_FEATURE_ENABLED);
	assert_int_equal(nv.device_get_total_ecc_errors(d, NVML_MEMORY_ERROR_TYPE_CORRECTED,
	                                                NVML_AGGREGATE_ECC, &ull),
	                 NVML_SUCCESS);
	assert_int_equal(ull, 12);
	assert_int_equal(nv.device_get_total_ecc_errors(d, NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
	                                                NVML_VOLATILE_ECC, &ull),
	                 NVML_SUCCESS);
	assert_int_equal(ull, 1);
	assert_int_equal(nv.device_get_remapped_rows(d, &u, &u2, &u3, &u4), NVML_SUCCESS);
	assert_int_equal(u, 0);
	assert_int_equal(u2, 2);
	assert_int_equal(u3, 1);
	assert_int_equal(u4, 0);

	nvmlFieldValue_t fv[2] = {{.fieldId = NVML_FI_DEV_MEMORY_TEMP}, {.fieldId = 83}};
	assert_int_equal(nv.device_get_field_values(d, 2, fv), NVML_SUCCESS);
	assert_int_equal(fv[0].nvmlReturn, NVML_SUCCESS);
	assert_int_equal(fv[0].valueType, NVML_VALUE_TYPE_UNSIGNED_INT);
	assert_int_equal(fv[0].value.uiVal, 64);
	assert_int_equal(fv[1].nvmlReturn, NVML_ERROR_NOT_SUPPORTED);

	/* energy: start value plus 512.5 W integrated */
	unsigned long long e1, e2;
	assert_int_equal(nv.device_get_total_energy_consumption(d, &e1), NVML_SUCCESS);
	usleep(100000);
	assert_int_equal(nv.device_get_total_energy_consumption(d, &e2), NVML_SUCCESS);
	assert_true(e1 >= 1000000);
	assert_in_range(e2 - e1, 40000, 80000); /* 512.5 W for ~0.1 s = ~51 J */

	assert_string_equal(nv.error_string(NVML_ERROR_NOT_SUPPORTED), "Not Supported");
	assert_string_equal(nv.error_string(NVML_ERROR_GPU_IS_LOST), "GPU is lost");
	assert_string_equal(nv.error_string(NVML_ERROR_TIMEOUT), "Timeout");
	assert_string_equal(nv.error_string(12345), "Unknown Error");
	assert_int_equal(nv.shutdown(), NVML_SUCCESS);
}

static void test_refcount(void **state)
{
	use_scenario(constants);
	unsigned n;
	assert_int_equal(nv.device_get_count(&n), NVML_ERROR_UNINITIALIZED);
	assert_int_equal(nv.init(), NVML_SUCCESS);
	assert_int_equal(nv.init(), NVML_SUCCESS);
	nvmlDevice_t d = handle(0);
	assert_int_equal(nv.shutdown(), NVML_SUCCESS);
	assert_int_equal(nv.device_get_power_usage(d, &n), NVML_SUCCESS);
	assert_int_equal(nv.shutdown(), NVML_SUCCESS);
	assert_int_equal(nv.device_get_power_usage(d, &n), NVML_ERROR_UNINITIALIZED);
	assert_int_equal(nv.device_get_count(&n), NVML_ERROR_UNINITIALIZED);
	assert_int_equal(nv.shutdown(), NVML_ERROR_UNINITIALIZED);
	/* a handle from an earlier session is not accepted by a new one */
	assert_int_equal(nv.init(), NVML_SUCCESS);
	assert_int_equal(nv.device_get_power_usage(d, &n), NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.shutdown(), NVML_SUCCESS);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* GPM answers zero for a pair inside one 100 ms refresh (as the H200 driver does) and the
 * signal's mean for a pair across refreshes; sample buffers hand out each sample once. */
static void test_gpm_samples_nvlink_mig(void **state)
{
	use_scenario("{\"name\": \"gpm\", \"gpus\": ["
	             "{\"nvlink_links\": 3, \"nvlink_down\": [1], \"metrics\": {"
	             "\"gpm_sm_active_pct\": 64, \"power_w\": 321, \"util_gpu_pct\": 40},"
	             " \"mig\": [{\"profile\": \"1g.18gb\", \"gpu_instance_id\": 7,"
	             " \"metrics\": {\"fb_used_mib\": 100, \"gpm_sm_active_pct\": 12}}]},"
	             "{\"gpm\": false}]}");
	assert_int_equal(nv.init(), NVML_SUCCESS);
	nvmlDevice_t d = handle(0);
	nvmlGpmSupport_t sup = {.version = NVML_GPM_SUPPORT_VERSION};
	assert_int_equal(nv.gpm_query_device_support(d, &sup), NVML_SUCCESS);
	assert_int_equal(sup.isSupportedDevice, 1);
	assert_int_equal(nv.gpm_query_device_support(handle(1), &sup), NVML_SUCCESS);
	assert_int_equal(sup.isSupportedDevice, 0);

	nvmlGpmSample_t a, b;
	assert_int_equal(nv.gpm_sample_alloc(&a), NVML_SUCCESS);
	assert_int_equal(nv.gpm_sample_alloc(&b), NVML_SUCCESS);
	static nvmlGpmMetricsGet_t mg;
	mg.version = NVML_GPM_METRICS_GET_VERSION;
	mg.numMetrics = 2;
	mg.metrics[0].metricId = NVML_GPM_METRIC_SM_UTIL;
	mg.metrics[1].metricId = 250; /* an id the driver does not know */
	mg.sample1 = a;
	mg.sample2 = b;
	assert_int_equal(nv.gpm_sample_get(d, a), NVML_SUCCESS);
	assert_int_equal(nv.gpm_sample_get(d, b), NVML_SUCCESS); /* same refresh */
	assert_int_equal(nv.gpm_metrics_get(&mg), NVML_SUCCESS);
	assert_true(mg.metrics[0].value == 0.0);
	assert_int_equal(mg.metrics[1].nvmlReturn, NVML_ERROR_INVALID_ARGUMENT);
	sleep_ms(120);
	assert_int_equal(nv.gpm_sample_get(d, b), NVML_SUCCESS);
	assert_int_equal(nv.gpm_metrics_get(&mg), NVML_SUCCESS);
	assert_int_equal(mg.metrics[0].nvmlReturn, NVML_SUCCESS);
	assert_true(mg.metrics[0].value == 64.0);
	assert_int_equal(nv.gpm_sample_get(handle(1), a), NVML_ERROR_NOT_SUPPORTED);

	/* MIG: one instance, its memory and its own GPM through the parent. */
	unsigned cur, pend, max;
	assert_int_equal(nv.device_get_mig_mode(d, &cur, &pend), NVML_SUCCESS);
	assert_int_equal(cur, 1);
	assert_int_equal(nv.device_get_mig_mode(handle(1), &cur, &pend), NVML_SUCCESS);
	assert_int_equal(cur, 0);
	assert_int_equal(nv.device_get_max_mig_device_count(d, &max), NVML_SUCCESS);
	nvmlDevice_t m;
	assert_int_equal(nv.device_get_mig_device_handle_by_index(d, 1, &m), NVML_ERROR_NOT_FOUND);
	assert_int_equal(nv.device_get_mig_device_handle_by_index(d, 0, &m), NVML_SUCCESS);
	unsigned gi;
	assert_int_equal(nv.device_get_gpu_instance_id(m, &gi), NVML_SUCCESS);
	assert_int_equal(gi, 7);
	assert_int_equal(nv.device_get_gpu_instance_id(d, &gi), NVML_ERROR_NOT_SUPPORTED);
	nvmlMemory_t mem;
	assert_int_equal(nv.device_get_memory_info(m, &mem), NVML_SUCCESS);
	assert_true(mem.used == 100ULL * 1048576);
	char name[96];
	assert_int_equal(nv.device_get_name(m, name, sizeof(name)), NVML_SUCCESS);
	assert_string_equal(name, "NVIDIA H200 MIG 1g.18gb");
	assert_int_equal(nv.gpm_mig_sample_get(d, 7, a), NVML_SUCCESS);
	sleep_ms(120);
	assert_int_equal(nv.gpm_mig_sample_get(d, 7, b), NVML_SUCCESS);
	assert_int_equal(nv.gpm_metrics_get(&mg), NVML_SUCCESS);
	assert_true(mg.metrics[0].value == 12.0);
	assert_int_equal(nv.gpm_mig_sample_get(d, 3, b), NVML_ERROR_NOT_FOUND);
	assert_int_equal(nv.gpm_sample_free(a), NVML_SUCCESS);
	assert_int_equal(nv.gpm_sample_free(b), NVML_SUCCESS);

	/* Power samples every 20 ms, each handed out once. */
	int vt;
	unsigned n = 0;
	assert_int_equal(nv.device_get_samples(d, NVML_TOTAL_POWER_SAMPLES, 0, &vt, &n, NULL),
	                 NVML_SUCCESS);
	assert_int_equal(n, 120);
	nvmlSample_t buf[120];
	n = 120;
	assert_int_equal(nv.device_get_samples(d, NVML_TOTAL_POWER_SAMPLES, 0, &vt, &n, buf),
	                 NVML_SUCCESS);
	assert_int_equal(vt, NVML_VALUE_TYPE_UNSIGNED_INT);
	assert_true(n >= 10); /* 240 ms since init at least */
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(buf[i].sampleValue.uiVal, 321000);
	for (unsigned i = 1; i < n; i++)
		assert_true(buf[i].timeStamp - buf[i - 1].timeStamp >= 19000 &&
		            buf[i].timeStamp - buf[i - 1].timeStamp <= 21000);
	unsigned long long last = buf[n - 1].timeStamp;
	n = 120;
	nvmlReturn_t rc = nv.device_get_samples(d, NVML_TOTAL_POWER_SAMPLES, last, &vt, &n, buf);
	if (rc == NVML_SUCCESS)
		assert_true(buf[0].timeStamp > last);
	else
		assert_int_equal(rc, NVML_ERROR_NOT_FOUND);
	sleep_ms(60);
	n = 120;
	assert_int_equal(nv.device_get_samples(d, NVML_TOTAL_POWER_SAMPLES, last, &vt, &n, buf),
	                 NVML_SUCCESS);
	assert_true(n >= 2 && n <= 5 && buf[0].timeStamp > last);
	n = 120;
	assert_int_equal(nv.device_get_samples(d, NVML_GPU_UTILIZATION_SAMPLES, 0, &vt, &n, buf),
	                 NVML_SUCCESS);
	assert_int_equal(buf[n - 1].sampleValue.uiVal, 40);

	/* NVLink: three links, link 1 down, then no such link. */
	int st;
	assert_int_equal(nv.device_get_nvlink_state(d, 0, &st), NVML_SUCCESS);
	assert_int_equal(st, NVML_FEATURE_ENABLED);
	assert_int_equal(nv.device_get_nvlink_state(d, 1, &st), NVML_SUCCESS);
	assert_int_equal(st, NVML_FEATURE_DISABLED);
	assert_int_equal(nv.device_get_nvlink_state(d, 3, &st), NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.device_get_nvlink_state(handle(1), 0, &st), NVML_ERROR_NOT_SUPPORTED);
	assert_int_equal(nv.shutdown(), NVML_SUCCESS);
}

static void test_faults(void **state)
{
	use_scenario("{\"gpus\": [{\"faults\": {\"unsupported\": [\"nvmlDeviceGetPowerUsage\","
	             " \"mem_temp_c\"], \"errors\": [{\"call\": \"nvmlDeviceGetTemperature\","
	             " \"return\": 999, \"from\": 0, \"until\": null}]}},"
	             " {\"faults\": {\"lost_at\": 0}}, {\"faults\": {\"errors\": [{\"call\": \"*\","
	             " \"return\": 4, \"from\": 1000}]}}]}");
	assert_int_equal(nv.init(), NVML_SUCCESS);
	nvmlDevice_t d = handle(0);
	unsigned u;
	assert_int_equal(nv.device_get_power_usage(d, &u), NVML_ERROR_NOT_SUPPORTED);
	assert_int_equal(nv.device_get_temperature(d, NVML_TEMPERATURE_GPU, &u),
	                 NVML_ERROR_UNKNOWN);
	nvmlFieldValue_t fv = {.fieldId = NVML_FI_DEV_MEMORY_TEMP};
	assert_int_equal(nv.device_get_field_values(d, 1, &fv), NVML_SUCCESS);
	assert_int_equal(fv.nvmlReturn, NVML_ERROR_NOT_SUPPORTED);
	/* lost: every call on the device, identity and handle lookup included */
	nvmlDevice_t lost;
	char buf[96];
	assert_int_equal(nv.device_get_handle_by_index(1, &lost), NVML_ERROR_GPU_IS_LOST);
	assert_int_equal(nv.device_get_handle_by_index(2, &lost), NVML_SUCCESS);
	assert_int_equal(nv.device_get_name(lost, buf, sizeof(buf)), NVML_SUCCESS);
	assert_int_equal(nv.device_get_power_usage(lost, &u), NVML_SUCCESS); /* window not yet */
	assert_int_equal(nv.shutdown(), NVML_SUCCESS);

	use_scenario("{\"gpus\": [{}, {\"faults\": {\"lost_at\": 0.05}}]}");
	assert_int_equal(nv.init(), NVML_SUCCESS);
	nvmlDevice_t d1 = handle(1);
	assert_int_equal(nv.device_get_uuid(d1, buf, sizeof(buf)), NVML_SUCCESS);
	usleep(60000);
	assert_int_equal(nv.device_get_uuid(d1, buf, sizeof(buf)), NVML_ERROR_GPU_IS_LOST);
	assert_int_equal(nv.device_get_power_usage(d1, &u), NVML_ERROR_GPU_IS_LOST);
	assert_int_equal(nv.device_get_power_usage(handle(0), &u), NVML_SUCCESS);
	assert_int_equal(nv.shutdown(), NVML_SUCCESS);
}

static void test_events(void **state)
{
	use_scenario("{\"gpus\": [{}, {\"faults\": {\"xid\": [{\"at\": 0, \"code\": 48},"
	             " {\"at\": 3600, \"code\": 79}], \"ecc_dbe_events\": [{\"at\": 0.01}]}}]}");
	assert_int_equal(nv.init(), NVML_SUCCESS);
	nvmlDevice_t d = handle(1);
	nvmlEventSet_t set;
	unsigned long long types;
	assert_int_equal(nv.event_set_create(&set), NVML_SUCCESS);
	assert_int_equal(nv.device_get_supported_event_types(d, &types), NVML_SUCCESS);
	assert_int_equal(types, 0xff9f);
	assert_int_equal(nv.device_register_events(d, 0x20, set), NVML_ERROR_NOT_SUPPORTED);
	assert_int_equal(nv.device_register_events(d, nvmlEventTypeXidCriticalError, set),
	                 NVML_SUCCESS);
	nvmlEventData_t ev;
	assert_int_equal(nv.event_set_wait(set, &ev, 100), NVML_SUCCESS);
	assert_ptr_equal(ev.device, d);
	assert_int_equal(ev.eventType, nvmlEventTypeXidCriticalError);
	assert_int_equal(ev.eventData, 48);
	/* delivered once; the DBE event is not registered; Xid 79 is an hour away */
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(nv.event_set_wait(set, &ev, 50), NVML_ERROR_TIMEOUT);
	assert_true(ms_since(&t0) >= 49);
	assert_int_equal(nv.device_register_events(d, nvmlEventTypeDoubleBitEccError, set),
	                 NVML_SUCCESS);
	assert_int_equal(nv.event_set_wait(set, &ev, 100), NVML_SUCCESS);
	assert_int_equal(ev.eventType, nvmlEventTypeDoubleBitEccError);
	assert_int_equal(nv.event_set_wait(set, &ev, 0), NVML_ERROR_TIMEOUT);
	assert_int_equal(nv.event_set_free(set), NVML_SUCCESS);
	assert_int_equal(nv.shutdown(), NVML_SUCCESS);
}

/* One set for several devices, as the agent uses it: each event names its device; a lost
 * device makes the wait fail for the whole set; a new set without it goes on, and gets only
 * what happens after its registration. */
static void test_events_shared_set(void **state)
{
	use_scenario("{\"gpus\": [{\"faults\": {\"xid\": [{\"at\": 0, \"code\": 13},"
	             " {\"at\": 0.15, \"code\": 31}]}},"
	             " {\"faults\": {\"xid\": [{\"at\": 0, \"code\": 48}], \"lost_at\": 0.05}},"
	             " {}]}");
	assert_int_equal(nv.init(), NVML_SUCCESS);
	nvmlDevice_t d0 = handle(0), d1 = handle(1), d2 = handle(2);
	nvmlEventSet_t set;
	nvmlEventData_t ev;
	assert_int_equal(nv.event_set_create(&set), NVML_SUCCESS);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(
		    nv.device_register_events(handle(i), nvmlEventTypeXidCriticalError, set),
		    NVML_SUCCESS);
	assert_int_equal(nv.event_set_wait(set, &ev, 100), NVML_SUCCESS);
	assert_ptr_equal(ev.device, d0);
	assert_int_equal(ev.eventData, 13);
	assert_int_equal(nv.event_set_wait(set, &ev, 100), NVML_SUCCESS);
	assert_ptr_equal(ev.device, d1);
	assert_int_equal(ev.eventData, 48);
	usleep(60000); /* GPU 1 is lost at 0.05 s */
	assert_int_equal(nv.event_set_wait(set, &ev, 10), NVML_ERROR_GPU_IS_LOST);
	assert_int_equal(nv.event_set_free(set), NVML_SUCCESS);
	/* A new set: the lost GPU does not register, the others do; nothing is replayed. */
	assert_int_equal(nv.event_set_create(&set), NVML_SUCCESS);
	assert_int_equal(nv.device_register_events(d1, nvmlEventTypeXidCriticalError, set),
	                 NVML_ERROR_GPU_IS_LOST);
	assert_int_equal(nv.device_register_events(d0, nvmlEventTypeXidCriticalError, set),
	                 NVML_SUCCESS);
	assert_int_equal(nv.device_register_events(d2, nvmlEventTypeXidCriticalError, set),
	                 NVML_SUCCESS);
	assert_int_equal(nv.event_set_wait(set, &ev, 500), NVML_SUCCESS);
	assert_ptr_equal(ev.device, d0);
	assert_int_equal(ev.eventData, 31);
	assert_int_equal(nv.event_set_wait(set, &ev, 10), NVML_ERROR_TIMEOUT);
	assert_int_equal(nv.event_set_free(set), NVML_SUCCESS);
	assert_int_equal(nv.shutdown(), NVML_SUCCESS);
}

static void test_init_errors(void **state)
{
	use_scenario("{\"init_error\": 9, \"gpus\": [{}]}");
	unsigned n;
	assert_int_equal(nv.init(), NVML_ERROR_DRIVER_NOT_LOADED);
	assert_int_equal(nv.device_get_count(&n), NVML_ERROR_UNINITIALIZED);

	use_scenario("{\"gpus\": [{\"metrics\": {\"power_w\": {\"sinus\": {}}}}]}");
	assert_int_equal(nv.init(), NVML_ERROR_UNKNOWN);
	assert_non_null(strstr(nv.last_error(), "scenario.json: gpus[0].metrics.power_w: unknown "
	                                        "function \"sinus\""));
	assert_int_equal(nv.device_get_count(&n), NVML_ERROR_UNINITIALIZED);

	setenv("GPUSCOPE_SIM_SCENARIO", "/nonexistent/x.json", 1);
	assert_int_equal(nv.init(), NVML_ERROR_UNKNOWN);
	assert_string_equal(nv.last_error(), "/nonexistent/x.json: No such file or directory");
}

static void test_default_scenario(void **state)
{
	unsetenv("GPUSCOPE_SIM_SCENARIO");
	assert_int_equal(nv.init(), NVML_SUCCESS);
	assert_string_equal(nv.scenario_name(), "demo-h200x8");
	unsigned n, u;
	assert_int_equal(nv.device_get_count(&n), NVML_SUCCESS);
	assert_int_equal(n, 8);
	for (unsigned i = 0; i < n; i++) {
		nvmlDevice_t d = handle(i);
		nvmlUtilization_t util;
		unsigned long long ull;
		assert_int_equal(nv.device_get_utilization_rates(d, &util), NVML_SUCCESS);
		assert_int_equal(nv.device_get_power_usage(d, &u), NVML_SUCCESS);
		assert_in_range(u, 60000, 710000);
		assert_int_equal(nv.device_get_total_energy_consumption(d, &ull), NVML_SUCCESS);
		assert_int_equal(nv.device_get_clocks_event_reasons(d, &ull), NVML_SUCCESS);
	}
	assert_int_equal(nv.shutdown(), NVML_SUCCESS);
	setenv("GPUSCOPE_SIM_SCENARIO", "builtin:faults.json", 1);
	assert_int_equal(nv.init(), NVML_SUCCESS);
	assert_string_equal(nv.scenario_name(), "faults");
	assert_int_equal(nv.shutdown(), NVML_SUCCESS);
}

static void *call_hanging(void *arg)
{
	unsigned mw;
	nv.device_get_power_usage((nvmlDevice_t)arg, &mw); /* never returns */
	return NULL;
}

static void test_hang_isolated(void **state)
{
	use_scenario("{\"gpus\": [{\"faults\": {\"hang\": [{\"call\": \"nvmlDeviceGetPowerUsage\","
	             " \"at\": 0}], \"slow\": [{\"call\": \"nvmlDeviceGetPcieReplayCounter\","
	             " \"ms\": 30}]}}, {}]}");
	assert_int_equal(nv.init(), NVML_SUCCESS);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, call_hanging, handle(0)), 0);
	pthread_detach(th);
	usleep(20000);
	struct timespec t0;
	unsigned u;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(nv.device_get_power_usage(handle(1), &u), NVML_SUCCESS);
	assert_int_equal(nv.device_get_temperature(handle(0), NVML_TEMPERATURE_GPU, &u),
	                 NVML_SUCCESS);
	assert_true(ms_since(&t0) < 50);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(nv.device_get_pcie_replay_counter(handle(0), &u), NVML_SUCCESS);
	assert_true(ms_since(&t0) >= 29);
	assert_int_equal(nv.shutdown(), NVML_SUCCESS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_symbol),
	    cmocka_unit_test(test_constants),
	    cmocka_unit_test(test_refcount),
	    cmocka_unit_test(test_gpm_samples_nvlink_mig),
	    cmocka_unit_test(test_faults),
	    cmocka_unit_test(test_events),
	    cmocka_unit_test(test_events_shared_set),
	    cmocka_unit_test(test_init_errors),
	    cmocka_unit_test(test_default_scenario),
	    cmocka_unit_test(test_hang_isolated), /* last: leaves a thread asleep in the library */
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	char path[256];
	snprintf(path, sizeof(path), "%s/scenario.json", dir);
	unlink(path);
	rmdir(dir);
	return failed;
}
