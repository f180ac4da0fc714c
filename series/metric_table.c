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
#include <string.h>

const struct metric_def metric_table[METRIC_COUNT] = {
#define METRIC_ROW(id, name_, labels_, type_, unit_, source_, help_, dcgm_, dcgm_help_) \
	[METRIC_##id] = {.name = name_,                                                 \
	                 .labels = labels_,                                             \
	                 .type = type_,                                                 \
	                 .unit = unit_,                                                 \
	                 .source = source_,                                             \
	                 .help = help_,                                                 \
	                 .dcgm = dcgm_,                                                 \
	                 .dcgm_help = dcgm_help_},
    GPUSCOPE_METRICS(METRIC_ROW)
#undef METRIC_ROW
};

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

static const struct {
	const char *native;
	const char *dcgm;
} unit_names[UNIT_KIND_COUNT] = {
    [UNIT_PERCENT] = {"ratio (0-1)", "%"},
    [UNIT_ACTIVITY] = {"ratio (0-1)", "ratio (0-1)"},
    [UNIT_RATIO] = {"ratio (0-1)", "ratio (0-1)"},
    [UNIT_MIB_PER_S] = {"bytes/s", "bytes/s"},
    [UNIT_BYTES_PER_S] = {"bytes/s", "MB/s"},
    [UNIT_BYTES] = {"bytes", "MiB"},
    [UNIT_MILLIWATTS] = {"watts", "W"},
    [UNIT_MILLIJOULES] = {"joules", "mJ"},
    [UNIT_MEGAHERTZ] = {"hertz", "MHz"},
    [UNIT_CELSIUS] = {"degrees Celsius", "C"},
    [UNIT_SECONDS] = {"seconds", "ns"}, /* DCGM's violation counters count nanoseconds */
    [UNIT_COUNT] = {"count", "count"},
};

const char *metric_native_unit(enum metric_unit unit)
{
	return unit_names[unit].native;
}

const char *metric_dcgm_unit(enum metric_unit unit)
{
	return unit_names[unit].dcgm;
}

double metric_native_value(enum metric_unit unit, double raw)
{
	switch (unit) {
	case UNIT_PERCENT:
	case UNIT_ACTIVITY:
		return raw / 100.0;
	case UNIT_MIB_PER_S:
		return raw * 1048576.0;
	case UNIT_MILLIWATTS:
	case UNIT_MILLIJOULES:
		return raw / 1000.0;
	case UNIT_MEGAHERTZ:
		return raw * 1e6;
	case UNIT_BYTES:
	case UNIT_BYTES_PER_S:
	case UNIT_RATIO:
	case UNIT_CELSIUS:
	case UNIT_SECONDS:
	case UNIT_COUNT:
	case UNIT_KIND_COUNT:
		break;
	}
	return raw;
}

double metric_dcgm_value(enum metric_unit unit, double raw)
{
	switch (unit) {
	case UNIT_BYTES:
		/* DCGM reports framebuffer sizes as whole MiB, rounded down. */
		return floor(raw / 1048576.0);
	case UNIT_MILLIWATTS:
		return raw / 1000.0;
	case UNIT_ACTIVITY: /* DCGM's profiling fields are ratios, unlike its utilization */
		return raw / 100.0;
	case UNIT_MIB_PER_S:
		return raw * 1048576.0;
	case UNIT_BYTES_PER_S: /* DCGM's NVLink bandwidth fields are MB/s */
		return raw / 1e6;
	case UNIT_SECONDS: /* DCGM_FI_DEV_*_VIOLATION: throttled time in whole ns (nearest, so
	                    * a driver's ns count read back as seconds comes out as it was) */
		return nearbyint(raw * 1e9);
	case UNIT_PERCENT:
	case UNIT_RATIO:
	case UNIT_MILLIJOULES:
	case UNIT_MEGAHERTZ:
	case UNIT_CELSIUS:
	case UNIT_COUNT:
	case UNIT_KIND_COUNT:
		break;
	}
	return raw;
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

bool metric_windowed(int m)
{
	switch (m) {
	case METRIC_GPU_UTIL:
	case METRIC_MEM_UTIL:
	case METRIC_FB_USED:
	case METRIC_GPU_TEMP:
	case METRIC_MEM_TEMP:
	case METRIC_POWER:
	case METRIC_POWER_INSTANT:
	case METRIC_SM_CLOCK:
	case METRIC_MEM_CLOCK:
	case METRIC_ENC_UTIL:
	case METRIC_DEC_UTIL:
	case METRIC_CLOCK_LOSS:
	case METRIC_CLOCK_ACTIVE_POWER_CAP:
	case METRIC_CLOCK_ACTIVE_POWER_BRAKE:
	case METRIC_CLOCK_ACTIVE_SW_THERMAL:
	case METRIC_CLOCK_ACTIVE_HW_THERMAL:
		return true;
	}
	return metric_table[m].source == SRC_GPM;
}
