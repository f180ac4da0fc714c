/* test_sim_scenario.c - scenario parsing: defaults, strictness, messages, shipped scenarios. */
#include "sim/sim_scenario.h"
#include "sim/sim_csv.h"
#include "nvml/nvml_abi.h"

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

static char err[2048];

static struct sim_scenario *parse(const char *text)
{
	err[0] = '\0';
	struct sim_scenario *s =
	    sim_scenario_parse(text, strlen(text), "scenario.json", NULL, err, sizeof(err));
	if (!s)
		fail_msg("%s", err);
	return s;
}

static const char *parse_error(const char *text)
{
	struct sim_scenario *s =
	    sim_scenario_parse(text, strlen(text), "scenario.json", NULL, err, sizeof(err));
	assert_null(s);
	return err;
}

static void test_defaults(void **state)
{
	struct sim_scenario *s = parse("{\"gpus\": [{}, {}]}");
	assert_string_equal(s->name, "unnamed");
	assert_string_equal(s->driver_version, "580.159.04");
	assert_string_equal(s->nvml_version, "13.580.159.04");
	assert_int_equal(s->cuda_driver_version, 13000);
	assert_int_equal(s->init_error, 0);
	assert_true(s->time_scale == 1);
	assert_int_equal(s->n_gpus, 2);
	const struct sim_gpu *g = &s->gpus[1];
	assert_int_equal(g->index, 1);
	assert_string_equal(g->model, "NVIDIA H200");
	assert_string_equal(g->pci_bus_id, "00000000:02:00.0");
	assert_int_equal(g->minor, 1);
	assert_int_equal(strlen(g->uuid), strlen("GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"));
	assert_memory_equal(g->uuid, "GPU-", 4);
	assert_string_not_equal(s->gpus[0].uuid, g->uuid);
	assert_int_equal(g->memory_total_mib, 143771);
	assert_int_equal(g->memory_reserved_mib, 575);
	assert_int_equal(g->power_limit_w, 700);
	assert_int_equal(g->max_sm_clock_mhz, 1980);
	assert_int_equal(g->max_mem_clock_mhz, 3201);
	assert_int_equal(g->shutdown_temp_c, 95);
	assert_int_equal(g->slowdown_temp_c, 89);
	assert_int_equal(g->max_operating_temp_c, 87);
	assert_int_equal(g->mem_max_temp_c, 95);
	assert_int_equal(g->pcie_gen, 5);
	assert_int_equal(g->pcie_max_width, 16);
	assert_true(g->ecc);
	assert_int_equal(g->supported_events, 0xff9f);
	assert_true(isinf(g->lost_at));
	assert_true(sim_func_eval(g->metrics[SIM_SIG_POWER], 10) == 70);
	assert_true(sim_func_eval(g->metrics[SIM_SIG_TEMP], 10) == 30);
	assert_true(sim_func_eval(g->metrics[SIM_SIG_MEM_TEMP], 10) == 35);
	assert_true(sim_func_eval(g->metrics[SIM_SIG_SM_CLOCK], 10) == 1980);
	assert_true(sim_func_eval(g->metrics[SIM_SIG_UTIL_GPU], 10) == 0);
	sim_scenario_free(s);

	/* the clocks follow the GPU's own maximum */
	s = parse("{\"gpus\": [{\"max_sm_clock_mhz\": 1755}]}");
	assert_true(sim_func_eval(s->gpus[0].metrics[SIM_SIG_SM_CLOCK], 0) == 1755);
	sim_scenario_free(s);
}

static void test_faults_parsed(void **state)
{
	struct sim_scenario *s = parse(
	    "{\"gpus\": [{\"faults\": {"
	    "\"unsupported\": [\"nvmlDeviceGetCurrentClocksThrottleReasons\", \"mem_temp_c\"],"
	    "\"errors\": [{\"call\": \"*\", \"return\": 4, \"from\": 1, \"until\": null}],"
	    "\"slow\": [{\"call\": \"nvmlDeviceGetTotalEnergyConsumption\", \"ms\": 50}],"
	    "\"hang\": [{\"call\": \"nvmlDeviceGetPowerUsage\", \"at\": 3}],"
	    "\"lost_at\": 5,"
	    "\"xid\": [{\"at\": 9, \"code\": 79}, {\"at\": 2, \"code\": 48}],"
	    "\"ecc_dbe_events\": [{\"at\": 4}]}}]}");
	const struct sim_gpu *g = &s->gpus[0];
	assert_int_equal(g->n_unsupported_calls, 1);
	/* a fallback name is stored as the newest one */
	assert_string_equal(g->unsupported_calls[0], "nvmlDeviceGetCurrentClocksEventReasons");
	assert_true(g->unsupported_signals[SIM_SIG_MEM_TEMP]);
	assert_int_equal(g->n_errors, 1);
	assert_string_equal(g->errors[0].call, "*");
	assert_int_equal(g->errors[0].ret, 4);
	assert_true(isinf(g->errors[0].until));
	assert_true(g->slow[0].ms == 50);
	assert_true(g->hangs[0].at == 3);
	assert_true(g->lost_at == 5);
	assert_int_equal(g->n_events, 3);
	/* sorted by time */
	assert_true(g->events[0].at == 2 && g->events[0].data == 48);
	assert_true(g->events[1].at == 4 && g->events[1].type == nvmlEventTypeDoubleBitEccError);
	assert_true(g->events[2].at == 9 && g->events[2].type == nvmlEventTypeXidCriticalError);
	sim_scenario_free(s);
}

static void test_repeat(void **state)
{
	struct sim_scenario *s = parse("{\"gpus\": [{\"model\": \"A\"}, {\"model\": \"B\", "
	                               "\"repeat\": 3, \"metrics\": {\"power_w\": 300}}]}");
	assert_int_equal(s->n_gpus, 4);
	assert_string_equal(s->gpus[3].model, "B");
	assert_int_equal(s->gpus[3].index, 3);
	assert_string_equal(s->gpus[3].pci_bus_id, "00000000:04:00.0");
	assert_string_not_equal(s->gpus[2].uuid, s->gpus[3].uuid);
	assert_true(sim_func_eval(s->gpus[3].metrics[SIM_SIG_POWER], 0) == 300);
	sim_scenario_free(s);
	assert_string_equal(
	    parse_error("{\"gpus\": [{\"repeat\": 2, \"uuid\": \"GPU-1\"}]}"),
	    "scenario.json: gpus[0].uuid: cannot be combined with \"repeat\" (it is "
	    "derived)");
}

static void test_errors(void **state)
{
	assert_string_equal(parse_error("{\"gpu\": []}"), "scenario.json: unknown key \"gpu\"");
	assert_string_equal(parse_error("{\"gpus\": [{}, {\"power_limit\": 700}]}"),
	                    "scenario.json: gpus[1]: unknown key \"power_limit\"");
	assert_string_equal(parse_error("{\"gpus\": [{}, {\"power_limit_w\": \"high\"}]}"),
	                    "scenario.json: gpus[1].power_limit_w: expected a whole number from 0 "
	                    "to 4294967295");
	assert_string_equal(parse_error("{\"gpus\": [{}, {}, {\"metrics\": {\"power_w\": "
	                                "{\"sinus\": {}}}}]}"),
	                    "scenario.json: gpus[2].metrics.power_w: unknown function \"sinus\" "
	                    "(expected const, ramp, sine, square, steps, csv, add)");
	assert_string_equal(parse_error("{\"gpus\": [{\"metrics\": {\"power\": 5}}]}"),
	                    "scenario.json: gpus[0].metrics: unknown signal \"power\" (see "
	                    "docs/simulator.md)");
	assert_string_equal(parse_error("{\"gpus\": [{\"ecc\": 1}]}"),
	                    "scenario.json: gpus[0].ecc: expected true or false");
	assert_string_equal(parse_error("{\"gpus\": [{\"model\": 5}]}"),
	                    "scenario.json: gpus[0].model: expected a string");
	assert_string_equal(parse_error("{\"gpus\": {}}"),
	                    "scenario.json: gpus: expected an array of GPU objects");
	assert_string_equal(parse_error("{\"time_scale\": 0, \"gpus\": []}"),
	                    "scenario.json: time_scale: give 0.001 to 10000 (scenario seconds "
	                    "per second)");
	/* 1e308 made scenario time infinite: the energy integral spun forever. */
	assert_string_equal(parse_error("{\"time_scale\": 1e308, \"gpus\": [{}]}"),
	                    "scenario.json: time_scale: give 0.001 to 10000 (scenario seconds "
	                    "per second)");
	assert_string_equal(
	    parse_error("{\"gpus\": [{\"faults\": {\"unsupported\": [\"nvmlDeviceGetPower\"]}}]}"),
	    "scenario.json: gpus[0].faults.unsupported[0]: \"nvmlDeviceGetPower\" is neither a "
	    "device call nor a signal name");
	assert_string_equal(
	    parse_error("{\"gpus\": [{\"faults\": {\"hang\": [{\"call\": \"nvmlInit_v2\"}]}}]}"),
	    "scenario.json: gpus[0].faults.hang[0].call: \"nvmlInit_v2\" is not a device call "
	    "of the simulated NVML ABI");
	assert_string_equal(parse_error("{\"gpus\": [{\"faults\": {\"errors\": [{\"call\": \"*\", "
	                                "\"retrun\": 4}]}}]}"),
	                    "scenario.json: gpus[0].faults.errors[0]: unknown key \"retrun\"");
	assert_string_equal(parse_error("{\"gpus\": [{\"faults\": {\"lost\": 5}}]}"),
	                    "scenario.json: gpus[0].faults: unknown key \"lost\"");
	/* malformed JSON: file:line:column */
	assert_non_null(
	    strstr(parse_error("{\n  \"gpus\": [\n    {,}\n  ]\n}"), "scenario.json:3:"));
	assert_non_null(strstr(parse_error("{\"name\": \"a\", \"name\": \"b\", \"gpus\": []}"),
	                       "duplicate object key"));
}

static void test_csv_relative_to_scenario(void **state)
{
	char dir[] = "/tmp/sim_scenario_testXXXXXX";
	char path[256], csv[256];
	assert_non_null(mkdtemp(dir));
	snprintf(csv, sizeof(csv), "%s/p.csv", dir);
	snprintf(path, sizeof(path), "%s/s.json", dir);
	FILE *fp = fopen(csv, "w");
	assert_non_null(fp);
	fputs("t_s,power_w\n0,100\n1,200\n", fp);
	fclose(fp);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("{\"gpus\": [{\"metrics\": {\"power_w\": {\"csv\": {\"file\": \"p.csv\", "
	      "\"column\": \"power_w\", \"loop\": false}}}}]}",
	      fp);
	fclose(fp);
	struct sim_scenario *s = sim_scenario_load_file(path, err, sizeof(err));
	if (!s)
		fail_msg("%s", err);
	assert_true(fabs(sim_func_eval(s->gpus[0].metrics[SIM_SIG_POWER], 0.5) - 150) < 1e-9);
	sim_scenario_free(s);
	unlink(csv);
	unlink(path);
	rmdir(dir);

	assert_null(sim_scenario_load_file("/nonexistent/s.json", err, sizeof(err)));
	assert_string_equal(err, "/nonexistent/s.json: No such file or directory");
	/* A directory once asked for a 2^63-byte buffer; /dev/zero as a trace never ended. */
	assert_null(sim_scenario_load_file("/tmp", err, sizeof(err)));
	assert_string_equal(err, "/tmp: is a directory, not a file");
	assert_null(sim_scenario_load_file("/dev/zero", err, sizeof(err)));
	assert_string_equal(err, "/dev/zero: not a regular file");
	const char *zero = "{\"gpus\": [{\"metrics\": {\"power_w\": {\"csv\": {\"file\": "
	                   "\"/dev/zero\", \"column\": \"power_w\"}}}}]}";
	assert_string_equal(parse_error(zero), "scenario.json: gpus[0].metrics.power_w.csv: "
	                                       "/dev/zero: not a regular file");
	/* Past SIM_FILE_MAX (a sparse file: no disk written) the read stops with a reason. */
	char big[] = "/tmp/sim_scenario_bigXXXXXX";
	int fd = mkstemp(big);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)SIM_FILE_MAX + 1), 0);
	close(fd);
	assert_null(sim_scenario_load_file(big, err, sizeof(err)));
	assert_non_null(strstr(err, "larger than 64 MiB"));
	unlink(big);
	assert_null(sim_scenario_load_file("builtin:nope.json", err, sizeof(err)));
	assert_string_equal(err, "builtin:nope.json: no such built-in scenario");
}

static void test_shipped_scenarios(void **state)
{
	struct sim_scenario *s = sim_scenario_load_default(err, sizeof(err));
	if (!s)
		fail_msg("%s", err);
	assert_int_equal(s->n_gpus, 8);
	for (size_t i = 0; i < s->n_gpus; i++) {
		const struct sim_gpu *g = &s->gpus[i];
		assert_true(strlen(g->description) > 20);
		assert_int_equal(g->memory_total_mib, 143771);
		/* realistic against the H200 facts over the first hour */
		for (double t = 0; t < 3600; t += 0.7) {
			double p = sim_func_eval(g->metrics[SIM_SIG_POWER], t);
			double u = sim_func_eval(g->metrics[SIM_SIG_UTIL_GPU], t);
			double fb = sim_func_eval(g->metrics[SIM_SIG_FB_USED], t);
			double temp = sim_func_eval(g->metrics[SIM_SIG_TEMP], t);
			assert_true(p >= 60 && p <= 710);
			assert_true(u >= 0 && u <= 100);
			assert_true(fb >= 0 && fb <= 143771 - 575);
			assert_true(temp >= 25 && temp <= 92);
		}
	}
	assert_int_equal(s->gpus[7].n_events, 3);
	sim_scenario_free(s);

	static const char *const names[] = {"builtin:faults.json", "builtin:single-h200.json",
	                                    SIM_TEST_TRACES_DIR "/../scenarios/default.json"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		s = sim_scenario_load_file(names[i], err, sizeof(err));
		if (!s)
			fail_msg("%s", err);
		assert_true(s->n_gpus >= 1);
		sim_scenario_free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_faults_parsed),
	    cmocka_unit_test(test_repeat),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_csv_relative_to_scenario),
	    cmocka_unit_test(test_shipped_scenarios),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
