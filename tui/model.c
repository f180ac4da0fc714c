/* model.c - parse the agent's JSON documents into what `top` draws (see model.h).
 *
 * Every field is looked up by name and type-checked; a missing or mistyped field is an
 * absent value, never a zero and never a crash.  Documents come from a remote agent we
 * do not control, so sizes are capped (TOP_MAX_*) and strings are copied bounded.
 */
#include "tui/model.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "nvml/nvml_abi.h"

void top_model_init(struct top_model *m)
{
	memset(m, 0, sizeof(*m));
}

static void copy_str(char *dst, size_t len, json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	snprintf(dst, len, "%s", json_is_string(v) ? json_string_value(v) : "");
}

static struct top_value num(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	if (json_is_number(v))
		return (struct top_value){true, json_number_value(v)};
	return (struct top_value){false, 0};
}

static json_t *load(const char *buf, size_t len, char *err, size_t errlen, const char *what)
{
	json_error_t je;
	json_t *root = json_loadb(buf, len, 0, &je);
	if (!root) {
		snprintf(err, errlen, "%s: not JSON (line %d: %s)", what, je.line, je.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "%s: not a JSON object", what);
		json_decref(root);
		return NULL;
	}
	return root;
}

static void ring_push(struct top_ring *r, struct top_value x)
{
	r->v[r->head] = x.v;
	r->ok[r->head] = x.ok;
	r->head = (r->head + 1) % TOP_RING;
	if (r->n < TOP_RING)
		r->n++;
}

unsigned top_ring_last(const struct top_ring *r, unsigned want, double *out, bool *ok)
{
	unsigned n = want < r->n ? want : r->n;
	for (unsigned i = 0; i < n; i++) {
		unsigned at = (r->head + TOP_RING - n + i) % TOP_RING;
		out[i] = r->v[at];
		ok[i] = r->ok[at];
	}
	return n;
}

/* Moves the GPU of this index and UUID, if the model had it, to position n, so its rings
 * survive the update; else clears position n for a new GPU (rings of a GPU that left go). */
static void gpu_place(struct top_model *m, unsigned n, unsigned index, const char *uuid)
{
	for (unsigned k = n; k < m->n_gpus; k++) {
		if (m->gpu[k].index != index || strcmp(m->gpu[k].uuid, uuid) != 0)
			continue;
		if (k != n) {
			struct top_gpu *a = &m->gpu[n], *b = &m->gpu[k];
			for (size_t i = 0; i < sizeof(*a); i++) {
				unsigned char t = ((unsigned char *)a)[i];
				((unsigned char *)a)[i] = ((unsigned char *)b)[i];
				((unsigned char *)b)[i] = t;
			}
		}
		return;
	}
	memset(&m->gpu[n], 0, sizeof(m->gpu[n]));
}

static void read_gpu(struct top_gpu *g, json_t *jg)
{
	copy_str(g->name, sizeof(g->name), jg, "name");
	copy_str(g->health, sizeof(g->health), jg, "health");
	copy_str(g->reason, sizeof(g->reason), jg, "reason");
	json_t *mx = json_object_get(jg, "metrics");
	g->util = num(mx, "gpuscope_gpu_utilization_ratio");
	g->sm = num(mx, "gpuscope_sm_active_ratio");
	g->tensor = num(mx, "gpuscope_tensor_active_ratio");
	g->dram = num(mx, "gpuscope_dram_active_ratio");
	g->mem_used = num(mx, "gpuscope_memory_used_bytes");
	g->mem_total = num(mx, "gpuscope_memory_total_bytes");
	g->power = num(mx, "gpuscope_power_watts");
	g->power_limit = num(mx, "gpuscope_power_limit_watts");
	g->temp = num(mx, "gpuscope_temperature_celsius");
	g->temp_slowdown = num(mx, "gpuscope_temperature_slowdown_threshold_celsius");
	g->sm_clock = num(mx, "gpuscope_sm_clock_hertz");
	g->sm_clock_max = num(mx, "gpuscope_sm_clock_max_hertz");
	g->mem_clock = num(mx, "gpuscope_memory_clock_hertz");
	g->clock_reasons = num(mx, "gpuscope_clock_event_reasons");
	g->xid_total = num(mx, "gpuscope_xid_errors_total");
	g->xid_last = num(mx, "gpuscope_xid_last");
	g->ecc_uncorrected =
	    num(mx, "gpuscope_ecc_errors_total{error=\"uncorrected\",scope=\"volatile\"}");
	g->ecc_corrected =
	    num(mx, "gpuscope_ecc_errors_total{error=\"corrected\",scope=\"volatile\"}");
	g->remap_pending = num(mx, "gpuscope_row_remap_pending");
}

static void push_points(struct top_gpu *g)
{
	struct top_value mem = {g->mem_used.ok && g->mem_total.ok && g->mem_total.v > 0,
	                        g->mem_total.v > 0 ? g->mem_used.v / g->mem_total.v : 0};
	struct top_value clk = {g->sm_clock.ok, g->sm_clock.v / 1e6};
	struct top_value pts[TS_COUNT] = {
	    [TS_UTIL] = g->util, [TS_SM] = g->sm,  [TS_TENSOR] = g->tensor,
	    [TS_DRAM] = g->dram, [TS_MEM] = mem,   [TS_POWER] = g->power,
	    [TS_TEMP] = g->temp, [TS_CLOCK] = clk,
	};
	for (int s = 0; s < TS_COUNT; s++)
		ring_push(&g->ring[s], pts[s]);
}

int top_model_parse_gpus(struct top_model *m, const char *buf, size_t len, char *err, size_t errlen)
{
	json_t *root = load(buf, len, err, errlen, "/api/v1/gpus");
	if (!root)
		return -1;
	json_t *gpus = json_object_get(root, "gpus");
	if (!json_is_array(gpus)) {
		snprintf(err, errlen, "/api/v1/gpus: no \"gpus\" array");
		json_decref(root);
		return -1;
	}
	unsigned n = 0;
	size_t i;
	json_t *jg;
	json_array_foreach(gpus, i, jg)
	{
		if (n == TOP_MAX_GPUS || !json_is_object(jg))
			continue;
		json_t *ji = json_object_get(jg, "gpu");
		if (!json_is_integer(ji) || json_integer_value(ji) < 0)
			continue;
		unsigned index = (unsigned)json_integer_value(ji);
		char uuid[96];
		copy_str(uuid, sizeof(uuid), jg, "uuid");
		gpu_place(m, n, index, uuid);
		struct top_gpu *g = &m->gpu[n++];
		if (n > m->n_gpus)
			m->n_gpus = n;
		g->index = index;
		snprintf(g->uuid, sizeof(g->uuid), "%s", uuid);
		read_gpu(g, jg);
		push_points(g);
	}
	m->n_gpus = n;
	copy_str(m->hostname, sizeof(m->hostname), root, "hostname");
	copy_str(m->driver, sizeof(m->driver), root, "driver_version");
	copy_str(m->scenario, sizeof(m->scenario), root, "simulator");
	m->simulated = json_is_true(json_object_get(root, "simulated"));
	json_decref(root);
	return 0;
}

/* "ns/pod", else a short container id, else the Slurm job, else the systemd unit. */
static void workload_text(json_t *w, char *buf, size_t len)
{
	char a[96], b[96];
	copy_str(a, sizeof(a), w, "namespace");
	copy_str(b, sizeof(b), w, "pod");
	if (b[0]) {
		snprintf(buf, len, "%.40s%s%.50s", a, a[0] ? "/" : "", b);
		return;
	}
	copy_str(a, sizeof(a), w, "container_id");
	if (a[0]) {
		snprintf(buf, len, "ctr:%.12s", a);
		return;
	}
	json_t *job = json_object_get(w, "slurm_job");
	if (json_is_integer(job)) {
		snprintf(buf, len, "slurm:%lld", (long long)json_integer_value(job));
		return;
	}
	copy_str(buf, len, w, "systemd_unit");
}

int top_model_parse_processes(struct top_model *m, const char *buf, size_t len, char *err,
                              size_t errlen)
{
	json_t *root = load(buf, len, err, errlen, "/api/v1/processes");
	if (!root)
		return -1;
	json_t *gpus = json_object_get(root, "gpus");
	if (!json_is_array(gpus)) {
		snprintf(err, errlen, "/api/v1/processes: no \"gpus\" array");
		json_decref(root);
		return -1;
	}
	unsigned n = 0;
	size_t i, j;
	json_t *jg, *jp;
	json_array_foreach(gpus, i, jg)
	{
		json_t *ji = json_object_get(jg, "gpu");
		if (!json_is_integer(ji) || json_integer_value(ji) < 0)
			continue;
		json_array_foreach(json_object_get(jg, "processes"), j, jp)
		{
			if (n == TOP_MAX_PROCS || !json_is_object(jp))
				break;
			struct top_proc *p = &m->proc[n++];
			memset(p, 0, sizeof(*p));
			p->gpu = (unsigned)json_integer_value(ji);
			json_t *pid = json_object_get(jp, "pid");
			p->pid = json_is_integer(pid) ? (int)json_integer_value(pid) : -1;
			copy_str(p->name, sizeof(p->name), jp, "name");
			copy_str(p->user, sizeof(p->user), jp, "user");
			copy_str(p->status, sizeof(p->status), jp, "status");
			workload_text(json_object_get(jp, "workload"), p->workload,
			              sizeof(p->workload));
			p->mem = num(jp, "memory_used_bytes");
			p->sm = num(jp, "sm_utilization_ratio");
			p->cpu = num(jp, "cpu_utilization_ratio");
		}
	}
	m->n_procs = n;
	json_decref(root);
	return 0;
}

int top_severity_rank(const char *severity)
{
	if (strcmp(severity, "critical") == 0)
		return 3;
	if (strcmp(severity, "warning") == 0)
		return 2;
	if (strcmp(severity, "info") == 0)
		return 1;
	return 0;
}

static void clear_verdicts(struct top_model *m)
{
	m->n_verdicts = 0;
	for (unsigned g = 0; g < m->n_gpus; g++) {
		m->gpu[g].verdict_id[0] = m->gpu[g].verdict_severity[0] = 0;
		m->gpu[g].verdict_title[0] = 0;
		m->gpu[g].verdicts = 0;
	}
}

int top_model_parse_diagnosis(struct top_model *m, const char *buf, size_t len, char *err,
                              size_t errlen)
{
	json_t *root = load(buf, len, err, errlen, "/api/v1/diagnosis");
	if (!root)
		return -1;
	clear_verdicts(m);
	json_t *verdicts = json_object_get(root, "verdicts");
	char status[64];
	copy_str(status, sizeof(status), root, "status");
	if (!json_is_array(verdicts)) {
		/* Before the first result, or with no history: say why, keep going. */
		char reason[96];
		copy_str(reason, sizeof(reason), root, "reason");
		snprintf(m->diagnosis_state, sizeof(m->diagnosis_state), "verdicts: %.40s%s%.70s",
		         status[0] ? status : "none yet", reason[0] ? " - " : "", reason);
		json_decref(root);
		return 0;
	}
	m->diagnosis_state[0] = 0;
	size_t i;
	json_t *jv;
	json_array_foreach(verdicts, i, jv)
	{
		if (m->n_verdicts == TOP_MAX_VERDICTS || !json_is_object(jv))
			break;
		struct top_verdict *v = &m->verdict[m->n_verdicts++];
		json_t *jgpu = json_object_get(jv, "gpu");
		v->gpu = json_is_integer(jgpu) ? (int)json_integer_value(jgpu) : -1;
		copy_str(v->id, sizeof(v->id), jv, "id");
		copy_str(v->severity, sizeof(v->severity), jv, "severity");
		copy_str(v->title, sizeof(v->title), jv, "title");
		copy_str(v->evidence, sizeof(v->evidence), json_object_get(jv, "evidence"), "text");
		copy_str(v->fix, sizeof(v->fix), jv, "fix");
		for (unsigned g = 0; g < m->n_gpus; g++) {
			struct top_gpu *gp = &m->gpu[g];
			if (v->gpu < 0 || gp->index != (unsigned)v->gpu)
				continue;
			gp->verdicts++;
			if (top_severity_rank(v->severity) >
			    top_severity_rank(gp->verdict_severity)) {
				_Static_assert(sizeof(gp->verdict_title) == sizeof(v->title),
				               "sizes");
				memcpy(gp->verdict_id, v->id, sizeof(gp->verdict_id));
				memcpy(gp->verdict_severity, v->severity,
				       sizeof(gp->verdict_severity));
				memcpy(gp->verdict_title, v->title, sizeof(gp->verdict_title));
			}
		}
	}
	json_decref(root);
	return 0;
}

int top_model_parse_inference(struct top_model *m, const char *buf, size_t len, char *err,
                              size_t errlen)
{
	json_t *root = load(buf, len, err, errlen, "/api/v1/inference");
	if (!root)
		return -1;
	json_t *rows = json_object_get(root, "rows");
	if (!json_is_array(rows)) {
		snprintf(err, errlen, "/api/v1/inference: no rows");
		json_decref(root);
		return -1;
	}
	m->n_inferences = 0;
	size_t i;
	json_t *r;
	json_array_foreach(rows, i, r)
	{
		if (m->n_inferences == TOP_MAX_INFERENCES || !json_is_object(r))
			break;
		struct top_inference *x = &m->inference[m->n_inferences++];
		json_t *jgpu = json_object_get(r, "gpu"),
		       *lat = json_object_get(r, "latency_seconds");
		x->gpu = json_is_integer(jgpu) ? (int)json_integer_value(jgpu) : -1;
		x->pid = (int)json_integer_value(json_object_get(r, "pid"));
		copy_str(x->process, sizeof(x->process), r, "process");
		copy_str(x->range, sizeof(x->range), r, "range");
		struct top_value n = num(r, "inferences");
		x->count = n.ok ? n.v : 0;
		x->rate = num(r, "inferences_per_second");
		x->p50 = num(lat, "p50");
		x->p95 = num(lat, "p95");
		x->p99 = num(lat, "p99");
		x->busy = num(r, "gpu_busy_seconds_per_inference");
		x->energy = num(r, "energy_joules_per_inference");
	}
	json_decref(root);
	return 0;
}

void top_clock_reasons_text(double mask, char *buf, size_t len)
{
	static const struct {
		unsigned long long bit;
		const char *word;
	} reasons[] = {
	    {NVML_CLOCKS_EVENT_REASON_SW_POWER_CAP, "power_cap"},
	    {NVML_CLOCKS_EVENT_REASON_HW_SLOWDOWN, "hw_slowdown"},
	    {NVML_CLOCKS_EVENT_REASON_SW_THERMAL_SLOWDOWN, "sw_thermal"},
	    {NVML_CLOCKS_EVENT_REASON_HW_THERMAL_SLOWDOWN, "hw_thermal"},
	    {NVML_CLOCKS_EVENT_REASON_HW_POWER_BRAKE_SLOWDOWN, "power_brake"},
	    {NVML_CLOCKS_EVENT_REASON_APPLICATIONS_CLOCKS_SETTING, "clocks_set"},
	    {NVML_CLOCKS_EVENT_REASON_SYNC_BOOST, "sync_boost"},
	    {NVML_CLOCKS_EVENT_REASON_GPU_IDLE, "idle"},
	};
	buf[0] = 0;
	if (mask < 0 || mask > 1e18)
		return;
	unsigned long long bits = (unsigned long long)mask;
	size_t used = 0;
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		if (!(bits & reasons[i].bit))
			continue;
		int w = snprintf(buf + used, len - used, "%s%s", used ? " " : "", reasons[i].word);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
}
