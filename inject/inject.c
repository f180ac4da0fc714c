/* inject.c - libgpuscope-inject.so: per-inference telemetry from inside a CUDA program.
 *
 * The CUDA driver loads this library when CUDA_INJECTION64_PATH names it and calls
 * InitializeInjection() during cuInit.  We find a libcupti (cupti_locate.c), claim its one
 * subscriber slot, and turn on the activity kinds that do not perturb the program:
 * CONCURRENT_KERNEL (never KERNEL, which serializes kernels), MEMCPY, MEMSET, MEMORY2 and
 * MARKER (NVTX ranges reach CUPTI when NVTX_INJECTION64_PATH names the same libcupti).
 * CUPTI hands filled buffers back on its own thread; we decode them (records.c), cut
 * inferences (segment.c) and write each as a JSON line to this process's file and as a
 * datagram to the agent (emit.c).
 *
 * Rules this file keeps:
 * - Never change what the program does.  Every failure (no libcupti, another profiler holds
 *   CUPTI: error 39, a kind unsupported) is written as a status line and the program runs on
 *   untouched; InitializeInjection always returns success so CUDA carries on.
 * - Never block the program's threads: work happens on CUPTI's buffer thread; the socket is
 *   non-blocking; the only work on the program's thread is the flush at exit.
 * - Bounded memory: CUPTI buffers of INJ_BUFFER_BYTES, freed once read; pending events capped
 *   (SEG_EVENTS_MAX).  Records CUPTI dropped are counted and reported at exit.
 * - After fork() the child measures nothing (CUPTI does not follow fork); after exec() the new
 *   image is injected afresh by the driver, appending to the same per-pid file.
 *
 * Configuration is read from the environment that `gpuscope run` sets:
 *   GPUSCOPE_INJECT_DIR     directory for inject-PID.jsonl (none: no file)
 *   GPUSCOPE_RANGE          glob of NVTX range names that are inferences (default "*")
 *   GPUSCOPE_GAP_NS         idle gap that separates busy periods (default 2 ms)
 *   GPUSCOPE_CUPTI          libcupti path (else searched)
 *   GPUSCOPE_AGENT_SOCKET   the agent's datagram socket (none: not sent)
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "inject/cupti_abi.h"
#include "inject/cupti_locate.h"
#include "inject/emit.h"
#include "inject/records.h"
#include "inject/segment.h"

#define INJ_EXPORT __attribute__((visibility("default")))

#define INJ_BUFFER_BYTES (1u << 20) /* per CUPTI buffer */
#define INJ_ADVANCE_NS   250000000ull
#define INJ_FLUSH_MS     500u
/* Records older than now minus this are taken to have all arrived. */
#define INJ_HORIZON_NS (3ull * INJ_FLUSH_MS * 1000000ull)

struct cupti_fns {
#define X(name, ret, args, req) ret(*name) args;
	CUPTI_SYMBOLS(X)
#undef X
};

static struct inj {
	pthread_mutex_t lock;
	int owner_pid;      /* the process that initialised; a forked child is not it */
	atomic_bool active; /* read by CUPTI's thread without the lock */
	struct cupti_fns f;
	CUpti_SubscriberHandle sub;
	struct segmenter seg;
	struct emit_meta meta;
	struct emit_sock sock;
	int out_fd;
	uint64_t last_advance;
	uint64_t dropped_records, buffers, inferences;
	char cupti_path[1024];
} g_inj = {.lock = PTHREAD_MUTEX_INITIALIZER, .out_fd = -1};

static void write_line(const char *buf, size_t n)
{
	if (g_inj.out_fd < 0 || n == 0)
		return;
	ssize_t w = write(g_inj.out_fd, buf, n); /* O_APPEND: one write, one line */
	(void)w;
}

static void write_status(const char *state, const char *why)
{
	char w[1536], buf[2048];
	emit_json_escape(why ? why : "", w, sizeof(w));
	char path[1024 + 64];
	emit_json_escape(g_inj.cupti_path, path, sizeof(path));
	int n = snprintf(buf, sizeof(buf),
	                 "{\"type\":\"status\",\"pid\":%d,\"state\":\"%s\",\"cupti\":\"%s\","
	                 "\"why\":\"%s\"}\n",
	                 getpid(), state, path, w);
	if (n > 0 && (size_t)n < sizeof(buf))
		write_line(buf, (size_t)n);
}

static void on_inference(const struct seg_inference *inf, void *arg)
{
	(void)arg;
	char buf[4096];
	size_t n = emit_format_inference(inf, &g_inj.meta, buf, sizeof(buf));
	write_line(buf, n);
	emit_sock_queue(&g_inj.sock, buf, n);
	g_inj.inferences++;
}

static void buffer_requested(uint8_t **buffer, size_t *size, size_t *max_records)
{
	*buffer = aligned_alloc(8, INJ_BUFFER_BYTES);
	*size = *buffer ? INJ_BUFFER_BYTES : 0;
	*max_records = 0;
}

static bool owned(void)
{
	return g_inj.active && g_inj.owner_pid == getpid();
}

/* Cuts what the horizon allows (at most every INJ_ADVANCE_NS unless forced); lock held. */
static void advance_locked(bool force)
{
	uint64_t now = 0;
	if (g_inj.f.cuptiGetTimestamp(&now) != CUPTI_SUCCESS || now <= INJ_HORIZON_NS)
		return;
	if (!force && now - g_inj.last_advance < INJ_ADVANCE_NS)
		return;
	g_inj.last_advance = now;
	seg_advance(&g_inj.seg, now - INJ_HORIZON_NS, false);
	emit_sock_flush(&g_inj.sock);
}

/* Once a second, even when no buffer arrives (CUPTI hands none back while the GPU is idle),
 * so the last inference before a quiet spell reaches the agent within ~2 s. */
static void *pacer(void *arg)
{
	(void)arg;
	for (;;) {
		struct timespec ts = {1, 0};
		nanosleep(&ts, NULL);
		if (!owned())
			return NULL;
		pthread_mutex_lock(&g_inj.lock);
		if (owned())
			advance_locked(true);
		pthread_mutex_unlock(&g_inj.lock);
	}
}

static void buffer_completed(CUcontext_opaque ctx, uint32_t stream, uint8_t *buffer, size_t size,
                             size_t valid)
{
	(void)size;
	if (!owned()) {
		free(buffer);
		return;
	}
	pthread_mutex_lock(&g_inj.lock);
	void *rec = NULL;
	while (valid && g_inj.f.cuptiActivityGetNextRecord(buffer, valid, &rec) == CUPTI_SUCCESS) {
		struct rec_decoded d;
		/* CUPTI hands out whole records; the end of the valid region bounds the read. */
		size_t avail = (size_t)(buffer + valid - (uint8_t *)rec);
		switch (rec_decode(rec, avail, &d)) {
		case REC_EVENT:
			seg_add_event(&g_inj.seg, &d.ev);
			break;
		case REC_RANGE_START:
			seg_range_start(&g_inj.seg, d.range_id, d.thread, d.ts, d.name);
			break;
		case REC_RANGE_END:
			seg_range_end(&g_inj.seg, d.range_id, d.ts);
			break;
		case REC_IGNORE:
			break;
		}
	}
	size_t dropped = 0;
	if (g_inj.f.cuptiActivityGetNumDroppedRecords(ctx, stream, &dropped) == CUPTI_SUCCESS)
		g_inj.dropped_records += dropped;
	g_inj.buffers++;
	advance_locked(false);
	pthread_mutex_unlock(&g_inj.lock);
	free(buffer);
}

static void ignore_callback(void *userdata, int domain, uint32_t cbid, const void *data)
{
	(void)userdata, (void)domain, (void)cbid, (void)data;
}

static void at_exit(void)
{
	if (!owned())
		return;
	g_inj.f.cuptiActivityFlushAll(CUPTI_FLUSH_FORCED);
	pthread_mutex_lock(&g_inj.lock);
	seg_advance(&g_inj.seg, UINT64_MAX, true);
	emit_sock_flush(&g_inj.sock);
	char buf[1024];
	int n = snprintf(
	    buf, sizeof(buf),
	    "{\"type\":\"exit\",\"pid\":%d,\"inferences\":%llu,"
	    "\"dropped_records\":%llu,\"lost_events\":%llu,\"lost_ranges\":%llu,"
	    "\"buffers\":%llu,\"agent_sent\":%llu,\"agent_dropped\":%llu}\n",
	    getpid(), (unsigned long long)g_inj.inferences,
	    (unsigned long long)g_inj.dropped_records, (unsigned long long)g_inj.seg.lost_events,
	    (unsigned long long)g_inj.seg.lost_ranges, (unsigned long long)g_inj.buffers,
	    (unsigned long long)g_inj.sock.sent, (unsigned long long)g_inj.sock.dropped);
	if (n > 0 && (size_t)n < sizeof(buf))
		write_line(buf, (size_t)n);
	g_inj.active = false;
	pthread_mutex_unlock(&g_inj.lock);
}

/* After fork the child owns no CUPTI state, and the lock may be held by a thread that does
 * not exist there: the child simply stops measuring (owned() is false). */
static void after_fork_child(void)
{
	if (g_inj.out_fd >= 0)
		close(g_inj.out_fd);
	g_inj.out_fd = -1;
	emit_sock_close(&g_inj.sock);
}

static const char *result_text(CUptiResult r)
{
	const char *s = NULL;
	if (g_inj.f.cuptiGetResultString && g_inj.f.cuptiGetResultString(r, &s) == CUPTI_SUCCESS &&
	    s)
		return s;
	return "CUPTI error";
}

static void open_output(void)
{
	const char *dir = getenv("GPUSCOPE_INJECT_DIR");
	if (!dir || !dir[0])
		return;
	char path[4096];
	snprintf(path, sizeof(path), "%s/inject-%d.jsonl", dir, getpid());
	g_inj.out_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

static void read_meta(void)
{
	g_inj.meta.pid = getpid();
	const char *vis = getenv("CUDA_VISIBLE_DEVICES");
	g_inj.meta.has_visible = vis != NULL;
	snprintf(g_inj.meta.visible, sizeof(g_inj.meta.visible), "%s", vis ? vis : "");
	int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, g_inj.meta.process, sizeof(g_inj.meta.process) - 1);
		close(fd);
		if (n > 0 && g_inj.meta.process[n - 1] == '\n')
			n--;
		g_inj.meta.process[n > 0 ? n : 0] = '\0';
	}
}

static bool load_symbols(void *h, char *why, size_t cap)
{
#define X(name, ret, args, req)                                             \
	g_inj.f.name = (ret(*) args)dlsym(h, #name);                        \
	if (!g_inj.f.name && req) {                                         \
		snprintf(why, cap, "%s lacks %s", g_inj.cupti_path, #name); \
		return false;                                               \
	}
	CUPTI_SYMBOLS(X)
#undef X
	return true;
}

/* Turns CUPTI on; returns the status state and fills why. */
static const char *start_cupti(char *why, size_t cap)
{
	void *h = cupti_locate(getenv("GPUSCOPE_CUPTI"), g_inj.cupti_path, sizeof(g_inj.cupti_path),
	                       why, cap);
	if (!h)
		return "no_cupti";
	if (!load_symbols(h, why, cap))
		return "cupti_unusable";
	CUptiResult r = g_inj.f.cuptiSubscribe(&g_inj.sub, ignore_callback, NULL);
	if (r == CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED) {
		snprintf(why, cap,
		         "another profiler holds CUPTI (error 39: Nsight, torch.profiler/Kineto, "
		         "cuda-gdb); the program ran unmeasured");
		return "subscriber_taken";
	}
	if (r != CUPTI_SUCCESS) {
		snprintf(why, cap, "cuptiSubscribe: %s (%d)", result_text(r), r);
		return "cupti_error";
	}
	uint64_t t = 0;
	struct timespec ts;
	g_inj.f.cuptiGetTimestamp(&t);
	clock_gettime(CLOCK_REALTIME, &ts);
	g_inj.meta.clock_offset = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - (int64_t)t;
	r = g_inj.f.cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed);
	if (r != CUPTI_SUCCESS) {
		snprintf(why, cap, "cuptiActivityRegisterCallbacks: %s (%d)", result_text(r), r);
		g_inj.f.cuptiUnsubscribe(g_inj.sub);
		return r == CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED ? "subscriber_taken"
		                                                           : "cupti_error";
	}
	static const struct {
		int kind;
		const char *name;
		bool needed;
	} kinds[] = {
	    {CUPTI_KIND_CONCURRENT_KERNEL, "CONCURRENT_KERNEL", true},
	    {CUPTI_KIND_MEMCPY, "MEMCPY", false},
	    {CUPTI_KIND_MEMSET, "MEMSET", false},
	    {CUPTI_KIND_MEMORY2, "MEMORY2", false},
	    {CUPTI_KIND_MARKER, "MARKER", false},
	};
	why[0] = '\0';
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		r = g_inj.f.cuptiActivityEnable(kinds[i].kind);
		if (r == CUPTI_SUCCESS)
			continue;
		size_t n = strlen(why);
		snprintf(why + n, cap - n, "%s%s off: %s (%d)", n ? "; " : "", kinds[i].name,
		         result_text(r), r);
		if (kinds[i].needed) {
			for (size_t j = 0; j < i; j++)
				g_inj.f.cuptiActivityDisable(kinds[j].kind);
			g_inj.f.cuptiUnsubscribe(g_inj.sub);
			return r == CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED
			           ? "subscriber_taken"
			           : "cupti_error";
		}
	}
	if (g_inj.f.cuptiActivityFlushPeriod)
		g_inj.f.cuptiActivityFlushPeriod(INJ_FLUSH_MS);
	return "measuring";
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);
	char *end;
	if (!v || !v[0])
		return def;
	unsigned long long x = strtoull(v, &end, 10);
	return *end ? def : (uint64_t)x;
}

INJ_EXPORT int InitializeInjection(void);

int InitializeInjection(void)
{
	static atomic_int initialised;
	if (atomic_exchange(&initialised, 1))
		return 1;
	g_inj.owner_pid = getpid();
	read_meta();
	open_output();
	const char *pattern = getenv("GPUSCOPE_RANGE");
	if (seg_init(&g_inj.seg, pattern ? pattern : "*", env_u64("GPUSCOPE_GAP_NS", 2000000),
	             on_inference, NULL) != 0) {
		write_status("error", "out of memory");
		return 1;
	}
	char why[1536];
	const char *state = start_cupti(why, sizeof(why));
	write_status(state, why);
	if (strcmp(state, "measuring") != 0) {
		seg_free(&g_inj.seg);
		return 1;
	}
	emit_sock_open(&g_inj.sock, getenv("GPUSCOPE_AGENT_SOCKET"));
	g_inj.active = true;
	pthread_atfork(NULL, NULL, after_fork_child);
	atexit(at_exit);
	pthread_t t;
	if (pthread_create(&t, NULL, pacer, NULL) == 0)
		pthread_detach(t);
	return 1;
}

/* NVTX_INJECTION64_PATH names this library too, because `gpuscope run` cannot know before the
 * program starts which libcupti it will find (a pip package inside the program's Python
 * environment, say).  NVTX calls this on its first use; we hand the call on to libcupti's own
 * NVTX entry, so ranges reach CUPTI as MARKER records.  Without libcupti NVTX stays a no-op. */
typedef const void *(*nvtx_get_export_table)(uint32_t id);
INJ_EXPORT int InitializeInjectionNvtx2(nvtx_get_export_table get);

int InitializeInjectionNvtx2(nvtx_get_export_table get)
{
	char path[1024], why[1536];
	void *h = cupti_locate(getenv("GPUSCOPE_CUPTI"), path, sizeof(path), why, sizeof(why));
	int (*init)(nvtx_get_export_table) =
	    h ? (int (*)(nvtx_get_export_table))dlsym(h, "InitializeInjectionNvtx2") : NULL;
	return init ? init(get) : 0;
}
