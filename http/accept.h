/* accept.h - reading the client's Accept and Accept-Encoding headers.
 *
 * Split out of server.c so the one parser of these outside strings is a pure function that
 * the unit tests and the fuzz target (fuzz/fuzz_accept.c) reach without a server. */
#ifndef GPUSCOPE_HTTP_ACCEPT_H
#define GPUSCOPE_HTTP_ACCEPT_H

#include <stdbool.h>

/* True when the comma-separated header value (NULL: absent) lists token, case-insensitively,
 * with no q parameter or q > 0: "gzip, deflate;q=0" allows gzip, "gzip;q=0" does not. */
bool http_header_allows(const char *value, const char *token);

#endif
