/* events.c - Xid and double-bit ECC events of one GPU, on its own thread.
 *
 * nvmlEventSetWait blocks in the driver until an event or the timeout, so
 * it lives on a thread of its own; the timeout (500 ms) bounds how long a
 * stop request waits.  Counts are published as they arrive, so no event is
 * lost between scrapes: a scrape sees the running total.
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
#define EVENT_DRAIN_MAX 64 /* events taken per poll, at most */

void *events_main(void *arg)
{
	struct gpu_worker *w = arg;
	struct sampler *s = w->s;
	const struct nvml_lib *lib = s->lib;
	nvmlEventSet_t set = NULL;
	unsigned long long mask = 0;
	double xids = 0, dbes = 0;
	char name[16];
	snprintf(name, sizeof(name), "gpuscope-ev%u", w->index);
	pthread_setname_np(pthread_self(), name);

	if (metric_set_has(&w->supported, METRIC_XID_COUNT))
		mask |= nvmlEventTypeXidCriticalError;
	if (metric_set_has(&w->supported, METRIC_DBE_EVENTS))
		mask |= nvmlEventTypeDoubleBitEccError;
	nvmlReturn_t rc = lib->event_set_create(&set);
	if (rc == NVML_SUCCESS)
		rc = lib->device_register_events(w->dev, mask, set);
	if (rc != NVML_SUCCESS) {
		/* Without registration there is nothing to count: leave the
		 * metrics absent rather than a misleading zero. */
		if (rc == NVML_ERROR_GPU_IS_LOST)
			sampler_note_error(w, "nvmlDeviceRegisterEvents", rc);
		goto out;
	}
	if (mask & nvmlEventTypeXidCriticalError) {
		board_publish_one(s->board, w->index, METRIC_XID_COUNT, 0);
		board_publish_one(s->board, w->index, METRIC_XID_LAST, 0);
		board_publish_one(s->board, w->index, METRIC_XID_BY_CODE, 0);
	}
	if (mask & nvmlEventTypeDoubleBitEccError)
		board_publish_one(s->board, w->index, METRIC_DBE_EVENTS, 0);

	bool polling = false;
	unsigned drained = 0;
	double tick = mono_now(), window_t = tick, window_c = thread_cpu_now();
	while (!atomic_load(&s->stop)) {
		nvmlEventData_t ev = {0};
		double t0 = mono_now(), c0 = thread_cpu_now();
		rc = lib->event_set_wait(set, &ev, polling ? 0 : EVENT_WAIT_MS);
		double now = mono_now(), took = now - t0, cpu = thread_cpu_now();
		const char *why = NULL;
		double share = 0;
		if (!polling && took > 0.1 && cpu - c0 > took / 4) {
			why = "spins while waiting for events";
			share = (cpu - c0) / took;
		} else if (now - window_t >= 1.0) {
			if (!polling && cpu - window_c > (now - window_t) / 4) {
				why = "keeps the event thread busy";
				share = (cpu - window_c) / (now - window_t);
			}
			window_t = now;
			window_c = cpu;
		}
		if (why) {
			polling = true;
			tick = now;
			fprintf(
			    stderr,
			    "gpuscope: GPU %u: the driver %s (%.0f%% of a core); polling every %d "
			    "ms instead\n",
			    w->index, why, share * 100, EVENT_POLL_MS);
		}
		/* Between polls, or after a wait that answered at once instead of
		 * waiting: wait out the rest of the period ourselves. */
		bool rest = rc == NVML_ERROR_TIMEOUT || (polling && ++drained >= EVENT_DRAIN_MAX);
		if (rest) {
			double period = (polling ? EVENT_POLL_MS : EVENT_WAIT_MS) / 1000.0;
			double from = polling ? tick : t0;
			drained = 0;
			tick = from + period > now ? from + period : now;
			if (tick - now > 0.01 && sampler_sleep_until(s, tick))
				break;
			if (rc == NVML_ERROR_TIMEOUT)
				continue;
		}
		if (rc == NVML_ERROR_GPU_IS_LOST) {
			sampler_note_error(w, "nvmlEventSetWait", rc);
			break;
		}
		if (rc != NVML_SUCCESS) {
			/* Unexpected: back off instead of spinning on the error. */
			if (sampler_sleep_until(s, mono_now() + 1.0))
				break;
			continue;
		}
		if (ev.eventType & nvmlEventTypeXidCriticalError) {
			board_publish_one(s->board, w->index, METRIC_XID_COUNT, ++xids);
			board_publish_one(s->board, w->index, METRIC_XID_LAST,
			                  (double)ev.eventData);
			board_count_xid(s->board, w->index, (unsigned)ev.eventData);
			xid_log_record(w->index, (unsigned)ev.eventData, mono_now());
		}
		if (ev.eventType & nvmlEventTypeDoubleBitEccError)
			board_publish_one(s->board, w->index, METRIC_DBE_EVENTS, ++dbes);
	}
out:
	if (set)
		lib->event_set_free(set);
	atomic_store(&w->events_done, true);
	return NULL;
}
