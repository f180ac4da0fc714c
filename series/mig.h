/* mig.h - a MIG GPU instance as the board keeps it: a device of its own for memory and GPM.
 *
 * The sampler lists the instances once (sample/mig.c) and publishes each one's readings
 * with board_publish_mig; the exporter shows them as devices labelled GPU_I_ID and
 * GPU_I_PROFILE, the JSON API as a GPU's "mig" list.  Only the PER_MIG rows of the metric
 * table (metric_per_mig()) have values per instance; everything else is the whole GPU's.
 */
#ifndef GPUSCOPE_SERIES_MIG_H
#define GPUSCOPE_SERIES_MIG_H

#include "series/metric_table.h"

#define GPU_MAX_MIG 7

struct mig_record {
	unsigned gi;      /* GPU instance id (dcgm-exporter's GPU_I_ID) */
	char profile[32]; /* "1g.18gb" (GPU_I_PROFILE), from the MIG device's name */
	char uuid[96];    /* the MIG device's own "MIG-..." UUID */
	double raw[METRIC_COUNT];
	metric_set valid;
};

#endif
