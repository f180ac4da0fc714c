/* stats.h - NaN-aware window statistics for the diagnosis engine.
 *
 * Every function skips NaN samples (absent is not zero) and says so when
 * nothing was left: means, extremes and fits come back NaN, counts as 0.
 * A NULL array is treated as all absent, so callers can pass a signal
 * pointer straight from analyze_gpu_series without checking it first.
 */
#ifndef GPUSCOPE_ANALYZE_STATS_H
#define GPUSCOPE_ANALYZE_STATS_H

#include <stdbool.h>
#include <stddef.h>

size_t analyze_valid_count(const double *x, size_t n);
double analyze_mean(const double *x, size_t n);
double analyze_max(const double *x, size_t n);
double analyze_min(const double *x, size_t n);

/* Index of the last valid sample, or n when there is none. */
size_t analyze_last_valid(const double *x, size_t n);

/* Increase of a cumulative counter over the window: the sum of rises
 * between consecutive valid samples; after a drop (a reset) the new value
 * counts as the rise, as Prometheus' increase() does.  NaN with fewer than
 * two valid samples. */
double analyze_counter_increase(const double *x, size_t n);

/* Least-squares line y = intercept + slope * t over the valid samples,
 * t_i = t0 + i * step.  r2 is the coefficient of determination (1 when y is
 * constant: a flat line explains it fully).  Returns false, leaving the fit
 * NaN, with fewer than two valid samples. */
struct analyze_fit {
	double slope;     /* y units per second */
	double intercept; /* y at t = 0 */
	double r2;
	size_t points;
};
bool analyze_least_squares(double t0, double step, const double *y, size_t n,
                           struct analyze_fit *fit);

#endif
