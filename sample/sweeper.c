/* sweeper.c - the threads that run the fast tier, and the watchdog that keeps
 * one bad GPU from holding back the others.
 *
 * One shared sweeper runs the fast step of every GPU it owns, one after the
 * other, once per --fast-interval: sweeps back to back find the driver warm
 * and cost about a quarter of the CPU of per-GPU threads that each wake up
 * cold (bench/README.md).  The price is coupling, which two rules undo:
 *
 *   - slow: a GPU whose fast step takes longer than ISOLATE_SLOW_S (or half
 *     the fast interval, if that is longer) three times in a row gets a
 *     sweeper of its own; the shared one goes on without it;
 *   - hung: when the shared sweeper has been inside one GPU's step for
 *     ISOLATE_HUNG_S, the watchdog gives that thread to the hung GPU (it will
 *     serve only that GPU, if the call ever returns) and starts a new shared
 *     sweeper for the rest.  The others miss about a second of samples, well
 *     inside the board's stall limit, and the hung GPU shows as stalled.
 *
 * A GPU is stepped by at most one thread at a time (gpu_worker.stepping), so
 * the hand-over can never run one GPU's NVML calls on two threads at once.
 * A GPU moved out never moves back: the rules are for faults, not load.
 */
#include "sample/worker.h"

#include <stdio.h>
#include <time.h>

#define ISOLATE_SLOW_S  0.025
#define ISOLATE_HUNG_S  1.0
#define WATCHDOG_TICK_S 0.25
#define SLOW_STRIKES    3

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *sweeper_main(void *arg);

/* Starts sweeper `dedicated` (-1: a shared one); caller holds s->lock.
 * Returns its index, or -1. */
static int sweeper_spawn(struct sampler *s, int dedicated)
{
	if (s->n_sweepers >= s->max_sweepers || atomic_load(&s->stop))
		return -1;
	int id = s->n_sweepers;
	struct sweeper *sw = &s->sweepers[id];
	sw->s = s;
	sw->id = id;
	atomic_init(&sw->dedicated, dedicated);
	atomic_init(&sw->current, -1);
	atomic_init(&sw->since_ns, 0);
	atomic_init(&sw->done, false);
	if (dedicated >= 0)
		atomic_store(&s->workers[dedicated].owner, id);
	if (pthread_create(&sw->thread, NULL, sweeper_main, sw) != 0) {
		if (dedicated >= 0)
			atomic_store(&s->workers[dedicated].owner, OWNER_SHARED);
		return -1;
	}
	atomic_store(&sw->started, true);
	s->n_sweepers++;
	return id;
}

/* Runs GPU w's fast step unless another thread is in it. */
static double step(struct sweeper *sw, struct gpu_worker *w)
{
	bool idle = false;
	if (!atomic_compare_exchange_strong(&w->stepping, &idle, true))
		return 0;
	atomic_store(&sw->since_ns, now_ns());
	atomic_store(&sw->current, (int)w->index);
	double t0 = mono_now();
	sampler_fast_step(w);
	double took = mono_now() - t0;
	atomic_store(&sw->current, -1);
	atomic_store(&w->stepping, false);
	return took;
}

static void *sweeper_main(void *arg)
{
	struct sweeper *sw = arg;
	struct sampler *s = sw->s;
	char name[16];
	snprintf(name, sizeof(name), "gpuscope-fast%d", sw->id);
	pthread_setname_np(pthread_self(), name);
	double slow_limit = s->cfg.fast_s / 2 > ISOLATE_SLOW_S ? s->cfg.fast_s / 2 : ISOLATE_SLOW_S;
	double due = mono_now();
	while (!atomic_load(&s->stop)) {
		int mine = atomic_load(&sw->dedicated);
		for (unsigned i = 0; i < s->count && !atomic_load(&s->stop); i++) {
			struct gpu_worker *w = &s->workers[i];
			int owner = atomic_load(&w->owner);
			if (mine >= 0 ? (unsigned)mine != i || owner != sw->id
			              : owner != OWNER_SHARED)
				continue;
			double took = step(sw, w);
			if (atomic_load(&sw->dedicated) != mine)
				break; /* the watchdog gave this thread to a hung GPU */
			if (mine >= 0)
				continue;
			w->slow_steps = took > slow_limit ? w->slow_steps + 1 : 0;
			if (w->slow_steps >= SLOW_STRIKES) {
				pthread_mutex_lock(&s->lock);
				if (sweeper_spawn(s, (int)i) >= 0)
					fprintf(stderr,
					        "gpuscope: GPU %u: fast sweeps take %.0f ms; "
					        "sampling it on a thread of its own\n",
					        i, took * 1e3);
				pthread_mutex_unlock(&s->lock);
			}
		}
		if (sampler_sleep_to_next(s, &due, s->cfg.fast_s))
			break;
	}
	atomic_store(&sw->done, true);
	return NULL;
}

/* Every WATCHDOG_TICK_S: is the shared sweeper stuck in one GPU?  Is a pool worker stuck in
 * one GPU's slow job (pool_watch)? */
static void *watchdog_main(void *arg)
{
	struct sampler *s = arg;
	pthread_setname_np(pthread_self(), "gpuscope-watch");
	while (!sampler_sleep_until(s, mono_now() + WATCHDOG_TICK_S)) {
		pthread_mutex_lock(&s->lock);
		struct sweeper *sh = s->shared >= 0 ? &s->sweepers[s->shared] : NULL;
		int g = sh ? atomic_load(&sh->current) : -1;
		long long since = sh ? atomic_load(&sh->since_ns) : 0;
		if (g >= 0 && (double)(now_ns() - since) / 1e9 >= ISOLATE_HUNG_S &&
		    s->n_sweepers < s->max_sweepers) {
			/* The stuck thread keeps the hung GPU; a new one takes the rest. */
			atomic_store(&s->workers[g].owner, sh->id);
			atomic_store(&sh->dedicated, g);
			int fresh = sweeper_spawn(s, -1);
			s->shared = fresh;
			fprintf(stderr,
			        "gpuscope: GPU %d: a driver call has not returned for %.1f s; "
			        "the other GPUs are sampled on a new thread\n",
			        g, (double)(now_ns() - since) / 1e9);
		}
		pthread_mutex_unlock(&s->lock);
		if (s->pool)
			pool_watch(s->pool);
	}
	atomic_store(&s->watchdog_done, true);
	return NULL;
}

int sweepers_start(struct sampler *s)
{
	pthread_mutex_lock(&s->lock);
	s->shared = sweeper_spawn(s, -1);
	pthread_mutex_unlock(&s->lock);
	if (s->shared < 0)
		return -1;
	atomic_store(&s->watchdog_started,
	             pthread_create(&s->watchdog, NULL, watchdog_main, s) == 0);
	return 0;
}

int sweepers_stop(struct sampler *s, double deadline)
{
	int hung = 0;
	if (atomic_load(&s->watchdog_started))
		hung += sampler_join_or_abandon(s->watchdog, &s->watchdog_done, deadline);
	/* No new sweeper starts once the watchdog is gone and stop is set. */
	pthread_mutex_lock(&s->lock);
	int n = s->n_sweepers;
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < n; i++)
		if (atomic_load(&s->sweepers[i].started))
			hung += sampler_join_or_abandon(s->sweepers[i].thread, &s->sweepers[i].done,
			                                deadline);
	return hung;
}
