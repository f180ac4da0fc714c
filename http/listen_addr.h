/* listen_addr.h - parse --listen: ":9400", "9400", "127.0.0.1:9400",
 * "[::1]:9400", "localhost:9400", "0.0.0.0:0" (port 0: any free port). */
#ifndef GPUSCOPE_LISTEN_ADDR_H
#define GPUSCOPE_LISTEN_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct listen_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	bool any; /* no host given: all IPv4 and IPv6 addresses */
	unsigned port;
};

/* Returns 0, or -1 with a sentence in err. */
int listen_addr_parse(const char *text, struct listen_addr *out, char *err, size_t errlen);

#endif
