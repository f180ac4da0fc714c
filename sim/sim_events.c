/* sim_events.c - NVML event sets of the simulator: Xid and ECC events from the scenario.
 *
 * Split out of sim_nvml.c.  Like there, each call is a static sim_<field> function with a
 * prototype generated from its NVML_SYMBOLS row and exported by an alias; this file expands the
 * generators for its own rows only, listed in sim_exports.h, since an alias must be in the
 * translation unit of its target.
 *
 * A scenario's events are fixed times on its clock, so a set needs no queue: it remembers what
 * it has delivered, and a wait sleeps until the next registered event is due (or the timeout
 * ends) instead of polling.  A set may hold several devices, as NVML's do; each event carries
 * its device.  The first set a device is registered in also gets the events the scenario put
 * before the registration (so a scenario need not know how long its agent takes to start);
 * a later set gets only what happens after, as a driver's would.
 *
 * Once a registered device is lost (its "lost_at"), a wait that finds no event due returns
 * NVML_ERROR_GPU_IS_LOST for the whole set, without saying which device: so does a driver
 * after a GPU falls off the bus (Xid 79).
 */
#include "sim/sim_exports.h"
#include "sim/sim_state.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

NVML_SYMBOLS(SIM_FILE_PROTOTYPE_1)

/*
 * A set remembers, per device of the session it was created in, the registered mask and
 * which of the device's scenario events it has delivered.  Wait scans for the earliest due,
 * undelivered, registered event: O(events), and scenarios hold a handful.
 */
struct nvmlEventSet_st {
	pthread_mutex_t lock;
	struct nvmlDevice_st *devs;
	size_t n_devs;
	unsigned long long *masks;
	double *from;     /* [device]: events before this scenario time are not delivered */
	bool **delivered; /* [device][event] */
};

static nvmlReturn_t sim_event_set_create(nvmlEventSet_t *set)
{
	struct nvmlDevice_st *devs;
	size_t n;
	double t;
	nvmlReturn_t rc = sim_state_devices(&devs, &n, &t);
	if (rc)
		return rc;
	if (!set)
		return NVML_ERROR_INVALID_ARGUMENT;
	struct nvmlEventSet_st *s = calloc(1, sizeof(*s));
	if (!s)
		return NVML_ERROR_MEMORY;
	s->devs = devs;
	s->n_devs = n;
	s->masks = calloc(n ? n : 1, sizeof(*s->masks));
	s->from = calloc(n ? n : 1, sizeof(*s->from));
	s->delivered = calloc(n ? n : 1, sizeof(*s->delivered));
	if (!s->masks || !s->from || !s->delivered)
		goto err;
	for (size_t i = 0; i < n; i++)
		if (!(s->delivered[i] = calloc(devs[i].gpu->n_events + 1, sizeof(bool))))
			goto err;
	pthread_mutex_init(&s->lock, NULL);
	*set = s;
	return NVML_SUCCESS;
err:
	for (size_t i = 0; s->delivered && i < n; i++)
		free(s->delivered[i]);
	free(s->delivered);
	free(s->from);
	free(s->masks);
	free(s);
	return NVML_ERROR_MEMORY;
}

static nvmlReturn_t sim_event_set_free(nvmlEventSet_t set)
{
	if (!set)
		return NVML_ERROR_INVALID_ARGUMENT;
	for (size_t i = 0; i < set->n_devs; i++)
		free(set->delivered[i]);
	free(set->delivered);
	free(set->from);
	free(set->masks);
	pthread_mutex_destroy(&set->lock);
	free(set);
	return NVML_SUCCESS;
}

static nvmlReturn_t sim_device_register_events(nvmlDevice_t device, unsigned long long types,
                                               nvmlEventSet_t set)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, "nvmlDeviceRegisterEvents", set != NULL);
	if (rc)
		return rc;
	if (types & ~c.gpu->supported_events)
		return NVML_ERROR_NOT_SUPPORTED;
	size_t i = 0;
	while (i < set->n_devs && &set->devs[i] != c.dev)
		i++;
	if (i == set->n_devs)
		return NVML_ERROR_INVALID_ARGUMENT; /* a set from an earlier nvmlInit */
	pthread_mutex_lock(&set->lock);
	if (!set->masks[i])
		set->from[i] = atomic_exchange(&c.dev->events_seen, true) ? c.t : -INFINITY;
	set->masks[i] |= types;
	pthread_mutex_unlock(&set->lock);
	return NVML_SUCCESS;
}

/* Takes the earliest due, undelivered event of the set into data; *next_at is set to the
 * scenario time of the earliest one not yet due (INFINITY: none).  Returns NVML_SUCCESS,
 * NVML_ERROR_GPU_IS_LOST when none is due and a registered device is lost, else
 * NVML_ERROR_TIMEOUT. */
static nvmlReturn_t event_take(nvmlEventSet_t set, double t, nvmlEventData_t *data, double *next_at)
{
	bool lost = false;
	size_t best_dev = 0, best_ev = 0;
	double best_at = INFINITY;
	*next_at = INFINITY;
	pthread_mutex_lock(&set->lock);
	for (size_t d = 0; d < set->n_devs; d++) {
		const struct sim_gpu *g = set->devs[d].gpu;
		lost |= set->masks[d] && t >= g->lost_at;
		for (size_t e = 0; e < g->n_events; e++) {
			const struct sim_event *ev = &g->events[e];
			if (set->delivered[d][e] || !(ev->type & set->masks[d]) ||
			    ev->at < set->from[d] || ev->at >= g->lost_at)
				continue;
			if (ev->at > t) {
				if (ev->at < *next_at)
					*next_at = ev->at;
			} else if (ev->at < best_at) {
				best_at = ev->at;
				best_dev = d;
				best_ev = e;
			}
		}
	}
	bool found = best_at != INFINITY;
	if (found) {
		const struct sim_event *ev = &set->devs[best_dev].gpu->events[best_ev];
		set->delivered[best_dev][best_ev] = true;
		data->device = &set->devs[best_dev];
		data->eventType = ev->type;
		data->eventData = ev->data;
		data->gpuInstanceId = 0xffffffffu; /* not attributable to a MIG instance */
		data->computeInstanceId = 0xffffffffu;
	}
	pthread_mutex_unlock(&set->lock);
	return found ? NVML_SUCCESS : lost ? NVML_ERROR_GPU_IS_LOST : NVML_ERROR_TIMEOUT;
}

/* Sleeps until the next event is due or the timeout ends, never polling:
 * an idle event thread of the agent wakes once per timeout, as on a driver. */
static nvmlReturn_t sim_event_set_wait(nvmlEventSet_t set, nvmlEventData_t *data,
                                       unsigned timeout_ms)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct nvmlDevice_st *devs;
		const struct sim_scenario *scn;
		size_t n;
		double t, next_at;
		nvmlReturn_t rc = sim_state_devices(&devs, &n, &t);
		if (!rc)
			rc = sim_state_system(&scn);
		if (rc)
			return rc;
		if (!set || !data)
			return NVML_ERROR_INVALID_ARGUMENT;
		rc = event_take(set, t, data, &next_at);
		if (rc != NVML_ERROR_TIMEOUT)
			return rc;
		clock_gettime(CLOCK_MONOTONIC, &now);
		double waited = (double)(now.tv_sec - start.tv_sec) * 1e3 +
		                (double)(now.tv_nsec - start.tv_nsec) / 1e6;
		if (waited >= timeout_ms)
			return NVML_ERROR_TIMEOUT;
		double nap_ms = timeout_ms - waited;
		/* Scenario seconds run time_scale times faster than real ones. */
		double due_ms = (next_at - t) * 1e3 / scn->time_scale;
		if (due_ms < nap_ms)
			nap_ms = due_ms < 1 ? 1 : due_ms;
		struct timespec nap = {(time_t)(nap_ms / 1e3), (long)(fmod(nap_ms, 1e3) * 1e6)};
		nanosleep(&nap, NULL);
	}
}

/* The newest name of each row defined here (none of them has a fallback name). */
NVML_SYMBOLS(SIM_FILE_EXPORT_1)
