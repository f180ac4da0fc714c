/* schedule.c - per-source periods and due times (see schedule.h). */
#include "sample/schedule.h"

#include <assert.h>
#include <stddef.h>

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

void sched_add(struct schedule *s, enum source_id src, const struct sampler_config *cfg,
               double first_due)
{
	enum sched_thread th = sched_thread_of(src);
	double base = sched_base_period(src, cfg);
	if (th == SCHED_NONE || base <= 0 || s->n >= SRC_COUNT || sched_find(s, src))
		return;
	double step = th == SCHED_SWEEPER ? cfg->fast_s : cfg->slow_s;
	s->e[s->n++] = (struct sched_entry){.src = (unsigned char)src,
	                                    .thread = (unsigned char)th,
	                                    .stretch = 1,
	                                    .base = base,
	                                    .period = base,
	                                    .slack = step / 2 < base / 2 ? step / 2 : base / 2,
	                                    .due = first_due};
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
