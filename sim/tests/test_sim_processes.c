/* test_sim_processes.c - the simulator's processes: parsing of "processes" and the NVML calls
 * that report them (process lists, per-process utilization), through dlopen() like the agent. */
#include "sim/sim_scenario.h"
#include "nvml/nvml_abi.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static struct {
	nvmlReturn_t (*init)(void);
	nvmlReturn_t (*shutdown)(void);
	nvmlReturn_t (*handle)(unsigned, nvmlDevice_t *);
	nvmlReturn_t (*mig_handle)(nvmlDevice_t, unsigned, nvmlDevice_t *);
	nvmlReturn_t (*compute)(nvmlDevice_t, unsigned *, nvmlProcessInfo_t *);
	nvmlReturn_t (*graphics)(nvmlDevice_t, unsigned *, nvmlProcessInfo_t *);
	nvmlReturn_t (*util)(nvmlDevice_t, nvmlProcessUtilizationSample_t *, unsigned *,
	                     unsigned long long);
} nv;

static char dir[] = "/tmp/sim_procs_testXXXXXX";
static char err[2048];

static int setup(void **state)
{
	void *lib = dlopen(SIM_LIBRARY_PATH, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "%s\n", dlerror());
		return -1;
	}
	*(void **)&nv.init = dlsym(lib, "nvmlInit_v2");
	*(void **)&nv.shutdown = dlsym(lib, "nvmlShutdown");
	*(void **)&nv.handle = dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
	*(void **)&nv.mig_handle = dlsym(lib, "nvmlDeviceGetMigDeviceHandleByIndex");
	*(void **)&nv.compute = dlsym(lib, "nvmlDeviceGetComputeRunningProcesses_v3");
	*(void **)&nv.graphics = dlsym(lib, "nvmlDeviceGetGraphicsRunningProcesses_v3");
	*(void **)&nv.util = dlsym(lib, "nvmlDeviceGetProcessUtilization");
	if (!nv.init || !nv.compute || !nv.graphics || !nv.util || !nv.mig_handle)
		return -1;
	return mkdtemp(dir) ? 0 : -1;
}

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
	assert_int_equal(nv.handle(i, &d), NVML_SUCCESS);
	return d;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static const char *parse_error(const char *text)
{
	struct sim_scenario *s =
	    sim_scenario_parse(text, strlen(text), "scenario.json", NULL, err, sizeof(err));
	assert_null(s);
	return err;
}

static void test_parse(void **state)
{
	const char *text =
	    "{\"gpus\": [{\"processes\": [{\"pid\": 4242, \"name\": \"vllm\", \"cgroup\": "
	    "\"0::/system.slice/x.service\", \"used_mib\": {\"ramp\": {\"from\": 100, \"to\": 200, "
	    "\"duration\": 10}}, \"sm_util_pct\": 50, \"until\": 30},"
	    "{\"pid\": 7, \"type\": \"graphics\"}]}]}";
	struct sim_scenario *s =
	    sim_scenario_parse(text, strlen(text), "scenario.json", NULL, err, sizeof(err));
	if (!s)
		fail_msg("%s", err);
	const struct sim_gpu *g = &s->gpus[0];
	assert_int_equal(g->n_processes, 2);
	assert_int_equal(g->processes[0].pid, 4242);
	assert_string_equal(g->processes[0].name, "vllm");
	assert_string_equal(g->processes[0].cgroup, "0::/system.slice/x.service");
	assert_false(g->processes[0].graphics);
	assert_true(g->processes[0].until == 30);
	assert_true(fabs(sim_func_eval(g->processes[0].used_mib, 5) - 150) < 1e-9);
	assert_string_equal(g->processes[1].name, "python");
	assert_true(g->processes[1].graphics);
	assert_true(isinf(g->processes[1].until));
	sim_scenario_free(s);

	assert_string_equal(parse_error("{\"gpus\": [{\"processes\": [{\"name\": \"x\"}]}]}"),
	                    "scenario.json: gpus[0].processes[0]: \"pid\" is required");
	assert_string_equal(
	    parse_error("{\"gpus\": [{\"processes\": [{\"pid\": 1, \"mem\": 1}]}]}"),
	    "scenario.json: gpus[0].processes[0]: unknown key \"mem\"");
	assert_string_equal(
	    parse_error("{\"gpus\": [{\"processes\": [{\"pid\": 3}, {\"pid\": 3}]}]}"),
	    "scenario.json: gpus[0].processes[1]: pid 3 is listed twice on this GPU");
	assert_string_equal(
	    parse_error("{\"gpus\": [{\"processes\": [{\"pid\": 3, \"type\": \"mps\"}]}]}"),
	    "scenario.json: gpus[0].processes[0].type: \"compute\" or \"graphics\"");
	assert_string_equal(
	    parse_error("{\"gpus\": [{\"processes\": [{\"pid\": 3, \"gpu_instance_id\": 2}]}]}"),
	    "scenario.json: gpus[0].processes[0].gpu_instance_id: the GPU has no MIG instance 2");
	assert_string_equal(parse_error("{\"gpus\": [{\"processes\": {}}]}"),
	                    "scenario.json: gpus[0].processes: expected an array of at most 256 "
	                    "processes");
}

static void test_lists(void **state)
{
	use_scenario(
	    "{\"gpus\": [{\"processes\": ["
	    "{\"pid\": 100, \"used_mib\": 1024}, {\"pid\": 200, \"used_mib\": -1},"
	    "{\"pid\": 300, \"type\": \"graphics\", \"used_mib\": 5},"
	    "{\"pid\": 400, \"from\": 3600}]},"
	    "{\"mig\": [{\"gpu_instance_id\": 3}, {\"gpu_instance_id\": 5}],"
	    " \"processes\": [{\"pid\": 500, \"gpu_instance_id\": 5, \"used_mib\": 2}]}]}");
	assert_int_equal(nv.init(), NVML_SUCCESS);
	nvmlDevice_t d = handle(0);
	unsigned n = 0;
	assert_int_equal(nv.compute(d, &n, NULL), NVML_ERROR_INSUFFICIENT_SIZE);
	assert_int_equal(n, 2); /* pid 400 starts in an hour */
	nvmlProcessInfo_t p[4];
	n = 1;
	assert_int_equal(nv.compute(d, &n, p), NVML_ERROR_INSUFFICIENT_SIZE);
	assert_int_equal(n, 2);
	n = 4;
	assert_int_equal(nv.compute(d, &n, p), NVML_SUCCESS);
	assert_int_equal(n, 2);
	assert_int_equal(p[0].pid, 100);
	assert_true(p[0].usedGpuMemory == 1024ULL << 20);
	assert_int_equal(p[0].gpuInstanceId, NVML_NO_INSTANCE_ID);
	assert_int_equal(p[1].pid, 200);
	assert_true(p[1].usedGpuMemory == NVML_VALUE_NOT_AVAILABLE_ULL);
	n = 4;
	assert_int_equal(nv.graphics(d, &n, p), NVML_SUCCESS);
	assert_int_equal(n, 1);
	assert_int_equal(p[0].pid, 300);

	/* MIG: the GPU lists the instance; the instance's handle lists only its own. */
	nvmlDevice_t m = handle(1), mig;
	n = 4;
	assert_int_equal(nv.compute(m, &n, p), NVML_SUCCESS);
	assert_int_equal(n, 1);
	assert_int_equal(p[0].gpuInstanceId, 5);
	assert_int_equal(p[0].computeInstanceId, 0);
	assert_int_equal(nv.mig_handle(m, 0, &mig), NVML_SUCCESS);
	n = 4;
	assert_int_equal(nv.compute(mig, &n, p), NVML_SUCCESS);
	assert_int_equal(n, 0);
	assert_int_equal(nv.mig_handle(m, 1, &mig), NVML_SUCCESS);
	n = 4;
	assert_int_equal(nv.compute(mig, &n, p), NVML_SUCCESS);
	assert_int_equal(n, 1);
	n = 72;
	nvmlProcessUtilizationSample_t u[72];
	assert_int_equal(nv.util(m, u, &n, 0), NVML_ERROR_NOT_SUPPORTED);
	assert_int_equal(nv.shutdown(), NVML_SUCCESS);
}

static void test_utilization(void **state)
{
	use_scenario("{\"gpus\": [{\"processes\": ["
	             "{\"pid\": 100, \"sm_util_pct\": 40, \"mem_util_pct\": 10},"
	             "{\"pid\": 200, \"sm_util_pct\": 0},"
	             "{\"pid\": 300, \"sm_util_pct\": 150}]}]}");
	assert_int_equal(nv.init(), NVML_SUCCESS);
	nvmlDevice_t d = handle(0);
	unsigned n = 0;
	assert_int_equal(nv.util(d, NULL, &n, 0), NVML_ERROR_INSUFFICIENT_SIZE);
	assert_int_equal(n, 72);
	sleep_ms(450);
	nvmlProcessUtilizationSample_t u[72];
	n = 72;
	assert_int_equal(nv.util(d, u, &n, 0), NVML_SUCCESS);
	assert_int_equal(n, 2); /* pid 200 was idle: no sample */
	assert_int_equal(u[0].pid, 100);
	assert_int_equal(u[0].smUtil, 40);
	assert_int_equal(u[0].memUtil, 10);
	assert_int_equal(u[1].pid, 300);
	assert_int_equal(u[1].smUtil, 100);
	struct timeval tv;
	gettimeofday(&tv, NULL);
	unsigned long long now_us = (unsigned long long)tv.tv_sec * 1000000ULL + tv.tv_usec;
	assert_true(u[0].timeStamp <= now_us && u[0].timeStamp > now_us - 1000000ULL);
	/* Nothing newer than the newest timestamp: NOT_FOUND. */
	unsigned long long last = u[0].timeStamp;
	n = 72;
	assert_int_equal(nv.util(d, u, &n, last), NVML_ERROR_NOT_FOUND);
	assert_int_equal(n, 0);
	sleep_ms(250);
	n = 72;
	assert_int_equal(nv.util(d, u, &n, last), NVML_SUCCESS);
	assert_true(u[0].timeStamp > last);
	assert_int_equal(nv.shutdown(), NVML_SUCCESS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_lists),
	    cmocka_unit_test(test_utilization),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
