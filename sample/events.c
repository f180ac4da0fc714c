/* events.c - Xid and double-bit ECC events of every GPU, on one thread.
 *
 * One NVML event set holds every GPU that supports events: the thread waits
 * in nvmlEventSetWait on it and maps each event back to its GPU by the
 * device handle the event carries.  One thread for 64 GPUs, where a thread
 * per GPU cost 64 wake-ups every 500 ms.  Counts are published as they
 * arrive, so no event is lost between scrapes: a scrape sees the running
 * total.
 *
 * Only this thread touches the set.  A GPU's probe (a pool job) says which
 * events it wants and raises ev_wanted; the thread registers such GPUs before
 * each wait.  It first waits for the probes, up to EVENT_SETTLE_S, so most
 * GPUs are registered at once; a later one waits at most one wait.
 *
 * A GPU that falls off the bus makes the wait return GPU_IS_LOST without
 * saying which GPU (the driver does so for the whole set).  The thread then
 * builds a new set: the lost GPU's registration fails and it is left out,
 * and the others go on.  Events still queued in the old set are lost with
 * it, on that rare path only.
 *
 * Not every driver sleeps in that wait: on a 4-GPU H200 host (driver 580)
 * each waiting thread burned 65-80% of a core, busy-polling inside the
 * driver, while on a 1-GPU H200 VM it cost nothing.  So the thread measures
 * its own CPU across a wait; when a wait burns more than a quarter of its
 * length, it switches for good to polling: a zero-timeout wait, drained until
 * empty (at most EVENT_DRAIN_MAX events), every EVENT_POLL_MS.  Events queue
 * in the set meanwhile, so none is lost; they are seen up to a second later.
 * The same switch happens when the thread as a whole spends more than a
 * quarter of a core over a second, whatever the cause (once, on that 4-GPU
 * host, waits returned at once over and over while CUDA processes ran).
 */
#include "sample/worker.h"
#include "series/xid_log.h"

#include <stdio.h>
#include <time.h>

#define EVENT_WAIT_MS   500
#define EVENT_POLL_MS   1000
#define EVENT_DRAIN_MAX 64  /* events taken per poll, at most */
#define EVENT_SETTLE_S  2.0 /* how long the thread waits for the probes before its first wait */

/* The state of the waiting loop: the set and the CPU guard. */
struct events {
	struct sampler *s;
	nvmlEventSet_t set;
	unsigned registered; /* GPUs in the set */
	bool polling;
	unsigned drained;
	double tick, window_t, window_c;
};

/* Registers GPU w in the set; publishes its counts the first time. */
static void register_gpu(struct events *e, struct gpu_worker *w)
{
	struct board *b = e->s->board;
	nvmlReturn_t rc = e->s->lib->device_register_events(w->dev, w->ev_mask, e->set);
	if (rc != NVML_SUCCESS) {
		/* Without registration there is nothing to count: the metrics stay absent
		 * rather than a misleading zero. */
		if (rc == NVML_ERROR_GPU_IS_LOST)
			sampler_note_error(w, "nvmlDeviceRegisterEvents", rc);
		return;
	}
	w->ev_registered = true;
	e->registered++;
	if (w->ev_counting)
		return; /* registered again in a new set: its counts go on */
	w->ev_counting = true;
	if (w->ev_mask & nvmlEventTypeXidCriticalError) {
		board_publish_one(b, w->index, METRIC_XID_COUNT, 0);
		board_publish_one(b, w->index, METRIC_XID_LAST, 0);
		board_publish_one(b, w->index, METRIC_XID_BY_CODE, 0);
	}
	if (w->ev_mask & nvmlEventTypeDoubleBitEccError)
		board_publish_one(b, w->index, METRIC_DBE_EVENTS, 0);
}

/* Registers the GPUs whose probe asked for events since the last call. */
static void register_wanted(struct events *e)
{
	for (unsigned i = 0; i < e->s->count; i++) {
		struct gpu_worker *w = &e->s->workers[i];
		if (atomic_exchange(&w->ev_wanted, false))
			register_gpu(e, w);
	}
}

/* A new set with every GPU of the old one that still registers.  Returns how many did not
 * (lost), or -1 when no set could be made. */
static int rebuild_set(struct events *e)
{
	const struct nvml_lib *lib = e->s->lib;
	lib->event_set_free(e->set);
	e->set = NULL;
	if (lib->event_set_create(&e->set) != NVML_SUCCESS) {
		e->set = NULL;
		return -1;
	}
	unsigned before = e->registered;
	e->registered = 0;
	for (unsigned i = 0; i < e->s->count; i++) {
		struct gpu_worker *w = &e->s->workers[i];
		if (w->ev_registered) {
			w->ev_registered = false;
			register_gpu(e, w);
		}
	}
	return (int)(before - e->registered);
}

/* The GPU an event came from; NULL when it is none of ours. */
static struct gpu_worker *event_gpu(const struct events *e, nvmlDevice_t dev)
{
	for (unsigned i = 0; i < e->s->count; i++)
		if (e->s->workers[i].ev_registered && e->s->workers[i].dev == dev)
			return &e->s->workers[i];
	return NULL;
}

static void count_event(struct events *e, const nvmlEventData_t *ev)
{
	struct gpu_worker *w = event_gpu(e, ev->device);
	struct board *b = e->s->board;
	if (!w)
		return;
	if (ev->eventType & nvmlEventTypeXidCriticalError) {
		board_publish_one(b, w->index, METRIC_XID_COUNT, ++w->xids);
		board_publish_one(b, w->index, METRIC_XID_LAST, (double)ev->eventData);
		board_count_xid(b, w->index, (unsigned)ev->eventData);
		xid_log_record(w->index, (unsigned)ev->eventData, mono_now());
	}
	if (ev->eventType & nvmlEventTypeDoubleBitEccError)
		board_publish_one(b, w->index, METRIC_DBE_EVENTS, ++w->dbes);
}

/* The CPU guard after a wait that began at t0 (CPU c0): switches to polling for good when
 * the wait, or the thread over the last second, burned more than a quarter of a core. */
static void guard_cpu(struct events *e, double t0, double c0, double now, double cpu)
{
	double took = now - t0;
	const char *why = NULL;
	double share = 0;
	if (!e->polling && took > 0.1 && cpu - c0 > took / 4) {
		why = "spins while waiting for events";
		share = (cpu - c0) / took;
	} else if (now - e->window_t >= 1.0) {
		if (!e->polling && cpu - e->window_c > (now - e->window_t) / 4) {
			why = "keeps the event thread busy";
			share = (cpu - e->window_c) / (now - e->window_t);
		}
		e->window_t = now;
		e->window_c = cpu;
	}
	if (!why)
		return;
	e->polling = true;
	e->tick = now;
	fprintf(stderr,
	        "gpuscope: the driver %s (%.0f%% of a core, %u GPU%s); polling every %d ms "
	        "instead\n",
	        why, share * 100, e->registered, e->registered == 1 ? "" : "s", EVENT_POLL_MS);
}

/* Waits for the probes to finish, up to EVENT_SETTLE_S.  True on stop. */
static bool wait_for_probes(struct sampler *s)
{
	double end = mono_now() + EVENT_SETTLE_S;
	while (atomic_load(&s->probes_left) > 0 && mono_now() < end)
		if (sampler_sleep_until(s, mono_now() + 0.02 < end ? mono_now() + 0.02 : end))
			return true;
	return atomic_load(&s->stop);
}

/* One pass of the loop: register, wait, count.  Returns false to end the thread. */
static bool events_step(struct events *e)
{
	struct sampler *s = e->s;
	register_wanted(e);
	if (!e->registered) /* nothing to wait on (yet): a probe may still ask */
		return atomic_load(&s->probes_left) > 0 &&
		       !sampler_sleep_until(s, mono_now() + EVENT_WAIT_MS / 1000.0);
	nvmlEventData_t ev = {0};
	double t0 = mono_now(), c0 = thread_cpu_now();
	nvmlReturn_t rc = s->lib->event_set_wait(e->set, &ev, e->polling ? 0 : EVENT_WAIT_MS);
	double now = mono_now();
	guard_cpu(e, t0, c0, now, thread_cpu_now());
	/* Between polls, or after a wait that answered at once instead of waiting: wait out
	 * the rest of the period ourselves. */
	if (rc == NVML_ERROR_TIMEOUT || (e->polling && ++e->drained >= EVENT_DRAIN_MAX)) {
		double period = (e->polling ? EVENT_POLL_MS : EVENT_WAIT_MS) / 1000.0;
		double from = e->polling ? e->tick : t0;
		e->drained = 0;
		e->tick = from + period > now ? from + period : now;
		if (e->tick - now > 0.01 && sampler_sleep_until(s, e->tick))
			return false;
		if (rc == NVML_ERROR_TIMEOUT)
			return true;
	}
	if (rc == NVML_SUCCESS) {
		count_event(e, &ev);
		return true;
	}
	/* A GPU of the set is lost: a new set without it.  Any other error, or a rebuild that
	 * dropped nobody: back off instead of spinning on the error. */
	int dropped = rc == NVML_ERROR_GPU_IS_LOST ? rebuild_set(e) : 0;
	if (!e->set)
		return false;
	return dropped > 0 || !sampler_sleep_until(s, mono_now() + 1.0);
}

void *events_main(void *arg)
{
	struct sampler *s = arg;
	struct events e = {.s = s};
	pthread_setname_np(pthread_self(), "gpuscope-events");
	if (!wait_for_probes(s) && s->lib->event_set_create(&e.set) == NVML_SUCCESS) {
		e.tick = e.window_t = mono_now();
		e.window_c = thread_cpu_now();
		while (!atomic_load(&s->stop) && events_step(&e))
			;
	}
	if (e.set)
		s->lib->event_set_free(e.set);
	atomic_store(&s->events_done, true);
	return NULL;
}
