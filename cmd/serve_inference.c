/* serve_inference.c - `gpuscope serve`'s inference-socket flags (see serve_inference.h). */
#include "cmd/serve_inference.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char serve_inference_usage[] =
    "  --inference-socket PATH  datagram socket for `gpuscope run` programs' inferences\n"
    "                         (default $XDG_RUNTIME_DIR/gpuscope-inference.sock, else\n"
    "                         /run/gpuscope/inference.sock as root, else\n"
    "                         /tmp/gpuscope-UID-inference.sock; 'none': off)\n"
    "  --inference-cap N      gpuscope_inference_* series (process, workload, range)\n"
    "                         before the rest fold into \"_other\", 1-1024 (default 32)\n";

int serve_inference_take(struct inference_receiver *si, int argc, char **argv, int *i, char *err,
                         size_t errlen)
{
	const char *a = argv[*i];
	bool has = *i + 1 < argc;
	if (!strcmp(a, "--inference-socket") && has) {
		si->path_opt = argv[++*i];
		if (strlen(si->path_opt) >= sizeof(si->path)) {
			snprintf(err, errlen, "--inference-socket: path longer than %zu bytes",
			         sizeof(si->path) - 1);
			return -1;
		}
		return 1;
	}
	if (!strcmp(a, "--inference-cap") && has) {
		char *end;
		unsigned long n = strtoul(argv[++*i], &end, 10);
		if (*end || n < 1 || n > INFERENCE_CAP_MAX) {
			snprintf(err, errlen, "--inference-cap '%s': give 1 to %d", argv[*i],
			         INFERENCE_CAP_MAX);
			return -1;
		}
		si->cap = (unsigned)n;
		return 1;
	}
	return 0;
}
