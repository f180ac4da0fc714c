/* pool.h - a few threads that run every GPU's slow jobs when they are due.
 *
 * The slow and costly tiers of a GPU (and, first, its probe) are jobs: a job
 * is due at a time, runs on whichever worker of the pool is free, and says
 * when the GPU's next job is due.  The pool has pool_size(n) workers, at most
 * POOL_WORKERS whatever the GPU count: 64 GPUs share three threads where they
 * had one each.  Three, because slow jobs are short (on an H200 the dearest
 * read, the NVLink data counters, takes 16-19 ms, every 10 min) and a few
 * milliseconds of CPU every few seconds: three keep up with 64 GPUs, and the
 * agent then runs on 16 threads in all with --demo (HTTP, history, alerts,
 * diagnosis, names, fast sweeper, watchdog, events).  None of them wakes for
 * nothing: one idle worker keeps the time of the next due job, the others
 * sleep until woken.
 *
 * A hung driver call must stall only its own GPU, as with a thread per GPU:
 *   - a GPU whose job is in flight gets no new job (one GPU's calls never run
 *     on two workers at once, and a hung GPU holds one worker, not all);
 *   - pool_watch (the sampler's watchdog, every 250 ms) writes off a worker
 *     whose job has run for a whole period of the jobs (pool_hung_after: by
 *     then the GPU has missed a step) and starts another in its place, so the
 *     other GPUs are late by at most a period, inside the board's stall limit
 *     of three.  Not sooner: a slow job may wait, not hang (the workers take
 *     turns at locks: on the simulator, its /proc tree's; under load such a
 *     wait took 1.5 s).
 *     Threads are at most pool_size(n) plus the GPUs hung right now; a
 *     written-off worker whose call comes back finishes its job and leaves
 *     if the pool is at strength without it.
 *
 * The rules (which job next, when a job is hung, the grid of due times) are
 * plain functions of the slots and a time, for the unit test
 * (tests/unit/test_pool.c); the rest is the threads around them.
 */
#ifndef GPUSCOPE_POOL_H
#define GPUSCOPE_POOL_H

#include <stdbool.h>

#define POOL_WORKERS    3   /* threads for any number of GPUs above it */
#define POOL_HUNG_MIN_S 2.0 /* a job is never taken as hung sooner */

/* One GPU's place in the pool; guarded by the pool's lock. */
struct pool_slot {
	double due;       /* monotonic seconds its next job is due; INFINITY: no more jobs */
	double since;     /* when the job in flight began */
	bool running;     /* a worker is in this GPU's job */
	bool written_off; /* that worker counts as hung: another took its place */
};

/* A GPU's job: returns when its next job is due (monotonic seconds; at once: now or
 * earlier), or INFINITY for none (the GPU is lost or could not be opened). */
typedef double (*pool_job_fn)(void *arg, unsigned gpu);

struct pool;

/* Workers for n GPUs: min(n, POOL_WORKERS). */
unsigned pool_size(unsigned n);

/* The GPU to run now: of the slots not running whose job is due at `now`, the one due
 * earliest (the lowest index on a tie); -1 when none, with *next_due the earliest due
 * time of a slot not running (INFINITY: none). */
int pool_pick(const struct pool_slot *slot, unsigned n, double now, double *next_due);

/* How long a job runs before its worker is written off, for jobs every `period` seconds:
 * the period, at least POOL_HUNG_MIN_S. */
double pool_hung_after(double period);

/* True when slot's job has run for hung_s and its worker is not yet written off. */
bool pool_slot_hung(const struct pool_slot *slot, double now, double hung_s);

/* The first time after `now` on the grid origin + k * period (k whole): GPUs whose jobs
 * follow one grid fall due together, and one wake-up serves them back to back. */
double pool_grid_next(double origin, double period, double now);

/* Starts pool_size(n) workers named "<name>N" for n GPUs, every job due at once; a job
 * that runs for hung_s has its worker replaced.  NULL when no worker could be started. */
struct pool *pool_start(unsigned n, pool_job_fn job, void *arg, const char *name, double hung_s);

/* Writes off the workers of hung jobs and starts workers to bring the pool back to
 * strength; returns the number of GPUs found hung by this call. */
unsigned pool_watch(struct pool *p);

/* Stops the workers: joins those that end by `deadline` (monotonic seconds) and leaves
 * behind those stuck in a job.  Frees the pool unless some were left; returns their
 * number. */
int pool_stop(struct pool *p, double deadline);

#endif
