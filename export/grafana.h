/* grafana.h - a Grafana dashboard of gpuscope's own metrics, generated.
 *
 * The fleet row (GPUs, utilization, what idle time costs at a price the
 * viewer sets, firing alerts), verdicts and alerts, per-process and
 * per-workload use, then one panel per family of the metric table grouped
 * into rows by what it measures, with the window maxima beside each fast
 * gauge.  Built from the metric table and the process families, so a new
 * metric row gets a panel (and a row named for inference or token metrics
 * appears when such rows exist) without anyone editing JSON.
 * deploy/grafana/gpuscope.json is this output; a test diffs them.
 */
#ifndef GPUSCOPE_GRAFANA_H
#define GPUSCOPE_GRAFANA_H

/* The dashboard JSON (malloc'd, ending in a newline), NULL when out of memory. */
char *grafana_dashboard_json(void);

#endif
