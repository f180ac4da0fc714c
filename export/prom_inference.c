/* prom_inference.c - per-inference histograms (see prom_inference.h). */
#include "export/prom_inference.h"

#include <stdlib.h>
#include <string.h>

static void labels(struct strbuf *out, const struct inference_series *s)
{
	sb_puts(out, "{process=\"");
	sb_label_value(out, s->process);
	sb_puts(out, "\",workload=\"");
	sb_label_value(out, s->workload);
	sb_puts(out, "\",range=\"");
	sb_label_value(out, s->range);
	sb_puts(out, "\"");
}

static void family(struct strbuf *out, enum inference_family f, const struct inference_series *s,
                   unsigned n)
{
	const char *suffix = inference_family_suffix(f);
	bool any = false;
	for (unsigned i = 0; i < n && !any; i++)
		any = s[i].h[f].count > 0;
	if (!any) /* absent is not zero: energy, say, when nothing measured it */
		return;
	sb_printf(out, "# HELP %s%s %s\n# TYPE %s%s histogram\n", PROM_INFERENCE_PREFIX, suffix,
	          inference_family_help(f), PROM_INFERENCE_PREFIX, suffix);
	const double *b;
	unsigned nb = inference_family_bounds(f, &b);
	for (unsigned i = 0; i < n; i++) {
		const struct inference_hist *h = &s[i].h[f];
		if (!h->count)
			continue;
		uint64_t cum = 0;
		for (unsigned k = 0; k <= nb; k++) {
			cum = k < nb ? cum + h->bucket[k] : h->count;
			sb_printf(out, "%s%s_bucket", PROM_INFERENCE_PREFIX, suffix);
			labels(out, &s[i]);
			sb_puts(out, ",le=\"");
			if (k < nb)
				sb_double(out, b[k]);
			else
				sb_puts(out, "+Inf");
			sb_printf(out, "\"} %llu\n", (unsigned long long)cum);
		}
		sb_printf(out, "%s%s_sum", PROM_INFERENCE_PREFIX, suffix);
		labels(out, &s[i]);
		sb_puts(out, "} ");
		sb_double(out, h->sum);
		sb_printf(out, "\n%s%s_count", PROM_INFERENCE_PREFIX, suffix);
		labels(out, &s[i]);
		sb_printf(out, "} %llu\n", (unsigned long long)h->count);
	}
}

/* OpenMetrics names a counter family without _total; the 0.0.4 text format with it. */
static void counter(struct strbuf *out, bool om, const char *name, const char *help, uint64_t v)
{
	const char *suf = om ? "" : "_total";
	sb_printf(out, "# HELP %s%s%s %s\n# TYPE %s%s%s counter\n%s%s_total %llu\n",
	          PROM_INFERENCE_PREFIX, name, suf, help, PROM_INFERENCE_PREFIX, name, suf,
	          PROM_INFERENCE_PREFIX, name, (unsigned long long)v);
}

void prom_render_inference(struct inference_table *t, bool openmetrics, struct strbuf *out)
{
	struct inference_series *s;
	unsigned n = 0;
	uint64_t c[3];
	if (inference_table_copy(t, &s, &n, c) != 0)
		return;
	/* Nothing until the first datagram: most agents never see `gpuscope run`. */
	if (c[0] + c[1] == 0) {
		free(s);
		return;
	}
	for (int f = 0; f < INF_FAM_COUNT; f++)
		family(out, (enum inference_family)f, s, n);
	free(s);
	counter(out, openmetrics, "messages",
	        "Inference datagrams received from injected programs (gpuscope run).", c[0]);
	counter(out, openmetrics, "messages_rejected",
	        "Datagrams on the inference socket that were not inference messages.", c[1]);
	counter(out, openmetrics, "messages_folded",
	        "Inferences counted under process=\"_other\" because the series cap was reached.",
	        c[2]);
}
