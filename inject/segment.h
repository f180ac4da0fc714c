/* segment.h - cutting a stream of GPU activity into inferences, and each inference's figures.
 *
 * Pure data in, data out: no CUPTI, no I/O, so unit tests feed it known timelines.  The
 * injection library decodes CUPTI records into seg_event/ranges and calls seg_advance with a
 * horizon: the time before which it believes every record has arrived (CUPTI delivers
 * buffers late and out of order across kinds).  Events older than the horizon are folded
 * into the inference in progress (struct seg_acc) or consumed as outside any, and an
 * inference is handed to the emit callback once nothing more of it can arrive; so pending
 * events are only the newest ones, even inside a range that lasts for hours.
 *
 * What an inference is (docs/inference.md says the same for users):
 * - nvtx: an NVTX range whose name matches the pattern, outermost only (a matching range
 *   inside another is part of it).  Its GPU work is the activity that starts inside the
 *   range, plus the work it queued that runs on after the range ended: GPU work that starts
 *   within SEG_SPILL_SLACK_NS of the previous piece (asynchronous launches run back to back).
 * - gap: without ranges, a busy period of the program's GPU work (kernels, copies, memsets)
 *   that no idle stretch longer than `gap` interrupts.  The first matching range switches the
 *   segmenter to nvtx for the rest of the run.
 */
#ifndef GPUSCOPE_SEGMENT_H
#define GPUSCOPE_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum seg_kind {
	SEG_KERNEL,
	SEG_H2D,
	SEG_D2H,
	SEG_COPY_OTHER, /* device to device, peer, host to host */
	SEG_MEMSET,
	SEG_ALLOC, /* device memory allocated at start (end = start) */
	SEG_FREE,  /* device memory released */
};

struct seg_event {
	uint64_t start, end; /* ns, CUPTI clock */
	uint64_t bytes;
	uint8_t kind;     /* enum seg_kind */
	uint8_t pageable; /* copies: the host side was pageable memory */
	uint16_t device;
	uint32_t pad;
};

#define SEG_NAME_MAX 64

struct seg_range {
	uint64_t start, end; /* end 0 while open */
	uint64_t thread;
	uint32_t id;
	bool cut_short; /* the program exited inside it */
	char name[SEG_NAME_MAX];
};

/* One inference's figures (times in ns, CUPTI clock; bytes). */
struct seg_inference {
	uint64_t seq; /* 1, 2, ... per process */
	char name[SEG_NAME_MAX];
	bool nvtx;     /* boundary: NVTX range (true) or busy period (false) */
	bool complete; /* false: the program exited inside it */
	uint64_t start, end;
	uint64_t since_previous; /* start - previous inference's end; 0 for the first */
	bool has_previous;
	uint64_t gpu_busy;     /* union of kernel intervals */
	uint64_t gpu_any_busy; /* union of kernels, copies and memsets */
	uint64_t kernels, kernel_time;
	uint64_t launch_gaps, launch_gap_time; /* idle stretches between kernels */
	uint64_t h2d_bytes, h2d_time, d2h_bytes, d2h_time, pageable_bytes;
	uint64_t other_copy_bytes, memset_bytes;
	uint64_t mem_alloc, mem_freed, mem_peak, mem_held_after;
	int device; /* the device of most of the work; -1 when none */
};

typedef void (*seg_emit_fn)(const struct seg_inference *inf, void *arg);

/* Union of a kind of intervals over a start-ordered stream: busy time, and the idle
 * stretches between them. */
struct seg_unite {
	bool any;
	uint64_t s, e, busy, gaps, gap_time;
};

/* The inference being cut: events fold into it in start order as soon as they are older than
 * the horizon, so an inference that lasts minutes (a long range, a GPU never idle) holds no
 * more pending events than any other. */
struct seg_acc {
	bool active;
	struct seg_inference inf;
	struct seg_unite kern, any;
	unsigned dev_count[8];
	uint64_t last_gpu_end; /* end of its latest GPU work; 0 before any */
};

#define SEG_SPILL_SLACK_NS 100000ull /* 100 us */
#define SEG_EVENTS_MAX     262144    /* 8 MiB of pending events; past it events are counted lost */
#define SEG_RANGES_MAX     4096      /* ended ranges waiting for their GPU work */

struct segmenter {
	char pattern[128]; /* fnmatch() glob on range names; "" matches none (gap mode only) */
	uint64_t gap;      /* ns */
	bool nvtx_mode;
	struct seg_event *ev;
	size_t nev, cap;
	struct seg_range cur; /* the open matching range, when has_cur */
	bool has_cur;
	struct seg_range *done; /* ended matching ranges, by start */
	size_t ndone;
	struct seg_acc acc;
	uint64_t held; /* device memory held after everything consumed so far */
	uint64_t seq, last_end;
	uint64_t lost_events, lost_ranges;
	seg_emit_fn emit;
	void *emit_arg;
};

int seg_init(struct segmenter *s, const char *pattern, uint64_t gap_ns, seg_emit_fn emit,
             void *arg);
void seg_free(struct segmenter *s);

void seg_add_event(struct segmenter *s, const struct seg_event *e);
/* NVTX range start/end (from CUPTI marker records).  Names not matching the pattern and
 * ranges nested in an open matching range are ignored. */
void seg_range_start(struct segmenter *s, uint32_t id, uint64_t thread, uint64_t ts,
                     const char *name);
void seg_range_end(struct segmenter *s, uint32_t id, uint64_t ts);

/* Cuts every inference that ends before horizon.  At exit pass UINT64_MAX with at_exit set:
 * open ranges are then closed at the last activity and marked incomplete. */
void seg_advance(struct segmenter *s, uint64_t horizon, bool at_exit);

#endif
