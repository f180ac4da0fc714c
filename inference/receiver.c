/* receiver.c - receive per-inference datagrams (see receiver.h). */
#include "inference/receiver.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "analyze/analyze.h"
#include "analyze/models.h"
#include "export/prom_inference.h"
#include "export/prom_nccl.h"
#include "inference/socket.h"
#include "series/nvlink.h"
#include "series/process_table.h"
#include "workload/cgroup.h"

void inference_receiver_init(struct inference_receiver *si)
{
	memset(si, 0, sizeof(*si));
	si->fd = -1;
	si->cap = INFERENCE_CAP_DEFAULT;
}

/* "container:ID12", "pod:UID", "slurm_job:N", a systemd unit, or "" (host). */
static void workload_of(int pid, char *out, size_t cap)
{
	out[0] = '\0';
	char path[64], buf[8192];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	struct cgroup_identity id;
	if (n <= 0 || !cgroup_parse(buf, (size_t)n, &id))
		return;
	if (id.pod_uid[0])
		snprintf(out, cap, "pod:%s", id.pod_uid);
	else if (id.container_id[0])
		snprintf(out, cap, "container:%.12s", id.container_id);
	else if (id.has_slurm_job)
		snprintf(out, cap, "slurm_job:%llu", (unsigned long long)id.slurm_job);
	else if (id.systemd_unit[0])
		snprintf(out, cap, "%.60s", id.systemd_unit);
}

/* The board index of the GPU a message names (an NVML index or a GPU UUID); -1: none. */
static int board_gpu(struct board *b, const char *tok)
{
	if (!b || !tok[0])
		return -1;
	if (strncmp(tok, "GPU-", 4) != 0) {
		char *end;
		unsigned long i = strtoul(tok, &end, 10);
		return !*end && i < b->count ? (int)i : -1;
	}
	struct board_snapshot snap;
	int found = -1;
	if (board_snapshot(b, &snap) != 0)
		return -1;
	for (unsigned i = 0; i < snap.count && found < 0; i++)
		if (!strcmp(snap.gpus[i].id.uuid, tok))
			found = (int)i;
	board_snapshot_free(&snap);
	return found;
}

/* Joules over [t0, t1] (Unix ns) from the board's per-second power; NAN when a second has
 * no reading or has left the window ring. */
static double energy_from_board(struct board *b, unsigned gpu, long long t0, long long t1)
{
	const long long ns = 1000000000LL;
	if (t1 < t0 || t0 <= 0 || t1 - t0 > 120 * ns)
		return NAN;
	double joules = 0;
	for (long long sec = t0 / ns; sec <= t1 / ns; sec++) {
		struct window_agg agg[METRIC_COUNT];
		board_window(b, gpu, sec, sec, agg);
		const struct window_agg *w =
		    agg[METRIC_POWER_INSTANT].n ? &agg[METRIC_POWER_INSTANT] : &agg[METRIC_POWER];
		if (!w->n)
			return NAN;
		long long lo = t0 > sec * ns ? t0 : sec * ns;
		long long hi = t1 < (sec + 1) * ns ? t1 : (sec + 1) * ns;
		joules += w->sum / w->n / 1000.0 * (double)(hi > lo ? hi - lo : 0) / 1e9; /* mW */
	}
	return joules;
}

/* Measures the energy of the oldest pending inference. */
static void settle_one(struct inference_receiver *si)
{
	struct inference_pending *p = &si->pending[si->pending_head];
	double j = energy_from_board(si->board, (unsigned)p->gpu, p->start_ns, p->end_ns);
	if (!isnan(j))
		inference_table_add_energy(&si->table, p->process, p->workload, p->range, j);
	if (!isnan(j) && si->acc) {
		struct inference_key k = {.gpu = p->gpu, .pid = p->pid};
		snprintf(k.process, sizeof(k.process), "%s", p->process);
		snprintf(k.workload, sizeof(k.workload), "%s", p->workload);
		snprintf(k.range, sizeof(k.range), "%s", p->range);
		snprintf(k.boundary, sizeof(k.boundary), "%s", p->boundary);
		inference_acc_add_energy(si->acc, &k, p->end_ns, j);
	}
	si->pending_head = (si->pending_head + 1) % INFERENCE_PENDING_MAX;
	si->pending_n--;
}

/* Measures every pending inference whose seconds have settled (all of them when force). */
static void settle(struct inference_receiver *si, bool force)
{
	long long now_ns = (long long)(wall_now() * 1e9);
	while (si->pending_n) {
		const struct inference_pending *p = &si->pending[si->pending_head];
		if (!force && p->end_ns + INFERENCE_SETTLE_S * 1000000000LL > now_ns)
			break;
		settle_one(si);
	}
}

static void queue_energy(struct inference_receiver *si, const struct inference_msg *m, int gpu,
                         const char *workload)
{
	if (si->pending_n == INFERENCE_PENDING_MAX)
		settle_one(si);
	size_t at = (si->pending_head + si->pending_n) % INFERENCE_PENDING_MAX;
	struct inference_pending *p = &si->pending[at];
	snprintf(p->process, sizeof(p->process), "%s", m->process);
	snprintf(p->workload, sizeof(p->workload), "%s", workload);
	snprintf(p->range, sizeof(p->range), "%s", m->range);
	snprintf(p->boundary, sizeof(p->boundary), "%s", m->boundary);
	p->gpu = gpu;
	p->pid = m->pid;
	p->start_ns = m->start_unix_ns;
	p->end_ns = m->end_unix_ns;
	si->pending_n++;
}

/* The inference's cell for the history (inference/history.h). */
static void add_to_history(struct inference_acc *acc, const struct inference_msg *m, int gpu,
                           const char *workload)
{
	struct inference_key k = {.gpu = gpu, .pid = m->pid};
	snprintf(k.process, sizeof(k.process), "%s", m->process);
	snprintf(k.workload, sizeof(k.workload), "%s", workload);
	snprintf(k.range, sizeof(k.range), "%s", m->range);
	snprintf(k.boundary, sizeof(k.boundary), "%s", m->boundary);
	inference_acc_add(acc, &k, m);
}

static void *receiver(void *arg)
{
	struct inference_receiver *si = arg;
	pthread_setname_np(pthread_self(), "gpuscope-recv");
	char *buf = si->rx, workload[INFERENCE_LABEL_MAX] = "";
	int last_pid = -1;
	while (!atomic_load(&si->stop)) {
		struct pollfd p = {.fd = si->fd, .events = POLLIN};
		int ready = poll(&p, 1, 200);
		settle(si, false);
		if (ready <= 0)
			continue;
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(sizeof(struct ucred))];
		} ctl;
		struct iovec iov = {.iov_base = buf, .iov_len = INFERENCE_RX_MAX};
		struct msghdr mh = {.msg_iov = &iov,
		                    .msg_iovlen = 1,
		                    .msg_control = &ctl,
		                    .msg_controllen = sizeof(ctl)};
		ssize_t n = recvmsg(si->fd, &mh, MSG_DONTWAIT);
		if (n < 0)
			continue;
		int pid = -1;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
				struct ucred cr;
				memcpy(&cr, CMSG_DATA(c), sizeof(cr));
				pid = cr.pid;
			}
		if (mh.msg_flags & MSG_TRUNC) {
			inference_table_reject(&si->table);
			continue;
		}
		if (pid != last_pid) {
			workload_of(pid, workload, sizeof(workload));
			last_pid = pid;
		}
		/* One datagram carries the lines of every inference cut together. */
		for (const char *line = buf, *end = buf + n; line < end;) {
			const char *nl = memchr(line, '\n', (size_t)(end - line));
			size_t len = (size_t)((nl ? nl : end) - line);
			struct inference_msg m;
			struct nccl_msg nm;
			if (len && inference_msg_parse(line, len, &m) == 0) {
				if (pid > 0)
					m.pid = pid;
				inference_table_add(&si->table, &m, workload);
				int gpu = board_gpu(si->board, m.gpu);
				if (si->acc)
					add_to_history(si->acc, &m, gpu, workload);
				if (gpu >= 0 && isnan(m.energy_j) && si->pending)
					queue_energy(si, &m, gpu, workload);
			} else if (len && nccl_msg_parse(line, len, &nm) == 0) {
				if (pid > 0)
					nm.pid = pid;
				nccl_table_add(&si->nccl, &nm, workload, wall_now());
			} else if (len) {
				inference_table_reject(&si->table);
			}
			line += len + 1;
		}
	}
	settle(si, true);
	return NULL;
}

/* Binds path; a socket file left by a dead agent (connect refused) is replaced. */
static int bind_socket(const char *path, char *err, size_t errlen)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	int r = bind(fd, (struct sockaddr *)&a, sizeof(a));
	if (r != 0 && errno == EADDRINUSE) {
		int probe = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		bool alive = probe >= 0 && connect(probe, (struct sockaddr *)&a, sizeof(a)) == 0;
		if (probe >= 0)
			close(probe);
		if (alive) {
			snprintf(err, errlen, "%s: another agent is listening there", path);
			close(fd);
			return -1;
		}
		unlink(path);
		r = bind(fd, (struct sockaddr *)&a, sizeof(a));
	}
	if (r != 0)
		goto fail;
	chmod(path, 0666); /* programs of every user may report; see the header */
	int on = 1;
	setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
	return fd;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	close(fd);
	return -1;
}

int inference_receiver_start(struct inference_receiver *si, struct board *board)
{
	si->board = board;
	if (si->path_opt && !strcmp(si->path_opt, "none"))
		return 0;
	if (si->path_opt) {
		snprintf(si->path, sizeof(si->path), "%s", si->path_opt);
	} else {
		inference_socket_default(si->path, sizeof(si->path));
		char dir[sizeof(si->path)];
		snprintf(dir, sizeof(dir), "%s", si->path);
		mkdir(dirname(dir), 0755); /* /run/gpuscope for root; exists otherwise */
	}
	char err[256];
	si->fd = bind_socket(si->path, err, sizeof(err));
	if (si->fd < 0) {
		fprintf(stderr,
		        "gpuscope: %sinference socket %s; gpuscope run will not reach this "
		        "agent\n",
		        si->path_opt ? "" : "warning: ", err);
		return si->path_opt ? -1 : 0;
	}
	/* Not cleared: an entry is written before it is read (queue_energy), so only the
	 * entries inferences wait in are touched (cleared, the 0.9 MB ring held its reused
	 * part of the heap resident with no inference traffic). */
	si->pending = board ? malloc(INFERENCE_PENDING_MAX * sizeof(*si->pending)) : NULL;
	si->rx = malloc(INFERENCE_RX_MAX);
	if (!si->rx || inference_table_init(&si->table, si->cap) != 0 ||
	    nccl_table_init(&si->nccl) != 0 ||
	    pthread_create(&si->thread, NULL, receiver, si) != 0) {
		fprintf(stderr, "gpuscope: inference receiver: out of memory\n");
		close(si->fd);
		unlink(si->path);
		si->fd = -1;
		inference_table_free(&si->table);
		nccl_table_free(&si->nccl);
		free(si->pending);
		si->pending = NULL;
		free(si->rx);
		si->rx = NULL;
		return si->path_opt ? -1 : 0;
	}
	si->running = true;
	return 0;
}

void inference_receiver_stop(struct inference_receiver *si)
{
	if (!si->running)
		return;
	atomic_store(&si->stop, true);
	pthread_join(si->thread, NULL);
	close(si->fd);
	unlink(si->path);
	inference_table_free(&si->table);
	nccl_table_free(&si->nccl);
	free(si->pending);
	si->pending = NULL;
	free(si->rx);
	si->rx = NULL;
	si->running = false;
	si->fd = -1;
}

void inference_receiver_metrics(struct inference_receiver *si, const struct prom_options *o,
                                struct strbuf *out)
{
	if (si && si->running && (o->names & NAMES_NATIVE)) {
		prom_render_inference(&si->table, o->openmetrics, out);
		prom_render_nccl(&si->nccl, o->openmetrics, out);
	}
}

/* The GPU whose process list holds pid: its UUID and NVLink bandwidth (links up x the
 * model's per-link rate; the model's full count when the links are not read). */
static void comm_gpu(const struct board_snapshot *snap, int pid, struct analyze_comm_series *c)
{
	c->link_bytes_per_s = NAN;
	for (unsigned i = 0; snap && i < snap->count; i++) {
		const struct process_table *pt = snap->gpus[i].procs;
		for (unsigned k = 0; pt && k < pt->n; k++) {
			if (pt->proc[k].pid != pid)
				continue;
			const struct nvlink_record *nv = &snap->gpus[i].nvlink;
			unsigned up = 0;
			for (unsigned l = 0; l < nv->links && l < GPU_MAX_NVLINKS; l++)
				up += nvlink_value(nv, METRIC_NVLINK_UP, l) == 1;
			snprintf(c->gpu_uuid, sizeof(c->gpu_uuid), "%s", snap->gpus[i].id.uuid);
			c->link_bytes_per_s = analyze_nvlink_bytes_per_s(snap->gpus[i].id.name,
			                                                 up ? (double)up : NAN);
			return;
		}
	}
	/* Not in a process list (attribution off, a container): the node's first GPU's
	 * link, which tensor-parallel peers share. */
	if (snap && snap->count)
		c->link_bytes_per_s = analyze_nvlink_bytes_per_s(snap->gpus[0].id.name, NAN);
}

size_t inference_receiver_comms(void *arg, struct analyze_comm_series *out, size_t cap)
{
	struct inference_receiver *si = arg;
	struct nccl_window w[32];
	if (!si || !si->running)
		return 0;
	unsigned n =
	    nccl_table_windows(&si->nccl, wall_now(), 120, w, cap < 32 ? (unsigned)cap : 32);
	struct board_snapshot snap;
	bool have = si->board && board_snapshot(si->board, &snap) == 0;
	for (unsigned i = 0; i < n; i++) {
		struct analyze_comm_series *c = &out[i];
		memset(c, 0, sizeof(*c));
		c->pid = (unsigned)w[i].pid;
		snprintf(c->process, sizeof(c->process), "%s", w[i].process);
		snprintf(c->workload, sizeof(c->workload), "%s", w[i].workload);
		c->gpu_index = -1;
		c->window_s = w[i].window_s;
		c->busy_s = w[i].busy_s;
		snprintf(c->collective, sizeof(c->collective), "%s", w[i].collective);
		snprintf(c->timing, sizeof(c->timing), "%s", w[i].timing);
		c->calls = w[i].calls;
		c->bytes_per_call = w[i].calls > 0 ? w[i].bytes / w[i].calls : NAN;
		c->busbw = w[i].busbw;
		c->nranks = w[i].nranks;
		comm_gpu(have ? &snap : NULL, w[i].pid, c);
	}
	if (have)
		board_snapshot_free(&snap);
	return n;
}
