/* nccl_abi.h - our own declarations of the NCCL profiler plugin ABI, versions 1 to 6.
 *
 * NCCL (2.23 and later) dlopens the library NCCL_PROFILER_PLUGIN names and looks for the
 * symbols ncclProfiler_v6 ... ncclProfiler_v1, newest first, each a struct of a name and five
 * function pointers.  We build without NCCL, so the layouts are written here from NVIDIA's
 * src/include/plugin/profiler/profiler_v{1..6}.h (NCCL 2.23.4 ... 2.29) and checked against
 * them field by field.  tests/inject/fake_nccl.c writes descriptors byte by byte at the
 * offsets of NVIDIA's headers, independently of these types, and the offsets that matter are
 * also pinned by the static asserts at the end (worked out from those headers for x86-64).
 *
 * What changed per version (only what we read):
 *   v1 2.23  init(ctx, mask); descriptor type uint8; coll.func/datatype/algo/proto uint8
 *            enums; coll carries name and commHash.
 *   v2 2.24  func, datatype, algo, proto become strings.
 *   v3 2.26  coll loses trafficBytes; KernelCh (1<<6) events appear (no GPU timer yet).
 *   v4 2.27  init(ctx, mask, commName, commHash, nNodes, nranks, rank, logfn); descriptors
 *            lose name/commHash; coll.nChannels; kernelCh.pTimer (GPU globaltimer, ns) at
 *            start and in the KernelChStop state's arguments.
 *   v5 2.28  init(ctx, commId, mask, commName, nNodes, nranks, rank, logfn): argument order
 *            changed; type becomes uint64; API events (1<<8 ... 1<<11); coll.parentGroup.
 *   v6 2.29  copy-engine collective events (1<<12 ... 1<<14), same init and coll layout.
 * NCCL master also has a v7; an NCCL that knows it still takes our v6.
 */
#ifndef GPUSCOPE_NCCL_ABI_H
#define GPUSCOPE_NCCL_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef int ncclResult_t; /* ncclSuccess 0 ... ncclInternalError 3 ... */
#define NCCL_OK             0
#define NCCL_INTERNAL_ERROR 3

typedef void (*ncclDebugLogger_t)(int level, unsigned long flags, const char *file, int line,
                                  const char *fmt, ...);

/* Event type bits (the activation mask and descriptor.type). */
enum {
	NCCL_PROFILE_GROUP = 1 << 0,
	NCCL_PROFILE_COLL = 1 << 1,
	NCCL_PROFILE_P2P = 1 << 2,
	NCCL_PROFILE_PROXY_OP = 1 << 3,
	NCCL_PROFILE_PROXY_STEP = 1 << 4,
	NCCL_PROFILE_PROXY_CTRL = 1 << 5,
	NCCL_PROFILE_KERNEL_CH = 1 << 6, /* v3+ */
	NCCL_PROFILE_NET_PLUGIN = 1 << 7,
	NCCL_PROFILE_GROUP_API = 1 << 8, /* v5+ */
	NCCL_PROFILE_COLL_API = 1 << 9,
	NCCL_PROFILE_P2P_API = 1 << 10,
	NCCL_PROFILE_KERNEL_LAUNCH = 1 << 11,
	NCCL_PROFILE_CE_COLL = 1 << 12, /* v6+ */
};

/* Event states (an int enum in every version); only the one we act on. */
#define NCCL_STATE_KERNEL_CH_STOP 22

/* v1 (NCCL 2.23): enums instead of strings. */
struct nccl_descr_v1 {
	uint8_t type;
	void *parentObj;
	int rank;
	union {
		struct {
			const char *name;
			uint64_t commHash;
			uint64_t seqNumber;
			uint8_t func;
			const void *sendBuff;
			void *recvBuff;
			size_t count;
			int root;
			uint8_t datatype;
			uint32_t op;
			size_t trafficBytes;
			uint8_t nMaxChannels;
			uint8_t nWarps;
			uint8_t algo;
			uint8_t proto;
			int isCollnet;
			int isNvls;
		} coll;
		struct {
			const char *name;
			uint64_t commHash;
			uint8_t func;
			void *buff;
			uint8_t datatype;
			size_t count;
			int peer;
		} p2p;
		struct {
			pid_t pid;
			uint8_t channelId;
			int peer, nSteps, chunkSize, isSend;
		} proxyOp;
	};
};

/* v2 (2.24, 2.25) and v3 (2.26) differ only in trafficBytes and the kernelCh member. */
struct nccl_descr_v2 {
	uint8_t type;
	void *parentObj;
	int rank;
	union {
		struct {
			const char *name;
			uint64_t commHash;
			uint64_t seqNumber;
			const char *func;
			const void *sendBuff;
			void *recvBuff;
			size_t count;
			int root;
			const char *datatype;
			size_t trafficBytes;
			uint8_t nMaxChannels;
			uint8_t nWarps;
			const char *algo;
			const char *proto;
		} coll;
		struct {
			const char *name;
			uint64_t commHash;
			const char *func;
			void *buff;
			const char *datatype;
			size_t count;
			int peer;
		} p2p;
		struct {
			pid_t pid;
			uint8_t channelId;
			int peer, nSteps, chunkSize, isSend;
		} proxyOp;
	};
};

struct nccl_descr_v3 {
	uint8_t type;
	void *parentObj;
	int rank;
	union {
		struct {
			const char *name;
			uint64_t commHash;
			uint64_t seqNumber;
			const char *func;
			const void *sendBuff;
			void *recvBuff;
			size_t count;
			int root;
			const char *datatype;
			uint8_t nMaxChannels;
			uint8_t nWarps;
			const char *algo;
			const char *proto;
		} coll;
		struct {
			const char *name;
			uint64_t commHash;
			const char *func;
			void *buff;
			const char *datatype;
			size_t count;
			int peer;
		} p2p;
		struct {
			pid_t pid;
			uint8_t channelId;
			int peer, nSteps, chunkSize, isSend;
		} proxyOp;
		struct {
			uint8_t channelId;
		} kernelCh;
	};
};

/* The union of v4, v5 and v6 from `coll` on is the same; only `type` widens in v5. */
#define NCCL_DESCR_V4_UNION                                                                  \
	union {                                                                              \
		struct {                                                                     \
			uint64_t seqNumber;                                                  \
			const char *func;                                                    \
			const void *sendBuff;                                                \
			void *recvBuff;                                                      \
			size_t count;                                                        \
			int root;                                                            \
			const char *datatype;                                                \
			uint8_t nChannels;                                                   \
			uint8_t nWarps;                                                      \
			const char *algo;                                                    \
			const char *proto;                                                   \
		} coll;                                                                      \
		struct {                                                                     \
			const char *func;                                                    \
			void *buff;                                                          \
			const char *datatype;                                                \
			size_t count;                                                        \
			int peer;                                                            \
			uint8_t nChannels;                                                   \
		} p2p;                                                                       \
		struct {                                                                     \
			pid_t pid;                                                           \
			uint8_t channelId;                                                   \
			int peer, nSteps, chunkSize, isSend;                                 \
		} proxyOp;                                                                   \
		struct {                                                                     \
			uint8_t channelId;                                                   \
			uint64_t pTimer;                                                     \
		} kernelCh;                                                                  \
		char pad_[88]; /* v5/v6 members we never read (API, CE events) fit within */ \
	}

struct nccl_descr_v4 {
	uint8_t type;
	void *parentObj;
	int rank;
	NCCL_DESCR_V4_UNION;
};

struct nccl_descr_v5 { /* also v6 */
	uint64_t type;
	void *parentObj;
	int rank;
	NCCL_DESCR_V4_UNION;
};

/* State arguments: v1-v3 have no member we read; v4+ carry the stop GPU timer. */
union nccl_state_args_v4 {
	struct {
		size_t transSize;
	} proxyStep;
	struct {
		uint64_t pTimer;
	} kernelCh;
};

/* The exported structs.  Descriptors are passed as void * here so that one set of functions
 * can serve each version through a thin adapter (nccl_plugin.c). */
struct nccl_profiler_v1 { /* v1, v2, v3: the same shape */
	const char *name;
	ncclResult_t (*init)(void **ctx, int *mask);
	ncclResult_t (*startEvent)(void *ctx, void **handle, void *descr);
	ncclResult_t (*stopEvent)(void *handle);
	ncclResult_t (*recordEventState)(void *handle, int state, void *args);
	ncclResult_t (*finalize)(void *ctx);
};

struct nccl_profiler_v4 {
	const char *name;
	ncclResult_t (*init)(void **ctx, int *mask, const char *commName, uint64_t commHash,
	                     int nNodes, int nranks, int rank, ncclDebugLogger_t logfn);
	ncclResult_t (*startEvent)(void *ctx, void **handle, void *descr);
	ncclResult_t (*stopEvent)(void *handle);
	ncclResult_t (*recordEventState)(void *handle, int state, void *args);
	ncclResult_t (*finalize)(void *ctx);
};

struct nccl_profiler_v5 { /* v5 and v6 */
	const char *name;
	ncclResult_t (*init)(void **ctx, uint64_t commId, int *mask, const char *commName,
	                     int nNodes, int nranks, int rank, ncclDebugLogger_t logfn);
	ncclResult_t (*startEvent)(void *ctx, void **handle, void *descr);
	ncclResult_t (*stopEvent)(void *handle);
	ncclResult_t (*recordEventState)(void *handle, int state, void *args);
	ncclResult_t (*finalize)(void *ctx);
};

/* Offsets worked out from NVIDIA's headers for x86-64 (and aarch64: same alignment). */
#if defined(__x86_64__) || defined(__aarch64__)
_Static_assert(offsetof(struct nccl_descr_v1, coll.func) == 48, "v1 coll.func");
_Static_assert(offsetof(struct nccl_descr_v1, coll.count) == 72, "v1 coll.count");
_Static_assert(offsetof(struct nccl_descr_v1, coll.datatype) == 84, "v1 coll.datatype");
_Static_assert(offsetof(struct nccl_descr_v1, coll.algo) == 106, "v1 coll.algo");
_Static_assert(offsetof(struct nccl_descr_v2, coll.algo) == 112, "v2 coll.algo");
_Static_assert(offsetof(struct nccl_descr_v3, coll.algo) == 104, "v3 coll.algo");
_Static_assert(offsetof(struct nccl_descr_v5, coll.count) == 56, "v5 coll.count");
_Static_assert(offsetof(struct nccl_descr_v5, coll.datatype) == 72, "v5 coll.datatype");
_Static_assert(offsetof(struct nccl_descr_v5, coll.nChannels) == 80, "v5 coll.nChannels");
_Static_assert(offsetof(struct nccl_descr_v5, coll.algo) == 88, "v5 coll.algo");
_Static_assert(offsetof(struct nccl_descr_v5, coll.proto) == 96, "v5 coll.proto");
_Static_assert(offsetof(struct nccl_descr_v5, kernelCh.pTimer) == 32, "v5 kernelCh.pTimer");
_Static_assert(offsetof(struct nccl_descr_v4, coll.proto) == 96, "v4 coll.proto");
_Static_assert(offsetof(struct nccl_descr_v4, p2p.nChannels) == 60, "v4 p2p.nChannels");
_Static_assert(offsetof(struct nccl_descr_v5, proxyOp.pid) == 24, "v5 proxyOp.pid");
_Static_assert(sizeof(struct nccl_profiler_v5) == 48, "plugin struct");
#endif

#endif
