/* endpoints.h - every path the agent answers, with one line on what it gives.
 *
 * One table, so the index page, the 404 body and `serve --help` can never list
 * a different set of endpoints than the router serves (a test checks each path
 * of the table answers something other than 404).
 */
#ifndef GPUSCOPE_HTTP_ENDPOINTS_H
#define GPUSCOPE_HTTP_ENDPOINTS_H

#include <stddef.h>

struct http_endpoint {
	const char *path;
	const char *what; /* one line, plain text */
};

extern const struct http_endpoint http_endpoints[];
extern const size_t http_endpoint_count;

#endif
