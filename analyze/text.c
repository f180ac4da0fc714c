/* text.c - numbers as people read them, for verdict titles and sentences.
 *
 * The JSON keeps exact numbers in base units; these strings only need to be
 * right to two or three significant digits.
 */
#include <math.h>

#include "analyze/internal.h"

void analyze_fmt_bytes(char *dst, size_t size, double bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	size_t u = 0;
	double v = bytes;

	if (isnan(bytes)) {
		analyze_setf(dst, size, "unknown");
		return;
	}
	while (fabs(v) >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	analyze_setf(dst, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void analyze_fmt_duration(char *dst, size_t size, double s)
{
	if (isnan(s))
		analyze_setf(dst, size, "unknown");
	else if (s < 10)
		analyze_setf(dst, size, "%.2g s", s);
	else if (s < 120)
		analyze_setf(dst, size, "%.0f s", s);
	else if (s < 2 * 3600)
		analyze_setf(dst, size, "%.0f min", s / 60);
	else if (s < 48 * 3600)
		analyze_setf(dst, size, "%.1f h", s / 3600);
	else
		analyze_setf(dst, size, "%.1f days", s / 86400);
}

void analyze_gpu_label(char *dst, size_t size, size_t gpu_index, const struct analyze_gpu_series *g)
{
	if (g->model && *g->model)
		analyze_setf(dst, size, "GPU %zu (%s)", gpu_index, g->model);
	else
		analyze_setf(dst, size, "GPU %zu", gpu_index);
}
