/* figures.c - window figures of figures.h. */
#include "servers/figures.h"

#include <math.h>
#include <string.h>

const struct server_figure_info server_figure_info[SFIG_COUNT] = {
#define X(id, name, unit, help) {name, unit, help, NULL},
    SERVER_FIGURES(X)
#undef X
};

double server_counter_increase(const double *v, unsigned n)
{
	double inc = 0;
	for (unsigned i = 1; i < n; i++)
		inc += v[i] >= v[i - 1] ? v[i] - v[i - 1] : v[i];
	return inc;
}

double server_hist_quantile(double q, const double *le, const double *count, unsigned n)
{
	if (n < 2 || !isinf(le[n - 1]) || count[n - 1] <= 0)
		return NAN;
	double rank = q * count[n - 1];
	unsigned i = 0;
	while (i < n && count[i] < rank)
		i++;
	if (i >= n - 1)
		return le[n - 2]; /* in the +Inf bucket: its lower bound, as Prometheus does */
	double lo = i ? le[i - 1] : 0, below = i ? count[i - 1] : 0;
	double in = count[i] - below;
	if (lo > le[i] || in <= 0)
		return le[i];
	return lo + (le[i] - lo) * (rank - below) / in;
}

/* The model's field over the readings into v[]; returns how many readings had it. */
static unsigned series(const struct server_reading *const *r, unsigned n, const char *model,
                       enum server_field f, double *v, bool *all)
{
	unsigned k = 0;
	*all = true;
	for (unsigned i = 0; i < n; i++) {
		const struct server_model *m = server_reading_model(r[i], model);
		if (m && m->valid[f])
			v[k++] = m->v[f];
		else
			*all = false;
	}
	return k;
}

/* Increase of a histogram's buckets over the window, pair by pair (resets from zero); false
 * when the readings do not share one bucket layout. */
static bool hist_increase(const struct server_reading *const *r, unsigned n, const char *model,
                          int which, double *le, double *inc, unsigned *nb)
{
	const struct server_hist *prev = NULL;
	*nb = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct server_model *m = server_reading_model(r[i], model);
		const struct server_hist *h = m ? &m->hist[which] : NULL;
		if (!h || h->n == 0)
			return false;
		if (!prev) {
			*nb = h->n;
			memcpy(le, h->le, h->n * sizeof(double));
			memset(inc, 0, h->n * sizeof(double));
		} else {
			if (h->n != prev->n || memcmp(h->le, prev->le, h->n * sizeof(double)) != 0)
				return false;
			bool reset = h->count[h->n - 1] < prev->count[h->n - 1];
			for (unsigned b = 0; b < h->n; b++)
				inc[b] += reset ? h->count[b] : h->count[b] - prev->count[b];
		}
		prev = h;
	}
	return n >= 2;
}

static void set(struct server_figures *o, enum server_figure f, double v)
{
	if (isfinite(v)) {
		o->v[f] = v;
		o->valid[f] = true;
	}
}

static double per(double a, double b)
{
	return b > 0 ? a / b : NAN;
}

void server_figures_compute(const struct server_reading *const *r, const double *t, unsigned n,
                            const char *model, const struct server_gpu_side *g,
                            struct server_figures *out)
{
	memset(out, 0, sizeof(*out));
	out->gen_tokens = out->prompt_tokens = out->requests = NAN;
	if (n > SERVER_WINDOW_READINGS_MAX)
		n = SERVER_WINDOW_READINGS_MAX;
	if (n < 2)
		return;
	double dt = t[n - 1] - t[0];
	out->window_s = dt;
	if (dt <= 0)
		return;
	double v[SERVER_WINDOW_READINGS_MAX];
	bool all;
	double inc[SF_FIELD_COUNT];
	bool have[SF_FIELD_COUNT] = {false};
	for (int f = 0; f < SF_FIELD_COUNT; f++) {
		inc[f] = NAN;
		if (server_field_hist((enum server_field)f))
			continue;
		unsigned k = series(r, n, model, (enum server_field)f, v, &all);
		if (server_field_counter((enum server_field)f)) {
			if (k != n || !all)
				continue;
			for (unsigned i = 1; i < n; i++)
				out->reset |= v[i] < v[i - 1];
			inc[f] = server_counter_increase(v, n);
			have[f] = true;
		} else if (k) {
			double s = 0;
			for (unsigned i = 0; i < k; i++)
				s += v[i];
			inc[f] = s / k; /* gauges: the mean */
			have[f] = true;
		}
	}
	if (have[SF_GEN_TOKENS])
		out->gen_tokens = inc[SF_GEN_TOKENS];
	if (have[SF_PROMPT_TOKENS])
		out->prompt_tokens = inc[SF_PROMPT_TOKENS];
	if (have[SF_REQUESTS])
		out->requests = inc[SF_REQUESTS];
	set(out, SFIG_GEN_TPS, out->gen_tokens / dt);
	set(out, SFIG_PROMPT_TPS, out->prompt_tokens / dt);
	set(out, SFIG_REQ_PS, out->requests / dt);
	set(out, SFIG_PREEMPT_PS, inc[SF_PREEMPTIONS] / dt);
	set(out, SFIG_RUNNING, inc[SF_RUNNING]);
	set(out, SFIG_WAITING, inc[SF_WAITING]);
	set(out, SFIG_KV_USAGE, inc[SF_KV_USAGE]);
	if (!out->valid[SFIG_KV_USAGE] && have[SF_KV_USED_TOKENS] && have[SF_KV_MAX_TOKENS])
		set(out, SFIG_KV_USAGE, per(inc[SF_KV_USED_TOKENS], inc[SF_KV_MAX_TOKENS]));
	set(out, SFIG_AVG_BATCH, per(inc[SF_INFER_COUNT], inc[SF_EXEC_COUNT]));

	double le[SERVER_HIST_BUCKETS], hinc[SERVER_HIST_BUCKETS];
	unsigned nb;
	static const enum server_figure q50[2] = {SFIG_TTFT_P50, SFIG_ITL_P50};
	static const enum server_figure q99[2] = {SFIG_TTFT_P99, SFIG_ITL_P99};
	for (int w = 0; w < 2; w++)
		if (hist_increase(r, n, model, w, le, hinc, &nb)) {
			set(out, q50[w], server_hist_quantile(0.5, le, hinc, nb));
			set(out, q99[w], server_hist_quantile(0.99, le, hinc, nb));
		}

	if (!g)
		return;
	if (g->energy_valid) {
		set(out, SFIG_J_PER_TOKEN, per(g->joules, out->gen_tokens));
		set(out, SFIG_J_PER_REQUEST, per(g->joules, out->requests));
		set(out, SFIG_POWER_W, g->joules / dt);
	}
	set(out, SFIG_GPU_S_PER_MTOK, per(g->gpu_seconds, out->gen_tokens) * 1e6);
	set(out, SFIG_GPU_S_PER_KREQ, per(g->gpu_seconds, out->requests) * 1e3);
	set(out, SFIG_COST_PER_MTOK,
	    per(g->gpu_seconds, out->gen_tokens) * 1e6 / 3600 * g->price_per_hour);
	set(out, SFIG_COST_PER_KREQ,
	    per(g->gpu_seconds, out->requests) * 1e3 / 3600 * g->price_per_hour);
	if (g->sm_valid)
		set(out, SFIG_SM_S_PER_TOKEN, per(g->sm_active_seconds, out->gen_tokens));
	if (g->util_valid)
		set(out, SFIG_BUSY_S_PER_REQUEST, per(g->busy_seconds, out->requests));
}
