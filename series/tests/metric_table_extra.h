/* metric_table_extra.h - one row more, for unit.series.metric_table_extra.
 *
 * That test compiles test_metric_table.c, the agent's core and the history with this file
 * included first (-include), so the table ends with the row below and nothing else is
 * edited: the row must get its window families, MIG series, DCGM name and inverse and
 * history columns from the table alone (docs/architecture.md, "The metric table"); the
 * "@link" row, its per-link values and series under both name sets. */
#ifndef GPUSCOPE_METRIC_TABLE_EXTRA_H
#define GPUSCOPE_METRIC_TABLE_EXTRA_H

/* clang-format off */
#define GPUSCOPE_METRICS_EXTRA(X) \
X(TEST_EXTRA, "gpuscope_test_extra_ratio", "", GAUGE, UNIT_ACTIVITY, SRC_GPM, WINDOWED | PER_MIG, \
  "A row only the test build has: one row must be all a metric needs.", \
  "DCGM_FI_PROF_TEST_EXTRA", "A test field (ratio).") \
X(TEST_EXTRA_LINK, "gpuscope_test_extra_link_ratio", "@link", GAUGE, UNIT_RATIO, SRC_NVLINK_DATA, 0, \
  "A per-link row only the test build has: its links are kept and served from the row alone.", \
  "DCGM_FI_PROF_TEST_EXTRA_LINK_L", "A test field per NVLink link (ratio).")

/* A per-process family with a history column, and its reader (the one case it needs in
 * process_family_value, series/process_table.c): the history stores it, an older file gains
 * its columns on the next open. */
#define GPUSCOPE_PROCESS_FAMILIES_EXTRA(X) \
X(TEST_EXTRA, "gpuscope_process_test_extra_ratio", true, "test_extra", \
  "A per-process family only the test build has: one row and its reader are all it needs.")
#define GPUSCOPE_PROCESS_FAMILY_VALUE_EXTRA(f, r, v) \
	if ((f) == PROC_FAMILY_TEST_EXTRA) { \
		*(v) = (r)->mem_util / 100.0; \
		return (r)->util_valid; \
	}
/* clang-format on */

#endif
