/* sim_host.c - the simulated host's files; see sim_host.h for what and why. */
#include "sim/sim_host.h"
#include "sim/sim_processes.h"
#include "sim/sim_serve.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HOST_PATH_MAX      4096
#define HOST_ROOT_MAX      1024 /* leaves room in a path for the longest names below it */
#define HOST_MIN_REFRESH_S 0.05
#define HOST_STEP_S        0.1 /* integration step of cpu_cores, scenario seconds */

/* One process of the host: the same pid on several GPUs is one process. */
struct host_proc {
	const struct sim_process *p; /* its first entry in the scenario */
	unsigned uid;
	double t;     /* scenario time its CPU has been integrated to */
	double cpu_s; /* CPU seconds used up to t */
	bool present; /* its /proc directory exists */
};

struct sim_host {
	pthread_mutex_t lock; /* guards everything below and the files */
	char root[HOST_ROOT_MAX];
	struct host_proc *procs;
	size_t n;
	long ticks_per_s, page_size;
	double last_wall;        /* monotonic seconds of the last refresh; < 0 before the first */
	double t_at, scale;      /* scenario time and rate at last_wall (the servers' clock) */
	struct sim_serve *serve; /* the scenario's inference servers; NULL: none */
};

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* mkdir -p for a path under the root (the root itself exists). */
static int make_dirs(const char *path)
{
	char tmp[HOST_PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *q = tmp + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = 0;
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return -1;
		*q = '/';
	}
	return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* Writes data to path through a temporary file and rename, so a reader never sees half. */
static int write_file(const char *path, const char *data, size_t len)
{
	char tmp[HOST_PATH_MAX + 16];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	bool ok = fwrite(data, 1, len, f) == len;
	ok &= fclose(f) == 0;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int write_text(const char *path, const char *text)
{
	return write_file(path, text, strlen(text));
}

/* The uid of a user name: 0 for root, else 1000 + its rank among the scenario's users. */
static unsigned uid_of(const struct sim_host *h, const char *user)
{
	if (strcmp(user, "root") == 0)
		return 0;
	unsigned rank = 0;
	for (size_t i = 0; i < h->n; i++) {
		const char *u = h->procs[i].p->user;
		if (strcmp(u, "root") == 0)
			continue;
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k++)
			seen = strcmp(h->procs[k].p->user, u) == 0;
		if (seen)
			continue;
		if (strcmp(u, user) == 0)
			return 1000 + rank;
		rank++;
	}
	return 65534;
}

static int write_passwd(const struct sim_host *h)
{
	char path[HOST_PATH_MAX], line[256];
	size_t cap = 256 + h->n * sizeof(line), len = 0;
	char *text = malloc(cap);
	if (!text)
		return -1;
	len += (size_t)snprintf(text, cap, "root:x:0:0:root:/root:/bin/bash\n");
	for (size_t i = 0; i < h->n; i++) {
		const char *u = h->procs[i].p->user;
		bool seen = strcmp(u, "root") == 0;
		for (size_t k = 0; k < i && !seen; k++)
			seen = strcmp(h->procs[k].p->user, u) == 0;
		if (seen)
			continue;
		unsigned uid = h->procs[i].uid;
		int n =
		    snprintf(line, sizeof(line), "%s:x:%u:%u::/home/%s:/bin/sh\n", u, uid, uid, u);
		if (n > 0 && len + (size_t)n < cap) {
			memcpy(text + len, line, (size_t)n);
			len += (size_t)n;
		}
	}
	snprintf(path, sizeof(path), "%s/etc", h->root);
	int rc = make_dirs(path);
	snprintf(path, sizeof(path), "%s/etc/passwd", h->root);
	if (rc == 0)
		rc = write_file(path, text, len);
	free(text);
	return rc;
}

/* The kubelet's log layout for a pod process: what maps its cgroup's ids to names. */
static int write_pod_logs(const struct sim_host *h, const struct sim_process *p)
{
	char path[HOST_PATH_MAX];
	snprintf(path, sizeof(path), "%s/var/log/pods/%s_%s_%s/%s", h->root, p->pod_namespace,
	         p->pod_name, p->pod_uid, p->pod_container);
	if (make_dirs(path) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/var/log/pods/%s_%s_%s/%s/0.log", h->root, p->pod_namespace,
	         p->pod_name, p->pod_uid, p->pod_container);
	if (write_text(path, "") != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/var/log/containers", h->root);
	if (make_dirs(path) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/var/log/containers/%s_%s_%s-%s.log", h->root, p->pod_name,
	         p->pod_namespace, p->pod_container, p->container_id);
	return write_text(path, "");
}

/* /proc/PID/{status,cmdline,cgroup}: what does not change while the process runs. */
static int write_socket(const struct sim_host *h, unsigned pid, const char *dir);

static int write_identity(const struct sim_host *h, const struct host_proc *hp)
{
	const struct sim_process *p = hp->p;
	char dir[HOST_PATH_MAX], path[HOST_PATH_MAX + 16], text[512];
	snprintf(dir, sizeof(dir), "%s/proc/%u", h->root, p->pid);
	if (make_dirs(dir) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/status", dir);
	snprintf(text, sizeof(text),
	         "Name:\t%.15s\nState:\tS (sleeping)\nPid:\t%u\nUid:\t%u\t%u\t%u\t%u\n", p->name,
	         p->pid, hp->uid, hp->uid, hp->uid, hp->uid);
	if (write_text(path, text) != 0)
		return -1;
	/* cmdline: NUL-separated arguments. */
	if (p->cmdline[0])
		snprintf(text, sizeof(text), "%s", p->cmdline);
	else
		snprintf(text, sizeof(text), "/usr/bin/%s", p->name);
	size_t len = strlen(text);
	for (size_t i = 0; i < len; i++)
		if (text[i] == ' ')
			text[i] = 0;
	snprintf(path, sizeof(path), "%s/cmdline", dir);
	if (write_file(path, text, len + 1) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/cgroup", dir);
	if (write_text(path, p->cgroup[0] ? p->cgroup : "0::/\n") != 0)
		return -1;
	return write_socket(h, p->pid, dir);
}

/* An inference server's listening socket, where the agent's discovery looks for it:
 * /proc/PID/fd/3 -> "socket:[INODE]" and its LISTEN row in /proc/PID/net/tcp. */
static int write_socket(const struct sim_host *h, unsigned pid, const char *dir)
{
	unsigned long inode = 0;
	unsigned port = sim_serve_port(h->serve, pid, &inode);
	if (!port)
		return 0;
	static const char header[] = "  sl  local_address rem_address   st tx_queue rx_queue tr "
	                             "tm->when retrnsmt   uid  timeout inode\n";
	char path[HOST_PATH_MAX + 32], text[512], link[64];
	snprintf(path, sizeof(path), "%s/net", dir);
	if (make_dirs(path) != 0)
		return -1;
	snprintf(text, sizeof(text),
	         "%s   0: 0100007F:%04X 00000000:0000 0A 00000000:00000000 00:00000000 00000000 "
	         "    0        0 %lu 1 0000000000000000 100 0 0 10 0\n",
	         header, port, inode);
	snprintf(path, sizeof(path), "%s/net/tcp", dir);
	if (write_text(path, text) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/net/tcp6", dir);
	if (write_text(path, header) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/fd", dir);
	if (make_dirs(path) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/fd/3", dir);
	snprintf(link, sizeof(link), "socket:[%lu]", inode);
	unlink(path);
	return symlink(link, path);
}

/* /proc/PID/stat with the CPU used so far (utime), in the layout proc(5) gives. */
static int write_stat(const struct sim_host *h, const struct host_proc *hp)
{
	const struct sim_process *p = hp->p;
	char path[HOST_PATH_MAX + 16], text[512];
	unsigned long long utime = (unsigned long long)(hp->cpu_s * (double)h->ticks_per_s);
	double rss = p->rss_mib > 0 ? p->rss_mib : 0;
	unsigned long long rss_pages = (unsigned long long)(rss * 1048576.0 / (double)h->page_size);
	/* pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
	 * utime stime cutime cstime priority nice threads itrealvalue starttime vsize rss */
	snprintf(text, sizeof(text),
	         "%u (%.15s) S 1 %u %u 0 -1 4194560 0 0 0 0 %llu 0 0 0 20 0 %u 0 %llu %llu %llu "
	         "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n",
	         p->pid, p->name, p->pid, p->pid, utime, p->threads, 1000ULL + p->pid,
	         rss_pages * (unsigned long long)h->page_size * 4, rss_pages);
	snprintf(path, sizeof(path), "%s/proc/%u/stat", h->root, p->pid);
	return write_text(path, text);
}

static void remove_proc(const struct sim_host *h, unsigned pid)
{
	static const char *const files[] = {"stat",    "status",   "cmdline", "cgroup", "fd/3",
	                                    "net/tcp", "net/tcp6", "fd",      "net"};
	char path[HOST_PATH_MAX + 16];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/proc/%u/%s", h->root, pid, files[i]);
		if (unlink(path) != 0)
			rmdir(path);
	}
	snprintf(path, sizeof(path), "%s/proc/%u", h->root, pid);
	rmdir(path);
}

/* CPU seconds of p over scenario times [a, b]: cpu_cores (clamped at 0) integrated over
 * the wall time that interval is, by the midpoint rule in steps of HOST_STEP_S. */
static double cpu_seconds(const struct sim_process *p, double a, double b, double time_scale)
{
	if (!p->cpu_cores || b <= a)
		return 0;
	int steps = (int)ceil((b - a) / HOST_STEP_S);
	if (steps > 100000) /* an agent that slept for hours: coarser steps */
		steps = 100000;
	double dt = (b - a) / steps, sum = 0;
	for (int i = 0; i < steps; i++) {
		double c = sim_func_eval(p->cpu_cores, a + (i + 0.5) * dt);
		sum += isfinite(c) && c > 0 ? c : 0;
	}
	return sum * dt / (time_scale > 0 ? time_scale : 1);
}

/* Scenario time now, for the servers' counters: the last refresh's time moved on by the wall
 * time since, at the scenario's rate. */
static double host_clock(void *ctx)
{
	struct sim_host *h = ctx;
	pthread_mutex_lock(&h->lock);
	double t = h->last_wall < 0 ? 0 : h->t_at + (mono_s() - h->last_wall) * h->scale;
	pthread_mutex_unlock(&h->lock);
	return t;
}

struct sim_host *sim_host_create(const struct sim_scenario *scn, const char *root, char *err,
                                 size_t errlen)
{
	if (!root || !*root)
		return NULL;
	if (strlen(root) >= HOST_ROOT_MAX) {
		snprintf(err, errlen, "simulated host: the path %.64s... is too long", root);
		return NULL;
	}
	struct sim_host *h = calloc(1, sizeof(*h));
	size_t total = 0;
	for (size_t g = 0; g < scn->n_gpus; g++)
		total += scn->gpus[g].n_processes;
	if (!h || !(h->procs = calloc(total ? total : 1, sizeof(*h->procs)))) {
		snprintf(err, errlen, "simulated host: out of memory");
		free(h);
		return NULL;
	}
	snprintf(h->root, sizeof(h->root), "%s", root);
	pthread_mutex_init(&h->lock, NULL);
	h->ticks_per_s = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
	h->page_size = sysconf(_SC_PAGESIZE) > 0 ? sysconf(_SC_PAGESIZE) : 4096;
	h->last_wall = -1;
	for (size_t g = 0; g < scn->n_gpus; g++) {
		for (size_t i = 0; i < scn->gpus[g].n_processes; i++) {
			const struct sim_process *p = &scn->gpus[g].processes[i];
			bool seen = false;
			for (size_t k = 0; k < h->n && !seen; k++)
				seen = h->procs[k].p->pid == p->pid;
			if (!seen)
				h->procs[h->n++] = (struct host_proc){.p = p, .t = 0};
		}
	}
	for (size_t i = 0; i < h->n; i++)
		h->procs[i].uid = uid_of(h, h->procs[i].p->user);
	const struct sim_process *listed[256];
	size_t nl = 0;
	for (size_t i = 0; i < h->n && nl < 256; i++)
		listed[nl++] = h->procs[i].p;
	char serr[160] = "";
	h->scale = 1;
	h->serve = sim_serve_start(listed, nl, host_clock, h, serr, sizeof(serr));
	if (serr[0])
		fprintf(stderr, "gpuscope-sim: %s\n", serr);
	char path[HOST_PATH_MAX];
	snprintf(path, sizeof(path), "%s/proc", h->root);
	bool ok = make_dirs(path) == 0 && write_passwd(h) == 0;
	for (size_t i = 0; ok && i < h->n; i++)
		if (h->procs[i].p->pod_name[0])
			ok = write_pod_logs(h, h->procs[i].p) == 0;
	if (!ok) {
		snprintf(err, errlen, "simulated host: cannot write under %s: %s", root,
		         strerror(errno));
		sim_host_free(h);
		return NULL;
	}
	sim_host_refresh(h, 0, 1);
	return h;
}

void sim_host_refresh(struct sim_host *h, double t, double time_scale)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	double now = mono_s();
	if (h->last_wall >= 0 && now - h->last_wall < HOST_MIN_REFRESH_S) {
		pthread_mutex_unlock(&h->lock);
		return;
	}
	h->last_wall = now;
	h->t_at = t;
	h->scale = time_scale > 0 ? time_scale : 1;
	for (size_t i = 0; i < h->n; i++) {
		struct host_proc *hp = &h->procs[i];
		const struct sim_process *p = hp->p;
		if (t > hp->t) {
			/* CPU counts only while the process runs. */
			double a = fmax(hp->t, p->from), b = fmin(t, p->until);
			if (b > a)
				hp->cpu_s += cpu_seconds(p, a, b, time_scale);
			hp->t = t;
		}
		bool running = sim_process_running(p, t);
		if (running && !hp->present)
			hp->present = write_identity(h, hp) == 0;
		if (running && hp->present)
			write_stat(h, hp);
		if (!running && hp->present) {
			remove_proc(h, p->pid);
			hp->present = false;
		}
	}
	pthread_mutex_unlock(&h->lock);
}

void sim_host_free(struct sim_host *h)
{
	if (!h)
		return;
	sim_serve_stop(h->serve);
	pthread_mutex_destroy(&h->lock);
	free(h->procs);
	free(h);
}
