/* render.c - the report as text (80 columns), Markdown and JSON.
 *
 * One order for every format, the order a reader asks in: the fleet first
 * (how many GPUs, how busy, what the idle time costs, which verdicts are
 * most common), then one section per GPU (its summary line, each verdict
 * with evidence and fix, what could not be judged), then one line per
 * workload when the history has process rows.  HTML lives in html.c.
 */
#include "report/render.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int report_parse_format(const char *s, enum report_format *f)
{
	if (strcmp(s, "text") == 0)
		*f = REPORT_TEXT;
	else if (strcmp(s, "json") == 0)
		*f = REPORT_JSON;
	else if (strcmp(s, "markdown") == 0 || strcmp(s, "md") == 0)
		*f = REPORT_MARKDOWN;
	else if (strcmp(s, "html") == 0)
		*f = REPORT_HTML;
	else
		return -1;
	return 0;
}

void report_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

void report_span(double s, char *buf, size_t len)
{
	if (s >= 86400 * 2)
		snprintf(buf, len, "%.1f days", s / 86400);
	else if (s >= 7200)
		snprintf(buf, len, "%.1f h", s / 3600);
	else if (s >= 120)
		snprintf(buf, len, "%.0f min", s / 60);
	else
		snprintf(buf, len, "%.0f s", s);
}

void report_fleet(const struct report_data *d, const struct analyze_result *r,
                  struct report_fleet *f)
{
	memset(f, 0, sizeof(*f));
	f->util_mean = f->waste_per_day = f->price_per_hour = NAN;
	double usum = 0, wsum = 0;
	size_t un = 0, wn = 0;
	bool one_price = true;
	for (size_t i = 0; i < r->nsummaries; i++) {
		const struct analyze_gpu_summary *s = &r->summaries[i];
		if (!isnan(s->util_mean)) {
			usum += s->util_mean;
			un++;
		}
		if (!isnan(s->waste_per_day)) {
			wsum += s->waste_per_day;
			wn++;
		}
		if (!isnan(s->price_per_hour)) {
			if (!isnan(f->price_per_hour) && f->price_per_hour != s->price_per_hour)
				one_price = false;
			f->price_per_hour = s->price_per_hour;
		}
		if (!isnan(s->energy_j))
			f->energy_j += s->energy_j;
	}
	if (!one_price)
		f->price_per_hour = NAN;
	f->util_mean = un ? usum / (double)un : NAN;
	f->waste_per_day = wn ? wsum : NAN;
	f->priced = wn;
	for (size_t i = 0; i < r->nverdicts; i++) {
		const struct analyze_verdict *v = &r->verdicts[i];
		if (v->severity == ANALYZE_SEVERITY_CRITICAL)
			f->critical++;
		else if (v->severity == ANALYZE_SEVERITY_WARNING)
			f->warning++;
		size_t k = 0;
		while (k < f->ntop && strcmp(f->top[k].id, v->id) != 0)
			k++;
		if (k == f->ntop) {
			if (k == REPORT_TOP_MAX)
				continue;
			f->top[k].id = v->id;
			f->top[k].severity = v->severity;
			f->ntop++;
		}
		f->top[k].count++;
		if (v->severity > f->top[k].severity)
			f->top[k].severity = v->severity;
	}
	/* Most severe first, then most common. */
	for (size_t i = 1; i < f->ntop; i++)
		for (size_t j = i; j > 0; j--) {
			struct report_top *a = &f->top[j - 1], *b = &f->top[j];
			if (a->severity > b->severity ||
			    (a->severity == b->severity && a->count >= b->count))
				break;
			struct report_top t = *a;
			*a = *b;
			*b = t;
		}
	(void)d;
}

const char *report_num(char *buf, size_t len, double v, int decimals, const char *suffix)
{
	if (isnan(v))
		snprintf(buf, len, "unknown");
	else
		snprintf(buf, len, "%.*f%s", decimals, v, suffix);
	return buf;
}

size_t report_workloads(const struct report_data *d, struct report_workload *out, size_t max)
{
	size_t n = 0;
	for (size_t g = 0; g < d->ngpus; g++) {
		const struct report_gpu *rg = &d->gpus[g];
		for (size_t p = 0; p < rg->nprocs; p++) {
			const struct report_process *rp = &rg->rprocs[p];
			char pidname[32];
			snprintf(pidname, sizeof(pidname), "pid %u", rp->a.pid);
			const char *name = rp->workload[0]             ? rp->workload
			                   : rp->a.name && *rp->a.name ? rp->a.name
			                                               : pidname;
			size_t k = 0;
			while (k < n && strcmp(out[k].name, name) != 0)
				k++;
			if (k == n) {
				if (n == max)
					continue;
				memset(&out[n], 0, sizeof(out[n]));
				out[n].gpu_mem_peak = out[n].cpu_cores_mean = NAN;
				snprintf(out[n].name, sizeof(out[n].name), "%s", name);
				n++;
			}
			struct report_workload *w = &out[k];
			if (w->last_gpu != (long)g + 1) {
				w->gpus++;
				w->last_gpu = (long)g + 1;
			}
			w->processes++;
			double mem_max = NAN, cpu = 0, sm = 0;
			size_t cn = 0, sn = 0;
			for (size_t i = 0; i < d->n; i++) {
				if (rp->a.gpu_mem_bytes && !isnan(rp->a.gpu_mem_bytes[i]) &&
				    !(rp->a.gpu_mem_bytes[i] <= mem_max))
					mem_max = rp->a.gpu_mem_bytes[i];
				if (rp->a.cpu_cores && !isnan(rp->a.cpu_cores[i])) {
					cpu += rp->a.cpu_cores[i];
					cn++;
				}
				if (rp->a.sm_util && !isnan(rp->a.sm_util[i])) {
					sm += rp->a.sm_util[i];
					sn++;
				}
			}
			/* Unknown stays unknown: a sum starts at the first known part. */
			if (!isnan(mem_max))
				w->gpu_mem_peak =
				    (isnan(w->gpu_mem_peak) ? 0 : w->gpu_mem_peak) + mem_max;
			if (cn)
				w->cpu_cores_mean =
				    (isnan(w->cpu_cores_mean) ? 0 : w->cpu_cores_mean) +
				    cpu / (double)cn;
			w->sm_util_sum += sn ? sm / (double)sn : 0;
			w->sm_n += sn ? 1 : 0;
		}
	}
	return n;
}

/* ---- JSON ---- */

json_t *report_json(const struct report_data *d, const struct analyze_result *r)
{
	json_t *doc = analyze_result_json(r);
	if (!doc)
		return NULL;
	json_t *w = json_object();
	char a[64], b[64];
	report_time(d->from, a, sizeof(a));
	report_time(d->to, b, sizeof(b));
	json_object_set_new(w, "from", json_integer(d->from));
	json_object_set_new(w, "to", json_integer(d->to));
	json_object_set_new(w, "from_text", json_string(a));
	json_object_set_new(w, "to_text", json_string(b));
	json_object_set_new(w, "step_s", json_real(d->step));
	json_object_set_new(w, "points", json_integer((json_int_t)d->n));
	json_object_set_new(w, "source", json_string(d->source));
	json_object_set_new(w, "simulated", json_boolean(d->simulated));
	json_object_set_new(doc, "window", w);
	/* Prometheus: which node each GPU is on (uuids repeat across simulated nodes). */
	json_t *gpus = json_object_get(doc, "gpus");
	for (size_t g = 0; g < d->ngpus && g < json_array_size(gpus); g++)
		if (d->gpus[g].host)
			json_object_set_new(json_array_get(gpus, g), "host",
			                    json_string(d->gpus[g].host));
	struct report_workload wl[REPORT_WORKLOADS_MAX];
	size_t nw = report_workloads(d, wl, REPORT_WORKLOADS_MAX);
	json_t *arr = json_array();
	for (size_t i = 0; i < nw; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "workload", json_string(wl[i].name));
		json_object_set_new(o, "gpus", json_integer((json_int_t)wl[i].gpus));
		json_object_set_new(o, "processes", json_integer((json_int_t)wl[i].processes));
		json_object_set_new(o, "gpu_mem_peak_bytes",
		                    isnan(wl[i].gpu_mem_peak) ? json_null()
		                                              : json_real(wl[i].gpu_mem_peak));
		json_object_set_new(o, "cpu_cores_mean",
		                    isnan(wl[i].cpu_cores_mean) ? json_null()
		                                                : json_real(wl[i].cpu_cores_mean));
		json_object_set_new(o, "sm_util_mean",
		                    wl[i].sm_n ? json_real(wl[i].sm_util_sum / (double)wl[i].sm_n)
		                               : json_null());
		json_array_append_new(arr, o);
	}
	json_object_set_new(doc, "workloads", arr);
	report_inference_section_json(doc, d, r);
	json_object_set_new(doc, "models", report_serving_json(&d->serving));
	return doc;
}

char *report_json_text(const struct report_data *d, const struct analyze_result *r, int indent)
{
	json_t *doc = report_json(d, r);
	if (!doc)
		return NULL;
	size_t flags = JSON_ENSURE_ASCII | JSON_REAL_PRECISION(10);
	flags |= indent > 0 ? JSON_INDENT(indent) : JSON_COMPACT;
	char *text = json_dumps(doc, flags);
	json_decref(doc);
	return text;
}

/* ---- text and Markdown ---- */

/* Writes s word-wrapped to `width` columns: the first line after `first`,
 * the others indented by as many spaces. */
static void wrap(FILE *out, const char *first, const char *s, int width)
{
	int ind = (int)strlen(first);
	int avail = width - ind;
	bool head = true;
	while (*s) {
		while (*s == ' ')
			s++;
		if (!*s)
			break;
		int len = (int)strlen(s);
		int cut = len;
		if (len > avail) {
			cut = avail;
			while (cut > 0 && s[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = avail;
		}
		fprintf(out, "%*s%.*s\n", head ? 0 : ind, head ? first : "", cut, s);
		head = false;
		s += cut;
	}
}

/* True when every GPU has a not-judged entry with this id and reason: said
 * once for the fleet instead of once per GPU. */
static bool not_judged_everywhere(const struct report_data *d, const struct analyze_result *r,
                                  const struct analyze_not_judged *nj)
{
	if (d->ngpus < 2)
		return false;
	for (size_t g = 0; g < d->ngpus; g++) {
		bool found = false;
		for (size_t i = 0; i < r->nnot_judged && !found; i++)
			found = r->not_judged[i].about.gpu_index == (long)g &&
			        strcmp(r->not_judged[i].id, nj->id) == 0 &&
			        strcmp(r->not_judged[i].reason, nj->reason) == 0;
		if (!found)
			return false;
	}
	return true;
}

static void text_fleet(FILE *out, const struct report_data *d, const struct analyze_result *r,
                       bool md)
{
	struct report_fleet f;
	report_fleet(d, r, &f);
	char a[64], b[64], span[32];
	report_time(d->from, a, sizeof(a));
	report_time(d->to, b, sizeof(b));
	report_span((double)(d->to - d->from + 1), span, sizeof(span));
	const char *cur = r->currency[0] ? r->currency : "USD";
	if (md) {
		fprintf(out, "# gpuscope report\n\n%s to %s (%s), %s%s\n\n## Fleet\n\n", a, b, span,
		        d->source, d->simulated ? " (SIMULATED: every number is made up)" : "");
		fprintf(out, "| | |\n|---|---|\n| GPUs | %zu |\n", d->ngpus);
	} else {
		fprintf(out, "gpuscope report: %s to %s (%s)\n", a, b, span);
		wrap(out, "source: ", d->source, 80);
		if (d->simulated)
			fprintf(out, "SIMULATED GPUs: every number below is made up.\n");
		fputc('\n', out);
		fprintf(out, "FLEET\n  GPUs               %zu\n", d->ngpus);
	}
	char util[32] = "unknown", waste[160] = "unknown (no price: use --price-per-gpu-hour)";
	if (!isnan(f.util_mean))
		snprintf(util, sizeof(util), "%.0f%%", f.util_mean * 100);
	if (!isnan(f.waste_per_day)) {
		int n = snprintf(waste, sizeof(waste), "%.2f %s/day, %.0f %s/year of idle GPU time",
		                 f.waste_per_day, cur, f.waste_per_day * 365, cur);
		if (!isnan(f.price_per_hour) && n > 0 && (size_t)n < sizeof(waste))
			snprintf(waste + n, sizeof(waste) - (size_t)n, " (at %.2f %s/h)",
			         f.price_per_hour, cur);
	}
	char verdicts[512] = "none";
	size_t used = 0;
	for (size_t i = 0; i < f.ntop && used < sizeof(verdicts) - 64; i++) {
		int n = snprintf(verdicts + used, sizeof(verdicts) - used, "%s%s x%zu (%s)",
		                 i ? ", " : "", f.top[i].id, f.top[i].count,
		                 analyze_severity_name(f.top[i].severity));
		if (n > 0)
			used += (size_t)n;
	}
	if (md) {
		fprintf(out, "| mean utilization | %s |\n| waste | %s |\n", util, waste);
		if (f.energy_j > 0)
			fprintf(out, "| energy | %.2f kWh |\n", f.energy_j / 3.6e6);
		fprintf(out, "| verdicts | %zu critical, %zu warning |\n| top verdicts | %s |\n\n",
		        f.critical, f.warning, verdicts);
	} else {
		fprintf(out, "  mean utilization   %s\n", util);
		wrap(out, "  waste              ", waste, 80);
		if (f.energy_j > 0)
			fprintf(out, "  energy             %.2f kWh\n", f.energy_j / 3.6e6);
		fprintf(out, "  verdicts           %zu critical, %zu warning\n", f.critical,
		        f.warning);
		wrap(out, "  top verdicts       ", verdicts, 80);
	}
	/* Not judged on every GPU for the same reason: once, here. */
	for (size_t i = 0; i < r->nnot_judged; i++) {
		const struct analyze_not_judged *nj = &r->not_judged[i];
		if (nj->about.gpu_index != 0 || !not_judged_everywhere(d, r, nj))
			continue;
		char line[420];
		snprintf(line, sizeof(line), "not judged on any GPU: %s: %s", nj->id, nj->reason);
		if (md)
			fprintf(out, "- *%s*\n", line);
		else
			wrap(out, "  - ", line, 80);
	}
	fputc('\n', out);
}

static void text_gpu(FILE *out, const struct report_data *d, const struct analyze_result *r,
                     size_t g, bool md)
{
	const struct report_gpu *rg = &d->gpus[g];
	const struct analyze_gpu_summary *s = g < r->nsummaries ? &r->summaries[g] : NULL;
	const char *on = rg->host && *rg->host ? " on " : "", *host = *on ? rg->host : "";
	if (md)
		fprintf(out, "## GPU %zu: %s%s%s\n\n`%s`\n\n%s\n\n", g, rg->model, on, host,
		        rg->uuid, s ? s->line : "");
	else {
		fprintf(out, "GPU %zu  %s  %s\n", g, rg->model, rg->uuid);
		if (*on)
			fprintf(out, "  host %s\n", host);
		if (s)
			wrap(out, "  ", s->line, 80);
	}
	size_t shown = 0;
	for (size_t i = 0; i < r->nverdicts; i++) {
		const struct analyze_verdict *v = &r->verdicts[i];
		if (v->about.gpu_index != (long)g)
			continue;
		shown++;
		const char *sev = analyze_severity_name(v->severity);
		if (md) {
			fprintf(out, "- **%s** `%s`: %s\n  - %s\n  - *Fix:* %s\n", sev, v->id,
			        v->title, v->evidence_text, v->fix);
			continue;
		}
		char head[320];
		snprintf(head, sizeof(head), "[%s] %s: %s", sev, v->id, v->title);
		fputc('\n', out);
		wrap(out, "  ", head, 80);
		wrap(out, "      ", v->evidence_text, 80);
		char fix[440];
		snprintf(fix, sizeof(fix), "fix: %s", v->fix);
		wrap(out, "      ", fix, 80);
	}
	if (!shown)
		fprintf(out, md ? "- no verdict\n" : "\n  no verdict\n");
	for (size_t i = 0; i < r->nnot_judged; i++) {
		const struct analyze_not_judged *nj = &r->not_judged[i];
		if (nj->about.gpu_index != (long)g || not_judged_everywhere(d, r, nj))
			continue;
		char line[420];
		snprintf(line, sizeof(line), "not judged: %s: %s", nj->id, nj->reason);
		if (md)
			fprintf(out, "- *%s*\n", line);
		else
			wrap(out, "  - ", line, 80);
	}
	fputc('\n', out);
}

static void text_groups_and_workloads(FILE *out, const struct report_data *d,
                                      const struct analyze_result *r, bool md)
{
	for (size_t i = 0; i < r->nverdicts; i++) {
		const struct analyze_verdict *v = &r->verdicts[i];
		if (v->about.gpu_index >= 0)
			continue;
		if (md)
			fprintf(out, "## Group %s\n\n- **%s** `%s`: %s\n  - %s\n  - *Fix:* %s\n\n",
			        v->about.group, analyze_severity_name(v->severity), v->id, v->title,
			        v->evidence_text, v->fix);
		else {
			fprintf(out, "GROUP %s\n", v->about.group);
			char head[320];
			snprintf(head, sizeof(head), "[%s] %s: %s",
			         analyze_severity_name(v->severity), v->id, v->title);
			wrap(out, "  ", head, 80);
			wrap(out, "      ", v->evidence_text, 80);
			fputc('\n', out);
		}
	}
	struct report_workload wl[REPORT_WORKLOADS_MAX];
	size_t nw = report_workloads(d, wl, REPORT_WORKLOADS_MAX);
	if (!nw)
		return;
	if (md)
		fprintf(out,
		        "## Workloads\n\n| workload | GPUs | processes | peak GPU memory | CPU "
		        "cores | SM share |\n|---|---|---|---|---|---|\n");
	else
		fprintf(out, "WORKLOADS\n  %-32s %4s %5s %10s %6s %7s\n", "workload", "GPUs",
		        "procs", "peak mem", "CPU", "SM");
	for (size_t i = 0; i < nw; i++) {
		char sm[16] = "unknown", mem[24], cpu[24];
		if (wl[i].sm_n)
			snprintf(sm, sizeof(sm), "%.0f%%",
			         100 * wl[i].sm_util_sum / (double)wl[i].sm_n);
		report_num(mem, sizeof(mem), wl[i].gpu_mem_peak / 1073741824.0, 1, " GiB");
		report_num(cpu, sizeof(cpu), wl[i].cpu_cores_mean, 2, "");
		if (md)
			fprintf(out, "| %s | %zu | %zu | %s | %s | %s |\n", wl[i].name, wl[i].gpus,
			        wl[i].processes, mem, cpu, sm);
		else
			fprintf(out, "  %-32.32s %4zu %5zu %10s %6s %7s\n", wl[i].name, wl[i].gpus,
			        wl[i].processes, mem, cpu, sm);
	}
	fputc('\n', out);
}

static void text_report(FILE *out, const struct report_data *d, const struct analyze_result *r,
                        bool md)
{
	text_fleet(out, d, r, md);
	for (size_t g = 0; g < d->ngpus; g++)
		text_gpu(out, d, r, g, md);
	text_groups_and_workloads(out, d, r, md);
	report_inference_section_text(out, d, r, md);
	report_serving_text(out, &d->serving, md);
}

int report_render(FILE *out, enum report_format f, const struct report_data *d,
                  const struct analyze_result *r)
{
	switch (f) {
	case REPORT_JSON: {
		char *text = report_json_text(d, r, 2);
		if (!text)
			return -1;
		fprintf(out, "%s\n", text);
		free(text);
		break;
	}
	case REPORT_TEXT:
	case REPORT_MARKDOWN:
		text_report(out, d, r, f == REPORT_MARKDOWN);
		break;
	case REPORT_HTML:
		if (report_render_html(out, d, r) != 0)
			return -1;
		break;
	}
	return ferror(out) ? -1 : 0;
}
