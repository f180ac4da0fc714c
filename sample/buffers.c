/* buffers.c - the driver's sample buffers: every power and utilization
 * sample the driver took, not just the one current at a poll.
 *
 * The driver samples total power every 20 ms and keeps the latest ~120
 * (2.4 s); utilization every 200 ms, the latest 72.  Every BUFFER_INTERVAL_S
 * (2 s) the fast step asks for the samples newer than the newest it has
 * seen, so none is lost between reads, and hands them, with the driver's
 * timestamps, to the window ring: a 100 ms power transient reaches the
 * scrape window's max even though no poll coincided with it.  Power samples
 * are also integrated (trapezoid) into an energy counter that is finer-
 * grained than the driver's energy counter on the costly tier.
 *
 * A read costs ~0.7 ms of CPU for power and ~2.7 ms for utilization on an
 * H200 (bench/call_cost.c), whatever span it returns, which is why the power
 * buffer is read as seldom as its 2.4 s allow and the utilization buffers
 * only when the fast tier is too slow to see every 200 ms sample itself.  A
 * read that comes too late (a stalled sweeper, an overloaded host) shows as
 * a gap between the last sample and the next: said once on stderr; the
 * energy integral bridges it with a straight line.
 */
#include "sample/sources.h"

#include <stdatomic.h>
#include <stdio.h>

/* Consecutive 20 ms power samples further apart than this: some were lost. */
#define POWER_GAP_S 0.1

static double sample_value(int type, const nvmlValue_t *v)
{
	switch (type) {
	case NVML_VALUE_TYPE_DOUBLE:
		return v->dVal;
	case NVML_VALUE_TYPE_UNSIGNED_LONG:
		return (double)v->ulVal;
	case NVML_VALUE_TYPE_UNSIGNED_LONG_LONG:
		return (double)v->ullVal;
	case NVML_VALUE_TYPE_SIGNED_LONG_LONG:
		return (double)v->sllVal;
	case NVML_VALUE_TYPE_SIGNED_INT:
		return v->siVal;
	case NVML_VALUE_TYPE_UNSIGNED_SHORT:
		return v->usVal;
	}
	return v->uiVal;
}

/* Reads the samples of one type newer than the last seen into a batch for
 * metric m.  NOT_FOUND (nothing new) is success with no samples. */
static nvmlReturn_t read_buffer(struct source_ctx *ctx, int type, enum metric_id m,
                                struct sample_batch **out)
{
	*out = NULL;
	if (!ctx->lib->device_get_samples)
		return NVML_ERROR_FUNCTION_NOT_FOUND;
	if (ctx->n_batches >= sizeof(ctx->batch) / sizeof(ctx->batch[0]))
		return NVML_ERROR_INSUFFICIENT_SIZE; /* a sweep drains them: cannot happen */
	nvmlSample_t s[SAMPLE_BATCH_MAX];
	unsigned count = SAMPLE_BATCH_MAX;
	int vt = NVML_VALUE_TYPE_UNSIGNED_INT;
	nvmlReturn_t rc =
	    ctx->lib->device_get_samples(ctx->dev, type, ctx->buf.last_seen[type], &vt, &count, s);
	if (rc == NVML_ERROR_NOT_FOUND)
		return NVML_SUCCESS;
	if (rc != NVML_SUCCESS)
		return rc;
	struct sample_batch *b = &ctx->batch[ctx->n_batches++];
	b->metric = m;
	b->n = 0;
	for (unsigned i = 0; i < count && i < SAMPLE_BATCH_MAX; i++) {
		if (s[i].timeStamp <= ctx->buf.last_seen[type])
			continue; /* the driver may repeat the boundary sample */
		b->v[b->n].t = (double)s[i].timeStamp / 1e6;
		b->v[b->n].v = sample_value(vt, &s[i].sampleValue);
		b->n++;
	}
	/* Samples come oldest first; keep the newest timestamp whatever the order. */
	for (unsigned i = 0; i < count && i < SAMPLE_BATCH_MAX; i++)
		if (s[i].timeStamp > ctx->buf.last_seen[type])
			ctx->buf.last_seen[type] = s[i].timeStamp;
	*out = b;
	return NVML_SUCCESS;
}

nvmlReturn_t read_power_samples(struct source_ctx *ctx, double *raw, metric_set *got)
{
	struct sample_batch *b;
	nvmlReturn_t rc = read_buffer(ctx, NVML_TOTAL_POWER_SAMPLES, METRIC_POWER_INSTANT, &b);
	if (rc != NVML_SUCCESS)
		return rc;
	struct buffer_state *st = &ctx->buf;
	static atomic_bool gap_said;
	if (b && b->n && st->have_prev && b->v[0].t - st->prev_t > POWER_GAP_S &&
	    !atomic_exchange(&gap_said, true))
		fprintf(
		    stderr,
		    "gpuscope: power samples lost: %.2f s between two driver samples (the driver "
		    "keeps 2.4 s; the buffer read came late)\n",
		    b->v[0].t - st->prev_t);
	for (unsigned i = 0; b && i < b->n; i++) {
		double t = b->v[i].t, mw = b->v[i].v;
		if (st->have_prev && t > st->prev_t)
			st->integrated_mj += (st->prev_mw + mw) / 2 * (t - st->prev_t);
		st->prev_t = t;
		st->prev_mw = mw;
		st->have_prev = true;
	}
	if (!st->have_prev)
		return NVML_SUCCESS; /* no sample yet: nothing to say */
	raw[METRIC_POWER_INSTANT] = st->prev_mw;
	metric_set_add(got, METRIC_POWER_INSTANT);
	raw[METRIC_POWER_INTEGRATED] = st->integrated_mj;
	metric_set_add(got, METRIC_POWER_INTEGRATED);
	return NVML_SUCCESS;
}

/* Utilization samples feed only the windows of utilization.gpu and .memory;
 * their last value comes from the fast tier's nvmlDeviceGetUtilizationRates. */
nvmlReturn_t read_util_samples(struct source_ctx *ctx, double *raw, metric_set *got)
{
	struct sample_batch *b;
	nvmlReturn_t rc = read_buffer(ctx, NVML_GPU_UTILIZATION_SAMPLES, METRIC_GPU_UTIL, &b);
	if (rc != NVML_SUCCESS)
		return rc;
	return read_buffer(ctx, NVML_MEMORY_UTILIZATION_SAMPLES, METRIC_MEM_UTIL, &b);
}
