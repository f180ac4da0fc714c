/* growth.c - ring of samples and a centred least-squares fit; see growth.h.
 *
 * Centring on the means before summing keeps the fit exact for byte counts around 1e11 and
 * times around 1e9 s, where the textbook sum(x*y) - n*mx*my form loses every digit. */
#include "workload/growth.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#define MIN_FIT_SAMPLES 3

void growth_reset(struct growth_ring *ring)
{
	assert(ring);
	ring->next = 0;
	ring->count = 0;
}

void growth_push(struct growth_ring *ring, double t_s, double bytes)
{
	assert(ring && ring->next < GROWTH_RING_CAP && ring->count <= GROWTH_RING_CAP);
	if (!isfinite(t_s) || !isfinite(bytes))
		return;
	if (ring->count) {
		uint32_t newest = (ring->next + GROWTH_RING_CAP - 1) % GROWTH_RING_CAP;
		if (t_s < ring->samples[newest].t_s)
			growth_reset(ring);
	}
	ring->samples[ring->next].t_s = t_s;
	ring->samples[ring->next].bytes = bytes;
	ring->next = (ring->next + 1) % GROWTH_RING_CAP;
	if (ring->count < GROWTH_RING_CAP)
		ring->count++;
}

/* Accumulates one pass; the caller gives the means for the centred pass. */
struct sums {
	size_t n;
	double t_min, t_max, sum_t, sum_y;
	double sxx, sxy, syy;
};

static void fit_from_sums(const struct sums *s, struct growth_fit *out)
{
	memset(out, 0, sizeof(*out));
	out->samples = (uint32_t)s->n;
	if (s->n == 0)
		return;
	out->span_s = s->t_max - s->t_min;
	if (s->n < MIN_FIT_SAMPLES || !(out->span_s > 0) || !(s->sxx > 0))
		return;
	double slope = s->sxy / s->sxx;
	out->valid = true;
	out->slope_bytes_per_hour = slope * 3600.0;
	/* R^2 = explained / total variance. A flat series has no variance to explain and is
	 * fitted exactly by a flat line: call that 1. */
	if (s->syy <= 0) {
		out->r_squared = 1.0;
	} else {
		double r2 = (s->sxy * s->sxy) / (s->sxx * s->syy);
		out->r_squared = r2 < 0 ? 0 : r2 > 1 ? 1 : r2;
	}
}

void growth_fit_points(const double *t_s, const double *bytes, size_t n, struct growth_fit *out)
{
	assert(out);
	struct sums s = {0};
	for (size_t i = 0; i < n; i++) {
		if (s.n == 0 || t_s[i] < s.t_min)
			s.t_min = t_s[i];
		if (s.n == 0 || t_s[i] > s.t_max)
			s.t_max = t_s[i];
		s.sum_t += t_s[i];
		s.sum_y += bytes[i];
		s.n++;
	}
	if (n) {
		double mt = s.sum_t / (double)n, my = s.sum_y / (double)n;
		for (size_t i = 0; i < n; i++) {
			double dx = t_s[i] - mt, dy = bytes[i] - my;
			s.sxx += dx * dx;
			s.sxy += dx * dy;
			s.syy += dy * dy;
		}
	}
	fit_from_sums(&s, out);
}

void growth_fit(const struct growth_ring *ring, double since_s, struct growth_fit *out)
{
	assert(ring && out && ring->count <= GROWTH_RING_CAP);
	struct sums s = {0};
	uint32_t first = (ring->next + GROWTH_RING_CAP - ring->count) % GROWTH_RING_CAP;
	for (uint32_t k = 0; k < ring->count; k++) {
		const struct growth_sample *p = &ring->samples[(first + k) % GROWTH_RING_CAP];
		if (p->t_s < since_s)
			continue;
		if (s.n == 0)
			s.t_min = p->t_s;
		s.t_max = p->t_s; /* samples are in time order */
		s.sum_t += p->t_s;
		s.sum_y += p->bytes;
		s.n++;
	}
	if (s.n) {
		double mt = s.sum_t / (double)s.n, my = s.sum_y / (double)s.n;
		for (uint32_t k = 0; k < ring->count; k++) {
			const struct growth_sample *p =
			    &ring->samples[(first + k) % GROWTH_RING_CAP];
			if (p->t_s < since_s)
				continue;
			double dx = p->t_s - mt, dy = p->bytes - my;
			s.sxx += dx * dx;
			s.sxy += dx * dy;
			s.syy += dy * dy;
		}
	}
	fit_from_sums(&s, out);
}
