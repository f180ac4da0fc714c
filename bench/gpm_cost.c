/* gpm_cost.c - what GPM costs per call on this driver, by metric count.
 *
 * nvmlGpmSampleGet is one snapshot of the counters; nvmlGpmMetricsGet turns
 * a pair into figures on the CPU.  This times both (CPU per call, median of
 * many) for pairs asking 1 to 32 metrics, so the agent's choice of how many
 * GPM metrics to compute per sweep rests on a measurement.  Read-only.
 *
 *   gpm_cost [--nvml-lib PATH] [--calls N]
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

int main(int argc, char **argv)
{
	const char *path = NULL;
	int calls = 200;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--nvml-lib") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--calls") == 0 && i + 1 < argc)
			calls = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: gpm_cost [--nvml-lib PATH] [--calls N]\n");
			return 2;
		}
	}
	if (calls < 10 || calls > 100000)
		calls = 200;
	struct nvml_lib lib;
	char err[1024];
	if (nvml_lib_open(&lib, nvml_lib_choose(path), err, sizeof(err)) != 0) {
		fprintf(stderr, "gpm_cost: %s\n", err);
		return 1;
	}
	nvmlDevice_t dev;
	if (lib.init() != NVML_SUCCESS || lib.device_get_handle_by_index(0, &dev) != NVML_SUCCESS ||
	    !lib.gpm_sample_alloc || !lib.gpm_metrics_get) {
		fprintf(stderr, "gpm_cost: no GPU 0 or no GPM in this library\n");
		return 1;
	}
	nvmlGpmSample_t s[2];
	lib.gpm_sample_alloc(&s[0]);
	lib.gpm_sample_alloc(&s[1]);
	double *t = calloc((size_t)calls, sizeof(*t));
	for (int i = 0; i < calls; i++) {
		double c0 = cpu_now();
		nvmlReturn_t rc = lib.gpm_sample_get(dev, s[i & 1]);
		t[i] = cpu_now() - c0;
		if (rc != NVML_SUCCESS) {
			fprintf(stderr, "gpm_cost: nvmlGpmSampleGet: %d\n", rc);
			return 1;
		}
	}
	qsort(t, (size_t)calls, sizeof(*t), cmp);
	printf("sample_get_cpu_us_p50 %.1f\n", t[calls / 2] * 1e6);
	static const unsigned ids[] = {2,  5,  10, 3,  1,  7,  9,  6,  11, 12, 13,
	                               4,  20, 21, 60, 61, 30, 31, 32, 33, 34, 35,
	                               36, 37, 40, 41, 42, 43, 44, 45, 46, 47};
	static nvmlGpmMetricsGet_t mg;
	struct timespec gap = {0, 120 * 1000 * 1000};
	lib.gpm_sample_get(dev, s[0]);
	nanosleep(&gap, NULL);
	lib.gpm_sample_get(dev, s[1]);
	for (unsigned n = 1; n <= 32; n *= 2) {
		for (int i = 0; i < calls; i++) {
			memset(&mg, 0, sizeof(mg));
			mg.version = NVML_GPM_METRICS_GET_VERSION;
			mg.sample1 = s[0];
			mg.sample2 = s[1];
			mg.numMetrics = n;
			for (unsigned k = 0; k < n; k++)
				mg.metrics[k].metricId = ids[k];
			double c0 = cpu_now();
			nvmlReturn_t rc = lib.gpm_metrics_get(&mg);
			t[i] = cpu_now() - c0;
			if (rc != NVML_SUCCESS) {
				fprintf(stderr, "gpm_cost: nvmlGpmMetricsGet(%u): %d\n", n, rc);
				return 1;
			}
		}
		qsort(t, (size_t)calls, sizeof(*t), cmp);
		printf("metrics_get_%u_cpu_us_p50 %.1f\n", n, t[calls / 2] * 1e6);
	}
	/* Each metric alone: a costly one stands out. */
	for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
		int rounds = calls / 4 > 10 ? calls / 4 : 10;
		for (int i = 0; i < rounds; i++) {
			memset(&mg, 0, sizeof(mg));
			mg.version = NVML_GPM_METRICS_GET_VERSION;
			mg.sample1 = s[0];
			mg.sample2 = s[1];
			mg.numMetrics = 1;
			mg.metrics[0].metricId = ids[k];
			double c0 = cpu_now();
			lib.gpm_metrics_get(&mg);
			t[i] = cpu_now() - c0;
		}
		qsort(t, (size_t)rounds, sizeof(*t), cmp);
		printf("metric_%u_cpu_us_p50 %.1f rc %d\n", ids[k], t[rounds / 2] * 1e6,
		       mg.metrics[0].nvmlReturn);
	}
	return 0;
}
