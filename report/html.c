/* html.c - the report as one self-contained HTML page.
 *
 * A report people forward: no script, no external CSS or font, so it opens
 * the same from a mail attachment or a ticket.  Charts are inline SVG
 * polylines, each series averaged into at most CHART_POINTS buckets (a day
 * at 1 s would otherwise be 86400 points per line); gaps (absent samples)
 * break the line instead of being drawn as zero.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/render.h"

#define CHART_POINTS 480
#define CHART_W      720
#define CHART_H      164
#define CHART_PAD_L  48
#define CHART_PAD_B  32 /* time labels, then the legend */

static void esc(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '&':
			fputs("&amp;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		default:
			fputc(*s, out);
		}
	}
}

struct line {
	const char *label;
	const char *color;
	const double *v; /* n values, the engine's units; NULL: absent */
	double scale;    /* multiplied in for display */
};

/* Bucket means of v into out[CHART_POINTS]; returns the buckets used. */
static size_t bucket(const double *v, size_t n, double scale, double *out)
{
	size_t nb = n < CHART_POINTS ? n : CHART_POINTS;
	for (size_t b = 0; b < nb; b++) {
		size_t lo = b * n / nb, hi = (b + 1) * n / nb;
		double sum = 0;
		size_t k = 0;
		for (size_t i = lo; i < hi; i++)
			if (!isnan(v[i])) {
				sum += v[i];
				k++;
			}
		out[b] = k ? sum / (double)k * scale : NAN;
	}
	return nb;
}

/* The ends of the time axis, as printed under every chart. */
struct axis {
	char from[32], to[32];
};

static void chart(FILE *out, const struct axis *ax, const char *title, const char *unit,
                  const struct line *lines, size_t nlines, size_t n, double ymax_hint)
{
	double *buf = malloc(sizeof(double) * CHART_POINTS * (nlines ? nlines : 1));
	if (!buf)
		return;
	size_t nb = 0;
	double ymax = ymax_hint > 0 ? ymax_hint : 0;
	bool any = false;
	for (size_t l = 0; l < nlines; l++) {
		if (!lines[l].v)
			continue;
		nb = bucket(lines[l].v, n, lines[l].scale, buf + l * CHART_POINTS);
		for (size_t b = 0; b < nb; b++)
			if (!isnan(buf[l * CHART_POINTS + b])) {
				any = true;
				if (buf[l * CHART_POINTS + b] > ymax)
					ymax = buf[l * CHART_POINTS + b];
			}
	}
	fprintf(out, "<figure><figcaption>");
	esc(out, title);
	fprintf(out, "</figcaption>");
	if (!any || nb == 0) {
		fprintf(out, "<p class=\"na\">not collected</p></figure>\n");
		free(buf);
		return;
	}
	if (ymax <= 0)
		ymax = 1;
	double pw = CHART_W - CHART_PAD_L - 4, ph = CHART_H - CHART_PAD_B - 6;
	fprintf(out,
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" "
	        "height=\"%d\" role=\"img\">",
	        CHART_W, CHART_H, CHART_W, CHART_H);
	fprintf(out,
	        "<rect x=\"%d\" y=\"6\" width=\"%.0f\" height=\"%.0f\" fill=\"#fafafa\" "
	        "stroke=\"#ccc\"/>",
	        CHART_PAD_L, pw, ph);
	fprintf(out,
	        "<text x=\"%d\" y=\"14\" font-size=\"10\" text-anchor=\"end\">%.4g</text>"
	        "<text x=\"%d\" y=\"%.0f\" font-size=\"10\" text-anchor=\"end\">0</text>"
	        "<text x=\"%d\" y=\"%d\" font-size=\"10\">%s</text>",
	        CHART_PAD_L - 3, ymax, CHART_PAD_L - 3, 6 + ph, 2, CHART_H - 4, unit);
	fprintf(out,
	        "<text x=\"%d\" y=\"%.0f\" font-size=\"9\" fill=\"#666\">%s</text>"
	        "<text x=\"%.0f\" y=\"%.0f\" font-size=\"9\" fill=\"#666\" "
	        "text-anchor=\"end\">%s</text>",
	        CHART_PAD_L, 6 + ph + 12, ax->from, CHART_PAD_L + pw, 6 + ph + 12, ax->to);
	for (size_t l = 0; l < nlines; l++) {
		if (!lines[l].v)
			continue;
		const double *y = buf + l * CHART_POINTS;
		bool open = false;
		for (size_t b = 0; b < nb; b++) {
			if (isnan(y[b])) {
				if (open)
					fputs("\"/>", out);
				open = false;
				continue;
			}
			double px =
			    CHART_PAD_L + (nb > 1 ? pw * (double)b / (double)(nb - 1) : pw / 2);
			double py = 6 + ph - ph * (y[b] < 0 ? 0 : y[b]) / ymax;
			if (!open)
				fprintf(
				    out,
				    "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.3\" "
				    "points=\"",
				    lines[l].color);
			fprintf(out, "%.1f,%.1f ", px, py);
			open = true;
		}
		if (open)
			fputs("\"/>", out);
	}
	double lx = CHART_PAD_L + 6;
	for (size_t l = 0; l < nlines; l++) {
		if (!lines[l].v)
			continue;
		fprintf(out, "<text x=\"%.0f\" y=\"%d\" font-size=\"10\" fill=\"%s\">%s</text>", lx,
		        CHART_H - 4, lines[l].color, lines[l].label);
		lx += 8 + 6.5 * (double)strlen(lines[l].label);
	}
	fprintf(out, "</svg></figure>\n");
	free(buf);
}

static void gpu_charts(FILE *out, const struct report_data *d, size_t g)
{
	struct axis ax;
	report_time(d->from, ax.from, sizeof(ax.from));
	report_time(d->to, ax.to, sizeof(ax.to));
	const double *const *sig = d->gpus[g].series.sig;
	size_t n = d->n;
	struct line util[] = {{"GPU utilization", "#1f77b4", sig[ANALYZE_SIG_GPU_UTIL], 100}};
	chart(out, &ax, "Utilization", "%", util, 1, n, 100);
	struct line act[] = {{"SM active", "#2ca02c", sig[ANALYZE_SIG_SM_ACTIVE], 100},
	                     {"tensor active", "#9467bd", sig[ANALYZE_SIG_TENSOR_ACTIVE], 100},
	                     {"DRAM active", "#d62728", sig[ANALYZE_SIG_DRAM_ACTIVE], 100}};
	chart(out, &ax, "SM, tensor and DRAM activity (GPM)", "%", act, 3, n, 100);
	struct line mem[] = {{"used", "#ff7f0e", sig[ANALYZE_SIG_FB_USED_BYTES], 1 / 1073741824.0},
	                     {"total", "#888", sig[ANALYZE_SIG_FB_TOTAL_BYTES], 1 / 1073741824.0}};
	chart(out, &ax, "GPU memory", "GiB", mem, 2, n, 0);
	struct line pw[] = {{"power", "#8c564b", sig[ANALYZE_SIG_POWER_W], 1},
	                    {"limit", "#888", sig[ANALYZE_SIG_POWER_LIMIT_W], 1},
	                    {"peak (20 ms samples)", "#e377c2", sig[ANALYZE_SIG_POWER_MAX_W], 1}};
	chart(out, &ax, "Power", "W", pw, 3, n, 0);
}

static const char css[] =
    "body{font:14px/1.45 system-ui,sans-serif;max-width:780px;margin:2em auto;color:#222}"
    "h1{font-size:1.5em}h2{font-size:1.2em;border-top:1px solid #ddd;padding-top:.8em}"
    "table{border-collapse:collapse}td,th{padding:2px 10px 2px 0;text-align:left}"
    ".v{margin:.6em 0;padding:.4em .7em;border-left:4px solid #999;background:#f7f7f7}"
    ".critical{border-color:#c00}.warning{border-color:#e69500}.info{border-color:#3a7}"
    ".sev{font-weight:bold;text-transform:uppercase;font-size:.8em}"
    ".nj{color:#666;font-size:.9em}.na{color:#999}.sim{color:#c00;font-weight:bold}"
    "figure{margin:.5em 0}figcaption{font-size:.9em;color:#444}code{font-size:.9em}";

static void verdict_html(FILE *out, const struct analyze_verdict *v)
{
	const char *sev = analyze_severity_name(v->severity);
	fprintf(out, "<div class=\"v %s\"><span class=\"sev\">%s</span> <code>%s</code> ", sev, sev,
	        v->id);
	esc(out, v->title);
	fputs("<br>", out);
	esc(out, v->evidence_text);
	fputs("<br><b>Fix:</b> ", out);
	esc(out, v->fix);
	fputs("</div>\n", out);
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
	esc(out, d->source);
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
		esc(out, cur);
		fprintf(out, "/day, %.0f ", f.waste_per_day * 365);
		esc(out, cur);
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

	for (size_t g = 0; g < d->ngpus; g++) {
		const struct report_gpu *rg = &d->gpus[g];
		fprintf(out, "<h2>GPU %zu: ", g);
		esc(out, rg->model);
		if (rg->host && *rg->host) {
			fputs(" on ", out);
			esc(out, rg->host);
		}
		fputs("</h2>\n<p><code>", out);
		esc(out, rg->uuid);
		fputs("</code><br>", out);
		if (g < r->nsummaries)
			esc(out, r->summaries[g].line);
		fputs("</p>\n", out);
		size_t shown = 0;
		for (size_t i = 0; i < r->nverdicts; i++)
			if (r->verdicts[i].about.gpu_index == (long)g) {
				verdict_html(out, &r->verdicts[i]);
				shown++;
			}
		if (!shown)
			fputs("<p>No verdict.</p>\n", out);
		for (size_t i = 0; i < r->nnot_judged; i++) {
			const struct analyze_not_judged *nj = &r->not_judged[i];
			if (nj->about.gpu_index != (long)g)
				continue;
			fprintf(out, "<div class=\"nj\">not judged: <code>%s</code>: ", nj->id);
			esc(out, nj->reason);
			fputs("</div>\n", out);
		}
		gpu_charts(out, d, g);
	}
	for (size_t i = 0; i < r->nverdicts; i++)
		if (r->verdicts[i].about.gpu_index < 0) {
			fputs("<h2>Group ", out);
			esc(out, r->verdicts[i].about.group);
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
			esc(out, wl[i].name);
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
	fprintf(out,
	        "<p class=\"nj\">gpuscope %s; verdicts and thresholds: docs/diagnosis.md</p>\n"
	        "</body></html>\n",
	        GPUSCOPE_VERSION);
	return ferror(out) ? -1 : 0;
}
