/* nccl_plugin.c - libgpuscope-nccl.so: an NCCL profiler plugin that measures collectives.
 *
 * NCCL loads this library when NCCL_PROFILER_PLUGIN names it (`gpuscope run` sets it) and
 * takes the newest of ncclProfiler_v6 ... _v1 it knows (nccl_abi.h).  It is a library of its
 * own, not part of libgpuscope-inject.so: NCCL and the CUDA driver load plugins on their own
 * schedules, a server can be given one without the other (NCCL_PROFILER_PLUGIN alone costs
 * no CUPTI subscriber slot, so it coexists with Nsight or torch.profiler), and NCCL dlcloses
 * its plugin when the last communicator goes, which must not unmap CUPTI callbacks.
 *
 * Per collective (and send/recv) we learn its kind, size, algorithm and protocol from the
 * Coll/P2p event, and when it ran from its kernel-channel events: NCCL 2.27+ (ABI v4) hands
 * the GPU's globaltimer at each channel's start and stop, 2.26 (v3) only when its threads saw
 * them.  Older NCCLs give the enqueue (host time inside the call) only, and every figure says
 * which timing it has.  Proxy operations of another process (PXN) carry a parent pointer into
 * that process's memory and are never followed.
 *
 * Never block the program: NCCL's threads only claim a slot in a fixed per-communicator array
 * (a CAS; when none is free within a few tries the event is dropped and counted), update it
 * with atomics, and push one record per finished collective into a bounded lock-free queue.
 * Our own reporter thread drains the queue (every NP_DRAIN_MS), folds it (nccl_agg.c), sweeps
 * collectives whose channel events never came, and every GPUSCOPE_NCCL_INTERVAL_MS sends the
 * cumulative figures to the agent as datagrams that never wait (emit.c).  The final figures
 * go to GPUSCOPE_INJECT_DIR/nccl-PID.jsonl for `gpuscope run`'s summary when the last
 * communicator is finalized or the process exits.
 *
 * Environment: GPUSCOPE_AGENT_SOCKET (else the agent's default paths; "none": off),
 * GPUSCOPE_INJECT_DIR, GPUSCOPE_NCCL_INTERVAL_MS (1000), GPUSCOPE_NCCL_EVENT_MASK (an
 * activation mask instead of ours), GPUSCOPE_NCCL_MAX_COMMS (64), GPUSCOPE_NCCL_SWEEP_MS
 * (2000).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "inject/emit.h"
#include "inject/nccl_abi.h"
#include "inject/nccl_agg.h"
#include "inject/nccl_descr.h"
#include "inject/nccl_queue.h"

#define NP_EXPORT __attribute__((visibility("default")))

#define NP_EVENTS   4096 /* collectives in flight per communicator */
#define NP_CHILDREN 8192 /* channel events in flight per communicator */
#define NP_TRIES    8
#define NP_DRAIN_MS 100
#define NP_SWEEP_MS 2000 /* enqueued this long ago and channels missing: done */
/* Collectives swept without a single channel event before a communicator stops waiting for
 * them: NCCL 2.26-2.27 send kernel-channel events only where a proxy thread is involved
 * (network), so an NVLink-only communicator would otherwise hold every collective's slot
 * for the sweep time. */
#define NP_EMPTY_MAX   8
#define NP_INTERVAL_MS 1000

enum { NP_TAG_EVENT = 0x5a, NP_TAG_KERNEL, NP_TAG_PROXY };
enum { SLOT_FREE, SLOT_ACTIVE, SLOT_DONE };

struct np_comm;

struct np_event { /* one collective or send/recv; handed to NCCL as its handle */
	uint8_t tag;
	_Atomic uint32_t state, gen;
	struct np_comm *comm;
	uint8_t kind, algo, proto;
	uint64_t bytes, t_start;
	_Atomic uint64_t t_enq;            /* 0 until NCCL stops it (enqueued) */
	_Atomic int refs;                  /* itself + channel events still to stop */
	_Atomic int prepaid;               /* refs reserved for announced channels */
	_Atomic uint64_t gpu_min, gpu_max; /* GPU globaltimer over its channels */
	_Atomic uint64_t cpu_min, cpu_max; /* host times of its channel events */
	_Atomic uint32_t kernels, proxies; /* channel events that stopped */
};

struct np_child { /* one kernel channel or proxy operation */
	uint8_t tag;
	_Atomic uint32_t busy;
	struct np_event *parent;
	uint32_t parent_gen;
	uint64_t gpu_start, gpu_stop, cpu_start;
};

struct np_comm {
	uint32_t index;
	int abi, nranks;
	bool kernel_events; /* KernelCh is in the mask and the ABI has it */
	_Atomic uint32_t kernels_seen, swept_empty;
	_Atomic uint64_t hash;
	_Atomic uint32_t next_event, next_child;
	struct np_event ev[NP_EVENTS];
	struct np_child ch[NP_CHILDREN];
};

static struct np_state {
	pthread_mutex_t lock; /* init/finalize and the reporter; never NCCL's event path */
	pthread_cond_t wake;
	bool started, stop, thread_on;
	pthread_t thread;
	int owner_pid, live, max_comms;
	uint64_t sweep_ns;
	unsigned interval_ms;
	struct np_comm *comms[NCCL_AGG_COMMS_MAX];
	struct nccl_agg agg;
	struct emit_sock sock;
	char process[32 * 6];
	_Atomic uint64_t dropped, foreign, late, swept;
	struct nccl_queue queue; /* NCCL's threads push, the reporter pops */
} g_np = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- events (NCCL's threads) ---- */

static void atomic_min64(_Atomic uint64_t *a, uint64_t v)
{
	uint64_t cur = atomic_load_explicit(a, memory_order_relaxed);
	while ((cur == 0 || v < cur) && !atomic_compare_exchange_weak_explicit(
	                                    a, &cur, v, memory_order_relaxed, memory_order_relaxed))
		;
}

static void atomic_max64(_Atomic uint64_t *a, uint64_t v)
{
	uint64_t cur = atomic_load_explicit(a, memory_order_relaxed);
	while (v > cur && !atomic_compare_exchange_weak_explicit(a, &cur, v, memory_order_relaxed,
	                                                         memory_order_relaxed))
		;
}

/* Takes one reference unless the count already reached 0 (the event is finished). */
static bool ref_if_live(_Atomic int *r)
{
	int cur = atomic_load(r);
	while (cur > 0)
		if (atomic_compare_exchange_weak(r, &cur, cur + 1))
			return true;
	return false;
}

/* The event's record, pushed once (whoever moves it ACTIVE -> DONE), then its slot freed. */
static void finish(struct np_event *e, bool swept)
{
	uint32_t want = SLOT_ACTIVE;
	if (!atomic_compare_exchange_strong(&e->state, &want, SLOT_DONE))
		return;
	struct nccl_done d = {.comm = e->comm->index,
	                      .kind = e->kind,
	                      .algo = e->algo,
	                      .proto = e->proto,
	                      .bytes = e->bytes};
	uint64_t enq = atomic_load(&e->t_enq), g0 = atomic_load(&e->gpu_min),
	         g1 = atomic_load(&e->gpu_max), c0 = atomic_load(&e->cpu_min),
	         c1 = atomic_load(&e->cpu_max);
	d.enqueue = enq > e->t_start ? enq - e->t_start : 0;
	if (atomic_load(&e->kernels) && g0 && g1 > g0) {
		d.timing = NCCL_TIMING_GPU;
		d.start = g0;
		d.dur = g1 - g0;
	} else if (c0 && c1 > c0) {
		d.timing = atomic_load(&e->kernels) ? NCCL_TIMING_KERNEL : NCCL_TIMING_PROXY;
		d.start = c0;
		d.dur = c1 - c0;
	} else {
		d.timing = NCCL_TIMING_ENQUEUE;
		d.start = e->t_start;
		d.dur = d.enqueue;
	}
	if (swept) {
		atomic_fetch_add_explicit(&g_np.swept, 1, memory_order_relaxed);
		if (!atomic_load(&e->kernels))
			atomic_fetch_add_explicit(&e->comm->swept_empty, 1, memory_order_relaxed);
	}
	if (!nccl_queue_push(&g_np.queue, &d)) /* the reporter is behind: count, never wait */
		atomic_fetch_add_explicit(&g_np.dropped, 1, memory_order_relaxed);
	/* A free slot has no enqueue time, so the sweep never takes one just claimed again
	 * for a collective of its own before its fields are reset. */
	atomic_store(&e->t_enq, 0);
	atomic_store(&e->state, SLOT_FREE);
}

static void unref(struct np_event *e)
{
	if (atomic_fetch_sub(&e->refs, 1) == 1)
		finish(e, false);
}

static void *start_event(struct np_comm *c, const struct nccl_descr *d)
{
	if (d->hash) {
		uint64_t zero = 0;
		atomic_compare_exchange_strong(&c->hash, &zero, d->hash);
	}
	if (d->type == NCCL_PROFILE_COLL || d->type == NCCL_PROFILE_P2P) {
		for (int t = 0; t < NP_TRIES; t++) {
			uint32_t i =
			    atomic_fetch_add_explicit(&c->next_event, 1, memory_order_relaxed) %
			    NP_EVENTS;
			struct np_event *e = &c->ev[i];
			uint32_t want = SLOT_FREE;
			if (!atomic_compare_exchange_strong(&e->state, &want, SLOT_ACTIVE))
				continue;
			/* NCCL hands the handle to its other threads with its own
			 * synchronisation, so plain (relaxed) resets are enough here. */
			atomic_fetch_add_explicit(&e->gen, 1, memory_order_relaxed);
			e->tag = NP_TAG_EVENT;
			e->comm = c;
			e->kind = (uint8_t)d->kind;
			e->algo = (uint8_t)d->algo;
			e->proto = (uint8_t)d->proto;
			e->bytes = nccl_op_bytes(d->kind, d->count, d->type_size, c->nranks);
			atomic_store_explicit(&e->t_enq, 0, memory_order_relaxed);
			atomic_store_explicit(&e->gpu_min, 0, memory_order_relaxed);
			atomic_store_explicit(&e->gpu_max, 0, memory_order_relaxed);
			atomic_store_explicit(&e->cpu_min, 0, memory_order_relaxed);
			atomic_store_explicit(&e->cpu_max, 0, memory_order_relaxed);
			atomic_store_explicit(&e->kernels, 0, memory_order_relaxed);
			atomic_store_explicit(&e->proxies, 0, memory_order_relaxed);
			bool wait = c->kernel_events &&
			            (atomic_load_explicit(&c->kernels_seen, memory_order_relaxed) ||
			             atomic_load_explicit(&c->swept_empty, memory_order_relaxed) <
			                 NP_EMPTY_MAX);
			int pre = wait && d->channels > 0 ? d->channels : 0;
			atomic_store_explicit(&e->prepaid, pre, memory_order_relaxed);
			e->t_start = now_ns();
			atomic_store_explicit(&e->refs, 1 + pre, memory_order_release);
			return e;
		}
		atomic_fetch_add_explicit(&g_np.dropped, 1, memory_order_relaxed);
		return NULL;
	}
	if (d->type != NCCL_PROFILE_KERNEL_CH && d->type != NCCL_PROFILE_PROXY_OP)
		return NULL;
	if (d->type == NCCL_PROFILE_PROXY_OP && d->pid != g_np.owner_pid) {
		/* PXN: another process's proxy; its parent pointer is not ours to read. */
		atomic_fetch_add_explicit(&g_np.foreign, 1, memory_order_relaxed);
		return NULL;
	}
	struct np_event *p = d->parent;
	if (!p || p->tag != NP_TAG_EVENT || p->comm != c || atomic_load(&p->state) != SLOT_ACTIVE) {
		atomic_fetch_add_explicit(&g_np.late, 1, memory_order_relaxed);
		return NULL;
	}
	/* Announced channels were paid for at the start; others take a reference now. */
	if (d->type == NCCL_PROFILE_KERNEL_CH &&
	    !atomic_load_explicit(&c->kernels_seen, memory_order_relaxed))
		atomic_store_explicit(&c->kernels_seen, 1, memory_order_relaxed);
	bool paid = d->type == NCCL_PROFILE_KERNEL_CH && atomic_fetch_sub(&p->prepaid, 1) > 0;
	if (!paid && !ref_if_live(&p->refs)) {
		atomic_fetch_add_explicit(&g_np.late, 1, memory_order_relaxed);
		return NULL;
	}
	for (int t = 0; t < NP_TRIES; t++) {
		uint32_t i = atomic_fetch_add_explicit(&c->next_child, 1, memory_order_relaxed) %
		             NP_CHILDREN;
		struct np_child *ch = &c->ch[i];
		uint32_t want = 0;
		if (!atomic_compare_exchange_strong(&ch->busy, &want, 1))
			continue;
		ch->tag = d->type == NCCL_PROFILE_KERNEL_CH ? NP_TAG_KERNEL : NP_TAG_PROXY;
		ch->parent = p;
		ch->parent_gen = atomic_load(&p->gen);
		ch->gpu_start = d->ptimer;
		ch->gpu_stop = 0;
		/* A channel with GPU timers needs no host clock (a clock read costs 20 ns on
		 * bare metal, 200 ns on a loaded VM's kvm-clock). */
		ch->cpu_start = d->ptimer ? 0 : now_ns();
		return ch;
	}
	atomic_fetch_add_explicit(&g_np.dropped, 1, memory_order_relaxed);
	unref(p); /* the reference this channel held; the collective times without it */
	return NULL;
}

static ncclResult_t np_stop(void *h)
{
	if (!h)
		return NCCL_OK;
	uint8_t tag = *(uint8_t *)h;
	if (tag == NP_TAG_EVENT) {
		struct np_event *e = h;
		atomic_store(&e->t_enq, now_ns());
		unref(e);
		return NCCL_OK;
	}
	if (tag != NP_TAG_KERNEL && tag != NP_TAG_PROXY)
		return NCCL_OK;
	struct np_child *ch = h;
	struct np_event *p = ch->parent;
	if (atomic_load(&p->gen) == ch->parent_gen && atomic_load(&p->state) == SLOT_ACTIVE) {
		if (ch->gpu_start && ch->gpu_stop > ch->gpu_start) {
			atomic_min64(&p->gpu_min, ch->gpu_start);
			atomic_max64(&p->gpu_max, ch->gpu_stop);
		} else {
			if (!ch->cpu_start) /* a GPU start without its stop: the host's view */
				ch->cpu_start = now_ns();
			atomic_min64(&p->cpu_min, ch->cpu_start);
			atomic_max64(&p->cpu_max, now_ns());
		}
		atomic_fetch_add_explicit(tag == NP_TAG_KERNEL ? &p->kernels : &p->proxies, 1,
		                          memory_order_relaxed);
		unref(p);
	} else {
		atomic_fetch_add_explicit(&g_np.late, 1, memory_order_relaxed);
	}
	atomic_store(&ch->busy, 0);
	return NCCL_OK;
}

static ncclResult_t np_record_v4(void *h, int state, void *args)
{
	if (h && args && state == NCCL_STATE_KERNEL_CH_STOP && *(uint8_t *)h == NP_TAG_KERNEL)
		((struct np_child *)h)->gpu_stop =
		    ((union nccl_state_args_v4 *)args)->kernelCh.pTimer;
	return NCCL_OK;
}

static ncclResult_t np_record_v1(void *h, int state, void *args)
{
	(void)h, (void)state, (void)args; /* no GPU timer before v4 */
	return NCCL_OK;
}

/* ---- descriptors: one reader per layout (nccl_descr.c) ---- */

#define START_VN(v)                                                      \
	static ncclResult_t start_v##v(void *ctx, void **h, void *descr) \
	{                                                                \
		struct nccl_descr d;                                     \
		nccl_descr_read_v##v(descr, &d);                         \
		*h = ctx ? start_event(ctx, &d) : NULL;                  \
		return NCCL_OK;                                          \
	}
START_VN(1)
START_VN(2)
START_VN(3)
START_VN(4)
START_VN(5)

/* ---- the reporter (our thread) ---- */

struct emit_target {
	int fd; /* the run file, or -1 */
};

static void emit_line(const char *line, size_t len, void *arg)
{
	const struct emit_target *t = arg;
	emit_sock_queue(&g_np.sock, line, len);
	if (t->fd >= 0) {
		ssize_t w = write(t->fd, line, len); /* O_APPEND: one write, one line */
		(void)w;
	}
}

/* Folds what the queue holds and what the sweep finds; lock held. */
static void drain_locked(bool sweep_all)
{
	uint64_t now = now_ns();
	for (unsigned i = 0; i < g_np.agg.ncomm; i++) {
		struct np_comm *c = g_np.comms[i];
		for (unsigned k = 0; c && k < NP_EVENTS; k++) {
			struct np_event *e = &c->ev[k];
			uint64_t enq = atomic_load(&e->t_enq);
			if (atomic_load(&e->state) == SLOT_ACTIVE &&
			    (sweep_all || (enq && now - enq > g_np.sweep_ns)))
				finish(e, true);
		}
	}
	struct nccl_done d;
	while (nccl_queue_pop(&g_np.queue, &d))
		nccl_agg_add(&g_np.agg, &d);
	for (unsigned i = 0; i < g_np.agg.ncomm; i++)
		if (g_np.comms[i])
			g_np.agg.comm[i].info.hash = atomic_load(&g_np.comms[i]->hash);
	g_np.agg.dropped = atomic_load(&g_np.dropped);
	g_np.agg.foreign_proxy = atomic_load(&g_np.foreign);
	g_np.agg.late_children = atomic_load(&g_np.late);
	g_np.agg.swept = atomic_load(&g_np.swept);
}

static void report_locked(bool final)
{
	nccl_agg_window(&g_np.agg, now_ns());
	struct emit_target t = {.fd = -1};
	const char *dir = getenv("GPUSCOPE_INJECT_DIR");
	if (final && dir && dir[0]) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/nccl-%d.jsonl", dir, g_np.owner_pid);
		t.fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	}
	struct nccl_line_meta m = {
	    .pid = g_np.owner_pid, .process = g_np.process, .final = final ? "true" : "false"};
	nccl_agg_format(&g_np.agg, &m, emit_line, &t);
	emit_sock_flush(&g_np.sock);
	if (t.fd >= 0)
		close(t.fd);
}

static void *reporter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&g_np.lock);
	uint64_t next_report = now_ns() + (uint64_t)g_np.interval_ms * 1000000ull;
	while (!g_np.stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += NP_DRAIN_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g_np.wake, &g_np.lock, &ts);
		if (g_np.stop)
			break;
		drain_locked(false);
		uint64_t now = now_ns();
		if (now >= next_report) {
			report_locked(false);
			next_report = now + (uint64_t)g_np.interval_ms * 1000000ull;
		}
	}
	pthread_mutex_unlock(&g_np.lock);
	return NULL;
}

/* The last figures: every collective still open is taken as it stands.  Lock held; the
 * reporter thread is joined first (the lock is dropped for that). */
static void final_report_locked(void)
{
	if (!g_np.started)
		return;
	if (g_np.thread_on) {
		g_np.stop = true;
		pthread_cond_signal(&g_np.wake);
		pthread_mutex_unlock(&g_np.lock);
		pthread_join(g_np.thread, NULL);
		pthread_mutex_lock(&g_np.lock);
		g_np.thread_on = false;
	}
	drain_locked(true);
	report_locked(true);
	emit_sock_close(&g_np.sock);
	g_np.started = false;
	/* Finalized communicators get no more events: their slots go (NCCL may dlclose us,
	 * and would reload a fresh copy); their figures stay in agg. */
	for (unsigned i = 0; g_np.live == 0 && i < g_np.agg.ncomm; i++) {
		free(g_np.comms[i]);
		g_np.comms[i] = NULL;
	}
}

static void at_exit(void)
{
	pthread_mutex_lock(&g_np.lock);
	if (g_np.owner_pid == getpid())
		final_report_locked();
	pthread_mutex_unlock(&g_np.lock);
}

static void agent_socket(char *out, size_t cap)
{
	const char *env = getenv("GPUSCOPE_AGENT_SOCKET");
	out[0] = '\0';
	if (env) {
		if (strcmp(env, "none") != 0)
			snprintf(out, cap, "%s", env);
		return;
	}
	/* Not under `gpuscope run` (a server given NCCL_PROFILER_PLUGIN): the agent's
	 * default paths, as `gpuscope run` looks for them (inference/socket.c). */
	char cand[3][256];
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	snprintf(cand[0], sizeof(cand[0]), "%s/gpuscope-inference.sock", xdg ? xdg : "");
	snprintf(cand[1], sizeof(cand[1]), "/run/gpuscope/inference.sock");
	snprintf(cand[2], sizeof(cand[2]), "/tmp/gpuscope-%u-inference.sock", (unsigned)geteuid());
	for (int i = xdg && xdg[0] ? 0 : 1; i < 3; i++) {
		struct stat st;
		if (stat(cand[i], &st) == 0 && S_ISSOCK(st.st_mode)) {
			snprintf(out, cap, "%s", cand[i]);
			return;
		}
	}
}

static unsigned env_uint(const char *name, unsigned def, unsigned lo, unsigned hi)
{
	const char *v = getenv(name);
	char *end;
	if (!v || !v[0])
		return def;
	unsigned long x = strtoul(v, &end, 0);
	return *end || x < lo || x > hi ? def : (unsigned)x;
}

/* First use in this process: figures, socket, thread.  Lock held. */
static void start_locked(void)
{
	static bool registered;
	if (g_np.started)
		return;
	if (g_np.owner_pid != getpid()) { /* first ever, or a forked child: start afresh */
		g_np.owner_pid = getpid();
		g_np.agg.ncomm = 0;
		for (int i = 0; i < NCCL_AGG_COMMS_MAX; i++)
			g_np.comms[i] = NULL; /* a parent's are not ours to free or report */
		nccl_agg_init(&g_np.agg, now_ns());
		nccl_queue_init(&g_np.queue);
		char comm[32] = "";
		int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t n = read(fd, comm, sizeof(comm) - 1);
			close(fd);
			if (n > 0 && comm[n - 1] == '\n')
				n--;
			comm[n > 0 ? n : 0] = '\0';
		}
		emit_json_escape(comm, g_np.process, sizeof(g_np.process));
	}
	g_np.interval_ms = env_uint("GPUSCOPE_NCCL_INTERVAL_MS", NP_INTERVAL_MS, 50, 3600000);
	g_np.max_comms =
	    (int)env_uint("GPUSCOPE_NCCL_MAX_COMMS", NCCL_AGG_COMMS_MAX, 1, NCCL_AGG_COMMS_MAX);
	char path[256];
	agent_socket(path, sizeof(path));
	emit_sock_open(&g_np.sock, path);
	g_np.stop = false;
	g_np.thread_on = pthread_create(&g_np.thread, NULL, reporter, NULL) == 0;
	g_np.started = true;
	if (!registered) {
		atexit(at_exit);
		registered = true;
	}
}

static int default_mask(int abi)
{
	const char *env = getenv("GPUSCOPE_NCCL_EVENT_MASK");
	char *end;
	if (env && env[0]) {
		long m = strtol(env, &end, 0);
		if (!*end && m >= 0)
			return (int)m;
	}
	return NCCL_PROFILE_COLL | NCCL_PROFILE_P2P | (abi >= 3 ? NCCL_PROFILE_KERNEL_CH : 0);
}

static ncclResult_t comm_init(void **ctx, int *mask, int abi, const char *name, uint64_t hash,
                              int nnodes, int nranks, int rank)
{
	*ctx = NULL;
	pthread_mutex_lock(&g_np.lock);
	start_locked();
	ncclResult_t rc = NCCL_INTERNAL_ERROR;
	if ((int)g_np.agg.ncomm >= g_np.max_comms)
		goto out; /* NCCL then runs this communicator without us */
	struct np_comm *c = calloc(1, sizeof(*c));
	if (!c)
		goto out;
	unsigned i = g_np.agg.ncomm++;
	c->index = i;
	c->abi = abi;
	c->nranks = nranks;
	atomic_store(&c->hash, hash);
	*mask = default_mask(abi);
	c->kernel_events = abi >= 3 && (*mask & NCCL_PROFILE_KERNEL_CH);
	g_np.comms[i] = c;
	struct nccl_comm_info *info = &g_np.agg.comm[i].info;
	memset(&g_np.agg.comm[i], 0, sizeof(g_np.agg.comm[i]));
	info->hash = hash;
	snprintf(info->name, sizeof(info->name), "%s", name ? name : "");
	info->rank = rank;
	info->nranks = nranks;
	info->nnodes = nnodes;
	info->abi = abi;
	g_np.live++;
	*ctx = c;
	rc = NCCL_OK;
out:
	if (rc != NCCL_OK && g_np.live == 0)
		final_report_locked(); /* nothing else will stop the thread before a dlclose */
	pthread_mutex_unlock(&g_np.lock);
	return rc;
}

static ncclResult_t np_finalize(void *ctx)
{
	struct np_comm *c = ctx;
	if (!c)
		return NCCL_OK;
	pthread_mutex_lock(&g_np.lock);
	if (c->index < g_np.agg.ncomm && g_np.comms[c->index] == c) {
		g_np.agg.comm[c->index].info.finalized = true;
		if (--g_np.live == 0)
			final_report_locked(); /* NCCL may dlclose us next */
	}
	pthread_mutex_unlock(&g_np.lock);
	return NCCL_OK;
}

/* ---- init, one per argument order ---- */

static ncclResult_t init_v1(void **ctx, int *mask)
{
	return comm_init(ctx, mask, 1, "", 0, 0, 0, -1);
}

static ncclResult_t init_v2(void **ctx, int *mask)
{
	return comm_init(ctx, mask, 2, "", 0, 0, 0, -1);
}

static ncclResult_t init_v3(void **ctx, int *mask)
{
	return comm_init(ctx, mask, 3, "", 0, 0, 0, -1);
}

static ncclResult_t init_v4(void **ctx, int *mask, const char *name, uint64_t hash, int nnodes,
                            int nranks, int rank, ncclDebugLogger_t log)
{
	(void)log;
	return comm_init(ctx, mask, 4, name, hash, nnodes, nranks, rank);
}

static ncclResult_t init_v5(void **ctx, uint64_t id, int *mask, const char *name, int nnodes,
                            int nranks, int rank, ncclDebugLogger_t log)
{
	(void)log;
	return comm_init(ctx, mask, 5, name, id, nnodes, nranks, rank);
}

static ncclResult_t init_v6(void **ctx, uint64_t id, int *mask, const char *name, int nnodes,
                            int nranks, int rank, ncclDebugLogger_t log)
{
	(void)log;
	return comm_init(ctx, mask, 6, name, id, nnodes, nranks, rank);
}

#define NP_NAME "gpuscope"
NP_EXPORT const struct nccl_profiler_v5 ncclProfiler_v6 = {NP_NAME, init_v6,      start_v5,
                                                           np_stop, np_record_v4, np_finalize};
NP_EXPORT const struct nccl_profiler_v5 ncclProfiler_v5 = {NP_NAME, init_v5,      start_v5,
                                                           np_stop, np_record_v4, np_finalize};
NP_EXPORT const struct nccl_profiler_v4 ncclProfiler_v4 = {NP_NAME, init_v4,      start_v4,
                                                           np_stop, np_record_v4, np_finalize};
NP_EXPORT const struct nccl_profiler_v1 ncclProfiler_v3 = {NP_NAME, init_v3,      start_v3,
                                                           np_stop, np_record_v1, np_finalize};
NP_EXPORT const struct nccl_profiler_v1 ncclProfiler_v2 = {NP_NAME, init_v2,      start_v2,
                                                           np_stop, np_record_v1, np_finalize};
NP_EXPORT const struct nccl_profiler_v1 ncclProfiler_v1 = {NP_NAME, init_v1,      start_v1,
                                                           np_stop, np_record_v1, np_finalize};
