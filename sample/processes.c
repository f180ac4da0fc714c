/* processes.c - read the processes NVML lists on a GPU, with their utilization.
 *
 * The list calls are the _v3 ones (fallback _v2, the same 24-byte entries).  Two driver bugs
 * shape the code (../shared/facts/nvml-gpm-nccl-cupti-apis.md, "ABI traps"): early R535
 * drivers wrote 32-byte entries from _v3 without a version bump, and one driver wrote the
 * 16-byte v1 layout.  So the buffer has room for 32-byte entries and the stride is judged
 * from the pids it holds (a pid is 1..4194304; at a wrong stride the second entry's pid lands
 * in a memory size or an instance id).  With one entry every stride reads the same pid and
 * memory, so nothing is lost by assuming 24.
 *
 * Utilization: nvmlDeviceGetProcessUtilization returns samples newer than a timestamp, one per
 * busy process and driver period; NOT_FOUND means none is new.  A process with no sample in
 * the interval was idle: it reads 0 %, valid.  NOT_SUPPORTED (MIG, pre-Maxwell) turns the call
 * off for good; the rows then carry no utilization.
 *
 * The call is dear: on a 4-GPU H200 host the agent spent 2.7 ms of CPU per GPU and slow sweep
 * on it (GPUSCOPE_PROFILE), with no process on the GPU, asking twice (size, then read) from
 * timestamp 0.  So it is not made when no process is listed, it is made once into a buffer
 * kept from sweep to sweep (grown only when the driver says it is too small), and the
 * timestamp asked from moves up to UTIL_LAG_US before the last call that found nothing new.
 */
#include "sample/processes.h"

#include <stdlib.h>
#include <string.h>

#include "sample/profile.h"
#include "series/snapshot.h"

#define PID_PLAUSIBLE_MAX 4194304u /* Linux pid_max limit, 2^22 */
/* How late a driver sample may show up after its timestamp, at most (the driver writes one
 * per process every few hundred ms). */
#define UTIL_LAG_US 2000000ULL

static unsigned entry_pid(const unsigned char *buf, unsigned stride, unsigned i)
{
	unsigned pid;
	memcpy(&pid, buf + (size_t)stride * i, sizeof(pid));
	return pid;
}

unsigned gpuprocs_stride(const unsigned char *buf, unsigned n)
{
	static const unsigned strides[] = {24, 32, 16};
	for (unsigned s = 0; s < 3; s++) {
		bool ok = true;
		for (unsigned i = 0; i < n && ok; i++) {
			unsigned pid = entry_pid(buf, strides[s], i);
			ok = pid > 0 && pid <= PID_PLAUSIBLE_MAX;
		}
		if (ok)
			return strides[s];
	}
	return 24;
}

static bool grow(void **buf, unsigned *room, unsigned want, size_t size)
{
	if (want <= *room)
		return true;
	unsigned r = *room ? *room : 16;
	while (r < want)
		r *= 2;
	void *p = realloc(*buf, (size_t)r * size);
	if (!p)
		return false;
	*buf = p;
	*room = r;
	return true;
}

static struct gpuprocs_row *row_for(struct gpuprocs_row *rows, unsigned *n, unsigned pid,
                                    unsigned *dropped)
{
	for (unsigned i = 0; i < *n; i++)
		if (rows[i].pid == pid)
			return &rows[i];
	if (*n >= GPUPROCS_MAX) {
		(*dropped)++;
		return NULL;
	}
	struct gpuprocs_row *r = &rows[(*n)++];
	memset(r, 0, sizeof(*r));
	r->pid = pid;
	return r;
}

/* One list call: sized first, then read; entries merged into rows. */
static nvmlReturn_t read_list(struct gpuprocs_reader *r, nvmlDevice_t dev, bool graphics,
                              nvmlReturn_t (*call)(nvmlDevice_t, unsigned *, nvmlProcessInfo_t *),
                              struct gpuprocs_row *rows, unsigned *n)
{
	if (!call)
		return NVML_SUCCESS;
	nvmlReturn_t rc = NVML_ERROR_INSUFFICIENT_SIZE;
	unsigned count = 0;
	/* The list can grow between the sizing call and the read: try a few times. */
	for (int attempt = 0; attempt < 3 && rc == NVML_ERROR_INSUFFICIENT_SIZE; attempt++) {
		if (!grow((void **)&r->list, &r->list_room, count + 8, 32))
			return NVML_ERROR_MEMORY;
		count = r->list_room;
		/* Stale entries would fool the stride check: start from zeros. */
		memset(r->list, 0, (size_t)r->list_room * 32);
		rc = call(dev, &count, (nvmlProcessInfo_t *)(void *)r->list);
	}
	if (rc == NVML_ERROR_GPU_IS_LOST)
		return rc;
	if (rc != NVML_SUCCESS)
		return NVML_SUCCESS; /* unsupported, no permission...: no rows from this list */
	r->listed = true;
	if (count > r->list_room)
		count = r->list_room;
	/* Two entries or more tell the stride; fewer keep what the driver showed before. */
	if (count >= 2 || !r->stride)
		r->stride = gpuprocs_stride(r->list, count);
	for (unsigned i = 0; i < count; i++) {
		const unsigned char *e = r->list + (size_t)r->stride * i;
		unsigned pid, gi = NVML_NO_INSTANCE_ID;
		unsigned long long mem;
		memcpy(&pid, e, sizeof(pid));
		memcpy(&mem, e + 8, sizeof(mem));
		if (r->stride >= 24)
			memcpy(&gi, e + 16, sizeof(gi));
		struct gpuprocs_row *row = row_for(rows, n, pid, &r->dropped);
		if (!row)
			continue;
		row->graphics |= graphics;
		if (mem != NVML_VALUE_NOT_AVAILABLE_ULL &&
		    (!row->memory_valid || (uint64_t)mem > row->memory_bytes)) {
			row->memory_valid = true;
			row->memory_bytes = mem;
		}
		if (gi != NVML_NO_INSTANCE_ID) {
			row->gpu_instance_valid = true;
			row->gpu_instance = gi;
		}
	}
	return NVML_SUCCESS;
}

/* Utilization samples since the last read, averaged per pid into the rows. */
static nvmlReturn_t read_util(struct gpuprocs_reader *r, const struct nvml_lib *lib,
                              nvmlDevice_t dev, struct gpuprocs_row *rows, unsigned n)
{
	if (r->util_off || !lib->device_get_process_utilization || n == 0)
		return NVML_SUCCESS;
	unsigned long long asked_at =
	    (unsigned long long)(wall_now() * 1e6); /* driver stamps: us */
	if (r->last_seen == 0 && asked_at > 2 * UTIL_LAG_US)
		r->last_seen =
		    asked_at - 2 * UTIL_LAG_US; /* the first time: the last few seconds */
	unsigned count = 0;
	nvmlReturn_t rc = NVML_ERROR_INSUFFICIENT_SIZE;
	for (int attempt = 0; attempt < 2 && rc == NVML_ERROR_INSUFFICIENT_SIZE; attempt++) {
		if (!grow((void **)&r->util, &r->util_room, count + 8, sizeof(*r->util)))
			return NVML_ERROR_MEMORY;
		count = r->util_room;
		rc = lib->device_get_process_utilization(dev, r->util, &count, r->last_seen);
	}
	if (rc == NVML_ERROR_GPU_IS_LOST)
		return rc;
	if (rc == NVML_ERROR_NOT_SUPPORTED || rc == NVML_ERROR_FUNCTION_NOT_FOUND) {
		r->util_off = true;
		return NVML_SUCCESS;
	}
	if (rc != NVML_SUCCESS && rc != NVML_ERROR_NOT_FOUND)
		return NVML_SUCCESS; /* a transient error: no utilization this time */
	if (rc == NVML_ERROR_NOT_FOUND && asked_at > UTIL_LAG_US &&
	    r->last_seen < asked_at - UTIL_LAG_US)
		r->last_seen = asked_at - UTIL_LAG_US; /* nothing new: ask from nearer next time */
	if (rc == NVML_ERROR_NOT_FOUND || count > r->util_room)
		count = rc == NVML_ERROR_NOT_FOUND ? 0 : r->util_room;
	unsigned samples[GPUPROCS_MAX] = {0};
	for (unsigned i = 0; i < n; i++) {
		rows[i].util_valid = true;
		rows[i].sm_util = rows[i].mem_util = 0;
	}
	for (unsigned k = 0; k < count; k++) {
		const nvmlProcessUtilizationSample_t *u = &r->util[k];
		if (u->timeStamp > r->last_seen)
			r->last_seen = u->timeStamp;
		for (unsigned i = 0; i < n; i++) {
			if (rows[i].pid != u->pid)
				continue;
			rows[i].sm_util += u->smUtil;
			rows[i].mem_util += u->memUtil;
			samples[i]++;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		if (samples[i]) {
			rows[i].sm_util /= samples[i];
			rows[i].mem_util /= samples[i];
		}
	}
	return NVML_SUCCESS;
}

nvmlReturn_t gpuprocs_read(struct gpuprocs_reader *r, const struct nvml_lib *lib, nvmlDevice_t dev,
                           struct gpuprocs_row *rows, unsigned *n)
{
	*n = 0;
	r->dropped = 0;
	r->listed = false;
	long long begun = profile_begin();
	nvmlReturn_t rc =
	    read_list(r, dev, false, lib->device_get_compute_running_processes, rows, n);
	if (rc == NVML_SUCCESS)
		rc = read_list(r, dev, true, lib->device_get_graphics_running_processes, rows, n);
	profile_end(TIER_SLOW, PROFILE_PROCESS_LISTS, begun);
	begun = profile_begin();
	if (rc == NVML_SUCCESS)
		rc = read_util(r, lib, dev, rows, *n);
	profile_end(TIER_SLOW, PROFILE_PROCESS_UTIL, begun);
	return rc;
}

void gpuprocs_release(struct gpuprocs_reader *r)
{
	free(r->list);
	free(r->util);
	memset(r, 0, sizeof(*r));
}
