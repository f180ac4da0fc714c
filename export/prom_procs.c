/* prom_procs.c - per-process series from each GPU's process table.
 *
 * Labels: gpu, uuid, pid, process (the executable's name), and where they apply container
 * (the Kubernetes container name, else the first 12 hex digits of the container id, as
 * `docker ps` shows it), pod, namespace, slurm_job and, with MIG, gpu_instance.  "job" would
 * be the natural name of the last, but every Prometheus target already has a job label:
 * Prometheus would rename ours to exported_job (or, with honor_labels, let it overwrite the
 * scrape job), so it is slurm_job.
 *
 * The table holds a GPU's processes largest memory first, so the cap keeps its first N and
 * folds the rest (and the processes past the table's own cap) into process="_other".
 */
#include "export/prom_procs.h"

#include <stdio.h>
#include <string.h>

static void label(struct strbuf *out, const char *name, const char *value)
{
	if (!value[0])
		return;
	sb_printf(out, ",%s=\"", name);
	sb_label_value(out, value);
	sb_puts(out, "\"");
}

static void gpu_labels(struct strbuf *out, const char *name, const struct gpu_record *g)
{
	sb_puts(out, name);
	sb_printf(out, "{gpu=\"%u\",uuid=\"", g->index);
	sb_label_value(out, g->id.uuid);
	sb_puts(out, "\"");
}

static void process_line(struct strbuf *out, const char *name, const struct gpu_record *g,
                         const struct process_record *r, double v)
{
	gpu_labels(out, name, g);
	sb_printf(out, ",pid=\"%d\",process=\"", r->pid);
	sb_label_value(out, r->name[0] ? r->name : r->status);
	sb_puts(out, "\"");
	char ctr[16];
	snprintf(ctr, sizeof(ctr), "%.12s", r->container_id);
	label(out, "container", r->container[0] ? r->container : ctr);
	label(out, "pod", r->pod);
	label(out, "namespace", r->pod_namespace);
	if (r->slurm_job_valid)
		sb_printf(out, ",slurm_job=\"%llu\"", r->slurm_job);
	if (r->gpu_instance_valid)
		sb_printf(out, ",gpu_instance=\"%u\"", r->gpu_instance);
	sb_puts(out, "} ");
	sb_double(out, v);
	sb_puts(out, "\n");
}

static void other_line(struct strbuf *out, const char *name, const struct gpu_record *g, double v)
{
	gpu_labels(out, name, g);
	sb_puts(out, ",pid=\"\",process=\"_other\"} ");
	sb_double(out, v);
	sb_puts(out, "\n");
}

/* What the processes past the table's own cap add to family f; false when nothing. */
static bool overflow_of(enum process_family f, const struct process_overflow *o, double *v)
{
	if (!o->count)
		return false;
	switch (f) {
	case PROC_FAMILY_MEMORY:
		*v = o->memory_bytes;
		return true;
	case PROC_FAMILY_SM:
		*v = o->sm_util / 100.0;
		return o->sm_valid;
	case PROC_FAMILY_CPU:
		*v = o->cpu_cores;
		return o->cpu_valid;
	default:
		return false;
	}
}

/* One GPU's series of family f; returns whether it wrote any. */
static bool render_gpu(const struct gpu_record *g, enum process_family f, unsigned cap,
                       struct strbuf *out)
{
	const struct process_table *t = g->procs;
	const char *name = process_family_table[f].name;
	if (f == PROC_FAMILY_PROCESSES) { /* the one per-GPU family */
		gpu_labels(out, name, g);
		sb_printf(out, "} %u\n", t->total);
		return true;
	}
	bool any = false;
	double v;
	unsigned kept = t->n < cap ? t->n : cap;
	for (unsigned i = 0; i < kept; i++) {
		if (!process_family_value(f, &t->proc[i], &v))
			continue;
		process_line(out, name, g, &t->proc[i], v);
		any = true;
	}
	/* The rest: the table's records past the cap and what the table itself folded. */
	unsigned folded = t->n - kept + t->overflow.count;
	if (!folded)
		return any;
	double sum = 0;
	bool valid = false;
	for (unsigned i = kept; i < t->n; i++) {
		if (process_family_value(f, &t->proc[i], &v)) {
			sum += v;
			valid = true;
		}
	}
	if (overflow_of(f, &t->overflow, &v)) {
		sum += v;
		valid = true;
	}
	if (valid)
		other_line(out, name, g, sum);
	return any || valid;
}

void prom_render_processes(const struct board_snapshot *s, unsigned cap, bool openmetrics,
                           struct strbuf *out)
{
	(void)openmetrics; /* gauges only: the same in both formats */
	if (cap == 0)
		cap = PROM_PROCESS_CAP_DEFAULT;
	for (int f = 0; f < PROC_FAMILY_COUNT; f++) {
		const struct process_family_def *d = &process_family_table[f];
		size_t mark = out->len;
		sb_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", d->name, d->help, d->name);
		bool any = false;
		for (unsigned i = 0; i < s->count; i++)
			if (s->gpus[i].procs)
				any |= render_gpu(&s->gpus[i], (enum process_family)f, cap, out);
		if (!any)
			out->len = mark;
	}
}

void prom_owner_labels(const struct gpu_record *g, struct strbuf *out)
{
	const struct process_table *t = g->procs;
	if (!t || !t->owner_valid)
		return;
	sb_puts(out, ",pod=\"");
	sb_label_value(out, t->owner_pod);
	sb_puts(out, "\",namespace=\"");
	sb_label_value(out, t->owner_namespace);
	sb_puts(out, "\",container=\"");
	sb_label_value(out, t->owner_container);
	sb_puts(out, "\"");
}
