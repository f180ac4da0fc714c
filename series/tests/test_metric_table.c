/* test_metric_table.c - the metric table's invariants and exact unit conversions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "export/strbuf.h"
#include "series/metric_table.h"

static bool valid_prom_name(const char *s)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == ':'))
			return false;
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void test_names_follow_conventions(void **state)
{
	for (int i = 0; i < METRIC_COUNT; i++) {
		const struct metric_def *d = &metric_table[i];
		assert_true(valid_prom_name(d->name));
		assert_int_equal(strncmp(d->name, "gpuscope_", 9), 0);
		assert_true(d->help && strlen(d->help) > 10);
		/* Counters and only counters end in _total. */
		assert_int_equal(d->type == COUNTER, ends_with(d->name, "_total"));
		/* Base units in the name. */
		if (d->unit == UNIT_PERCENT || d->unit == UNIT_ACTIVITY || d->unit == UNIT_RATIO)
			assert_true(ends_with(d->name, "_ratio"));
		if (d->unit == UNIT_BYTES)
			assert_true(
			    ends_with(d->name, d->type == COUNTER ? "_bytes_total" : "_bytes"));
		if (d->unit == UNIT_MIB_PER_S)
			assert_true(ends_with(d->name, "_bytes_per_second"));
		if (d->unit == UNIT_MILLIWATTS)
			assert_true(ends_with(d->name, "_watts"));
		if (d->unit == UNIT_MILLIJOULES)
			assert_true(ends_with(d->name, "_joules_total"));
		if (d->unit == UNIT_MEGAHERTZ)
			assert_true(ends_with(d->name, "_hertz"));
		if (d->unit == UNIT_CELSIUS)
			assert_true(ends_with(d->name, "_celsius"));
		if (d->unit == UNIT_SECONDS)
			assert_true(
			    ends_with(d->name, d->type == COUNTER ? "_seconds_total" : "_seconds"));
		assert_int_equal(d->dcgm == NULL, d->dcgm_help == NULL);
		if (d->dcgm) {
			assert_true(valid_prom_name(d->dcgm));
			assert_int_equal(strncmp(d->dcgm, "DCGM_FI_", 8), 0);
		}
	}
}

static void test_series_unique_and_families_adjacent(void **state)
{
	for (int i = 0; i < METRIC_COUNT; i++) {
		for (int j = i + 1; j < METRIC_COUNT; j++) {
			const struct metric_def *a = &metric_table[i], *b = &metric_table[j];
			assert_false(strcmp(a->name, b->name) == 0 &&
			             strcmp(a->labels, b->labels) == 0);
			if (a->dcgm && b->dcgm)
				assert_string_not_equal(a->dcgm, b->dcgm);
			/* One family, one place: same name means adjacent rows of one type. */
			if (strcmp(a->name, b->name) == 0) {
				for (int k = i; k <= j; k++)
					assert_string_equal(metric_table[k].name, a->name);
				assert_int_equal(a->type, b->type);
				assert_string_equal(a->help, b->help);
			}
		}
	}
}

static void test_every_source_has_a_tier(void **state)
{
	for (int i = 0; i < METRIC_COUNT; i++) {
		enum source_id s = metric_table[i].source;
		assert_true(s < SRC_COUNT);
		assert_true(source_table[s].tier < TIER_COUNT);
		assert_non_null(source_table[s].call);
	}
}

/* The drop-in list: each must be a row of the table. */
static void test_dcgm_drop_in_names_present(void **state)
{
	static const char *const required[] = {"DCGM_FI_DEV_GPU_UTIL",
	                                       "DCGM_FI_DEV_MEM_COPY_UTIL",
	                                       "DCGM_FI_DEV_FB_USED",
	                                       "DCGM_FI_DEV_FB_FREE",
	                                       "DCGM_FI_DEV_FB_RESERVED",
	                                       "DCGM_FI_DEV_GPU_TEMP",
	                                       "DCGM_FI_DEV_MEMORY_TEMP",
	                                       "DCGM_FI_DEV_POWER_USAGE",
	                                       "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
	                                       "DCGM_FI_DEV_SM_CLOCK",
	                                       "DCGM_FI_DEV_MEM_CLOCK",
	                                       "DCGM_FI_DEV_ENC_UTIL",
	                                       "DCGM_FI_DEV_DEC_UTIL",
	                                       "DCGM_FI_DEV_PCIE_REPLAY_COUNTER",
	                                       "DCGM_FI_DEV_XID_ERRORS",
	                                       "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL",
	                                       "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
	                                       "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
	                                       "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
	                                       "DCGM_FI_DEV_ROW_REMAP_FAILURE"};
	for (size_t r = 0; r < sizeof(required) / sizeof(required[0]); r++) {
		bool found = false;
		for (int i = 0; i < METRIC_COUNT; i++)
			found |=
			    metric_table[i].dcgm && strcmp(metric_table[i].dcgm, required[r]) == 0;
		if (!found)
			fail_msg("%s missing from the metric table", required[r]);
	}
}

/* Each conversion is one exact IEEE operation: the result equals the
 * literal a person would write, bit for bit. */
static void test_conversions_are_exact(void **state)
{
	assert_true(metric_native_value(UNIT_PERCENT, 45) == 0.45);
	assert_true(metric_native_value(UNIT_PERCENT, 7) == 0.07);
	assert_true(metric_native_value(UNIT_PERCENT, 100) == 1.0);
	assert_true(metric_dcgm_value(UNIT_PERCENT, 45) == 45);
	assert_true(metric_native_value(UNIT_MILLIWATTS, 697123) == 697.123);
	assert_true(metric_dcgm_value(UNIT_MILLIWATTS, 697123) == 697.123);
	assert_true(metric_native_value(UNIT_MILLIJOULES, 5000000123.0) == 5000000.123);
	assert_true(metric_dcgm_value(UNIT_MILLIJOULES, 5000000123.0) == 5000000123.0);
	assert_true(metric_native_value(UNIT_MEGAHERTZ, 1980) == 1980e6);
	assert_true(metric_dcgm_value(UNIT_MEGAHERTZ, 1980) == 1980);
	double h200 = 143771.0 * 1048576.0;
	assert_true(metric_native_value(UNIT_BYTES, h200) == h200);
	assert_true(metric_dcgm_value(UNIT_BYTES, h200) == 143771);
	/* DCGM floors partial MiB. */
	assert_true(metric_dcgm_value(UNIT_BYTES, 1048575) == 0);
	assert_true(metric_dcgm_value(UNIT_BYTES, 1048576 + 1048575) == 1);
	assert_true(metric_native_value(UNIT_CELSIUS, 51) == 51);
	assert_true(metric_native_value(UNIT_COUNT, 4) == 4);
}

static void check_double(double v, const char *want)
{
	struct strbuf sb;
	sb_init(&sb, 8);
	sb_double(&sb, v);
	assert_string_equal(sb.data, want);
	sb_free(&sb);
}

static void test_numbers_print_shortest_round_trip(void **state)
{
	check_double(metric_native_value(UNIT_PERCENT, 45), "0.45");
	check_double(metric_native_value(UNIT_MILLIWATTS, 697123), "697.123");
	check_double(metric_native_value(UNIT_MEGAHERTZ, 1980), "1980000000");
	check_double(143771.0 * 1048576.0, "150754820096");
	check_double(0.1 + 0.2, "0.30000000000000004");
	check_double(0, "0");
	check_double(1.0 / 0.0, "+Inf");
	check_double(-1.0 / 0.0, "-Inf");
	check_double(0.0 / 0.0, "NaN");
}

static void test_label_escaping(void **state)
{
	struct strbuf sb;
	sb_init(&sb, 4);
	sb_label_value(&sb, "a\"b\\c\nd");
	assert_string_equal(sb.data, "a\\\"b\\\\c\\nd");
	sb_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names_follow_conventions),
	    cmocka_unit_test(test_series_unique_and_families_adjacent),
	    cmocka_unit_test(test_every_source_has_a_tier),
	    cmocka_unit_test(test_dcgm_drop_in_names_present),
	    cmocka_unit_test(test_conversions_are_exact),
	    cmocka_unit_test(test_numbers_print_shortest_round_trip),
	    cmocka_unit_test(test_label_escaping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
