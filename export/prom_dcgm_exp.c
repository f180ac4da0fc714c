/* prom_dcgm_exp.c - dcgm-exporter's DCGM_EXP_* metrics; see prom_dcgm_exp.h.
 *
 * The clock-event count and the health watches need running totals as they were one
 * window ago.  The board keeps only the totals now, so the renderer remembers a few per GPU,
 * at most RING_MARKS over a window; the one at or just before the window's start is the
 * baseline, and before the first one (the agent's start) the totals were 0.  Module state
 * under a mutex: there is one exposition per agent.
 */
#include "export/prom_dcgm_exp.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "export/collectors.h"
#include "export/hpc_jobs.h"
#include "series/mig.h"
#include "series/p2p.h"
#include "series/xid_log.h"

#define RING_MARKS  48
#define RING_GPUS   64
#define RING_VALUES 8
#define CLOCK_BITS  CLOCK_REASON_COUNT /* the reasons table: bit, name, seconds row */

_Static_assert(CLOCK_BITS <= RING_VALUES, "a ring mark holds every reason's seconds");

/* A GPU's running totals as they were at a few past moments: at most RING_MARKS over one
 * window, so the total at the window's start can be found whenever the renderer runs. */
struct mark {
	double t;
	double v[RING_VALUES];
};

struct ring {
	unsigned n, next; /* marks kept, where the next goes */
	struct mark m[RING_MARKS];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct ring clock_rings[RING_GPUS], health_rings[RING_GPUS];

/* How much each of the nv running totals now_v rose over the last `window` seconds: the
 * total at the window's start is interpolated between the marks either side of it (the
 * agent's start counts as a mark of totals 0), so a renderer that ran seldom still measures
 * the window, not the gap since its last render.  A NAN total gives a NAN rise. */
static void ring_window(struct ring *h, double started, const double *now_v, unsigned nv,
                        double now, double window, double *rise)
{
	double since = now - window;
	pthread_mutex_lock(&lock);
	struct mark p0 = {.t = started}, p1 = {.t = now};
	memcpy(p1.v, now_v, nv * sizeof(*now_v));
	bool have0 = started <= since;
	for (unsigned i = 0; i < h->n; i++) {
		const struct mark *m = &h->m[i];
		if (m->t <= since && (!have0 || m->t > p0.t)) {
			p0 = *m;
			have0 = true;
		} else if (m->t > since && m->t < p1.t) {
			p1 = *m;
		}
	}
	for (unsigned b = 0; b < nv; b++) {
		double base = 0;
		if (have0) {
			double f = p1.t > p0.t ? (since - p0.t) / (p1.t - p0.t) : 1;
			base = p0.v[b] + (p1.v[b] - p0.v[b]) * f;
		}
		rise[b] = now_v[b] - base;
	}
	/* A mark at most every window / RING_MARKS * 2 keeps the window covered. */
	const struct mark *last = h->n ? &h->m[(h->next + RING_MARKS - 1) % RING_MARKS] : NULL;
	if (!last || now - last->t >= window * 2 / RING_MARKS) {
		struct mark *m = &h->m[h->next];
		m->t = now;
		memcpy(m->v, now_v, nv * sizeof(*now_v));
		h->next = (h->next + 1) % RING_MARKS;
		if (h->n < RING_MARKS)
			h->n++;
	}
	pthread_mutex_unlock(&lock);
}

static bool has(const struct gpu_record *g, int m)
{
	return metric_set_has(&g->valid, m) && metric_set_has(&g->supported, m);
}

/* One line: the DCGM labels of g (or its instance), extra labels, value; once per job. */
static void exp_line(struct strbuf *out, const char *name, const struct board_snapshot *s,
                     const struct prom_dcgm *o, const struct gpu_record *g,
                     const struct mig_record *mig, const char *extra, double v)
{
	const struct hpc_job_list *jobs = hpc_map_find(o->hpc, g->index, mig ? (int)mig->gi : -1);
	for (unsigned j = 0; j < (jobs ? jobs->n : 1); j++) {
		sb_puts(out, name);
		prom_dcgm_series_labels(out, g, &s->info, o, mig);
		sb_puts(out, extra);
		if (jobs) {
			sb_puts(out, ",hpc_job=\"");
			sb_label_value(out, jobs->job[j]);
			sb_puts(out, "\"");
		}
		sb_puts(out, "} ");
		sb_double(out, v);
		sb_puts(out, "\n");
	}
}

/* Every line of one GPU for metric e: per instance on a MIG GPU, the GPU's figures each. */
static void exp_gpu(struct strbuf *out, const char *name, const struct board_snapshot *s,
                    const struct prom_dcgm *o, const struct gpu_record *g, const char *extra,
                    double v)
{
	if (g->n_mig == 0) {
		exp_line(out, name, s, o, g, NULL, extra, v);
		return;
	}
	for (unsigned k = 0; k < g->n_mig; k++)
		exp_line(out, name, s, o, g, &g->mig[k], extra, v);
}

static bool xid_counts(const struct board_snapshot *s, const struct prom_dcgm *o, const char *name,
                       struct strbuf *out)
{
	double since = s->taken - o->xid_window_ms / 1000.0;
	bool any = false;
	for (unsigned i = 0; i < s->count; i++) {
		const struct gpu_record *g = &s->gpus[i];
		if (!metric_set_has(&g->supported, METRIC_XID_COUNT))
			continue; /* no Xid events from this GPU: nothing to count */
		unsigned code[GPU_MAX_XID_CODES], count[GPU_MAX_XID_CODES];
		unsigned n = xid_log_count(g->index, since, code, count, GPU_MAX_XID_CODES);
		char extra[96];
		if (n == 0) {
			snprintf(extra, sizeof(extra), ",window_size_in_ms=\"%u\"",
			         o->xid_window_ms);
			exp_gpu(out, name, s, o, g, extra, 0);
		}
		for (unsigned k = 0; k < n; k++) {
			snprintf(extra, sizeof(extra), ",window_size_in_ms=\"%u\",xid=\"%u\"",
			         o->xid_window_ms, code[k]);
			exp_gpu(out, name, s, o, g, extra, count[k]);
		}
		any = true;
	}
	return any;
}

static bool clock_counts(const struct board_snapshot *s, const struct prom_dcgm *o,
                         const char *name, struct strbuf *out)
{
	double window = o->clock_window_ms / 1000.0, period = o->collect_ms / 1000.0;
	bool any = false;
	for (unsigned i = 0; i < s->count; i++) {
		const struct gpu_record *g = &s->gpus[i];
		double now_s[CLOCK_BITS], held[CLOCK_BITS];
		bool ok = true;
		for (int b = 0; b < CLOCK_BITS; b++) {
			ok &= has(g, clock_reason_table[b].seconds);
			now_s[b] = g->raw[clock_reason_table[b].seconds];
		}
		if (!ok || g->index >= RING_GPUS)
			continue;
		ring_window(&clock_rings[g->index], g->probe_started, now_s, CLOCK_BITS, s->taken,
		            window, held);
		char extra[96];
		bool some = false;
		for (int b = 0; b < CLOCK_BITS; b++) {
			double n = period > 0 ? nearbyint(held[b] / period) : 0;
			if (n < 1)
				continue;
			snprintf(extra, sizeof(extra),
			         ",window_size_in_ms=\"%u\",clock_event=\"%s\"", o->clock_window_ms,
			         clock_reason_table[b].dcgm);
			exp_gpu(out, name, s, o, g, extra, n);
			some = true;
		}
		if (!some) {
			snprintf(extra, sizeof(extra), ",window_size_in_ms=\"%u\"",
			         o->clock_window_ms);
			exp_gpu(out, name, s, o, g, extra, 0);
		}
		any = true;
	}
	return any;
}

/* Each GPU towards each other GPU whose status was read: the status, with its word. */
static bool p2p_statuses(const struct board_snapshot *s, const struct prom_dcgm *o,
                         const char *name, struct strbuf *out)
{
	bool any = false;
	for (unsigned i = 0; i < s->count; i++)
		for (unsigned j = 0; j < s->count; j++) {
			const struct gpu_record *g = &s->gpus[i];
			int st = i == j ? -1 : p2p_get(g->index, s->gpus[j].index);
			if (st < 0)
				continue;
			char extra[96];
			snprintf(extra, sizeof(extra), ",peer_gpu=\"%u\",link_status=\"%s\"",
			         s->gpus[j].index, p2p_status_name(st));
			exp_line(out, name, s, o, g, NULL, extra, st);
			any = true;
		}
	return any;
}

/* DCGM's health results and the watches gpuscope judges (the rest, PMU, MCU, SM, INFOROM
 * and DRIVER, need DCGM's own checks and are not written). */
enum { HEALTH_PASS = 0, HEALTH_WARN = 10, HEALTH_FAIL = 20 };
enum health_watch { WATCH_PCIE, WATCH_NVLINK, WATCH_MEM, WATCH_THERMAL, WATCH_POWER, WATCH_ALL };
static const char *const watch_names[] = {"PCIE", "NVLINK", "MEM", "THERMAL", "POWER", "ALL"};
#define WATCHES (sizeof(watch_names) / sizeof(watch_names[0]))

/* Counter rises count over this window, DCGM's per-minute rates. */
#define HEALTH_WINDOW_S     60.0
#define PCIE_REPLAYS_MINUTE 8 /* DCGM's default PCIe replay rate limit */

/* The running totals the watches follow (health_rings). */
enum { RISE_PCIE, RISE_NVLINK, RISE_THERMAL, RISE_BRAKE, RISES };

struct health {
	int result[WATCHES];
	const char *code[WATCHES];
};

/* Worst wins: a watch keeps its first incident of the highest result. */
static void incident(struct health *h, enum health_watch w, int result, const char *code)
{
	if (result > h->result[w]) {
		h->result[w] = result;
		h->code[w] = code;
	}
}

static double value_or_nan(const struct gpu_record *g, int m)
{
	return has(g, m) ? g->raw[m] : NAN;
}

/* The sum of the metrics that g has; NAN when it has none of them. */
static double sum_of(const struct gpu_record *g, const enum metric_id *m, unsigned n)
{
	double sum = NAN;
	for (unsigned i = 0; i < n; i++)
		if (has(g, m[i]))
			sum = (isnan(sum) ? 0 : sum) + g->raw[m[i]];
	return sum;
}

static void judge_health(const struct board_snapshot *s, const struct gpu_record *g,
                         struct health *h)
{
	for (unsigned w = 0; w < WATCHES; w++) {
		h->result[w] = HEALTH_PASS;
		h->code[w] = "DCGM_FR_OK";
	}
	static const enum metric_id nvlink_errors[] = {METRIC_NVLINK_CRC_FLIT,
	                                               METRIC_NVLINK_CRC_DATA, METRIC_NVLINK_REPLAY,
	                                               METRIC_NVLINK_RECOVERY};
	static const enum metric_id thermal[] = {METRIC_THROTTLE_SW_THERMAL,
	                                         METRIC_THROTTLE_HW_THERMAL};
	double now_v[RISES] = {
	    [RISE_PCIE] = value_or_nan(g, METRIC_PCIE_REPLAY),
	    [RISE_NVLINK] = sum_of(g, nvlink_errors, 4),
	    [RISE_THERMAL] = sum_of(g, thermal, 2),
	    [RISE_BRAKE] = value_or_nan(g, METRIC_THROTTLE_POWER_BRAKE),
	};
	double rise[RISES];
	ring_window(&health_rings[g->index], g->probe_started, now_v, RISES, s->taken,
	            HEALTH_WINDOW_S, rise);
	if (rise[RISE_PCIE] > PCIE_REPLAYS_MINUTE)
		incident(h, WATCH_PCIE, HEALTH_WARN, "DCGM_FR_PCI_REPLAY_RATE");
	if (rise[RISE_NVLINK] > 0)
		incident(h, WATCH_NVLINK, HEALTH_WARN, "DCGM_FR_NVLINK_ERROR_THRESHOLD");
	if (rise[RISE_THERMAL] > 0)
		incident(h, WATCH_THERMAL, HEALTH_WARN, "DCGM_FR_CLOCK_THROTTLE_THERMAL");
	if (rise[RISE_BRAKE] > 0)
		incident(h, WATCH_POWER, HEALTH_WARN, "DCGM_FR_CLOCK_THROTTLE_POWER");
	if (metric_set_has(&g->supported, METRIC_POWER) && g->source_error[SRC_POWER] != 0)
		incident(h, WATCH_POWER, HEALTH_WARN, "DCGM_FR_POWER_UNREADABLE");
	if (value_or_nan(g, METRIC_ECC_DBE_VOL) > 0)
		incident(h, WATCH_MEM, HEALTH_FAIL, "DCGM_FR_VOLATILE_DBE_DETECTED");
	if (value_or_nan(g, METRIC_REMAP_FAILURE) > 0)
		incident(h, WATCH_MEM, HEALTH_FAIL, "DCGM_FR_ROW_REMAP_FAILURE");
	if (value_or_nan(g, METRIC_REMAP_PENDING) > 0)
		incident(h, WATCH_MEM, HEALTH_WARN, "DCGM_FR_PENDING_ROW_REMAP");
	if (value_or_nan(g, METRIC_RETIRED_PENDING) > 0)
		incident(h, WATCH_MEM, HEALTH_WARN, "DCGM_FR_PENDING_PAGE_RETIREMENTS");
	/* The Xids DCGM files under no subsystem, in the same window. */
	unsigned code[GPU_MAX_XID_CODES], count[GPU_MAX_XID_CODES];
	unsigned n =
	    xid_log_count(g->index, s->taken - HEALTH_WINDOW_S, code, count, GPU_MAX_XID_CODES);
	for (unsigned k = 0; k < n; k++) {
		if (code[k] == 79)
			incident(h, WATCH_ALL, HEALTH_FAIL, "DCGM_FR_FALLEN_OFF_BUS");
		else if (code[k] == 95)
			incident(h, WATCH_ALL, HEALTH_FAIL, "DCGM_FR_UNCONTAINED_ERROR");
		else if (code[k] == 48)
			incident(h, WATCH_MEM, HEALTH_FAIL, "DCGM_FR_VOLATILE_DBE_DETECTED");
	}
	if (g->health == GPU_LOST)
		incident(h, WATCH_ALL, HEALTH_FAIL, "DCGM_FR_FALLEN_OFF_BUS");
	else if (g->health == GPU_FAILING)
		incident(h, WATCH_ALL, HEALTH_WARN, "DCGM_FR_NVML_API");
}

/* Each GPU's watches: 0 pass, 10 warn, 20 fail, with the incident's DCGM error code. */
static bool health_statuses(const struct board_snapshot *s, const struct prom_dcgm *o,
                            const char *name, struct strbuf *out)
{
	bool any = false;
	for (unsigned i = 0; i < s->count; i++) {
		const struct gpu_record *g = &s->gpus[i];
		if (g->health == GPU_PROBING || g->health == GPU_INACCESSIBLE ||
		    g->index >= RING_GPUS)
			continue;
		struct health h;
		judge_health(s, g, &h);
		for (unsigned w = 0; w < WATCHES; w++) {
			char extra[128];
			snprintf(extra, sizeof(extra),
			         ",health_watch=\"%s\",health_error_code=\"%s\"", watch_names[w],
			         h.code[w]);
			exp_gpu(out, name, s, o, g, extra, h.result[w]);
		}
		any = true;
	}
	return any;
}

static const struct {
	enum collector_exp id;
	const char *help;
	bool (*render)(const struct board_snapshot *, const struct prom_dcgm *, const char *,
	               struct strbuf *);
} exps[] = {
    {EXP_XID_ERRORS_COUNT, "Xid errors in the last window, by Xid code.", xid_counts},
    {EXP_CLOCK_EVENTS_COUNT,
     "Clock event reasons in the last window, in collect intervals during which each held.",
     clock_counts},
    {EXP_P2P_STATUS, "NVLink peer-to-peer status towards each other GPU (0 OK, 5 not supported).",
     p2p_statuses},
    {EXP_GPU_HEALTH_STATUS,
     "Health of each watch over the last minute: 0 pass, 10 warn, 20 fail (DCGM's results).",
     health_statuses},
};

void prom_render_dcgm_exp(const struct board_snapshot *s, bool om, const struct prom_dcgm *o,
                          struct strbuf *out)
{
	for (size_t i = 0; i < sizeof(exps) / sizeof(exps[0]); i++) {
		const char *name = collector_exp_name(exps[i].id);
		const struct collector *c =
		    o->select ? collectors_find_exp(o->select, exps[i].id) : NULL;
		if (o->select && !c)
			continue;
		/* dcgm-exporter's files type them counter (they rise and fall: a gauge in truth);
		 * OpenMetrics gets unknown, as for DCGM's counters without _total. */
		bool counter = c ? c->type == COLLECTOR_COUNTER : true;
		size_t mark = out->len;
		sb_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, c ? c->help : exps[i].help,
		          name,
		          !counter ? "gauge"
		          : om     ? "unknown"
		                   : "counter");
		if (!exps[i].render(s, o, name, out))
			out->len = mark;
	}
}
