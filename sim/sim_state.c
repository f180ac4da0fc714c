/* sim_state.c - init reference count, session clock, device array and fault injection.
 *
 * The global lock guards only short bookkeeping (is NVML initialised, is this handle ours,
 * what time is it); nothing sleeps under it.  Sessions are never freed while the library is
 * loaded: nvmlShutdown retires the scenario and device array to a list freed by the library
 * destructor, so a call still in flight on another thread (a slow fault, a caller racing its
 * own shutdown) reads retired but valid memory.  The cost is a few kilobytes per init/shutdown
 * cycle, which only tests do repeatedly.  At unload the destructor frees them, unless a
 * call is still asleep in a slow or hang fault: that thread would wake into freed memory, so
 * then the memory is left to the operating system, which is about to reclaim it anyway.
 */
#include "sim/sim_state.h"
#include "sim/sim_host.h"

#include <limits.h>
#include <stdatomic.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sim_session {
	struct sim_scenario *scn;
	struct sim_host *host;      /* GPUSCOPE_SIM_HOST_ROOT's tree, or NULL */
	struct nvmlDevice_st *devs; /* GPUs, then MIG instances */
	size_t n_devs;
	struct sim_session *next_retired;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned g_refcount;
static struct sim_session *g_session; /* the current one while g_refcount > 0 */
static struct sim_session *g_retired;
static struct timespec g_t0;
static struct timespec g_wall0; /* CLOCK_REALTIME at g_t0 */
static char g_error[2048];
static char g_name[256];
static atomic_uint g_asleep; /* calls sleeping in a slow or hang fault */

static void session_free(struct sim_session *s)
{
	if (s->devs) {
		for (size_t i = 0; i < s->n_devs; i++)
			pthread_mutex_destroy(&s->devs[i].energy_lock);
		free(s->devs);
	}
	sim_host_free(s->host);
	sim_scenario_free(s->scn);
	free(s);
}

__attribute__((destructor)) static void sim_state_unload(void)
{
	if (atomic_load(&g_asleep) > 0)
		return;
	pthread_mutex_lock(&g_lock);
	while (g_retired) {
		struct sim_session *s = g_retired;
		g_retired = s->next_retired;
		session_free(s);
	}
	if (g_session)
		session_free(g_session);
	g_session = NULL;
	g_refcount = 0;
	pthread_mutex_unlock(&g_lock);
}

/* Scenario time now; caller holds g_lock and a session exists. */
static double now_locked(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	double real = (double)(ts.tv_sec - g_t0.tv_sec) + (double)(ts.tv_nsec - g_t0.tv_nsec) / 1e9;
	return real * g_session->scn->time_scale;
}

nvmlReturn_t sim_state_init(void)
{
	char err[sizeof(g_error)];
	pthread_mutex_lock(&g_lock);
	if (g_refcount > 0) {
		g_refcount++;
		pthread_mutex_unlock(&g_lock);
		return NVML_SUCCESS;
	}
	const char *path = getenv("GPUSCOPE_SIM_SCENARIO");
	struct sim_scenario *scn = path && *path ? sim_scenario_load_file(path, err, sizeof(err))
	                                         : sim_scenario_load_default(err, sizeof(err));
	struct sim_session *s = NULL;
	nvmlReturn_t rc = NVML_ERROR_UNKNOWN;
	if (!scn)
		goto err;
	if (scn->init_error) {
		snprintf(err, sizeof(err), "%s: \"init_error\" makes nvmlInit fail with %d",
		         scn->file, scn->init_error);
		rc = scn->init_error;
		goto err;
	}
	size_t n_devs = scn->n_gpus;
	for (size_t i = 0; i < scn->n_gpus; i++)
		n_devs += scn->gpus[i].n_mig;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->devs = calloc(n_devs ? n_devs : 1, sizeof(*s->devs)))) {
		snprintf(err, sizeof(err), "out of memory");
		rc = NVML_ERROR_MEMORY;
		goto err;
	}
	s->scn = scn;
	s->n_devs = n_devs;
	const char *host_root = getenv("GPUSCOPE_SIM_HOST_ROOT");
	if (host_root && *host_root &&
	    !(s->host = sim_host_create(scn, host_root, err, sizeof(err)))) {
		rc = NVML_ERROR_UNKNOWN;
		goto err;
	}
	for (size_t i = 0, next_mig = scn->n_gpus; i < scn->n_gpus; i++) {
		struct nvmlDevice_st *d = &s->devs[i];
		d->gpu = &scn->gpus[i];
		d->integral[SIM_INT_ENERGY_MJ] = d->gpu->energy_start_mj;
		d->mig = d->gpu->n_mig ? &s->devs[next_mig] : NULL;
		for (size_t k = 0; k < d->gpu->n_mig; k++, next_mig++) {
			s->devs[next_mig].gpu = &d->gpu->mig[k];
			s->devs[next_mig].parent = d;
		}
	}
	for (size_t i = 0; i < n_devs; i++)
		pthread_mutex_init(&s->devs[i].energy_lock, NULL);
	g_session = s;
	g_refcount = 1;
	g_error[0] = '\0';
	snprintf(g_name, sizeof(g_name), "%s", scn->name);
	clock_gettime(CLOCK_MONOTONIC, &g_t0);
	clock_gettime(CLOCK_REALTIME, &g_wall0);
	pthread_mutex_unlock(&g_lock);
	return NVML_SUCCESS;
err:
	snprintf(g_error, sizeof(g_error), "%s", err);
	if (s) {
		sim_host_free(s->host);
		free(s->devs);
	}
	free(s);
	sim_scenario_free(scn);
	pthread_mutex_unlock(&g_lock);
	return rc;
}

nvmlReturn_t sim_state_shutdown(void)
{
	pthread_mutex_lock(&g_lock);
	if (g_refcount == 0) {
		pthread_mutex_unlock(&g_lock);
		return NVML_ERROR_UNINITIALIZED;
	}
	if (--g_refcount == 0) {
		g_session->next_retired = g_retired;
		g_retired = g_session;
		g_session = NULL;
	}
	pthread_mutex_unlock(&g_lock);
	return NVML_SUCCESS;
}

const char *sim_state_last_error(void)
{
	return g_error;
}

const char *sim_state_scenario_name(void)
{
	return g_name;
}

/* Is device a handle of the current session?  Caller holds g_lock. */
static bool handle_valid(nvmlDevice_t device)
{
	if (!g_session || !device)
		return false;
	uintptr_t p = (uintptr_t)device, base = (uintptr_t)g_session->devs;
	size_t size = sizeof(struct nvmlDevice_st);
	return p >= base && p < base + g_session->n_devs * size && (p - base) % size == 0;
}

static bool call_matches(const char *rule, const char *call)
{
	return strcmp(rule, "*") == 0 || strcmp(rule, call) == 0;
}

static void sleep_ms(double ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
	                      .tv_nsec = (long)(fmod(ms, 1000.0) * 1e6)};
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* The scenario's faults for one call at time t; may sleep, or never return (hang). */
static nvmlReturn_t apply_faults(const struct sim_gpu *g, const char *call, double t)
{
	if (t >= g->lost_at)
		return NVML_ERROR_GPU_IS_LOST;
	for (size_t i = 0; i < g->n_hangs; i++) {
		if (call_matches(g->hangs[i].call, call) && t >= g->hangs[i].at) {
			/* A hung driver call never comes back; no lock is held here. */
			atomic_fetch_add(&g_asleep, 1);
			for (;;)
				sleep_ms(1000);
		}
	}
	for (size_t i = 0; i < g->n_slow; i++) {
		if (call_matches(g->slow[i].call, call)) {
			atomic_fetch_add(&g_asleep, 1);
			sleep_ms(g->slow[i].ms);
			atomic_fetch_sub(&g_asleep, 1);
		}
	}
	for (size_t i = 0; i < g->n_unsupported_calls; i++)
		if (strcmp(g->unsupported_calls[i], call) == 0)
			return NVML_ERROR_NOT_SUPPORTED;
	for (size_t i = 0; i < g->n_errors; i++) {
		const struct sim_fault_error *e = &g->errors[i];
		if (call_matches(e->call, call) && t >= e->from && t < e->until)
			return e->ret;
	}
	return NVML_SUCCESS;
}

nvmlReturn_t sim_state_begin(struct sim_call *c, nvmlDevice_t device, const char *call,
                             bool args_ok)
{
	pthread_mutex_lock(&g_lock);
	if (g_refcount == 0) {
		pthread_mutex_unlock(&g_lock);
		return NVML_ERROR_UNINITIALIZED;
	}
	if (!handle_valid(device)) {
		pthread_mutex_unlock(&g_lock);
		return NVML_ERROR_INVALID_ARGUMENT;
	}
	c->dev = device;
	c->gpu = device->gpu;
	c->t = now_locked();
	pthread_mutex_unlock(&g_lock);
	if (!args_ok)
		return NVML_ERROR_INVALID_ARGUMENT;
	return apply_faults(c->gpu, call, c->t);
}

nvmlReturn_t sim_state_handle(unsigned index, nvmlDevice_t *out, const char *call)
{
	pthread_mutex_lock(&g_lock);
	if (g_refcount == 0) {
		pthread_mutex_unlock(&g_lock);
		return NVML_ERROR_UNINITIALIZED;
	}
	if (!out || index >= g_session->scn->n_gpus) {
		pthread_mutex_unlock(&g_lock);
		return NVML_ERROR_INVALID_ARGUMENT;
	}
	struct nvmlDevice_st *d = &g_session->devs[index];
	double t = now_locked();
	pthread_mutex_unlock(&g_lock);
	nvmlReturn_t rc = apply_faults(d->gpu, call, t);
	if (rc == NVML_SUCCESS)
		*out = d;
	return rc;
}

nvmlReturn_t sim_state_system(const struct sim_scenario **scn)
{
	pthread_mutex_lock(&g_lock);
	nvmlReturn_t rc = g_refcount ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
	if (g_refcount)
		*scn = g_session->scn;
	pthread_mutex_unlock(&g_lock);
	return rc;
}

nvmlReturn_t sim_state_devices(struct nvmlDevice_st **devs, size_t *n, double *t)
{
	pthread_mutex_lock(&g_lock);
	nvmlReturn_t rc = g_refcount ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
	if (g_refcount) {
		*devs = g_session->devs;
		*n = g_session->scn->n_gpus;
		*t = now_locked();
	}
	pthread_mutex_unlock(&g_lock);
	return rc;
}

static double rate_at(const struct sim_gpu *g, enum sim_integral which, double t)
{
	static const enum sim_signal signal[SIM_INT_COUNT] = {
	    [SIM_INT_ENERGY_MJ] = SIM_SIG_POWER,
	    [SIM_INT_NVLINK_TX_KIB] = SIM_SIG_GPM_NVLINK_TX,
	    [SIM_INT_NVLINK_RX_KIB] = SIM_SIG_GPM_NVLINK_RX,
	};
	/* W -> mJ/s and MiB/s -> KiB/s */
	static const double scale[SIM_INT_COUNT] = {1000.0, 1024.0, 1024.0};
	double v = sim_func_eval(g->metrics[signal[which]], t);
	return v > 0 ? v * scale[which] : 0;
}

/* Fixed 10 ms trapezoid steps from where the last caller left off: exact for constant and
 * piecewise-linear signals, and a ramp or trace is sampled finer than NVML's 20 ms power
 * samples.  An hour of catch-up is 360,000 evaluations, a few milliseconds. */
static double integral_at(struct nvmlDevice_st *d, enum sim_integral which, double t)
{
	static const double step_s = 0.010;
	pthread_mutex_lock(&d->energy_lock);
	if (t > d->integral_t[which]) {
		double x = d->integral_t[which], r = rate_at(d->gpu, which, x);
		/* A long gap (a caller idle for days at a high time_scale) is crossed in at
		 * most a million steps, so no call can spin for long under the lock. */
		double step = (t - x) / 1e6 > step_s ? (t - x) / 1e6 : step_s;
		while (x < t) {
			double nx = x + step < t ? x + step : t;
			if (nx <= x) /* too far from 0 for the step to register */
				nx = t;
			double nr = rate_at(d->gpu, which, nx);
			d->integral[which] += (r + nr) / 2 * (nx - x);
			x = nx;
			r = nr;
		}
		d->integral_t[which] = t;
	}
	double v = d->integral[which];
	pthread_mutex_unlock(&d->energy_lock);
	return v;
}

double sim_state_energy_mj(struct nvmlDevice_st *d, double t)
{
	return integral_at(d, SIM_INT_ENERGY_MJ, t);
}

double sim_state_nvlink_kib(struct nvmlDevice_st *d, bool tx, double t)
{
	return integral_at(d, tx ? SIM_INT_NVLINK_TX_KIB : SIM_INT_NVLINK_RX_KIB, t);
}

unsigned long long sim_state_wall_us(double t)
{
	pthread_mutex_lock(&g_lock);
	double scale = g_session ? g_session->scn->time_scale : 1;
	double wall0 = (double)g_wall0.tv_sec * 1e6 + (double)g_wall0.tv_nsec / 1e3;
	pthread_mutex_unlock(&g_lock);
	return (unsigned long long)(wall0 + t / scale * 1e6);
}

double sim_state_time_scale(void)
{
	pthread_mutex_lock(&g_lock);
	double scale = g_session ? g_session->scn->time_scale : 1;
	pthread_mutex_unlock(&g_lock);
	return scale;
}

void sim_state_host_refresh(double t)
{
	pthread_mutex_lock(&g_lock);
	struct sim_host *host = g_session ? g_session->host : NULL;
	double scale = g_session ? g_session->scn->time_scale : 1;
	pthread_mutex_unlock(&g_lock);
	/* The session is retired, never freed, while calls may be in flight: host stays valid. */
	sim_host_refresh(host, t, scale);
}
