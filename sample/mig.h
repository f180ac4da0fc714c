/* mig.h - MIG GPU instances: discovery and their fast-tier readings. */
#ifndef GPUSCOPE_MIG_H
#define GPUSCOPE_MIG_H

#include "sample/schedule.h"
#include "sample/sources.h"
#include "series/mig.h"

struct mig_instance {
	nvmlDevice_t handle;   /* the MIG device */
	unsigned gi;           /* GPU instance id */
	struct source_ctx mem; /* the memory reader's context, on the MIG handle */
	bool gpm_off;          /* GPM not offered for this instance */
	struct gpm_state gpm;
	struct schedule sched; /* its memory and GPM, on the GPU's own periods */
};

/* Lists dev's GPU instances when MIG is on (0 when off or unknown), filling
 * out[] (sampling state) and rec[] (identity for the board). */
unsigned mig_discover(const struct nvml_lib *lib, nvmlDevice_t dev, struct mig_instance *out,
                      struct mig_record *rec);

/* Schedules the instance's memory and GPM reads, first due at `now`. */
void mig_schedule(struct mig_instance *m, const struct sampler_config *cfg, double now);

/* One fast step of an instance: what of its memory and GPM is due, into r (r->raw must
 * point at room for METRIC_COUNT values).  Returns GPU_IS_LOST when a call said so. */
nvmlReturn_t mig_read(const struct nvml_lib *lib, nvmlDevice_t parent, struct mig_instance *m,
                      double now, struct board_reads *r);

void mig_release(const struct nvml_lib *lib, struct mig_instance *m, unsigned n);

#endif
