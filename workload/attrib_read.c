/* attrib_read.c - reading one process into its slot; see attrib_read.h, and attrib.h for
 * the cost model this serves. */
#include "workload/attrib_read.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void attrib_read_close_fd(struct attrib *a, int *fd)
{
	if (*fd < 0)
		return;
	close(*fd);
	*fd = -1;
	assert(a->stats.held_fds > 0);
	a->stats.held_fds--;
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

/* A pid's place in [0, 1), fixed, spread evenly over consecutive pids. */
static double pid_spread(pid_t pid)
{
	return (double)(((uint32_t)pid * 2654435761u) % 1000u) / 1000.0;
}

/* Identity re-reads are spread over [0.75, 1.25] x identity_refresh_s by pid, so processes
 * first seen together (agent start) are not all re-read in the same sweep. */
static int64_t identity_deadline(const struct attrib *a, pid_t pid, int64_t now_ns)
{
	double jitter = 0.75 + 0.5 * pid_spread(pid);
	return now_ns + (int64_t)(a->cfg.identity_refresh_s * jitter * NS_PER_S);
}

/* The clock path's stat re-reads fall on a grid of stat_refresh_s offset by pid: the first
 * grid point past half a period from now, so every period once a process is known, the first
 * 0.5 to 1.5 periods after it is first seen. A period jittered per pid (as identity's) gets
 * rounded up to the sweep tick, so pids of different periods fall due together more and more
 * (all at once at a common multiple); a grid keeps the re-reads at n x tick / stat_refresh_s
 * in every sweep. */
static int64_t stat_deadline(const struct attrib *a, pid_t pid, int64_t now_ns)
{
	int64_t period = (int64_t)(a->cfg.stat_refresh_s * NS_PER_S);
	if (period < 2)
		period = 2;
	int64_t phase = (int64_t)(pid_spread(pid) * (double)period);
	int64_t from = now_ns + period / 2;
	int64_t into = ((from - phase) % period + period) % period;
	return from - into + period;
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
		attrib_read_close_fd(a, &e->stat_fd);
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

static void read_identity_when_due(struct attrib *a, struct attrib_entry *e, int64_t now_ns,
                                   bool exec_seen)
{
	if (!e->have_identity || exec_seen)
		read_identity(a, e, now_ns, true);
	else if (now_ns >= e->identity_due_ns)
		read_identity(a, e, now_ns, false);
}

/* stat's utime + stime in ns, without overflow for any tick count. */
static uint64_t ticks_to_ns(const struct attrib *a, uint64_t ticks)
{
	uint64_t hz = (uint64_t)a->clock_ticks;
	return ticks / hz * 1000000000u + ticks % hz * 1000000000u / hz;
}

/* cpu_cores from the CPU time against the last one. Counts from stat and from the clock are
 * not mixed: the first after a switch is only a new base. */
static void record_cpu(struct attrib_entry *e, int64_t now_ns, uint64_t cpu_time_ns,
                       bool from_clock)
{
	struct attrib_process *p = &e->proc;
	if (e->have_cpu_base && e->cpu_base_clock == from_clock && now_ns > e->cpu_ns &&
	    cpu_time_ns >= e->cpu_time_ns) {
		p->cpu_cores =
		    (double)(cpu_time_ns - e->cpu_time_ns) / (double)(now_ns - e->cpu_ns);
		p->cpu_valid = true;
	} else {
		p->cpu_valid = false;
	}
	e->cpu_time_ns = cpu_time_ns;
	e->cpu_ns = now_ns;
	e->cpu_base_clock = from_clock;
	e->have_cpu_base = true;
}

/* Moves a process stat just described onto the CPU-clock path: a pidfd and the process's CPU
 * clock, which becomes the CPU base. The pid may have been reused between that stat read and
 * pidfd_open, so stat's start time is read once more: the same start time with the pidfd
 * open means the pidfd names this process (a pidfd whose process exits since is caught by
 * the next sweep's poll). Any failure leaves the process on stat, to be tried again at its
 * next stat read. */
static void attach_clock(struct attrib *a, struct attrib_entry *e)
{
	if (a->stats.held_fds >= (size_t)a->cfg.max_held_fds)
		return;
	clockid_t clock;
	int fd = attrib_clock_open(e->proc.pid, &clock);
	if (fd < 0)
		return;
	struct procfs_stat st;
	size_t len;
	uint64_t cpu_ns;
	a->stats.stat_reads++;
	a->stats.stat_opens++;
	enum procfs_result r =
	    procfs_read(a->proc_dirfd, e->proc.pid, "stat", a->scratch, 1024, &len);
	if (r == PROCFS_OK)
		r = procfs_parse_stat(a->scratch, len, &st);
	if (r != PROCFS_OK || st.start_time_ticks != e->proc.start_time_ticks ||
	    !attrib_clock_read(clock, &cpu_ns)) {
		close(fd);
		return;
	}
	e->pidfd = fd;
	e->cpu_clock = clock;
	a->stats.held_fds++;
	e->cpu_time_ns = cpu_ns;
	e->cpu_base_clock = true;
}

/* Reads /proc/PID/stat and takes all of it: pid reuse, comm, state, ppid, threads, RSS,
 * identity when due, and CPU from stat's ticks, or from clock_cpu_ns when the caller has a
 * reading of the clock it knows to be this process's. */
void attrib_read_stat(struct attrib *a, struct attrib_entry *e, int64_t now_ns,
                      const uint64_t *clock_cpu_ns)
{
	struct attrib_process *p = &e->proc;
	struct procfs_stat st;
	size_t len;
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
		/* Same pid, another process: start over, keeping only this sweep's place. A
		 * pidfd names the old process, a held stat fd the new one. */
		a->stats.pid_reuses++;
		attrib_read_close_fd(a, &e->pidfd);
		clock_cpu_ns = NULL;
		uint64_t sweep = e->sweep;
		uint32_t pos = e->result_pos;
		int64_t seen = e->last_seen_ns;
		int fd = e->stat_fd;
		memset(e, 0, sizeof(*e));
		e->in_use = true;
		e->stat_fd = fd;
		e->pidfd = -1;
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
	if (clock_cpu_ns)
		record_cpu(e, now_ns, *clock_cpu_ns, true);
	else
		record_cpu(e, now_ns, ticks_to_ns(a, st.utime_ticks + st.stime_ticks), false);
	e->stat_due_ns = stat_deadline(a, p->pid, now_ns);
	if (a->clock_path && e->pidfd < 0 && st.state != 'Z' && st.state != 'X')
		attach_clock(a, e);
	read_identity_when_due(a, e, now_ns, exec_seen);
}

/* First pass, for a process with a pidfd: read its clock, queue the pidfd for the poll. */
void attrib_read_clock(struct attrib *a, struct attrib_entry *e, uint32_t slot)
{
	assert(e->pidfd >= 0);
	e->clock_ok = attrib_clock_read(e->cpu_clock, &e->clock_cpu_ns);
	a->stats.clock_reads++;
	attrib_clock_batch_add(&a->batch, e->pidfd, slot);
}

/* Second pass, after the poll. A process alive at the poll held its pid through the clock
 * read: the reading is its own. One that exited (a zombie now, or reaped and its pid perhaps
 * reused) loses its reading and pidfd and is resolved through stat, as without this path. */
void attrib_read_clock_polled(struct attrib *a, struct attrib_entry *e, int64_t now_ns, bool alive)
{
	if (!alive || !e->clock_ok) {
		a->stats.clock_discards++;
		attrib_read_close_fd(a, &e->pidfd);
		attrib_read_stat(a, e, now_ns, NULL);
	} else if (now_ns >= e->stat_due_ns) {
		attrib_read_stat(a, e, now_ns, &e->clock_cpu_ns);
	} else {
		e->proc.status = ATTRIB_OK;
		record_cpu(e, now_ns, e->clock_cpu_ns, true);
		read_identity_when_due(a, e, now_ns, false);
	}
}
