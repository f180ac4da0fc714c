/* mig.h - MIG GPU instances: discovery and their fast-tier readings. */
#ifndef GPUSCOPE_MIG_H
#define GPUSCOPE_MIG_H

#include "sample/sources.h"

struct mig_instance {
	nvmlDevice_t handle; /* the MIG device */
	unsigned gi;         /* GPU instance id */
	bool memory_v1;
	bool gpm_off; /* GPM not offered for this instance */
	struct gpm_state gpm;
};

/* Lists dev's GPU instances when MIG is on (0 when off or unknown), filling
 * out[] (sampling state) and rec[] (identity for the board). */
unsigned mig_discover(const struct nvml_lib *lib, nvmlDevice_t dev, struct mig_instance *out,
                      struct mig_record *rec);

/* One fast sweep of an instance: memory and GPM into raw/got. */
nvmlReturn_t mig_read(const struct nvml_lib *lib, nvmlDevice_t parent, struct mig_instance *m,
                      double *raw, metric_set *got);

void mig_release(const struct nvml_lib *lib, struct mig_instance *m, unsigned n);

#endif
