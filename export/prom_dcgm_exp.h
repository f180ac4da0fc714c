/* prom_dcgm_exp.h - dcgm-exporter's own DCGM_EXP_* metrics, computed from what gpuscope has.
 *
 * DCGM_EXP_XID_ERRORS_COUNT{xid, window_size_in_ms}: the Xids of each code a GPU raised in
 * the last window (from the event thread's log, series/xid_log.h); one series of 0 without
 * xid when there were none, as dcgm-exporter writes it.
 *
 * DCGM_EXP_CLOCK_EVENTS_COUNT{clock_event, window_size_in_ms}: dcgm-exporter counts the
 * DCGM samples in the window (one per -c collect interval, 30 s by default) in which each
 * clock event reason was set.  gpuscope sees the reasons every fast sweep and keeps the time
 * each held (gpuscope_clock_event_seconds_total); the count is that time over the window
 * divided by the collect interval, rounded: what DCGM's samples would have counted, without
 * the luck of where they fell.  display_clocks (0x100) is not kept, so never counted.
 *
 * Both are served like the DCGM_FI_* names: all of them without -f, the file's with it;
 * with the DCGM labels, per MIG instance on a MIG GPU, and once per job with
 * --hpc-job-mapping-dir.
 */
#ifndef GPUSCOPE_EXPORT_PROM_DCGM_EXP_H
#define GPUSCOPE_EXPORT_PROM_DCGM_EXP_H

#include "export/prom.h"

void prom_render_dcgm_exp(const struct board_snapshot *s, bool openmetrics,
                          const struct prom_dcgm *o, struct strbuf *out);

#endif
