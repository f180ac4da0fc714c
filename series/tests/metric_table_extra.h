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
/* clang-format on */

#endif
