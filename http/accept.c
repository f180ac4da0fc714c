/* accept.c - Accept and Accept-Encoding: does the client allow this type or coding?
 *
 * Deliberately small: exposition needs one yes/no per header (OpenMetrics or text, gzip or
 * identity), so a token is allowed when listed without "q=0"; ordering by q is not needed. */
#include "http/accept.h"

#include <stdlib.h>
#include <string.h>

bool http_header_allows(const char *value, const char *token)
{
	if (!value)
		return false;
	size_t tl = strlen(token);
	for (const char *p = value; (p = strcasestr(p, token)) != NULL; p += tl) {
		bool starts = p == value || p[-1] == ',' || p[-1] == ' ';
		char after = p[tl];
		if (!starts || (after && after != ',' && after != ';' && after != ' '))
			continue;
		const char *q = strstr(p + tl, "q=");
		const char *comma = strchr(p + tl, ',');
		if (q && (!comma || q < comma) && strtod(q + 2, NULL) <= 0.0)
			return false;
		return true;
	}
	return false;
}
