/* sampler.c - each GPU's probe and slow tier (jobs on the pool) and the fast step.
 *
 * A GPU's first job on the pool (sample/pool.h) opens the handle, reads the
 * identity, probes what the GPU supports, lists its MIG instances, asks the
 * event thread for its events (events.c) and hands the GPU to the fast
 * sweepers (sweeper.c); its later jobs run its slow tier, once per slow
 * interval.  A few pool workers serve every GPU, and one event thread waits
 * on one event set for all of them, so the threads do not grow with the GPU
 * count.  The fast tier of all GPUs runs on one shared sweeper thread, one
 * GPU after the other: a sweep right after another finds the driver's code
 * and data warm, and costs a quarter of one that wakes up cold (262 vs 67 us
 * of CPU per GPU on an H200, bench/README.md).  A GPU whose fast step hangs
 * or keeps running slow is moved to a thread of its own, and a pool worker
 * stuck in one GPU's slow job is replaced, so one GPU cannot hold the others
 * back for more than about a second.
 *
 * Which source is read when is decided in one place: each GPU has one list of
 * {source, period, next due} (sample/schedule.h), and each thread's step
 * reads the sources of its own that are due into a private frame, then
 * publishes the frame in one short critical section (board_publish_reads).
 * What a step did not read keeps its value on the board.
 *
 * GPM calls from any thread take one process-wide lock (sample/gpm.c): on
 * driver 580 they crashed inside the driver when two threads made them at
 * once.  The shared sweeper makes nearly all of them; the slow job makes the
 * graphics-engine one, on the costly tier.
 */
#include "sample/worker.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sample/probe.h"
#include "sample/profile.h"

bool sampler_sleep_until(struct sampler *s, double deadline)
{
	pthread_mutex_lock(&s->lock);
	while (!atomic_load(&s->stop)) {
		double now = mono_now();
		if (now >= deadline)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		double wait = deadline - now;
		ts.tv_sec += (time_t)wait;
		ts.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (pthread_cond_timedwait(&s->wake, &s->lock, &ts) == ETIMEDOUT)
			break;
	}
	bool stop = atomic_load(&s->stop);
	pthread_mutex_unlock(&s->lock);
	return stop;
}

bool sampler_sleep_to_next(struct sampler *s, double *due, double period)
{
	*due += period;
	double now = mono_now();
	if (*due < now)
		*due = now + period;
	return sampler_sleep_until(s, *due);
}

void sampler_note_error(struct gpu_worker *w, const char *call, nvmlReturn_t rc)
{
	char why[160];
	snprintf(why, sizeof(why), "%s: %s", call, nvml_lib_strerror(w->s->lib, rc));
	board_set_health(w->s->board, w->index,
	                 rc == NVML_ERROR_GPU_IS_LOST ? GPU_LOST : GPU_FAILING, why);
}

/* The one rule for the utilization buffers: at a fast tier of 200 ms or less
 * every utilization sample is seen by a fast poll, and the buffers (~2.7 ms a
 * read) would add nothing; slower, they feed the windows instead. */
static bool util_buffers_wanted(const struct sampler_config *cfg, const struct source_status *st)
{
	return st[SRC_UTIL_SAMPLES].supported && cfg->fast_s > UTIL_SAMPLE_PERIOD_S;
}

/* The GPU's schedule: every scheduled source with a reader and a supported
 * metric, and the utilization buffers when wanted.  A source the probe has
 * just read is first due a period after `now`, any other at once.  Fills
 * which windows driver samples feed and which tiers are read. */
static void plan_schedule(struct gpu_worker *w, const struct source_status *sources, double now,
                          metric_set *sampled, unsigned *tiers)
{
	const struct sampler_config *cfg = &w->s->cfg;
	memset(sampled, 0, sizeof(*sampled));
	metric_set_add(sampled, METRIC_POWER_INSTANT);
	bool util = util_buffers_wanted(cfg, sources);
	if (util) {
		metric_set_add(sampled, METRIC_GPU_UTIL);
		metric_set_add(sampled, METRIC_MEM_UTIL);
	}
	*tiers = 1u << TIER_FAST | 1u << TIER_SLOW;
	w->sched.n = 0;
	for (int src = 0; src < SRC_COUNT; src++) {
		bool wanted = src == SRC_UTIL_SAMPLES && util;
		for (int m = 0; m < METRIC_COUNT && !wanted && src != SRC_UTIL_SAMPLES; m++)
			wanted = metric_table[m].source == (enum source_id)src &&
			         metric_set_has(&w->supported, m);
		if (!wanted || !source_reader(src) || sched_base_period(src, cfg) <= 0)
			continue;
		double first =
		    sources[src].rc == NVML_SUCCESS ? now + sched_base_period(src, cfg) : now;
		sched_add(&w->sched, src, cfg, first);
		*tiers |= 1u << source_table[src].tier;
	}
}

/* Hands what readers left in ctx beyond raw values to the board: driver
 * samples for the windows, the NVLink links. */
static void publish_extras(struct gpu_worker *w, struct source_ctx *ctx)
{
	for (unsigned i = 0; i < ctx->n_batches; i++)
		board_add_samples(w->s->board, w->index, ctx->batch[i].metric, ctx->batch[i].v,
		                  ctx->batch[i].n);
	ctx->n_batches = 0;
	if (ctx->nvlink_read)
		board_publish_nvlink(w->s->board, w->index, &ctx->nvlink);
	ctx->nvlink_read = false;
}

/* Adds the read of entry e to r. */
static void note_read(struct board_reads *r, const struct sched_entry *e, nvmlReturn_t rc)
{
	r->src[r->n] = e->src;
	r->rc[r->n] = (int)rc;
	r->period[r->n] = e->period;
	r->idle_period[r->n] = e->idle_period;
	r->stretch[r->n] = e->stretch;
	r->cost[r->n++] = e->cost;
}

/* One pass over the schedule: reads the sources of thread `mine` that are due at `now` into
 * r, counting in *calls those that call NVML (not the derived clock loss) and in *failed
 * those that failed.  GPU_LOST stops it. */
static enum gpu_health read_due(struct gpu_worker *w, struct source_ctx *ctx,
                                enum sched_thread mine, double now, struct board_reads *r,
                                int *calls, int *failed, char *why, size_t whylen)
{
	double *raw = (double *)r->raw;
	for (unsigned i = 0; i < w->sched.n; i++) {
		struct sched_entry *e = &w->sched.e[i];
		if (e->thread != mine || !sched_is_due(e, now))
			continue;
		enum source_id src = e->src;
		/* The worker's calls are timed, for the rule for dear reads; the sweeper's,
		 * microseconds each, only when profiling. */
		double cpu0 = mine == SCHED_WORKER ? thread_cpu_now() : 0;
		long long begun = profile_begin();
		ctx->period = e->period;
		nvmlReturn_t rc = source_reader(src)(ctx, raw, &r->got);
		profile_end(source_table[src].tier, src, begun);
		if (rc == SOURCE_SKIPPED)
			continue; /* tried again at the next step; its values stay */
		sched_done(e, now, mine == SCHED_WORKER ? thread_cpu_now() - cpu0 : 0);
		note_read(r, e, rc);
		*calls += src != SRC_CLOCK_LOSS;
		if (rc == NVML_SUCCESS)
			continue;
		snprintf(why, whylen, "%s: %s", source_table[src].call,
		         nvml_lib_strerror(w->s->lib, rc));
		if (rc == NVML_ERROR_GPU_IS_LOST)
			return GPU_LOST;
		(*failed)++;
	}
	return GPU_OK;
}

enum gpu_health sampler_sweep(struct gpu_worker *w, struct source_ctx *ctx, enum sample_tier tier,
                              double now, int duration_metric, char *why, size_t whylen)
{
	double raw[METRIC_COUNT];
	struct board_reads r = {.tier = tier, .raw = raw};
	enum sched_thread mine = tier == TIER_FAST ? SCHED_SWEEPER : SCHED_WORKER;
	int failed = 0, calls = 0;
	double t0 = mono_now();

	enum gpu_health h = read_due(w, ctx, mine, now, &r, &calls, &failed, why, whylen);
	/* The idle rule: a step whose readings woke the GPU reads what the wake made due. */
	if (h != GPU_LOST && mine == SCHED_SWEEPER &&
	    sched_idle_judge(&w->sched, now, raw, &r.got, atomic_load(&w->n_procs)))
		h = read_due(w, ctx, mine, now, &r, &calls, &failed, why, whylen);
	if (h == GPU_LOST)
		return GPU_LOST;
	if (mine == SCHED_SWEEPER) {
		w->fast_reads += calls;
		raw[METRIC_FAST_READS] = w->fast_reads;
		metric_set_add(&r.got, METRIC_FAST_READS);
		raw[METRIC_SAMPLE_IDLE] = w->sched.idle.idle;
		metric_set_add(&r.got, METRIC_SAMPLE_IDLE);
	}
	if (duration_metric >= 0) {
		raw[duration_metric] = mono_now() - t0;
		metric_set_add(&r.got, duration_metric);
	}
	publish_extras(w, ctx);
	board_publish_reads(w->s->board, w->index, &r);
	return calls > 0 && failed >= calls ? GPU_FAILING : GPU_OK;
}

void sampler_fast_step(struct gpu_worker *w)
{
	struct sampler *s = w->s;
	char why[160] = "";
	double now = mono_now();
	enum gpu_health h =
	    sampler_sweep(w, w->fast, TIER_FAST, now, METRIC_FAST_SWEEP, why, sizeof(why));
	for (unsigned k = 0; h != GPU_LOST && k < w->n_mig; k++) {
		double raw[METRIC_COUNT];
		struct board_reads r = {.tier = TIER_FAST, .raw = raw};
		long long begun = profile_begin();
		nvmlReturn_t rc = mig_read(s->lib, w->dev, &w->mig[k], now, &r);
		profile_end(TIER_FAST, PROFILE_MIG, begun);
		if (rc == NVML_ERROR_GPU_IS_LOST) {
			h = GPU_LOST;
			snprintf(why, sizeof(why), "MIG instance %u: GPU is lost", w->mig[k].gi);
		}
		if (r.n)
			board_publish_mig(s->board, w->index, k, &r);
	}
	/* The GPU leaves "probing" with its first published sweep. */
	if (h != w->reported || h != GPU_OK)
		board_set_health(s->board, w->index, h, h == GPU_OK ? "" : why);
	w->reported = h;
	if (h == GPU_LOST)
		atomic_store(&w->owner, OWNER_NONE);
}

/* Publishes the probe's readings as the reads of every source it probed, each with the
 * period it is scheduled at (0: not scheduled), so staleness is judged from the probe on. */
static void publish_probe(struct gpu_worker *w, struct source_ctx *worker,
                          const struct probe_result *p)
{
	struct board_reads r = {.tier = TIER_STATIC, .raw = p->raw, .got = p->got};
	for (int src = 0; src < SRC_COUNT; src++) {
		const struct source_status *st = &p->sources[src];
		if (!st->probed || !source_reader(src) || !st->supported)
			continue;
		const struct sched_entry *e = sched_find(&w->sched, src);
		r.src[r.n] = (unsigned char)src;
		r.rc[r.n] = st->rc;
		r.period[r.n] = e ? e->period : 0;
		r.idle_period[r.n] = e ? e->idle_period : 0;
		r.stretch[r.n] = 1;
		r.cost[r.n++] = 0;
	}
	publish_extras(w, w->fast);
	publish_extras(w, worker);
	board_publish_reads(w->s->board, w->index, &r);
}

/* Opens GPU w, reads its identity, probes what it supports, plans its schedule, lists
 * its MIG instances and asks the event thread for its events; then hands its fast tier
 * to the sweepers.  False when the GPU cannot be sampled (not opened, lost). */
static bool gpu_probe(struct gpu_worker *w)
{
	struct sampler *s = w->s;
	char why[160];
	nvmlReturn_t rc = s->lib->device_get_handle_by_index(w->index, &w->dev);
	if (rc != NVML_SUCCESS) {
		snprintf(why, sizeof(why), "nvmlDeviceGetHandleByIndex: %s",
		         nvml_lib_strerror(s->lib, rc));
		enum gpu_health h = rc == NVML_ERROR_GPU_IS_LOST     ? GPU_LOST
		                    : rc == NVML_ERROR_NO_PERMISSION ? GPU_INACCESSIBLE
		                                                     : GPU_FAILING;
		board_set_health(s->board, w->index, h, why);
		return false;
	}
	struct gpu_identity id;
	rc = probe_identity(s->lib, w->dev, &id);
	if (rc == NVML_ERROR_GPU_IS_LOST) {
		sampler_note_error(w, "identity", rc);
		return false;
	}
	board_set_identity(s->board, w->index, &id);
	snprintf(w->uuid, sizeof(w->uuid), "%s", id.uuid);

	struct probe_result *probe = malloc(sizeof(*probe));
	if (!probe) {
		board_set_health(s->board, w->index, GPU_FAILING, "out of memory");
		return false;
	}
	w->fast->lib = w->slow->lib = s->lib;
	w->fast->dev = w->slow->dev = w->dev;
	/* Each source is probed on the context that will read it: primed. */
	probe_device(w->fast, w->slow, probe);
	w->supported = probe->supported;
	metric_set sampled;
	unsigned tiers;
	double now = mono_now();
	plan_schedule(w, probe->sources, now, &sampled, &tiers);
	board_set_probe(s->board, w->index, probe->sources, &probe->supported, &sampled, tiers);
	publish_probe(w, w->slow, probe);
	bool lost = probe->lost;
	free(probe);
	if (lost) {
		board_set_health(s->board, w->index, GPU_LOST, "GPU is lost (during probe)");
		return false;
	}
	struct mig_record rec[GPU_MAX_MIG];
	/* Room for the most a GPU can have, its pages touched only by the instances found;
	 * kept only when there are some (out of memory: the GPU is sampled without them). */
	w->mig = malloc(GPU_MAX_MIG * sizeof(*w->mig));
	w->n_mig = w->mig ? mig_discover(s->lib, w->dev, w->mig, rec) : 0;
	if (!w->n_mig) {
		free(w->mig);
		w->mig = NULL;
	}
	for (unsigned k = 0; k < w->n_mig; k++)
		mig_schedule(&w->mig[k], &s->cfg, now);
	if (w->n_mig)
		board_set_mig(s->board, w->index, w->n_mig, rec);

	if (metric_set_has(&w->supported, METRIC_XID_COUNT))
		w->ev_mask |= nvmlEventTypeXidCriticalError;
	if (metric_set_has(&w->supported, METRIC_DBE_EVENTS))
		w->ev_mask |= nvmlEventTypeDoubleBitEccError;
	atomic_store(&w->ev_wanted, w->ev_mask != 0);

	/* Hand the fast tier over; it publishes the GPU's first sweep. */
	w->reported = GPU_PROBING;
	atomic_store(&w->owner, OWNER_SHARED);
	return true;
}

/* One slow step of GPU w: its due slow and costly sources, then who uses the GPU (its
 * processes, attributed: sample/attribution.c).  Only the fast tier judges health; the
 * slow step reports a lost GPU, and returns false then. */
static bool gpu_slow_step(struct gpu_worker *w)
{
	struct sampler *s = w->s;
	char why[160];
	enum gpu_health h =
	    sampler_sweep(w, w->slow, TIER_SLOW, mono_now(), METRIC_SLOW_SWEEP, why, sizeof(why));
	long long begun = profile_begin();
	nvmlReturn_t prc = h != GPU_LOST && w->procs
	                       ? attribution_gpu_sweep(s->cfg.attribution, w->procs, s->lib, w->dev,
	                                               s->board, w->index, w->uuid)
	                       : NVML_SUCCESS;
	if (w->procs) {
		profile_end(TIER_SLOW, PROFILE_PROCESSES, begun);
		if (prc == NVML_SUCCESS)
			atomic_store(&w->n_procs, w->procs->listed);
	}
	if (prc == NVML_ERROR_GPU_IS_LOST) {
		h = GPU_LOST;
		snprintf(why, sizeof(why), "nvmlDeviceGetComputeRunningProcesses: GPU is lost");
	}
	if (h == GPU_LOST)
		board_set_health(s->board, w->index, GPU_LOST, why);
	return h != GPU_LOST;
}

/* A GPU's job on the pool (sample/pool.h): its probe the first time, then a slow step
 * every slow interval.  The steps of all GPUs follow one grid from the sampler's start,
 * so they fall due together and run back to back; the first comes right after the
 * probe, as sources the probe could not read are due at once. */
static double gpu_job(void *arg, unsigned gpu)
{
	struct sampler *s = arg;
	struct gpu_worker *w = &s->workers[gpu];
	if (!w->probed) {
		w->probed = true;
		bool ok = gpu_probe(w);
		atomic_fetch_sub(&s->probes_left, 1);
		return ok ? mono_now() : INFINITY;
	}
	if (!gpu_slow_step(w))
		return INFINITY;
	return pool_grid_next(s->started_at, s->cfg.slow_s, mono_now());
}

struct sampler *sampler_start(const struct nvml_lib *lib, struct board *board,
                              const struct sampler_config *cfg, char *err, size_t errlen)
{
	struct sampler *s = calloc(1, sizeof(*s));
	if (!s)
		goto err;
	s->lib = lib;
	s->board = board;
	s->cfg = *cfg;
	s->count = board->count;
	s->shared = -1;
	s->started_at = mono_now();
	atomic_init(&s->stop, false);
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &attr);
	pthread_condattr_destroy(&attr);
	s->max_sweepers = 2 * (int)s->count + 1;
	s->workers = calloc(s->count ? s->count : 1, sizeof(*s->workers));
	s->sweepers = calloc((size_t)s->max_sweepers, sizeof(*s->sweepers));
	if (!s->workers || !s->sweepers)
		goto err;
	for (unsigned i = 0; i < s->count; i++) {
		struct gpu_worker *w = &s->workers[i];
		w->s = s;
		w->index = i;
		atomic_init(&w->owner, OWNER_NONE);
		if (!(w->fast = calloc(1, sizeof(*w->fast))) ||
		    !(w->slow = calloc(1, sizeof(*w->slow))))
			goto err;
		if (cfg->attribution && !(w->procs = calloc(1, sizeof(*w->procs))))
			goto err;
		atomic_init(&w->n_procs, w->procs ? SCHED_PROCS_PENDING : SCHED_PROCS_UNLISTED);
	}
	atomic_init(&s->probes_left, s->count);
	if (!s->count)
		return s;
	if (!(s->pool = pool_start(s->count, gpu_job, s, "gpuscope-slow",
	                           pool_hung_after(cfg->slow_s)))) {
		snprintf(err, errlen, "cannot start the slow sampling threads");
		goto err;
	}
	if (sweepers_start(s) != 0) {
		snprintf(err, errlen, "cannot start the fast sampling thread");
		sampler_stop(s);
		return NULL;
	}
	/* Without it, the event metrics stay absent. */
	atomic_store(&s->events_started, pthread_create(&s->events, NULL, events_main, s) == 0);
	return s;
err:
	if (s && !*err)
		snprintf(err, errlen, "out of memory starting the sampler");
	if (s) {
		for (unsigned i = 0; s->workers && i < s->count; i++) {
			free(s->workers[i].fast);
			free(s->workers[i].slow);
			free(s->workers[i].procs);
		}
		free(s->workers);
		free(s->sweepers);
		free(s);
	}
	return NULL;
}

void sampler_wait_probed(struct sampler *s, double timeout_s)
{
	double end = mono_now() + timeout_s;
	while (mono_now() < end) {
		struct board_snapshot snap;
		if (board_snapshot(s->board, &snap) != 0)
			return;
		bool probing = false;
		for (unsigned i = 0; i < snap.count; i++)
			probing |= snap.gpus[i].health == GPU_PROBING;
		board_snapshot_free(&snap);
		if (!probing)
			return;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int sampler_join_or_abandon(pthread_t t, atomic_bool *done, double deadline)
{
	while (!atomic_load(done) && mono_now() < deadline) {
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (!atomic_load(done)) {
		pthread_detach(t);
		return 1;
	}
	pthread_join(t, NULL);
	return 0;
}

/* With GPUSCOPE_PROFILE, the sources whose period the rule for dear reads stretched:
 * "profile stretched gpuN SOURCE BASE_S PERIOD_S LAST_READ_CPU_MS", and each GPU under the
 * idle rule: "profile idle gpuN IDLE_PERIOD_S SECONDS_IDLE SECONDS_RUN TIMES_IDLE".  Threads
 * are joined. */
static void profile_print_periods(const struct sampler *s)
{
	if (!profile_enabled())
		return;
	double now = mono_now();
	for (unsigned i = 0; i < s->count; i++) {
		const struct sched_idle *d = &s->workers[i].sched.idle;
		if (d->period > 0)
			fprintf(stderr, "profile idle gpu%u %g %.1f %.1f %u\n", i, d->period,
			        d->idle_total + (d->idle ? now - d->idle_since : 0),
			        now - s->started_at, d->entered);
		for (unsigned k = 0; k < s->workers[i].sched.n; k++) {
			const struct sched_entry *e = &s->workers[i].sched.e[k];
			if (e->stretch > 1)
				fprintf(stderr, "profile stretched gpu%u %s %g %g %.1f\n", i,
				        source_table[e->src].name, e->base, e->period,
				        e->cost * 1e3);
		}
	}
}

int sampler_stop(struct sampler *s)
{
	if (!s)
		return 0;
	pthread_mutex_lock(&s->lock);
	atomic_store(&s->stop, true);
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);

	double deadline = mono_now() + 2.0;
	profile_print(stderr, mono_now() - s->started_at);
	int hung = sweepers_stop(s, deadline);
	hung += pool_stop(s->pool, deadline);
	if (atomic_load(&s->events_started))
		hung += sampler_join_or_abandon(s->events, &s->events_done, deadline);
	if (hung == 0) {
		profile_print_periods(s);
		for (unsigned i = 0; i < s->count; i++) {
			struct gpu_worker *w = &s->workers[i];
			mig_release(s->lib, w->mig, w->n_mig);
			free(w->mig);
			if (w->fast)
				source_ctx_release(w->fast);
			if (w->slow)
				source_ctx_release(w->slow);
			free(w->fast);
			free(w->slow);
			attribution_gpu_release(w->procs);
			free(w->procs);
		}
		pthread_cond_destroy(&s->wake);
		pthread_mutex_destroy(&s->lock);
		free(s->workers);
		free(s->sweepers);
		free(s);
	}
	/* With threads left in the driver, s stays allocated: they still use it. */
	return hung;
}
