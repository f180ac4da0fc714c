/* sim_processes.c - the "processes" array of a scenario GPU.
 *
 * Each entry is a process NVML lists on the GPU: a pid, its used memory and its SM and memory
 * utilization as time functions, when it runs (from/until), and on a MIG GPU the GPU instance
 * it runs in.  The name and cgroup path are not NVML's: the simulator keeps them so that an
 * integration test can write a fixture /proc whose pids match what the simulator reports.
 * Strict like the rest of the scenario: unknown keys, duplicate pids and GPU instances that
 * the GPU does not have are errors naming their JSON path.
 */
#include "sim/sim_processes.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Linux pid_max is at most 2^22. */
#define SIM_PID_MAX 4194304

static bool parse_func(const struct sim_json_ctx *c, const json_t *o, const char *key,
                       const char *path, sim_func **out)
{
	const json_t *v = json_object_get(o, key);
	char p[600];
	sim_json_join(p, sizeof(p), path, key);
	if (!v) {
		*out = sim_func_const(0);
	} else {
		char ferr[1024];
		*out = sim_func_parse(v, c->base_dir, p, ferr, sizeof(ferr));
		if (!*out) {
			snprintf(c->err, c->errlen, "%s: %s", c->file, ferr);
			return false;
		}
	}
	if (!*out)
		sim_json_fail(c, p, "out of memory");
	return *out != NULL;
}

/* 64-bit FNV-1a: a stable hash, so a pod's UID and container id are the same every run. */
static uint64_t fnv1a(const char *a, const char *b, const char *c)
{
	uint64_t h = 1469598103934665603ULL;
	const char *parts[3] = {a, b, c};
	for (int i = 0; i < 3; i++) {
		for (const char *s = parts[i]; s && *s; s++)
			h = (h ^ (unsigned char)*s) * 1099511628211ULL;
		h = (h ^ '/') * 1099511628211ULL;
	}
	return h;
}

/* A DNS label as Kubernetes names are (and so never holding the '_' its log layout splits
 * on): lower-case letters, digits, '-' and '.', 1 to max-1 characters. */
static bool valid_k8s_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '.'))
			return false;
	return true;
}

static bool valid_user(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

/* "pod": {"namespace", "name", "container"}: the pod the process runs in.  Its UID and the
 * container's id are derived from the names, and so is its cgroup path (a containerd pod
 * under the kubepods slice) unless the scenario gives "cgroup" itself. */
static bool parse_pod(const struct sim_json_ctx *c, const json_t *o, const char *path,
                      struct sim_process *p)
{
	static const char *const keys[] = {"namespace", "name", "container", NULL};
	char k[600];
	if (!o)
		return true;
	sim_json_join(k, sizeof(k), path, "pod");
	if (!json_is_object(o)) {
		sim_json_fail(c, k, "expected an object with namespace, name and container");
		return false;
	}
	if (!sim_json_check_keys(c, o, keys, k) ||
	    !sim_json_get_string(c, o, "namespace", k, "default", p->pod_namespace,
	                         sizeof(p->pod_namespace)) ||
	    !sim_json_get_string(c, o, "name", k, "", p->pod_name, sizeof(p->pod_name)) ||
	    !sim_json_get_string(c, o, "container", k, "main", p->pod_container,
	                         sizeof(p->pod_container)))
		return false;
	if (!valid_k8s_name(p->pod_namespace) || !valid_k8s_name(p->pod_name) ||
	    !valid_k8s_name(p->pod_container)) {
		sim_json_fail(c, k,
		              "namespace, name and container must be lower-case DNS names "
		              "(a-z, 0-9, '-', '.'); name is required");
		return false;
	}
	uint64_t u = fnv1a(p->pod_namespace, p->pod_name, NULL);
	uint64_t v = fnv1a(p->pod_name, p->pod_namespace, "uid");
	snprintf(p->pod_uid, sizeof(p->pod_uid), "%08x-%04x-%04x-%04x-%012llx", (unsigned)(u >> 32),
	         (unsigned)(u >> 16) & 0xffff, (unsigned)u & 0xffff, (unsigned)(v >> 48),
	         (unsigned long long)(v & 0xffffffffffffULL));
	for (int i = 0; i < 4; i++) {
		char part[8];
		snprintf(part, sizeof(part), "%d", i);
		snprintf(p->container_id + 16 * i, sizeof(p->container_id) - 16 * (size_t)i,
		         "%016llx", (unsigned long long)fnv1a(p->pod_uid, p->pod_container, part));
	}
	return true;
}

/* "server": {"kind", "model", "tokens_per_s", "requests_per_s", "running", "waiting",
 * "kv_cache", "ttft_s", "prompt_tokens_per_request"}: an inference server (sim_serve.h). */
static bool parse_server(const struct sim_json_ctx *c, const json_t *o, const char *path,
                         struct sim_process *p)
{
	static const char *const keys[] = {"kind",
	                                   "model",
	                                   "tokens_per_s",
	                                   "requests_per_s",
	                                   "running",
	                                   "waiting",
	                                   "kv_cache",
	                                   "ttft_s",
	                                   "prompt_tokens_per_request",
	                                   NULL};
	static const char *const kinds[] = {"vllm", "sglang", "tgi", "triton", "llamacpp"};
	if (!o)
		return true;
	char k[600];
	sim_json_join(k, sizeof(k), path, "server");
	if (!json_is_object(o)) {
		sim_json_fail(c, k, "expected an object");
		return false;
	}
	struct sim_server *s = calloc(1, sizeof(*s));
	if (!s) {
		sim_json_fail(c, k, "out of memory");
		return false;
	}
	p->server = s;
	if (!sim_json_check_keys(c, o, keys, k) ||
	    !sim_json_get_string(c, o, "kind", k, "vllm", s->kind, sizeof(s->kind)) ||
	    !sim_json_get_string(c, o, "model", k, "", s->model, sizeof(s->model)) ||
	    !sim_json_get_double(c, o, "prompt_tokens_per_request", k, 200,
	                         &s->prompt_tokens_per_request))
		return false;
	bool known = false;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		known |= strcmp(s->kind, kinds[i]) == 0;
	if (!known) {
		char kk[700];
		sim_json_join(kk, sizeof(kk), k, "kind");
		sim_json_fail(c, kk, "one of vllm, sglang, tgi, triton, llamacpp");
		return false;
	}
	return parse_func(c, o, "tokens_per_s", k, &s->tokens_per_s) &&
	       parse_func(c, o, "requests_per_s", k, &s->requests_per_s) &&
	       parse_func(c, o, "running", k, &s->running) &&
	       parse_func(c, o, "waiting", k, &s->waiting) &&
	       parse_func(c, o, "kv_cache", k, &s->kv_cache) &&
	       parse_func(c, o, "ttft_s", k, &s->ttft_s);
}

static bool parse_process(const struct sim_json_ctx *c, const json_t *o, const char *path,
                          const struct sim_gpu *g, struct sim_process *p)
{
	static const char *const keys[] = {
	    "pid",       "name",     "cgroup",      "type",         "from",
	    "until",     "used_mib", "sm_util_pct", "mem_util_pct", "gpu_instance_id",
	    "cpu_cores", "user",     "cmdline",     "rss_mib",      "threads",
	    "pod",       "server",   NULL};
	char type[16], k[600];
	unsigned long long pid, threads;
	if (!json_is_object(o)) {
		sim_json_fail(c, path, "expected an object");
		return false;
	}
	p->until = INFINITY;
	if (!sim_json_check_keys(c, o, keys, path))
		return false;
	if (!json_object_get(o, "pid")) {
		sim_json_fail(c, path, "\"pid\" is required");
		return false;
	}
	if (!sim_json_get_uint(c, o, "pid", path, 0, SIM_PID_MAX, &pid) ||
	    !sim_json_get_string(c, o, "name", path, "python", p->name, sizeof(p->name)) ||
	    !sim_json_get_string(c, o, "cgroup", path, "", p->cgroup, sizeof(p->cgroup)) ||
	    !sim_json_get_string(c, o, "type", path, "compute", type, sizeof(type)) ||
	    !sim_json_get_double(c, o, "from", path, 0, &p->from) ||
	    !sim_json_get_double(c, o, "until", path, INFINITY, &p->until) ||
	    !sim_json_get_string(c, o, "user", path, "root", p->user, sizeof(p->user)) ||
	    !sim_json_get_string(c, o, "cmdline", path, "", p->cmdline, sizeof(p->cmdline)) ||
	    !sim_json_get_double(c, o, "rss_mib", path, 1024, &p->rss_mib) ||
	    !sim_json_get_uint(c, o, "threads", path, 8, 4194304, &threads) ||
	    !parse_pod(c, json_object_get(o, "pod"), path, p) ||
	    !parse_server(c, json_object_get(o, "server"), path, p))
		return false;
	p->threads = threads == 0 ? 1 : (unsigned)threads;
	if (!valid_user(p->user)) {
		sim_json_join(k, sizeof(k), path, "user");
		sim_json_fail(c, k, "a user name of letters, digits, '.', '_' and '-'");
		return false;
	}
	if (pid == 0) {
		sim_json_join(k, sizeof(k), path, "pid");
		sim_json_fail(c, k, "must be 1 to %d", SIM_PID_MAX);
		return false;
	}
	p->pid = (unsigned)pid;
	if (strcmp(type, "compute") != 0 && strcmp(type, "graphics") != 0) {
		sim_json_join(k, sizeof(k), path, "type");
		sim_json_fail(c, k, "\"compute\" or \"graphics\"");
		return false;
	}
	p->graphics = type[0] == 'g';
	if (json_object_get(o, "gpu_instance_id")) {
		if (!sim_json_get_u32(c, o, "gpu_instance_id", path, 0, &p->gpu_instance_id))
			return false;
		bool found = false;
		for (size_t i = 0; i < g->n_mig; i++)
			found |= g->mig[i].gpu_instance_id == p->gpu_instance_id;
		if (!found) {
			sim_json_join(k, sizeof(k), path, "gpu_instance_id");
			sim_json_fail(c, k, "the GPU has no MIG instance %u", p->gpu_instance_id);
			return false;
		}
		p->has_gpu_instance = true;
	}
	if (json_object_get(o, "cpu_cores") && !parse_func(c, o, "cpu_cores", path, &p->cpu_cores))
		return false;
	if (!p->cgroup[0] && p->pod_name[0]) {
		char uid[sizeof(p->pod_uid)];
		snprintf(uid, sizeof(uid), "%s", p->pod_uid);
		for (char *q = uid; *q; q++)
			if (*q == '-')
				*q = '_';
		snprintf(
		    p->cgroup, sizeof(p->cgroup),
		    "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/"
		    "cri-containerd-%s.scope\n",
		    uid, p->container_id);
	}
	return parse_func(c, o, "used_mib", path, &p->used_mib) &&
	       parse_func(c, o, "sm_util_pct", path, &p->sm_util_pct) &&
	       parse_func(c, o, "mem_util_pct", path, &p->mem_util_pct);
}

bool sim_processes_parse(const struct sim_json_ctx *c, const json_t *a, const char *path,
                         struct sim_gpu *g)
{
	if (!a)
		return true;
	if (!json_is_array(a) || json_array_size(a) > SIM_MAX_PROCESSES) {
		sim_json_fail(c, path, "expected an array of at most %d processes",
		              SIM_MAX_PROCESSES);
		return false;
	}
	if (json_array_size(a) == 0)
		return true;
	if (!(g->processes = calloc(json_array_size(a), sizeof(*g->processes)))) {
		sim_json_fail(c, path, "out of memory");
		return false;
	}
	size_t i;
	const json_t *o;
	json_array_foreach(a, i, o)
	{
		char p[600];
		snprintf(p, sizeof(p), "%s[%zu]", path, i);
		struct sim_process *proc = &g->processes[g->n_processes++];
		if (!parse_process(c, o, p, g, proc))
			return false;
		for (size_t k = 0; k + 1 < g->n_processes; k++) {
			if (g->processes[k].pid == proc->pid) {
				sim_json_fail(c, p, "pid %u is listed twice on this GPU",
				              proc->pid);
				return false;
			}
		}
	}
	return true;
}

void sim_processes_free(struct sim_gpu *g)
{
	for (size_t i = 0; i < g->n_processes; i++) {
		sim_func_free(g->processes[i].used_mib);
		sim_func_free(g->processes[i].sm_util_pct);
		sim_func_free(g->processes[i].mem_util_pct);
		sim_func_free(g->processes[i].cpu_cores);
		struct sim_server *sv = g->processes[i].server;
		if (sv) {
			sim_func_free(sv->tokens_per_s);
			sim_func_free(sv->requests_per_s);
			sim_func_free(sv->running);
			sim_func_free(sv->waiting);
			sim_func_free(sv->kv_cache);
			sim_func_free(sv->ttft_s);
			free(sv);
		}
	}
	free(g->processes);
	g->processes = NULL;
	g->n_processes = 0;
}

bool sim_process_running(const struct sim_process *p, double t)
{
	return t >= p->from && t < p->until;
}
