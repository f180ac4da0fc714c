/* proc_json.c - the processes and workloads documents.
 *
 * /api/v1/processes is each GPU's table as the slow tier published it: who (pid, user,
 * container, pod, Slurm job, unit), how much (memory, utilization, CPU) and how much since
 * first seen (GPU-seconds, energy, memory peak, growth).  /api/v1/workloads groups those rows
 * by workload, with the key tensor-parallel groups use (workload/tpgroup.h: container, else
 * Slurm job, else pod, else parent process), and lists the groups spread over two or more GPUs
 * with their memory and utilization skew.  A process on two GPUs is one process of its
 * workload: its CPU and growth are counted once, its memory and GPU-seconds per GPU.
 */
#include "export/proc_json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload/tpgroup.h"

static json_t *str_or_null(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

static json_t *real_or_null(bool valid, double v)
{
	return valid ? json_real(v) : json_null();
}

static char *dump(json_t *doc)
{
	char *text = json_dumps(doc, JSON_INDENT(1) | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15));
	json_decref(doc);
	return text;
}

static json_t *workload_json(const struct process_record *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "runtime", str_or_null(r->runtime));
	json_object_set_new(o, "container_id", str_or_null(r->container_id));
	json_object_set_new(o, "container", str_or_null(r->container));
	json_object_set_new(o, "pod", str_or_null(r->pod));
	json_object_set_new(o, "namespace", str_or_null(r->pod_namespace));
	json_object_set_new(o, "pod_uid", str_or_null(r->pod_uid));
	json_object_set_new(o, "slurm_job",
	                    r->slurm_job_valid ? json_integer((json_int_t)r->slurm_job)
	                                       : json_null());
	json_object_set_new(o, "systemd_unit", str_or_null(r->systemd_unit));
	return o;
}

static json_t *growth_json(const struct process_record *r)
{
	if (!r->growth_valid)
		return json_null();
	json_t *o = json_object();
	json_object_set_new(o, "bytes_per_hour", json_real(r->growth_bytes_per_hour));
	json_object_set_new(o, "r_squared", json_real(r->growth_r_squared));
	json_object_set_new(o, "samples", json_integer(r->growth_samples));
	json_object_set_new(o, "span_seconds", json_real(r->growth_span_s));
	return o;
}

static json_t *process_json(const struct process_record *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "pid", json_integer(r->pid));
	json_object_set_new(o, "ppid", r->ppid ? json_integer(r->ppid) : json_null());
	json_object_set_new(o, "status", json_string(r->status));
	json_object_set_new(o, "name", str_or_null(r->name));
	json_object_set_new(o, "user", str_or_null(r->user));
	json_object_set_new(o, "gpu_instance",
	                    r->gpu_instance_valid ? json_integer(r->gpu_instance) : json_null());
	json_object_set_new(o, "gpu_count", json_integer(r->gpu_count));
	json_object_set_new(o, "memory_used_bytes",
	                    r->memory_valid ? json_integer((json_int_t)r->memory_bytes)
	                                    : json_null());
	json_object_set_new(o, "memory_peak_bytes", json_integer((json_int_t)r->memory_peak_bytes));
	json_object_set_new(o, "memory_growth", growth_json(r));
	json_object_set_new(o, "sm_utilization_ratio",
	                    real_or_null(r->util_valid, r->sm_util / 100));
	json_object_set_new(o, "memory_utilization_ratio",
	                    real_or_null(r->util_valid, r->mem_util / 100));
	json_object_set_new(o, "cpu_utilization_ratio", real_or_null(r->cpu_valid, r->cpu_cores));
	json_object_set_new(o, "rss_bytes", json_integer((json_int_t)r->rss_bytes));
	json_object_set_new(o, "first_seen", json_real(r->first_seen));
	json_object_set_new(o, "gpu_seconds", json_real(r->gpu_seconds));
	json_object_set_new(o, "energy_joules", json_real(r->energy_joules));
	json_object_set_new(o, "energy_share_ratio", json_real(r->energy_fraction));
	json_object_set_new(o, "workload", workload_json(r));
	return o;
}

static json_t *gpu_json(const struct gpu_record *g)
{
	const struct process_table *t = g->procs;
	json_t *o = json_object();
	json_object_set_new(o, "gpu", json_integer(g->index));
	json_object_set_new(o, "uuid", json_string(g->id.uuid));
	json_object_set_new(o, "read", json_boolean(t != NULL));
	if (!t)
		return o;
	json_object_set_new(o, "attributed", json_boolean(t->attributed));
	json_object_set_new(o, "processes_total", json_integer(t->total));
	json_t *owner = json_null();
	if (t->owner_valid) {
		owner = json_object();
		json_object_set_new(owner, "namespace", json_string(t->owner_namespace));
		json_object_set_new(owner, "pod", json_string(t->owner_pod));
		json_object_set_new(owner, "container", json_string(t->owner_container));
		json_object_set_new(owner, "source", json_string(t->owner_source));
	}
	json_object_set_new(o, "owner", owner);
	json_t *e = json_object();
	json_object_set_new(e, "method", str_or_null(t->energy_method));
	json_object_set_new(e, "interval_seconds", json_real(t->interval_s));
	json_object_set_new(e, "idle_gpu_seconds", json_real(t->idle_gpu_seconds));
	json_object_set_new(e, "idle_energy_joules", json_real(t->idle_energy_joules));
	json_object_set_new(o, "energy", e);
	json_t *procs = json_array();
	for (unsigned i = 0; i < t->n; i++)
		json_array_append_new(procs, process_json(&t->proc[i]));
	json_object_set_new(o, "processes", procs);
	json_t *rest = json_object();
	json_object_set_new(rest, "count", json_integer(t->overflow.count));
	json_object_set_new(rest, "memory_used_bytes",
	                    json_integer((json_int_t)t->overflow.memory_bytes));
	json_object_set_new(o, "not_listed", rest);
	return o;
}

char *proc_json_processes(const struct board_snapshot *s)
{
	json_t *doc = json_object();
	json_object_set_new(doc, "schema", json_string("gpuscope.processes/v1"));
	json_t *gpus = json_array();
	for (unsigned i = 0; i < s->count; i++)
		json_array_append_new(gpus, gpu_json(&s->gpus[i]));
	json_object_set_new(doc, "gpus", gpus);
	return dump(doc);
}

/* ---- workloads ---- */

struct member_ref {
	const struct gpu_record *g;
	const struct process_record *r;
};

/* The tensor-parallel key of a record: what tpgroup_key_for makes of its identity. */
static void key_of(const struct process_record *r, struct tpgroup_key *key)
{
	struct cgroup_identity id;
	memset(&id, 0, sizeof(id));
	snprintf(id.container_id, sizeof(id.container_id), "%s", r->container_id);
	snprintf(id.pod_uid, sizeof(id.pod_uid), "%.36s", r->pod_uid);
	id.has_slurm_job = r->slurm_job_valid;
	id.slurm_job = r->slurm_job;
	tpgroup_key_for(&id, r->ppid, key);
	if (key->kind == TPGROUP_KEY_NONE) /* on its own: a workload of one process */
		snprintf(key->value, sizeof(key->value), "%d", r->pid);
}

static const char *key_kind_name(enum tpgroup_key_kind k)
{
	switch (k) {
	case TPGROUP_KEY_CONTAINER:
		return "container";
	case TPGROUP_KEY_SLURM_JOB:
		return "slurm_job";
	case TPGROUP_KEY_POD:
		return "pod";
	case TPGROUP_KEY_PARENT:
		return "parent";
	default:
		return "process";
	}
}

static bool same_key(const struct tpgroup_key *a, const struct tpgroup_key *b)
{
	return a->kind == b->kind && strcmp(a->value, b->value) == 0;
}

static json_t *key_json(const struct tpgroup_key *k)
{
	json_t *o = json_object();
	json_object_set_new(o, "kind", json_string(key_kind_name(k->kind)));
	json_object_set_new(o, "value", json_string(k->value));
	return o;
}

/* One workload: the members (indexes into refs) with key k. */
static json_t *one_workload(const struct member_ref *refs, const struct tpgroup_key *keys, size_t n,
                            size_t first)
{
	const struct tpgroup_key *k = &keys[first];
	const struct process_record *r0 = refs[first].r;
	json_t *o = json_object();
	json_object_set_new(o, "key", key_json(k));
	json_object_set_new(o, "namespace", str_or_null(r0->pod_namespace));
	json_object_set_new(o, "pod", str_or_null(r0->pod));
	json_object_set_new(o, "container", str_or_null(r0->container));
	json_object_set_new(o, "user", str_or_null(r0->user));
	double mem = 0, peak = 0, gpu_s = 0, joules = 0, cpu = 0, growth = 0;
	bool cpu_valid = false, growth_valid = false;
	json_t *members = json_array(), *gpus = json_array();
	for (size_t i = first; i < n; i++) {
		if (!same_key(&keys[i], k))
			continue;
		const struct process_record *r = refs[i].r;
		mem += r->memory_valid ? r->memory_bytes : 0;
		peak += r->memory_peak_bytes;
		gpu_s += r->gpu_seconds;
		joules += r->energy_joules;
		/* Per process, not per GPU: only at the pid's first row. */
		bool first_row = true;
		for (size_t j = first; j < i && first_row; j++)
			first_row = !(same_key(&keys[j], k) && refs[j].r->pid == r->pid);
		if (first_row && r->cpu_valid) {
			cpu += r->cpu_cores;
			cpu_valid = true;
		}
		if (first_row && r->growth_valid) {
			growth += r->growth_bytes_per_hour;
			growth_valid = true;
		}
		json_t *m = json_object();
		json_object_set_new(m, "gpu", json_integer(refs[i].g->index));
		json_object_set_new(m, "pid", json_integer(r->pid));
		json_object_set_new(m, "name", str_or_null(r->name));
		json_array_append_new(members, m);
		bool gpu_seen = false;
		for (size_t j = first; j < i && !gpu_seen; j++)
			gpu_seen = same_key(&keys[j], k) && refs[j].g == refs[i].g;
		if (!gpu_seen)
			json_array_append_new(gpus, json_integer(refs[i].g->index));
	}
	json_object_set_new(o, "gpus", gpus);
	json_object_set_new(o, "processes", members);
	json_object_set_new(o, "memory_used_bytes", json_integer((json_int_t)mem));
	json_object_set_new(o, "memory_peak_bytes", json_integer((json_int_t)peak));
	json_object_set_new(o, "memory_growth_bytes_per_hour", real_or_null(growth_valid, growth));
	json_object_set_new(o, "cpu_utilization_ratio", real_or_null(cpu_valid, cpu));
	json_object_set_new(o, "gpu_seconds", json_real(gpu_s));
	json_object_set_new(o, "energy_joules", json_real(joules));
	return o;
}

static json_t *group_json(const struct tpgroup *gr, const struct tpgroup_member *m)
{
	json_t *o = json_object();
	json_object_set_new(o, "key", key_json(&gr->key));
	json_object_set_new(o, "gpu_count", json_integer(gr->gpu_count));
	json_object_set_new(o, "memory_min_bytes", json_integer((json_int_t)gr->memory_min_bytes));
	json_object_set_new(o, "memory_max_bytes", json_integer((json_int_t)gr->memory_max_bytes));
	json_object_set_new(o, "memory_skew", json_real(gr->memory_skew));
	json_object_set_new(o, "memory_imbalance", json_real(gr->memory_imbalance));
	json_object_set_new(o, "sm_utilization_min_ratio",
	                    real_or_null(gr->util_valid, gr->util_min / 100));
	json_object_set_new(o, "sm_utilization_max_ratio",
	                    real_or_null(gr->util_valid, gr->util_max / 100));
	json_object_set_new(o, "utilization_skew", real_or_null(gr->util_valid, gr->util_skew));
	json_object_set_new(o, "utilization_imbalance",
	                    real_or_null(gr->util_valid, gr->util_imbalance));
	json_t *members = json_array();
	for (size_t i = 0; i < gr->member_count; i++) {
		const struct tpgroup_member *x = &m[gr->first_member + i];
		json_t *e = json_object();
		json_object_set_new(e, "gpu", json_integer(x->gpu));
		json_object_set_new(e, "pid", json_integer(x->pid));
		json_object_set_new(e, "memory_used_bytes",
		                    json_integer((json_int_t)x->memory_bytes));
		json_object_set_new(e, "sm_utilization_ratio",
		                    real_or_null(x->sm_util_valid, x->sm_util / 100));
		json_array_append_new(members, e);
	}
	json_object_set_new(o, "members", members);
	return o;
}

char *proc_json_workloads(const struct board_snapshot *s)
{
	size_t n = 0;
	for (unsigned i = 0; i < s->count; i++)
		n += s->gpus[i].procs ? s->gpus[i].procs->n : 0;
	size_t room = n ? n : 1;
	struct member_ref *refs = calloc(room, sizeof(*refs));
	struct tpgroup_key *keys = calloc(room, sizeof(*keys));
	struct tpgroup_member *members = calloc(room, sizeof(*members));
	struct tpgroup *groups = calloc(room, sizeof(*groups));
	json_t *doc = NULL;
	if (!refs || !keys || !members || !groups)
		goto out;
	n = 0;
	for (unsigned i = 0; i < s->count; i++) {
		const struct process_table *t = s->gpus[i].procs;
		for (unsigned k = 0; t && k < t->n; k++) {
			const struct process_record *r = &t->proc[k];
			refs[n] = (struct member_ref){&s->gpus[i], r};
			key_of(r, &keys[n]);
			members[n] =
			    (struct tpgroup_member){.gpu = s->gpus[i].index,
			                            .pid = r->pid,
			                            .ppid = r->ppid,
			                            .memory_bytes = (uint64_t)r->memory_bytes,
			                            .sm_util = r->sm_util,
			                            .sm_util_valid = r->util_valid};
			members[n].key = keys[n];
			if (keys[n].kind == TPGROUP_KEY_NONE)
				members[n].key.value[0] = 0;
			n++;
		}
	}
	doc = json_object();
	json_object_set_new(doc, "schema", json_string("gpuscope.workloads/v1"));
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = same_key(&keys[j], &keys[i]);
		if (!seen)
			json_array_append_new(list, one_workload(refs, keys, n, i));
	}
	json_object_set_new(doc, "workloads", list);
	size_t ng = tpgroup_find(members, n, groups, room);
	json_t *tp = json_array();
	for (size_t i = 0; i < ng && i < room; i++)
		json_array_append_new(tp, group_json(&groups[i], members));
	json_object_set_new(doc, "tensor_parallel_groups", tp);
out:
	free(refs);
	free(keys);
	free(members);
	free(groups);
	return doc ? dump(doc) : NULL;
}
