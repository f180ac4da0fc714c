/* inference_agg.h - what a stretch of inferences adds up to: sums, counts and a mergeable
 * latency sketch.
 *
 * The agent keeps per-inference figures in its history not as events but as one aggregate
 * per 10 s interval per (GPU, process, range), so the file grows with time, not with the
 * request rate.  Everything in an aggregate merges exactly: sums add, maxima take the max,
 * and latency is a fixed log-scale histogram (16 buckets per octave from 1 us to about
 * 18 minutes) whose counts add, so p50/p95/p99 over any window of intervals are right to
 * the bucket's precision (a value is read back as its bucket's geometric middle: within
 * 2.2% of the truth).  A sparse varint encoding stores a sketch in a few dozen bytes;
 * inference_sketch_decode() is a pure function over bytes (fuzz/fuzz_inference_sketch.c).
 */
#ifndef GPUSCOPE_INFERENCE_AGG_H
#define GPUSCOPE_INFERENCE_AGG_H

#include <stddef.h>
#include <stdint.h>

#define INFERENCE_SKETCH_PER_OCTAVE 16
#define INFERENCE_SKETCH_BUCKETS    (30 * INFERENCE_SKETCH_PER_OCTAVE) /* 1 us .. 2^30 us */
/* The longest encoding: every bucket used, each index gap and count at most 10 bytes. */
#define INFERENCE_SKETCH_ENCODED_MAX (INFERENCE_SKETCH_BUCKETS * 20)

struct inference_sketch {
	uint64_t c[INFERENCE_SKETCH_BUCKETS]; /* values below 1 us land in 0, above the top in the
	                                         last */
	uint64_t n;
};

void inference_sketch_add(struct inference_sketch *s, double seconds);
void inference_sketch_merge(struct inference_sketch *dst, const struct inference_sketch *src);
/* The q-quantile (0 < q <= 1) in seconds: the middle of the bucket that holds the
 * ceil(q x n)-th smallest value; NAN when empty. */
double inference_sketch_quantile(const struct inference_sketch *s, double q);
/* Bytes written (at most INFERENCE_SKETCH_ENCODED_MAX; 0 for an empty sketch). */
size_t inference_sketch_encode(const struct inference_sketch *s, unsigned char *buf, size_t cap);
/* Fills s from an encoding.  Returns 0, or -1 (s emptied) on anything malformed: a
 * truncated varint, an index past the last bucket, a zero count, a count that overflows. */
int inference_sketch_decode(const void *buf, size_t len, struct inference_sketch *s);

/* Sums over a set of inferences.  A figure an inference did not carry (NAN) is left out
 * of its sum and its count, so means divide by the right number. */
struct inference_agg {
	uint64_t n;          /* inferences */
	uint64_t incomplete; /* cut at the program's exit, not at their end */
	double latency_sum;
	double busy_sum; /* GPU busy seconds (union of kernel intervals) */
	uint64_t busy_n;
	double energy_sum; /* joules of the whole GPU over each inference */
	uint64_t energy_n;
	double h2d_sum, d2h_sum, kernels_sum;
	uint64_t copies_n; /* inferences that carried byte and kernel counts */
	double mem_peak_max;
	struct inference_sketch latency;
};

/* One inference's figures (seconds, joules, bytes; NAN where absent). */
void inference_agg_add(struct inference_agg *a, double latency_s, double busy_s, double energy_j,
                       double h2d_bytes, double d2h_bytes, double kernels, double mem_peak,
                       int complete);
/* Energy measured after the inference was added (the agent's settled power readings). */
void inference_agg_add_energy(struct inference_agg *a, double joules);
void inference_agg_merge(struct inference_agg *dst, const struct inference_agg *src);

#endif
