/* run_energy.c - power samples, energy counter and SM clock over a run (see run_energy.h). */
#include "inference/run_energy.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nvml/nvml_loader.h"

#define RE_MAX_GPUS    64
#define RE_POLL_NS     500000000L /* the driver keeps ~2.4 s of power samples */
#define RE_MAX_SAMPLES (1u << 21) /* per GPU: 11 h of 20 ms samples, 32 MiB */
#define RE_COUNTER_S   1.0        /* inferences longer than this use the energy counter */
#define RE_SAMPLE_S    0.020      /* what one power sample stands for */

struct reading {
	double t;     /* seconds since the run's base (whole Unix seconds): keeps ns precision */
	double value; /* W, J (counter) or MHz */
};

struct series {
	struct reading *r;
	size_t n, cap;
};

struct gpu {
	nvmlDevice_t dev;
	char uuid[96];
	unsigned long long last_seen; /* us, for nvmlDeviceGetSamples */
	struct series power, energy, clock;
	bool no_samples, no_counter, no_clock;
};

struct run_energy {
	struct nvml_lib lib;
	unsigned n;
	struct gpu gpu[RE_MAX_GPUS];
	pthread_t thread;
	atomic_bool stop;
	pthread_mutex_t lock;
	long long base; /* Unix seconds */
};

static double now_s(const struct run_energy *e)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)(ts.tv_sec - e->base) + (double)ts.tv_nsec / 1e9;
}

static void push(struct series *s, double t, double v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		if (cap > RE_MAX_SAMPLES)
			return;
		struct reading *r = realloc(s->r, cap * sizeof(*r));
		if (!r)
			return;
		s->r = r;
		s->cap = cap;
	}
	s->r[s->n++] = (struct reading){t, v};
}

static void poll_gpu(struct run_energy *e, struct gpu *g, bool counter)
{
	if (!g->no_samples && e->lib.device_get_samples) {
		nvmlSample_t buf[256];
		unsigned count = 256;
		int type;
		nvmlReturn_t rc = e->lib.device_get_samples(g->dev, NVML_TOTAL_POWER_SAMPLES,
		                                            g->last_seen, &type, &count, buf);
		if (rc == NVML_SUCCESS) {
			for (unsigned i = 0; i < count; i++) {
				if (buf[i].timeStamp <= g->last_seen)
					continue;
				long long us = (long long)buf[i].timeStamp - e->base * 1000000;
				push(&g->power, (double)us / 1e6,
				     (double)buf[i].sampleValue.uiVal / 1000.0);
				g->last_seen = buf[i].timeStamp;
			}
		} else if (nvml_rc_is_unsupported(rc)) {
			g->no_samples = true;
		}
	}
	unsigned long long mj;
	if (counter && !g->no_counter && e->lib.device_get_total_energy_consumption) {
		/* The read costs milliseconds on an H200: stamp it with the call's midpoint. */
		double before = now_s(e);
		nvmlReturn_t rc = e->lib.device_get_total_energy_consumption(g->dev, &mj);
		if (rc == NVML_SUCCESS)
			push(&g->energy, (before + now_s(e)) / 2, (double)mj / 1000.0);
		else if (nvml_rc_is_unsupported(rc))
			g->no_counter = true;
	}
	unsigned mhz;
	if (!g->no_clock && e->lib.device_get_clock_info) {
		nvmlReturn_t rc = e->lib.device_get_clock_info(g->dev, 1 /* SM */, &mhz);
		if (rc == NVML_SUCCESS)
			push(&g->clock, now_s(e), mhz);
		else if (nvml_rc_is_unsupported(rc))
			g->no_clock = true;
	}
}

static void poll_all(struct run_energy *e, bool counter)
{
	pthread_mutex_lock(&e->lock);
	for (unsigned i = 0; i < e->n; i++)
		poll_gpu(e, &e->gpu[i], counter);
	pthread_mutex_unlock(&e->lock);
}

static void *sampler(void *arg)
{
	struct run_energy *e = arg;
	unsigned tick = 0;
	while (!atomic_load(&e->stop)) {
		poll_all(e, tick++ % 2 == 0);
		struct timespec ts = {0, RE_POLL_NS};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

struct run_energy *run_energy_start(const char *nvml_path, char *why, size_t why_len)
{
	struct run_energy *e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	e->base = (long long)time(NULL) - 60; /* samples reach back ~2.4 s */
	if (nvml_lib_open(&e->lib, nvml_lib_choose(nvml_path), why, why_len) != 0)
		goto err;
	nvmlReturn_t rc = e->lib.init();
	if (rc != NVML_SUCCESS) {
		snprintf(why, why_len, "nvmlInit: %s", nvml_lib_strerror(&e->lib, rc));
		goto err_close;
	}
	unsigned count = 0;
	e->lib.device_get_count(&count);
	for (unsigned i = 0; i < count && e->n < RE_MAX_GPUS; i++) {
		struct gpu *g = &e->gpu[e->n];
		if (e->lib.device_get_handle_by_index(i, &g->dev) != NVML_SUCCESS)
			break; /* indices past an unreadable GPU would no longer match CUDA's */
		if (e->lib.device_get_uuid)
			e->lib.device_get_uuid(g->dev, g->uuid, sizeof(g->uuid));
		e->n++;
	}
	pthread_mutex_init(&e->lock, NULL);
	poll_all(e, true);
	if (pthread_create(&e->thread, NULL, sampler, e) != 0) {
		snprintf(why, why_len, "cannot start the sampling thread");
		e->lib.shutdown();
		goto err_close;
	}
	return e;
err_close:
	nvml_lib_close(&e->lib);
err:
	free(e);
	return NULL;
}

void run_energy_stop(struct run_energy *e)
{
	if (!e)
		return;
	atomic_store(&e->stop, true);
	pthread_join(e->thread, NULL);
	/* The sample covering the program's last 20 ms appears up to 20 ms later. */
	struct timespec ts = {0, 50000000L};
	nanosleep(&ts, NULL);
	poll_all(e, true);
}

void run_energy_free(struct run_energy *e)
{
	if (!e)
		return;
	e->lib.shutdown();
	nvml_lib_close(&e->lib);
	for (unsigned i = 0; i < e->n; i++) {
		free(e->gpu[i].power.r);
		free(e->gpu[i].energy.r);
		free(e->gpu[i].clock.r);
	}
	pthread_mutex_destroy(&e->lock);
	free(e);
}

/* The NVML device an inference line names: "gpu" is the library's translation of its CUDA
 * ordinal through CUDA_VISIBLE_DEVICES, an NVML index or a GPU UUID ("MIG-...": none). */
static const struct gpu *gpu_of(const struct run_energy *e, json_t *o)
{
	const char *tok = json_string_value(json_object_get(o, "gpu"));
	if (!tok || !tok[0])
		return NULL;
	if (!strncmp(tok, "GPU-", 4)) {
		for (unsigned i = 0; i < e->n; i++)
			if (!strncmp(e->gpu[i].uuid, tok, strlen(tok)))
				return &e->gpu[i];
		return NULL;
	}
	char *end;
	unsigned long idx = strtoul(tok, &end, 10);
	return !*end && idx < e->n ? &e->gpu[idx] : NULL;
}

/* The first reading at or after t (binary search: runs hold millions of samples). */
static size_t first_from(const struct series *s, double t)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->r[mid].t < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Power samples: sample i stands for (t_i - 20 ms, t_i]. */
static double integrate_power(const struct series *s, double t0, double t1)
{
	if (!s->n || s->r[s->n - 1].t < t1 || s->r[0].t - RE_SAMPLE_S > t0)
		return NAN; /* not covered */
	double joules = 0;
	for (size_t i = first_from(s, t0); i < s->n && s->r[i].t - RE_SAMPLE_S < t1; i++) {
		double a = s->r[i].t - RE_SAMPLE_S, b = s->r[i].t;
		if (i > 0 && s->r[i - 1].t > a)
			a = s->r[i - 1].t;
		double lo = a > t0 ? a : t0, hi = b < t1 ? b : t1;
		if (hi > lo)
			joules += s->r[i].value * (hi - lo);
	}
	return joules;
}

/* Linear interpolation of a series at t; NAN outside it. */
static double at(const struct series *s, double t)
{
	size_t from = first_from(s, t);
	for (size_t i = from ? from : 1; i < s->n && i <= from + 1; i++)
		if (s->r[i - 1].t <= t && t <= s->r[i].t) {
			double span = s->r[i].t - s->r[i - 1].t;
			double f = span > 0 ? (t - s->r[i - 1].t) / span : 0;
			return s->r[i - 1].value + f * (s->r[i].value - s->r[i - 1].value);
		}
	return NAN;
}

/* Mean of readings inside [t0, t1], else the one nearest to them. */
static double clock_near(const struct series *s, double t0, double t1)
{
	double sum = 0, best = NAN, best_d = INFINITY;
	size_t n = 0, i = first_from(s, t0);
	for (i = i ? i - 1 : 0; i < s->n && s->r[i].t <= t1 + RE_POLL_NS / 1e9; i++) {
		double t = s->r[i].t;
		if (t >= t0 && t <= t1) {
			sum += s->r[i].value;
			n++;
		}
		double d = t < t0 ? t0 - t : t > t1 ? t - t1 : 0;
		if (d < best_d) {
			best_d = d;
			best = s->r[i].value;
		}
	}
	return n ? sum / (double)n : best;
}

void run_energy_annotate(const struct run_energy *e, json_t *o)
{
	if (!e)
		return;
	const struct gpu *g = gpu_of(e, o);
	if (!g)
		return;
	long long base_ns = e->base * 1000000000LL;
	double t0 =
	    (double)(json_integer_value(json_object_get(o, "start_unix_ns")) - base_ns) / 1e9;
	double t1 = (double)(json_integer_value(json_object_get(o, "end_unix_ns")) - base_ns) / 1e9;
	double joules = NAN;
	const char *method = NULL;
	if (t1 - t0 > RE_COUNTER_S) {
		joules = at(&g->energy, t1) - at(&g->energy, t0);
		method = "energy_counter";
	}
	if (isnan(joules)) {
		joules = integrate_power(&g->power, t0, t1);
		method = "power_samples";
	}
	if (!isnan(joules)) {
		json_object_set_new(o, "energy_j", json_real(joules));
		json_object_set_new(o, "energy_method", json_string(method));
	}
	double mhz = clock_near(&g->clock, t0, t1);
	json_t *busy = json_object_get(o, "gpu_busy_s");
	if (!isnan(mhz) && json_is_number(busy))
		json_object_set_new(o, "sm_cycles", json_real(json_number_value(busy) * mhz * 1e6));
}
