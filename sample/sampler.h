/* sampler.h - the threads that read GPUs and publish to the board.
 *
 * Whatever the GPU count, a few threads: a pool of at most three workers runs
 * each GPU's identity and capability probe, then its slow tier (calls that
 * cost milliseconds) every slow interval; one event thread waits on one NVML
 * event set holding every GPU (Xid and ECC events); one shared sweeper runs
 * the fast tier of all GPUs, because sweeps back to back are four times
 * cheaper than sweeps that each wake up cold; a watchdog watches both.  A GPU
 * whose fast step hangs or keeps running slow is moved to a thread of its own
 * (sweeper.c), and a pool worker stuck in a GPU's slow job is replaced
 * (pool.h), so a call that hangs on GPU 3 delays the other GPUs by at most
 * about a second, and GPU 3 shows as stalled.
 */
#ifndef GPUSCOPE_SAMPLER_H
#define GPUSCOPE_SAMPLER_H

#include "nvml/nvml_loader.h"
#include "series/snapshot.h"

struct sampler;
struct attribution;

/* --idle-interval's default: the idle rule (sample/schedule.h). */
#define SAMPLER_IDLE_DEFAULT_S 1.0

struct sampler_config {
	double fast_s;   /* fast tier period, seconds */
	double slow_s;   /* slow tier period, seconds */
	double costly_s; /* period of the calls that cost milliseconds of CPU */
	double gpm_s;    /* GPM sample period (fast steps round it up; 0: every 200 ms) */
	double idle_s;   /* fast sources of an idle GPU, the idle rule (schedule.h); 0: off */
	/* Per-process attribution on the slow tier (sample/attribution.h); NULL: off. */
	struct attribution *attribution;
};

/* Starts sampling every GPU of the board (board->count, already sized from
 * nvmlDeviceGetCount).  Returns NULL with err filled on failure. */
struct sampler *sampler_start(const struct nvml_lib *lib, struct board *board,
                              const struct sampler_config *cfg, char *err, size_t errlen);

/* Waits until every GPU has left the probing state, or timeout_s passed. */
void sampler_wait_probed(struct sampler *s, double timeout_s);

/* Stops and joins the threads.  Returns the number of threads that did not
 * stop within the grace period (hung in a driver call); those are left
 * behind, and the caller must then not unload the library. */
int sampler_stop(struct sampler *s);

#endif
