/* history.c - the per-inference aggregates in the history (see history.h). */
#include "inference/history.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/inference.h"
#include "report/series.h"
#include "store/inference.h"

struct inference_history {
	struct inference_acc acc;
	struct board *board;
	char *path;
	double price;
	pthread_mutex_t lock; /* one API query at a time; guards store */
	struct store *store;  /* read-only, opened on first use */
	/* Held by the writer from taking closed cells out of acc until they are committed,
	 * and by a query across its store read and its copy of acc: a cell is then in exactly
	 * one of the two for the query, never in neither (taken, not yet committed). */
	pthread_mutex_t handoff;
};

struct inference_history *inference_history_new(struct board *b, const char *history_path,
                                                double price)
{
	struct inference_history *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	if (inference_acc_init(&h->acc) != 0 || !(h->path = strdup(history_path))) {
		inference_acc_free(&h->acc);
		free(h);
		return NULL;
	}
	h->board = b;
	h->price = price;
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->handoff, NULL);
	return h;
}

void inference_history_free(struct inference_history *h)
{
	if (!h)
		return;
	store_close(h->store);
	pthread_mutex_destroy(&h->lock);
	pthread_mutex_destroy(&h->handoff);
	inference_acc_free(&h->acc);
	free(h->path);
	free(h);
}

struct inference_acc *inference_history_acc(struct inference_history *h)
{
	return h ? &h->acc : NULL;
}

/* The board's uuids (NULL before a GPU's identity is known) and names; free both. */
static int board_uuids(struct board *b, struct board_snapshot *snap, const char ***uuids)
{
	if (board_snapshot(b, snap) != 0)
		return -1;
	*uuids = calloc(snap->count ? snap->count : 1, sizeof(**uuids));
	if (!*uuids) {
		board_snapshot_free(snap);
		return -1;
	}
	for (unsigned i = 0; i < snap->count; i++)
		(*uuids)[i] = snap->gpus[i].has_identity ? snap->gpus[i].id.uuid : NULL;
	return 0;
}

static int write_closed(struct inference_history *h, struct store *s, bool final);

int inference_history_write(void *ctx, struct store *s, bool final)
{
	struct inference_history *h = ctx;
	pthread_mutex_lock(&h->handoff);
	int rc = write_closed(h, s, final);
	pthread_mutex_unlock(&h->handoff);
	return rc;
}

/* The cells whose interval closed, each written in its own committed transaction (the
 * recorder's batch is closed when the hook runs). */
static int write_closed(struct inference_history *h, struct store *s, bool final)
{
	struct inference_cell *c;
	int n = inference_acc_take(&h->acc, (int64_t)wall_now(), final, &c);
	if (n <= 0)
		return n < 0 ? STORE_ENOMEM : STORE_OK;
	struct board_snapshot snap;
	const char **uuids = NULL;
	bool named = board_uuids(h->board, &snap, &uuids) == 0;
	int rc = STORE_OK, i;
	for (i = 0; i < n && rc == STORE_OK; i++) {
		const struct inference_key *k = &c[i].key;
		bool known = named && k->gpu >= 0 && (unsigned)k->gpu < snap.count;
		struct store_inference_interval iv = {.uuid = known ? uuids[k->gpu] : NULL,
		                                      .model = known && snap.gpus[k->gpu].id.name[0]
		                                                   ? snap.gpus[k->gpu].id.name
		                                                   : NULL,
		                                      .pid = (unsigned)k->pid,
		                                      .process = k->process,
		                                      .workload = k->workload,
		                                      .range = k->range,
		                                      .boundary = k->boundary,
		                                      .t = c[i].t,
		                                      .width = INFERENCE_ACC_WIDTH_S,
		                                      .agg = &c[i].agg};
		rc = store_put_inference(s, &iv);
	}
	if (rc != STORE_OK) { /* the batch (and these cells) are lost; count them */
		pthread_mutex_lock(&h->acc.lock);
		h->acc.dropped += (uint64_t)(n - i + 1);
		pthread_mutex_unlock(&h->acc.lock);
	}
	if (named) {
		free(uuids);
		board_snapshot_free(&snap);
	}
	free(c);
	return rc;
}

/* ---- /api/v1/inference ---- */

static char *error_doc(const char *why)
{
	json_t *o = json_pack("{s:s, s:s}", "schema", "gpuscope.inference/v1", "error", why);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return text;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Merges an open cell into rows (the history's, same key and t), appending when new. */
static int merge_cell(struct store_inference_row **rows, size_t *n, size_t *cap,
                      const struct inference_cell *c, const char *uuid, const char *model,
                      int64_t t)
{
	const struct inference_key *k = &c->key;
	for (size_t i = 0; i < *n; i++) {
		struct store_inference_row *r = &(*rows)[i];
		if (r->t == t && r->pid == (unsigned)k->pid && same_str(r->uuid, uuid) &&
		    !strcmp(r->process, k->process) && !strcmp(r->workload, k->workload) &&
		    !strcmp(r->range, k->range) && !strcmp(r->boundary, k->boundary)) {
			inference_agg_merge(&r->agg, &c->agg);
			if (c->t < r->first_t)
				r->first_t = c->t;
			if (c->t + INFERENCE_ACC_WIDTH_S > r->last_t)
				r->last_t = c->t + INFERENCE_ACC_WIDTH_S;
			return 0;
		}
	}
	if (*n == *cap) {
		size_t nc = *cap ? 2 * *cap : 16;
		struct store_inference_row *p = realloc(*rows, nc * sizeof(*p));
		if (!p)
			return -1;
		*rows = p;
		*cap = nc;
	}
	struct store_inference_row *r = &(*rows)[(*n)++];
	*r = (struct store_inference_row){.uuid = dup_or_null(uuid),
	                                  .model = dup_or_null(model),
	                                  .pid = (unsigned)k->pid,
	                                  .process = strdup(k->process),
	                                  .workload = strdup(k->workload),
	                                  .range = strdup(k->range),
	                                  .boundary = strdup(k->boundary),
	                                  .t = t,
	                                  .first_t = c->t,
	                                  .last_t = c->t + INFERENCE_ACC_WIDTH_S,
	                                  .agg = c->agg};
	return r->process && r->workload && r->range && r->boundary ? 0 : -1;
}

/* Adds the open cells of [from, to] to the totals and the step rows. */
static int add_open_cells(struct inference_history *h, const struct board_snapshot *snap,
                          const char *const *uuids, struct report_inference *tot,
                          struct report_inference *steps, int64_t step)
{
	struct inference_cell *c;
	int n = inference_acc_copy(&h->acc, &c, NULL);
	if (n < 0)
		return -1;
	size_t cap_t = tot->n, cap_s = steps->n;
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		if (c[i].t < tot->from || c[i].t > tot->to)
			continue;
		int g = c[i].key.gpu;
		bool known = g >= 0 && (unsigned)g < snap->count && uuids[g];
		const char *uuid = known ? uuids[g] : NULL;
		const char *model = known ? snap->gpus[g].id.name : NULL;
		int64_t k = tot->from + (c[i].t - tot->from) / step * step;
		rc = merge_cell(&tot->rows, &tot->n, &cap_t, &c[i], uuid, model, tot->from);
		if (rc == 0)
			rc = merge_cell(&steps->rows, &steps->n, &cap_s, &c[i], uuid, model, k);
	}
	free(c);
	return rc;
}

static json_t *num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* One series per total row: its step rows on the grid from, from + step, ... */
static json_t *series_of(const struct report_inference *tot, const struct report_inference *st,
                         int64_t step, size_t points)
{
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < tot->n; i++) {
		const struct store_inference_row *r = &tot->rows[i];
		json_t *o = json_object(), *rate = json_array(), *p50 = json_array(),
		       *p95 = json_array(), *p99 = json_array(), *busy = json_array(),
		       *energy = json_array();
		for (size_t k = 0; k < points; k++) {
			const struct inference_agg *a = NULL;
			int64_t t = tot->from + (int64_t)k * step;
			for (size_t j = 0; j < st->n && !a; j++) {
				const struct store_inference_row *s = &st->rows[j];
				if (s->t == t && s->pid == r->pid && same_str(s->uuid, r->uuid) &&
				    !strcmp(s->process, r->process) &&
				    !strcmp(s->workload, r->workload) &&
				    !strcmp(s->range, r->range) &&
				    !strcmp(s->boundary, r->boundary))
					a = &s->agg;
			}
			json_array_append_new(rate, json_real(a ? (double)a->n / (double)step : 0));
			json_array_append_new(
			    p50, num(a ? inference_sketch_quantile(&a->latency, 0.5) : NAN));
			json_array_append_new(
			    p95, num(a ? inference_sketch_quantile(&a->latency, 0.95) : NAN));
			json_array_append_new(
			    p99, num(a ? inference_sketch_quantile(&a->latency, 0.99) : NAN));
			json_array_append_new(
			    busy, num(a && a->busy_n ? a->busy_sum / (double)a->busy_n : NAN));
			json_array_append_new(
			    energy,
			    num(a && a->energy_n ? a->energy_sum / (double)a->energy_n : NAN));
		}
		json_object_set_new(o, "row", json_integer((json_int_t)i));
		json_object_set_new(o, "inferences_per_second", rate);
		json_object_set_new(o, "latency_p50_seconds", p50);
		json_object_set_new(o, "latency_p95_seconds", p95);
		json_object_set_new(o, "latency_p99_seconds", p99);
		json_object_set_new(o, "gpu_busy_seconds_per_inference", busy);
		json_object_set_new(o, "energy_joules_per_inference", energy);
		json_array_append_new(arr, o);
	}
	return arr;
}

/* Keeps the rows of GPU uuid (all when NULL). */
static void keep_gpu(struct report_inference *ri, const char *uuid)
{
	size_t k = 0;
	for (size_t i = 0; i < ri->n; i++) {
		if (same_str(ri->rows[i].uuid, uuid)) {
			ri->rows[k++] = ri->rows[i];
			continue;
		}
		struct store_inference_row *r = &ri->rows[i];
		free(r->uuid);
		free(r->model);
		free(r->process);
		free(r->workload);
		free(r->range);
		free(r->boundary);
	}
	ri->n = k;
}

static json_t *document(struct inference_history *h, const struct series_request *q, char *err,
                        size_t errlen)
{
	int64_t span = q->to - q->from + 1;
	size_t points = q->max_points < 120 ? q->max_points : 120;
	int64_t step = (span + (int64_t)points - 1) / (int64_t)points;
	step = (step + INFERENCE_ACC_WIDTH_S - 1) / INFERENCE_ACC_WIDTH_S * INFERENCE_ACC_WIDTH_S;
	points = (size_t)((span + step - 1) / step);
	struct report_inference tot = {.from = q->from, .to = q->to}, st = tot;
	struct board_snapshot snap;
	const char **uuids = NULL;
	json_t *doc = NULL;
	if (board_uuids(h->board, &snap, &uuids) != 0) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_lock(&h->handoff);
	int qrc = store_query_inference(h->store, q->from, q->to, 0, &tot.rows, &tot.n);
	if (qrc == STORE_OK)
		qrc = store_query_inference(h->store, q->from, q->to, step, &st.rows, &st.n);
	int orc = qrc == STORE_OK ? add_open_cells(h, &snap, uuids, &tot, &st, step) : 0;
	pthread_mutex_unlock(&h->handoff);
	if (qrc != STORE_OK || orc != 0) {
		snprintf(err, errlen, "%s",
		         qrc != STORE_OK ? store_errmsg(h->store) : "out of memory");
		goto out;
	}
	if (q->gpu >= 0) {
		const char *u = (unsigned)q->gpu < snap.count ? uuids[q->gpu] : "";
		keep_gpu(&tot, u ? u : "");
		keep_gpu(&st, u ? u : "");
	}
	struct report_inference_ctx ctx = {
	    .uuids = uuids, .nuuids = snap.count, .price_override = h->price, .currency = NULL};
	doc = report_inference_json(&tot, &ctx);
	if (!doc) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	json_object_set_new(doc, "schema", json_string("gpuscope.inference/v1"));
	if (snap.info.scenario[0])
		json_object_set_new(doc, "simulated", json_true());
	json_object_set_new(doc, "step_s", json_integer(step));
	json_t *t = json_array();
	for (size_t k = 0; k < points; k++)
		json_array_append_new(t, json_integer(q->from + (int64_t)k * step));
	json_object_set_new(doc, "t", t);
	json_object_set_new(doc, "series", series_of(&tot, &st, step, points));
	uint64_t dropped = 0;
	struct inference_cell *none;
	if (inference_acc_copy(&h->acc, &none, &dropped) >= 0)
		free(none);
	json_object_set_new(doc, "dropped", json_integer((json_int_t)dropped));
out:
	free(uuids);
	board_snapshot_free(&snap);
	report_inference_free(&tot);
	report_inference_free(&st);
	return doc;
}

char *inference_history_json(struct inference_history *h, const char *const args[5],
                             unsigned *status)
{
	char err[512];
	struct series_args sa = {args[0], args[1], args[2], args[3], args[4]};
	struct series_request q;
	if (series_parse_args(&sa, (int64_t)wall_now(), &q, err, sizeof(err)) != 0) {
		*status = 400;
		return error_doc(err);
	}
	if (pthread_mutex_trylock(&h->lock) != 0) {
		*status = 503;
		return error_doc("busy: one history query at a time; retry in a second");
	}
	char *text = NULL;
	if (!h->store) {
		struct store_options opt;
		store_options_default(&opt);
		opt.read_only = true;
		if (store_open(h->path, &opt, &h->store, err, sizeof(err)) != STORE_OK) {
			h->store = NULL;
			*status = 503;
			text = error_doc(err);
			goto out;
		}
	}
	json_t *doc = document(h, &q, err, sizeof(err));
	if (!doc) {
		*status = 503;
		text = error_doc(err);
		goto out;
	}
	text = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(6));
	json_decref(doc);
out:
	store_release_memory(h->store); /* held open between requests, not its pages */
	pthread_mutex_unlock(&h->lock);
	return text;
}
