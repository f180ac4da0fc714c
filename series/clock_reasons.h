/* clock_reasons.h - the one table of clock event (throttle) reasons.
 *
 * NVML reports why the clocks are held down as a bitmask
 * (nvmlDeviceGetCurrentClocksEventReasons).  Each reason gpuscope keeps is one row here:
 * its bit, dcgm-exporter's name for it (the clock_event label of
 * DCGM_EXP_CLOCK_EVENTS_COUNT, DCGM's dcgmi word), the metric row of the seconds it held the
 * clocks (gpuscope_clock_event_seconds_total) and the row of its per-sweep share
 * (gpuscope_clock_event_active_ratio), or NO_ROW when the reason has none.  The sampler
 * fills those rows from the bits, the dcgm-exporter renderer names the bits from it, the
 * diagnosis takes its bits from it (ANALYZE_CLOCK_*) and `report --demo` evaluates the
 * share rows from it.  Rows are in bit order: row i is bit 1 << i.
 *
 * Columns of X(id, bit, dcgm, seconds, active); seconds and active are METRIC_ suffixes
 * (series/metric_table.h expands them).  The header needs nothing, so analyze/ can take
 * the bits without the metric table.
 */
#ifndef GPUSCOPE_SERIES_CLOCK_REASONS_H
#define GPUSCOPE_SERIES_CLOCK_REASONS_H

/* clang-format off */
#define GPUSCOPE_CLOCK_REASONS(X) \
X(IDLE,        0x1,  "gpu_idle",       THROTTLE_IDLE,        NO_ROW) \
X(APP_SETTING, 0x2,  "clocks_setting", THROTTLE_APP_CLOCKS,  NO_ROW) \
X(SW_POWER,    0x4,  "power_cap",      THROTTLE_POWER_CAP,   CLOCK_ACTIVE_POWER_CAP) \
X(HW_SLOWDOWN, 0x8,  "hw_slowdown",    THROTTLE_HW_SLOWDOWN, NO_ROW) \
X(SYNC_BOOST,  0x10, "sync_boost",     THROTTLE_SYNC_BOOST,  NO_ROW) \
X(SW_THERMAL,  0x20, "sw_thermal",     THROTTLE_SW_THERMAL,  CLOCK_ACTIVE_SW_THERMAL) \
X(HW_THERMAL,  0x40, "hw_thermal",     THROTTLE_HW_THERMAL,  CLOCK_ACTIVE_HW_THERMAL) \
X(POWER_BRAKE, 0x80, "hw_power_brake", THROTTLE_POWER_BRAKE, CLOCK_ACTIVE_POWER_BRAKE)
/* clang-format on */

enum clock_reason {
#define CLOCK_REASON_ENUM(id, ...) CLOCK_REASON_##id,
	GPUSCOPE_CLOCK_REASONS(CLOCK_REASON_ENUM)
#undef CLOCK_REASON_ENUM
	    CLOCK_REASON_COUNT
};

/* Each reason's bit, CLOCK_BIT_<id>. */
enum clock_reason_bit {
#define CLOCK_REASON_BIT(id, bit, ...) CLOCK_BIT_##id = bit,
	GPUSCOPE_CLOCK_REASONS(CLOCK_REASON_BIT)
#undef CLOCK_REASON_BIT
};

#endif
