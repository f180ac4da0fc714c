/* history.c - the inference servers' windows into the history (store/serving.h).
 *
 * The reader thread queues one row per server and model each time a whole window has
 * passed since that model's last row, so rows tile time without overlapping; the recorder
 * thread drains the queue with its own store handle (recorder_set_extra), so the history
 * keeps one writer and a slow disk never holds up a poll.  The queue is bounded: when the
 * recorder is down (no history, a full disk) the oldest rows are dropped and counted.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "servers/internal.h"

#define PENDING_MAX (SERVERS_MAX * SERVER_MODELS_MAX)

static double fig_or_nan(const struct server_figures *f, enum server_figure k)
{
	return f->valid[k] ? f->v[k] : NAN;
}

static void fill_row(const struct target *t, unsigned m, double wall, struct store_serving_row *r)
{
	const struct server_figures *f = &t->fig[m];
	const struct server_gpu_side *g = t->ngpus ? &t->side[m] : NULL;
	memset(r, 0, sizeof(*r));
	r->t = (int64_t)floor(wall);
	r->window_s = f->window_s;
	snprintf(r->server, sizeof(r->server), "%s", t->name);
	snprintf(r->kind, sizeof(r->kind), "%s", server_kind_name(t->kind));
	snprintf(r->model, sizeof(r->model), "%s", t->model[m]);
	snprintf(r->gpus, sizeof(r->gpus), "%s", t->ngpus ? t->gpu_uuids : "");
	snprintf(r->gpu_model, sizeof(r->gpu_model), "%s", t->ngpus ? t->gpu_model : "");
	snprintf(r->advice, sizeof(r->advice), "%s",
	         t->advice[m].action ? t->advice[m].action : "unknown");
	double *v = r->v;
	v[STORE_SERVING_GEN_TOKENS] = f->gen_tokens;
	v[STORE_SERVING_PROMPT_TOKENS] = f->prompt_tokens;
	v[STORE_SERVING_REQUESTS] = f->requests;
	v[STORE_SERVING_JOULES] = g && g->energy_valid ? g->joules : NAN;
	v[STORE_SERVING_GPU_SECONDS] = g ? g->gpu_seconds : NAN;
	v[STORE_SERVING_SM_SECONDS] = g && g->sm_valid ? g->sm_active_seconds : NAN;
	v[STORE_SERVING_BUSY_SECONDS] = g && g->util_valid ? g->busy_seconds : NAN;
	v[STORE_SERVING_PRICE] = g ? g->price_per_hour : NAN;
	v[STORE_SERVING_RUNNING] = fig_or_nan(f, SFIG_RUNNING);
	v[STORE_SERVING_WAITING] = fig_or_nan(f, SFIG_WAITING);
	v[STORE_SERVING_KV_USAGE] = fig_or_nan(f, SFIG_KV_USAGE);
	v[STORE_SERVING_PREEMPTIONS] = fig_or_nan(f, SFIG_PREEMPT_PS) * f->window_s;
	v[STORE_SERVING_AVG_BATCH] = fig_or_nan(f, SFIG_AVG_BATCH);
	v[STORE_SERVING_TTFT_P50] = fig_or_nan(f, SFIG_TTFT_P50);
	v[STORE_SERVING_TTFT_P99] = fig_or_nan(f, SFIG_TTFT_P99);
	v[STORE_SERVING_ITL_P50] = fig_or_nan(f, SFIG_ITL_P50);
	v[STORE_SERVING_ITL_P99] = fig_or_nan(f, SFIG_ITL_P99);
	v[STORE_SERVING_SM_ACTIVE] = t->ngpus ? t->sm_active : NAN;
	v[STORE_SERVING_MEMORY_USED] = t->ngpus ? t->memory_used : NAN;
	v[STORE_SERVING_BATCH_TARGET] = t->advice[m].batch_target;
}

void servers_history_collect(struct servers *s, double wall)
{
	for (unsigned k = 0; k < s->ntargets; k++) {
		struct target *t = &s->targets[k];
		if (t->warming || !t->up)
			continue;
		for (unsigned m = 0; m < t->nmodels; m++) {
			if (wall - t->last_row[m] < s->cfg.window_s - s->cfg.poll_s / 2)
				continue;
			t->last_row[m] = wall;
			struct store_serving_row row;
			fill_row(t, m, wall, &row);
			pthread_mutex_lock(&s->lock);
			if (!s->pending)
				s->pending = malloc(PENDING_MAX * sizeof(*s->pending));
			if (s->pending && s->npending == PENDING_MAX) {
				memmove(s->pending, s->pending + 1,
				        (PENDING_MAX - 1) * sizeof(*s->pending));
				s->npending--;
				s->rows_dropped++;
			}
			if (s->pending)
				s->pending[s->npending++] = row;
			else
				s->rows_dropped++;
			pthread_mutex_unlock(&s->lock);
		}
	}
}

int servers_history_write(void *ctx, struct store *st)
{
	struct servers *s = ctx;
	struct store_serving_row row;
	int rc = STORE_OK;
	for (;;) {
		pthread_mutex_lock(&s->lock);
		bool have = s->npending > 0;
		if (have)
			row = s->pending[0];
		pthread_mutex_unlock(&s->lock);
		if (!have)
			return STORE_OK;
		rc = store_put_serving(st, &row);
		if (rc != STORE_OK)
			return rc; /* kept: written when the store recovers */
		pthread_mutex_lock(&s->lock);
		/* the reader may have dropped the oldest meanwhile; drop ours if still first */
		const struct store_serving_row *first = s->npending ? &s->pending[0] : NULL;
		if (first && first->t == row.t && strcmp(first->server, row.server) == 0 &&
		    strcmp(first->model, row.model) == 0) {
			memmove(s->pending, s->pending + 1,
			        (s->npending - 1) * sizeof(*s->pending));
			s->npending--;
		}
		pthread_mutex_unlock(&s->lock);
	}
}
