/* nvml_floor.c - the cheapest a fast-tier sweep can be: the agent's NVML
 * calls in a tight loop, with nothing else around them.
 *
 * The agent's fast tier (sample/sources.c, the TIER_FAST rows of
 * series/metric_table.h) makes eleven calls per GPU per sweep, plus, on GPUs
 * with GPM, one nvmlGpmSampleGet and one nvmlGpmMetricsGet (sample/gpm.c:
 * the pair spans two sweeps, the same metric list).  This program
 * makes the same calls through the same loader (nvml/nvml_loader.c), over all
 * GPUs, for --sweeps rounds, and reports the process CPU time and the wall
 * time they cost.  bench/run.sh and bench/gpu.sh divide the agent's measured
 * CPU per GPU-sweep by this floor: the ratio is the price of threads,
 * sleeping, publishing and serving on top of the driver calls themselves.
 *
 * Like the agent, a call that answers "unsupported" in the first (probe)
 * sweep is not made again, so the floor never counts work the agent skips.
 * A second phase times each call kind on its own (wall time per call), so a
 * slow call stands out without putting a timer around every call.
 *
 * --repeat N makes N sweeps back to back at each tick (a thread serving N
 * GPUs would, one after the other): the first runs cold, the others warm.
 *
 * --pace-ms N sleeps until the next N ms tick between sweeps, as the agent's
 * sampler does.  A sweep that follows a 100 ms sleep runs on cold caches and
 * pays the wake-up, so the paced floor is the fair baseline for the agent's
 * fast tier; the tight loop is the driver's best case.
 *
 * Output is "key value" lines (and "call NAME ..." rows) for the scripts to
 * grep; lines starting with '#' are for people.  Read-only: it never sets
 * anything on the GPU.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "nvml/nvml_loader.h"

enum floor_call {
	CALL_UTILIZATION,
	CALL_MEMORY,
	CALL_TEMPERATURE,
	CALL_FIELD_82,
	CALL_POWER,
	CALL_SM_CLOCK,
	CALL_MEM_CLOCK,
	CALL_EVENT_REASONS,
	CALL_PSTATE,
	CALL_ENCODER,
	CALL_DECODER,
	CALL_GPM,
	CALL_COUNT
};

static const char *const call_names[CALL_COUNT] = {
    "nvmlDeviceGetUtilizationRates",   "nvmlDeviceGetMemoryInfo_v2",
    "nvmlDeviceGetTemperature",        "nvmlDeviceGetFieldValues(82)",
    "nvmlDeviceGetPowerUsage",         "nvmlDeviceGetClockInfo(SM)",
    "nvmlDeviceGetClockInfo(MEM)",     "nvmlDeviceGetCurrentClocksEventReasons",
    "nvmlDeviceGetPerformanceState",   "nvmlDeviceGetEncoderUtilization",
    "nvmlDeviceGetDecoderUtilization", "nvmlGpmSampleGet+nvmlGpmMetricsGet",
};

#define GPM_SLOTS 3 /* the agent pairs with the sample two 100 ms sweeps back */
struct floor_gpu {
	nvmlDevice_t dev;
	nvmlGpmSample_t gpm[GPM_SLOTS];
	unsigned gpm_taken;
	bool memory_v1;        /* _v2 unsupported: fall back, as sources.c does */
	bool skip[CALL_COUNT]; /* unsupported in the probe sweep */
	nvmlReturn_t probe_rc[CALL_COUNT];
};

/* Keeps the compiler from dropping reads whose results are never used. */
static volatile unsigned long long floor_sink;

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The agent's GPM step: one sample, and the metrics of the pair it closes
 * with the sample two steps back (the same 31 metric ids as sample/gpm.c's
 * fast list; the graphics engine's, ~1.2 ms, is on the agent's slow tier). */
static nvmlReturn_t floor_gpm(const struct nvml_lib *lib, struct floor_gpu *g)
{
	static const unsigned ids[] = {2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 20, 21, 61, 60};
	if (!lib->gpm_query_device_support || !lib->gpm_sample_alloc || !lib->gpm_sample_get ||
	    !lib->gpm_metrics_get)
		return NVML_ERROR_FUNCTION_NOT_FOUND;
	if (!g->gpm[0]) {
		nvmlGpmSupport_t sup = {.version = NVML_GPM_SUPPORT_VERSION};
		nvmlReturn_t rc = lib->gpm_query_device_support(g->dev, &sup);
		if (rc != NVML_SUCCESS)
			return rc;
		if (!sup.isSupportedDevice)
			return NVML_ERROR_NOT_SUPPORTED;
		for (int i = 0; i < GPM_SLOTS; i++)
			if ((rc = lib->gpm_sample_alloc(&g->gpm[i])) != NVML_SUCCESS)
				return rc;
	}
	unsigned slot = g->gpm_taken % GPM_SLOTS;
	nvmlReturn_t rc = lib->gpm_sample_get(g->dev, g->gpm[slot]);
	if (rc != NVML_SUCCESS)
		return rc;
	g->gpm_taken++;
	if (g->gpm_taken < GPM_SLOTS)
		return NVML_SUCCESS;
	static nvmlGpmMetricsGet_t mg;
	mg.version = NVML_GPM_METRICS_GET_VERSION;
	mg.sample1 = g->gpm[(slot + 1) % GPM_SLOTS]; /* the oldest of the three */
	mg.sample2 = g->gpm[slot];
	unsigned n = 0;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		mg.metrics[n++].metricId = ids[i];
	for (unsigned e = 0; e < 8; e++) {
		mg.metrics[n++].metricId = NVML_GPM_METRIC_NVDEC_0_UTIL + e;
		mg.metrics[n++].metricId = NVML_GPM_METRIC_NVJPG_0_UTIL + e;
	}
	mg.numMetrics = n;
	rc = lib->gpm_metrics_get(&mg);
	floor_sink += (unsigned long long)mg.metrics[1].value;
	return rc;
}

/* One call of one kind on one GPU; the same arguments the agent passes. */
static nvmlReturn_t floor_call_one(const struct nvml_lib *lib, struct floor_gpu *g,
                                   enum floor_call c)
{
	nvmlReturn_t rc = NVML_ERROR_FUNCTION_NOT_FOUND;
	unsigned u = 0, period = 0;
	switch (c) {
	case CALL_UTILIZATION: {
		nvmlUtilization_t util = {0};
		if (lib->device_get_utilization_rates)
			rc = lib->device_get_utilization_rates(g->dev, &util);
		u = util.gpu;
		break;
	}
	case CALL_MEMORY:
		if (!g->memory_v1 && lib->device_get_memory_info_v2) {
			nvmlMemory_v2_t m = {.version = nvmlMemory_v2};
			rc = lib->device_get_memory_info_v2(g->dev, &m);
			if (rc == NVML_SUCCESS || !nvml_rc_is_unsupported(rc)) {
				u = (unsigned)m.used;
				break;
			}
			g->memory_v1 = true;
		}
		if (lib->device_get_memory_info) {
			nvmlMemory_t m = {0};
			rc = lib->device_get_memory_info(g->dev, &m);
			u = (unsigned)m.used;
		}
		break;
	case CALL_TEMPERATURE:
		if (lib->device_get_temperature)
			rc = lib->device_get_temperature(g->dev, NVML_TEMPERATURE_GPU, &u);
		break;
	case CALL_FIELD_82: {
		nvmlFieldValue_t f = {.fieldId = NVML_FI_DEV_MEMORY_TEMP};
		if (lib->device_get_field_values)
			rc = lib->device_get_field_values(g->dev, 1, &f);
		if (rc == NVML_SUCCESS)
			rc = f.nvmlReturn;
		u = f.value.uiVal;
		break;
	}
	case CALL_POWER:
		if (lib->device_get_power_usage)
			rc = lib->device_get_power_usage(g->dev, &u);
		break;
	case CALL_SM_CLOCK:
		if (lib->device_get_clock_info)
			rc = lib->device_get_clock_info(g->dev, NVML_CLOCK_SM, &u);
		break;
	case CALL_MEM_CLOCK:
		if (lib->device_get_clock_info)
			rc = lib->device_get_clock_info(g->dev, NVML_CLOCK_MEM, &u);
		break;
	case CALL_EVENT_REASONS: {
		unsigned long long bits = 0;
		if (lib->device_get_clocks_event_reasons)
			rc = lib->device_get_clocks_event_reasons(g->dev, &bits);
		u = (unsigned)bits;
		break;
	}
	case CALL_PSTATE: {
		int p = 0;
		if (lib->device_get_performance_state)
			rc = lib->device_get_performance_state(g->dev, &p);
		u = (unsigned)p;
		break;
	}
	case CALL_ENCODER:
		if (lib->device_get_encoder_utilization)
			rc = lib->device_get_encoder_utilization(g->dev, &u, &period);
		break;
	case CALL_DECODER:
		if (lib->device_get_decoder_utilization)
			rc = lib->device_get_decoder_utilization(g->dev, &u, &period);
		break;
	case CALL_GPM:
		rc = floor_gpm(lib, g);
		break;
	case CALL_COUNT:
		break;
	}
	floor_sink += u + period;
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Sleeps until the absolute CLOCK_MONOTONIC time *next, then moves it on. */
static void pace_wait(struct timespec *next, long pace_ms)
{
	next->tv_nsec += pace_ms % 1000 * 1000000L;
	next->tv_sec += pace_ms / 1000 + next->tv_nsec / 1000000000L;
	next->tv_nsec %= 1000000000L;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, next, NULL) != 0)
		;
}

static void usage(FILE *to)
{
	fprintf(to, "usage: nvml_floor [--nvml-lib PATH] [--sweeps N] [--pace-ms MS] [--repeat N]\n"
	            "  Makes gpuscope's fast-tier NVML calls for N sweeps over all GPUs (default\n"
	            "  2000) and prints CPU and wall time per GPU-sweep and per call.\n"
	            "  --pace-ms sleeps to the next MS tick between sweeps, like the agent.\n"
	            "  --repeat makes N sweeps back to back at each tick (default 1).\n"
	            "  PATH defaults to $GPUSCOPE_NVML_LIB, else libnvidia-ml.so.1; for the\n"
	            "  simulator pass its .so (and set GPUSCOPE_SIM_SCENARIO, or leave it unset\n"
	            "  for the 8-GPU default).\n");
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	long sweeps = 2000, pace_ms = 0, repeat = 1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--nvml-lib") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "--sweeps") == 0 && i + 1 < argc) {
			char *end;
			sweeps = strtol(argv[++i], &end, 10);
			if (*end || sweeps < 1) {
				fprintf(stderr, "nvml_floor: --sweeps wants a positive number\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--pace-ms") == 0 && i + 1 < argc) {
			char *end;
			pace_ms = strtol(argv[++i], &end, 10);
			if (*end || pace_ms < 0 || pace_ms > 60000) {
				fprintf(stderr, "nvml_floor: --pace-ms wants 0 to 60000\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
			char *end;
			repeat = strtol(argv[++i], &end, 10);
			if (*end || repeat < 1 || repeat > 64) {
				fprintf(stderr, "nvml_floor: --repeat wants 1 to 64\n");
				return 2;
			}
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}

	struct nvml_lib lib;
	char err[1024];
	if (nvml_lib_open(&lib, nvml_lib_choose(path), err, sizeof(err)) != 0) {
		fprintf(stderr, "nvml_floor: %s\n", err);
		return 1;
	}
	int status = 1;
	struct floor_gpu *gpus = NULL;
	double *sweep_wall = NULL;
	double t0 = clock_s(CLOCK_MONOTONIC);
	nvmlReturn_t rc = lib.init();
	double init_s = clock_s(CLOCK_MONOTONIC) - t0;
	if (rc != NVML_SUCCESS) {
		fprintf(stderr, "nvml_floor: nvmlInit: %s\n", nvml_lib_strerror(&lib, rc));
		goto err_close;
	}
	unsigned count = 0;
	rc = lib.device_get_count(&count);
	if (rc != NVML_SUCCESS || count == 0) {
		fprintf(stderr, "nvml_floor: nvmlDeviceGetCount: %s (count %u)\n",
		        nvml_lib_strerror(&lib, rc), count);
		goto err_shutdown;
	}
	gpus = calloc(count, sizeof(*gpus));
	sweep_wall = calloc((size_t)sweeps, sizeof(*sweep_wall));
	if (!gpus || !sweep_wall) {
		fprintf(stderr, "nvml_floor: out of memory\n");
		goto err_shutdown;
	}
	for (unsigned i = 0; i < count; i++) {
		rc = lib.device_get_handle_by_index(i, &gpus[i].dev);
		if (rc != NVML_SUCCESS) {
			fprintf(stderr, "nvml_floor: nvmlDeviceGetHandleByIndex(%u): %s\n", i,
			        nvml_lib_strerror(&lib, rc));
			goto err_shutdown;
		}
	}

	/* Probe sweep: what each GPU supports (the agent probes once too). */
	for (unsigned i = 0; i < count; i++)
		for (int c = 0; c < CALL_COUNT; c++) {
			rc = floor_call_one(&lib, &gpus[i], (enum floor_call)c);
			gpus[i].probe_rc[c] = rc;
			gpus[i].skip[c] = nvml_rc_is_unsupported(rc);
		}
	long calls_per_sweep = 0;
	for (unsigned i = 0; i < count; i++)
		for (int c = 0; c < CALL_COUNT; c++)
			calls_per_sweep += !gpus[i].skip[c];

	/* Phase 1: whole sweeps, as the agent runs them (paced or back to back). */
	long failed = 0;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	double cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), wall0 = clock_s(CLOCK_MONOTONIC);
	double busy = 0;
	for (long s = 0; s < sweeps; s++) {
		if (pace_ms)
			pace_wait(&next, pace_ms);
		double s0 = clock_s(CLOCK_MONOTONIC);
		for (long r = 0; r < repeat; r++)
			for (unsigned i = 0; i < count; i++)
				for (int c = 0; c < CALL_COUNT; c++)
					if (!gpus[i].skip[c])
						failed += floor_call_one(&lib, &gpus[i],
						                         (enum floor_call)c) !=
						          NVML_SUCCESS;
		sweep_wall[s] = clock_s(CLOCK_MONOTONIC) - s0;
		busy += sweep_wall[s];
	}
	double cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
	/* Paced, the wall time that counts is the sweeps', not the sleeps'. */
	double wall = pace_ms ? busy : clock_s(CLOCK_MONOTONIC) - wall0;
	qsort(sweep_wall, (size_t)sweeps, sizeof(*sweep_wall), cmp_double);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double gpu_sweeps = (double)sweeps * count * (double)repeat;
	double calls = (double)sweeps * (double)calls_per_sweep * (double)repeat;

	printf("# nvml_floor: %s, %u GPU%s, %ld sweeps, %ld calls per sweep (all GPUs)\n", lib.path,
	       count, count == 1 ? "" : "s", sweeps, calls_per_sweep);
	if (lib.sim_scenario_name)
		printf("# simulator scenario: %s\n", lib.sim_scenario_name());
	printf("gpus %u\n", count);
	printf("sweeps %ld\n", sweeps);
	printf("calls_per_gpu_sweep %.2f\n", (double)calls_per_sweep / count);
	printf("init_ms %.3f\n", init_s * 1e3);
	printf("failed_calls %ld\n", failed);
	printf("cpu_us_per_gpu_sweep %.3f\n", cpu / gpu_sweeps * 1e6);
	printf("wall_us_per_gpu_sweep %.3f\n", wall / gpu_sweeps * 1e6);
	printf("wall_us_per_call %.3f\n", calls > 0 ? wall / calls * 1e6 : 0.0);
	printf("cpu_per_wall %.3f\n", wall > 0 ? cpu / wall : 0.0);
	printf("pace_ms %ld\n", pace_ms);
	printf("repeat %ld\n", repeat);
	printf("sweep_wall_us_p50 %.3f\n", sweep_wall[sweeps / 2] / count / (double)repeat * 1e6);
	printf("sweep_wall_us_p99 %.3f\n",
	       sweep_wall[sweeps * 99 / 100] / count / (double)repeat * 1e6);
	printf("maxrss_mib %.1f\n", ru.ru_maxrss / 1024.0);

	/* Phase 2: each call kind alone, over all GPUs, a quarter as many rounds
	 * (at least 50), so the breakdown costs less than the sweep phase. */
	long rounds = sweeps / 4 > 50 ? sweeps / 4 : 50;
	printf("# call  wall_us_per_call  cpu_us_per_call  probe_rc(GPU 0)\n");
	for (int c = 0; c < CALL_COUNT; c++) {
		unsigned made = 0;
		double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_s(CLOCK_MONOTONIC);
		for (long r = 0; r < rounds; r++)
			for (unsigned i = 0; i < count; i++)
				if (!gpus[i].skip[c]) {
					floor_call_one(&lib, &gpus[i], (enum floor_call)c);
					made++;
				}
		double cw = clock_s(CLOCK_MONOTONIC) - w0;
		double cc = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
		if (made)
			printf("call %s %.3f %.3f %d\n", call_names[c], cw / made * 1e6,
			       cc / made * 1e6, gpus[0].probe_rc[c]);
		else
			printf("call %s unsupported - %d\n", call_names[c], gpus[0].probe_rc[c]);
	}
	status = 0;
err_shutdown:
	free(sweep_wall);
	free(gpus);
	lib.shutdown();
err_close:
	nvml_lib_close(&lib);
	return status;
}
