/* sampler.h - the threads that read GPUs and publish to the board.
 *
 * Each GPU gets its own threads: a fast one (identity and capability probe
 * first, then the fast tier every --fast-interval), a slow one (the tier of
 * calls that cost milliseconds), and an event one (Xid and ECC events).
 * One thread per GPU per tier costs a few KiB of RSS each and buys the
 * isolation the design promises: a call that hangs on GPU 3 delays nothing
 * but that tier of GPU 3, which the board then reports as stalled.
 */
#ifndef GPUSCOPE_SAMPLER_H
#define GPUSCOPE_SAMPLER_H

#include "nvml/nvml_loader.h"
#include "series/snapshot.h"

struct sampler;

struct sampler_config {
	double fast_s; /* fast tier period, seconds */
	double slow_s; /* slow tier period, seconds */
};

/* Starts one worker per GPU of the board (board->count, already sized from
 * nvmlDeviceGetCount).  Returns NULL with err filled on failure. */
struct sampler *sampler_start(const struct nvml_lib *lib, struct board *board,
                              const struct sampler_config *cfg, char *err, size_t errlen);

/* Waits until every GPU has left the probing state, or timeout_s passed. */
void sampler_wait_probed(struct sampler *s, double timeout_s);

/* Stops and joins the workers.  Returns the number of threads that did not
 * stop within the grace period (hung in a driver call); those are left
 * behind, and the caller must then not unload the library. */
int sampler_stop(struct sampler *s);

#endif
