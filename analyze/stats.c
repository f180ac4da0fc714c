/* stats.c - NaN-aware window statistics (see stats.h).
 *
 * Windows are short (a day at 1 s is 86,400 samples), so plain loops are
 * enough; the least-squares fit centres time on its mean first so a unix
 * epoch t0 does not cost precision.
 */
#include "analyze/stats.h"

#include <assert.h>
#include <math.h>

size_t analyze_valid_count(const double *x, size_t n)
{
	size_t k = 0;
	if (!x)
		return 0;
	for (size_t i = 0; i < n; i++)
		k += !isnan(x[i]);
	return k;
}

double analyze_mean(const double *x, size_t n)
{
	double sum = 0;
	size_t k = 0;
	if (!x)
		return NAN;
	for (size_t i = 0; i < n; i++) {
		if (isnan(x[i]))
			continue;
		sum += x[i];
		k++;
	}
	return k ? sum / (double)k : NAN;
}

double analyze_max(const double *x, size_t n)
{
	double m = NAN;
	if (!x)
		return NAN;
	for (size_t i = 0; i < n; i++)
		if (!isnan(x[i]) && (isnan(m) || x[i] > m))
			m = x[i];
	return m;
}

double analyze_min(const double *x, size_t n)
{
	double m = NAN;
	if (!x)
		return NAN;
	for (size_t i = 0; i < n; i++)
		if (!isnan(x[i]) && (isnan(m) || x[i] < m))
			m = x[i];
	return m;
}

size_t analyze_last_valid(const double *x, size_t n)
{
	if (!x)
		return n;
	for (size_t i = n; i-- > 0;)
		if (!isnan(x[i]))
			return i;
	return n;
}

double analyze_counter_increase(const double *x, size_t n)
{
	double prev = NAN, rise = 0;
	size_t k = 0;
	if (!x)
		return NAN;
	for (size_t i = 0; i < n; i++) {
		if (isnan(x[i]))
			continue;
		if (k++ > 0)
			rise += x[i] >= prev ? x[i] - prev : x[i];
		prev = x[i];
	}
	return k >= 2 ? rise : NAN;
}

bool analyze_least_squares(double t0, double step, const double *y, size_t n,
                           struct analyze_fit *fit)
{
	double tsum = 0, ysum = 0;
	size_t k = 0;

	assert(fit);
	fit->slope = fit->intercept = fit->r2 = NAN;
	fit->points = 0;
	if (!y)
		return false;
	/* Time as offsets from t0; t0 is added back into the intercept. */
	for (size_t i = 0; i < n; i++) {
		if (isnan(y[i]))
			continue;
		tsum += (double)i * step;
		ysum += y[i];
		k++;
	}
	if (k < 2)
		return false;
	double tmean = tsum / (double)k, ymean = ysum / (double)k;
	double stt = 0, sty = 0, syy = 0;
	for (size_t i = 0; i < n; i++) {
		if (isnan(y[i]))
			continue;
		double dt = (double)i * step - tmean, dy = y[i] - ymean;
		stt += dt * dt;
		sty += dt * dy;
		syy += dy * dy;
	}
	if (stt <= 0)
		return false;
	fit->slope = sty / stt;
	fit->intercept = ymean - fit->slope * (tmean + t0);
	/* r2 = explained / total variance; a constant series is fully explained. */
	fit->r2 = syy > 0 ? (sty * sty) / (stt * syy) : 1.0;
	fit->points = k;
	return true;
}
