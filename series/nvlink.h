/* nvlink.h - a GPU's NVLink state as its record on the board keeps it.
 *
 * Links are a run-time label (the "@link" rows of the metric table), so their values live
 * in this record beside raw[].  The NVLink readers fill it on the worker's sweeps
 * (sample/nvlink.c: link states, data counters and the bandwidth between two reads) and
 * publish it whole (board_publish_nvlink); the exporter (per-link series, dcgm-exporter's
 * bandwidth) and the JSON API read it from a snapshot.
 */
#ifndef GPUSCOPE_SERIES_NVLINK_H
#define GPUSCOPE_SERIES_NVLINK_H

#define GPU_MAX_NVLINKS 18

struct nvlink_record {
	unsigned links;                  /* links the GPU reported (0: no NVLink) */
	signed char up[GPU_MAX_NVLINKS]; /* 1 up, 0 down, -1 unknown this sweep */
	double tx_bytes[GPU_MAX_NVLINKS], rx_bytes[GPU_MAX_NVLINKS]; /* < 0: unknown */
	double bw[GPU_MAX_NVLINKS]; /* tx+rx bytes/s between the last two reads; < 0: unknown */
	double data_at;             /* monotonic seconds of the last counter read; 0: none */
};

#endif
