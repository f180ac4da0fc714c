/* nvlink.h - a GPU's NVLink state as its record on the board keeps it.
 *
 * Links are a run-time label (the "@link" rows of the metric table), so their values live
 * in this record beside raw[], one array of links per "@link" row, at the row's place among
 * them (metric_link_row): a new per-link row is one row in the table and its reader, which
 * fills value[metric_link_row(METRIC_<id>)].  The NVLink readers fill it on the worker's
 * sweeps (sample/nvlink.c: link states, data counters and the bandwidth between two reads)
 * and publish it whole (board_publish_nvlink); the exporter (per-link series under both name
 * sets, through nvlink_value) and the JSON API read it from a snapshot.
 */
#ifndef GPUSCOPE_SERIES_NVLINK_H
#define GPUSCOPE_SERIES_NVLINK_H

#include "series/metric_table.h"

#define GPU_MAX_NVLINKS 18

/* "@link" rows the record has room for; unit.series.metric_table checks the table's
 * count against it. */
#define NVLINK_MAX_ROWS 6

struct nvlink_record {
	unsigned links; /* links the GPU reported (0: no NVLink) */
	/* per "@link" row, per link, in the row's raw unit; < 0: unknown (NVLINK_UP: 1 up,
	 * 0 down; NVLINK_BANDWIDTH: tx+rx bytes/s between the last two counter reads) */
	double value[NVLINK_MAX_ROWS][GPU_MAX_NVLINKS];
	double data_at; /* monotonic seconds of the last counter read; 0: none */
};

/* Row m's value on link l: < 0 when unknown, or when m is no "@link" row or l no link. */
static inline double nvlink_value(const struct nvlink_record *nv, int m, unsigned l)
{
	int k = metric_link_row(m);
	return k < 0 || k >= NVLINK_MAX_ROWS || l >= nv->links || l >= GPU_MAX_NVLINKS
	           ? -1
	           : nv->value[k][l];
}

/* Row m's links, for its reader; m must be a "@link" row. */
#define NVLINK_ROW(nv, m) ((nv)->value[metric_link_row(m)])

#endif
