/* sampler.c - per-GPU fast and slow sampling threads.
 *
 * A tier's sweep reads its supported sources into a private frame and then
 * publishes the frame in one short critical section (board_publish), on a
 * fixed-rate schedule (sleep_to_next).
 */
#include "sample/worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sample/probe.h"

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

void sampler_note_error(struct gpu_worker *w, const char *call, nvmlReturn_t rc)
{
	char why[160];
	snprintf(why, sizeof(why), "%s: %s", call, nvml_lib_strerror(w->s->lib, rc));
	board_set_health(w->s->board, w->index,
	                 rc == NVML_ERROR_GPU_IS_LOST ? GPU_LOST : GPU_FAILING, why);
}

/* Fixed-rate schedule: the next sweep is due one period after the last was
 * due; a sweep that overran skips ahead rather than bursting.  Returns true
 * on stop. */
static bool sleep_to_next(struct sampler *s, double *due, double period)
{
	*due += period;
	double now = mono_now();
	if (*due < now)
		*due = now + period;
	return sampler_sleep_until(s, *due);
}

/* Which sources each tier reads: those with a reader and a supported
 * metric, and the utilization buffers (which feed windows, not metrics of
 * their own) when the probe found them. */
static void plan_sweeps(struct gpu_worker *w, const struct source_status *sources)
{
	memset(w->plan_len, 0, sizeof(w->plan_len));
	for (int src = 0; src < SRC_COUNT; src++) {
		bool wanted = src == SRC_UTIL_SAMPLES && sources[src].supported;
		for (int m = 0; m < METRIC_COUNT && !wanted; m++)
			wanted = metric_table[m].source == (enum source_id)src &&
			         metric_set_has(&w->supported, m);
		if (wanted && source_reader(src)) {
			enum sample_tier t = source_table[src].tier;
			w->plan[t][w->plan_len[t]++] = (unsigned char)src;
		}
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

/* One sweep of one tier, published with its duration (when the tier has a
 * duration metric, else -1) in one critical section.  Returns the health the
 * sweep shows: GPU_LOST ends the thread; GPU_FAILING when every source of the
 * sweep failed (a single failing source only loses its own values for this
 * sweep). */
static enum gpu_health sweep(struct gpu_worker *w, struct source_ctx *ctx, enum sample_tier tier,
                             int duration_metric, char *why, size_t whylen)
{
	double raw[METRIC_COUNT];
	metric_set got = {0};
	int failed = 0;
	double t0 = mono_now();

	int calls = 0; /* sources that call NVML (not the derived clock loss) */
	for (int i = 0; i < w->plan_len[tier]; i++) {
		enum source_id src = w->plan[tier][i];
		calls += src != SRC_CLOCK_LOSS;
		nvmlReturn_t rc = source_reader(src)(ctx, raw, &got);
		if (rc == NVML_SUCCESS)
			continue;
		snprintf(why, whylen, "%s: %s", source_table[src].call,
		         nvml_lib_strerror(w->s->lib, rc));
		if (rc == NVML_ERROR_GPU_IS_LOST)
			return GPU_LOST;
		failed++;
	}
	if (duration_metric >= 0) {
		raw[duration_metric] = mono_now() - t0;
		metric_set_add(&got, duration_metric);
	}
	publish_extras(w, ctx);
	board_publish(w->s->board, w->index, tier, raw, &got);
	return calls > 0 && failed >= calls ? GPU_FAILING : GPU_OK;
}

static void *slow_main(void *arg)
{
	struct gpu_worker *w = arg;
	struct source_ctx ctx = {.lib = w->s->lib, .dev = w->dev};
	double due = mono_now();
	char why[160];
	while (!atomic_load(&w->s->stop)) {
		/* Only the fast tier judges health; the slow one reports a lost GPU. */
		if (sweep(w, &ctx, TIER_SLOW, METRIC_SLOW_SWEEP, why, sizeof(why)) == GPU_LOST) {
			board_set_health(w->s->board, w->index, GPU_LOST, why);
			break;
		}
		if (sleep_to_next(w->s, &due, w->s->cfg.slow_s))
			break;
	}
	source_ctx_release(&ctx);
	atomic_store(&w->slow_done, true);
	return NULL;
}

static void *fast_main(void *arg)
{
	struct gpu_worker *w = arg;
	struct sampler *s = w->s;
	struct gpu_identity id;
	struct source_ctx *ctx = NULL; /* reader state: ~7 KB, so not on the stack */
	char why[160];

	nvmlReturn_t rc = s->lib->device_get_handle_by_index(w->index, &w->dev);
	if (rc != NVML_SUCCESS) {
		snprintf(why, sizeof(why), "nvmlDeviceGetHandleByIndex: %s",
		         nvml_lib_strerror(s->lib, rc));
		enum gpu_health h = rc == NVML_ERROR_GPU_IS_LOST     ? GPU_LOST
		                    : rc == NVML_ERROR_NO_PERMISSION ? GPU_INACCESSIBLE
		                                                     : GPU_FAILING;
		board_set_health(s->board, w->index, h, why);
		goto out;
	}
	rc = probe_identity(s->lib, w->dev, &id);
	if (rc == NVML_ERROR_GPU_IS_LOST) {
		sampler_note_error(w, "identity", rc);
		goto out;
	}
	board_set_identity(s->board, w->index, &id);

	ctx = calloc(1, sizeof(*ctx));
	struct probe_result *probe = malloc(sizeof(*probe));
	if (!probe || !ctx) {
		board_set_health(s->board, w->index, GPU_FAILING, "out of memory");
		free(probe);
		goto out;
	}
	ctx->lib = s->lib;
	ctx->dev = w->dev;
	probe_device(ctx, probe);
	w->supported = probe->supported;
	plan_sweeps(w, probe->sources);
	board_set_probe(s->board, w->index, probe->sources, &probe->supported);
	publish_extras(w, ctx);
	board_publish(s->board, w->index, TIER_STATIC, probe->raw, &probe->got);
	bool lost = probe->lost;
	free(probe);
	if (!lost) {
		struct mig_record rec[GPU_MAX_MIG];
		w->n_mig = mig_discover(s->lib, w->dev, w->mig, rec);
		if (w->n_mig)
			board_set_mig(s->board, w->index, w->n_mig, rec);
	}
	if (lost) {
		board_set_health(s->board, w->index, GPU_LOST, "GPU is lost (during probe)");
		goto out;
	}
	atomic_store(&w->slow_started, pthread_create(&w->slow, NULL, slow_main, w) == 0);
	if (metric_set_has(&w->supported, METRIC_XID_COUNT) ||
	    metric_set_has(&w->supported, METRIC_DBE_EVENTS))
		atomic_store(&w->events_started,
		             pthread_create(&w->events, NULL, events_main, w) == 0);

	/* The GPU stays "probing" until its first fast sweep is published, so
	 * a reader that waited for the probe finds values, not an empty page. */
	double due = mono_now(), buffers_due = due;
	enum gpu_health reported = GPU_PROBING;
	while (!atomic_load(&s->stop)) {
		enum gpu_health h = sweep(w, ctx, TIER_FAST, METRIC_FAST_SWEEP, why, sizeof(why));
		for (unsigned k = 0; h != GPU_LOST && k < w->n_mig; k++) {
			double raw[METRIC_COUNT];
			metric_set got = {0};
			if (mig_read(s->lib, w->dev, &w->mig[k], raw, &got) ==
			    NVML_ERROR_GPU_IS_LOST) {
				h = GPU_LOST;
				snprintf(why, sizeof(why), "MIG instance %u: GPU is lost",
				         w->mig[k].gi);
			}
			board_publish_mig(s->board, w->index, k, raw, &got);
		}
		/* The sample buffers ride on the fast thread, once a second. */
		if (h != GPU_LOST && w->plan_len[TIER_BUFFER] && mono_now() >= buffers_due) {
			buffers_due += BUFFER_INTERVAL_S;
			if (buffers_due < mono_now())
				buffers_due = mono_now() + BUFFER_INTERVAL_S;
			char bwhy[160];
			if (sweep(w, ctx, TIER_BUFFER, -1, bwhy, sizeof(bwhy)) == GPU_LOST) {
				h = GPU_LOST;
				snprintf(why, sizeof(why), "%s", bwhy);
			}
		}
		if (h != reported || h != GPU_OK)
			board_set_health(s->board, w->index, h, h == GPU_OK ? "" : why);
		reported = h;
		if (h == GPU_LOST)
			break;
		if (sleep_to_next(s, &due, s->cfg.fast_s))
			break;
	}
out:
	mig_release(s->lib, w->mig, w->n_mig);
	if (ctx)
		source_ctx_release(ctx);
	free(ctx);
	atomic_store(&w->fast_done, true);
	return NULL;
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
	atomic_init(&s->stop, false);
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &attr);
	pthread_condattr_destroy(&attr);
	s->workers = calloc(s->count ? s->count : 1, sizeof(*s->workers));
	if (!s->workers)
		goto err;
	for (unsigned i = 0; i < s->count; i++) {
		struct gpu_worker *w = &s->workers[i];
		w->s = s;
		w->index = i;
		if (pthread_create(&w->fast, NULL, fast_main, w) != 0) {
			snprintf(err, errlen, "cannot start the sampler thread of GPU %u", i);
			atomic_store(&s->stop, true);
			for (unsigned k = 0; k < i; k++)
				pthread_join(s->workers[k].fast, NULL);
			goto err;
		}
	}
	return s;
err:
	if (s && !*err)
		snprintf(err, errlen, "out of memory starting the sampler");
	if (s) {
		free(s->workers);
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

/* Joins a thread if it finishes within the grace period; a thread stuck in
 * the driver is left behind (it holds no lock of ours). */
static int join_or_abandon(pthread_t t, atomic_bool *done, double deadline)
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

int sampler_stop(struct sampler *s)
{
	if (!s)
		return 0;
	pthread_mutex_lock(&s->lock);
	atomic_store(&s->stop, true);
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);

	int hung = 0;
	double deadline = mono_now() + 2.0;
	for (unsigned i = 0; i < s->count; i++) {
		struct gpu_worker *w = &s->workers[i];
		/* The fast thread starts the others: settle it first. */
		hung += join_or_abandon(w->fast, &w->fast_done, deadline);
		if (atomic_load(&w->slow_started))
			hung += join_or_abandon(w->slow, &w->slow_done, deadline);
		if (atomic_load(&w->events_started))
			hung += join_or_abandon(w->events, &w->events_done, deadline);
	}
	if (hung == 0) {
		pthread_cond_destroy(&s->wake);
		pthread_mutex_destroy(&s->lock);
		free(s->workers);
		free(s);
	}
	/* With threads left in the driver, s stays allocated: they still use it. */
	return hung;
}
