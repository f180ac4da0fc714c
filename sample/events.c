/* events.c - Xid and double-bit ECC events of one GPU, on its own thread.
 *
 * nvmlEventSetWait blocks in the driver until an event or the timeout, so
 * it lives on a thread of its own; the timeout (500 ms) bounds how long a
 * stop request waits.  Counts are published as they arrive, so no event is
 * lost between scrapes: a scrape sees the running total.
 */
#include "sample/worker.h"

#include <stdio.h>
#include <time.h>

#define EVENT_WAIT_MS 500

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

	while (!atomic_load(&s->stop)) {
		nvmlEventData_t ev = {0};
		rc = lib->event_set_wait(set, &ev, EVENT_WAIT_MS);
		if (rc == NVML_ERROR_TIMEOUT)
			continue;
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
