/* attribution.c - the slow tier's per-process view of each GPU, attributed and published.
 *
 * Per GPU and slow tick: NVML's rows (processes.c) go to attrib_sweep under the shared lock,
 * together with the rows the other GPUs last reported for the same pids, so that a process
 * on several GPUs has its whole GPU memory in its growth fit.  Then, off the lock, the GPU's
 * energy and time since the last tick are split over its processes (energy_apportion: by SM
 * utilization, else memory, the rest idle) and added to per-(pid, start time) totals; the
 * largest processes by memory fill the table (cap_top_k), the others are summed.
 *
 * The GPU's energy over the tick comes from the board: the integrated 20 ms power samples
 * when the GPU has them, else the current power times the tick.  That is the agent's own
 * figure, read under the slot's short lock; no NVML call is added for it.
 */
#include "sample/attribution.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workload/attrib.h"
#include "workload/cap.h"
#include "workload/energy.h"

#define SWEEP_ROWS_MAX (4 * GPUPROCS_MAX)

struct attribution {
	struct attrib *lib; /* NULL: /proc unreadable, NVML's view only */
	pthread_mutex_t lock;
	/* Under lock: every GPU's last rows, and the sweep's scratch. */
	struct attrib_row *cache; /* cache_gpus * GPUPROCS_MAX */
	unsigned *cache_n;
	unsigned cache_gpus;
	struct attrib_row sweep_rows[SWEEP_ROWS_MAX];
	uint32_t row_process[SWEEP_ROWS_MAX];

	pthread_t refresher;
	bool refresher_started;
	pthread_mutex_t wake_lock;
	pthread_cond_t wake;
	bool stop;
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Rebuilds the name tables: at once, then every names_refresh_s (attrib_refresh decides). */
static void *refresh_main(void *arg)
{
	struct attribution *a = arg;
	pthread_setname_np(pthread_self(), "gpuscope-names");
	bool first = true;
	pthread_mutex_lock(&a->wake_lock);
	while (!a->stop) {
		pthread_mutex_unlock(&a->wake_lock);
		attrib_refresh(a->lib, mono_ns(), first);
		first = false;
		pthread_mutex_lock(&a->wake_lock);
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 5; /* attrib_refresh rebuilds only every names_refresh_s */
		while (!a->stop && pthread_cond_timedwait(&a->wake, &a->wake_lock, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&a->wake_lock);
	return NULL;
}

struct attribution *attribution_start(const struct attribution_config *cfg, char *warning,
                                      size_t warnlen)
{
	struct attribution *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	warning[0] = 0;
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->wake_lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&a->wake, &attr);
	pthread_condattr_destroy(&attr);

	struct attrib_config ac;
	attrib_config_default(&ac);
	ac.root = cfg->host_root ? cfg->host_root : "";
	ac.proc_root = cfg->proc_root;
	ac.kubelet_socket = cfg->kubelet_socket;
	if (cfg->growth_sample_s > 0)
		ac.growth_sample_s = cfg->growth_sample_s;
	if (ac.forget_after_s < 3 * cfg->slow_s)
		ac.forget_after_s = 3 * cfg->slow_s;
	a->lib = attrib_create(&ac);
	if (!a->lib) {
		char path[600];
		snprintf(path, sizeof(path), "%s%s", cfg->proc_root ? "" : ac.root,
		         cfg->proc_root ? cfg->proc_root : "/proc");
		snprintf(warning, warnlen,
		         "cannot read %s (%s): processes are shown without names, users or "
		         "containers",
		         path, strerror(errno));
		return a;
	}
	if (pthread_create(&a->refresher, NULL, refresh_main, a) != 0) {
		attribution_stop(a);
		return NULL;
	}
	a->refresher_started = true;
	return a;
}

void attribution_stop(struct attribution *a)
{
	if (!a)
		return;
	if (a->refresher_started) {
		pthread_mutex_lock(&a->wake_lock);
		a->stop = true;
		pthread_cond_broadcast(&a->wake);
		pthread_mutex_unlock(&a->wake_lock);
		pthread_join(a->refresher, NULL);
	}
	attrib_destroy(a->lib);
	free(a->cache);
	free(a->cache_n);
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->wake_lock);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

/* Keeps GPU gpu's rows for the other GPUs' sweeps (under lock). */
static bool cache_rows(struct attribution *a, unsigned gpu, const struct attrib_row *rows,
                       unsigned n)
{
	if (gpu >= a->cache_gpus) {
		unsigned want = gpu + 1;
		struct attrib_row *c = realloc(a->cache, (size_t)want * GPUPROCS_MAX * sizeof(*c));
		if (!c)
			return false;
		a->cache = c;
		unsigned *cn = realloc(a->cache_n, want * sizeof(*cn));
		if (!cn)
			return false;
		a->cache_n = cn;
		for (unsigned i = a->cache_gpus; i < want; i++)
			a->cache_n[i] = 0;
		a->cache_gpus = want;
	}
	memcpy(a->cache + (size_t)gpu * GPUPROCS_MAX, rows, n * sizeof(*rows));
	a->cache_n[gpu] = n;
	return true;
}

/* Copies src, cut to fit (user names are cut at 32 bytes, as ps does). */
static void copy_str(char *dst, size_t len, const char *src)
{
	size_t n = src ? strnlen(src, len - 1) : 0;
	if (n)
		memcpy(dst, src, n);
	dst[n] = 0;
}

/* The record of row i from what attrib said of its process (p NULL: NVML's view only). */
static void fill_record(struct process_record *r, const struct gpuprocs_row *row,
                        const struct attrib_process *p)
{
	memset(r, 0, sizeof(*r));
	r->pid = (int)row->pid;
	r->memory_valid = row->memory_valid;
	r->memory_bytes = (double)row->memory_bytes;
	r->util_valid = row->util_valid;
	r->sm_util = row->sm_util;
	r->mem_util = row->mem_util;
	r->gpu_instance_valid = row->gpu_instance_valid;
	r->gpu_instance = row->gpu_instance;
	r->gpu_count = 1;
	if (!p) {
		copy_str(r->status, sizeof(r->status), "unknown");
		return;
	}
	copy_str(r->status, sizeof(r->status), attrib_status_name(p->status));
	r->start_ticks = p->start_time_ticks;
	r->gpu_count = p->gpu_count ? p->gpu_count : 1;
	if (p->status != ATTRIB_OK && p->status != ATTRIB_GONE)
		return;
	copy_str(r->name, sizeof(r->name), p->exe[0] ? p->exe : p->comm);
	if (p->uid_valid)
		copy_str(r->user, sizeof(r->user), p->user);
	r->ppid = p->ppid;
	r->cpu_valid = p->cpu_valid;
	r->cpu_cores = p->cpu_cores;
	r->rss_bytes = (double)p->rss_bytes;
	if (p->identity_valid) {
		const struct cgroup_identity *id = &p->identity;
		copy_str(r->runtime, sizeof(r->runtime), cgroup_runtime_name(id->runtime));
		copy_str(r->container_id, sizeof(r->container_id), id->container_id);
		copy_str(r->pod_uid, sizeof(r->pod_uid), id->pod_uid);
		r->slurm_job_valid = id->has_slurm_job;
		r->slurm_job = id->slurm_job;
		copy_str(r->systemd_unit, sizeof(r->systemd_unit), id->systemd_unit);
	}
	if (p->k8s_valid) {
		copy_str(r->pod_namespace, sizeof(r->pod_namespace), p->k8s.pod_namespace);
		copy_str(r->pod, sizeof(r->pod), p->k8s.pod);
		copy_str(r->container, sizeof(r->container), p->k8s.container);
	}
	const struct growth_fit *f = &p->memory_growth;
	r->growth_valid = f->valid;
	r->growth_bytes_per_hour = f->slope_bytes_per_hour;
	r->growth_r_squared = f->r_squared;
	r->growth_span_s = f->span_s;
	r->growth_samples = f->samples;
}

/* Attributes this GPU's rows (under the shared lock).  Fills g->recs[0..n) and the GPU's
 * owner as the kubelet allocated it. */
static bool attribute(struct attribution *a, struct attribution_gpu *g, unsigned gpu, unsigned n,
                      const char *uuid, struct podres_device *owner)
{
	struct attrib_row *rows = a->sweep_rows; /* shared scratch: only under the lock */
	pthread_mutex_lock(&a->lock);
	for (unsigned i = 0; i < n; i++)
		rows[i] = (struct attrib_row){.gpu = gpu,
		                              .pid = (pid_t)g->rows[i].pid,
		                              .memory_bytes = g->rows[i].memory_bytes,
		                              .memory_valid = g->rows[i].memory_valid};
	cache_rows(a, gpu, rows, n);
	/* The same pids on the other GPUs, so a process's memory is whole. */
	unsigned total = n;
	for (unsigned k = 0; k < a->cache_gpus; k++) {
		const struct attrib_row *c = a->cache + (size_t)k * GPUPROCS_MAX;
		for (unsigned j = 0; k != gpu && j < a->cache_n[k] && total < SWEEP_ROWS_MAX; j++)
			for (unsigned i = 0; i < n; i++)
				if (c[j].pid == rows[i].pid) {
					rows[total++] = c[j];
					break;
				}
	}
	int got = -1;
	if (a->lib)
		got = attrib_sweep(a->lib, rows, total, mono_ns(), a->row_process);
	for (unsigned i = 0; i < n; i++)
		fill_record(&g->recs[i], &g->rows[i],
		            got >= 0 ? attrib_process_at(a->lib, a->row_process[i]) : NULL);
	bool owned = a->lib && uuid && uuid[0] && attrib_gpu_owner(a->lib, uuid, owner);
	pthread_mutex_unlock(&a->lock);
	return owned;
}

/* The GPU's energy (J) since the last sweep, from the board. */
static bool gpu_energy(struct attribution_gpu *g, struct board *board, unsigned gpu,
                       double interval, double *joules)
{
	double mj, mw;
	if (board_read_value(board, gpu, METRIC_POWER_INTEGRATED, &mj)) {
		bool ok = g->have_energy && mj >= g->last_energy_mj;
		if (ok)
			*joules = (mj - g->last_energy_mj) / 1000.0;
		g->have_energy = true;
		g->last_energy_mj = mj;
		if (ok)
			return true;
	}
	if (board_read_value(board, gpu, METRIC_POWER, &mw)) {
		*joules = mw / 1000.0 * interval;
		return true;
	}
	return false;
}

/* Splits the interval over the processes and adds it to their totals; totals of processes
 * no longer listed are dropped. */
static void account(struct attribution_gpu *g, struct board *board, unsigned gpu, unsigned n,
                    double interval, struct process_table *t)
{
	double joules = 0, util = 0;
	bool have_j = interval > 0 && gpu_energy(g, board, gpu, interval, &joules);
	bool util_valid = board_read_value(board, gpu, METRIC_GPU_UTIL, &util);
	struct energy_process procs[GPUPROCS_MAX];
	struct energy_share shares[GPUPROCS_MAX];
	struct energy_split split = {0};
	for (unsigned i = 0; i < n; i++)
		procs[i] = (struct energy_process){.sm_util = g->recs[i].sm_util,
		                                   .sm_util_valid = g->recs[i].util_valid,
		                                   .memory_bytes = g->rows[i].memory_bytes};
	if (interval > 0) {
		energy_apportion(have_j ? joules : 0, interval, util, util_valid, procs, n, shares,
		                 &split);
		copy_str(t->energy_method, sizeof(t->energy_method),
		         energy_method_name(split.method));
		g->idle_gpu_seconds += split.idle_gpu_seconds;
		g->idle_energy_joules += split.idle_joules;
	}
	t->interval_s = interval;
	t->idle_gpu_seconds = g->idle_gpu_seconds;
	t->idle_energy_joules = g->idle_energy_joules;
	double wall = wall_now();
	unsigned m = 0;
	for (unsigned i = 0; i < n; i++) {
		struct process_record *r = &g->recs[i];
		struct attribution_acc *acc = &g->next_acc[m++];
		*acc = (struct attribution_acc){r->pid, r->start_ticks, wall, 0, 0, 0};
		for (unsigned k = 0; k < g->n_acc; k++)
			if (g->acc[k].pid == r->pid && g->acc[k].start_ticks == r->start_ticks) {
				*acc = g->acc[k];
				break;
			}
		if (interval > 0) {
			r->energy_fraction = shares[i].fraction;
			acc->gpu_seconds += shares[i].gpu_seconds;
			acc->energy_joules += have_j ? shares[i].joules : 0;
		}
		if (r->memory_valid && r->memory_bytes > acc->memory_peak_bytes)
			acc->memory_peak_bytes = r->memory_bytes;
		r->first_seen = acc->first_seen;
		r->gpu_seconds = acc->gpu_seconds;
		r->energy_joules = acc->energy_joules;
		r->memory_peak_bytes = acc->memory_peak_bytes;
	}
	memcpy(g->acc, g->next_acc, m * sizeof(*g->acc));
	g->n_acc = m;
}

/* The pod that holds the GPU: the kubelet's allocation unless time-sliced, else the one pod
 * every named process of the GPU belongs to. */
static void find_owner(struct process_table *t, const struct process_record *recs, unsigned n,
                       bool owned, const struct podres_device *owner)
{
	if (owned && !strstr(owner->device_id, "::") && owner->pod[0]) {
		t->owner_valid = true;
		copy_str(t->owner_namespace, sizeof(t->owner_namespace), owner->pod_namespace);
		copy_str(t->owner_pod, sizeof(t->owner_pod), owner->pod);
		copy_str(t->owner_container, sizeof(t->owner_container), owner->container);
		copy_str(t->owner_source, sizeof(t->owner_source), "kubelet");
		return;
	}
	const struct process_record *first = NULL;
	bool one_container = true;
	for (unsigned i = 0; i < n; i++) {
		const struct process_record *r = &recs[i];
		if (!r->pod[0])
			return; /* a process outside any known pod: not one pod's GPU */
		if (!first) {
			first = r;
			continue;
		}
		if (strcmp(r->pod, first->pod) != 0 ||
		    strcmp(r->pod_namespace, first->pod_namespace))
			return;
		one_container &= strcmp(r->container, first->container) == 0;
	}
	if (!first)
		return;
	t->owner_valid = true;
	copy_str(t->owner_namespace, sizeof(t->owner_namespace), first->pod_namespace);
	copy_str(t->owner_pod, sizeof(t->owner_pod), first->pod);
	copy_str(t->owner_container, sizeof(t->owner_container),
	         one_container ? first->container : "");
	copy_str(t->owner_source, sizeof(t->owner_source), "procs");
}

nvmlReturn_t attribution_gpu_sweep(struct attribution *a, struct attribution_gpu *g,
                                   const struct nvml_lib *lib, nvmlDevice_t dev,
                                   struct board *board, unsigned gpu, const char *uuid)
{
	unsigned n = 0;
	nvmlReturn_t rc = gpuprocs_read(&g->reader, lib, dev, g->rows, &n);
	if (rc != NVML_SUCCESS)
		return rc;
	g->listed = g->reader.listed ? (int)n : -1;
	if (!g->reader.listed) { /* the driver would not list them: unknown, not "none" */
		board_publish_processes(board, gpu, NULL);
		return NVML_SUCCESS;
	}
	double now = mono_now();
	double interval = g->have_last ? now - g->last_t : 0;
	g->have_last = true;
	g->last_t = now;

	struct podres_device owner;
	bool owned = attribute(a, g, gpu, n, uuid, &owner);
	struct process_table *t = process_table_new(n); /* room for the n listed */
	if (!t)
		return NVML_SUCCESS; /* out of memory: the old table stays until it goes stale */
	t->attributed = a->lib != NULL;
	t->total = n;
	account(g, board, gpu, n, interval, t);

	/* The largest processes by memory go into the table; the rest are summed. */
	struct cap_entry entries[GPUPROCS_MAX];
	for (unsigned i = 0; i < n; i++)
		entries[i] = (struct cap_entry){.pid = g->recs[i].pid,
		                                .memory_bytes = g->rows[i].memory_bytes,
		                                .sm_util = g->recs[i].sm_util,
		                                .sm_util_valid = g->recs[i].util_valid,
		                                .cpu_cores = g->recs[i].cpu_cores,
		                                .cpu_valid = g->recs[i].cpu_valid,
		                                .ref = i};
	struct cap_other other;
	size_t kept = cap_top_k(entries, n, GPU_MAX_PROCESSES, &other);
	assert(kept <= t->cap);
	for (size_t i = 0; i < kept; i++)
		t->proc[i] = g->recs[entries[i].ref];
	t->n = (unsigned)kept;
	t->overflow = (struct process_overflow){.count = (unsigned)other.count,
	                                        .memory_bytes = (double)other.memory_bytes,
	                                        .sm_valid = other.sm_util_valid,
	                                        .sm_util = other.sm_util,
	                                        .cpu_valid = other.cpu_valid,
	                                        .cpu_cores = other.cpu_cores};
	find_owner(t, g->recs, n, owned, &owner);
	board_publish_processes(board, gpu, t);
	return NVML_SUCCESS;
}

void attribution_gpu_release(struct attribution_gpu *g)
{
	if (g)
		gpuprocs_release(&g->reader);
}
