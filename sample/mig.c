/* mig.c - MIG GPU instances as devices of their own.
 *
 * With MIG on, a GPU is split into GPU instances with their own memory and
 * SMs.  After the probe the worker lists them (nvmlDeviceGetMigMode, then
 * the MIG device handles) and the fast sweeper reads each one's memory (on
 * its MIG handle) and GPM activity (nvmlGpmMigSampleGet on the parent, with
 * the instance id; one sample ring per instance, paired like the whole
 * GPU's), each on the period the whole GPU's source has (a schedule of its
 * own per instance, sample/schedule.h).  They are labelled like dcgm-exporter's: GPU_I_ID is
 * the GPU instance id, GPU_I_PROFILE the profile ("1g.18gb"), taken from
 * the MIG device's name ("NVIDIA H200 MIG 1g.18gb").
 *
 * The layout is read once: gpuscope never changes MIG mode or the layout,
 * and a layout change (which needs the GPU idle and an administrator) is
 * picked up when the agent restarts.
 */
#include "sample/mig.h"

#include <stdio.h>
#include <string.h>

/* "NVIDIA H200 MIG 1g.18gb" -> "1g.18gb"; the whole name when it has no " MIG ". */
static void profile_from_name(const char *name, char *out, size_t len)
{
	const char *p = strstr(name, "MIG ");
	snprintf(out, len, "%s", p ? p + 4 : name);
}

unsigned mig_discover(const struct nvml_lib *lib, nvmlDevice_t dev, struct mig_instance *out,
                      struct mig_record *rec)
{
	unsigned current = 0, pending = 0, max = 0, n = 0;
	if (!lib->device_get_mig_mode || !lib->device_get_max_mig_device_count ||
	    !lib->device_get_mig_device_handle_by_index || !lib->device_get_gpu_instance_id)
		return 0;
	if (lib->device_get_mig_mode(dev, &current, &pending) != NVML_SUCCESS || current != 1)
		return 0;
	if (lib->device_get_max_mig_device_count(dev, &max) != NVML_SUCCESS)
		return 0;
	for (unsigned i = 0; i < max && n < GPU_MAX_MIG; i++) {
		nvmlDevice_t h;
		if (lib->device_get_mig_device_handle_by_index(dev, i, &h) != NVML_SUCCESS)
			continue; /* NOT_FOUND: an empty slot */
		unsigned gi;
		if (lib->device_get_gpu_instance_id(h, &gi) != NVML_SUCCESS)
			continue;
		struct mig_instance *m = &out[n];
		struct mig_record *r = &rec[n];
		memset(m, 0, sizeof(*m));
		memset(r, 0, sizeof(*r));
		m->handle = h;
		m->gi = gi;
		r->gi = gi;
		char name[96] = "";
		if (lib->device_get_name &&
		    lib->device_get_name(h, name, sizeof(name)) == NVML_SUCCESS)
			profile_from_name(name, r->profile, sizeof(r->profile));
		if (lib->device_get_uuid)
			lib->device_get_uuid(h, r->uuid, sizeof(r->uuid));
		r->uuid[sizeof(r->uuid) - 1] = 0;
		n++;
	}
	return n;
}

void mig_schedule(struct mig_instance *m, const struct sampler_config *cfg, double now)
{
	m->sched.n = 0;
	sched_add(&m->sched, SRC_MEMORY, cfg, now);
	sched_add(&m->sched, SRC_GPM, cfg, now);
}

static nvmlReturn_t mig_read_one(const struct nvml_lib *lib, nvmlDevice_t parent,
                                 struct mig_instance *m, enum source_id src, double *raw,
                                 metric_set *got)
{
	if (src == SRC_MEMORY) {
		m->mem.lib = lib;
		m->mem.dev = m->handle;
		return source_reader(SRC_MEMORY)(&m->mem, raw, got);
	}
	if (m->gpm_off)
		return NVML_ERROR_NOT_SUPPORTED;
	nvmlReturn_t rc = gpm_read(lib, &m->gpm, parent, (int)m->gi, GPM_LIST_FAST, raw, got);
	if (nvml_rc_is_unsupported(rc))
		m->gpm_off = true; /* not offered for this instance: stop asking */
	return rc;
}

nvmlReturn_t mig_read(const struct nvml_lib *lib, nvmlDevice_t parent, struct mig_instance *m,
                      double now, struct board_reads *r)
{
	double *raw = (double *)r->raw;
	for (unsigned i = 0; i < m->sched.n; i++) {
		struct sched_entry *e = &m->sched.e[i];
		if (!sched_is_due(e, now))
			continue;
		nvmlReturn_t rc = mig_read_one(lib, parent, m, e->src, raw, &r->got);
		if (rc == NVML_ERROR_GPU_IS_LOST)
			return rc;
		if (rc == SOURCE_SKIPPED)
			continue;
		sched_done(e, now, 0);
		r->src[r->n] = e->src;
		r->rc[r->n] = rc;
		r->period[r->n] = e->period;
		r->stretch[r->n] = e->stretch;
		r->cost[r->n++] = 0;
	}
	return NVML_SUCCESS;
}

void mig_release(const struct nvml_lib *lib, struct mig_instance *m, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		gpm_release(lib, &m[i].gpm);
}
