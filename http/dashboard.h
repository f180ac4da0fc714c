/* dashboard.h - the agent's `/`: the web dashboard's page, and its assets under /assets/.
 *
 * The page is rendered by the agent from a board snapshot, so its first paint already holds
 * the node, every GPU and every endpoint (index_page_body), which is also all a browser
 * without scripts gets; web/app.js then builds the live dashboard from the JSON API over
 * it.  Every response carries a strict Content Security Policy: scripts, styles and
 * requests from this origin only, no inline script or style, no frames, no forms.  Under
 * --demo the SIMULATED banner leads the page.  `/?plain` is the index page alone.
 */
#ifndef GPUSCOPE_HTTP_DASHBOARD_H
#define GPUSCOPE_HTTP_DASHBOARD_H

#include "export/strbuf.h"
#include "series/snapshot.h"

/* The Content-Security-Policy header of the page and its assets. */
extern const char dashboard_csp[];

/* Appends the page to out (out->oom on allocation failure). */
void dashboard_render(const struct board_snapshot *snap, struct strbuf *out);

#endif
