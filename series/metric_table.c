/* metric_table.c - the rows of GPUSCOPE_METRICS as data, and the unit
 * conversions every exporter uses.
 *
 * Conversions are from the raw NVML unit to (a) Prometheus base units for
 * gpuscope_* names and (b) the units dcgm-exporter uses for DCGM_FI_* names.
 * Each is a single IEEE operation on an integer-valued raw reading, so it is
 * exact whenever the true result is representable and correctly rounded
 * otherwise; series/tests/test_metric_table.c checks the edge cases.
 */
#include "series/metric_table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const struct metric_def metric_table[METRIC_COUNT] = {
#define METRIC_ROW(id_, name_, labels_, type_, unit_, source_, flags_, help_, dcgm_, dcgm_help_) \
	[METRIC_##id_] = {.id = #id_,                                                            \
	                  .name = name_,                                                         \
	                  .labels = labels_,                                                     \
	                  .type = type_,                                                         \
	                  .unit = unit_,                                                         \
	                  .source = source_,                                                     \
	                  .flags = flags_,                                                       \
	                  .help = help_,                                                         \
	                  .dcgm = dcgm_,                                                         \
	                  .dcgm_help = dcgm_help_},
    GPUSCOPE_METRICS(METRIC_ROW)
#undef METRIC_ROW
};

const struct process_family_def process_family_table[PROC_FAMILY_COUNT] = {
#define PROCESS_FAMILY_ROW(id, name_, per_process_, history_, help_) \
	[PROC_FAMILY_##id] = {                                       \
	    .name = name_, .per_process = per_process_, .history = history_, .help = help_},
    GPUSCOPE_PROCESS_FAMILIES(PROCESS_FAMILY_ROW)
#undef PROCESS_FAMILY_ROW
};

const struct clock_reason_def clock_reason_table[CLOCK_REASON_COUNT] = {
#define CLOCK_REASON_ROW(id, bit_, dcgm_, seconds_, active_) \
	[CLOCK_REASON_##id] = {                              \
	    .bit = bit_, .dcgm = dcgm_, .seconds = METRIC_##seconds_, .active = METRIC_##active_},
    GPUSCOPE_CLOCK_REASONS(CLOCK_REASON_ROW)
#undef CLOCK_REASON_ROW
};

int clock_reason_of_active(int m)
{
	for (int r = 0; r < CLOCK_REASON_COUNT; r++)
		if (m != METRIC_NO_ROW && clock_reason_table[r].active == m)
			return r;
	return -1;
}

const struct source_def source_table[SRC_COUNT] = {
#define SOURCE_ROW(id, tier_, period_, call_) \
	[SRC_##id] = {.tier = tier_, .period = period_, .call = call_, .name = #id},
    GPUSCOPE_SOURCES(SOURCE_ROW)
#undef SOURCE_ROW
};

const char *sample_tier_name(enum sample_tier tier)
{
	static const char *const names[TIER_COUNT] = {"fast",   "slow",  "buffer", "costly",
	                                              "static", "event", "agent"};
	return names[tier];
}

/* How a raw value becomes an exported one: one operation with one constant,
 * so each conversion is exact or correctly rounded, and its inverse is the
 * opposite operation (a floor or a rounding is undone as far as it can be). */
enum conv_op {
	CONV_SAME,
	CONV_MUL,
	CONV_DIV,
	CONV_FLOOR_DIV, /* DCGM's framebuffer sizes: whole MiB, rounded down */
	CONV_ROUND_MUL, /* DCGM's violation counters: whole ns, nearest, so a driver's
	                 * ns count read back as seconds comes out as it was */
};

struct conv {
	enum conv_op op;
	double k;
};

static double conv_apply(struct conv c, double x)
{
	switch (c.op) {
	case CONV_MUL:
		return x * c.k;
	case CONV_DIV:
		return x / c.k;
	case CONV_FLOOR_DIV:
		return floor(x / c.k);
	case CONV_ROUND_MUL:
		return nearbyint(x * c.k);
	case CONV_SAME:
		break;
	}
	return x;
}

static double conv_invert(struct conv c, double y)
{
	switch (c.op) {
	case CONV_MUL:
	case CONV_ROUND_MUL:
		return y / c.k;
	case CONV_DIV:
	case CONV_FLOOR_DIV:
		return y * c.k;
	case CONV_SAME:
		break;
	}
	return y;
}

/* Per raw unit: its documented names and the conversions to the native and
 * dcgm-exporter values. */
static const struct {
	const char *native_name, *dcgm_name;
	struct conv native, dcgm;
} units[UNIT_KIND_COUNT] = {
    [UNIT_PERCENT] = {"ratio (0-1)", "%", {CONV_DIV, 100.0}, {CONV_SAME, 1}},
    /* DCGM's profiling fields are ratios, unlike its utilization */
    [UNIT_ACTIVITY] = {"ratio (0-1)", "ratio (0-1)", {CONV_DIV, 100.0}, {CONV_DIV, 100.0}},
    [UNIT_RATIO] = {"ratio (0-1)", "ratio (0-1)", {CONV_SAME, 1}, {CONV_SAME, 1}},
    [UNIT_MIB_PER_S] = {"bytes/s", "bytes/s", {CONV_MUL, 1048576.0}, {CONV_MUL, 1048576.0}},
    /* DCGM's NVLink bandwidth fields are MB/s */
    [UNIT_BYTES_PER_S] = {"bytes/s", "MB/s", {CONV_SAME, 1}, {CONV_DIV, 1e6}},
    [UNIT_BYTES] = {"bytes", "MiB", {CONV_SAME, 1}, {CONV_FLOOR_DIV, 1048576.0}},
    [UNIT_MILLIWATTS] = {"watts", "W", {CONV_DIV, 1000.0}, {CONV_DIV, 1000.0}},
    [UNIT_MILLIJOULES] = {"joules", "mJ", {CONV_DIV, 1000.0}, {CONV_SAME, 1}},
    [UNIT_MEGAHERTZ] = {"hertz", "MHz", {CONV_MUL, 1e6}, {CONV_SAME, 1}},
    [UNIT_CELSIUS] = {"degrees Celsius", "C", {CONV_SAME, 1}, {CONV_SAME, 1}},
    /* DCGM_FI_DEV_*_VIOLATION: throttled time in whole ns */
    [UNIT_SECONDS] = {"seconds", "ns", {CONV_SAME, 1}, {CONV_ROUND_MUL, 1e9}},
    [UNIT_COUNT] = {"count", "count", {CONV_SAME, 1}, {CONV_SAME, 1}},
};

const char *metric_native_unit(enum metric_unit unit)
{
	return units[unit].native_name;
}

const char *metric_dcgm_unit(enum metric_unit unit)
{
	return units[unit].dcgm_name;
}

double metric_native_value(enum metric_unit unit, double raw)
{
	return unit < UNIT_KIND_COUNT ? conv_apply(units[unit].native, raw) : raw;
}

double metric_dcgm_value(enum metric_unit unit, double raw)
{
	return unit < UNIT_KIND_COUNT ? conv_apply(units[unit].dcgm, raw) : raw;
}

double metric_raw_of_dcgm(enum metric_unit unit, double dcgm)
{
	return unit < UNIT_KIND_COUNT ? conv_invert(units[unit].dcgm, dcgm) : dcgm;
}

bool metric_family_first(int i)
{
	return i == 0 || strcmp(metric_table[i].name, metric_table[i - 1].name) != 0;
}

const char *metric_dynamic_label(int m)
{
	const char *l = metric_table[m].labels;
	return l[0] == '@' ? l + 1 : NULL;
}

int metric_link_row(int m)
{
	const char *l = m >= 0 && m < METRIC_COUNT ? metric_dynamic_label(m) : NULL;
	if (!l || strcmp(l, "link") != 0)
		return -1;
	int k = 0;
	for (int i = 0; i < m; i++) {
		const char *li = metric_dynamic_label(i);
		k += li && strcmp(li, "link") == 0;
	}
	return k;
}

bool metric_windowed(int m)
{
	return metric_table[m].flags & WINDOWED;
}

bool metric_per_mig(int m)
{
	return metric_table[m].flags & PER_MIG;
}

bool metric_in_history(int m)
{
	return metric_dynamic_label(m) == NULL;
}

/* A per-link name: the row's prefix, then a link number below link_count
 * written without a leading zero. */
static bool link_name(const char *prefix, const char *name, unsigned link_count)
{
	size_t n = strlen(prefix);
	if (strncmp(prefix, name, n) != 0)
		return false;
	const char *p = name + n;
	size_t digits = strspn(p, "0123456789");
	if (digits == 0 || digits > 2 || p[digits] || (digits == 2 && p[0] == '0'))
		return false;
	return (unsigned)atoi(p) < link_count;
}

int metric_of_dcgm(const char *name, unsigned link_count)
{
	for (int m = 0; m < METRIC_COUNT; m++) {
		const char *d = metric_table[m].dcgm;
		const char *l = metric_dynamic_label(m);
		if (!d)
			continue;
		if (l ? strcmp(l, "link") == 0 && link_name(d, name, link_count)
		      : strcmp(d, name) == 0)
			return m;
	}
	return -1;
}
