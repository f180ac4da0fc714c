/* p2p.h - NVLink peer-to-peer status between each pair of GPUs, for dcgm-exporter's
 * DCGM_EXP_P2P_STATUS{peer_gpu, link_status}.
 *
 * A pair's status is read once, by the static tier of the first GPU of the pair
 * (nvmlDeviceGetP2PStatus needs both handles, and answers for a topology that only changes
 * across a reboot), and kept here for the exporter.  Module state: one table per agent.
 */
#ifndef GPUSCOPE_SERIES_P2P_H
#define GPUSCOPE_SERIES_P2P_H

#define P2P_MAX_GPUS 64

/* GPU gpu's NVLink P2P status towards peer (nvmlGpuP2PStatus_t, 0 OK). */
void p2p_set(unsigned gpu, unsigned peer, int status);

/* The status, or -1 when it was not read. */
int p2p_get(unsigned gpu, unsigned peer);

/* dcgm-exporter's word for a status ("OK", "NotSupported", ...). */
const char *p2p_status_name(int status);

#endif
