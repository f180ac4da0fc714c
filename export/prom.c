/* prom.c - render the snapshot as Prometheus text or OpenMetrics.
 *
 * Families are written in table order, native names first.  A family's
 * HELP/TYPE header is written, then its samples; if no GPU had a valid
 * sample the header is taken back, so unsupported metrics leave no trace.
 */
#include "export/prom.h"
#include "export/collectors.h"
#include "export/hpc_jobs.h"
#include "export/prom_dcgm_exp.h"
#include "export/prom_procs.h"
#include "series/mig.h"
#include "series/nvlink.h"
#include "series/xid.h"
#include "series/xid_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void prom_dcgm_default(struct prom_dcgm *d)
{
	*d = (struct prom_dcgm){.host_label = "hostname",
	                        .driver_version = true,
	                        .xid_window_ms = 300000,
	                        .clock_window_ms = 300000,
	                        .collect_ms = 30000};
}

int prom_parse_names(const char *s, unsigned *names)
{
	if (strcmp(s, "native") == 0)
		*names = NAMES_NATIVE;
	else if (strcmp(s, "dcgm") == 0)
		*names = NAMES_DCGM;
	else if (strcmp(s, "both") == 0)
		*names = NAMES_BOTH;
	else
		return -1;
	return 0;
}

/* A GPU still being probed is left out altogether (the agent listens before its GPUs
 * are probed): absent until ready, never a half-known GPU. */
static bool shown(const struct gpu_record *g)
{
	return g->health != GPU_PROBING;
}

static bool has_value(const struct gpu_record *g, int m)
{
	return metric_set_has(&g->valid, m) &&
	       (metric_set_has(&g->supported, m) || metric_table[m].source == SRC_AGENT);
}

/* OpenMetrics names a counter family without its _total suffix. */
static void family_name(struct strbuf *out, const char *name, bool openmetrics, bool counter)
{
	size_t n = strlen(name);
	if (openmetrics && counter && n > 6 && strcmp(name + n - 6, "_total") == 0)
		n -= 6;
	sb_append(out, name, n);
}

static void header(struct strbuf *out, const char *name, const char *help, const char *type,
                   bool openmetrics, bool counter)
{
	sb_puts(out, "# HELP ");
	family_name(out, name, openmetrics, counter);
	sb_puts(out, " ");
	sb_puts(out, help);
	sb_puts(out, "\n# TYPE ");
	family_name(out, name, openmetrics, counter);
	sb_puts(out, " ");
	sb_puts(out, type);
	sb_puts(out, "\n");
}

/* dcgm-exporter's device label: the /dev/nvidiaN name, empty when unknown. */
static void device_label(struct strbuf *out, const struct gpu_record *g)
{
	sb_puts(out, "\",device=\"");
	if (g->id.minor >= 0) {
		sb_puts(out, "nvidia");
		sb_uint(out, (unsigned)g->id.minor);
	}
}

static void native_labels(struct strbuf *out, const struct gpu_record *g)
{
	sb_puts(out, "{gpu=\"");
	sb_uint(out, g->index);
	sb_puts(out, "\",uuid=\"");
	sb_label_value(out, g->id.uuid);
	sb_puts(out, "\"");
}

/* dcgm-exporter's labels of a MIG instance's series. */
static void mig_labels(struct strbuf *out, const struct mig_record *r)
{
	sb_puts(out, ",GPU_I_PROFILE=\"");
	sb_label_value(out, r->profile);
	sb_puts(out, "\",GPU_I_ID=\"");
	sb_uint(out, r->gi);
	sb_puts(out, "\"");
}

/* dcgm-exporter's labels, in its order: gpu, UUID, pci_bus_id, device, modelName, the MIG
 * instance's, the host's, the label fields (driver and NVML versions), then the Xid's
 * err_code and err_msg, and the pod that holds the GPU. */
static void dcgm_labels(struct strbuf *out, const struct gpu_record *g,
                        const struct board_info *info, const struct prom_dcgm *o,
                        const struct mig_record *mig, int m, double raw)
{
	if (o->labels && !mig && m != METRIC_XID_LAST) {
		const struct strbuf *l = &o->labels[g - o->labeled];
		sb_append(out, l->data, l->len);
		return;
	}
	sb_puts(out, "{gpu=\"");
	sb_uint(out, g->index);
	sb_puts(out, "\",UUID=\"");
	sb_label_value(out, g->id.uuid);
	sb_puts(out, "\",pci_bus_id=\"");
	sb_label_value(out, g->id.pci_bus_id);
	device_label(out, g);
	sb_puts(out, "\",modelName=\"");
	sb_label_value(out, g->id.name);
	sb_puts(out, "\"");
	if (mig)
		mig_labels(out, mig);
	if (o->host_label && *o->host_label) {
		sb_puts(out, ",");
		sb_puts(out, o->host_label);
		sb_puts(out, "=\"");
		sb_label_value(out, info->hostname);
		sb_puts(out, "\"");
	}
	if (o->driver_version) {
		sb_puts(out, ",DCGM_FI_DRIVER_VERSION=\"");
		sb_label_value(out, info->driver_version);
		sb_puts(out, "\"");
	}
	if (o->nvml_version) {
		sb_puts(out, ",DCGM_FI_NVML_VERSION=\"");
		sb_label_value(out, info->nvml_version);
		sb_puts(out, "\"");
	}
	for (int l = LABEL_BRAND; o->gpu_labels && l < LABEL_COUNT; l++) {
		const char *v = collector_label_value(&g->id, l);
		if (!(o->gpu_labels & (1u << l)) || !*v)
			continue; /* dcgm-exporter leaves a blank DCGM value off too */
		sb_printf(out, ",%s=\"", collector_label_name(l));
		sb_label_value(out, v);
		sb_puts(out, "\"");
	}
	if (m == METRIC_XID_LAST) {
		int code = (int)raw;
		sb_printf(out, ",err_code=\"%d\",err_msg=\"", code);
		sb_label_value(out, code == 0 ? "No Error" : xid_description(code));
		sb_puts(out, "\"");
	}
	if (!mig)
		prom_owner_labels(g, out); /* pod, namespace, container: one pod holds the GPU */
}

void prom_dcgm_series_labels(struct strbuf *out, const struct gpu_record *g,
                             const struct board_info *info, const struct prom_dcgm *o,
                             const struct mig_record *mig)
{
	dcgm_labels(out, g, info, o, mig, -1, 0);
}

/* Series i of a "@label" row for one GPU: returns false past the last one;
 * *present is false for a series with nothing to show this time. */
static bool dynamic_series(const struct gpu_record *g, int m, unsigned i, unsigned *label,
                           double *raw, bool *present)
{
	*present = false;
	if (m == METRIC_XID_BY_CODE) {
		if (i >= g->xids.n)
			return false;
		*label = g->xids.code[i];
		*raw = g->xids.count[i];
		*present = true;
		return true;
	}
	if (i >= g->nvlink.links)
		return false;
	*label = i;
	*raw = nvlink_value(&g->nvlink, m, i); /* the row's own links (series/nvlink.h) */
	*present = *raw >= 0;
	return true;
}

static void gpu_label_texts_free(struct strbuf *l, unsigned n)
{
	for (unsigned i = 0; l && i < n; i++)
		sb_free(&l[i]);
	free(l);
}

/* Each GPU's label text, rendered once per body instead of on each of its lines (tens of
 * thousands a tick at 64 GPUs): native (gpu, uuid) or DCGM's (dcgm_labels without a MIG
 * instance or an Xid).  NULL when out of memory. */
static struct strbuf *gpu_label_texts(const struct board_snapshot *s, const struct prom_dcgm *dcgm)
{
	struct strbuf *l = calloc(s->count ? s->count : 1, sizeof(*l));
	bool oom = !l;
	for (unsigned i = 0; !oom && i < s->count; i++) {
		sb_init(&l[i], 256);
		if (dcgm)
			dcgm_labels(&l[i], &s->gpus[i], &s->info, dcgm, NULL, -1, 0);
		else
			native_labels(&l[i], &s->gpus[i]);
		oom = l[i].oom;
	}
	if (oom) {
		gpu_label_texts_free(l, s->count);
		return NULL;
	}
	return l;
}

static void sample_line(struct strbuf *out, const char *name, const struct strbuf *gpu_labels,
                        const char *labels, double value)
{
	sb_puts(out, name);
	sb_append(out, gpu_labels->data, gpu_labels->len);
	if (labels && labels[0]) {
		sb_puts(out, ",");
		sb_puts(out, labels);
	}
	sb_puts(out, "} ");
	sb_double(out, value);
	sb_puts(out, "\n");
}

/* The series of GPU g's MIG instances for row m (native names). */
static bool render_mig(const struct gpu_record *g, const struct strbuf *gl, int m,
                       struct strbuf *out)
{
	const struct metric_def *d = &metric_table[m];
	bool any = false;
	for (unsigned k = 0; metric_per_mig(m) && k < g->n_mig; k++) {
		const struct mig_record *r = &g->mig[k];
		if (!metric_set_has(&r->valid, m))
			continue;
		sb_puts(out, d->name);
		sb_append(out, gl->data, gl->len);
		if (d->labels[0]) {
			sb_puts(out, ",");
			sb_puts(out, d->labels);
		}
		mig_labels(out, r);
		sb_puts(out, "} ");
		sb_double(out, metric_native_value(d->unit, r->raw[m]));
		sb_puts(out, "\n");
		any = true;
	}
	return any;
}

static bool render_dynamic(const struct gpu_record *g, const struct strbuf *gl, int m,
                           struct strbuf *out)
{
	const struct metric_def *d = &metric_table[m];
	bool any = false, present;
	unsigned label;
	double raw;
	for (unsigned i = 0; dynamic_series(g, m, i, &label, &raw, &present); i++) {
		if (!present)
			continue;
		char l[64];
		snprintf(l, sizeof(l), "%s=\"%u\"", metric_dynamic_label(m), label);
		sample_line(out, d->name, gl, l, metric_native_value(d->unit, raw));
		any = true;
	}
	return any;
}

static void render_native(const struct board_snapshot *s, bool om, const struct strbuf *gl,
                          struct strbuf *out)
{
	for (int first = 0; first < METRIC_COUNT;) {
		int end = first + 1;
		while (end < METRIC_COUNT && !metric_family_first(end))
			end++;
		const struct metric_def *d = &metric_table[first];
		bool counter = d->type == COUNTER;
		size_t mark = out->len;
		header(out, d->name, d->help, counter ? "counter" : "gauge", om, counter);
		bool any = false;
		for (int m = first; m < end; m++) {
			for (unsigned i = 0; i < s->count; i++) {
				const struct gpu_record *g = &s->gpus[i];
				if (!shown(g))
					continue;
				any |= render_mig(g, &gl[i], m, out);
				if (!has_value(g, m))
					continue;
				if (metric_dynamic_label(m)) {
					any |= render_dynamic(g, &gl[i], m, out);
					continue;
				}
				any = true;
				sample_line(out, d->name, &gl[i], metric_table[m].labels,
				            metric_native_value(d->unit, g->raw[m]));
			}
		}
		if (!any)
			out->len = mark;
		first = end;
	}
}

static void render_info(const struct board_snapshot *s, bool om, struct strbuf *out)
{
	sb_puts(out, "# HELP gpuscope_gpu_info Identity and software versions of each GPU; "
	             "always 1.\n");
	sb_puts(out, om ? "# TYPE gpuscope_gpu info\n" : "# TYPE gpuscope_gpu_info gauge\n");
	for (unsigned i = 0; i < s->count; i++) {
		const struct gpu_record *g = &s->gpus[i];
		if (!shown(g))
			continue;
		sb_puts(out, "gpuscope_gpu_info");
		native_labels(out, g);
		sb_puts(out, ",name=\"");
		sb_label_value(out, g->id.name);
		sb_puts(out, "\",pci_bus_id=\"");
		sb_label_value(out, g->id.pci_bus_id);
		device_label(out, g);
		sb_puts(out, "\",driver_version=\"");
		sb_label_value(out, s->info.driver_version);
		sb_puts(out, "\",nvml_version=\"");
		sb_label_value(out, s->info.nvml_version);
		sb_puts(out, "\",cuda_driver_version=\"");
		sb_label_value(out, s->info.cuda_driver_version);
		sb_puts(out, "\"} 1\n");
	}
	sb_puts(out, "# HELP gpuscope_build_info The gpuscope agent's version and the GPU "
	             "library it reads (simulator scenario when simulated); always 1.\n");
	sb_puts(out, om ? "# TYPE gpuscope_build info\n" : "# TYPE gpuscope_build_info gauge\n");
	sb_puts(out, "gpuscope_build_info{version=\"" GPUSCOPE_VERSION "\",simulator=\"");
	sb_label_value(out, s->info.scenario);
	sb_puts(out, "\"} 1\n");
}

/* One DCGM sample line of metric m (raw value) for GPU g, or for its MIG instance mig;
 * one per job with --hpc-job-mapping-dir, as dcgm-exporter writes them. */
static void dcgm_line(struct strbuf *out, const char *name, const struct gpu_record *g,
                      const struct board_snapshot *s, const struct prom_dcgm *o,
                      const struct mig_record *mig, int m, double raw)
{
	const struct hpc_job_list *jobs = hpc_map_find(o->hpc, g->index, mig ? (int)mig->gi : -1);
	for (unsigned j = 0; j < (jobs ? jobs->n : 1); j++) {
		sb_puts(out, name);
		dcgm_labels(out, g, &s->info, o, mig, m, raw);
		if (jobs) {
			sb_puts(out, ",hpc_job=\"");
			sb_label_value(out, jobs->job[j]);
			sb_puts(out, "\"");
		}
		sb_puts(out, "} ");
		sb_double(out, metric_dcgm_value(metric_table[m].unit, raw));
		sb_puts(out, "\n");
	}
}

/* dcgm-exporter on a MIG GPU watches its GPU instances, not the GPU: every series of such
 * a GPU is per instance, with the instance's labels, the instance's own value where it has
 * one (memory, profiling) and the GPU's where the value is the device's (temperature,
 * clocks, power), so that sum(DCGM_FI_DEV_FB_USED) never counts a GPU twice. */
static bool render_dcgm_gpu(struct strbuf *out, const char *name, const struct gpu_record *g,
                            const struct board_snapshot *s, const struct prom_dcgm *o, int m)
{
	if (g->n_mig == 0) {
		if (!has_value(g, m))
			return false;
		dcgm_line(out, name, g, s, o, NULL, m, g->raw[m]);
		return true;
	}
	bool any = false;
	for (unsigned k = 0; k < g->n_mig; k++) {
		const struct mig_record *r = &g->mig[k];
		if (metric_per_mig(m)) {
			if (!metric_set_has(&r->valid, m))
				continue;
			dcgm_line(out, name, g, s, o, r, m, r->raw[m]);
		} else {
			if (!has_value(g, m))
				continue;
			dcgm_line(out, name, g, s, o, r, m, g->raw[m]);
		}
		any = true;
	}
	return any;
}

/* DCGM's counter names lack _total, which OpenMetrics requires of counters; there they are
 * typed unknown (rate() works the same).  The file's type wins over the table's. */
static const char *dcgm_type(const struct metric_def *d, const struct collector *c, bool om)
{
	bool counter = c ? c->type == COLLECTOR_COUNTER : d->type == COUNTER;
	return !counter ? "gauge" : om ? "unknown" : "counter";
}

/* A per-link row: DCGM names each link's series by its own field (DCGM_FI_..._L0 to _L17),
 * each selected by its own line of the counters file. */
static void render_dcgm_links(const struct board_snapshot *s, bool om, const struct prom_dcgm *o,
                              int m, struct strbuf *out)
{
	const struct metric_def *d = &metric_table[m];
	for (unsigned l = 0; l < GPU_MAX_NVLINKS; l++) {
		char name[COLLECTOR_NAME_MAX];
		snprintf(name, sizeof(name), "%s%u", d->dcgm, l);
		const struct collector *c =
		    o->select ? collectors_find_name(o->select, name) : NULL;
		if (o->select && !c)
			continue;
		size_t mark = out->len;
		header(out, name, c ? c->help : d->dcgm_help, dcgm_type(d, c, om), false, false);
		bool any = false;
		for (unsigned i = 0; i < s->count; i++) {
			const struct gpu_record *g = &s->gpus[i];
			double v = nvlink_value(&g->nvlink, m, l);
			if (!shown(g) || !has_value(g, m) || v < 0)
				continue;
			/* a MIG GPU's series are its instances' (see render_dcgm_gpu) */
			for (unsigned k = 0; k < (g->n_mig ? g->n_mig : 1); k++)
				dcgm_line(out, name, g, s, o, g->n_mig ? &g->mig[k] : NULL, m, v);
			any = true;
		}
		if (!any)
			out->len = mark;
	}
}

static void render_dcgm(const struct board_snapshot *s, bool om, const struct prom_dcgm *o,
                        struct strbuf *out)
{
	for (int m = 0; m < METRIC_COUNT; m++) {
		const struct metric_def *d = &metric_table[m];
		if (!d->dcgm)
			continue;
		if (metric_dynamic_label(m)) {
			render_dcgm_links(s, om, o, m, out);
			continue;
		}
		const struct collector *c = o->select ? collectors_find_metric(o->select, m) : NULL;
		if (o->select && !c)
			continue;
		size_t mark = out->len;
		header(out, d->dcgm, c ? c->help : d->dcgm_help, dcgm_type(d, c, om), false, false);
		bool any = false;
		for (unsigned i = 0; i < s->count; i++)
			if (shown(&s->gpus[i]))
				any |= render_dcgm_gpu(out, d->dcgm, &s->gpus[i], s, o, m);
		if (!any)
			out->len = mark;
	}
}

/* The unit suffix of a native name: the window statistic goes before it. */
static size_t unit_suffix_at(const char *name)
{
	static const char *const units[] = {"_bytes_per_second", "_ratio", "_bytes",  "_watts",
	                                    "_celsius",          "_hertz", "_seconds"};
	size_t n = strlen(name);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t u = strlen(units[i]);
		if (n > u && strcmp(name + n - u, units[i]) == 0)
			return n - u;
	}
	return n;
}

void prom_window_name(const char *name, const char *stat, char *buf, size_t len)
{
	size_t cut = unit_suffix_at(name);
	snprintf(buf, len, "%.*s_window_%s%s", (int)cut, name, stat, name + cut);
}

void prom_render_windows(const struct board_snapshot *s, const struct prom_options *o,
                         const struct window_agg (*agg)[METRIC_COUNT], double seconds,
                         struct strbuf *out)
{
	if (!(o->names & NAMES_NATIVE))
		return;
	struct strbuf *gl = gpu_label_texts(s, NULL);
	if (!gl) {
		out->oom = true;
		return;
	}
	static const char *const stat[2] = {"max", "mean"};
	for (int first = 0; first < METRIC_COUNT;) {
		int end = first + 1;
		while (end < METRIC_COUNT && !metric_family_first(end))
			end++;
		const struct metric_def *d = &metric_table[first];
		if (!metric_windowed(first)) {
			first = end;
			continue;
		}
		size_t cut = unit_suffix_at(d->name);
		for (int k = 0; k < 2; k++) {
			char name[160];
			snprintf(name, sizeof(name), "%.*s_window_%s%s", (int)cut, d->name, stat[k],
			         d->name + cut);
			size_t mark = out->len;
			sb_printf(
			    out,
			    "# HELP %s %s of %s over this scraper's window (since its "
			    "previous scrape, %.0f s; every sample the GPU reported in it).\n",
			    name, k == 0 ? "Maximum" : "Mean", d->name, seconds);
			sb_printf(out, "# TYPE %s gauge\n", name);
			bool any = false;
			for (int m = first; m < end; m++) {
				for (unsigned i = 0; i < s->count; i++) {
					const struct window_agg *a = &agg[i][m];
					if (!a->n || !metric_set_has(&s->gpus[i].supported, m) ||
					    !shown(&s->gpus[i]))
						continue;
					double raw = k == 0 ? a->max : a->sum / a->n;
					sample_line(out, name, &gl[i], metric_table[m].labels,
					            metric_native_value(d->unit, raw));
					any = true;
				}
			}
			if (!any)
				out->len = mark;
		}
		first = end;
	}
	gpu_label_texts_free(gl, s->count);
}

void prom_render_body(const struct board_snapshot *s, const struct prom_options *o,
                      struct strbuf *out)
{
	if (o->names & NAMES_NATIVE) {
		struct strbuf *gl = gpu_label_texts(s, NULL);
		if (!gl) {
			out->oom = true;
			return;
		}
		render_native(s, o->openmetrics, gl, out);
		gpu_label_texts_free(gl, s->count);
		render_info(s, o->openmetrics, out);
		prom_render_processes(s, o->process_cap, o->openmetrics, out);
	}
	if (o->names & NAMES_DCGM) {
		struct prom_dcgm defaults;
		prom_dcgm_default(&defaults);
		const struct prom_dcgm *d = o->dcgm ? o->dcgm : &defaults;
		struct prom_dcgm eff = *d;
		if (d->select) { /* the file's label rows decide the label fields */
			eff.driver_version = collectors_has_label(d->select, LABEL_DRIVER_VERSION);
			eff.nvml_version = collectors_has_label(d->select, LABEL_NVML_VERSION);
			eff.gpu_labels = collectors_gpu_labels(d->select);
		}
		eff.hpc = eff.hpc_jobs ? hpc_jobs_acquire() : NULL;
		eff.labels = NULL;
		struct strbuf *labels = gpu_label_texts(s, &eff);
		if (!labels)
			out->oom = true;
		eff.labels = labels;
		eff.labeled = s->gpus;
		render_dcgm(s, o->openmetrics, &eff, out);
		prom_render_dcgm_exp(s, o->openmetrics, &eff, out);
		hpc_map_release(eff.hpc);
		gpu_label_texts_free(labels, s->count);
	}
}

void prom_finish(const struct prom_options *o, struct strbuf *out)
{
	if (o->openmetrics)
		sb_puts(out, "# EOF\n");
	if (out->data && !out->oom)
		out->data[out->len] = 0;
}

void prom_render(const struct board_snapshot *s, const struct prom_options *o, struct strbuf *out)
{
	prom_render_body(s, o, out);
	prom_finish(o, out);
}

void prom_render_verdicts(const struct prom_verdict *v, size_t n, const struct prom_options *o,
                          struct strbuf *out)
{
	if (n == 0 || !(o->names & NAMES_NATIVE))
		return;
	header(out, "gpuscope_verdict",
	       "Active diagnosis verdicts over the agent's diagnosis window (1 while active; "
	       "see /api/v1/diagnosis for evidence and fixes).",
	       "gauge", o->openmetrics, false);
	for (size_t i = 0; i < n; i++) {
		sb_printf(out, "gpuscope_verdict{gpu=\"%ld\",uuid=\"", v[i].gpu);
		sb_label_value(out, v[i].uuid);
		sb_puts(out, "\",verdict=\"");
		sb_label_value(out, v[i].verdict);
		sb_puts(out, "\",severity=\"");
		sb_label_value(out, v[i].severity);
		sb_puts(out, "\"} 1\n");
	}
}
