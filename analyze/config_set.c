/* config_set.c - thresholds by name, so users tune the engine without a compiler.
 *
 * `gpuscope report --threshold idle_util_max=0.1` (and `serve` for the live
 * diagnosis) set a field of struct analyze_config by the name it has in the
 * header; the table below is the one list of tunable names, and
 * docs/diagnosis.md documents each default and range.  Values are checked against
 * their range (ratios 0-1), counts are whole, xid_critical is a list of codes.
 */
#include "analyze/analyze.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each tunable with the range that means something: ratios and shares are 0-1, skews and
 * headroom are factors of at least 1, sizes and times are bounded only to stay finite. */
#define FIELD(name, lo, hi)                                          \
	{                                                            \
#name, offsetof(struct analyze_config, name), lo, hi \
	}
static const struct {
	const char *name;
	size_t offset;
	double min, max;
} fields[] = {
    FIELD(sustain_share, 0, 1),          FIELD(idle_util_max, 0, 1),
    FIELD(cpu_saturated_ratio, 0, 1),    FIELD(cpu_bound_saturated_share, 0, 1),
    FIELD(cpu_bound_gpu_idle_min, 0, 1), FIELD(bw_dram_min, 0, 1),
    FIELD(bw_tensor_max, 0, 1),          FIELD(compute_sm_min, 0, 1),
    FIELD(compute_tensor_min, 0, 1),     FIELD(power_near_limit, 0, 1),
    FIELD(power_cap_warn_loss, 0, 1),    FIELD(vram_pressure_ratio, 0, 1),
    FIELD(vram_critical_ratio, 0, 1),    FIELD(vram_overprov_ratio, 0, 1),
    FIELD(vram_headroom, 1, 100),        FIELD(thermal_min_share, 0, 1),
    FIELD(pcie_link_util_min, 0, 1),     FIELD(pcie_sm_max, 0, 1),
    FIELD(growth_min_r2, 0, 1),          FIELD(growth_min_bytes, 0, 1e18),
    FIELD(growth_critical_s, 0, 1e10),   FIELD(shard_mem_skew, 1, 1e6),
    FIELD(shard_util_skew, 1, 1e6),      FIELD(shard_util_min, 0, 1),
    FIELD(launch_util_min, 0, 1),        FIELD(launch_sm_ratio, 0, 1),
    FIELD(bursty_peak_min, 0, 1),        FIELD(bursty_active_min, 0, 1),
    FIELD(bursty_duty_max, 0, 1),        FIELD(bursty_burst_max_s, 0, 86400),
    FIELD(comm_share_max, 0, 1),         FIELD(comm_small_bytes, 0, 1e15),
};
#undef FIELD

/* "48,63,79" (commas or spaces) into cfg->xid_critical; an empty list disables the rule. */
static int set_xid_critical(struct analyze_config *cfg, const char *list, char *err, size_t errlen)
{
	int codes[ANALYZE_XID_CRITICAL_MAX];
	size_t n = 0;
	for (const char *p = list; *p;) {
		if (*p == ',' || *p == ' ') {
			p++;
			continue;
		}
		char *end;
		errno = 0;
		long v = *p >= '0' && *p <= '9' ? strtol(p, &end, 10) : -1;
		if (v < 1 || v > 1000 || errno || (*end && *end != ',' && *end != ' ')) {
			snprintf(err, errlen,
			         "xid_critical: '%s' is not a list of Xid codes 1-1000, e.g. "
			         "xid_critical=48,79,94",
			         list);
			return -1;
		}
		if (n == ANALYZE_XID_CRITICAL_MAX) {
			snprintf(err, errlen, "xid_critical: at most %d codes",
			         ANALYZE_XID_CRITICAL_MAX);
			return -1;
		}
		codes[n++] = (int)v;
		p = end;
	}
	memcpy(cfg->xid_critical, codes, n * sizeof(codes[0]));
	cfg->nxid_critical = n;
	return 0;
}

int analyze_config_set(struct analyze_config *cfg, const char *assignment, char *err, size_t errlen)
{
	const char *eq = assignment ? strchr(assignment, '=') : NULL;
	if (!eq || eq == assignment) {
		snprintf(err, errlen, "'%s': write NAME=VALUE, e.g. idle_util_max=0.1",
		         assignment ? assignment : "");
		return -1;
	}
	size_t len = (size_t)(eq - assignment);
	if (len == strlen("xid_critical") && strncmp(assignment, "xid_critical", len) == 0)
		return set_xid_critical(cfg, eq + 1, err, errlen);
	char *end;
	errno = 0;
	double v = strtod(eq + 1, &end);
	bool ok_num = eq[1] && !*end && errno == 0 && isfinite(v) && v >= 0;
	if (len == strlen("min_samples") && strncmp(assignment, "min_samples", len) == 0) {
		if (!ok_num || v < 1 || v > 1e6 || v != floor(v)) {
			snprintf(err, errlen, "min_samples: give a whole number from 1 to 1000000");
			return -1;
		}
		cfg->min_samples = (size_t)v;
		return 0;
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strlen(fields[i].name) != len || strncmp(fields[i].name, assignment, len) != 0)
			continue;
		if (!ok_num || v < fields[i].min || v > fields[i].max) {
			snprintf(err, errlen,
			         "%s: '%s' is out of range: give a number from %g to %g",
			         fields[i].name, eq + 1, fields[i].min, fields[i].max);
			return -1;
		}
		*(double *)((char *)cfg + fields[i].offset) = v;
		return 0;
	}
	snprintf(err, errlen, "no threshold '%.*s' (see docs/diagnosis.md; e.g. idle_util_max)",
	         (int)len, assignment);
	return -1;
}

size_t analyze_config_diff(const struct analyze_config *from, const struct analyze_config *to,
                           char *out, size_t len)
{
	size_t n = 0, used = 0;
	if (len)
		out[0] = 0;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		double a = *(const double *)((const char *)from + fields[i].offset);
		double b = *(const double *)((const char *)to + fields[i].offset);
		if (a == b)
			continue;
		n++;
		if (used < len)
			used += (size_t)snprintf(out + used, len - used, "%s%s %g -> %g",
			                         n > 1 ? ", " : "", fields[i].name, a, b);
	}
	if (from->min_samples != to->min_samples) {
		n++;
		if (used < len)
			used +=
			    (size_t)snprintf(out + used, len - used, "%smin_samples %zu -> %zu",
			                     n > 1 ? ", " : "", from->min_samples, to->min_samples);
	}
	if (from->nxid_critical != to->nxid_critical ||
	    memcmp(from->xid_critical, to->xid_critical,
	           from->nxid_critical * sizeof(from->xid_critical[0])) != 0) {
		n++;
		if (used < len)
			snprintf(out + used, len - used, "%sxid_critical (%zu codes -> %zu)",
			         n > 1 ? ", " : "", from->nxid_critical, to->nxid_critical);
	}
	return n;
}
