/* attrib.c - attrib_sweep and its policy; see attrib.h for the cost model and
 * attrib_table.h for the slots.
 *
 * A slot is keyed by (pid, start time): when /proc/PID/stat shows another start time, the
 * pid was reused, and the slot is reset as if the process were new. Slots of processes that
 * are gone (or not reported for forget_after_s) are released at the start of the next sweep,
 * so the records handed out stay valid until then. */
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

#include "workload/attrib_names.h"
#include "workload/attrib_table.h"
#define NS_PER_S 1000000000.0

struct attrib {
	struct attrib_config cfg; /* paths point at the copies below */
	char *proc_root, *passwd_path, *pod_log_dir, *container_log_dir, *kubelet_socket;
	int proc_dirfd;
	bool hold_fds; /* proc_root is a real procfs and max_held_fds > 0 */
	long clock_ticks;
	long page_size;

	struct attrib_table table;
	uint64_t sweep;
	struct attrib_stats stats;
	char scratch[8192]; /* file contents; the sweep is single-threaded */

	/* Name tables: written by attrib_refresh (under names_lock), read by the sweep. */
	pthread_mutex_t names_lock;
	bool names_lock_ready;
	_Atomic uint64_t names_generation;
	struct attrib_names names;
	uint64_t refreshes;
	int64_t names_next_ns;                  /* refresh thread only */
	struct attrib_names_stamp passwd_stamp; /* refresh thread only */
};

void attrib_config_default(struct attrib_config *cfg)
{
	assert(cfg);
	memset(cfg, 0, sizeof(*cfg));
	cfg->identity_refresh_s = 60;
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

static void close_held_fd(struct attrib *a, struct attrib_entry *e)
{
	if (e->stat_fd < 0)
		return;
	close(e->stat_fd);
	e->stat_fd = -1;
	assert(a->stats.held_fds > 0);
	a->stats.held_fds--;
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
			close_held_fd(a, e);
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
	a->hold_fds = cfg_in->max_held_fds > 0 && procfs_is_procfs(a->proc_dirfd);
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
	for (size_t s = 0; s < a->table.capacity; s++)
		if (a->table.entries[s].in_use && a->table.entries[s].stat_fd >= 0)
			close(a->table.entries[s].stat_fd);
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

static enum attrib_status status_from(enum procfs_result r)
{
	switch (r) {
	case PROCFS_OK:
		return ATTRIB_OK;
	case PROCFS_GONE:
		return ATTRIB_GONE;
	case PROCFS_DENIED:
		return ATTRIB_DENIED;
	case PROCFS_GARBAGE:
	case PROCFS_IO_ERROR:
		break;
	}
	return ATTRIB_GARBAGE;
}

/* Identity re-reads are spread over [0.75, 1.25] x identity_refresh_s by pid, so processes
 * first seen together (agent start) are not all re-read in the same sweep. */
static int64_t identity_deadline(const struct attrib *a, pid_t pid, int64_t now_ns)
{
	double jitter = 0.75 + 0.5 * (double)(((uint32_t)pid * 2654435761u) % 1000u) / 1000.0;
	return now_ns + (int64_t)(a->cfg.identity_refresh_s * jitter * NS_PER_S);
}

/* Reads cgroup (workload) and, with full, status (uid) and cmdline (exe). A file missing
 * here means the process exited after its stat was read.
 *
 * The periodic re-read is the cgroup alone: status is the dearest file in /proc (about
 * 17 us on a small VM, twice stat's cost) and a uid changes after start only through
 * setuid() without exec, which GPU processes do before they touch the GPU. An exec (comm
 * changed) gets the full read. */
static void read_identity(struct attrib *a, struct attrib_entry *e, int64_t now_ns, bool full)
{
	struct attrib_process *p = &e->proc;
	char *buf = a->scratch;
	size_t len;
	enum procfs_result r;
	a->stats.identity_reads++;

	if (full) {
		r = procfs_read(a->proc_dirfd, p->pid, "status", buf, 4096, &len);
		if (r == PROCFS_GONE)
			goto gone;
		uint32_t uid;
		if (r == PROCFS_OK && procfs_parse_status_uid(buf, len, &uid) == PROCFS_OK) {
			if (!p->uid_valid || p->uid != uid)
				e->names_generation = 0;
			p->uid_valid = true;
			p->uid = uid;
		}
		r = procfs_read(a->proc_dirfd, p->pid, "cmdline", buf, 4096, &len);
		if (r == PROCFS_GONE)
			goto gone;
		if (r != PROCFS_OK ||
		    procfs_cmdline_basename(buf, len, p->exe, sizeof(p->exe)) == 0)
			snprintf(p->exe, sizeof(p->exe), "%s", p->comm);
	}

	r = procfs_read(a->proc_dirfd, p->pid, "cgroup", buf, sizeof(a->scratch), &len);
	if (r == PROCFS_GONE)
		goto gone;
	struct cgroup_identity id;
	bool parsed = r == PROCFS_OK && cgroup_parse(buf, len, &id);
	if (parsed) {
		if (!p->identity_valid || !cgroup_same_workload(&id, &p->identity))
			e->names_generation = 0;
		p->identity = id;
		p->identity_valid = true;
	}
	e->have_identity = true;
	e->identity_due_ns = identity_deadline(a, p->pid, now_ns);
	return;
gone:
	p->status = ATTRIB_GONE;
	a->stats.gone++;
}

/* Reads /proc/PID/stat into the scratch buffer: through the held fd when there is one
 * (falling back to a fresh open when it answers "gone": the pid may have been reused), else
 * by opening it, keeping the fd when allowed. */
static enum procfs_result read_stat(struct attrib *a, struct attrib_entry *e, size_t *len)
{
	const size_t cap = 1024;
	a->stats.stat_reads++;
	if (e->stat_fd >= 0) {
		if (procfs_reread(e->stat_fd, a->scratch, cap, len) == PROCFS_OK)
			return PROCFS_OK;
		close_held_fd(a, e);
	}
	a->stats.stat_opens++;
	if (!a->hold_fds || a->stats.held_fds >= (size_t)a->cfg.max_held_fds)
		return procfs_read(a->proc_dirfd, e->proc.pid, "stat", a->scratch, cap, len);
	enum procfs_result r;
	int fd = procfs_open(a->proc_dirfd, e->proc.pid, "stat", &r);
	if (fd < 0)
		return r;
	r = procfs_reread(fd, a->scratch, cap, len);
	if (r != PROCFS_OK) {
		close(fd);
		return r;
	}
	e->stat_fd = fd;
	a->stats.held_fds++;
	return PROCFS_OK;
}

/* Called once per process per sweep: stat for CPU/RSS, identity when due. */
static void update_process(struct attrib *a, struct attrib_entry *e, int64_t now_ns)
{
	struct attrib_process *p = &e->proc;
	struct procfs_stat st;
	size_t len;
	p->new_process = false;
	enum procfs_result r = read_stat(a, e, &len);
	if (r == PROCFS_OK)
		r = procfs_parse_stat(a->scratch, len, &st);
	if (r == PROCFS_OK && st.pid != p->pid)
		r = PROCFS_GARBAGE;
	if (r != PROCFS_OK) {
		p->status = status_from(r);
		p->cpu_valid = false;
		if (p->status == ATTRIB_GONE)
			a->stats.gone++;
		return;
	}
	if (e->have_stat && st.start_time_ticks != p->start_time_ticks) {
		/* Same pid, another process: start over, keeping only this sweep's place. */
		a->stats.pid_reuses++;
		uint64_t sweep = e->sweep;
		uint32_t pos = e->result_pos;
		int64_t seen = e->last_seen_ns;
		int fd = e->stat_fd; /* opened on the new process already */
		memset(e, 0, sizeof(*e));
		e->in_use = true;
		e->stat_fd = fd;
		e->proc.pid = st.pid;
		e->sweep = sweep;
		e->result_pos = pos;
		e->last_seen_ns = seen;
	}
	p->new_process = !e->have_stat;
	bool exec_seen = e->have_stat && strcmp(p->comm, st.comm) != 0;
	e->have_stat = true;
	p->status = ATTRIB_OK;
	p->start_time_ticks = st.start_time_ticks;
	memcpy(p->comm, st.comm, sizeof(p->comm));
	p->state = st.state;
	p->ppid = st.ppid;
	p->threads = st.num_threads;
	p->rss_bytes = st.rss_pages * (uint64_t)a->page_size;

	uint64_t ticks = st.utime_ticks + st.stime_ticks;
	if (e->have_cpu_base && now_ns > e->cpu_ns && ticks >= e->cpu_ticks) {
		double cpu_s = (double)(ticks - e->cpu_ticks) / (double)a->clock_ticks;
		p->cpu_cores = cpu_s / ((double)(now_ns - e->cpu_ns) / NS_PER_S);
		p->cpu_valid = true;
	} else {
		p->cpu_valid = false;
	}
	e->cpu_ticks = ticks;
	e->cpu_ns = now_ns;
	e->have_cpu_base = true;

	if (!e->have_identity || exec_seen)
		read_identity(a, e, now_ns, true);
	else if (now_ns >= e->identity_due_ns)
		read_identity(a, e, now_ns, false);
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
			update_process(a, e, now_ns);
		}
		e->proc.gpu_count++;
		if (rows[i].memory_valid) {
			e->proc.gpu_memory_bytes += rows[i].memory_bytes;
			e->proc.gpu_memory_valid = true;
		}
		if (row_process)
			row_process[i] = e->result_pos;
	}

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
