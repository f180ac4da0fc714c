/* config_set.c - thresholds by name, so users tune the engine without a compiler.
 *
 * `gpuscope report --threshold idle_util_max=0.1` (and `serve` for the live
 * diagnosis) set a field of struct analyze_config by the name it has in the
 * header; the table below is the one list of tunable names, and
 * docs/diagnosis.md documents each default.  Values are checked: ratios must
 * be finite and non-negative, counts whole.
 */
#include "analyze/analyze.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(name)                                          \
	{                                                    \
#name, offsetof(struct analyze_config, name) \
	}
static const struct {
	const char *name;
	size_t offset;
} fields[] = {
    FIELD(sustain_share),          FIELD(idle_util_max),
    FIELD(cpu_saturated_ratio),    FIELD(cpu_bound_saturated_share),
    FIELD(cpu_bound_gpu_idle_min), FIELD(bw_dram_min),
    FIELD(bw_tensor_max),          FIELD(compute_sm_min),
    FIELD(compute_tensor_min),     FIELD(power_near_limit),
    FIELD(power_cap_warn_loss),    FIELD(vram_pressure_ratio),
    FIELD(vram_critical_ratio),    FIELD(vram_overprov_ratio),
    FIELD(vram_headroom),          FIELD(thermal_min_share),
    FIELD(pcie_link_util_min),     FIELD(pcie_sm_max),
    FIELD(growth_min_r2),          FIELD(growth_min_bytes),
    FIELD(growth_critical_s),      FIELD(shard_mem_skew),
    FIELD(shard_util_skew),        FIELD(shard_util_min),
    FIELD(launch_util_min),        FIELD(launch_sm_ratio),
    FIELD(bursty_peak_min),        FIELD(bursty_active_min),
    FIELD(bursty_duty_max),        FIELD(bursty_burst_max_s),
};
#undef FIELD

int analyze_config_set(struct analyze_config *cfg, const char *assignment, char *err, size_t errlen)
{
	const char *eq = assignment ? strchr(assignment, '=') : NULL;
	if (!eq || eq == assignment) {
		snprintf(err, errlen, "'%s': write NAME=VALUE, e.g. idle_util_max=0.1",
		         assignment ? assignment : "");
		return -1;
	}
	size_t len = (size_t)(eq - assignment);
	char *end;
	errno = 0;
	double v = strtod(eq + 1, &end);
	bool ok_num = eq[1] && !*end && errno == 0 && isfinite(v) && v >= 0;
	if (len == strlen("min_samples") && strncmp(assignment, "min_samples", len) == 0) {
		if (!ok_num || v < 1 || v > 1e6 || v != floor(v)) {
			snprintf(err, errlen, "min_samples: give a whole number from 1");
			return -1;
		}
		cfg->min_samples = (size_t)v;
		return 0;
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strlen(fields[i].name) != len || strncmp(fields[i].name, assignment, len) != 0)
			continue;
		if (!ok_num) {
			snprintf(err, errlen, "%s: '%s' is not a number >= 0", fields[i].name,
			         eq + 1);
			return -1;
		}
		*(double *)((char *)cfg + fields[i].offset) = v;
		return 0;
	}
	snprintf(err, errlen, "no threshold '%.*s' (see docs/diagnosis.md; e.g. idle_util_max)",
	         (int)len, assignment);
	return -1;
}
