/* inference_acc.c - open per-interval inference cells (see inference_acc.h).
 *
 * A linear search over at most INFERENCE_ACC_CELLS cells: a busy node has a handful of
 * (process, range) keys and two or three open intervals each, so the array stays short and
 * a hash table would cost more than it saves.
 */
#include "series/inference_acc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int inference_acc_init(struct inference_acc *a)
{
	memset(a, 0, sizeof(*a));
	return pthread_mutex_init(&a->lock, NULL) == 0 ? 0 : -1;
}

void inference_acc_free(struct inference_acc *a)
{
	pthread_mutex_destroy(&a->lock);
	free(a->cells);
	a->cells = NULL;
	a->n = a->cap = 0;
}

static bool same_key(const struct inference_key *x, const struct inference_key *y)
{
	return x->gpu == y->gpu && x->pid == y->pid && !strcmp(x->process, y->process) &&
	       !strcmp(x->workload, y->workload) && !strcmp(x->range, y->range) &&
	       !strcmp(x->boundary, y->boundary);
}

static int64_t interval_of(long long ns)
{
	int64_t s = (int64_t)(ns / 1000000000LL);
	int64_t r = s % INFERENCE_ACC_WIDTH_S;
	return r < 0 ? s - r - INFERENCE_ACC_WIDTH_S : s - r;
}

/* The cell of (k, t), opened when missing; NULL when every cell is taken.  Lock held. */
static struct inference_cell *cell(struct inference_acc *a, const struct inference_key *k,
                                   int64_t t)
{
	for (unsigned i = 0; i < a->n; i++)
		if (a->cells[i].t == t && same_key(&a->cells[i].key, k))
			return &a->cells[i];
	if (a->n == a->cap) {
		/* Doubling from 4: the 512 cells a full array would hold are 2 MB. */
		unsigned cap = a->cap ? 2 * a->cap : 4;
		if (cap > INFERENCE_ACC_CELLS)
			cap = INFERENCE_ACC_CELLS;
		struct inference_cell *grown =
		    a->n < cap ? realloc(a->cells, cap * sizeof(*grown)) : NULL;
		if (!grown) {
			a->dropped++;
			return NULL;
		}
		a->cells = grown;
		a->cap = cap;
	}
	struct inference_cell *c = &a->cells[a->n++];
	memset(c, 0, sizeof(*c));
	c->key = *k;
	c->t = t;
	return c;
}

void inference_acc_add(struct inference_acc *a, const struct inference_key *k,
                       const struct inference_msg *m)
{
	long long at = m->end_unix_ns > 0 ? m->end_unix_ns : m->start_unix_ns;
	if (at <= 0)
		return; /* no time: nothing to file it under (the histograms still count it) */
	pthread_mutex_lock(&a->lock);
	struct inference_cell *c = cell(a, k, interval_of(at));
	if (c)
		inference_agg_add(&c->agg, m->latency_s, m->gpu_busy_s, m->energy_j, m->h2d_bytes,
		                  m->d2h_bytes, m->kernels, m->mem_peak_bytes, m->complete);
	pthread_mutex_unlock(&a->lock);
}

void inference_acc_add_energy(struct inference_acc *a, const struct inference_key *k,
                              long long end_ns, double joules)
{
	if (end_ns <= 0 || !isfinite(joules))
		return;
	pthread_mutex_lock(&a->lock);
	struct inference_cell *c = cell(a, k, interval_of(end_ns));
	if (c)
		inference_agg_add_energy(&c->agg, joules);
	pthread_mutex_unlock(&a->lock);
}

int inference_acc_take(struct inference_acc *a, int64_t now, bool all, struct inference_cell **out)
{
	*out = NULL;
	pthread_mutex_lock(&a->lock);
	unsigned k = 0;
	for (unsigned i = 0; i < a->n; i++)
		k += all || a->cells[i].t + INFERENCE_ACC_WIDTH_S + INFERENCE_ACC_CLOSE_S <= now;
	if (k && !(*out = malloc(k * sizeof(**out)))) {
		pthread_mutex_unlock(&a->lock);
		return -1;
	}
	unsigned taken = 0, kept = 0;
	for (unsigned i = 0; i < a->n; i++) {
		if (all || a->cells[i].t + INFERENCE_ACC_WIDTH_S + INFERENCE_ACC_CLOSE_S <= now)
			(*out)[taken++] = a->cells[i];
		else if (kept++ != i)
			a->cells[kept - 1] = a->cells[i];
	}
	a->n = kept;
	pthread_mutex_unlock(&a->lock);
	return (int)taken;
}

void inference_acc_put_back(struct inference_acc *a, const struct inference_cell *c, unsigned n)
{
	pthread_mutex_lock(&a->lock);
	for (unsigned i = 0; i < n; i++) {
		struct inference_cell *d = cell(a, &c[i].key, c[i].t);
		if (d)
			inference_agg_merge(&d->agg, &c[i].agg);
	}
	pthread_mutex_unlock(&a->lock);
}

int inference_acc_copy(struct inference_acc *a, struct inference_cell **out, uint64_t *dropped)
{
	pthread_mutex_lock(&a->lock);
	unsigned n = a->n;
	*out = malloc((n ? n : 1) * sizeof(**out));
	if (*out && n)
		memcpy(*out, a->cells, n * sizeof(**out));
	if (dropped)
		*dropped = a->dropped;
	pthread_mutex_unlock(&a->lock);
	return *out ? (int)n : -1;
}
