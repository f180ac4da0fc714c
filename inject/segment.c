/* segment.c - inferences out of GPU activity (see segment.h for the rules).
 *
 * Pending events are kept unsorted as they arrive and sorted once per seg_advance; the
 * injection library calls it a few times a second, not per record, and only events newer
 * than the horizon stay pending, so the sort covers about 1.5 s of records.  Events are
 * consumed in start order, each exactly once: into the accumulator of the inference being
 * cut, or as outside any (memory only).
 */
#include "inject/segment.h"

#include <fnmatch.h>
#include <stdio.h>
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

static void unite_add(struct seg_unite *u, uint64_t start, uint64_t end)
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

static uint64_t unite_total(const struct seg_unite *u)
{
	return u->busy + (u->any ? u->e - u->s : 0);
}

static void acc_begin(struct segmenter *s, uint64_t start, const char *name, bool nvtx)
{
	struct seg_acc *a = &s->acc;
	memset(a, 0, sizeof(*a));
	a->active = true;
	a->inf.start = start;
	a->inf.nvtx = nvtx;
	a->inf.mem_peak = s->held;
	/* A busy period begins with GPU work: its idle gap counts from there. */
	a->last_gpu_end = nvtx ? 0 : start;
	snprintf(a->inf.name, sizeof(a->inf.name), "%s", name);
}

static void acc_add(struct segmenter *s, const struct seg_event *e)
{
	struct seg_acc *a = &s->acc;
	struct seg_inference *inf = &a->inf;
	uint64_t dur = e->end > e->start ? e->end - e->start : 0;
	if (is_gpu_work(e)) {
		unite_add(&a->any, e->start, e->end);
		if (e->end > a->last_gpu_end)
			a->last_gpu_end = e->end;
		a->dev_count[e->device & 7]++;
	}
	switch (e->kind) {
	case SEG_KERNEL:
		unite_add(&a->kern, e->start, e->end);
		inf->kernels++;
		inf->kernel_time += dur;
		break;
	case SEG_H2D:
		inf->h2d_bytes += e->bytes;
		inf->h2d_time += dur;
		inf->pageable_bytes += e->pageable ? e->bytes : 0;
		break;
	case SEG_D2H:
		inf->d2h_bytes += e->bytes;
		inf->d2h_time += dur;
		inf->pageable_bytes += e->pageable ? e->bytes : 0;
		break;
	case SEG_COPY_OTHER:
		inf->other_copy_bytes += e->bytes;
		break;
	case SEG_MEMSET:
		inf->memset_bytes += e->bytes;
		break;
	case SEG_ALLOC:
		inf->mem_alloc += e->bytes;
		apply_memory(s, e);
		break;
	case SEG_FREE:
		inf->mem_freed += e->bytes;
		apply_memory(s, e);
		break;
	}
	if (s->held > inf->mem_peak)
		inf->mem_peak = s->held;
}

/* Ends the inference at the later of end and its last GPU work, and emits it. */
static void acc_finish(struct segmenter *s, uint64_t end, bool complete)
{
	struct seg_acc *a = &s->acc;
	struct seg_inference *inf = &a->inf;
	inf->end = end > a->last_gpu_end ? end : a->last_gpu_end;
	if (inf->end < inf->start)
		inf->end = inf->start;
	inf->complete = complete;
	inf->seq = ++s->seq;
	inf->has_previous = s->seq > 1;
	inf->since_previous =
	    inf->has_previous && inf->start > s->last_end ? inf->start - s->last_end : 0;
	inf->gpu_busy = unite_total(&a->kern);
	inf->gpu_any_busy = unite_total(&a->any);
	inf->launch_gaps = a->kern.gaps;
	inf->launch_gap_time = a->kern.gap_time;
	inf->mem_held_after = s->held;
	inf->device = -1;
	unsigned best = 0;
	for (int d = 0; d < 8; d++)
		if (a->dev_count[d] > best) {
			best = a->dev_count[d];
			inf->device = d;
		}
	s->last_end = inf->end;
	a->active = false;
	if (s->emit)
		s->emit(inf, s->emit_arg);
}

/* Consumes events from index i that start before `before` as outside any inference. */
static size_t skip_until(struct segmenter *s, size_t i, uint64_t before)
{
	while (i < s->nev && s->ev[i].start < before)
		apply_memory(s, &s->ev[i++]);
	return i;
}

/* nvtx mode: the first range (ended, or the open one) takes the events before `avail` that
 * are its own; an ended range is cut once no more of its work can arrive. */
static size_t advance_ranges(struct segmenter *s, uint64_t horizon, bool at_exit)
{
	uint64_t avail = at_exit ? UINT64_MAX : horizon;
	size_t i = 0;
	for (;;) {
		const struct seg_range *r = s->ndone ? &s->done[0] : s->has_cur ? &s->cur : NULL;
		if (!r)
			return skip_until(s, i, avail);
		i = skip_until(s, i, r->start < avail ? r->start : avail);
		if (r->start >= avail)
			return i;
		if (!s->acc.active)
			acc_begin(s, r->start, r->name, true);
		bool ended = s->ndone > 0;
		uint64_t limit = !ended         ? UINT64_MAX
		                 : s->ndone > 1 ? s->done[1].start
		                 : s->has_cur   ? s->cur.start
		                                : UINT64_MAX;
		bool stopped = false;
		for (; i < s->nev && s->ev[i].start < avail; i++) {
			const struct seg_event *e = &s->ev[i];
			/* Past the range's end only the work it queued counts: GPU work running
			 * back to back with what came before, and memory events inside it. */
			if (e->start >= limit ||
			    (ended && e->start > r->end &&
			     e->start >
			         s->acc.last_gpu_end + (is_gpu_work(e) ? SEG_SPILL_SLACK_NS : 0))) {
				stopped = true;
				break;
			}
			acc_add(s, e);
		}
		if (!ended)
			return i;
		uint64_t reach = (r->end > s->acc.last_gpu_end ? r->end : s->acc.last_gpu_end) +
		                 SEG_SPILL_SLACK_NS;
		if (!at_exit && !stopped && reach >= horizon && limit > horizon)
			return i; /* its queued work may still be arriving */
		acc_finish(s, r->cut_short ? r->start : r->end, !r->cut_short);
		memmove(s->done, s->done + 1, (s->ndone - 1) * sizeof(*s->done));
		s->ndone--;
	}
}

/* gap mode: busy periods of GPU work. */
static size_t advance_gaps(struct segmenter *s, uint64_t horizon, bool at_exit)
{
	uint64_t avail = at_exit ? UINT64_MAX : horizon;
	size_t i = 0;
	for (;;) {
		if (!s->acc.active) {
			while (i < s->nev && s->ev[i].start < avail && !is_gpu_work(&s->ev[i]))
				apply_memory(s, &s->ev[i++]);
			if (i == s->nev || s->ev[i].start >= avail)
				return i;
			acc_begin(s, s->ev[i].start, "", false);
		}
		bool stopped = false;
		for (; i < s->nev && s->ev[i].start < avail; i++) {
			if (s->ev[i].start > s->acc.last_gpu_end + s->gap) {
				stopped = true;
				break;
			}
			acc_add(s, &s->ev[i]);
		}
		if (!at_exit && !stopped && s->acc.last_gpu_end + s->gap >= horizon)
			return i;
		acc_finish(s, s->acc.last_gpu_end, true);
	}
}

void seg_advance(struct segmenter *s, uint64_t horizon, bool at_exit)
{
	/* The first matching range ends busy-period cutting: finish the period in progress. */
	if (s->nvtx_mode && s->acc.active && !s->acc.inf.nvtx)
		acc_finish(s, s->acc.last_gpu_end, true);
	if (at_exit && s->has_cur) {
		/* The program exited inside an inference: everything after its start is its own,
		 * and it ends at its last GPU work. */
		s->cur.end = UINT64_MAX;
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
