/* inference_agg.c - mergeable per-interval inference aggregates (see inference_agg.h). */
#include "series/inference_agg.h"

#include <math.h>
#include <string.h>

static unsigned bucket_of(double seconds)
{
	double us = seconds * 1e6;
	if (!(us > 1))
		return 0;
	double i = floor(log2(us) * INFERENCE_SKETCH_PER_OCTAVE);
	return i >= INFERENCE_SKETCH_BUCKETS ? INFERENCE_SKETCH_BUCKETS - 1 : (unsigned)i;
}

void inference_sketch_add(struct inference_sketch *s, double seconds)
{
	if (!isfinite(seconds) || seconds < 0)
		return;
	s->c[bucket_of(seconds)]++;
	s->n++;
}

void inference_sketch_merge(struct inference_sketch *dst, const struct inference_sketch *src)
{
	if (!src->n)
		return;
	for (unsigned i = 0; i < INFERENCE_SKETCH_BUCKETS; i++)
		dst->c[i] += src->c[i];
	dst->n += src->n;
}

double inference_sketch_quantile(const struct inference_sketch *s, double q)
{
	if (!s->n || !(q > 0))
		return NAN;
	uint64_t rank = (uint64_t)ceil(q * (double)s->n);
	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	uint64_t seen = 0;
	for (unsigned i = 0; i < INFERENCE_SKETCH_BUCKETS; i++) {
		seen += s->c[i];
		if (seen >= rank)
			return exp2((i + 0.5) / INFERENCE_SKETCH_PER_OCTAVE) / 1e6;
	}
	return NAN; /* counts disagree with n: a corrupt sketch */
}

static size_t put_varint(unsigned char *p, uint64_t v)
{
	size_t n = 0;
	do {
		unsigned char b = v & 0x7f;
		v >>= 7;
		p[n++] = b | (v ? 0x80 : 0);
	} while (v);
	return n;
}

size_t inference_sketch_encode(const struct inference_sketch *s, unsigned char *buf, size_t cap)
{
	unsigned char tmp[20];
	size_t len = 0;
	unsigned next = 0; /* the index after the previous bucket written */
	for (unsigned i = 0; i < INFERENCE_SKETCH_BUCKETS; i++) {
		if (!s->c[i])
			continue;
		size_t k = put_varint(tmp, i - next);
		k += put_varint(tmp + k, s->c[i]);
		if (len + k > cap)
			return 0;
		memcpy(buf + len, tmp, k);
		len += k;
		next = i + 1;
	}
	return len;
}

static int get_varint(const unsigned char *p, size_t len, size_t *at, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*at >= len)
			return -1;
		unsigned char b = p[(*at)++];
		if (shift == 63 && (b & 0x7e))
			return -1;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

int inference_sketch_decode(const void *buf, size_t len, struct inference_sketch *s)
{
	const unsigned char *p = buf;
	memset(s, 0, sizeof(*s));
	size_t at = 0;
	uint64_t next = 0;
	while (at < len) {
		uint64_t gap, count;
		if (get_varint(p, len, &at, &gap) != 0 || get_varint(p, len, &at, &count) != 0 ||
		    gap >= INFERENCE_SKETCH_BUCKETS - next || count == 0 || s->n + count < s->n)
			goto bad;
		next += gap;
		s->c[next] = count;
		s->n += count;
		next++;
	}
	return 0;
bad:
	memset(s, 0, sizeof(*s));
	return -1;
}

void inference_agg_add(struct inference_agg *a, double latency_s, double busy_s, double energy_j,
                       double h2d_bytes, double d2h_bytes, double kernels, double mem_peak,
                       int complete)
{
	a->n++;
	if (!complete)
		a->incomplete++;
	if (isfinite(latency_s) && latency_s >= 0) {
		a->latency_sum += latency_s;
		inference_sketch_add(&a->latency, latency_s);
	}
	if (isfinite(busy_s) && busy_s >= 0) {
		a->busy_sum += busy_s;
		a->busy_n++;
	}
	inference_agg_add_energy(a, energy_j);
	if (isfinite(h2d_bytes) && isfinite(d2h_bytes) && isfinite(kernels)) {
		a->h2d_sum += h2d_bytes;
		a->d2h_sum += d2h_bytes;
		a->kernels_sum += kernels;
		a->copies_n++;
	}
	if (isfinite(mem_peak) && mem_peak > a->mem_peak_max)
		a->mem_peak_max = mem_peak;
}

void inference_agg_add_energy(struct inference_agg *a, double joules)
{
	if (!isfinite(joules) || joules < 0)
		return;
	a->energy_sum += joules;
	a->energy_n++;
}

void inference_agg_merge(struct inference_agg *dst, const struct inference_agg *src)
{
	dst->n += src->n;
	dst->incomplete += src->incomplete;
	dst->latency_sum += src->latency_sum;
	dst->busy_sum += src->busy_sum;
	dst->busy_n += src->busy_n;
	dst->energy_sum += src->energy_sum;
	dst->energy_n += src->energy_n;
	dst->h2d_sum += src->h2d_sum;
	dst->d2h_sum += src->d2h_sum;
	dst->kernels_sum += src->kernels_sum;
	dst->copies_n += src->copies_n;
	if (src->mem_peak_max > dst->mem_peak_max)
		dst->mem_peak_max = src->mem_peak_max;
	inference_sketch_merge(&dst->latency, &src->latency);
}
