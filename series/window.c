/* window.c - the per-second ring behind scrape-window aggregates.
 *
 * Windowed metrics are packed into slots 0..n (window_slot), so a bucket is
 * sized by the ~30 windowed metrics rather than the whole table.  A bucket
 * is reused when its second comes round again; a reading for a second the
 * ring has already reused for a later one is too old and is dropped.
 */
#include "series/window.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW_MAX_METRICS 40

struct window_cell {
	double min, max, sum;
	unsigned n;
};

struct window_bucket {
	int64_t sec; /* -1: empty */
	struct window_cell cell[WINDOW_MAX_METRICS];
};

struct gpu_window {
	struct window_bucket ring[WINDOW_SECONDS];
};

static signed char slot_of[METRIC_COUNT];
static int metric_of_slot[WINDOW_MAX_METRICS];
static int slot_count;
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;

static void slots_init(void)
{
	for (int m = 0; m < METRIC_COUNT; m++) {
		slot_of[m] = -1;
		if (!metric_windowed(m))
			continue;
		assert(slot_count < WINDOW_MAX_METRICS);
		metric_of_slot[slot_count] = m;
		slot_of[m] = (signed char)slot_count++;
	}
}

struct gpu_window *window_new(void)
{
	pthread_once(&slots_once, slots_init);
	struct gpu_window *w = malloc(sizeof(*w));
	if (!w)
		return NULL;
	for (int i = 0; i < WINDOW_SECONDS; i++)
		w->ring[i].sec = -1;
	return w;
}

void window_free(struct gpu_window *w)
{
	free(w);
}

/* The bucket of second floor(t), emptied when it last held an older second; NULL when the
 * ring has reused it for a later one (a reading that old is dropped). */
static struct window_bucket *bucket_of(struct gpu_window *w, double t)
{
	int64_t sec = (int64_t)floor(t);
	struct window_bucket *b =
	    &w->ring[((sec % WINDOW_SECONDS) + WINDOW_SECONDS) % WINDOW_SECONDS];
	if (b->sec > sec)
		return NULL;
	if (b->sec < sec) {
		b->sec = sec;
		memset(b->cell, 0, sizeof(b->cell));
	}
	return b;
}

static void fold(struct window_cell *c, double value)
{
	if (c->n == 0 || value < c->min)
		c->min = value;
	if (c->n == 0 || value > c->max)
		c->max = value;
	c->sum += value;
	c->n++;
}

void window_add(struct gpu_window *w, int m, double t, double value)
{
	if (!w || slot_of[m] < 0 || !isfinite(t) || !isfinite(value))
		return;
	struct window_bucket *b = bucket_of(w, t);
	if (b)
		fold(&b->cell[slot_of[m]], value);
}

void window_add_set(struct gpu_window *w, double t, const double *raw, const metric_set *which)
{
	struct window_bucket *b = w && isfinite(t) ? bucket_of(w, t) : NULL;
	for (int k = 0; b && k < slot_count; k++) {
		int m = metric_of_slot[k];
		if (metric_set_has(which, m) && isfinite(raw[m]))
			fold(&b->cell[k], raw[m]);
	}
}

void window_aggregate(const struct gpu_window *w, int64_t from, int64_t to,
                      struct window_agg out[METRIC_COUNT])
{
	memset(out, 0, sizeof(struct window_agg) * METRIC_COUNT);
	if (!w || to < from)
		return;
	if (to - from >= WINDOW_SECONDS)
		from = to - WINDOW_SECONDS + 1;
	for (int64_t sec = from; sec <= to; sec++) {
		const struct window_bucket *b =
		    &w->ring[((sec % WINDOW_SECONDS) + WINDOW_SECONDS) % WINDOW_SECONDS];
		if (b->sec != sec)
			continue;
		for (int m = 0; m < METRIC_COUNT; m++) {
			if (slot_of[m] < 0)
				continue;
			const struct window_cell *c = &b->cell[slot_of[m]];
			if (!c->n)
				continue;
			struct window_agg *a = &out[m];
			if (a->n == 0 || c->min < a->min)
				a->min = c->min;
			if (a->n == 0 || c->max > a->max)
				a->max = c->max;
			a->sum += c->sum;
			a->n += c->n;
		}
	}
}
