/* assets.h - the dashboard's static files, compiled into the binary.
 *
 * web/embed.c turns web/app.js, web/app.css and uPlot (installed by npm from
 * web/package-lock.json at configure time) into byte arrays, each also gzip-compressed
 * once at build time, so serving one is a pointer and a length: no file is read at run
 * time and no request ever leaves the node.  When npm or node was missing, uPlot's place
 * holds a one-line script saying so, and the page works without charts.
 */
#ifndef GPUSCOPE_WEB_ASSETS_H
#define GPUSCOPE_WEB_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

struct web_asset {
	const char *path; /* "/assets/app.js" */
	const char *type; /* Content-Type */
	const unsigned char *data, *gz;
	size_t len, gz_len;
};

/* The asset served at path, or NULL. */
const struct web_asset *web_asset_find(const char *path);

/* True when uPlot was bundled (npm worked at build time). */
extern const bool web_charts_bundled;

#endif
