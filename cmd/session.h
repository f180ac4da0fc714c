/* session.h - opening NVML (real or simulated) for a command. */
#ifndef GPUSCOPE_SESSION_H
#define GPUSCOPE_SESSION_H

#include "cmd/options.h"
#include "nvml/nvml_loader.h"
#include "series/snapshot.h"

struct session {
	struct nvml_lib lib;
	bool initialized;
	unsigned count;
	struct board_info info;
};

/* Loads the library, initializes NVML and reads versions and GPU count.
 * On failure prints one clear message and returns -1. */
int session_open(struct session *s, const struct gpu_opts *o);
/* Shuts NVML down and unloads it, unless threads are still inside it. */
void session_close(struct session *s, bool threads_hung);

#endif
