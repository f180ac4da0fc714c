/* listen_addr.c - --listen parsing; names resolve once, at start. */
#include "http/listen_addr.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_port(const char *s, unsigned *port)
{
	if (!*s || strlen(s) > 5)
		return -1;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return -1;
	unsigned long v = strtoul(s, NULL, 10);
	if (v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

int listen_addr_parse(const char *text, struct listen_addr *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	char host[256] = "";
	const char *port_text;
	if (!text || !*text || strlen(text) >= sizeof(host))
		goto bad;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':')
			goto bad;
		memcpy(host, text + 1, (size_t)(close - text - 1));
		host[close - text - 1] = 0;
		port_text = close + 2;
	} else {
		const char *colon = strrchr(text, ':');
		if (colon) {
			if (strchr(text, ':') != colon)
				goto bad; /* bare IPv6 needs brackets */
			memcpy(host, text, (size_t)(colon - text));
			host[colon - text] = 0;
			port_text = colon + 1;
		} else {
			port_text = text;
		}
	}
	if (parse_port(port_text, &out->port) != 0)
		goto bad;
	if (!host[0]) {
		out->any = true;
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->ss;
		a6->sin6_family = AF_INET6;
		a6->sin6_addr = in6addr_any;
		a6->sin6_port = htons((uint16_t)out->port);
		out->len = sizeof(*a6);
		return 0;
	}
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0 || !res) {
		snprintf(err, errlen, "--listen %s: cannot resolve host '%s': %s", text, host,
		         gai_strerror(rc));
		return -1;
	}
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	if (res->ai_family == AF_INET)
		((struct sockaddr_in *)&out->ss)->sin_port = htons((uint16_t)out->port);
	else
		((struct sockaddr_in6 *)&out->ss)->sin6_port = htons((uint16_t)out->port);
	freeaddrinfo(res);
	return 0;
bad:
	snprintf(err, errlen,
	         "--listen '%s' is not an address: use PORT, :PORT, HOST:PORT or [IPv6]:PORT "
	         "(port 0-65535)",
	         text ? text : "");
	return -1;
}
