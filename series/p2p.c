/* p2p.c - NVLink peer-to-peer status between GPUs; see p2p.h. */
#include "series/p2p.h"

#include <stdatomic.h>

/* status + 1, so a zeroed table reads "not read"; atomics: a reader thread writes, the
 * exporter reads, each cell alone. */
static atomic_schar table[P2P_MAX_GPUS][P2P_MAX_GPUS];

void p2p_set(unsigned gpu, unsigned peer, int status)
{
	if (gpu < P2P_MAX_GPUS && peer < P2P_MAX_GPUS && status >= 0 && status < 100)
		atomic_store(&table[gpu][peer], (signed char)(status + 1));
}

int p2p_get(unsigned gpu, unsigned peer)
{
	if (gpu >= P2P_MAX_GPUS || peer >= P2P_MAX_GPUS)
		return -1;
	return atomic_load(&table[gpu][peer]) - 1;
}

const char *p2p_status_name(int status)
{
	/* dcgm-exporter's link_status values (internal/pkg/collector/const.go). */
	static const char *const names[] = {"OK",
	                                    "ChipsetNotSupported",
	                                    "GPUNotSupported",
	                                    "TopologyNotSupported",
	                                    "DisabledByRegKey",
	                                    "NotSupported"};
	return status >= 0 && status < (int)(sizeof(names) / sizeof(names[0])) ? names[status]
	                                                                       : "Unknown";
}
