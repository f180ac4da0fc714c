/* chart.c - SVG charts with axes, grid, min-max bands, limits and event marks (chart.h). */
#include "report/chart.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHART_POINTS 360
#define W            540
#define H            210
/* s as HTML text or attribute value: <, >, & and " escaped (NULL writes nothing). */
void chart_html_escape(FILE *out, const char *s)
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

#define PAD_L 48
#define PAD_R 70 /* the limit's value sits right of the plot */
#define PAD_T 10
#define PAD_B 40 /* time ticks, then the legend */

/* Buckets of one line: mean, min and max of what fell in each (NaN: nothing). */
struct buckets {
	double mean[CHART_POINTS], lo[CHART_POINTS], hi[CHART_POINTS];
};

static size_t bucket(const struct chart_line *l, size_t n, struct buckets *b)
{
	size_t nb = n < CHART_POINTS ? n : CHART_POINTS;
	for (size_t k = 0; k < nb; k++) {
		size_t from = k * n / nb, to = (k + 1) * n / nb;
		double sum = 0, lo = INFINITY, hi = -INFINITY;
		size_t cnt = 0;
		for (size_t i = from; i < to; i++) {
			double v = l->v[i];
			double vl = l->lo && isfinite(l->lo[i]) ? l->lo[i] : v;
			double vh = l->hi && isfinite(l->hi[i]) ? l->hi[i] : v;
			if (isfinite(v)) {
				sum += v;
				cnt++;
			}
			if (isfinite(vl) && vl < lo)
				lo = vl;
			if (isfinite(vh) && vh > hi)
				hi = vh;
		}
		b->mean[k] = cnt ? sum / (double)cnt * l->scale : NAN;
		b->lo[k] = isfinite(lo) ? lo * l->scale : NAN;
		b->hi[k] = isfinite(hi) ? hi * l->scale : NAN;
	}
	return nb;
}

/* A round step (1, 2 or 5 times a power of ten) for about `ticks` intervals over span. */
static double nice_step(double span, int ticks)
{
	double raw = span / ticks, mag = pow(10, floor(log10(raw))), f = raw / mag;
	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

static void y_axis(FILE *out, double ymax, double step, double pw, double ph, const char *unit)
{
	for (double y = 0; y <= ymax + step * 1e-6; y += step) {
		double py = PAD_T + ph - ph * y / ymax;
		fprintf(out,
		        "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#e3e3e3\"/>"
		        "<text x=\"%d\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%g</text>",
		        PAD_L, py, PAD_L + pw, py, PAD_L - 4, py + 3.5, y);
	}
	fprintf(out,
	        "<text x=\"10\" y=\"%.0f\" font-size=\"10\" transform=\"rotate(-90 10 %.0f)\" "
	        "text-anchor=\"middle\">",
	        PAD_T + ph / 2, PAD_T + ph / 2);
	chart_html_escape(out, unit);
	fputs("</text>", out);
}

/* Time ticks on round minutes, hours or days (UTC), at most about six. */
static void x_axis(FILE *out, const struct chart_axis *ax, double pw, double ph)
{
	static const double steps[] = {10,   30,   60,    120,   300,   600,   900,    1800,
	                               3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800};
	double span = ax->step * (double)(ax->n > 1 ? ax->n - 1 : 1);
	double step = steps[sizeof(steps) / sizeof(steps[0]) - 1];
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (span / steps[i] <= 6) {
			step = steps[i];
			break;
		}
	double first = ceil((double)ax->from / step) * step;
	for (double t = first; t <= (double)ax->from + span; t += step) {
		double px = PAD_L + pw * (t - (double)ax->from) / span;
		time_t tt = (time_t)t;
		struct tm tm;
		char label[32] = "";
		if (gmtime_r(&tt, &tm))
			strftime(label, sizeof(label),
			         span > 86400 ? "%m-%d %H:%M"
			         : step < 60  ? "%H:%M:%S"
			                      : "%H:%M",
			         &tm);
		fprintf(out,
		        "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#e3e3e3\"/>"
		        "<text x=\"%.1f\" y=\"%.0f\" font-size=\"9\" text-anchor=\"middle\" "
		        "fill=\"#555\">%s</text>",
		        px, PAD_T, px, PAD_T + ph, px, PAD_T + ph + 12, label);
	}
	fprintf(out, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"9\" fill=\"#555\">UTC</text>",
	        PAD_L + pw + 4, PAD_T + ph + 12);
}

static double px_of(size_t k, size_t nb, double pw)
{
	return PAD_L + (nb > 1 ? pw * (double)k / (double)(nb - 1) : pw / 2);
}

/* A polyline through y[], broken at gaps. */
static void path(FILE *out, const double *y, size_t nb, double ymax, double pw, double ph,
                 const char *attrs)
{
	bool open = false;
	for (size_t k = 0; k < nb; k++) {
		if (!isfinite(y[k])) {
			if (open)
				fputs("\"/>", out);
			open = false;
			continue;
		}
		double py = PAD_T + ph - ph * fmax(0, fmin(y[k], ymax)) / ymax;
		if (!open)
			fprintf(out, "<polyline fill=\"none\" %s points=\"", attrs);
		fprintf(out, "%.1f,%.1f ", px_of(k, nb, pw), py);
		open = true;
	}
	if (open)
		fputs("\"/>", out);
}

/* The min-max band as polygons, one per run without gaps. */
static void band(FILE *out, const struct buckets *b, size_t nb, double ymax, double pw, double ph,
                 const char *color)
{
	for (size_t k = 0; k < nb;) {
		while (k < nb && !(isfinite(b->lo[k]) && isfinite(b->hi[k])))
			k++;
		size_t start = k;
		while (k < nb && isfinite(b->lo[k]) && isfinite(b->hi[k]))
			k++;
		if (k == start)
			continue;
		fprintf(out, "<polygon fill=\"%s\" fill-opacity=\"0.22\" stroke=\"none\" points=\"",
		        color);
		for (size_t i = start; i < k; i++)
			fprintf(out, "%.1f,%.1f ", px_of(i, nb, pw),
			        PAD_T + ph - ph * fmax(0, fmin(b->hi[i], ymax)) / ymax);
		for (size_t i = k; i-- > start;)
			fprintf(out, "%.1f,%.1f ", px_of(i, nb, pw),
			        PAD_T + ph - ph * fmax(0, fmin(b->lo[i], ymax)) / ymax);
		fputs("\"/>", out);
	}
}

void chart_svg(FILE *out, const struct chart_axis *ax, const char *title, const char *unit,
               const struct chart_line *lines, size_t nlines, double ymax_hint,
               const struct chart_marker *marks, size_t nmarks)
{
	struct buckets *b = malloc(sizeof(*b) * (nlines ? nlines : 1));
	if (!b)
		return;
	size_t nb = 0;
	double top = ymax_hint > 0 ? ymax_hint : 0, mean_max = NAN, band_max = NAN;
	bool any = false;
	for (size_t l = 0; l < nlines; l++) {
		if (!lines[l].v)
			continue;
		nb = bucket(&lines[l], ax->n, &b[l]);
		for (size_t k = 0; k < nb; k++) {
			if (isfinite(b[l].hi[k]) && b[l].hi[k] > top)
				top = b[l].hi[k];
			if (isfinite(b[l].mean[k]))
				any = true;
			if (l == 0 && isfinite(b[l].mean[k]) && !(b[l].mean[k] <= mean_max))
				mean_max = b[l].mean[k];
			if (l == 0 && isfinite(b[l].hi[k]) && !(b[l].hi[k] <= band_max))
				band_max = b[l].hi[k];
		}
	}
	fputs("<figure><figcaption>", out);
	chart_html_escape(out, title);
	fputs(" <span class=\"na\">(line: mean; band: min to max)</span></figcaption>", out);
	if (!any || nb == 0) {
		fputs("<p class=\"na\">not collected</p></figure>\n", out);
		free(b);
		return;
	}
	/* Headroom above the highest value or limit, so a limit line is never the frame. */
	double ystep = nice_step(top > 0 ? top * 1.08 : 1, 4);
	double ymax = ceil((top > 0 ? top * 1.08 : 1) / ystep) * ystep;
	if (ymax_hint > 0 && top <= ymax_hint) { /* a percentage ends at 100 */
		ystep = nice_step(ymax_hint, 4);
		ymax = ymax_hint;
	}
	double pw = W - PAD_L - PAD_R, ph = H - PAD_T - PAD_B;
	fprintf(out,
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" "
	        "height=\"%d\" role=\"img\" class=\"chart\" data-chart=\"",
	        W, H, W, H);
	chart_html_escape(out, title);
	fprintf(out, "\" data-mean-max=\"%.4g\" data-band-max=\"%.4g\" data-marks=\"%zu\">",
	        mean_max, band_max, nmarks);
	fprintf(out,
	        "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"#fcfcfc\" "
	        "stroke=\"#bbb\"/>",
	        PAD_L, PAD_T, pw, ph);
	y_axis(out, ymax, ystep, pw, ph, unit);
	x_axis(out, ax, pw, ph);
	for (size_t l = 0; l < nlines; l++)
		if (lines[l].v && !lines[l].limit)
			band(out, &b[l], nb, ymax, pw, ph, lines[l].color);
	for (size_t l = 0; l < nlines; l++) {
		if (!lines[l].v)
			continue;
		char attrs[128];
		snprintf(attrs, sizeof(attrs), "stroke=\"%s\" stroke-width=\"%s\"%s",
		         lines[l].color, lines[l].limit ? "1.2" : "1.4",
		         lines[l].limit ? " stroke-dasharray=\"6 4\"" : "");
		path(out, b[l].mean, nb, ymax, pw, ph, attrs);
		if (lines[l].limit && isfinite(b[l].mean[nb - 1]))
			fprintf(out,
			        "<text x=\"%.0f\" y=\"%.1f\" font-size=\"9\" fill=\"%s\">%s "
			        "%.4g</text>",
			        PAD_L + pw + 4,
			        PAD_T + ph - ph * fmin(b[l].mean[nb - 1], ymax) / ymax + 3,
			        lines[l].color, lines[l].label, b[l].mean[nb - 1]);
	}
	for (size_t i = 0; i < nmarks; i++) {
		double span = (double)(ax->n > 1 ? ax->n - 1 : 1);
		double px = PAD_L + pw * (double)marks[i].at / span;
		fprintf(out,
		        "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#c00\" "
		        "stroke-width=\"1.5\" class=\"mark\"/><text x=\"%.1f\" y=\"%d\" "
		        "font-size=\"9\" fill=\"#c00\">",
		        px, PAD_T, px, PAD_T + ph, px + 2, PAD_T + 9);
		chart_html_escape(out, marks[i].label);
		fputs("</text>", out);
	}
	double lx = PAD_L;
	for (size_t l = 0; l < nlines; l++) {
		if (!lines[l].v)
			continue;
		fprintf(out,
		        "<rect x=\"%.0f\" y=\"%d\" width=\"10\" height=\"3\" fill=\"%s\"/>"
		        "<text x=\"%.0f\" y=\"%d\" font-size=\"10\" fill=\"#333\">",
		        lx, H - 9, lines[l].color, lx + 13, H - 5);
		chart_html_escape(out, lines[l].label);
		fputs("</text>", out);
		lx += 22 + 6 * (double)strlen(lines[l].label);
	}
	fputs("</svg></figure>\n", out);
	free(b);
}
