/* fake_nccl.c - an "NCCL" for tests: loads the profiler plugin the way NCCL does and plays
 * a script of events into it, so libgpuscope-nccl.so is tested without GPUs or NCCL.
 *
 * Like NCCL it dlopens $NCCL_PROFILER_PLUGIN and takes the newest ncclProfiler_vN it finds
 * (or the one `abi N` asks for), then calls init with that version's argument order.
 * Descriptors are laid out byte by byte at the offsets of NVIDIA's profiler_vN.h (written
 * here from those headers, independently of inject/nccl_abi.h), so a wrong layout in the
 * plugin shows as wrong figures.  Script lines (one command each; '#' starts a comment):
 *   abi N                                  use ncclProfiler_vN (before the first init)
 *   init C HASH NRANKS RANK [NAME]         communicator C (0-7); prints "init C rc= mask="
 *   coll E C FUNC COUNT DTYPE ALGO PROTO NCH   start a Coll event in slot E (0-63)
 *   p2p E C FUNC COUNT DTYPE PEER NCH      start a P2p event
 *   stop E                                 stop event E (NCCL: enqueued)
 *   kch K E CH PTIMER                      start kernel channel K, parent event E
 *   kstop K PTIMER                         KernelChStop state with PTIMER, then stop
 *   proxy K E PID                          start a ProxyOp (PID: self or a number; E: an
 *                                          event slot, or "bogus" for a foreign pointer)
 *   pstop K                                stop a ProxyOp
 *   sleep MS
 *   finalize C
 *   bench C N NCH                          N AllReduces with NCH channels each; prints the
 *                                          plugin's cost per collective in ns, less that of
 *                                          a plugin that does nothing
 * A communicator whose init failed gets no events, as NCCL does. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int (*init_v1_fn)(void **, int *);
typedef int (*init_v4_fn)(void **, int *, const char *, uint64_t, int, int, int, void *);
typedef int (*init_v5_fn)(void **, uint64_t, int *, const char *, int, int, int, void *);

struct plugin { /* the same in every version: name and five function pointers */
	const char *name;
	void *init;
	int (*start)(void *ctx, void **h, void *descr);
	int (*stop)(void *h);
	int (*record)(void *h, int state, void *args);
	int (*finalize)(void *ctx);
};

static const struct plugin *P;
static int abi;
static void *ctx[8];
static int ctx_ok[8];
static void *ev[64], *ch[256];
static int ev_comm[64];
static uint64_t hashes[8];

static void put(unsigned char *b, size_t off, const void *v, size_t n)
{
	memcpy(b + off, v, n);
}
static void put8(unsigned char *b, size_t off, uint8_t v)
{
	put(b, off, &v, 1);
}
static void put32(unsigned char *b, size_t off, int32_t v)
{
	put(b, off, &v, 4);
}
static void put64(unsigned char *b, size_t off, uint64_t v)
{
	put(b, off, &v, 8);
}
static void putp(unsigned char *b, size_t off, const void *p)
{
	put(b, off, &p, sizeof(p));
}

static void put_type(unsigned char *b, int type)
{
	if (abi >= 5)
		put64(b, 0, (uint64_t)type);
	else
		put8(b, 0, (uint8_t)type);
}

/* NCCL 2.23's enums, for v1. */
static int index_of(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	return 255;
}
static const char *const funcs_v1[] = {"Broadcast", "Reduce",   "AllGather", "ReduceScatter",
                                       "AllReduce", "SendRecv", "Send",      "Recv"};
static const char *const types_v1[] = {"ncclInt8",    "ncclUint8",   "ncclInt32",   "ncclUint32",
                                       "ncclInt64",   "ncclUint64",  "ncclFloat16", "ncclFloat32",
                                       "ncclFloat64", "ncclBfloat16"};
static const char *const algos_v1[] = {
    "TREE", "RING", "COLLNET_DIRECT", "COLLNET_CHAIN", "NVLS", "NVLS_TREE", "PAT"};
static const char *const protos_v1[] = {"LL", "LL128", "SIMPLE"};

static void *start_coll(int c, const char *func, uint64_t count, const char *dtype,
                        const char *algo, const char *proto, int nch)
{
	unsigned char b[256] = {0};
	put_type(b, 1 << 1);
	if (abi == 1) {
		putp(b, 24, "comm");
		put64(b, 32, hashes[c]);
		put8(b, 48, (uint8_t)index_of(func, funcs_v1, 8));
		put64(b, 72, count);
		put8(b, 84, (uint8_t)index_of(dtype, types_v1, 10));
		put8(b, 104, (uint8_t)nch);
		put8(b, 106, (uint8_t)index_of(algo, algos_v1, 7));
		put8(b, 107, (uint8_t)index_of(proto, protos_v1, 3));
	} else if (abi <= 3) {
		putp(b, 24, "comm");
		put64(b, 32, hashes[c]);
		putp(b, 48, func);
		put64(b, 72, count);
		putp(b, 88, dtype);
		size_t o = abi == 2 ? 104 : 96; /* v2 still has trafficBytes at 96 */
		put8(b, o, (uint8_t)nch);
		putp(b, abi == 2 ? 112 : 104, algo);
		putp(b, abi == 2 ? 120 : 112, proto);
	} else {
		putp(b, 32, func);
		put64(b, 56, count);
		putp(b, 72, dtype);
		put8(b, 80, (uint8_t)nch);
		putp(b, 88, algo);
		putp(b, 96, proto);
	}
	void *h = NULL;
	P->start(ctx[c], &h, b);
	return h;
}

static void *start_p2p(int c, const char *func, uint64_t count, const char *dtype, int peer,
                       int nch)
{
	unsigned char b[256] = {0};
	put_type(b, 1 << 2);
	if (abi == 1) {
		put64(b, 32, hashes[c]);
		put8(b, 40, (uint8_t)index_of(func, funcs_v1, 8));
		put8(b, 56, (uint8_t)index_of(dtype, types_v1, 10));
		put64(b, 64, count);
		put32(b, 72, peer);
	} else if (abi <= 3) {
		put64(b, 32, hashes[c]);
		putp(b, 40, func);
		putp(b, 56, dtype);
		put64(b, 64, count);
		put32(b, 72, peer);
	} else {
		putp(b, 24, func);
		putp(b, 40, dtype);
		put64(b, 48, count);
		put32(b, 56, peer);
		put8(b, 60, (uint8_t)nch);
	}
	void *h = NULL;
	P->start(ctx[c], &h, b);
	return h;
}

static void *start_child(int c, int type, void *parent, int chan, uint64_t ptimer, int pid)
{
	unsigned char b[256] = {0};
	put_type(b, type);
	putp(b, 8, parent);
	if (type == 1 << 3) { /* ProxyOp: pid first in every version */
		put32(b, 24, pid);
		put8(b, 28, (uint8_t)chan);
	} else {
		put8(b, 24, (uint8_t)chan);
		if (abi >= 4)
			put64(b, 32, ptimer);
	}
	void *h = NULL;
	P->start(ctx[c], &h, b);
	return h;
}

static void kernel_stop(void *h, uint64_t ptimer)
{
	unsigned char args[64] = {0};
	put64(args, 0, ptimer);
	P->record(h, 22, args);
	P->stop(h);
}

static void init(int c, uint64_t hash, int nranks, int rank, const char *name)
{
	int mask = 0, rc;
	hashes[c] = hash;
	if (abi <= 3)
		rc = ((init_v1_fn)P->init)(&ctx[c], &mask);
	else if (abi == 4)
		rc = ((init_v4_fn)P->init)(&ctx[c], &mask, name, hash, 1, nranks, rank, NULL);
	else
		rc = ((init_v5_fn)P->init)(&ctx[c], hash, &mask, name, 1, nranks, rank, NULL);
	ctx_ok[c] = rc == 0;
	printf("init %d rc=%d mask=0x%x\n", c, rc, mask);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A plugin that does nothing: the bench's baseline, so the printed cost is the plugin's own
 * and not the fake's descriptor building. */
static char null_handle;
static int null_start(void *context, void **h, void *descr)
{
	(void)context, (void)descr;
	*h = &null_handle;
	return 0;
}
static int null_stop(void *h)
{
	(void)h;
	return 0;
}
static int null_record(void *h, int state, void *args)
{
	(void)h, (void)state, (void)args;
	return 0;
}
static const struct plugin null_plugin = {"null", NULL, null_start, null_stop, null_record, NULL};

static double bench_loop(int c, long n, int nch)
{
	void *k[64];
	double t0 = now_s();
	for (long i = 0; i < n; i++) {
		void *e = start_coll(c, "AllReduce", 1 << 20, "ncclBfloat16", "RING", "LL128", nch);
		P->stop(e);
		for (int j = 0; j < nch && j < 64; j++)
			k[j] = start_child(c, 1 << 6, e, j, 1000 + (uint64_t)i * 10, 0);
		for (int j = 0; j < nch && j < 64; j++)
			kernel_stop(k[j], 2000 + (uint64_t)i * 10);
	}
	return (now_s() - t0) * 1e9 / (double)n;
}

static void bench(int c, long n, int nch)
{
	const struct plugin *real = P;
	P = &null_plugin;
	double base = bench_loop(c, n, nch);
	P = real;
	double with = bench_loop(c, n, nch);
	printf("bench %ld collectives x %d channels: %.0f ns per collective (%.0f with a plugin "
	       "that does nothing)\n",
	       n, nch, with - base, base);
}

int main(int argc, char **argv)
{
	const char *lib = getenv("NCCL_PROFILER_PLUGIN");
	if (argc < 2 || !lib || !lib[0]) {
		fprintf(stderr, "fake_nccl: NCCL_PROFILER_PLUGIN unset, or no script\n");
		return 2;
	}
	void *dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		fprintf(stderr, "fake_nccl: %s\n", dlerror());
		return 3;
	}
	FILE *f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 2;
	}
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		char cmd[32] = "";
		if (sscanf(line, "%31s", cmd) < 1 || cmd[0] == '#')
			continue;
		char rest[8][64] = {{0}};
		sscanf(line, "%*s %63s %63s %63s %63s %63s %63s %63s %63s", rest[0], rest[1],
		       rest[2], rest[3], rest[4], rest[5], rest[6], rest[7]);
		if (!strcmp(cmd, "abi")) {
			abi = atoi(rest[0]);
			continue;
		}
		if (!P) { /* first real command: pick the version, as NCCL does */
			char sym[32];
			for (int v = abi ? abi : 6; v >= (abi ? abi : 1) && !P; v--) {
				snprintf(sym, sizeof(sym), "ncclProfiler_v%d", v);
				if ((P = dlsym(dl, sym)))
					abi = v;
			}
			if (!P) {
				fprintf(stderr, "fake_nccl: no ncclProfiler_v%d in %s\n", abi, lib);
				return 4;
			}
			printf("plugin %s abi %d\n", P->name, abi);
		}
		int c = atoi(rest[1]);
		if (!strcmp(cmd, "init")) {
			init(atoi(rest[0]), strtoull(rest[1], NULL, 0), atoi(rest[2]),
			     atoi(rest[3]), rest[4]);
		} else if (!strcmp(cmd, "coll") && ctx_ok[c & 7]) {
			ev_comm[atoi(rest[0]) & 63] = c & 7;
			ev[atoi(rest[0]) & 63] =
			    start_coll(c, rest[2], strtoull(rest[3], NULL, 0), rest[4], rest[5],
			               rest[6], atoi(rest[7]));
		} else if (!strcmp(cmd, "p2p") && ctx_ok[c & 7]) {
			ev_comm[atoi(rest[0]) & 63] = c & 7;
			ev[atoi(rest[0]) & 63] = start_p2p(c, rest[2], strtoull(rest[3], NULL, 0),
			                                   rest[4], atoi(rest[5]), atoi(rest[6]));
		} else if (!strcmp(cmd, "stop")) {
			P->stop(ev[atoi(rest[0]) & 63]);
		} else if (!strcmp(cmd, "kch")) {
			void *parent = ev[atoi(rest[1]) & 63];
			ch[atoi(rest[0]) & 255] =
			    start_child(ev_comm[atoi(rest[1]) & 63], 1 << 6, parent, atoi(rest[2]),
			                strtoull(rest[3], NULL, 0), 0);
		} else if (!strcmp(cmd, "kstop")) {
			kernel_stop(ch[atoi(rest[0]) & 255], strtoull(rest[1], NULL, 0));
		} else if (!strcmp(cmd, "proxy")) {
			void *parent = !strcmp(rest[1], "bogus") ? (void *)(uintptr_t)0x10
			                                         : ev[atoi(rest[1]) & 63];
			int pid = !strcmp(rest[2], "self") ? (int)getpid() : atoi(rest[2]);
			int pc = !strcmp(rest[1], "bogus") ? 0 : ev_comm[atoi(rest[1]) & 63];
			ch[atoi(rest[0]) & 255] = start_child(pc, 1 << 3, parent, 0, 0, pid);
		} else if (!strcmp(cmd, "pstop")) {
			P->stop(ch[atoi(rest[0]) & 255]);
		} else if (!strcmp(cmd, "sleep")) {
			usleep((useconds_t)atoi(rest[0]) * 1000);
		} else if (!strcmp(cmd, "finalize")) {
			if (ctx_ok[atoi(rest[0]) & 7])
				P->finalize(ctx[atoi(rest[0]) & 7]);
		} else if (!strcmp(cmd, "bench") && ctx_ok[atoi(rest[0]) & 7]) {
			bench(atoi(rest[0]) & 7, atol(rest[1]), atoi(rest[2]));
		}
	}
	fclose(f);
	printf("fake nccl ran\n");
	fflush(stdout);
	return 0;
}
