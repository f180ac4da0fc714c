/* session.c - find the library (driver or simulator), nvmlInit, versions.
 *
 * --demo loads gpuscope's simulator library in place of libnvidia-ml and
 * says so loudly: numbers from a simulator must never pass for real ones.
 */
#include "cmd/session.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef GPUSCOPE_SIM_LIB_NAME
#define GPUSCOPE_SIM_LIB_NAME "libgpuscope-nvml-sim.so"
#endif

/* The simulator sits beside the binary in the build tree (build/sim/) and
 * in ../lib/gpuscope once installed; GPUSCOPE_SIM_LIB overrides both. */
static int find_simulator(char *out, size_t len)
{
	const char *env = getenv("GPUSCOPE_SIM_LIB");
	if (env && *env) {
		snprintf(out, len, "%s", env);
		return 0;
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = 0;
	const char *dir = dirname(exe);
	const char *candidates[] = {"/sim/", "/", "/../lib/gpuscope/"};
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		snprintf(out, len, "%s%s%s", dir, candidates[i], GPUSCOPE_SIM_LIB_NAME);
		if (access(out, R_OK) == 0)
			return 0;
	}
	return -1;
}

static void banner(const char *scenario)
{
	fprintf(stderr,
	        "\n"
	        "################################################################\n"
	        "##                                                            ##\n"
	        "##   SIMULATED GPUs -- gpuscope is reading its simulator,     ##\n"
	        "##   not an NVIDIA driver. Every number below is made up.     ##\n"
	        "##                                                            ##\n"
	        "################################################################\n"
	        "   scenario: %s\n\n",
	        scenario);
}

int session_open(struct session *s, const struct gpu_opts *o)
{
	memset(s, 0, sizeof(*s));
	char path[PATH_MAX], err[1024];
	const char *lib_path;
	if (o->demo) {
		if (find_simulator(path, sizeof(path)) != 0) {
			fprintf(stderr,
			        "gpuscope: --demo: the simulator library %s was not found "
			        "beside the binary; set GPUSCOPE_SIM_LIB to its path\n",
			        GPUSCOPE_SIM_LIB_NAME);
			return -1;
		}
		if (o->scenario) {
			char abs[PATH_MAX];
			if (!realpath(o->scenario, abs)) {
				fprintf(stderr,
				        "gpuscope: --demo %s: cannot open the scenario file: %m\n",
				        o->scenario);
				return -1;
			}
			setenv("GPUSCOPE_SIM_SCENARIO", abs, 1);
		} else {
			unsetenv("GPUSCOPE_SIM_SCENARIO");
		}
		lib_path = path;
	} else {
		lib_path = nvml_lib_choose(o->nvml_lib);
	}
	if (nvml_lib_open(&s->lib, lib_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "gpuscope: %s\n", err);
		return -1;
	}
	nvmlReturn_t rc = s->lib.init();
	if (rc != NVML_SUCCESS) {
		const char *detail = s->lib.sim_last_error ? s->lib.sim_last_error() : NULL;
		fprintf(stderr, "gpuscope: nvmlInit failed: %s (NVML %d)%s%s\n",
		        nvml_lib_strerror(&s->lib, rc), rc, detail && *detail ? ": " : "",
		        detail && *detail ? detail : "");
		if (rc == NVML_ERROR_DRIVER_NOT_LOADED)
			fprintf(stderr, "gpuscope: the NVIDIA kernel driver is not loaded; try "
			                "--demo to run on simulated GPUs\n");
		else if (rc == NVML_ERROR_NO_PERMISSION)
			fprintf(stderr, "gpuscope: no permission to open /dev/nvidia*; run as a "
			                "user in the video group or as root\n");
		nvml_lib_close(&s->lib);
		return -1;
	}
	s->initialized = true;
	rc = s->lib.device_get_count(&s->count);
	if (rc != NVML_SUCCESS) {
		fprintf(stderr, "gpuscope: nvmlDeviceGetCount failed: %s\n",
		        nvml_lib_strerror(&s->lib, rc));
		session_close(s, false);
		return -1;
	}
	struct board_info *bi = &s->info;
	snprintf(bi->library, sizeof(bi->library), "%.500s", lib_path);
	if (s->lib.system_get_driver_version)
		s->lib.system_get_driver_version(bi->driver_version, sizeof(bi->driver_version));
	if (s->lib.system_get_nvml_version)
		s->lib.system_get_nvml_version(bi->nvml_version, sizeof(bi->nvml_version));
	int cuda = 0;
	if (s->lib.system_get_cuda_driver_version &&
	    s->lib.system_get_cuda_driver_version(&cuda) == NVML_SUCCESS)
		snprintf(bi->cuda_driver_version, sizeof(bi->cuda_driver_version), "%d.%d",
		         cuda / 1000, (cuda % 1000) / 10);
	bi->driver_version[sizeof(bi->driver_version) - 1] = 0;
	bi->nvml_version[sizeof(bi->nvml_version) - 1] = 0;
	if (gethostname(bi->hostname, sizeof(bi->hostname) - 1) != 0)
		snprintf(bi->hostname, sizeof(bi->hostname), "unknown");
	if (o->demo) {
		const char *name = s->lib.sim_scenario_name ? s->lib.sim_scenario_name() : NULL;
		snprintf(bi->scenario, sizeof(bi->scenario), "%s",
		         name && *name ? name : (o->scenario ? o->scenario : "default"));
		banner(bi->scenario);
	}
	return 0;
}

void session_close(struct session *s, bool threads_hung)
{
	/* A thread still blocked in the driver would crash in unloaded code. */
	if (threads_hung)
		return;
	if (s->initialized)
		s->lib.shutdown();
	s->initialized = false;
	nvml_lib_close(&s->lib);
}

int sampling_start(struct sampling *x, struct session *s, const struct gpu_opts *o,
                   const struct sampler_config *cfg)
{
	char err[512] = "";
	memset(x, 0, sizeof(*x));
	if (session_open(s, o) != 0)
		return -1;
	if (board_init(&x->board, s->count, cfg->fast_s, cfg->slow_s, cfg->costly_s) != 0) {
		fprintf(stderr, "gpuscope: out of memory\n");
		goto err;
	}
	x->board.info = s->info;
	x->sampler = sampler_start(&s->lib, &x->board, cfg, err, sizeof(err));
	if (!x->sampler) {
		fprintf(stderr, "gpuscope: %s\n", err);
		board_free(&x->board);
		goto err;
	}
	return 0;
err:
	session_close(s, false);
	return -1;
}

void sampling_stop(struct sampling *x, struct session *s)
{
	int hung = sampler_stop(x->sampler);
	x->hung = hung > 0;
	if (hung)
		fprintf(stderr,
		        "gpuscope: %d sampler thread%s still blocked in the driver; "
		        "leaving NVML loaded\n",
		        hung, hung == 1 ? " is" : "s are");
	else
		board_free(&x->board);
	session_close(s, hung > 0);
}
