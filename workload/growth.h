/* growth.h - memory growth rate: a least-squares line through recent (time, bytes) samples.
 *
 * The diagnosis flags a process whose GPU memory climbs steadily (a KV-cache or tensor leak).
 * One ring per process holds the last GROWTH_RING_CAP samples; the fit uses those inside the
 * window. The slope alone would flag a single allocation step as "growth", so the fit also
 * gives R^2: a leak is a large slope with R^2 near 1; a step is a large slope with a poor fit.
 * Fixed size, no allocation: the ring lives inside the attribution's per-process state. */
#ifndef GPUSCOPE_WORKLOAD_GROWTH_H
#define GPUSCOPE_WORKLOAD_GROWTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GROWTH_RING_CAP 64

struct growth_sample {
	double t_s; /* seconds, any monotonic origin */
	double bytes;
};

struct growth_ring {
	struct growth_sample samples[GROWTH_RING_CAP];
	uint32_t next;  /* where the next sample goes */
	uint32_t count; /* how many are held, <= GROWTH_RING_CAP */
};

struct growth_fit {
	bool valid; /* at least 3 samples spanning a positive time */
	double slope_bytes_per_hour;
	double r_squared; /* 1 for an exact line, including a flat one */
	uint32_t samples; /* how many went into the fit */
	double span_s;    /* last - first sample time */
};

void growth_reset(struct growth_ring *ring);

/* Adds a sample; the oldest is overwritten when full. Times should not go backwards; a sample
 * older than the newest held one resets the ring (a clock jump or a misuse, not data). */
void growth_push(struct growth_ring *ring, double t_s, double bytes);

/* Fits the samples with t_s >= since_s. */
void growth_fit(const struct growth_ring *ring, double since_s, struct growth_fit *out);

/* The fit over plain arrays, for callers with their own storage. */
void growth_fit_points(const double *t_s, const double *bytes, size_t n, struct growth_fit *out);

#endif
