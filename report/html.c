/* html.c - the report as one self-contained HTML page.
 *
 * A report people forward: no script, no external CSS or font, so it opens
 * the same from a mail attachment or a ticket.  It opens with the fleet and a
 * per-GPU summary table linking to each GPU; "not judged" reasons shared by
 * every GPU are said once there.  Each GPU's verdicts come most severe first,
 * a temperature and clock chart right under a thermal or power verdict, then
 * the GPU's charts (report/chart.h: axes, grid, min-max bands, visible
 * limits, Xid and ECC marks), two abreast.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/chart.h"
#include "report/render.h"

/* The raw series of (metric, stat) of GPU g, or NULL when the loader has none. */
static const double *raw_of(const struct report_data *d, size_t g, int metric, enum store_stat stat)
{
	for (size_t k = 0; k < report_nsources; k++)
		if (report_sources[k].metric == metric && report_sources[k].stat == stat)
			return d->gpus[g].raw[k];
	return NULL;
}

#define MAX_MARKS 16

/* Xid and ECC events: where a cumulative count rises (at most max marks). */
static size_t event_marks(const struct report_data *d, size_t g, struct chart_marker *m, size_t max)
{
	const double *const *sig = d->gpus[g].series.sig;
	const double *xid = sig[ANALYZE_SIG_XID_COUNT], *ecc = sig[ANALYZE_SIG_ECC_DBE_COUNT];
	const double *code = sig[ANALYZE_SIG_XID_LAST];
	size_t k = 0;
	double px = NAN, pe = NAN;
	for (size_t i = 0; i < d->n && k < max; i++) {
		if (xid && isfinite(xid[i])) {
			if (isfinite(px) && xid[i] > px) {
				m[k].at = i;
				if (code && isfinite(code[i]))
					snprintf(m[k].label, sizeof(m[k].label), "Xid %.0f",
					         code[i]);
				else
					snprintf(m[k].label, sizeof(m[k].label), "Xid");
				k++;
			}
			px = xid[i];
		}
		if (ecc && isfinite(ecc[i]) && k < max) {
			if (isfinite(pe) && ecc[i] > pe) {
				m[k].at = i;
				snprintf(m[k].label, sizeof(m[k].label), "ECC");
				k++;
			}
			pe = ecc[i];
		}
	}
	return k;
}

static struct chart_axis axis_of(const struct report_data *d)
{
	return (struct chart_axis){.from = d->from, .step = d->step > 0 ? d->step : 1, .n = d->n};
}

/* Temperature against the slowdown threshold, and SM clock against its maximum: the
 * evidence under a thermal or power verdict. */
static void clock_charts(FILE *out, const struct report_data *d, size_t g)
{
	struct chart_axis ax = axis_of(d);
	const double *const *sig = d->gpus[g].series.sig;
	struct chart_marker marks[MAX_MARKS];
	size_t nm = event_marks(d, g, marks, MAX_MARKS);
	fputs("<div class=\"charts\">", out);
	struct chart_line temp[] = {
	    {"temperature (max each second)", "#d35400", sig[ANALYZE_SIG_TEMP_C], NULL, NULL, 1,
	     false},
	    {"slowdown", "#777", sig[ANALYZE_SIG_SLOWDOWN_TEMP_C], NULL, NULL, 1, true}};
	chart_svg(out, &ax, "Temperature", "\u00b0C", temp, 2, 0, marks, nm);
	struct chart_line clk[] = {
	    {"SM clock", "#16a085", sig[ANALYZE_SIG_SM_CLOCK_HZ], NULL, NULL, 1e-6, false},
	    {"max", "#777", sig[ANALYZE_SIG_SM_CLOCK_MAX_HZ], NULL, NULL, 1e-6, true}};
	chart_svg(out, &ax, "SM clock", "MHz", clk, 2, 0, marks, nm);
	fputs("</div>\n", out);
}

static void gpu_charts(FILE *out, const struct report_data *d, size_t g)
{
	struct chart_axis ax = axis_of(d);
	const double *const *sig = d->gpus[g].series.sig;
	struct chart_marker marks[MAX_MARKS];
	size_t nm = event_marks(d, g, marks, MAX_MARKS);
	fputs("<div class=\"charts\">", out);
	struct chart_line util[] = {{"GPU utilization", "#1f77b4",
	                             raw_of(d, g, METRIC_GPU_UTIL, STORE_MEAN),
	                             raw_of(d, g, METRIC_GPU_UTIL, STORE_MIN),
	                             raw_of(d, g, METRIC_GPU_UTIL, STORE_MAX), 1, false}};
	chart_svg(out, &ax, "Utilization", "%", util, 1, 100, marks, nm);
	struct chart_line act[] = {
	    {"SM active", "#2ca02c", sig[ANALYZE_SIG_SM_ACTIVE], NULL, NULL, 100, false},
	    {"tensor active", "#9467bd", sig[ANALYZE_SIG_TENSOR_ACTIVE], NULL, NULL, 100, false},
	    {"DRAM active", "#d62728", sig[ANALYZE_SIG_DRAM_ACTIVE], NULL, NULL, 100, false}};
	chart_svg(out, &ax, "SM, tensor and DRAM activity (GPM)", "%", act, 3, 100, marks, nm);
	const double gib = 1 / 1073741824.0;
	struct chart_line mem[] = {
	    {"used (max each second)", "#ff7f0e", sig[ANALYZE_SIG_FB_USED_BYTES], NULL, NULL, gib,
	     false},
	    {"total", "#777", sig[ANALYZE_SIG_FB_TOTAL_BYTES], NULL, NULL, gib, true}};
	chart_svg(out, &ax, "GPU memory", "GiB", mem, 2, 0, marks, nm);
	struct chart_line pw[] = {
	    {"power", "#8c564b", raw_of(d, g, METRIC_POWER, STORE_MEAN),
	     raw_of(d, g, METRIC_POWER, STORE_MIN), raw_of(d, g, METRIC_POWER, STORE_MAX), 1e-3,
	     false},
	    {"limit", "#777", sig[ANALYZE_SIG_POWER_LIMIT_W], NULL, NULL, 1, true},
	    {"peak (20 ms samples)", "#e377c2", sig[ANALYZE_SIG_POWER_MAX_W], NULL, NULL, 1,
	     false}};
	chart_svg(out, &ax, "Power", "W", pw, 3, 0, marks, nm);
	fputs("</div>\n", out);
}

static const char css[] =
    "body{font:14px/1.45 system-ui,sans-serif;max-width:1120px;margin:2em auto;color:#222}"
    "h1{font-size:1.5em}h2{font-size:1.2em;border-top:1px solid #ddd;padding-top:.8em}"
    "table{border-collapse:collapse}td,th{padding:2px 10px 2px 0;text-align:left}"
    ".v{margin:.6em 0;padding:.4em .7em;border-left:4px solid #999;background:#f7f7f7}"
    ".critical{border-color:#c00}.warning{border-color:#e69500}.info{border-color:#3a7}"
    ".sev{font-weight:bold;text-transform:uppercase;font-size:.8em}"
    "td.critical{color:#c00}td.warning{color:#b07000}td.info{color:#2a7d4b}"
    ".nj{color:#666;font-size:.9em}.na{color:#888;font-size:.85em}.sim{color:#c00;"
    "font-weight:bold}.charts{display:flex;flex-wrap:wrap;gap:0 20px}"
    "figure{margin:.4em 0}figcaption{font-size:.9em;color:#444}code{font-size:.9em}";

static void verdict_html(FILE *out, const struct analyze_verdict *v)
{
	const char *sev = analyze_severity_name(v->severity);
	fprintf(out, "<div class=\"v %s\"><span class=\"sev\">%s</span> <code>%s</code> ", sev, sev,
	        v->id);
	chart_html_escape(out, v->title);
	fputs("<br>", out);
	chart_html_escape(out, v->evidence_text);
	fputs("<br><b>Fix:</b> ", out);
	chart_html_escape(out, v->fix);
	fputs("</div>\n", out);
}

/* True when every GPU has a "not judged" of this id with this reason: said once. */
static bool fleet_wide(const struct report_data *d, const struct analyze_result *r,
                       const struct analyze_not_judged *nj)
{
	if (d->ngpus < 2 || nj->about.gpu_index < 0)
		return false;
	size_t gpus = 0;
	for (size_t g = 0; g < d->ngpus; g++)
		for (size_t i = 0; i < r->nnot_judged; i++)
			if (r->not_judged[i].about.gpu_index == (long)g &&
			    strcmp(r->not_judged[i].id, nj->id) == 0 &&
			    strcmp(r->not_judged[i].reason, nj->reason) == 0) {
				gpus++;
				break;
			}
	return gpus == d->ngpus;
}

/* One row per GPU: its mean use, waste, verdicts by severity, a link to its section. */
static void summary_table(FILE *out, const struct report_data *d, const struct analyze_result *r,
                          const char *cur)
{
	fputs("<h2>GPUs</h2>\n<table class=\"summary\"><tr><th>GPU</th><th>model</th>"
	      "<th>utilization</th><th>waste/day</th><th>critical</th><th>warning</th>"
	      "<th>info</th><th>most severe</th></tr>\n",
	      out);
	for (size_t g = 0; g < d->ngpus; g++) {
		size_t count[3] = {0};
		const struct analyze_verdict *worst = NULL;
		for (size_t i = 0; i < r->nverdicts; i++) {
			const struct analyze_verdict *v = &r->verdicts[i];
			if (v->about.gpu_index != (long)g)
				continue;
			count[v->severity]++;
			if (!worst || v->severity > worst->severity)
				worst = v;
		}
		fprintf(out, "<tr><td><a href=\"#gpu-%zu\">GPU %zu</a></td><td>", g, g);
		chart_html_escape(out, d->gpus[g].model);
		const struct analyze_gpu_summary *sm = g < r->nsummaries ? &r->summaries[g] : NULL;
		if (sm && isfinite(sm->util_mean))
			fprintf(out, "</td><td>%.0f%%", sm->util_mean * 100);
		else
			fputs("</td><td>-", out);
		if (sm && isfinite(sm->waste_per_day)) {
			fprintf(out, "</td><td>%.2f ", sm->waste_per_day);
			chart_html_escape(out, cur); /* the user's --currency text */
		} else
			fputs("</td><td>-", out);
		fprintf(out,
		        "</td><td class=\"critical\">%zu</td><td class=\"warning\">%zu</td>"
		        "<td class=\"info\">%zu</td>",
		        count[ANALYZE_SEVERITY_CRITICAL], count[ANALYZE_SEVERITY_WARNING],
		        count[ANALYZE_SEVERITY_INFO]);
		if (worst) {
			fprintf(out, "<td class=\"%s\"><code>%s</code></td></tr>\n",
			        analyze_severity_name(worst->severity), worst->id);
		} else {
			fputs("<td>-</td></tr>\n", out);
		}
	}
	fputs("</table>\n", out);
	/* Reasons every GPU shares: once, here, instead of under each GPU. */
	for (size_t i = 0; i < r->nnot_judged; i++) {
		const struct analyze_not_judged *nj = &r->not_judged[i];
		if (nj->about.gpu_index != 0 || !fleet_wide(d, r, nj))
			continue;
		fprintf(out, "<div class=\"nj\">not judged on any GPU: <code>%s</code>: ", nj->id);
		chart_html_escape(out, nj->reason);
		fputs("</div>\n", out);
	}
}

static bool is_clock_verdict(const struct analyze_verdict *v)
{
	return strcmp(v->id, "thermal_throttling") == 0 || strcmp(v->id, "power_capped") == 0;
}

/* GPU g's verdicts, most severe first, with the temperature and clock charts under the
 * first thermal or power verdict. */
static void gpu_verdicts(FILE *out, const struct report_data *d, const struct analyze_result *r,
                         size_t g)
{
	size_t shown = 0;
	bool clocks = false;
	for (int sev = ANALYZE_SEVERITY_CRITICAL; sev >= ANALYZE_SEVERITY_INFO; sev--)
		for (size_t i = 0; i < r->nverdicts; i++) {
			const struct analyze_verdict *v = &r->verdicts[i];
			if (v->about.gpu_index != (long)g || (int)v->severity != sev)
				continue;
			verdict_html(out, v);
			shown++;
			if (is_clock_verdict(v) && !clocks) {
				clock_charts(out, d, g);
				clocks = true;
			}
		}
	if (!shown)
		fputs("<p>No verdict.</p>\n", out);
	for (size_t i = 0; i < r->nnot_judged; i++) {
		const struct analyze_not_judged *nj = &r->not_judged[i];
		if (nj->about.gpu_index != (long)g || fleet_wide(d, r, nj))
			continue;
		fprintf(out, "<div class=\"nj\">not judged: <code>%s</code>: ", nj->id);
		chart_html_escape(out, nj->reason);
		fputs("</div>\n", out);
	}
}

int report_render_html(FILE *out, const struct report_data *d, const struct analyze_result *r)
{
	struct report_fleet f;
	report_fleet(d, r, &f);
	char a[64], b[64], span[32];
	report_time(d->from, a, sizeof(a));
	report_time(d->to, b, sizeof(b));
	report_span((double)(d->to - d->from + 1), span, sizeof(span));
	const char *cur = r->currency[0] ? r->currency : "USD";
	fprintf(out,
	        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>gpuscope report "
	        "%s</title><style>%s</style></head><body>\n",
	        a, css);
	fprintf(out, "<h1>gpuscope report</h1>\n<p>%s to %s (%s)<br>", a, b, span);
	chart_html_escape(out, d->source);
	if (d->simulated)
		fputs(" <span class=\"sim\">SIMULATED: every number is made up</span>", out);
	fputs("</p>\n<h2>Fleet</h2>\n<table>\n", out);
	fprintf(out, "<tr><th>GPUs</th><td>%zu</td></tr>\n", d->ngpus);
	if (!isnan(f.util_mean))
		fprintf(out, "<tr><th>Mean utilization</th><td>%.0f%%</td></tr>\n",
		        f.util_mean * 100);
	else
		fputs("<tr><th>Mean utilization</th><td>unknown</td></tr>\n", out);
	if (!isnan(f.waste_per_day)) {
		/* --currency is the user's text: escaped like everything else that is not ours. */
		fprintf(out, "<tr><th>Waste (idle time)</th><td>%.2f ", f.waste_per_day);
		chart_html_escape(out, cur);
		fprintf(out, "/day, %.0f ", f.waste_per_day * 365);
		chart_html_escape(out, cur);
		fputs("/year</td></tr>\n", out);
	} else
		fputs("<tr><th>Waste</th><td>unknown (no price: --price-per-gpu-hour)</td></tr>\n",
		      out);
	if (f.energy_j > 0)
		fprintf(out, "<tr><th>Energy</th><td>%.2f kWh</td></tr>\n", f.energy_j / 3.6e6);
	fprintf(out, "<tr><th>Verdicts</th><td>%zu critical, %zu warning</td></tr>\n", f.critical,
	        f.warning);
	fputs("<tr><th>Top verdicts</th><td>", out);
	for (size_t i = 0; i < f.ntop; i++)
		fprintf(out, "%s<code>%s</code> &times;%zu (%s)", i ? ", " : "", f.top[i].id,
		        f.top[i].count, analyze_severity_name(f.top[i].severity));
	if (!f.ntop)
		fputs("none", out);
	fputs("</td></tr>\n</table>\n", out);
	summary_table(out, d, r, cur);

	for (size_t g = 0; g < d->ngpus; g++) {
		const struct report_gpu *rg = &d->gpus[g];
		fprintf(out, "<h2 id=\"gpu-%zu\">GPU %zu: ", g, g);
		chart_html_escape(out, rg->model);
		if (rg->host && *rg->host) {
			fputs(" on ", out);
			chart_html_escape(out, rg->host);
		}
		fputs("</h2>\n<p><code>", out);
		chart_html_escape(out, rg->uuid);
		fputs("</code><br>", out);
		if (g < r->nsummaries)
			chart_html_escape(out, r->summaries[g].line);
		fputs("</p>\n", out);
		gpu_verdicts(out, d, r, g);
		gpu_charts(out, d, g);
	}
	for (size_t i = 0; i < r->nverdicts; i++)
		if (r->verdicts[i].about.gpu_index < 0) {
			fputs("<h2>Group ", out);
			chart_html_escape(out, r->verdicts[i].about.group);
			fputs("</h2>\n", out);
			verdict_html(out, &r->verdicts[i]);
		}
	struct report_workload wl[REPORT_WORKLOADS_MAX];
	size_t nw = report_workloads(d, wl, REPORT_WORKLOADS_MAX);
	if (nw) {
		fputs("<h2>Workloads</h2>\n<table><tr><th>workload</th><th>GPUs</th><th>processes"
		      "</th><th>peak GPU memory</th><th>CPU cores</th><th>SM share</th></tr>\n",
		      out);
		for (size_t i = 0; i < nw; i++) {
			fputs("<tr><td>", out);
			chart_html_escape(out, wl[i].name);
			char mem[24], cpu[24];
			report_num(mem, sizeof(mem), wl[i].gpu_mem_peak / 1073741824.0, 1, " GiB");
			report_num(cpu, sizeof(cpu), wl[i].cpu_cores_mean, 2, "");
			fprintf(out, "</td><td>%zu</td><td>%zu</td><td>%s</td><td>%s</td><td>",
			        wl[i].gpus, wl[i].processes, mem, cpu);
			if (wl[i].sm_n)
				fprintf(out, "%.0f%%",
				        100 * wl[i].sm_util_sum / (double)wl[i].sm_n);
			else
				fputs("unknown", out);
			fputs("</td></tr>\n", out);
		}
		fputs("</table>\n", out);
	}
	report_inference_section_html(out, d, r);
	report_serving_html(out, &d->serving);
	fprintf(out,
	        "<p class=\"nj\">gpuscope %s; verdicts and thresholds: docs/diagnosis.md</p>\n"
	        "</body></html>\n",
	        GPUSCOPE_VERSION);
	return ferror(out) ? -1 : 0;
}
