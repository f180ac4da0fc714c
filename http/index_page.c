/* index_page.c - the agent's `/` page; see index_page.h. */
#include "http/index_page.h"

#include <math.h>
#include <stdio.h>

#include "http/endpoints.h"

/* Appends s with the five HTML-special characters escaped. */
static void html_text(struct strbuf *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			sb_puts(out, "&amp;");
			break;
		case '<':
			sb_puts(out, "&lt;");
			break;
		case '>':
			sb_puts(out, "&gt;");
			break;
		case '"':
			sb_puts(out, "&quot;");
			break;
		case '\'':
			sb_puts(out, "&#39;");
			break;
		default:
			sb_append(out, s, 1);
		}
	}
}

/* The native value of metric m, or NAN when the GPU has no current reading. */
static double native(const struct gpu_record *g, enum metric_id m)
{
	if (!metric_set_has(&g->valid, m))
		return NAN;
	return metric_native_value(metric_table[m].unit, g->raw[m]);
}

/* One table cell: v times scale with the given decimals, or "-" when v is absent. */
static void cell(struct strbuf *out, int decimals, double v, double scale)
{
	if (isnan(v))
		sb_puts(out, "<td>-</td>");
	else
		sb_printf(out, "<td>%.*f</td>", decimals, v * scale);
}

static void gpu_rows(const struct board_snapshot *snap, struct strbuf *out)
{
	sb_puts(out, "<table><tr><th>GPU</th><th>name</th><th>UUID</th><th>health</th>"
	             "<th>utilization %</th><th>SM active %</th><th>memory GiB</th>"
	             "<th>of GiB</th><th>power W</th><th>temperature &deg;C</th></tr>\n");
	const double gib = 1.0 / (1024.0 * 1024.0 * 1024.0);
	for (unsigned i = 0; i < snap->count; i++) {
		const struct gpu_record *g = &snap->gpus[i];
		sb_printf(out, "<tr><td>%u</td><td>", g->index);
		html_text(out, g->has_identity ? g->id.name : "?");
		sb_puts(out, "</td><td><code>");
		html_text(out, g->has_identity ? g->id.uuid : "?");
		sb_puts(out, "</code></td><td>");
		html_text(out, gpu_health_name(g->health));
		if (g->health_reason[0]) {
			sb_puts(out, ": ");
			html_text(out, g->health_reason);
		}
		sb_puts(out, "</td>");
		cell(out, 0, native(g, METRIC_GPU_UTIL), 100);
		cell(out, 0, native(g, METRIC_GPM_SM_ACTIVE), 100);
		cell(out, 1, native(g, METRIC_FB_USED), gib);
		cell(out, 1, native(g, METRIC_FB_TOTAL), gib);
		cell(out, 0, native(g, METRIC_POWER), 1);
		cell(out, 0, native(g, METRIC_GPU_TEMP), 1);
		sb_puts(out, "</tr>\n");
	}
	sb_puts(out, "</table>\n");
}

void index_page_render(const struct board_snapshot *snap, struct strbuf *out)
{
	const struct board_info *bi = &snap->info;
	bool simulated = bi->scenario[0] != 0;
	sb_puts(out, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
	             "<meta name=\"viewport\" content=\"width=device-width\"><title>gpuscope: ");
	html_text(out, bi->hostname);
	if (simulated)
		sb_puts(out, " (SIMULATED)");
	sb_puts(out, "</title><style>body{font-family:sans-serif;margin:1.5em;max-width:70em}"
	             "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.2em .5em;"
	             "text-align:left}.sim{background:#b00;color:#fff;font-weight:bold;"
	             "padding:.6em;margin:1em 0}</style></head><body>\n");
	index_page_body(snap, out);
	sb_puts(out, "</body></html>\n");
}

void index_page_body(const struct board_snapshot *snap, struct strbuf *out)
{
	const struct board_info *bi = &snap->info;
	bool simulated = bi->scenario[0] != 0;
	if (simulated) {
		sb_puts(out, "<div class=\"sim\">SIMULATED GPUs: gpuscope is reading its simulator "
		             "(scenario ");
		html_text(out, bi->scenario);
		sb_puts(out, "), not an NVIDIA driver. Every number here is made up.</div>\n");
	}
	sb_puts(out, "<h1>gpuscope " GPUSCOPE_VERSION " on ");
	html_text(out, bi->hostname);
	sb_puts(out, "</h1>\n<p>Are these GPUs used efficiently, and if not, why not? "
	             "Verdicts with evidence and fixes: <a href=\"/api/v1/diagnosis\">"
	             "/api/v1/diagnosis</a>.</p>\n<p>");
	sb_printf(out, "%u GPU%s; driver ", snap->count, snap->count == 1 ? "" : "s");
	html_text(out, bi->driver_version[0] ? bi->driver_version : "unknown");
	if (bi->cuda_driver_version[0]) {
		sb_puts(out, ", CUDA ");
		html_text(out, bi->cuda_driver_version);
	}
	sb_puts(out, "</p>\n");
	gpu_rows(snap, out);
	sb_puts(out, "<h2>Endpoints</h2>\n<table>\n");
	for (size_t i = 0; i < http_endpoint_count; i++) {
		sb_puts(out, "<tr><td><a href=\"");
		html_text(out, http_endpoints[i].path);
		sb_puts(out, "\">");
		html_text(out, http_endpoints[i].path);
		sb_puts(out, "</a></td><td>");
		html_text(out, http_endpoints[i].what);
		sb_puts(out, "</td></tr>\n");
	}
	sb_puts(out, "</table>\n");
}

void index_page_escape(struct strbuf *out, const char *s)
{
	html_text(out, s);
}

void index_page_not_found(struct strbuf *out)
{
	sb_puts(out, "not found; the endpoints are:\n");
	for (size_t i = 0; i < http_endpoint_count; i++)
		sb_printf(out, "  %-20s %s\n", http_endpoints[i].path, http_endpoints[i].what);
}
