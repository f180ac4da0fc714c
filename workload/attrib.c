/* attrib.c - attrib_sweep and its policy; see attrib.h for the cost model, attrib_table.h
 * for the slots, attrib_read.h for how one process is read and attrib_clock.h for the
 * CPU-clock path.
 *
 * A slot is keyed by (pid, start time): when /proc/PID/stat shows another start time, the
 * pid was reused, and the slot is reset as if the process were new. Slots of processes that
 * are gone (or not reported for forget_after_s) are released at the start of the next sweep,
 * so the records handed out stay valid until then.
 *
 * A sweep has two passes. The first walks the rows: a process with a pidfd has its CPU clock
 * read and its pidfd queued; any other is read through stat at once (and given a pidfd when
 * the CPU-clock path is on). Then one poll over the queued pidfds, and the second pass keeps
 * the readings of the processes still alive and sends the others through stat, which finds
 * them gone, a zombie, or a reused pid. */
#include "workload/attrib.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload/attrib_clock.h"
#include "workload/attrib_names.h"
#include "workload/attrib_read.h"
#include "workload/attrib_table.h"

void attrib_config_default(struct attrib_config *cfg)
{
	assert(cfg);
	memset(cfg, 0, sizeof(*cfg));
	cfg->identity_refresh_s = 60;
	cfg->stat_refresh_s = 60;
	cfg->names_refresh_s = 30;
	cfg->forget_after_s = 60;
	cfg->growth_sample_s = 60;
	cfg->growth_window_s = 3600;
	cfg->kubelet_timeout_ms = 1000;
	cfg->max_held_fds = 256;
}

/* explicit ? copy of explicit : root + default_suffix. */
static char *path_or_default(const char *root, const char *explicit_path, const char *suffix)
{
	if (explicit_path)
		return strdup(explicit_path);
	char *p = NULL;
	if (asprintf(&p, "%s%s", root ? root : "", suffix) < 0)
		return NULL;
	return p;
}

static double positive_or(double v, double fallback)
{
	return v > 0 ? v : fallback;
}

/* Releases slots of processes found gone by the previous sweep, or not reported for
 * forget_after_s. Runs first in a sweep, so the previous results stay valid until then. */
static void release_stale(struct attrib *a, int64_t now_ns)
{
	struct attrib_table *t = &a->table;
	int64_t forget_ns = (int64_t)(a->cfg.forget_after_s * NS_PER_S);
	bool released = false;
	for (size_t s = 0; s < t->capacity; s++) {
		struct attrib_entry *e = &t->entries[s];
		if (!e->in_use)
			continue;
		if (e->proc.status == ATTRIB_GONE || now_ns - e->last_seen_ns > forget_ns) {
			attrib_read_close_fd(a, &e->stat_fd);
			attrib_read_close_fd(a, &e->pidfd);
			attrib_table_release(t, (uint32_t)s);
			released = true;
		}
	}
	if (released)
		attrib_table_rebuild_index(t);
}

struct attrib *attrib_create(const struct attrib_config *cfg_in)
{
	struct attrib_config defaults;
	if (!cfg_in) {
		attrib_config_default(&defaults);
		cfg_in = &defaults;
	}
	int saved_errno = ENOMEM;
	struct attrib *a = calloc(1, sizeof(*a));
	if (!a)
		goto err;
	a->proc_dirfd = -1;
	a->cfg = *cfg_in;
	a->cfg.identity_refresh_s = positive_or(a->cfg.identity_refresh_s, 60);
	a->cfg.stat_refresh_s = positive_or(a->cfg.stat_refresh_s, 60);
	a->cfg.names_refresh_s = positive_or(a->cfg.names_refresh_s, 30);
	a->cfg.forget_after_s = positive_or(a->cfg.forget_after_s, 60);
	a->cfg.growth_sample_s = positive_or(a->cfg.growth_sample_s, 60);
	a->cfg.growth_window_s = positive_or(a->cfg.growth_window_s, 3600);
	if (!a->cfg.kubelet_timeout_ms)
		a->cfg.kubelet_timeout_ms = 1000;
	if (a->cfg.max_held_fds < 0)
		a->cfg.max_held_fds = 0;
	const char *root = cfg_in->root ? cfg_in->root : "";
	char *etc_root = path_or_default(root, cfg_in->etc_root, "/etc");
	if (etc_root) {
		if (asprintf(&a->passwd_path, "%s/passwd", etc_root) < 0)
			a->passwd_path = NULL;
		free(etc_root);
	}
	a->proc_root = path_or_default(root, cfg_in->proc_root, "/proc");
	a->pod_log_dir = path_or_default(root, cfg_in->pod_log_dir, "/var/log/pods");
	a->container_log_dir =
	    path_or_default(root, cfg_in->container_log_dir, "/var/log/containers");
	a->kubelet_socket = path_or_default(root, cfg_in->kubelet_socket,
	                                    "/var/lib/kubelet/pod-resources/kubelet.sock");
	if (!a->passwd_path || !a->proc_root || !a->pod_log_dir || !a->container_log_dir ||
	    !a->kubelet_socket)
		goto err;
	a->cfg.root = root;
	a->cfg.proc_root = a->proc_root;
	a->cfg.etc_root = NULL; /* only passwd_path is kept */
	a->cfg.pod_log_dir = a->pod_log_dir;
	a->cfg.container_log_dir = a->container_log_dir;
	a->cfg.kubelet_socket = a->kubelet_socket;

	a->proc_dirfd = open(a->proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->proc_dirfd < 0) {
		saved_errno = errno;
		goto err;
	}
	a->clock_ticks =
	    cfg_in->clock_ticks_per_s > 0 ? cfg_in->clock_ticks_per_s : sysconf(_SC_CLK_TCK);
	a->page_size = cfg_in->page_size > 0 ? cfg_in->page_size : sysconf(_SC_PAGESIZE);
	/* pidfds count against max_held_fds, and replace the held stat fds. */
	a->clock_path = a->cfg.max_held_fds > 0 && !a->cfg.stat_every_sweep &&
	                procfs_pids_are_ours(a->proc_dirfd) && attrib_clock_supported();
	a->hold_fds = a->cfg.max_held_fds > 0 && !a->clock_path && procfs_is_procfs(a->proc_dirfd);
	a->stats.clock_path = a->clock_path;
	if (a->clock_path && !attrib_clock_batch_init(&a->batch, (size_t)a->cfg.max_held_fds))
		goto err;
	if (a->clock_ticks <= 0)
		a->clock_ticks = 100;
	if (a->page_size <= 0)
		a->page_size = 4096;
	if (pthread_mutex_init(&a->names_lock, NULL) != 0)
		goto err;
	a->names_lock_ready = true;
	atomic_init(&a->names_generation, 1);
	if (!attrib_table_grow(&a->table))
		goto err;
	return a;
err:
	attrib_destroy(a);
	errno = saved_errno;
	return NULL;
}

void attrib_destroy(struct attrib *a)
{
	if (!a)
		return;
	if (a->proc_dirfd >= 0)
		close(a->proc_dirfd);
	for (size_t s = 0; s < a->table.capacity; s++) {
		struct attrib_entry *e = &a->table.entries[s];
		if (e->in_use && e->stat_fd >= 0)
			close(e->stat_fd);
		if (e->in_use && e->pidfd >= 0)
			close(e->pidfd);
	}
	attrib_clock_batch_free(&a->batch);
	if (a->names_lock_ready)
		pthread_mutex_destroy(&a->names_lock);
	attrib_names_free(&a->names);
	attrib_table_free(&a->table);
	free(a->proc_root);
	free(a->passwd_path);
	free(a->pod_log_dir);
	free(a->container_log_dir);
	free(a->kubelet_socket);
	free(a);
}

int attrib_refresh(struct attrib *a, int64_t now_ns, bool force)
{
	assert(a);
	if (!force && a->names_next_ns && now_ns < a->names_next_ns)
		return 0;
	a->names_next_ns = now_ns + (int64_t)(a->cfg.names_refresh_s * NS_PER_S);
	struct attrib_names fresh;
	struct attrib_names_paths paths = {
	    .passwd = a->passwd_path,
	    .pod_log_dir = a->pod_log_dir,
	    .container_log_dir = a->container_log_dir,
	    .kubelet_socket = a->kubelet_socket,
	    .kubelet_timeout_ms = a->cfg.kubelet_timeout_ms,
	};
	if (attrib_names_build(&paths, &a->passwd_stamp, &fresh) != 0)
		return -1;
	pthread_mutex_lock(&a->names_lock);
	attrib_names_swap(&a->names, &fresh);
	a->refreshes++;
	atomic_fetch_add(&a->names_generation, 1);
	pthread_mutex_unlock(&a->names_lock);
	attrib_names_free(&fresh); /* what was swapped out */
	return 1;
}

/* Under names_lock: user name and Kubernetes names from the current tables. */
static void resolve_names(const struct attrib *a, struct attrib_entry *e, uint64_t generation)
{
	struct attrib_process *p = &e->proc;
	if (p->uid_valid) {
		const char *name = user_table_name(&a->names.users, p->uid);
		if (name)
			snprintf(p->user, sizeof(p->user), "%s", name);
		else
			snprintf(p->user, sizeof(p->user), "%u", p->uid);
	}
	p->k8s_valid = false;
	memset(&p->k8s, 0, sizeof(p->k8s));
	if (p->identity_valid && (p->identity.pod_uid[0] || p->identity.container_id[0]))
		p->k8s_valid = k8s_resolve(&a->names.k8s, p->identity.pod_uid,
		                           p->identity.container_id, &p->k8s);
	e->names_generation = generation;
}

static void update_growth(const struct attrib *a, struct attrib_entry *e, int64_t now_ns)
{
	double t = (double)now_ns / NS_PER_S;
	if (e->growth_started && t < e->growth_next_s)
		return;
	growth_push(&e->growth, t, (double)e->proc.gpu_memory_bytes);
	growth_fit(&e->growth, t - a->cfg.growth_window_s, &e->proc.memory_growth);
	e->growth_started = true;
	e->growth_next_s = t + a->cfg.growth_sample_s;
}

int attrib_sweep(struct attrib *a, const struct attrib_row *rows, size_t n, int64_t now_ns,
                 uint32_t *row_process)
{
	assert(a);
	assert(n == 0 || rows);
	a->sweep++;
	a->stats.sweeps++;
	struct attrib_table *t = &a->table;
	t->result_count = 0;
	release_stale(a, now_ns);

	for (size_t i = 0; i < n; i++) {
		int32_t s = attrib_table_find(t, rows[i].pid);
		if (s < 0) {
			s = attrib_table_acquire(t, rows[i].pid);
			if (s < 0)
				return -1;
		}
		struct attrib_entry *e = &t->entries[s];
		if (e->sweep != a->sweep) {
			e->sweep = a->sweep;
			e->last_seen_ns = now_ns;
			e->result_pos = (uint32_t)t->result_count;
			assert(t->result_count < t->capacity);
			t->results[t->result_count++] = (uint32_t)s;
			e->proc.gpu_memory_bytes = 0;
			e->proc.gpu_memory_valid = false;
			e->proc.gpu_count = 0;
			e->proc.new_process = false;
			if (e->pidfd >= 0)
				attrib_read_clock(a, e, (uint32_t)s);
			else
				attrib_read_stat(a, e, now_ns, NULL);
		}
		e->proc.gpu_count++;
		if (rows[i].memory_valid) {
			e->proc.gpu_memory_bytes += rows[i].memory_bytes;
			e->proc.gpu_memory_valid = true;
		}
		if (row_process)
			row_process[i] = e->result_pos;
	}

	/* The CPU-clock path's one poll, then what it says. */
	attrib_clock_batch_poll(&a->batch);
	for (size_t k = 0; k < a->batch.count; k++)
		attrib_read_clock_polled(a, &t->entries[a->batch.slots[k]], now_ns,
		                         attrib_clock_batch_alive(&a->batch, k));
	a->batch.count = 0;

	/* Names: one lock per sweep, and only when some process needs them. */
	uint64_t generation = atomic_load(&a->names_generation);
	bool need_names = false;
	for (size_t r = 0; r < t->result_count && !need_names; r++) {
		const struct attrib_entry *e = &t->entries[t->results[r]];
		need_names = e->proc.status == ATTRIB_OK && e->names_generation != generation;
	}
	if (need_names) {
		pthread_mutex_lock(&a->names_lock);
		generation = atomic_load(&a->names_generation);
		for (size_t r = 0; r < t->result_count; r++) {
			struct attrib_entry *e = &t->entries[t->results[r]];
			if (e->proc.status == ATTRIB_OK && e->names_generation != generation)
				resolve_names(a, e, generation);
		}
		pthread_mutex_unlock(&a->names_lock);
	}

	for (size_t r = 0; r < t->result_count; r++) {
		struct attrib_entry *e = &t->entries[t->results[r]];
		if (e->proc.status == ATTRIB_OK && e->proc.gpu_memory_valid)
			update_growth(a, e, now_ns);
	}
	return (int)t->result_count;
}

size_t attrib_count(const struct attrib *a)
{
	assert(a);
	return a->table.result_count;
}

const struct attrib_process *attrib_process_at(const struct attrib *a, size_t i)
{
	assert(a);
	if (i >= a->table.result_count)
		return NULL;
	return &a->table.entries[a->table.results[i]].proc;
}

void attrib_get_stats(const struct attrib *a, struct attrib_stats *out)
{
	assert(a && out);
	*out = a->stats;
	out->capacity = a->table.capacity;
	out->tracked = a->table.in_use;
	pthread_mutex_lock((pthread_mutex_t *)&a->names_lock);
	out->refreshes = a->refreshes;
	out->kubelet_queried = a->names.kubelet_queried;
	out->kubelet_result = a->names.kubelet_result;
	out->kubelet_devices = a->names.devices.count;
	pthread_mutex_unlock((pthread_mutex_t *)&a->names_lock);
}

bool attrib_gpu_owner(struct attrib *a, const char *device_id, struct podres_device *out)
{
	assert(a && out);
	pthread_mutex_lock(&a->names_lock);
	const struct podres_device *d = podres_find(&a->names.devices, device_id);
	if (d)
		*out = *d;
	pthread_mutex_unlock(&a->names_lock);
	return d != NULL;
}

const char *attrib_status_name(enum attrib_status s)
{
	switch (s) {
	case ATTRIB_OK:
		return "ok";
	case ATTRIB_GONE:
		return "gone";
	case ATTRIB_DENIED:
		return "denied";
	case ATTRIB_GARBAGE:
		return "garbage";
	}
	return "unknown";
}
