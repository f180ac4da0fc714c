/* worker.h - sampler internals shared by sampler.c and events.c. */
#ifndef GPUSCOPE_WORKER_H
#define GPUSCOPE_WORKER_H

#include <pthread.h>
#include <stdatomic.h>

#include "sample/mig.h"
#include "sample/sampler.h"
#include "sample/sources.h"

struct gpu_worker {
	struct sampler *s;
	unsigned index;
	nvmlDevice_t dev;
	metric_set supported; /* written by the fast thread before it starts the others */
	/* The sources each tier reads, fixed after the probe (so a sweep does not
	 * re-derive them): plan[tier][0..plan_len[tier]). */
	unsigned char plan[TIER_COUNT][SRC_COUNT];
	int plan_len[TIER_COUNT];
	/* MIG GPU instances, found after the probe (fast thread only). */
	unsigned n_mig;
	struct mig_instance mig[GPU_MAX_MIG];
	pthread_t fast, slow, events;
	/* Set by the fast thread, read by sampler_stop, which may have to
	 * abandon a fast thread stuck in the driver instead of joining it. */
	atomic_bool slow_started, events_started;
	atomic_bool fast_done, slow_done, events_done;
};

struct sampler {
	const struct nvml_lib *lib;
	struct board *board;
	struct sampler_config cfg;
	atomic_bool stop;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* signalled on stop */
	unsigned count;
	struct gpu_worker *workers;
};

/* Sleeps until the monotonic deadline or until stop; returns true on stop. */
bool sampler_sleep_until(struct sampler *s, double deadline);

/* Records an NVML failure of one GPU: lost is final, others mark it failing. */
void sampler_note_error(struct gpu_worker *w, const char *call, nvmlReturn_t rc);

void *events_main(void *arg);

#endif
