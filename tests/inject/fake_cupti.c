/* fake_cupti.c - a libcupti stand-in for machines without a GPU.
 *
 * It exports the CUPTI subset libgpuscope-inject.so looks up (inject/cupti_abi.h) and, instead
 * of watching a GPU, plays a script of activity (fake_cupti_play) into the buffers the
 * injection library registered: records laid out at CUPTI's offsets, in the record version the
 * environment asks for (FAKE_CUPTI_KERNEL_SIZE 144 = Kernel4 ... 216 = Kernel10;
 * FAKE_CUPTI_MEMCPY_SIZE; FAKE_CUPTI_MEMORY_SIZE), so tests check the real decoder and
 * segmenter end to end.
 *
 * Script lines (times in microseconds from an arbitrary origin):
 *   kernel START DUR [DEVICE]        h2d|d2h|d2d START DUR BYTES [pageable|pinned]
 *   memset START DUR BYTES           alloc|free TS BYTES
 *   push ID TS NAME                  pop ID TS
 *   now TS      (the clock CUPTI reports from cuptiGetTimestamp)
 *   flush       (hand the filled buffer back, as CUPTI's thread does)
 * Other knobs: FAKE_CUPTI_SUBSCRIBE=39 (another profiler holds CUPTI),
 * FAKE_CUPTI_DROPPED=N (records CUPTI reports as dropped).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inject/cupti_abi.h"

#define EXPORT __attribute__((visibility("default")))

/* The prototypes come from the same X-macro the injection library dlsyms by. */
#define X(name, ret, args, req) EXPORT ret name args;
CUPTI_SYMBOLS(X)
#undef X

static CUpti_BuffersCallbackRequestFunc g_req;
static CUpti_BuffersCallbackCompleteFunc g_done;
static uint8_t *g_buf;
static size_t g_size, g_used;
static uint64_t g_now;
static int g_enabled[64];
static char g_names[256][64];
static unsigned g_nnames;

static size_t env_size(const char *name, size_t def)
{
	const char *v = getenv(name);
	return v && v[0] ? (size_t)strtoul(v, NULL, 10) : def;
}

static size_t size_of(uint32_t kind)
{
	switch (kind) {
	case CUPTI_KIND_CONCURRENT_KERNEL:
		return env_size("FAKE_CUPTI_KERNEL_SIZE", 144);
	case CUPTI_KIND_MEMCPY:
		return env_size("FAKE_CUPTI_MEMCPY_SIZE", 64);
	case CUPTI_KIND_MEMSET:
		return 48;
	case CUPTI_KIND_MARKER:
		return 56;
	case CUPTI_KIND_MEMORY2:
		return env_size("FAKE_CUPTI_MEMORY_SIZE", 112);
	}
	return 8;
}

EXPORT CUptiResult cuptiSubscribe(CUpti_SubscriberHandle *h, CUpti_CallbackFunc f, void *u)
{
	(void)f, (void)u;
	const char *v = getenv("FAKE_CUPTI_SUBSCRIBE");
	if (v && v[0])
		return atoi(v);
	*h = (void *)1;
	return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiUnsubscribe(CUpti_SubscriberHandle h)
{
	(void)h;
	return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiActivityRegisterCallbacks(CUpti_BuffersCallbackRequestFunc req,
                                                  CUpti_BuffersCallbackCompleteFunc done)
{
	g_req = req;
	g_done = done;
	return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiActivityEnable(int kind)
{
	if (kind == 3) {
		fprintf(stderr, "fake_cupti: KIND_KERNEL enabled: it would serialize kernels\n");
		abort();
	}
	if (kind >= 0 && kind < 64)
		g_enabled[kind] = 1;
	return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiActivityDisable(int kind)
{
	if (kind >= 0 && kind < 64)
		g_enabled[kind] = 0;
	return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiActivityGetNextRecord(uint8_t *buf, size_t valid, void **rec)
{
	uint8_t *next = *rec ? (uint8_t *)*rec + size_of(*(uint32_t *)*rec) : buf;
	if (next >= buf + valid)
		return CUPTI_ERROR_MAX_LIMIT_REACHED;
	*rec = next;
	return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiActivityGetNumDroppedRecords(CUcontext_opaque c, uint32_t s, size_t *n)
{
	(void)c, (void)s;
	static int reported;
	*n = reported++ ? 0 : env_size("FAKE_CUPTI_DROPPED", 0);
	return CUPTI_SUCCESS;
}

static void flush(void)
{
	if (!g_buf || !g_done)
		return;
	uint8_t *b = g_buf;
	size_t size = g_size, used = g_used;
	g_buf = NULL;
	g_used = 0;
	g_done(NULL, 0, b, size, used);
}

EXPORT CUptiResult cuptiActivityFlushAll(uint32_t flag)
{
	(void)flag;
	flush();
	return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiActivityFlushPeriod(uint32_t ms)
{
	(void)ms;
	return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiGetTimestamp(uint64_t *t)
{
	*t = g_now;
	return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiGetResultString(CUptiResult r, const char **s)
{
	*s = r == 39 ? "CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED" : "CUPTI_ERROR_UNKNOWN";
	return CUPTI_SUCCESS;
}

/* Room for one record of kind; a full buffer is handed back first. */
static uint8_t *record(uint32_t kind)
{
	size_t n = size_of(kind);
	if (g_buf && g_used + n > g_size)
		flush();
	if (!g_buf) {
		size_t max;
		g_req(&g_buf, &g_size, &max);
		g_used = 0;
	}
	uint8_t *r = g_buf + g_used;
	memset(r, 0xA5, n); /* fields we do not set are garbage, as they would be to us */
	memcpy(r, &kind, 4);
	g_used += n;
	return r;
}

static void put32(uint8_t *r, size_t off, uint32_t v)
{
	memcpy(r + off, &v, 4);
}

static void put64(uint8_t *r, size_t off, uint64_t v)
{
	memcpy(r + off, &v, 8);
}

static void putptr(uint8_t *r, size_t off, const char *p)
{
	memcpy(r + off, &p, sizeof(p));
}

static void bump(uint64_t t)
{
	if (t > g_now)
		g_now = t;
}

static void play_line(char *line)
{
	char what[16], name[64] = "", mode[16] = "pinned";
	unsigned long long a = 0, b = 0, c = 0;
	int n = sscanf(line, "%15s %llu %llu %llu %15s", what, &a, &b, &c, mode);
	if (n < 1 || what[0] == '#')
		return;
	uint64_t t0 = a * 1000, t1 = (a + b) * 1000;
	if (!strcmp(what, "kernel")) {
		uint8_t *r = record(CUPTI_KIND_CONCURRENT_KERNEL);
		put64(r, CUPTI_KERNEL_START, t0);
		put64(r, CUPTI_KERNEL_END, t1);
		put32(r, CUPTI_KERNEL_DEVICE, n >= 4 ? (uint32_t)c : 0);
		putptr(r, CUPTI_KERNEL_NAME, "fake_kernel");
		bump(t1);
	} else if (!strcmp(what, "h2d") || !strcmp(what, "d2h") || !strcmp(what, "d2d")) {
		uint8_t *r = record(CUPTI_KIND_MEMCPY);
		uint8_t pageable = strcmp(mode, "pageable") == 0;
		r[CUPTI_MEMCPY_COPYKIND] = what[1] == '2' && what[0] == 'h' ? CUPTI_COPY_HTOD
		                           : what[2] == 'h'                 ? CUPTI_COPY_DTOH
		                                                            : 8;
		r[CUPTI_MEMCPY_SRCKIND] = what[0] == 'h' ? (pageable ? 1 : 2) : 3;
		r[CUPTI_MEMCPY_DSTKIND] = what[2] == 'h' ? (pageable ? 1 : 2) : 3;
		put64(r, CUPTI_MEMCPY_BYTES, c);
		put64(r, CUPTI_MEMCPY_START, t0);
		put64(r, CUPTI_MEMCPY_END, t1);
		put32(r, CUPTI_MEMCPY_DEVICE, 0);
		bump(t1);
	} else if (!strcmp(what, "memset")) {
		uint8_t *r = record(CUPTI_KIND_MEMSET);
		put64(r, CUPTI_MEMSET_BYTES, c);
		put64(r, CUPTI_MEMSET_START, t0);
		put64(r, CUPTI_MEMSET_END, t1);
		put32(r, CUPTI_MEMSET_DEVICE, 0);
		bump(t1);
	} else if (!strcmp(what, "alloc") || !strcmp(what, "free")) {
		uint8_t *r = record(CUPTI_KIND_MEMORY2);
		put32(r, CUPTI_MEMORY_OPTYPE,
		      what[0] == 'a' ? CUPTI_MEMOP_ALLOCATION : CUPTI_MEMOP_RELEASE);
		put32(r, CUPTI_MEMORY_MEMKIND, CUPTI_MEMKIND_DEVICE);
		put64(r, CUPTI_MEMORY_BYTES, b);
		put64(r, CUPTI_MEMORY_TIMESTAMP, t0);
		put32(r, CUPTI_MEMORY_DEVICE, 0);
		bump(t0);
	} else if (!strcmp(what, "push") || !strcmp(what, "pop")) {
		uint8_t *r = record(CUPTI_KIND_MARKER);
		bool push = what[1] == 'u';
		put32(r, CUPTI_MARKER_FLAGS, push ? CUPTI_MARKER_START : CUPTI_MARKER_END);
		put64(r, CUPTI_MARKER_TIMESTAMP, b * 1000);
		put32(r, CUPTI_MARKER_ID, (uint32_t)a);
		put32(r, CUPTI_MARKER_OBJECTID, 1);
		put32(r, CUPTI_MARKER_OBJECTID + 4, 1);
		const char *interned = NULL; /* CUPTI's names live as long as the process */
		if (push && sscanf(line, "%*s %*s %*s %63s", name) == 1) {
			for (unsigned i = 0; i < g_nnames && !interned; i++)
				if (!strcmp(g_names[i], name))
					interned = g_names[i];
			if (!interned && g_nnames < 256)
				interned = strcpy(g_names[g_nnames++], name);
		}
		putptr(r, CUPTI_MARKER_NAME, interned);
		bump(b * 1000);
	} else if (!strcmp(what, "now")) {
		g_now = a * 1000;
	} else if (!strcmp(what, "flush")) {
		flush();
	}
}

/* One script line, for programs that make their activity as they run (the overhead
 * benchmark's loop); nothing before the injection library registered its buffers. */
EXPORT void fake_cupti_line(const char *line);

void fake_cupti_line(const char *line)
{
	char copy[256];
	snprintf(copy, sizeof(copy), "%s", line);
	if (g_req)
		play_line(copy);
}

/* Called by the fake CUDA program; returns 0, or -1 when the script cannot be read. */
EXPORT int fake_cupti_play(const char *path);

int fake_cupti_play(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[256];
	while (fgets(line, sizeof(line), f))
		if (g_req)
			play_line(line);
	fclose(f);
	return 0;
}
