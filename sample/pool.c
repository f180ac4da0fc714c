/* pool.c - the GPUs' slow jobs on a bounded set of threads (see pool.h).
 *
 * One lock guards the slots, the counts and the timer; a job runs outside it.
 * Waking: a worker that takes a job signals one idle worker, which runs the
 * next due job or becomes the timer (the one idle worker in a timed wait).
 * When many GPUs fall due together, the wake-ups chain through the idle
 * workers, so a batch costs about one wake-up per worker, not per GPU.
 */
#include "sample/pool.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sample/worker.h"
#include "series/now.h"

struct pool_thread {
	struct pool *p;
	int id;
	bool used;        /* started and not joined yet */
	atomic_bool done; /* left its loop: joins at once */
	pthread_t thread;
};

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	pool_job_fn job;
	void *arg;
	char name[16];
	double hung_s;
	unsigned n, size;
	unsigned live;        /* workers started that have not left */
	unsigned stuck;       /* of those, written off in a hung job */
	double timer_at;      /* the deadline an idle worker keeps; INFINITY: none */
	unsigned max_threads; /* size + n: a GPU holds at most one written-off worker */
	struct pool_thread *threads;
	struct pool_slot slot[];
};

unsigned pool_size(unsigned n)
{
	return n < POOL_WORKERS ? n : POOL_WORKERS;
}

int pool_pick(const struct pool_slot *slot, unsigned n, double now, double *next_due)
{
	int best = -1;
	*next_due = INFINITY;
	for (unsigned g = 0; g < n; g++) {
		if (slot[g].running || slot[g].due >= *next_due)
			continue;
		*next_due = slot[g].due;
		best = (int)g;
	}
	return best >= 0 && *next_due <= now ? best : -1;
}

double pool_hung_after(double period)
{
	return period > POOL_HUNG_MIN_S ? period : POOL_HUNG_MIN_S;
}

bool pool_slot_hung(const struct pool_slot *slot, double now, double hung_s)
{
	return slot->running && !slot->written_off && now - slot->since >= hung_s;
}

double pool_grid_next(double origin, double period, double now)
{
	return origin + (floor((now - origin) / period) + 1) * period;
}

static struct timespec mono_timespec(double t)
{
	struct timespec ts = {.tv_sec = (time_t)t};
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	return ts;
}

/* Nothing is due: the first idle worker to see the earliest due time keeps it; the others
 * wait to be woken.  Caller holds the lock. */
static void pool_idle(struct pool *p, double next)
{
	if (next >= p->timer_at) {
		pthread_cond_wait(&p->wake, &p->lock);
		return;
	}
	p->timer_at = next;
	struct timespec ts = mono_timespec(next);
	pthread_cond_timedwait(&p->wake, &p->lock, &ts);
	if (p->timer_at == next)
		p->timer_at = INFINITY;
}

static void *pool_worker(void *arg)
{
	struct pool_thread *t = arg;
	struct pool *p = t->p;
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		double next;
		int g = pool_pick(p->slot, p->n, mono_now(), &next);
		if (g < 0) {
			pool_idle(p, next);
			continue;
		}
		struct pool_slot *sl = &p->slot[g];
		sl->running = true;
		sl->since = mono_now();
		/* This worker may have kept the time: an idle one runs the next due job or
		 * keeps the time in its place. */
		pthread_cond_signal(&p->wake);
		pthread_mutex_unlock(&p->lock);
		double due = p->job(p->arg, (unsigned)g);
		pthread_mutex_lock(&p->lock);
		sl->running = false;
		sl->due = due;
		if (sl->written_off) {
			sl->written_off = false;
			p->stuck--;
			if (p->live - p->stuck > p->size)
				break; /* its replacement keeps the pool at strength */
		}
	}
	p->live--;
	pthread_mutex_unlock(&p->lock);
	atomic_store(&t->done, true);
	return NULL;
}

/* Starts a worker in a free record (one never used, or of a worker that left); caller holds
 * the lock.  Returns 0, or -1 when stopping or none could start. */
static int pool_spawn(struct pool *p)
{
	for (unsigned i = 0; i < p->max_threads && !p->stop; i++) {
		struct pool_thread *t = &p->threads[i];
		if (t->used && !atomic_load(&t->done))
			continue;
		if (t->used)
			pthread_join(t->thread, NULL); /* it has left its loop: returns at once */
		t->used = false;
		t->p = p;
		t->id = (int)i;
		atomic_store(&t->done, false);
		if (pthread_create(&t->thread, NULL, pool_worker, t) != 0)
			return -1;
		/* Named here, so the name is there once this returns. */
		char name[32];
		snprintf(name, sizeof(name), "%s%d", p->name, t->id);
		name[15] = '\0'; /* the kernel's limit */
		pthread_setname_np(t->thread, name);
		t->used = true;
		p->live++;
		return 0;
	}
	return -1;
}

/* Starts workers until the pool is at strength; caller holds the lock. */
static void pool_fill(struct pool *p)
{
	while (p->live - p->stuck < p->size && pool_spawn(p) == 0)
		;
}

struct pool *pool_start(unsigned n, pool_job_fn job, void *arg, const char *name, double hung_s)
{
	struct pool *p = calloc(1, sizeof(*p) + n * sizeof(p->slot[0]));
	if (!p)
		return NULL;
	p->job = job;
	p->arg = arg;
	p->n = n;
	p->hung_s = hung_s;
	p->size = pool_size(n);
	p->max_threads = p->size + n;
	p->timer_at = INFINITY;
	snprintf(p->name, sizeof(p->name), "%s", name);
	/* Every slot is due at once (calloc: due 0). */
	if (!(p->threads = calloc(p->max_threads ? p->max_threads : 1, sizeof(*p->threads)))) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_lock(&p->lock);
	pool_fill(p);
	bool started = p->live > 0;
	pthread_mutex_unlock(&p->lock);
	if (!started) {
		pool_stop(p, mono_now());
		return NULL;
	}
	return p;
}

unsigned pool_watch(struct pool *p)
{
	double now = mono_now();
	unsigned found = 0;
	pthread_mutex_lock(&p->lock);
	for (unsigned g = 0; g < p->n; g++) {
		struct pool_slot *sl = &p->slot[g];
		if (!pool_slot_hung(sl, now, p->hung_s))
			continue;
		sl->written_off = true;
		p->stuck++;
		found++;
		fprintf(stderr,
		        "gpuscope: GPU %u: its slow-tier step has run for %.1f s (a driver call "
		        "hung?); the other GPUs' slow tiers go on without its thread\n",
		        g, now - sl->since);
	}
	pool_fill(p);
	pthread_mutex_unlock(&p->lock);
	return found;
}

int pool_stop(struct pool *p, double deadline)
{
	if (!p)
		return 0;
	pthread_mutex_lock(&p->lock);
	p->stop = true; /* from here no worker starts: the records are read without the lock */
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	int hung = 0;
	for (unsigned i = 0; i < p->max_threads; i++)
		if (p->threads[i].used)
			hung += sampler_join_or_abandon(p->threads[i].thread, &p->threads[i].done,
			                                deadline);
	if (hung)
		return hung; /* a worker still in the driver uses the pool */
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p);
	return 0;
}
