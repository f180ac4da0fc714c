/* board.c - per-GPU slots with a short mutex, copied out for readers (see board.h). */
#include "series/board.h"

#include "nvml/nvml_loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct gpu_slot {
	pthread_mutex_t lock;
	struct gpu_record rec;
	struct gpu_window *window; /* not copied into snapshots: see board_window */
};

int board_init(struct board *b, unsigned count, double fast_s, double slow_s, double costly_s)
{
	memset(b, 0, sizeof(*b));
	b->slots = calloc(count ? count : 1, sizeof(*b->slots));
	if (!b->slots)
		return -1;
	b->count = count;
	b->interval[TIER_FAST] = fast_s;
	b->interval[TIER_SLOW] = slow_s;
	b->interval[TIER_BUFFER] = BUFFER_INTERVAL_S;
	b->interval[TIER_COSTLY] = costly_s;
	double now = mono_now();
	for (unsigned i = 0; i < count; i++) {
		if (!(b->slots[i].window = window_new())) {
			for (unsigned k = 0; k < i; k++) {
				window_free(b->slots[k].window);
				pthread_mutex_destroy(&b->slots[k].lock);
			}
			free(b->slots);
			b->slots = NULL;
			return -1;
		}
		pthread_mutex_init(&b->slots[i].lock, NULL);
		b->slots[i].rec.index = i;
		b->slots[i].rec.id.minor = -1;
		b->slots[i].rec.health = GPU_PROBING;
		b->slots[i].rec.probe_started = now;
		snprintf(b->slots[i].rec.health_reason, sizeof(b->slots[i].rec.health_reason),
		         "probing capabilities");
	}
	atomic_init(&b->generation, 1);
	return 0;
}

void board_free(struct board *b)
{
	for (unsigned i = 0; i < b->count; i++) {
		process_table_unref((struct process_table *)b->slots[i].rec.procs);
		pthread_mutex_destroy(&b->slots[i].lock);
		window_free(b->slots[i].window);
	}
	free(b->slots);
	b->slots = NULL;
	b->count = 0;
}

static void bump(struct board *b)
{
	atomic_fetch_add_explicit(&b->generation, 1, memory_order_release);
}

uint64_t board_generation(struct board *b)
{
	return atomic_load_explicit(&b->generation, memory_order_acquire);
}

void board_set_identity(struct board *b, unsigned gpu, const struct gpu_identity *id)
{
	struct gpu_slot *s = &b->slots[gpu];
	pthread_mutex_lock(&s->lock);
	s->rec.id = *id;
	s->rec.has_identity = true;
	pthread_mutex_unlock(&s->lock);
	bump(b);
}

void board_set_probe(struct board *b, unsigned gpu, const struct source_status *sources,
                     const metric_set *supported, const metric_set *sampled, unsigned tiers)
{
	struct gpu_slot *s = &b->slots[gpu];
	pthread_mutex_lock(&s->lock);
	memcpy(s->rec.sources, sources, sizeof(s->rec.sources));
	s->rec.supported = *supported;
	s->rec.sampled = *sampled;
	s->rec.tiers = tiers;
	/* The tiers' clocks start now: a call that hangs in the very first
	 * sweep must show as a stall like any later one. */
	double now = mono_now();
	for (int t = TIER_FAST; t <= TIER_COSTLY; t++)
		s->rec.published[t] = now;
	pthread_mutex_unlock(&s->lock);
	bump(b);
}

void board_set_health(struct board *b, unsigned gpu, enum gpu_health h, const char *reason)
{
	struct gpu_slot *s = &b->slots[gpu];
	pthread_mutex_lock(&s->lock);
	/* Lost is final: a GPU that fell off the bus does not come back on its own. */
	if (s->rec.health != GPU_LOST) {
		s->rec.health = h;
		snprintf(s->rec.health_reason, sizeof(s->rec.health_reason), "%s",
		         reason ? reason : "");
	}
	pthread_mutex_unlock(&s->lock);
	bump(b);
}

/* The metrics each source feeds, and those of the fast tier: built once, so a publish costs
 * what it read rather than a pass over the whole table (a fast step publishes 640 times a
 * second on 64 GPUs). */
static metric_set metrics_of_source[SRC_COUNT];
static metric_set fast_metrics;
static pthread_once_t metric_sets_once = PTHREAD_ONCE_INIT;

static void metric_sets_init(void)
{
	for (int m = 0; m < METRIC_COUNT; m++) {
		enum source_id src = metric_table[m].source;
		metric_set_add(&metrics_of_source[src], m);
		if (source_table[src].tier == TIER_FAST)
			metric_set_add(&fast_metrics, m);
	}
}

/* Takes the values of got, and invalidates the metrics of sources read without them (read[]
 * NULL: none); only the metrics keep() says yes to (NULL: all).  Caller holds the slot's
 * lock. */
static void take(double *raw_out, metric_set *valid, const double *raw, const metric_set *got,
                 const bool *read, bool (*keep)(int m))
{
	pthread_once(&metric_sets_once, metric_sets_init);
	metric_set gone = {{0}};
	for (int src = 0; read && src < SRC_COUNT; src++)
		for (int k = 0; read[src] && k < METRIC_SET_WORDS; k++)
			gone.w[k] |= metrics_of_source[src].w[k] & ~got->w[k];
	for (int k = 0; k < METRIC_SET_WORDS; k++) {
		for (uint64_t bits = got->w[k]; bits; bits &= bits - 1) {
			int m = k * 64 + __builtin_ctzll(bits);
			if (keep && !keep(m))
				continue;
			raw_out[m] = raw[m];
			metric_set_add(valid, m);
		}
		for (uint64_t bits = gone.w[k]; bits; bits &= bits - 1) {
			int m = k * 64 + __builtin_ctzll(bits);
			if (!keep || keep(m))
				metric_set_del(valid, m);
		}
	}
}

/* A fast step feeds every current fast value to the window ring (those that kept their
 * value since their last read too, as a steady reading holds), except the ones the
 * driver's sample buffers feed.  Caller holds the slot's lock. */
static void feed_window(struct gpu_slot *s, double wall)
{
	metric_set which;
	for (int k = 0; k < METRIC_SET_WORDS; k++)
		which.w[k] = s->rec.valid.w[k] & fast_metrics.w[k] & ~s->rec.sampled.w[k];
	window_add_set(s->window, wall, s->rec.raw, &which);
}

void board_publish_reads(struct board *b, unsigned gpu, const struct board_reads *r)
{
	struct gpu_slot *s = &b->slots[gpu];
	double now = mono_now(), wall = wall_now();
	bool read[SRC_COUNT] = {false};
	pthread_mutex_lock(&s->lock);
	struct gpu_record *rec = &s->rec;
	for (unsigned i = 0; i < r->n; i++) {
		unsigned src = r->src[i];
		read[src] = true;
		if (r->rc[i] != 0 && rec->source_error[src] == 0)
			rec->source_error_since[src] = now;
		rec->source_error[src] = r->rc[i];
		rec->source_read_at[src] = now;
		rec->source_period[src] = r->period[i];
		rec->source_idle_period[src] = r->idle_period[i];
		rec->source_stretch[src] = r->stretch[i];
		rec->source_cost[src] = r->cost[i];
		rec->published[source_table[src].tier] = now;
	}
	take(rec->raw, &rec->valid, r->raw, &r->got, read, NULL);
	rec->published[r->tier] = now;
	if (r->tier == TIER_FAST)
		feed_window(s, wall);
	pthread_mutex_unlock(&s->lock);
	bump(b);
}

void board_publish(struct board *b, unsigned gpu, enum sample_tier tier, const double *raw,
                   const metric_set *got)
{
	struct board_reads r = {.tier = tier, .raw = raw, .got = *got};
	board_publish_reads(b, gpu, &r);
}

void board_publish_one(struct board *b, unsigned gpu, enum metric_id m, double raw)
{
	struct gpu_slot *s = &b->slots[gpu];
	pthread_mutex_lock(&s->lock);
	s->rec.raw[m] = raw;
	metric_set_add(&s->rec.valid, m);
	pthread_mutex_unlock(&s->lock);
	bump(b);
}

void board_add_samples(struct board *b, unsigned gpu, enum metric_id m, const struct timed_value *v,
                       unsigned n)
{
	struct gpu_slot *s = &b->slots[gpu];
	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < n; i++)
		window_add(s->window, m, v[i].t, v[i].v);
	pthread_mutex_unlock(&s->lock);
}

void board_publish_nvlink(struct board *b, unsigned gpu, const struct nvlink_record *nv)
{
	struct gpu_slot *s = &b->slots[gpu];
	pthread_mutex_lock(&s->lock);
	if (nv)
		s->rec.nvlink = *nv;
	else
		memset(&s->rec.nvlink, 0, sizeof(s->rec.nvlink));
	pthread_mutex_unlock(&s->lock);
	bump(b);
}

void board_set_mig(struct board *b, unsigned gpu, unsigned n, const struct mig_record *mig)
{
	struct gpu_slot *s = &b->slots[gpu];
	pthread_mutex_lock(&s->lock);
	s->rec.n_mig = n < GPU_MAX_MIG ? n : GPU_MAX_MIG;
	for (unsigned k = 0; k < s->rec.n_mig; k++) {
		s->rec.mig[k] = mig[k];
		memset(&s->rec.mig[k].valid, 0, sizeof(s->rec.mig[k].valid));
	}
	pthread_mutex_unlock(&s->lock);
	bump(b);
}

void board_publish_mig(struct board *b, unsigned gpu, unsigned k, const struct board_reads *r)
{
	struct gpu_slot *s = &b->slots[gpu];
	bool read[SRC_COUNT] = {false};
	for (unsigned i = 0; i < r->n; i++)
		read[r->src[i]] = true;
	pthread_mutex_lock(&s->lock);
	if (k < s->rec.n_mig)
		take(s->rec.mig[k].raw, &s->rec.mig[k].valid, r->raw, &r->got, read,
		     metric_per_mig);
	pthread_mutex_unlock(&s->lock);
	bump(b);
}

void board_publish_processes(struct board *b, unsigned gpu, struct process_table *t)
{
	struct gpu_slot *s = &b->slots[gpu];
	if (t)
		t->published = mono_now();
	pthread_mutex_lock(&s->lock);
	const struct process_table *old = s->rec.procs;
	s->rec.procs = t;
	pthread_mutex_unlock(&s->lock);
	process_table_unref((struct process_table *)old);
	bump(b);
}

bool board_read_value(struct board *b, unsigned gpu, enum metric_id m, double *out)
{
	struct gpu_slot *s = &b->slots[gpu];
	pthread_mutex_lock(&s->lock);
	bool ok = metric_set_has(&s->rec.valid, m);
	if (ok)
		*out = s->rec.raw[m];
	pthread_mutex_unlock(&s->lock);
	return ok;
}

void board_count_xid(struct board *b, unsigned gpu, unsigned code)
{
	struct gpu_slot *s = &b->slots[gpu];
	pthread_mutex_lock(&s->lock);
	xid_tally_count(&s->rec.xids, code);
	pthread_mutex_unlock(&s->lock);
	bump(b);
}

void board_window(struct board *b, unsigned gpu, int64_t from, int64_t to,
                  struct window_agg out[METRIC_COUNT])
{
	struct gpu_slot *s = &b->slots[gpu];
	pthread_mutex_lock(&s->lock);
	window_aggregate(s->window, from, to, out);
	pthread_mutex_unlock(&s->lock);
}

static double stall_limit(double interval)
{
	double limit = 3 * interval;
	return limit < 2.0 ? 2.0 : limit;
}

/* Judges one record as of `now`: a tier that stopped publishing hides its
 * values (a stale number is worse than none) and marks the GPU stalled. */
void board_judge(const struct board *b, struct gpu_record *r, double now)
{
	if (r->health == GPU_PROBING &&
	    now - r->probe_started > stall_limit(b->interval[TIER_FAST])) {
		r->health = GPU_STALLED;
		snprintf(r->health_reason, sizeof(r->health_reason),
		         "probe has not finished after %.1f s (driver call hung?)",
		         now - r->probe_started);
	}
	if (r->health != GPU_OK)
		goto agent;
	for (int m = 0; m < METRIC_COUNT; m++) {
		enum source_id src = metric_table[m].source;
		if (r->source_period[src] > 0 &&
		    now - r->source_read_at[src] > stall_limit(r->source_period[src]))
			metric_set_del(&r->valid, m); /* its source has not been read in time */
	}
	for (int t = TIER_FAST; t <= TIER_COSTLY; t++) {
		if (!(r->tiers & (1u << t)))
			continue; /* the sampler reads nothing of this tier for this GPU */
		double since = now - r->published[t];
		if (since > stall_limit(b->interval[t])) {
			r->health = GPU_STALLED;
			snprintf(r->health_reason, sizeof(r->health_reason),
			         "%s tier has not completed a sweep for %.1f s (driver call hung?)",
			         sample_tier_name(t), since);
			for (int m = 0; m < METRIC_COUNT; m++)
				if (source_table[metric_table[m].source].tier ==
				    (enum sample_tier)t)
					metric_set_del(&r->valid, m);
			if (t == TIER_FAST)
				for (unsigned k = 0; k < r->n_mig; k++)
					memset(&r->mig[k].valid, 0, sizeof(r->mig[k].valid));
		}
	}
agent:
	/* A process table the slow tier stopped refreshing (or of a lost GPU) is not shown. */
	if (r->procs && (r->health == GPU_LOST ||
	                 now - r->procs->published > stall_limit(b->interval[TIER_SLOW]))) {
		process_table_unref((struct process_table *)r->procs);
		r->procs = NULL;
	}
	if (r->health == GPU_LOST) {
		/* Nothing read from a lost GPU is current any more. */
		memset(&r->valid, 0, sizeof(r->valid));
		r->nvlink.links = 0;
		for (unsigned k = 0; k < r->n_mig; k++)
			memset(&r->mig[k].valid, 0, sizeof(r->mig[k].valid));
	}
	r->raw[METRIC_GPU_UP] = r->health == GPU_OK ? 1 : 0;
	metric_set_add(&r->valid, METRIC_GPU_UP);
}

int board_snapshot(struct board *b, struct board_snapshot *out)
{
	memset(out, 0, sizeof(*out));
	out->gpus = calloc(b->count ? b->count : 1, sizeof(*out->gpus));
	if (!out->gpus)
		return -1;
	out->generation = board_generation(b);
	out->count = b->count;
	out->info = b->info;
	for (unsigned i = 0; i < b->count; i++) {
		pthread_mutex_lock(&b->slots[i].lock);
		out->gpus[i] = b->slots[i].rec;
		process_table_ref(out->gpus[i].procs);
		pthread_mutex_unlock(&b->slots[i].lock);
	}
	out->taken = mono_now();
	for (unsigned i = 0; i < out->count; i++)
		board_judge(b, &out->gpus[i], out->taken);
	return 0;
}

void board_snapshot_free(struct board_snapshot *s)
{
	for (unsigned i = 0; s->gpus && i < s->count; i++)
		process_table_unref((struct process_table *)s->gpus[i].procs);
	free(s->gpus);
	s->gpus = NULL;
	s->count = 0;
}

const char *gpu_health_name(enum gpu_health h)
{
	switch (h) {
	case GPU_PROBING:
		return "probing";
	case GPU_OK:
		return "ok";
	case GPU_STALLED:
		return "stalled";
	case GPU_FAILING:
		return "failing";
	case GPU_LOST:
		return "lost";
	case GPU_INACCESSIBLE:
		return "inaccessible";
	}
	return "unknown";
}

void gpu_record_reason(const struct gpu_record *r, int m, char *buf, size_t len)
{
	enum source_id src = metric_table[m].source;
	const struct source_status *st = &r->sources[src];
	if (metric_set_has(&r->supported, m))
		snprintf(buf, len, "supported");
	else if (!st->probed)
		snprintf(buf, len, "not probed (GPU %s)", gpu_health_name(r->health));
	else if (st->rc == NVML_SUCCESS)
		snprintf(buf, len, "%s answers without this figure on this driver",
		         source_table[src].call);
	else if (st->rc == NVML_ERROR_FUNCTION_NOT_FOUND)
		snprintf(buf, len, "%s: not in this NVML library (driver too old)",
		         source_table[src].call);
	else
		snprintf(buf, len, "%s: %s (NVML %d)", source_table[src].call,
		         nvml_lib_strerror(NULL, st->rc), st->rc);
}

bool gpu_record_failing(const struct gpu_record *r, int m, double now, char *buf, size_t len)
{
	enum source_id src = metric_table[m].source;
	int rc = r->source_error[src];
	if (rc == 0 || !metric_set_has(&r->supported, m))
		return false;
	double for_s = now - r->source_error_since[src];
	snprintf(buf, len, "%s: %s (NVML %d) for %.0f s", source_table[src].call,
	         nvml_lib_strerror(NULL, rc), rc, for_s > 0 ? for_s : 0);
	return true;
}

const char *gpu_record_state(const struct gpu_record *r, unsigned *n_failing)
{
	unsigned n = 0;
	for (int m = 0; m < METRIC_COUNT; m++)
		n += r->source_error[metric_table[m].source] != 0 &&
		     metric_set_has(&r->supported, m);
	if (n_failing)
		*n_failing = n;
	return r->health == GPU_OK && n ? "degraded" : gpu_health_name(r->health);
}
