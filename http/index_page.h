/* index_page.h - the agent's `/`: the node, its GPUs, and every endpoint.
 *
 * A small self-contained HTML page (no script, no external asset) built from a board
 * snapshot, so a person who opens the port in a browser learns what the agent is, what it
 * sees and where to look next.  Under --demo it carries the same SIMULATED banner as the
 * terminal, so a screenshot of a simulator never passes for a real node.
 */
#ifndef GPUSCOPE_HTTP_INDEX_PAGE_H
#define GPUSCOPE_HTTP_INDEX_PAGE_H

#include "export/strbuf.h"
#include "series/snapshot.h"

/* Appends the page to out (out->oom on allocation failure). */
void index_page_render(const struct board_snapshot *snap, struct strbuf *out);

/* Appends the page's body only (banner, node, GPU table, endpoints), without <html>,
 * <head> or style: the dashboard (http/dashboard.c) shows it as its no-script content. */
void index_page_body(const struct board_snapshot *snap, struct strbuf *out);

/* Appends s with the HTML-special characters escaped. */
void index_page_escape(struct strbuf *out, const char *s);

/* Appends "not found" and every endpoint, one a line: the 404 body. */
void index_page_not_found(struct strbuf *out);

#endif
