/* socket.c - the inference socket's paths (see socket.h). */
#include "inference/socket.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

void inference_socket_default(char *out, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg && xdg[0])
		snprintf(out, len, "%s/gpuscope-inference.sock", xdg);
	else if (geteuid() == 0)
		snprintf(out, len, "/run/gpuscope/inference.sock");
	else
		snprintf(out, len, "/tmp/gpuscope-%u-inference.sock", (unsigned)geteuid());
}

void inference_socket_find(char *out, size_t len)
{
	char cand[3][256];
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	snprintf(cand[0], sizeof(cand[0]), "%s/gpuscope-inference.sock", xdg ? xdg : "");
	snprintf(cand[1], sizeof(cand[1]), "/run/gpuscope/inference.sock");
	snprintf(cand[2], sizeof(cand[2]), "/tmp/gpuscope-%u-inference.sock", (unsigned)geteuid());
	for (int i = xdg && xdg[0] ? 0 : 1; i < 3; i++) {
		struct stat st;
		if (stat(cand[i], &st) == 0 && S_ISSOCK(st.st_mode)) {
			snprintf(out, len, "%s", cand[i]);
			return;
		}
	}
	inference_socket_default(out, len);
}
