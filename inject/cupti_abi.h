/* cupti_abi.h - our own declarations of the CUPTI subset libgpuscope-inject.so uses.
 *
 * libcupti is never needed to build: it comes from the CUDA toolkit or from a pip wheel
 * (nvidia-cuda-cupti-cuXX) at run time, in whatever version the program brought.  So, like
 * nvml/nvml_abi.h, this file declares only what we call, and the activity records are read
 * by byte offset, not through structs: the record version CUPTI writes depends on its own
 * version (Kernel4 is 144 bytes, Kernel10 216), but the fields we read sit at the same
 * offsets in all of them (CUDA 11.x-13.x headers, x86-64 and aarch64 LP64).
 *
 * The fake libcupti in tests/inject/ includes this file too, so the two agree by
 * construction; what keeps them honest against NVIDIA's ABI is that the offsets below were
 * checked against cupti_activity.h (see /work/shared/facts) and the device run in bench/.
 */
#ifndef GPUSCOPE_CUPTI_ABI_H
#define GPUSCOPE_CUPTI_ABI_H

#include <stddef.h>
#include <stdint.h>

typedef int CUptiResult;
enum {
	CUPTI_SUCCESS = 0,
	CUPTI_ERROR_MAX_LIMIT_REACHED = 12, /* GetNextRecord: no more records */
	CUPTI_ERROR_INVALID_KIND = 21,      /* GetNextRecord: truncated record */
	CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED = 39,
};

/* CUpti_ActivityKind values we enable or read. KIND_KERNEL (3) is deliberately absent:
 * it serializes every kernel of the program. */
enum {
	CUPTI_KIND_MEMCPY = 1,
	CUPTI_KIND_MEMSET = 2,
	CUPTI_KIND_CONCURRENT_KERNEL = 10,
	CUPTI_KIND_MARKER = 12,
	CUPTI_KIND_MEMORY2 = 49,
};

#define CUPTI_FLUSH_FORCED 1u

/* Marker flags (CUpti_ActivityFlag). */
#define CUPTI_MARKER_INSTANTANEOUS (1u << 0)
#define CUPTI_MARKER_START         (1u << 1)
#define CUPTI_MARKER_END           (1u << 2)

/* CUpti_ActivityMemcpyKind and CUpti_ActivityMemoryKind. */
enum { CUPTI_COPY_HTOD = 1, CUPTI_COPY_DTOH = 2 };
enum { CUPTI_MEMKIND_PAGEABLE = 1, CUPTI_MEMKIND_PINNED = 2, CUPTI_MEMKIND_DEVICE = 3 };
/* CUpti_ActivityMemoryOperationType (MEMORY2 records). */
enum { CUPTI_MEMOP_ALLOCATION = 1, CUPTI_MEMOP_RELEASE = 2 };

/* Byte offsets inside activity records.  Every record starts with uint32 kind @0. */
/* CUpti_ActivityKernel4..10 (CONCURRENT_KERNEL) */
#define CUPTI_KERNEL_START  16 /* uint64 ns */
#define CUPTI_KERNEL_END    24 /* uint64 ns */
#define CUPTI_KERNEL_DEVICE 40 /* uint32 */
#define CUPTI_KERNEL_NAME   104
#define CUPTI_KERNEL_MIN    144 /* Kernel4, the oldest record we accept */
/* CUpti_ActivityMemcpy..Memcpy6 */
#define CUPTI_MEMCPY_COPYKIND 4 /* uint8 */
#define CUPTI_MEMCPY_SRCKIND  5 /* uint8 */
#define CUPTI_MEMCPY_DSTKIND  6 /* uint8 */
#define CUPTI_MEMCPY_BYTES    8 /* uint64 */
#define CUPTI_MEMCPY_START    16
#define CUPTI_MEMCPY_END      24
#define CUPTI_MEMCPY_DEVICE   32
#define CUPTI_MEMCPY_MIN      48
/* CUpti_ActivityMemset..Memset4 */
#define CUPTI_MEMSET_BYTES  8
#define CUPTI_MEMSET_START  16
#define CUPTI_MEMSET_END    24
#define CUPTI_MEMSET_DEVICE 32
#define CUPTI_MEMSET_MIN    40
/* CUpti_ActivityMarker2 */
#define CUPTI_MARKER_FLAGS     4  /* uint32 */
#define CUPTI_MARKER_TIMESTAMP 8  /* uint64 ns */
#define CUPTI_MARKER_ID        16 /* uint32, pairs START with END */
#define CUPTI_MARKER_OBJECTID  24 /* pid, tid for thread objects */
#define CUPTI_MARKER_NAME      40 /* const char *, START records only */
#define CUPTI_MARKER_MIN       56
/* CUpti_ActivityMemory2..4 (MEMORY2) */
#define CUPTI_MEMORY_OPTYPE    4  /* uint32 */
#define CUPTI_MEMORY_MEMKIND   8  /* uint32 */
#define CUPTI_MEMORY_ADDRESS   16 /* uint64 */
#define CUPTI_MEMORY_BYTES     24 /* uint64 */
#define CUPTI_MEMORY_TIMESTAMP 32 /* uint64 ns */
#define CUPTI_MEMORY_DEVICE    52 /* uint32 */
#define CUPTI_MEMORY_MIN       80

typedef void *CUpti_SubscriberHandle;
typedef void *CUcontext_opaque;
typedef void (*CUpti_BuffersCallbackRequestFunc)(uint8_t **buffer, size_t *size,
                                                 size_t *max_records);
typedef void (*CUpti_BuffersCallbackCompleteFunc)(CUcontext_opaque ctx, uint32_t stream,
                                                  uint8_t *buffer, size_t size, size_t valid_size);
typedef void (*CUpti_CallbackFunc)(void *userdata, int domain, uint32_t cbid, const void *data);

/* X(name, return, arguments, required) - every libcupti symbol we look up. */
#define CUPTI_SYMBOLS(X)                                                                          \
	X(cuptiActivityRegisterCallbacks, CUptiResult,                                            \
	  (CUpti_BuffersCallbackRequestFunc, CUpti_BuffersCallbackCompleteFunc), 1)               \
	X(cuptiActivityEnable, CUptiResult, (int), 1)                                             \
	X(cuptiActivityDisable, CUptiResult, (int), 1)                                            \
	X(cuptiActivityGetNextRecord, CUptiResult, (uint8_t *, size_t, void **), 1)               \
	X(cuptiActivityGetNumDroppedRecords, CUptiResult, (CUcontext_opaque, uint32_t, size_t *), \
	  1)                                                                                      \
	X(cuptiActivityFlushAll, CUptiResult, (uint32_t), 1)                                      \
	X(cuptiGetTimestamp, CUptiResult, (uint64_t *), 1)                                        \
	X(cuptiSubscribe, CUptiResult, (CUpti_SubscriberHandle *, CUpti_CallbackFunc, void *), 1) \
	X(cuptiUnsubscribe, CUptiResult, (CUpti_SubscriberHandle), 1)                             \
	X(cuptiGetResultString, CUptiResult, (CUptiResult, const char **), 0)                     \
	X(cuptiActivityFlushPeriod, CUptiResult, (uint32_t), 0)

#endif
