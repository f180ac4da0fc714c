/* worker.h - sampler internals shared by sampler.c, sweeper.c, events.c and pool.c. */
#ifndef GPUSCOPE_WORKER_H
#define GPUSCOPE_WORKER_H

#include <pthread.h>
#include <stdatomic.h>

#include "sample/attribution.h"
#include "sample/mig.h"
#include "sample/pool.h"
#include "sample/sampler.h"
#include "sample/schedule.h"
#include "sample/sources.h"

/* Who runs a GPU's fast tier (gpu_worker.owner). */
#define OWNER_NONE   (-2) /* not probed yet, or lost: nobody */
#define OWNER_SHARED (-1) /* the shared sweeper, with the other well-behaved GPUs */
/* >= 0: the sweeper of that index, dedicated to this GPU alone */

struct gpu_worker {
	struct sampler *s;
	unsigned index;
	nvmlDevice_t dev;
	metric_set supported; /* written by the probe before the GPU is handed over */
	char uuid[96];        /* for the attribution's kubelet lookup */
	/* Every source the sampler reads for this GPU, {source, period, next due}, fixed after
	 * the probe.  An entry is touched only by the thread that reads its source (the
	 * sweeper's by the sweeper holding `stepping`, the worker's by the GPU's pool job). */
	struct schedule sched;
	/* MIG GPU instances, found after the probe (fast tier): n_mig of them, allocated only
	 * when MIG is on (GPU_MAX_MIG of 10 KB each made every worker 75 KB); NULL when off. */
	unsigned n_mig;
	struct mig_instance *mig;

	/* Fast-tier state, touched only by the sweeper holding `stepping`. */
	struct source_ctx *fast;
	atomic_int owner;
	atomic_bool stepping; /* a sweeper is in this GPU's fast step */
	enum gpu_health reported;
	int slow_steps;     /* consecutive fast steps over the isolation threshold */
	double fast_reads;  /* fast-tier NVML reads so far (gpuscope_sample_reads_total) */
	atomic_int n_procs; /* the slow tier's last process count, for the idle rule
	                     * (SCHED_PROCS_* when none); written by the GPU's pool job */

	/* The probe and slow tier, run as jobs on the pool: one job of a GPU at a time, so
	 * these are touched by one thread at a time. */
	bool probed;
	struct source_ctx *slow;
	struct attribution_gpu *procs; /* its processes (NULL when attribution is off) */

	/* Events (events.c): the probe sets the mask, then raises ev_wanted; the rest is the
	 * event thread's. */
	unsigned long long ev_mask;
	atomic_bool ev_wanted;
	bool ev_registered; /* in the event thread's set now */
	bool ev_counting;   /* registered once: its counts are published */
	double xids, dbes;
};

/* A thread running fast steps: the shared one (dedicated < 0) serves every GPU
 * owned OWNER_SHARED; a dedicated one serves the GPU it was given. */
struct sweeper {
	struct sampler *s;
	int id;
	pthread_t thread;
	atomic_int dedicated;  /* -1 shared; else the GPU it serves alone */
	atomic_int current;    /* GPU in a fast step now, -1 between steps */
	atomic_llong since_ns; /* monotonic ns the current step began */
	atomic_bool started, done;
};

struct sampler {
	const struct nvml_lib *lib;
	struct board *board;
	struct sampler_config cfg;
	double started_at; /* monotonic seconds, for the profile (sample/profile.h) */
	atomic_bool stop;
	pthread_mutex_t lock; /* sleeps, and the sweeper table */
	pthread_cond_t wake;  /* signalled on stop */
	unsigned count;
	struct gpu_worker *workers;
	struct sweeper *sweepers; /* room for 2 * count + 1: see sweeper.c */
	int n_sweepers, max_sweepers;
	int shared; /* index of the current shared sweeper, -1 when none */
	pthread_t watchdog;
	atomic_bool watchdog_started, watchdog_done;
	struct pool *pool;       /* the probes and slow tiers of every GPU (pool.h) */
	atomic_uint probes_left; /* GPUs whose probe has not finished */
	pthread_t events;        /* the one event thread (events.c) */
	atomic_bool events_started, events_done;
};

/* Sleeps until the monotonic deadline or until stop; returns true on stop. */
bool sampler_sleep_until(struct sampler *s, double deadline);

/* Fixed-rate schedule: the next run is due one period after the last was
 * due; a run that overran skips ahead rather than bursting.  True on stop. */
bool sampler_sleep_to_next(struct sampler *s, double *due, double period);

/* Records an NVML failure of one GPU: lost is final, others mark it failing. */
void sampler_note_error(struct gpu_worker *w, const char *call, nvmlReturn_t rc);

/* One step of one thread for one GPU: reads the sources of that thread that are due at
 * `now` and publishes them (sampler.c).  `tier` is the thread's own: TIER_FAST for the
 * sweeper, TIER_SLOW for the worker. */
enum gpu_health sampler_sweep(struct gpu_worker *w, struct source_ctx *ctx, enum sample_tier tier,
                              double now, int duration_metric, char *why, size_t whylen);

/* The fast step of one GPU: its due sweeper sources and MIG instances (sampler.c). */
void sampler_fast_step(struct gpu_worker *w);

/* Starts the shared sweeper and the watchdog, which also watches the pool (sweeper.c). */
int sweepers_start(struct sampler *s);
/* Joins (or abandons) every sweeper and the watchdog; returns threads left hung. */
int sweepers_stop(struct sampler *s, double deadline);

/* Joins a thread if it finishes by the deadline; a thread stuck in the driver
 * is left behind (detached), and 1 is returned. */
int sampler_join_or_abandon(pthread_t t, atomic_bool *done, double deadline);

/* The event thread of every GPU; arg is the sampler (events.c). */
void *events_main(void *arg);

#endif
