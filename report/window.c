/* window.c - the one window policy of the history readers (see window.h). */
#include "report/window.h"

#include <stdio.h>

int report_window_resolve(const struct report_window_ask *a, int64_t now, int64_t *from,
                          int64_t *to, char *err, size_t errlen)
{
	if (a->since_given && a->has_from) {
		snprintf(err, errlen, "give --since or --from, not both");
		return -1;
	}
	int64_t t = a->has_to ? a->to : now;
	int64_t f = a->has_from ? a->from : t - (int64_t)a->since + 1;
	if (f > t) {
		snprintf(err, errlen, "the window starts after it ends (--from is after --to)");
		return -1;
	}
	*from = f;
	*to = t;
	return 0;
}

enum store_resolution report_window_resolution(int64_t from, int64_t to)
{
	return to - from > REPORT_SECOND_RES_MAX_S ? STORE_RES_MINUTE : STORE_RES_AUTO;
}

bool report_window_fit(const struct store_gpu_info *list, size_t n, const bool *use, int64_t from,
                       int64_t to, struct report_window *out)
{
	int64_t first = INT64_MAX, last = INT64_MIN;
	for (size_t k = 0; k < n; k++) {
		if ((use && !use[k]) || list[k].last_t < from || list[k].first_t > to)
			continue; /* not asked for, or no row inside the window */
		first = list[k].first_t < first ? list[k].first_t : first;
		last = list[k].last_t > last ? list[k].last_t : last;
	}
	bool held = first <= last;
	out->from = held && first > from ? first : from;
	out->to = held && last < to ? last : to;
	out->res = report_window_resolution(out->from, out->to);
	return held;
}

/* Rows of `base` seconds (1 or 60) that [from, to] touches, as the store's grid counts them. */
static int64_t rows_of(int64_t from, int64_t to, int64_t base)
{
	int64_t first = from - ((from % base) + base) % base,
	        last = to - ((to % base) + base) % base;
	return (last - first) / base + 1;
}

void report_window_points(const struct report_window *w, size_t points, int64_t *bucket,
                          enum store_resolution *res)
{
	int64_t p = points ? (int64_t)points : 1;
	int64_t seconds = (rows_of(w->from, w->to, 1) + p - 1) / p;
	int64_t minutes = (rows_of(w->from, w->to, 60) + p - 1) / p;
	/* More minutes than points: a point of seconds could still meet minute rows (AUTO)
	 * and come back a minute wide, one point too many. */
	bool wide = w->res == STORE_RES_MINUTE || seconds >= 60 || minutes > 1;
	*bucket = wide ? minutes * 60 : seconds;
	*res = wide ? STORE_RES_MINUTE : w->res;
}
