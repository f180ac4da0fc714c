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

static bool parse_process(const struct sim_json_ctx *c, const json_t *o, const char *path,
                          const struct sim_gpu *g, struct sim_process *p)
{
	static const char *const keys[] = {
	    "pid",       "name",     "cgroup",      "type",         "from",
	    "until",     "used_mib", "sm_util_pct", "mem_util_pct", "gpu_instance_id",
	    "cpu_cores", NULL};
	char type[16], k[600];
	unsigned long long pid;
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
	    !sim_json_get_double(c, o, "until", path, INFINITY, &p->until))
		return false;
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
	}
	free(g->processes);
	g->processes = NULL;
	g->n_processes = 0;
}

bool sim_process_running(const struct sim_process *p, double t)
{
	return t >= p->from && t < p->until;
}
