/* chart.h - one time-series chart of the HTML report as inline SVG.
 *
 * A chart a reader can trust: a y axis with round ticks and its unit, a time axis with
 * ticks in UTC, a grid, each series drawn as its bucket means inside the band of the
 * bucket's min and max (so a burst shorter than a bucket still reaches the band's top,
 * never averaged into a false wave), limits as dashed lines kept below the top edge with
 * their value written at the right end, and events (Xid, ECC) as marked vertical lines.
 * Gaps (absent samples) break the line instead of being drawn as zero.
 *
 * The dashboard draws the same things with uPlot in the browser; the report stays
 * script-free (it is forwarded as a file), so the two share the policy (mean in its
 * min-max band, limits visible), not the code.
 */
#ifndef GPUSCOPE_REPORT_CHART_H
#define GPUSCOPE_REPORT_CHART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct chart_line {
	const char *label, *color;
	const double *v;       /* n values, the engine's units; NULL: absent */
	const double *lo, *hi; /* per-point min and max (NULL: v itself) */
	double scale;          /* multiplied in for display */
	bool limit;            /* dashed, labelled with its value, no band */
};

struct chart_marker {
	size_t at;      /* point index */
	char label[32]; /* "Xid 79", "ECC" */
};

struct chart_axis {
	int64_t from; /* Unix seconds of point 0 */
	double step;  /* seconds between points */
	size_t n;     /* points */
};

/* Writes <figure> with the chart, or "not collected" when no line has a value. */
/* s as HTML text or attribute value: <, >, & and " escaped (NULL writes nothing); the one
 * escape every HTML part of the report uses. */
void chart_html_escape(FILE *out, const char *s);

void chart_svg(FILE *out, const struct chart_axis *ax, const char *title, const char *unit,
               const struct chart_line *lines, size_t nlines, double ymax_hint,
               const struct chart_marker *marks, size_t nmarks);

#endif
