/* export_rules.h - the agent's alert rules as Prometheus rule files.
 *
 * `gpuscope export rules` writes, from the same rule table the agent
 * evaluates (built-in, or changed by --alert-rules), a Prometheus rules
 * file: recording rules for the derived ratios (memory in use, power
 * against the limit, utilization per watt) and one alerting rule per agent
 * rule, for gpuscope's own names and for dcgm-exporter's, so a fleet that
 * scrapes either alerts on what one agent alerts on.  Windows become
 * *_over_time ranges, counters increase(), the GPU's own slowdown
 * temperature a vector match on its threshold series, per-model overrides
 * a match on the model label.  What PromQL cannot say the same way is
 * written as a comment in the file (docs/alerts.md lists it).
 */
#ifndef GPUSCOPE_ALERT_EXPORT_RULES_H
#define GPUSCOPE_ALERT_EXPORT_RULES_H

#include "alert/rules.h"

#define ALERT_EXPORT_NATIVE 1
#define ALERT_EXPORT_DCGM   2

/* The rules file text (malloc'd), or NULL when out of memory. */
char *alert_export_rules(const struct alert_rules *rs, unsigned names);

#endif
