/* session.h - opening NVML (real or simulated) for a command. */
#ifndef GPUSCOPE_SESSION_H
#define GPUSCOPE_SESSION_H

#include "cmd/options.h"
#include "nvml/nvml_loader.h"
#include "sample/sampler.h"
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

/* The board and its sampler threads, as serve and doctor run them. */
struct sampling {
	struct board board;
	struct sampler *sampler;
	bool hung; /* after sampling_stop: threads were left in the driver */
};

/* Opens the session and starts sampling every GPU; prints why on failure. */
int sampling_start(struct sampling *x, struct session *s, const struct gpu_opts *o,
                   const struct sampler_config *cfg);
/* Stops the threads, then frees the board and closes the session unless a
 * thread is stuck in the driver (then both stay, and it says so). */
void sampling_stop(struct sampling *x, struct session *s);

#endif
