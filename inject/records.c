/* records.c - CUPTI activity records by offset (layouts in inject/cupti_abi.h). */
#include "inject/records.h"

#include <string.h>

#include "inject/cupti_abi.h"

static uint64_t u64(const uint8_t *p, size_t off)
{
	uint64_t v;
	memcpy(&v, p + off, sizeof(v));
	return v;
}

static uint32_t u32(const uint8_t *p, size_t off)
{
	uint32_t v;
	memcpy(&v, p + off, sizeof(v));
	return v;
}

static const char *ptr(const uint8_t *p, size_t off)
{
	const char *v;
	memcpy(&v, p + off, sizeof(v));
	return v;
}

static void copy(const uint8_t *rec, struct seg_event *ev)
{
	unsigned ck = rec[CUPTI_MEMCPY_COPYKIND];
	ev->bytes = u64(rec, CUPTI_MEMCPY_BYTES);
	ev->start = u64(rec, CUPTI_MEMCPY_START);
	ev->end = u64(rec, CUPTI_MEMCPY_END);
	ev->device = (uint16_t)u32(rec, CUPTI_MEMCPY_DEVICE);
	if (ck == CUPTI_COPY_HTOD) {
		ev->kind = SEG_H2D;
		ev->pageable = rec[CUPTI_MEMCPY_SRCKIND] == CUPTI_MEMKIND_PAGEABLE;
	} else if (ck == CUPTI_COPY_DTOH) {
		ev->kind = SEG_D2H;
		ev->pageable = rec[CUPTI_MEMCPY_DSTKIND] == CUPTI_MEMKIND_PAGEABLE;
	} else {
		ev->kind = SEG_COPY_OTHER;
	}
}

enum rec_what rec_decode(const uint8_t *rec, size_t len, struct rec_decoded *out)
{
	memset(out, 0, sizeof(*out));
	if (len < 8)
		return REC_IGNORE;
	struct seg_event *ev = &out->ev;
	switch (u32(rec, 0)) {
	case CUPTI_KIND_CONCURRENT_KERNEL:
		if (len < CUPTI_KERNEL_MIN)
			return REC_IGNORE;
		ev->kind = SEG_KERNEL;
		ev->start = u64(rec, CUPTI_KERNEL_START);
		ev->end = u64(rec, CUPTI_KERNEL_END);
		ev->device = (uint16_t)u32(rec, CUPTI_KERNEL_DEVICE);
		break;
	case CUPTI_KIND_MEMCPY:
		if (len < CUPTI_MEMCPY_MIN)
			return REC_IGNORE;
		copy(rec, ev);
		break;
	case CUPTI_KIND_MEMSET:
		if (len < CUPTI_MEMSET_MIN)
			return REC_IGNORE;
		ev->kind = SEG_MEMSET;
		ev->bytes = u64(rec, CUPTI_MEMSET_BYTES);
		ev->start = u64(rec, CUPTI_MEMSET_START);
		ev->end = u64(rec, CUPTI_MEMSET_END);
		ev->device = (uint16_t)u32(rec, CUPTI_MEMSET_DEVICE);
		break;
	case CUPTI_KIND_MEMORY2: {
		if (len < CUPTI_MEMORY_MIN)
			return REC_IGNORE;
		uint32_t op = u32(rec, CUPTI_MEMORY_OPTYPE);
		/* Device memory only: pinned host buffers are not what fills a GPU. */
		if (u32(rec, CUPTI_MEMORY_MEMKIND) != CUPTI_MEMKIND_DEVICE)
			return REC_IGNORE;
		if (op != CUPTI_MEMOP_ALLOCATION && op != CUPTI_MEMOP_RELEASE)
			return REC_IGNORE;
		ev->kind = op == CUPTI_MEMOP_ALLOCATION ? SEG_ALLOC : SEG_FREE;
		ev->bytes = u64(rec, CUPTI_MEMORY_BYTES);
		ev->start = ev->end = u64(rec, CUPTI_MEMORY_TIMESTAMP);
		ev->device = (uint16_t)u32(rec, CUPTI_MEMORY_DEVICE);
		break;
	}
	case CUPTI_KIND_MARKER: {
		if (len < CUPTI_MARKER_MIN)
			return REC_IGNORE;
		uint32_t flags = u32(rec, CUPTI_MARKER_FLAGS);
		out->range_id = u32(rec, CUPTI_MARKER_ID);
		out->ts = u64(rec, CUPTI_MARKER_TIMESTAMP);
		out->thread = u32(rec, CUPTI_MARKER_OBJECTID + 4);
		if (flags & CUPTI_MARKER_START) {
			out->name = ptr(rec, CUPTI_MARKER_NAME);
			return out->what = REC_RANGE_START;
		}
		if (flags & CUPTI_MARKER_END)
			return out->what = REC_RANGE_END;
		return REC_IGNORE;
	}
	default:
		return REC_IGNORE;
	}
	return out->what = REC_EVENT;
}
