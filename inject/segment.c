/* segment.c - inferences out of GPU activity (see segment.h for the rules).
 *
 * Pending events are kept unsorted as they arrive and sorted once per seg_advance; the
 * injection library calls it a few times a second, not per record, so the sort is the only
 * cost that grows with the kernel rate.  An inference's events are always one contiguous run
 * of the sorted array, which keeps the figures a single forward pass.
 */
#include "inject/segment.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

int seg_init(struct segmenter *s, const char *pattern, uint64_t gap_ns, seg_emit_fn emit, void *arg)
{
	memset(s, 0, sizeof(*s));
	if (pattern)
		strncpy(s->pattern, pattern, sizeof(s->pattern) - 1);
	s->gap = gap_ns;
	s->emit = emit;
	s->emit_arg = arg;
	s->cap = 4096;
	s->ev = malloc(s->cap * sizeof(*s->ev));
	s->done = malloc(SEG_RANGES_MAX * sizeof(*s->done));
	if (!s->ev || !s->done) {
		seg_free(s);
		return -1;
	}
	return 0;
}

void seg_free(struct segmenter *s)
{
	free(s->ev);
	free(s->done);
	s->ev = NULL;
	s->done = NULL;
	s->nev = s->cap = s->ndone = 0;
}

void seg_add_event(struct segmenter *s, const struct seg_event *e)
{
	if (s->nev == s->cap) {
		size_t ncap = s->cap * 2;
		struct seg_event *n =
		    ncap <= SEG_EVENTS_MAX ? realloc(s->ev, ncap * sizeof(*n)) : NULL;
		if (!n) {
			s->lost_events++;
			return;
		}
		s->ev = n;
		s->cap = ncap;
	}
	s->ev[s->nev++] = *e;
}

void seg_range_start(struct segmenter *s, uint32_t id, uint64_t thread, uint64_t ts,
                     const char *name)
{
	if (!s->pattern[0] || !name || fnmatch(s->pattern, name, 0) != 0)
		return;
	s->nvtx_mode = true;
	if (s->has_cur) /* nested in (or overlapping) the open inference: part of it */
		return;
	memset(&s->cur, 0, sizeof(s->cur));
	s->cur.id = id;
	s->cur.thread = thread;
	s->cur.start = ts;
	strncpy(s->cur.name, name, sizeof(s->cur.name) - 1);
	s->has_cur = true;
}

static void push_done(struct segmenter *s, const struct seg_range *r)
{
	if (s->ndone == SEG_RANGES_MAX) {
		s->lost_ranges++;
		return;
	}
	s->done[s->ndone++] = *r;
}

void seg_range_end(struct segmenter *s, uint32_t id, uint64_t ts)
{
	if (!s->has_cur || s->cur.id != id)
		return;
	s->cur.end = ts > s->cur.start ? ts : s->cur.start;
	push_done(s, &s->cur);
	s->has_cur = false;
}

static int by_start(const void *a, const void *b)
{
	const struct seg_event *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static bool is_gpu_work(const struct seg_event *e)
{
	return e->kind != SEG_ALLOC && e->kind != SEG_FREE;
}

static void apply_memory(struct segmenter *s, const struct seg_event *e)
{
	if (e->kind == SEG_ALLOC)
		s->held += e->bytes;
	else if (e->kind == SEG_FREE)
		s->held -= e->bytes < s->held ? e->bytes : s->held;
}

/* Union of a kind of intervals over a start-sorted run: busy time, and the idle stretches
 * between them (count and total). */
struct unite {
	bool any;
	uint64_t s, e, busy, gaps, gap_time;
};

static void unite_add(struct unite *u, uint64_t start, uint64_t end)
{
	if (end < start)
		end = start;
	if (!u->any) {
		u->any = true;
		u->s = start;
		u->e = end;
		return;
	}
	if (start > u->e) {
		u->busy += u->e - u->s;
		u->gaps++;
		u->gap_time += start - u->e;
		u->s = start;
		u->e = end;
	} else if (end > u->e) {
		u->e = end;
	}
}

static uint64_t unite_total(const struct unite *u)
{
	return u->busy + (u->any ? u->e - u->s : 0);
}

/* Figures of ev[a, b) as one inference over [start, end]; emits it. */
static void cut(struct segmenter *s, size_t a, size_t b, uint64_t start, uint64_t end,
                const char *name, bool nvtx, bool complete)
{
	struct seg_inference inf;
	memset(&inf, 0, sizeof(inf));
	struct unite kern = {0}, any = {0};
	unsigned dev_count[8] = {0};
	inf.mem_peak = s->held;
	for (size_t i = a; i < b; i++) {
		const struct seg_event *e = &s->ev[i];
		uint64_t dur = e->end > e->start ? e->end - e->start : 0;
		if (is_gpu_work(e)) {
			unite_add(&any, e->start, e->end);
			if (e->end > end)
				end = e->end;
			dev_count[e->device & 7]++;
		}
		switch (e->kind) {
		case SEG_KERNEL:
			unite_add(&kern, e->start, e->end);
			inf.kernels++;
			inf.kernel_time += dur;
			break;
		case SEG_H2D:
			inf.h2d_bytes += e->bytes;
			inf.h2d_time += dur;
			inf.pageable_bytes += e->pageable ? e->bytes : 0;
			break;
		case SEG_D2H:
			inf.d2h_bytes += e->bytes;
			inf.d2h_time += dur;
			inf.pageable_bytes += e->pageable ? e->bytes : 0;
			break;
		case SEG_COPY_OTHER:
			inf.other_copy_bytes += e->bytes;
			break;
		case SEG_MEMSET:
			inf.memset_bytes += e->bytes;
			break;
		case SEG_ALLOC:
			inf.mem_alloc += e->bytes;
			apply_memory(s, e);
			break;
		case SEG_FREE:
			inf.mem_freed += e->bytes;
			apply_memory(s, e);
			break;
		}
		if (s->held > inf.mem_peak)
			inf.mem_peak = s->held;
	}
	inf.seq = ++s->seq;
	strncpy(inf.name, name, sizeof(inf.name) - 1);
	inf.nvtx = nvtx;
	inf.complete = complete;
	inf.start = start;
	inf.end = end;
	inf.has_previous = s->seq > 1;
	inf.since_previous = inf.has_previous && start > s->last_end ? start - s->last_end : 0;
	inf.gpu_busy = unite_total(&kern);
	inf.gpu_any_busy = unite_total(&any);
	inf.launch_gaps = kern.gaps;
	inf.launch_gap_time = kern.gap_time;
	inf.mem_held_after = s->held;
	inf.device = -1;
	unsigned best = 0;
	for (int d = 0; d < 8; d++)
		if (dev_count[d] > best) {
			best = dev_count[d];
			inf.device = d;
		}
	s->last_end = end;
	if (s->emit)
		s->emit(&inf, s->emit_arg);
}

/* Consumes events before index i as outside any inference (memory only). */
static size_t skip_until(struct segmenter *s, size_t i, uint64_t before)
{
	while (i < s->nev && s->ev[i].start < before)
		apply_memory(s, &s->ev[i++]);
	return i;
}

/* nvtx mode: each ended range in order, while its GPU work is known to be complete. */
static size_t advance_ranges(struct segmenter *s, uint64_t horizon, bool at_exit)
{
	size_t i = 0, r = 0;
	for (; r < s->ndone; r++) {
		const struct seg_range *rg = &s->done[r];
		uint64_t limit = r + 1 < s->ndone ? s->done[r + 1].start
		                 : s->has_cur     ? s->cur.start
		                                  : UINT64_MAX;
		if (!at_exit && rg->end + SEG_SPILL_SLACK_NS >= horizon)
			break;
		size_t j = skip_until(s, i, rg->start), k = j;
		uint64_t last = 0;
		while (k < s->nev && s->ev[k].start < limit) {
			const struct seg_event *e = &s->ev[k];
			/* Past the range's end only the work it queued counts: GPU work running
			 * back to back with what came before, and memory events inside it. */
			if (e->start > rg->end &&
			    e->start > last + (is_gpu_work(e) ? SEG_SPILL_SLACK_NS : 0))
				break;
			if (is_gpu_work(e) && e->end > last)
				last = e->end;
			k++;
		}
		if (last < rg->end)
			last = rg->end;
		/* Work spilling past the range may go on past what has arrived. */
		if (!at_exit && last + SEG_SPILL_SLACK_NS >= horizon && limit > horizon)
			break;
		cut(s, j, k, rg->start, rg->end, rg->name, true, !rg->cut_short);
		i = k;
	}
	memmove(s->done, s->done + r, (s->ndone - r) * sizeof(*s->done));
	s->ndone -= r;
	uint64_t next = s->ndone ? s->done[0].start : s->has_cur ? s->cur.start : horizon;
	return skip_until(s, i, next < horizon ? next : horizon);
}

/* gap mode: busy periods of GPU work. */
static size_t advance_gaps(struct segmenter *s, uint64_t horizon, bool at_exit)
{
	size_t i = 0;
	for (;;) {
		while (i < s->nev && !is_gpu_work(&s->ev[i]))
			apply_memory(s, &s->ev[i++]);
		if (i == s->nev)
			return i;
		size_t k = i;
		uint64_t start = s->ev[i].start, last = s->ev[i].end;
		while (k < s->nev && s->ev[k].start <= last + s->gap) {
			if (is_gpu_work(&s->ev[k]) && s->ev[k].end > last)
				last = s->ev[k].end;
			k++;
		}
		if (!at_exit && last + s->gap >= horizon)
			return i;
		cut(s, i, k, start, last, "", false, true);
		i = k;
	}
}

void seg_advance(struct segmenter *s, uint64_t horizon, bool at_exit)
{
	if (at_exit && s->has_cur) {
		/* The program exited inside an inference: close it at its last GPU work. */
		uint64_t end = s->cur.start;
		for (size_t i = 0; i < s->nev; i++)
			if (s->ev[i].start >= s->cur.start && s->ev[i].end > end)
				end = s->ev[i].end;
		s->cur.end = end;
		s->cur.cut_short = true;
		push_done(s, &s->cur);
		s->has_cur = false;
	}
	qsort(s->ev, s->nev, sizeof(*s->ev), by_start);
	size_t used =
	    s->nvtx_mode ? advance_ranges(s, horizon, at_exit) : advance_gaps(s, horizon, at_exit);
	memmove(s->ev, s->ev + used, (s->nev - used) * sizeof(*s->ev));
	s->nev -= used;
}
