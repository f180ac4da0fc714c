/* schedule.c - per-source periods and due times (see schedule.h). */
#include "sample/schedule.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "sample/sources.h"

enum sched_thread sched_thread_of(enum source_id src)
{
	switch (source_table[src].tier) {
	case TIER_FAST:
	case TIER_BUFFER:
		return SCHED_SWEEPER;
	case TIER_SLOW:
	case TIER_COSTLY:
		return SCHED_WORKER;
	default:
		return SCHED_NONE;
	}
}

double sched_base_period(enum source_id src, const struct sampler_config *cfg)
{
	switch (source_table[src].period) {
	case PERIOD_FAST:
		return cfg->fast_s;
	case PERIOD_FAST_5HZ:
		return cfg->fast_s > 0.2 ? cfg->fast_s : 0.2;
	case PERIOD_GPM: {
		double p = cfg->gpm_s > 0 ? cfg->gpm_s : GPM_DEFAULT_INTERVAL_S;
		return p > GPM_MIN_WINDOW_S ? p : GPM_MIN_WINDOW_S;
	}
	case PERIOD_BUFFER:
		return BUFFER_INTERVAL_S;
	case PERIOD_SLOW:
		return cfg->slow_s;
	case PERIOD_COSTLY:
		/* The worker steps every slow interval: a shorter period cannot be kept. */
		return cfg->costly_s > cfg->slow_s ? cfg->costly_s : cfg->slow_s;
	case PERIOD_ONCE:
		break;
	}
	return 0;
}

static bool idle_rule_on(const struct sampler_config *cfg)
{
	return cfg->idle_s > cfg->fast_s;
}

double sched_idle_period(enum source_id src, const struct sampler_config *cfg)
{
	if (!idle_rule_on(cfg) || src == SCHED_WAKE_SOURCE || source_table[src].tier != TIER_FAST)
		return 0;
	double base = sched_base_period(src, cfg);
	return base > 0 && base < cfg->idle_s ? cfg->idle_s : 0;
}

void sched_add(struct schedule *s, enum source_id src, const struct sampler_config *cfg,
               double first_due)
{
	enum sched_thread th = sched_thread_of(src);
	double base = sched_base_period(src, cfg);
	if (th == SCHED_NONE || base <= 0 || s->n >= SRC_COUNT || sched_find(s, src))
		return;
	double step = th == SCHED_SWEEPER ? cfg->fast_s : cfg->slow_s;
	struct sched_entry e = {.src = (unsigned char)src,
	                        .thread = (unsigned char)th,
	                        .stretch = 1,
	                        .base = base,
	                        .period = base,
	                        .idle_period = sched_idle_period(src, cfg),
	                        .slack = step / 2 < base / 2 ? step / 2 : base / 2,
	                        .due = first_due};
	if (src != SCHED_WAKE_SOURCE) {
		s->e[s->n++] = e;
		return;
	}
	/* Read at every step of its thread, even one that comes early after a late one: a step
	 * without it could not judge the GPU idle. */
	e.slack = e.period;
	memmove(&s->e[1], &s->e[0], s->n * sizeof(s->e[0]));
	s->e[0] = e;
	s->n++;
	s->idle.period = idle_rule_on(cfg) ? cfg->idle_s : 0;
}

struct sched_entry *sched_find(struct schedule *s, enum source_id src)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->e[i].src == src)
			return &s->e[i];
	return NULL;
}

bool sched_is_due(const struct sched_entry *e, double now)
{
	return now >= e->due - e->slack;
}

void sched_done(struct sched_entry *e, double now, double cpu_s)
{
	assert(e->base > 0);
	if (e->thread == SCHED_WORKER) {
		e->cost = cpu_s;
		e->stretch = cpu_s > SCHED_DEAR_S ? SCHED_STRETCH : 1;
		e->period = e->base * e->stretch;
	}
	/* The first read anchors the grid to the thread's own steps, so a due time
	 * never sits half a step between two of them, where a little jitter would
	 * make a read skip a step. */
	e->due = e->anchored ? e->due + e->period : now + e->period;
	e->anchored = true;
	if (e->due < now)
		e->due = now + e->period; /* fell behind: start afresh rather than burst */
}

/* True when what one fast step read looks idle; starts the stretch's references (power,
 * clock-event reasons) from the first reading of each. */
static bool readings_idle(struct sched_idle *d, const double *raw, const metric_set *got, int procs)
{
	if (!metric_set_has(got, METRIC_GPU_UTIL) || raw[METRIC_GPU_UTIL] > 0 ||
	    (metric_set_has(got, METRIC_MEM_UTIL) && raw[METRIC_MEM_UTIL] > 0))
		return false;
	if (procs != SCHED_PROCS_UNLISTED && procs != 0)
		return false;
	if ((metric_set_has(got, METRIC_ENC_UTIL) && raw[METRIC_ENC_UTIL] > 0) ||
	    (metric_set_has(got, METRIC_DEC_UTIL) && raw[METRIC_DEC_UTIL] > 0))
		return false;
	if (metric_set_has(got, METRIC_CLOCK_EVENT_REASONS)) {
		unsigned long long bits = (unsigned long long)raw[METRIC_CLOCK_EVENT_REASONS];
		if (d->have_reasons && bits != d->reasons)
			return false;
		d->reasons = bits;
		d->have_reasons = true;
	}
	if (metric_set_has(got, METRIC_POWER)) {
		double mw = raw[METRIC_POWER];
		if (d->have_power &&
		    mw > d->power_floor * SCHED_IDLE_POWER_RISE + SCHED_IDLE_POWER_SLACK_MW)
			return false;
		if (!d->have_power || mw < d->power_floor)
			d->power_floor = mw;
		d->have_power = true;
	}
	return true;
}

/* Puts the fast sources on their idle periods (idle) or back on their own: each next read
 * comes the new period after its last was due, so a source not read since then is due at
 * once on waking, and one read in this very step is not read twice. */
static void set_periods(struct schedule *s, bool idle, double now)
{
	for (unsigned i = 0; i < s->n; i++) {
		struct sched_entry *e = &s->e[i];
		if (e->idle_period <= 0)
			continue;
		double period = idle ? e->idle_period : e->base * e->stretch;
		e->due += period - e->period;
		e->period = period;
	}
	if (idle) {
		s->idle.idle_since = now;
		s->idle.entered++;
	} else {
		s->idle.idle_total += now - s->idle.idle_since;
	}
	s->idle.idle = idle;
}

bool sched_idle_judge(struct schedule *s, double now, const double *raw, const metric_set *got,
                      int procs)
{
	struct sched_idle *d = &s->idle;
	if (d->period <= 0)
		return false;
	if (!d->quiet) /* this reading may begin a stretch: its references start afresh */
		d->have_power = d->have_reasons = false;
	if (!readings_idle(d, raw, got, procs)) {
		d->quiet = false;
		if (!d->idle)
			return false;
		set_periods(s, false, now);
		return true;
	}
	if (!d->quiet) {
		d->quiet = true;
		d->quiet_since = now;
	}
	if (!d->idle && now - d->quiet_since >= d->period)
		set_periods(s, true, now);
	return false;
}
