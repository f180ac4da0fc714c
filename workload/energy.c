/* energy.c - energy and GPU-time shares; the method is described in energy.h. */
#include "workload/energy.h"

#include <assert.h>
#include <math.h>
#include <string.h>

static double clamp_percent(double v)
{
	if (!(v > 0)) /* also NaN */
		return 0;
	return v > 100 ? 100 : v;
}

void energy_apportion(double gpu_joules, double interval_s, double gpu_util_percent,
                      bool gpu_util_valid, const struct energy_process *procs, size_t n,
                      struct energy_share *out, struct energy_split *split)
{
	assert(split);
	assert(n == 0 || (procs && out));
	if (!(gpu_joules >= 0) || !isfinite(gpu_joules))
		gpu_joules = 0;
	if (!(interval_s >= 0) || !isfinite(interval_s))
		interval_s = 0;
	memset(split, 0, sizeof(*split));
	for (size_t i = 0; i < n; i++)
		out[i].fraction = 0;

	bool any_util = false;
	double util_sum = 0;
	uint64_t memory_sum = 0;
	for (size_t i = 0; i < n; i++) {
		if (procs[i].sm_util_valid) {
			any_util = true;
			util_sum += clamp_percent(procs[i].sm_util);
		}
		memory_sum += procs[i].memory_bytes;
	}

	double busy = 0;
	if (any_util) {
		split->method = ENERGY_BY_SM_UTIL;
		double scale = util_sum > 100 ? 100 / util_sum : 1;
		for (size_t i = 0; i < n; i++)
			if (procs[i].sm_util_valid)
				out[i].fraction = clamp_percent(procs[i].sm_util) * scale / 100;
		busy = util_sum * scale / 100;
	} else if (n > 0) {
		split->method = ENERGY_BY_MEMORY;
		busy = gpu_util_valid ? clamp_percent(gpu_util_percent) / 100 : 1;
		for (size_t i = 0; i < n; i++)
			out[i].fraction =
			    memory_sum ? busy * ((double)procs[i].memory_bytes / (double)memory_sum)
			               : busy / (double)n;
	} else {
		split->method = ENERGY_ALL_IDLE;
	}
	if (busy <= 0)
		split->method = ENERGY_ALL_IDLE;
	split->idle_fraction = busy >= 1 ? 0 : 1 - busy;
	for (size_t i = 0; i < n; i++) {
		out[i].joules = out[i].fraction * gpu_joules;
		out[i].gpu_seconds = out[i].fraction * interval_s;
	}
	split->idle_joules = split->idle_fraction * gpu_joules;
	split->idle_gpu_seconds = split->idle_fraction * interval_s;
}

const char *energy_method_name(enum energy_method m)
{
	switch (m) {
	case ENERGY_BY_SM_UTIL:
		return "sm_util";
	case ENERGY_BY_MEMORY:
		return "memory";
	case ENERGY_ALL_IDLE:
		return "idle";
	}
	return "";
}
