/* call_cost.c - CPU per call of every NVML call the agent makes, on GPU 0.
 *
 * Each call kind is made CALLS times, CALLS_GAP_MS apart (so each call finds
 * the driver as cold as the agent's sweeps do), and the median CPU time of the
 * calling thread is printed.  GPM metrics are timed one by one: on an H200 with
 * driver 580 one of them (graphics, id 1) costs ~1.2 ms and the rest ~0.3 us,
 * and the agent's schedule rests on such numbers.  Read-only.
 *
 *   call_cost [--nvml-lib PATH] [--calls N] [--gap-ms MS]
 *
 * Output: "cost NAME CPU_US_P50 RC" lines, then "metric ID CPU_US_P50 RC".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nvml/nvml_loader.h"

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

enum kind {
	K_UTIL,
	K_MEMORY,
	K_POWER,
	K_ENERGY,
	K_ECC,
	K_REMAP,
	K_PCIE_GEN,
	K_PCIE_REPLAY,
	K_NVLINK_STATE,
	K_NVLINK_STATE_ALL,
	K_NVLINK_FIELDS_DATA,
	K_NVLINK_FIELDS_STATE,
	K_NVLINK_FIELDS_BOTH,
	K_MEMORY_V1,
	K_FIELDS_FAST,
	K_PROCESS_LIST,
	K_PROCESS_UTIL,
	K_SAMPLES_POWER_250MS,
	K_SAMPLES_POWER_1S,
	K_SAMPLES_POWER_2S,
	K_SAMPLES_UTIL_1S,
	K_SAMPLES_POWER_ALL,
	K_GPM_SAMPLE,
	K_GPM_FAST_LIST,
	K_COUNT
};
static const char *const names[K_COUNT] = {
    "nvmlDeviceGetUtilizationRates",
    "nvmlDeviceGetMemoryInfo_v2",
    "nvmlDeviceGetPowerUsage",
    "nvmlDeviceGetTotalEnergyConsumption",
    "nvmlDeviceGetTotalEccErrors",
    "nvmlDeviceGetRemappedRows",
    "nvmlDeviceGetCurrPcieLinkGeneration",
    "nvmlDeviceGetPcieReplayCounter",
    "nvmlDeviceGetNvLinkState(0)",
    "nvmlDeviceGetNvLinkState(every link)",
    "nvmlDeviceGetFieldValues(NVLink data tx+rx, every link)",
    "nvmlDeviceGetFieldValues(NVLink state 165, every link)",
    "nvmlDeviceGetFieldValues(NVLink state+data, every link)",
    "nvmlDeviceGetMemoryInfo (v1)",
    "nvmlDeviceGetFieldValues(82 memory temp, 186 power instant, 91 link count)",
    "nvmlDeviceGetComputeRunningProcesses_v3",
    "nvmlDeviceGetProcessUtilization(last 5 s)",
    "nvmlDeviceGetSamples(power, last 250 ms)",
    "nvmlDeviceGetSamples(power, last 1 s)",
    "nvmlDeviceGetSamples(power, last 2 s)",
    "nvmlDeviceGetSamples(gpu util, last 1 s)",
    "nvmlDeviceGetSamples(power, all)",
    "nvmlGpmSampleGet",
    "nvmlGpmMetricsGet(agent fast list, 31)",
};

static const unsigned fast_ids[] = {2,  3,  4,  5,  6,  7,  9,  10, 11, 12, 13, 20, 21, 61, 60, 30,
                                    31, 32, 33, 34, 35, 36, 37, 40, 41, 42, 43, 44, 45, 46, 47};

static nvmlGpmSample_t gs[2];
static nvmlGpmMetricsGet_t mg;

static unsigned long long newest_ts(const struct nvml_lib *lib, nvmlDevice_t dev, int type)
{
	static nvmlSample_t buf[512];
	unsigned n = 512;
	int vt;
	if (lib->device_get_samples(dev, type, 0, &vt, &n, buf) != NVML_SUCCESS || n == 0)
		return 0;
	return buf[n - 1].timeStamp;
}

static unsigned links; /* NVLinks of GPU 0, counted once */

static nvmlReturn_t one_call(const struct nvml_lib *lib, nvmlDevice_t dev, enum kind k,
                             unsigned long long since)
{
	unsigned u;
	unsigned long long ull;
	static nvmlSample_t buf[512];
	unsigned n = 512;
	int vt;
	switch (k) {
	case K_UTIL: {
		nvmlUtilization_t x;
		return lib->device_get_utilization_rates(dev, &x);
	}
	case K_MEMORY: {
		nvmlMemory_v2_t m = {.version = nvmlMemory_v2};
		return lib->device_get_memory_info_v2(dev, &m);
	}
	case K_POWER:
		return lib->device_get_power_usage(dev, &u);
	case K_ENERGY:
		return lib->device_get_total_energy_consumption(dev, &ull);
	case K_ECC:
		return lib->device_get_total_ecc_errors(dev, 1, 0, &ull);
	case K_REMAP: {
		unsigned a, b, c;
		return lib->device_get_remapped_rows(dev, &u, &a, &b, &c);
	}
	case K_PCIE_GEN:
		return lib->device_get_curr_pcie_link_generation(dev, &u);
	case K_PCIE_REPLAY:
		return lib->device_get_pcie_replay_counter(dev, &u);
	case K_NVLINK_STATE: {
		int st;
		return lib->device_get_nvlink_state(dev, 0, &st);
	}
	case K_NVLINK_STATE_ALL: {
		nvmlReturn_t rc = links ? NVML_SUCCESS : NVML_ERROR_NOT_SUPPORTED;
		for (unsigned l = 0; l < links && rc == NVML_SUCCESS; l++) {
			int st;
			rc = lib->device_get_nvlink_state(dev, l, &st);
		}
		return rc;
	}
	case K_NVLINK_FIELDS_DATA:
	case K_NVLINK_FIELDS_STATE:
	case K_NVLINK_FIELDS_BOTH: {
		nvmlFieldValue_t f[3 * NVML_NVLINK_MAX_LINKS];
		memset(f, 0, sizeof(f));
		int nf = 0;
		for (unsigned l = 0; l < links; l++) {
			if (k != K_NVLINK_FIELDS_STATE) {
				f[nf++] = (nvmlFieldValue_t){
				    .fieldId = NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX, .scopeId = l};
				f[nf++] = (nvmlFieldValue_t){
				    .fieldId = NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX, .scopeId = l};
			}
			if (k != K_NVLINK_FIELDS_DATA)
				f[nf++] = (nvmlFieldValue_t){.fieldId = 165 /* NVLINK_GET_STATE */,
				                             .scopeId = l};
		}
		if (nf == 0)
			return NVML_ERROR_NOT_SUPPORTED;
		nvmlReturn_t rc = lib->device_get_field_values(dev, nf, f);
		return rc == NVML_SUCCESS ? f[nf - 1].nvmlReturn : rc;
	}
	case K_MEMORY_V1: {
		nvmlMemory_t m;
		return lib->device_get_memory_info(dev, &m);
	}
	case K_FIELDS_FAST: {
		nvmlFieldValue_t f[3] = {
		    {.fieldId = NVML_FI_DEV_MEMORY_TEMP}, {.fieldId = 186}, {.fieldId = 91}};
		return lib->device_get_field_values(dev, 3, f);
	}
	case K_PROCESS_LIST: {
		static nvmlProcessInfo_t p[64];
		u = 64;
		return lib->device_get_compute_running_processes(dev, &u, p);
	}
	case K_PROCESS_UTIL: {
		static nvmlProcessUtilizationSample_t p[64];
		u = 64;
		return lib->device_get_process_utilization(dev, p, &u, since);
	}
	case K_SAMPLES_POWER_250MS:
	case K_SAMPLES_POWER_1S:
	case K_SAMPLES_POWER_2S:
		return lib->device_get_samples(dev, NVML_TOTAL_POWER_SAMPLES, since, &vt, &n, buf);
	case K_SAMPLES_UTIL_1S:
		return lib->device_get_samples(dev, NVML_GPU_UTILIZATION_SAMPLES, since, &vt, &n,
		                               buf);
	case K_SAMPLES_POWER_ALL:
		return lib->device_get_samples(dev, NVML_TOTAL_POWER_SAMPLES, 0, &vt, &n, buf);
	case K_GPM_SAMPLE:
		return lib->gpm_sample_get(dev, gs[1]);
	case K_GPM_FAST_LIST:
		memset(&mg, 0, offsetof(nvmlGpmMetricsGet_t, metrics));
		mg.version = NVML_GPM_METRICS_GET_VERSION;
		mg.sample1 = gs[0];
		mg.sample2 = gs[1];
		mg.numMetrics = sizeof(fast_ids) / sizeof(fast_ids[0]);
		for (unsigned i = 0; i < mg.numMetrics; i++)
			mg.metrics[i].metricId = fast_ids[i];
		return lib->gpm_metrics_get(&mg);
	case K_COUNT:
		break;
	}
	return NVML_ERROR_INVALID_ARGUMENT;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	int calls = 20, gap_ms = 50;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--nvml-lib") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--calls") == 0 && i + 1 < argc)
			calls = atoi(argv[++i]);
		else if (strcmp(argv[i], "--gap-ms") == 0 && i + 1 < argc)
			gap_ms = atoi(argv[++i]);
		else {
			fprintf(stderr,
			        "usage: call_cost [--nvml-lib PATH] [--calls N] [--gap-ms MS]\n");
			return 2;
		}
	}
	if (calls < 3 || calls > 10000)
		calls = 20;
	if (gap_ms < 0 || gap_ms > 10000)
		gap_ms = 50;
	struct nvml_lib lib;
	char err[1024];
	if (nvml_lib_open(&lib, nvml_lib_choose(path), err, sizeof(err)) != 0) {
		fprintf(stderr, "call_cost: %s\n", err);
		return 1;
	}
	nvmlDevice_t dev;
	if (lib.init() != NVML_SUCCESS || lib.device_get_handle_by_index(0, &dev) != NVML_SUCCESS) {
		fprintf(stderr, "call_cost: no GPU 0\n");
		return 1;
	}
	bool gpm = lib.gpm_sample_alloc && lib.gpm_sample_alloc(&gs[0]) == NVML_SUCCESS &&
	           lib.gpm_sample_alloc(&gs[1]) == NVML_SUCCESS &&
	           lib.gpm_sample_get(dev, gs[0]) == NVML_SUCCESS;
	sleep_ms(120);
	if (gpm)
		lib.gpm_sample_get(dev, gs[1]);
	while (links < NVML_NVLINK_MAX_LINKS) {
		int st;
		if (lib.device_get_nvlink_state(dev, links, &st) != NVML_SUCCESS)
			break;
		links++;
	}
	printf("nvlinks %u\n", links);
	double *t = calloc((size_t)calls, sizeof(*t));
	for (int k = 0; k < K_COUNT; k++) {
		if ((k == K_GPM_SAMPLE || k == K_GPM_FAST_LIST) && !gpm)
			continue;
		nvmlReturn_t rc = NVML_SUCCESS;
		for (int i = 0; i < calls; i++) {
			unsigned long long since = 0;
			int window_ms = k == K_SAMPLES_POWER_250MS ? 250
			                : k == K_SAMPLES_POWER_2S  ? 2000
			                : k == K_SAMPLES_POWER_1S || k == K_SAMPLES_UTIL_1S ||
			                        k == K_PROCESS_UTIL
			                    ? 1000
			                    : 0;
			if (window_ms) {
				/* as the agent asks: the samples since its last read */
				if (k == K_PROCESS_UTIL) {
					struct timespec ts;
					clock_gettime(CLOCK_REALTIME, &ts);
					since = (unsigned long long)ts.tv_sec * 1000000ULL +
					        (unsigned long long)ts.tv_nsec / 1000 - 5000000ULL;
				} else {
					since = newest_ts(&lib, dev,
					                  k == K_SAMPLES_UTIL_1S
					                      ? NVML_GPU_UTILIZATION_SAMPLES
					                      : NVML_TOTAL_POWER_SAMPLES);
				}
				sleep_ms(window_ms);
				if (i >= 9)
					break; /* nine slow rounds are enough for a median */
			} else {
				sleep_ms(gap_ms);
			}
			double c0 = cpu_now();
			rc = one_call(&lib, dev, (enum kind)k, since);
			t[i] = cpu_now() - c0;
		}
		int made = calls;
		if ((k >= K_SAMPLES_POWER_250MS && k <= K_SAMPLES_UTIL_1S) || k == K_PROCESS_UTIL)
			made = calls < 9 ? calls : 9;
		qsort(t, (size_t)made, sizeof(*t), cmp);
		printf("cost %s %.1f %d\n", names[k], t[made / 2] * 1e6, rc);
		fflush(stdout);
	}
	for (size_t k = 0; gpm && k < sizeof(fast_ids) / sizeof(fast_ids[0]) + 1; k++) {
		unsigned id = k == 0 ? NVML_GPM_METRIC_GRAPHICS_UTIL : fast_ids[k - 1];
		for (int i = 0; i < calls; i++) {
			memset(&mg, 0, offsetof(nvmlGpmMetricsGet_t, metrics));
			mg.version = NVML_GPM_METRICS_GET_VERSION;
			mg.sample1 = gs[0];
			mg.sample2 = gs[1];
			mg.numMetrics = 1;
			mg.metrics[0].metricId = id;
			double c0 = cpu_now();
			lib.gpm_metrics_get(&mg);
			t[i] = cpu_now() - c0;
		}
		qsort(t, (size_t)calls, sizeof(*t), cmp);
		printf("metric %u %.1f %d\n", id, t[calls / 2] * 1e6, mg.metrics[0].nvmlReturn);
	}
	free(t);
	return 0;
}
