/* test_collectors.c - dcgm-exporter's counters CSV (export/collectors.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "export/collectors.h"
#include "series/metric_table.h"

static int parse(const char *text, struct collectors *c, char *err)
{
	return collectors_parse(text, strlen(text), c, err, 256);
}

static void test_the_default_file_format(void **state)
{
	/* The shape of dcgm-exporter's etc/default-counters.csv: comments, aligned columns, a
	 * blank before a comma, help with commas, label rows, names gpuscope does not have. */
	const char *csv =
	    "# Format\n"
	    "# DCGM FIELD, Prometheus metric type, help message\n"
	    "\n"
	    "DCGM_FI_DEV_SM_CLOCK,  gauge, SM clock frequency (in MHz).\n"
	    "DCGM_FI_DEV_DEC_UTIL ,     gauge, Decoder utilization (in %).\n"
	    "  DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION, counter, Energy, since boot (mJ).\r\n"
	    "DCGM_FI_DEV_CPU_UTIL_TOTAL, gauge, Total CPU utilization\n"
	    "DCGM_FI_DRIVER_VERSION,        label, Driver Version\n"
	    "DCGM_FI_DEV_SERIAL,            label, Device Serial Number\n"
	    "DCGM_FI_DEV_BOARD_PART_NUMBER, label, not a field gpuscope reads\n"
	    "# DCGM_FI_DEV_GPU_UTIL, gauge, commented out\n"
	    "DCGM_FI_DEV_XID_ERRORS, gauge, last Xid\n"
	    "DCGM_EXP_XID_ERRORS_COUNT, counter, reported XIDs during last window";
	struct collectors c;
	char err[256] = "";
	assert_int_equal(parse(csv, &c, err), 0);
	assert_int_equal(c.n, 9);
	assert_string_equal(c.v[0].name, "DCGM_FI_DEV_SM_CLOCK");
	assert_int_equal(c.v[0].metric, METRIC_SM_CLOCK);
	assert_null(c.v[0].why);
	assert_string_equal(c.v[1].name, "DCGM_FI_DEV_DEC_UTIL");
	assert_int_equal(c.v[1].metric, METRIC_DEC_UTIL);
	assert_string_equal(c.v[2].help, "Energy, since boot (mJ).");
	assert_int_equal(c.v[2].type, COLLECTOR_COUNTER);
	assert_int_equal(c.v[3].metric, -1);
	assert_non_null(c.v[3].why);
	assert_int_equal(c.v[4].type, COLLECTOR_LABEL);
	assert_int_equal(c.v[4].label, LABEL_DRIVER_VERSION);
	assert_null(c.v[4].why);
	assert_int_equal(c.v[5].label, LABEL_SERIAL); /* a GPU's own label field */
	assert_null(c.v[5].why);
	assert_non_null(c.v[6].why); /* a label field gpuscope does not read */
	assert_int_equal(c.v[6].label, LABEL_NONE);
	assert_int_equal(c.v[7].metric, METRIC_XID_LAST);
	assert_int_equal(collectors_gpu_labels(&c), 1u << LABEL_SERIAL);
	assert_int_equal(c.v[8].exp, EXP_XID_ERRORS_COUNT); /* computed by gpuscope */
	assert_null(c.v[8].why);
	assert_ptr_equal(collectors_find_exp(&c, EXP_XID_ERRORS_COUNT), &c.v[8]);
	assert_null(collectors_find_exp(&c, EXP_CLOCK_EVENTS_COUNT));
	assert_string_equal(collector_label_name(LABEL_VBIOS), "DCGM_FI_DEV_VBIOS_VERSION");
	assert_non_null(collectors_find_metric(&c, METRIC_SM_CLOCK));
	assert_null(collectors_find_metric(&c, METRIC_GPU_UTIL)); /* commented out */
	assert_true(collectors_has_label(&c, LABEL_DRIVER_VERSION));
	assert_false(collectors_has_label(&c, LABEL_NVML_VERSION));
	collectors_free(&c);
}

static void test_per_link_fields(void **state)
{
	/* Each NVLink link is a DCGM field of its own: _L0 to _L17 name the per-link row; a link
	 * number past the last, with a leading zero, or no number at all is not a field. */
	const char *csv = "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL, counter, total\n"
	                  "DCGM_FI_DEV_NVLINK_BANDWIDTH_L0, counter, link 0\n"
	                  "DCGM_FI_DEV_NVLINK_BANDWIDTH_L17, gauge, link 17\n"
	                  "DCGM_FI_DEV_NVLINK_BANDWIDTH_L18, gauge, no link 18\n"
	                  "DCGM_FI_DEV_NVLINK_BANDWIDTH_L05, gauge, leading zero\n"
	                  "DCGM_FI_DEV_NVLINK_BANDWIDTH_L, gauge, no number\n";
	struct collectors c;
	char err[256] = "";
	assert_int_equal(parse(csv, &c, err), 0);
	assert_int_equal(c.n, 6);
	assert_int_equal(c.v[0].metric, METRIC_NVLINK_BANDWIDTH_TOTAL);
	assert_null(c.v[0].why);
	assert_int_equal(c.v[1].metric, METRIC_NVLINK_BANDWIDTH);
	assert_int_equal(c.v[2].metric, METRIC_NVLINK_BANDWIDTH);
	assert_null(c.v[2].why);
	for (int i = 3; i < 6; i++) {
		assert_int_equal(c.v[i].metric, -1);
		assert_non_null(c.v[i].why);
	}
	assert_ptr_equal(collectors_find_name(&c, "DCGM_FI_DEV_NVLINK_BANDWIDTH_L17"), &c.v[2]);
	assert_null(collectors_find_name(&c, "DCGM_FI_DEV_NVLINK_BANDWIDTH_L1"));
	collectors_free(&c);
	(void)state;
}

static void test_bad_lines_name_their_line(void **state)
{
	static const struct {
		const char *csv, *want;
	} cases[] = {
	    {"DCGM_FI_DEV_SM_CLOCK gauge SM clock\n", "line 1: expected"},
	    {"# c\nDCGM_FI_DEV_SM_CLOCK, histogram, x\n", "line 2: the type"},
	    {"DCGM_FI_DEV_SM_CLOCK, gauge, a\nDCGM_FI_DEV_SM_CLOCK, gauge, b\n",
	     "line 2: the field is listed twice"},
	    {", gauge, no name\n", "line 1: the field name is empty"},
	    {"DCGM FI, gauge, space\n", "line 1: the field name may hold"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct collectors c;
		char err[256] = "";
		assert_int_equal(parse(cases[i].csv, &c, err), -1);
		assert_non_null(strstr(err, cases[i].want));
		collectors_free(&c);
	}
}

static void test_binary_and_oversized_input(void **state)
{
	char buf[64] = "DCGM_FI_DEV_SM_CLOCK, gauge, x\n";
	buf[5] = 0; /* a NUL inside a line */
	struct collectors c;
	char err[256] = "";
	assert_int_equal(collectors_parse(buf, 31, &c, err, sizeof(err)), -1);
	collectors_free(&c);
	/* More rows than the table holds: an error, not an overflow. */
	size_t n = (COLLECTORS_MAX + 1) * 40;
	char *big = test_malloc(n + 1), *p = big;
	for (int i = 0; i <= COLLECTORS_MAX; i++)
		p += sprintf(p, "DCGM_FI_X%d, gauge, h\n", i);
	assert_int_equal(collectors_parse(big, (size_t)(p - big), &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 512"));
	collectors_free(&c);
	test_free(big);
	assert_int_equal(collectors_load("/nonexistent/x.csv", &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/x.csv"));
	assert_int_equal(collectors_load("/", &c, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_the_default_file_format),
	    cmocka_unit_test(test_per_link_fields),
	    cmocka_unit_test(test_bad_lines_name_their_line),
	    cmocka_unit_test(test_binary_and_oversized_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
