/* prom_dcgm_exp.c - dcgm-exporter's DCGM_EXP_* metrics; see prom_dcgm_exp.h.
 *
 * The clock-event count needs each reason's held time as it was one window ago.  The board
 * keeps only the running total, so the renderer remembers a few totals per GPU, at most
 * CLOCK_MARKS over a window; the one at or just before the window's start is the baseline,
 * and before the first one (the agent's start) the totals were 0.  Module state under a
 * mutex: there is one exposition per agent.
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

#define CLOCK_MARKS 48
#define CLOCK_GPUS  64
#define CLOCK_BITS  8

/* dcgm-exporter's names for the reasons bits 0x1-0x80 (DCGM's dcgmi names). */
static const char *const clock_event_names[CLOCK_BITS] = {
    "gpu_idle",   "clocks_setting", "power_cap",  "hw_slowdown",
    "sync_boost", "sw_thermal",     "hw_thermal", "hw_power_brake"};

static const enum metric_id clock_seconds[CLOCK_BITS] = {
    METRIC_THROTTLE_IDLE,        METRIC_THROTTLE_APP_CLOCKS, METRIC_THROTTLE_POWER_CAP,
    METRIC_THROTTLE_HW_SLOWDOWN, METRIC_THROTTLE_SYNC_BOOST, METRIC_THROTTLE_SW_THERMAL,
    METRIC_THROTTLE_HW_THERMAL,  METRIC_THROTTLE_POWER_BRAKE};

struct clock_mark {
	double t;
	double s[CLOCK_BITS];
};

struct clock_history {
	unsigned n, next; /* marks kept, where the next goes */
	struct clock_mark m[CLOCK_MARKS];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct clock_history history[CLOCK_GPUS];

/* The held seconds per reason over the last `window` seconds of GPU g, from its totals now
 * and those remembered: the total at the window's start is interpolated between the points
 * either side of it (the agent's start counts as a point of totals 0), so a renderer that
 * ran seldom still measures the window, not the gap since its last render. */
static void clock_window(unsigned gpu, double started, const double *now_s, double now,
                         double window, double *held)
{
	struct clock_history *h = &history[gpu];
	double since = now - window;
	pthread_mutex_lock(&lock);
	struct clock_mark p0 = {.t = started}, p1 = {.t = now};
	memcpy(p1.s, now_s, sizeof(p1.s));
	bool have0 = started <= since;
	for (unsigned i = 0; i < h->n; i++) {
		const struct clock_mark *m = &h->m[i];
		if (m->t <= since && (!have0 || m->t > p0.t)) {
			p0 = *m;
			have0 = true;
		} else if (m->t > since && m->t < p1.t) {
			p1 = *m;
		}
	}
	for (int b = 0; b < CLOCK_BITS; b++) {
		double base = 0;
		if (have0) {
			double f = p1.t > p0.t ? (since - p0.t) / (p1.t - p0.t) : 1;
			base = p0.s[b] + (p1.s[b] - p0.s[b]) * f;
		}
		held[b] = now_s[b] - base;
	}
	/* A mark at most every window / CLOCK_MARKS * 2 keeps the window covered. */
	const struct clock_mark *last =
	    h->n ? &h->m[(h->next + CLOCK_MARKS - 1) % CLOCK_MARKS] : NULL;
	if (!last || now - last->t >= window * 2 / CLOCK_MARKS) {
		struct clock_mark *m = &h->m[h->next];
		m->t = now;
		memcpy(m->s, now_s, sizeof(m->s));
		h->next = (h->next + 1) % CLOCK_MARKS;
		if (h->n < CLOCK_MARKS)
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
	for (unsigned i = 0; i < s->count && i < CLOCK_GPUS; i++) {
		const struct gpu_record *g = &s->gpus[i];
		double now_s[CLOCK_BITS], held[CLOCK_BITS];
		bool ok = true;
		for (int b = 0; b < CLOCK_BITS; b++) {
			ok &= has(g, clock_seconds[b]);
			now_s[b] = g->raw[clock_seconds[b]];
		}
		if (!ok)
			continue;
		clock_window(g->index, g->probe_started, now_s, s->taken, window, held);
		char extra[96];
		bool some = false;
		for (int b = 0; b < CLOCK_BITS; b++) {
			double n = period > 0 ? nearbyint(held[b] / period) : 0;
			if (n < 1)
				continue;
			snprintf(extra, sizeof(extra),
			         ",window_size_in_ms=\"%u\",clock_event=\"%s\"", o->clock_window_ms,
			         clock_event_names[b]);
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
