/* probe.c - capability probe and identity of one GPU.
 *
 * Every source is read once, on the context of the thread that will read
 * it afterwards (the fast sweeper's or the worker's): a reader with state
 * (a GPM sample ring, the memory version, the clock-event tally) starts
 * primed, so its first scheduled read already has something to pair with,
 * and every metric is on the board from the probe until its first period
 * has passed.
 */
#include "sample/probe.h"

#include "sample/schedule.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

nvmlReturn_t probe_identity(const struct nvml_lib *lib, nvmlDevice_t dev, struct gpu_identity *id)
{
	memset(id, 0, sizeof(*id));
	id->minor = -1;
	nvmlReturn_t rc;
	if (lib->device_get_uuid) {
		rc = lib->device_get_uuid(dev, id->uuid, sizeof(id->uuid));
		if (rc == NVML_ERROR_GPU_IS_LOST)
			return rc;
		if (rc != NVML_SUCCESS)
			id->uuid[0] = 0;
	}
	if (lib->device_get_name) {
		rc = lib->device_get_name(dev, id->name, sizeof(id->name));
		if (rc == NVML_ERROR_GPU_IS_LOST)
			return rc;
		if (rc != NVML_SUCCESS)
			id->name[0] = 0;
	}
	if (lib->device_get_pci_info) {
		nvmlPciInfo_t pci;
		memset(&pci, 0, sizeof(pci));
		rc = lib->device_get_pci_info(dev, &pci);
		if (rc == NVML_ERROR_GPU_IS_LOST)
			return rc;
		if (rc == NVML_SUCCESS)
			snprintf(id->pci_bus_id, sizeof(id->pci_bus_id), "%.*s",
			         (int)sizeof(pci.busId), pci.busId);
	}
	if (lib->device_get_minor_number) {
		unsigned minor;
		rc = lib->device_get_minor_number(dev, &minor);
		if (rc == NVML_ERROR_GPU_IS_LOST)
			return rc;
		if (rc == NVML_SUCCESS)
			id->minor = (int)minor;
	}
	/* NUL-terminate whatever the library wrote. */
	id->uuid[sizeof(id->uuid) - 1] = 0;
	id->name[sizeof(id->name) - 1] = 0;
	return identity_read_labels(lib, dev, id);
}

static void probe_events(struct source_ctx *ctx, struct probe_result *out)
{
	const struct nvml_lib *lib = ctx->lib;
	unsigned long long types = 0;
	nvmlReturn_t rc = NVML_ERROR_FUNCTION_NOT_FOUND;
	if (lib->device_get_supported_event_types && lib->event_set_create &&
	    lib->device_register_events && lib->event_set_wait && lib->event_set_free)
		rc = lib->device_get_supported_event_types(ctx->dev, &types);
	if (rc == NVML_ERROR_GPU_IS_LOST)
		out->lost = true;
	struct {
		enum source_id src;
		unsigned long long bit;
		enum metric_id metrics[3];
	} ev[] = {
	    {SRC_XID_EVENTS,
	     nvmlEventTypeXidCriticalError,
	     {METRIC_XID_COUNT, METRIC_XID_LAST, METRIC_XID_BY_CODE}},
	    {SRC_DBE_EVENTS,
	     nvmlEventTypeDoubleBitEccError,
	     {METRIC_DBE_EVENTS, METRIC_DBE_EVENTS, METRIC_DBE_EVENTS}},
	};
	for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
		struct source_status *st = &out->sources[ev[i].src];
		st->probed = true;
		st->rc = rc == NVML_SUCCESS && !(types & ev[i].bit) ? NVML_ERROR_NOT_SUPPORTED : rc;
		st->supported = st->rc == NVML_SUCCESS;
		if (st->supported)
			for (int k = 0; k < 3; k++)
				metric_set_add(&out->supported, ev[i].metrics[k]);
	}
}

void probe_device(struct source_ctx *fast, struct source_ctx *worker, struct probe_result *out)
{
	memset(out, 0, sizeof(*out));
	for (int src = 0; src < SRC_COUNT && !out->lost; src++) {
		source_read_fn read = source_reader(src);
		if (!read)
			continue;
		struct source_ctx *ctx = sched_thread_of(src) == SCHED_SWEEPER ? fast : worker;
		struct source_status *st = &out->sources[src];
		metric_set got = {0};
		nvmlReturn_t rc = read(ctx, out->raw, &got);
		if (rc == SOURCE_SKIPPED) {
			/* GPM needs a pair of samples across a driver refresh before it
			 * says which metrics this GPU offers. */
			struct timespec ts = {0, (long)(GPM_MIN_WINDOW_S * 1e9) + 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
			rc = read(ctx, out->raw, &got);
			if (rc == SOURCE_SKIPPED)
				rc = NVML_SUCCESS; /* still no pair: answers without figures */
		}
		st->probed = true;
		st->rc = rc;
		if (rc == NVML_ERROR_GPU_IS_LOST) {
			out->lost = true;
			break;
		}
		st->supported = !nvml_rc_is_unsupported(rc);
		for (int m = 0; m < METRIC_COUNT; m++) {
			if (metric_table[m].source != (enum source_id)src)
				continue;
			/* A source that answered but left a metric out does not offer it
			 * (memory v1 has no reserved figure). */
			bool offered = rc == NVML_SUCCESS ? metric_set_has(&got, m) : st->supported;
			if (offered)
				metric_set_add(&out->supported, m);
			if (metric_set_has(&got, m))
				metric_set_add(&out->got, m);
		}
	}
	if (!out->lost)
		probe_events(worker, out);
	/* The NVLink bandwidth is a rate between two reads of the data counters: the probe's
	 * read is the first, without it, so the rate is offered where both counters are. */
	if (metric_set_has(&out->supported, METRIC_NVLINK_TX_BYTES) &&
	    metric_set_has(&out->supported, METRIC_NVLINK_RX_BYTES)) {
		metric_set_add(&out->supported, METRIC_NVLINK_BANDWIDTH);
		metric_set_add(&out->supported, METRIC_NVLINK_BANDWIDTH_TOTAL);
	}
	for (int m = 0; m < METRIC_COUNT; m++)
		if (metric_table[m].source == SRC_AGENT)
			metric_set_add(&out->supported, m);
	out->sources[SRC_AGENT].supported = true;
}
