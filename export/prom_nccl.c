/* prom_nccl.c - NCCL collective families (see prom_nccl.h). */
#include "export/prom_nccl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* In NCCL_FAMILIES' order (a static assert below keeps them together). */
enum fam {
	FAM_COLLECTIVES,
	FAM_BYTES,
	FAM_TIME,
	FAM_TIMED,
	FAM_ENQUEUE,
	FAM_BUSBW,
	FAM_BUSY,
	FAM_RATIO,
	FAM_COUNT
};

static const struct {
	const char *suffix, *type, *help;
} fams[FAM_COUNT] = {
#define X(suffix, type, help) {suffix, type, help},
    NCCL_FAMILIES(X)
#undef X
};
#define X(suffix, type, help) +1
_Static_assert(0 NCCL_FAMILIES(X) == FAM_COUNT, "one enum value per family");
#undef X

static void label(struct strbuf *out, const char *name, const char *v, bool first)
{
	sb_printf(out, "%s%s=\"", first ? "{" : ",", name);
	sb_label_value(out, v);
	sb_puts(out, "\"");
}

static void coll_labels(struct strbuf *out, const struct nccl_series *s)
{
	char rank[16];
	snprintf(rank, sizeof(rank), "%d", s->m.rank);
	label(out, "process", s->m.process, true);
	label(out, "workload", s->workload, false);
	label(out, "comm", s->m.comm, false);
	label(out, "rank", rank, false);
	label(out, "collective", s->m.collective, false);
	label(out, "algorithm", s->m.algorithm, false);
	label(out, "protocol", s->m.protocol, false);
	label(out, "timing", s->m.timing, false);
	sb_puts(out, "} ");
}

static void proc_labels(struct strbuf *out, const struct nccl_series *s)
{
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", s->m.pid);
	label(out, "process", s->m.process, true);
	label(out, "workload", s->workload, false);
	label(out, "pid", pid, false);
	sb_puts(out, "} ");
}

/* The family's value of one series; NAN: none (not shown). */
static double value(enum fam f, const struct nccl_series *s)
{
	const struct nccl_msg *m = &s->m;
	bool coll = m->type == NCCL_MSG_COLL;
	switch (f) {
	case FAM_COLLECTIVES:
		return coll ? m->count : NAN;
	case FAM_BYTES:
		return coll ? m->bytes : NAN;
	case FAM_TIME:
		return coll ? m->time_s : NAN;
	case FAM_TIMED:
		return coll ? m->timed : NAN;
	case FAM_ENQUEUE:
		return coll ? m->enqueue_s : NAN;
	case FAM_BUSBW:
		return coll && m->time_s > 0 ? m->busbw : NAN;
	case FAM_BUSY:
		return coll ? NAN : m->busy_s;
	case FAM_RATIO:
		return coll ? NAN : m->window_share;
	default:
		return NAN;
	}
}

void prom_render_nccl(struct nccl_table *t, bool openmetrics, struct strbuf *out)
{
	struct nccl_series *s;
	unsigned n = 0;
	uint64_t c[2];
	if (nccl_table_copy(t, &s, &n, c) != 0)
		return;
	if (c[0] == 0) {
		free(s);
		return;
	}
	for (int f = 0; f < FAM_COUNT; f++) {
		bool any = false;
		for (unsigned i = 0; i < n && !any; i++)
			any = !isnan(value((enum fam)f, &s[i]));
		if (!any) /* absent is not zero */
			continue;
		bool counter = !strcmp(fams[f].type, "counter");
		size_t base = strlen(fams[f].suffix) - (counter ? strlen("_total") : 0);
		/* OpenMetrics names a counter family without _total. */
		int shown = (int)(counter && openmetrics ? base : strlen(fams[f].suffix));
		sb_printf(out, "# HELP %s%.*s %s\n# TYPE %s%.*s %s\n", PROM_NCCL_PREFIX, shown,
		          fams[f].suffix, fams[f].help, PROM_NCCL_PREFIX, shown, fams[f].suffix,
		          fams[f].type);
		for (unsigned i = 0; i < n; i++) {
			double v = value((enum fam)f, &s[i]);
			if (isnan(v))
				continue;
			sb_printf(out, "%s%s", PROM_NCCL_PREFIX, fams[f].suffix);
			if (s[i].m.type == NCCL_MSG_COLL)
				coll_labels(out, &s[i]);
			else
				proc_labels(out, &s[i]);
			sb_double(out, v);
			sb_puts(out, "\n");
		}
	}
	free(s);
	const char *suf = openmetrics ? "" : "_total";
	sb_printf(out,
	          "# HELP %smessages%s NCCL lines received from profiled programs.\n"
	          "# TYPE %smessages%s counter\n%smessages_total %llu\n",
	          PROM_NCCL_PREFIX, suf, PROM_NCCL_PREFIX, suf, PROM_NCCL_PREFIX,
	          (unsigned long long)c[0]);
	sb_printf(out,
	          "# HELP %smessages_folded%s NCCL lines not shown because %d series were "
	          "reached.\n# TYPE %smessages_folded%s counter\n%smessages_folded_total %llu\n",
	          PROM_NCCL_PREFIX, suf, NCCL_SERIES_CAP, PROM_NCCL_PREFIX, suf, PROM_NCCL_PREFIX,
	          (unsigned long long)c[1]);
}
