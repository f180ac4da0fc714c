/* grafana.c - the dashboard, panel by panel, as a jansson document.
 *
 * Layout is a flowing grid: rows span the width, panels are half width,
 * eight units high, two abreast.  Units follow the metric's native unit,
 * counters are shown as rates (a seconds counter becomes a share of time,
 * a joules counter watts).  Every query filters on the $instance and $gpu
 * variables, read from gpuscope_gpu_info.  Output is deterministic (keys
 * in insertion order, no timestamps), so the committed file can be diffed.
 */
#include "export/grafana.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/prom.h"
#include "series/metric_table.h"

#define SEL "instance=~\"$instance\",gpu=~\"$gpu\""

struct layout {
	json_t *panels;
	int id, x, y;
};

static void row(struct layout *l, const char *title)
{
	if (l->x) {
		l->x = 0;
		l->y += 8;
	}
	json_t *r = json_pack("{s:s,s:s,s:b,s:i,s:{s:i,s:i,s:i,s:i},s:[]}", "type", "row", "title",
	                      title, "collapsed", 0, "id", ++l->id, "gridPos", "h", 1, "w", 24, "x",
	                      0, "y", l->y, "panels");
	json_array_append_new(l->panels, r);
	l->y += 1;
}

static json_t *target(const char *expr, const char *legend, const char *ref, bool instant)
{
	json_t *t =
	    json_pack("{s:{s:s,s:s},s:s,s:s,s:s}", "datasource", "type", "prometheus", "uid",
	              "${datasource}", "expr", expr, "legendFormat", legend, "refId", ref);
	if (instant) {
		json_object_set_new(t, "instant", json_true());
		json_object_set_new(t, "format", json_string("table"));
	}
	return t;
}

/* A panel of the given type at the next free place; targets taken over. */
static void panel(struct layout *l, const char *type, const char *title, const char *desc,
                  const char *unit, json_t *targets, int w)
{
	if (l->x + w > 24) {
		l->x = 0;
		l->y += 8;
	}
	json_t *p = json_pack("{s:s,s:s,s:s,s:i,s:{s:s,s:s},s:{s:i,s:i,s:i,s:i},s:o,"
	                      "s:{s:{s:s},s:[]}}",
	                      "type", type, "title", title, "description", desc, "id", ++l->id,
	                      "datasource", "type", "prometheus", "uid", "${datasource}", "gridPos",
	                      "h", 8, "w", w, "x", l->x, "y", l->y, "targets", targets,
	                      "fieldConfig", "defaults", "unit", unit, "overrides");
	json_array_append_new(l->panels, p);
	l->x += w;
	if (l->x >= 24) {
		l->x = 0;
		l->y += 8;
	}
}

static const char *unit_of(const char *name, bool counter)
{
	static const struct {
		const char *suffix, *gauge, *rate;
	} units[] = {
	    {"_bytes_per_second", "Bps", "Bps"},
	    {"_joules_total", "joule", "watt"},
	    {"_seconds_total", "s", "percentunit"},
	    {"_bytes_total", "bytes", "Bps"},
	    {"_ratio", "percentunit", "percentunit"},
	    {"_bytes", "bytes", "Bps"},
	    {"_watts", "watt", "watt"},
	    {"_celsius", "celsius", "celsius"},
	    {"_hertz", "hertz", "hertz"},
	    {"_seconds", "s", "s"},
	};
	size_t n = strlen(name);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t u = strlen(units[i].suffix);
		if (n > u && strcmp(name + n - u, units[i].suffix) == 0)
			return counter ? units[i].rate : units[i].gauge;
	}
	return counter ? "ops" : "short";
}

/* Which row a family belongs to, by what its name says it measures. */
static const char *category(const char *name)
{
	static const struct {
		const char *needle, *row;
	} rows[] = {
	    {"inference", "Inferences and tokens"},
	    {"token", "Inferences and tokens"},
	    {"utilization", "Utilization"},
	    {"_active_", "SM, tensor and DRAM activity"},
	    {"occupancy", "SM, tensor and DRAM activity"},
	    {"temperature", "Temperature"},
	    {"memory", "Memory"},
	    {"power", "Power and energy"},
	    {"energy", "Power and energy"},
	    {"clock", "Clocks and throttle time"},
	    {"pcie", "PCIe and NVLink"},
	    {"nvlink", "PCIe and NVLink"},
	    {"ecc", "Errors"},
	    {"xid", "Errors"},
	    {"remap", "Errors"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (strstr(name, rows[i].needle))
			return rows[i].row;
	return "Agent and GPU state";
}

static const char *const row_order[] = {
    "Utilization",
    "SM, tensor and DRAM activity",
    "Memory",
    "Power and energy",
    "Clocks and throttle time",
    "Temperature",
    "PCIe and NVLink",
    "Errors",
    "Inferences and tokens",
    "Agent and GPU state",
};

/* The legend: the GPU, and whatever labels tell the family's rows apart. */
static void legend_of(int first, int end, char *buf, size_t len)
{
	int n = snprintf(buf, len, "{{instance}} GPU {{gpu}}");
	const char *dyn = metric_dynamic_label(first);
	if (dyn)
		n += snprintf(buf + n, len - (size_t)n, " %s {{%s}}", dyn, dyn);
	else if (end - first > 1 && metric_table[first].labels[0]) {
		char label[64];
		const char *eq = strchr(metric_table[first].labels, '=');
		snprintf(label, sizeof(label), "%.*s",
		         eq ? (int)(eq - metric_table[first].labels) : 0,
		         metric_table[first].labels);
		if (label[0])
			snprintf(buf + n, len - (size_t)n, " {{%s}}", label);
	}
}

static void family_panel(struct layout *l, int first, int end)
{
	const struct metric_def *d = &metric_table[first];
	bool counter = d->type == COUNTER;
	char expr[512], legend[160], wname[160];
	legend_of(first, end, legend, sizeof(legend));
	if (counter)
		snprintf(expr, sizeof(expr), "rate(%s{" SEL "}[$__rate_interval])", d->name);
	else
		snprintf(expr, sizeof(expr), "%s{" SEL "}", d->name);
	json_t *targets = json_array();
	json_array_append_new(targets, target(expr, legend, "A", false));
	if (metric_windowed(first)) {
		/* The spikes a scrape interval hides: the maximum since the last scrape. */
		prom_window_name(d->name, "max", wname, sizeof(wname));
		snprintf(expr, sizeof(expr), "%s{" SEL "}", wname);
		char wl[200];
		snprintf(wl, sizeof(wl), "%s (window max)", legend);
		json_array_append_new(targets, target(expr, wl, "B", false));
	}
	char title[200];
	snprintf(title, sizeof(title), "%s%s", d->name, counter ? " (rate)" : "");
	panel(l, "timeseries", title, d->help, unit_of(d->name, counter), targets, 12);
}

static void fleet(struct layout *l)
{
	row(l, "Fleet efficiency");
	panel(l, "stat", "GPUs", "GPUs the selected agents serve.", "short",
	      json_pack("[o]", target("count(gpuscope_gpu_info{" SEL "})", "GPUs", "A", false)), 6);
	panel(l, "stat", "Mean utilization", "Mean NVML utilization over the selected GPUs.",
	      "percentunit",
	      json_pack("[o]",
	                target("avg(gpuscope_gpu_utilization_ratio{" SEL "})", "mean", "A", false)),
	      6);
	panel(l, "stat", "Idle cost per day",
	      "What the idle share of the selected GPUs costs per day at $price per GPU-hour "
	      "(set the price in the dashboard variable).",
	      "currencyUSD",
	      json_pack("[o]",
	                target("sum(1 - gpuscope_gpu_utilization_ratio{" SEL "}) * $price * 24",
	                       "idle cost", "A", false)),
	      6);
	panel(l, "stat", "Firing alerts", "Alerts the agents fire now (docs/alerts.md).", "short",
	      json_pack("[o]",
	                target("count(gpuscope_alert{alertstate=\"firing\"," SEL "}) or vector(0)",
	                       "firing", "A", false)),
	      6);
	panel(l, "timeseries", "Idle GPUs over time",
	      "Per GPU, the share of time idle (1 - utilization).", "percentunit",
	      json_pack("[o]", target("1 - gpuscope_gpu_utilization_ratio{" SEL "}",
	                              "{{instance}} GPU {{gpu}}", "A", false)),
	      24);
	row(l, "Verdicts and alerts");
	panel(l, "table", "Verdicts", "The live diagnosis' active verdicts (/api/v1/diagnosis).",
	      "short", json_pack("[o]", target("gpuscope_verdict{" SEL "} == 1", "", "A", true)),
	      12);
	panel(l, "table", "Alerts", "Pending and firing alerts of the agents (/api/v1/alerts).",
	      "short", json_pack("[o]", target("gpuscope_alert{" SEL "}", "", "A", true)), 12);
}

static void processes(struct layout *l)
{
	row(l, "Processes and workloads");
	for (int f = 0; f < PROC_FAMILY_COUNT; f++) {
		const struct process_family_def *fam = &process_family_table[f];
		char expr[256];
		bool per_process = fam->per_process;
		snprintf(expr, sizeof(expr), "%s{" SEL "}", fam->name);
		json_t *t = json_array();
		json_array_append_new(t,
		                      target(expr,
		                             per_process ? "{{instance}} GPU {{gpu}} {{process}} "
		                                           "{{namespace}}/{{pod}}"
		                                         : "{{instance}} GPU {{gpu}}",
		                             "A", false));
		if (per_process) {
			/* Per workload: the pod's processes summed over its GPUs. */
			snprintf(expr, sizeof(expr),
			         "sum by (namespace, pod) (%s{" SEL ",process!=\"_other\"})",
			         fam->name);
			json_array_append_new(
			    t, target(expr, "workload {{namespace}}/{{pod}}", "B", false));
		}
		panel(l, "timeseries", fam->name, fam->help, unit_of(fam->name, false), t, 12);
	}
}

static json_t *variables(void)
{
	json_t *ds = json_pack("{s:s,s:s,s:s,s:s}", "name", "datasource", "label", "Prometheus",
	                       "type", "datasource", "query", "prometheus");
	json_t *inst =
	    json_pack("{s:s,s:s,s:{s:s,s:s},s:s,s:{s:s,s:s},s:b,s:b,s:i,s:s}", "name", "instance",
	              "type", "query", "datasource", "type", "prometheus", "uid", "${datasource}",
	              "query", "label_values(gpuscope_gpu_info, instance)", "definition", "query",
	              "label_values(gpuscope_gpu_info, instance)", "refId", "instance", "multi", 1,
	              "includeAll", 1, "refresh", 2, "allValue", ".*");
	json_t *gpu =
	    json_pack("{s:s,s:s,s:{s:s,s:s},s:s,s:b,s:b,s:i,s:s}", "name", "gpu", "type", "query",
	              "datasource", "type", "prometheus", "uid", "${datasource}", "query",
	              "label_values(gpuscope_gpu_info{instance=~\"$instance\"}, gpu)", "multi", 1,
	              "includeAll", 1, "refresh", 2, "allValue", ".*");
	json_t *price = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s}}", "name", "price", "label",
	                          "Price per GPU-hour", "type", "textbox", "query", "2.50",
	                          "current", "text", "2.50", "value", "2.50");
	return json_pack("{s:[o,o,o,o]}", "list", ds, inst, gpu, price);
}

char *grafana_dashboard_json(void)
{
	struct layout l = {.panels = json_array()};
	fleet(&l);
	processes(&l);
	for (size_t r = 0; r < sizeof(row_order) / sizeof(row_order[0]); r++) {
		bool opened = false;
		for (int first = 0; first < METRIC_COUNT;) {
			int end = first + 1;
			while (end < METRIC_COUNT && !metric_family_first(end))
				end++;
			if (strcmp(category(metric_table[first].name), row_order[r]) == 0) {
				if (!opened)
					row(&l, row_order[r]);
				opened = true;
				family_panel(&l, first, end);
			}
			first = end;
		}
	}
	json_t *d =
	    json_pack("{s:s,s:s,s:s,s:[s,s],s:i,s:s,s:{s:s,s:s},s:o,s:o,s:b,s:s,s:i}", "uid",
	              "gpuscope", "title", "gpuscope", "description",
	              "gpuscope's own metrics, generated by `gpuscope export grafana` from "
	              "its metric table",
	              "tags", "gpuscope", "gpu", "schemaVersion", 38, "refresh", "30s", "time",
	              "from", "now-6h", "to", "now", "templating", variables(), "panels", l.panels,
	              "editable", 1, "timezone", "browser", "version", 1);
	if (!d)
		return NULL;
	char *text = json_dumps(d, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	json_decref(d);
	if (!text)
		return NULL;
	size_t n = strlen(text);
	char *out = realloc(text, n + 2);
	if (!out) {
		free(text);
		return NULL;
	}
	out[n] = '\n';
	out[n + 1] = '\0';
	return out;
}
