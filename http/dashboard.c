/* dashboard.c - the dashboard's page; see dashboard.h. */
#include "http/dashboard.h"

#include "http/index_page.h"
#include "web/assets.h"

const char dashboard_csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

void dashboard_render(const struct board_snapshot *snap, struct strbuf *out)
{
	const struct board_info *bi = &snap->info;
	bool simulated = bi->scenario[0] != 0;
	sb_puts(out, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
	             "<meta name=\"viewport\" content=\"width=device-width\"><title>gpuscope: ");
	index_page_escape(out, bi->hostname);
	if (simulated)
		sb_puts(out, " (SIMULATED)");
	/* An empty icon: no request for /favicon.ico (a 404 in every browser console). */
	sb_puts(out, "</title>\n<link rel=\"icon\" href=\"data:,\">"
	             "<link rel=\"stylesheet\" href=\"/assets/uplot.css\">"
	             "<link rel=\"stylesheet\" href=\"/assets/app.css\">\n"
	             "<script src=\"/assets/uplot.js\" defer></script>"
	             "<script src=\"/assets/app.js\" defer></script></head><body>\n");
	if (simulated) {
		sb_puts(out, "<div class=\"sim\" id=\"simulated\">SIMULATED GPUs (scenario ");
		index_page_escape(out, bi->scenario);
		sb_puts(out, "): every number on this page is made up.</div>\n");
	}
	sb_puts(out, "<main id=\"app\"></main>\n<section id=\"plain\">\n"
	             "<noscript><p>Scripts are off: this is the node as the agent sees it now; "
	             "reload for new values.</p></noscript>\n");
	index_page_body(snap, out);
	sb_puts(out, "</section>\n</body></html>\n");
}
