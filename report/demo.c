/* demo.c - an hour of simulated history, at once, for `report --demo`.
 *
 * The simulator describes every signal as a function of time, so an hour of
 * history needs no agent, no waiting and no file: each GPU's functions are
 * evaluated and written into the same raw series (metric table units) the
 * store would return, then converted like real history.
 *
 * One truth for demo and live: a second is built the way the agent builds
 * it from the simulator library.  Every reading goes through
 * sim_signal_clamp(), as the simulated NVML calls do (no 150 % utilization,
 * no negative watts).  A windowed metric is the mean, max or min of the fast
 * tier's readings in that second (every DEMO_FAST_S), total power of the
 * driver's 20 ms samples, a GPM metric the clamped mean over the second (one
 * GPM pair a second), the clock-reason shares the share of fast readings with
 * the bit set; anything else is its reading at the second.  Counters the
 * simulator drives by events (Xid) are counted from the scenario's event
 * list; the energy counter integrates power.  Values the scenario marks
 * unsupported, and GPM metrics of a GPU without GPM, are absent (NaN), as the
 * agent would store them.
 *
 * The seconds are then folded, as the store folds rows and while they are evaluated,
 * into points within the report's memory budget (1 s points for the default hour of 8
 * GPUs, 8 s points for their day): memory is the points, whatever the --since.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "sim/sim_func.h"
#include "sim/sim_processes.h"
#include "sim/sim_scenario.h"

#define MIB 1048576.0

#define DEMO_FAST_S  0.1  /* the agent's default --fast-interval */
#define DEMO_POWER_S 0.02 /* the driver's power sample period */

/* Xid and double-bit ECC event bits (nvmlEventType*). */
#define DEMO_EVENT_DBE 0x2ULL
#define DEMO_EVENT_XID 0x8ULL

static double sig_at(const struct sim_gpu *g, enum sim_signal s, double t)
{
	if (g->unsupported_signals[s])
		return NAN;
	return sim_signal_clamp(s, sim_func_eval(g->metrics[s], t));
}

/* A GPM metric over the second starting at t: the clamped mean of the
 * signal over it, as the simulator's GPM pair one second apart reads it. */
static double gpm_at(const struct sim_gpu *g, enum sim_signal s, double t)
{
	if (!g->gpm || g->unsupported_signals[s])
		return NAN;
	double sum = 0;
	for (int i = 0; i < 16; i++)
		sum += sim_func_eval(g->metrics[s], t + (i + 0.5) / 16);
	return sim_signal_clamp(s, sum / 16);
}

/* 1 when the reasons bitmask at t has `bit`, NaN without reasons. */
static double reason_at(const struct sim_gpu *g, unsigned long long bit, double t)
{
	double r = sig_at(g, SIM_SIG_CLOCK_REASONS, t);
	if (isnan(r) || r >= 18446744073709551616.0)
		return NAN;
	return ((unsigned long long)llround(r) & bit) ? 1 : 0;
}

/* The raw value of report source k for GPU g at second t. */
static double raw_at(const struct sim_gpu *g, int metric, double t, double *energy_mj,
                     unsigned *xids, double *xid_last)
{
	int reason = clock_reason_of_active(metric); /* a reason's share: series/clock_reasons.h */
	if (reason >= 0)
		return reason_at(g, clock_reason_table[reason].bit, t);
	switch (metric) {
	case METRIC_GPU_UTIL:
		return sig_at(g, SIM_SIG_UTIL_GPU, t);
	case METRIC_MEM_UTIL:
		return sig_at(g, SIM_SIG_UTIL_MEM, t);
	case METRIC_GPM_SM_ACTIVE:
		return gpm_at(g, SIM_SIG_GPM_SM_ACTIVE, t);
	case METRIC_GPM_SM_OCCUPANCY:
		return gpm_at(g, SIM_SIG_GPM_SM_OCCUPANCY, t);
	case METRIC_GPM_TENSOR:
		return gpm_at(g, SIM_SIG_GPM_TENSOR, t);
	case METRIC_GPM_DRAM:
		return gpm_at(g, SIM_SIG_GPM_DRAM, t);
	case METRIC_GPM_PCIE_TX:
		return gpm_at(g, SIM_SIG_GPM_PCIE_TX, t);
	case METRIC_GPM_PCIE_RX:
		return gpm_at(g, SIM_SIG_GPM_PCIE_RX, t);
	case METRIC_FB_USED:
		/* The driver's used never exceeds total less its reservation. */
		return fmin(sig_at(g, SIM_SIG_FB_USED, t),
		            (double)(g->memory_total_mib - g->memory_reserved_mib)) *
		       MIB;
	case METRIC_FB_TOTAL:
		return (double)g->memory_total_mib * MIB;
	case METRIC_POWER:
	case METRIC_POWER_INSTANT:
		return sig_at(g, SIM_SIG_POWER, t) * 1000;
	case METRIC_POWER_LIMIT:
		return g->power_limit_w * 1000.0;
	case METRIC_GPU_TEMP:
		return sig_at(g, SIM_SIG_TEMP, t);
	case METRIC_SLOWDOWN_TEMP:
		return g->slowdown_temp_c;
	case METRIC_SM_CLOCK:
		return sig_at(g, SIM_SIG_SM_CLOCK, t);
	case METRIC_SM_CLOCK_MAX:
		return g->max_sm_clock_mhz;
	case METRIC_CLOCK_EVENT_REASONS:
		return sig_at(g, SIM_SIG_CLOCK_REASONS, t);
	case METRIC_PCIE_LINK_GEN:
		return g->pcie_gen;
	case METRIC_PCIE_LINK_WIDTH:
		return g->pcie_width;
	case METRIC_ECC_DBE_VOL:
		return g->ecc ? sig_at(g, SIM_SIG_ECC_DBE_VOLATILE, t) : NAN;
	case METRIC_REMAP_FAILURE:
		return sig_at(g, SIM_SIG_REMAP_FAILURE, t);
	case METRIC_ENERGY:
		return *energy_mj;
	case METRIC_XID_COUNT:
		return (double)*xids;
	case METRIC_XID_LAST:
		return *xid_last;
	}
	return NAN;
}

/* Source k's value for the second starting at t, as the agent's window and
 * recorder would store it: an aggregate of the readings within the second
 * for windowed metrics, else the reading at t. */
static double second_of(const struct sim_gpu *g, const struct report_source *src, double t,
                        double *energy_mj, unsigned *xids, double *xid_last)
{
	int m = src->metric;
	if (!metric_windowed(m) || metric_table[m].source == SRC_GPM)
		return raw_at(g, m, t, energy_mj, xids, xid_last);
	double step = m == METRIC_POWER_INSTANT ? DEMO_POWER_S : DEMO_FAST_S;
	int count = (int)lround(1.0 / step);
	double sum = 0, max = -INFINITY, min = INFINITY;
	int k = 0;
	for (int i = 0; i < count; i++) {
		/* Mid-step instants: a reading's phase is arbitrary in the agent, and
		 * the middle does not fall on a square wave's edge. */
		double v = raw_at(g, m, t + (i + 0.5) * step, energy_mj, xids, xid_last);
		if (isnan(v))
			continue;
		sum += v;
		max = fmax(max, v);
		min = fmin(min, v);
		k++;
	}
	if (!k)
		return NAN;
	return src->stat == STORE_MAX ? max : src->stat == STORE_MIN ? min : sum / k;
}

/* The points the seconds fold into: as many as a report of the fleet may hold a GPU
 * (report_points_per_gpu), each as many whole seconds from the scenario's start as that
 * takes.  Not the minute rows a recorded history holds beyond 6 h: the demo has every
 * second, and a point that starts at second 0 keeps a counter's first rise (the default
 * scenario's Xids at 30 s) inside the window, where a minute from the wall clock's could
 * swallow it into the first point. */
struct demo_grid {
	int64_t from, t0, step; /* second 0 of the scenario is from */
	size_t n;
};

static size_t demo_point(const struct demo_grid *g, size_t second)
{
	return (size_t)((g->from + (int64_t)second - g->t0) / g->step);
}

/* How a point folds its seconds, as the store folds rows into a point: the mean of the
 * seconds' values, the max of their maxima, the min of their minima (how: STORE_MEAN,
 * STORE_MAX, STORE_MIN), or the latest value (DEMO_LATEST: a metric without a window). */
#define DEMO_LATEST (-1)

struct demo_fold {
	double v;
	size_t n; /* seconds with a value */
};

static void fold_second(struct demo_fold *f, int how, double v)
{
	if (isnan(v))
		return;
	if (f->n == 0 || how == DEMO_LATEST)
		f->v = v;
	else if (how == STORE_MEAN)
		f->v += v;
	else
		f->v = how == STORE_MAX ? fmax(f->v, v) : fmin(f->v, v);
	f->n++;
}

/* The point's value (NaN without a second that had one); starts the next point. */
static double fold_point(struct demo_fold *f, int how)
{
	double v = f->n == 0 ? NAN : how == STORE_MEAN ? f->v / (double)f->n : f->v;
	*f = (struct demo_fold){0};
	return v;
}

/* A process's memory, SM share and CPU at second t (NaN where absent). */
static void process_at(const struct sim_process *sp, double t, double out[3])
{
	bool on = t >= sp->from && t < sp->until;
	double mem = on ? sim_func_eval(sp->used_mib, t) : NAN;
	out[0] = mem >= 0 ? mem * MIB : NAN; /* < 0: not available */
	double sm = on ? sim_func_eval(sp->sm_util_pct, t) : NAN;
	out[1] = isnan(sm) ? NAN : fmin(fmax(sm, 0), 100) / 100.0;
	double cpu = on && sp->cpu_cores ? sim_func_eval(sp->cpu_cores, t) : NAN;
	out[2] = isnan(cpu) ? NAN : fmax(cpu, 0);
}

/* The scenario's processes as history would hold them: memory, SM share and,
 * when the scenario gives it, CPU (NaN otherwise: the agent reads CPU from
 * /proc, which a scenario does not have); each point the means of its seconds. */
static int load_processes(const struct sim_gpu *g, size_t seconds, const struct demo_grid *grid,
                          struct report_gpu *rg)
{
	struct store_process_set *ps = &rg->procs;
	size_t n = grid->n;
	ps->t0 = grid->t0;
	ps->step = grid->step;
	ps->n = n;
	if (!g->n_processes)
		return 0;
	ps->procs = calloc(g->n_processes, sizeof(*ps->procs));
	if (!ps->procs)
		return -1;
	for (size_t k = 0; k < g->n_processes; k++) {
		const struct sim_process *sp = &g->processes[k];
		struct store_process_series *p = &ps->procs[ps->nprocs++];
		p->pid = sp->pid;
		p->name = strdup(sp->name);
		p->container = strdup("");
		p->pod = strdup("");
		p->namespace_ = strdup("");
		p->job = strdup("");
		/* the scenario's memory, SM share and CPU (process_at), as the history keeps them
		 */
		static const enum process_family fam[3] = {PROC_FAMILY_MEMORY, PROC_FAMILY_SM,
		                                           PROC_FAMILY_CPU};
		double *dst[3];
		for (int f = 0; f < 3; f++)
			dst[f] = p->value[fam[f]] = malloc(sizeof(double) * n);
		if (!p->name || !p->container || !p->pod || !p->namespace_ || !p->job || !dst[0] ||
		    !dst[1] || !dst[2])
			return -1;
		struct demo_fold fold[3] = {{0}};
		for (size_t i = 0; i < seconds; i++) {
			double v[3];
			process_at(sp, (double)i, v);
			for (int f = 0; f < 3; f++)
				fold_second(&fold[f], STORE_MEAN, v[f]);
			size_t at = demo_point(grid, i);
			if (i + 1 == seconds || demo_point(grid, i + 1) != at)
				for (int f = 0; f < 3; f++)
					dst[f][at] = fold_point(&fold[f], STORE_MEAN);
		}
	}
	return report_convert_processes(rg);
}

/* Tokens per second the GPU's inference-server processes generate at t (a scenario's
 * "server" key, docs/simulator.md): the history's gpuscope_tokens_generated_total. */
static double tokens_per_s(const struct sim_gpu *g, double t)
{
	double sum = 0;
	for (size_t k = 0; k < g->n_processes; k++) {
		const struct sim_process *p = &g->processes[k];
		if (p->server && sim_process_running(p, t)) {
			double v = sim_func_eval(p->server->tokens_per_s, t);
			sum += isfinite(v) && v > 0 ? v : 0;
		}
	}
	return sum;
}

/* How source k folds: its stat for a windowed metric, else the latest value. */
static int source_fold(size_t k)
{
	const struct report_source *src = &report_sources[k];
	return metric_windowed(src->metric) ? (int)src->stat : DEMO_LATEST;
}

static int load_gpu(const struct sim_gpu *g, size_t seconds, const struct demo_grid *grid,
                    struct report_gpu *rg)
{
	size_t n = grid->n;
	rg->uuid = strdup(g->uuid);
	rg->model = strdup(g->model[0] ? g->model : "unknown GPU");
	if (!rg->uuid || !rg->model)
		return -1;
	for (size_t k = 0; k < report_nsources; k++)
		if (!report_gpu_source(rg, k, n))
			return -1;
	double energy = g->energy_start_mj, xid_last = 0, tokens = 0;
	bool served = false;
	for (size_t k = 0; k < g->n_processes; k++)
		served |= g->processes[k].server != NULL;
	unsigned xids = 0;
	size_t ev = 0;
	struct demo_fold fold[REPORT_SOURCES_MAX] = {{0}};
	for (size_t i = 0; i < seconds; i++) {
		double t = (double)i;
		for (; ev < g->n_events && g->events[ev].at <= t; ev++)
			if (g->events[ev].type & DEMO_EVENT_XID) {
				xids++;
				xid_last = (double)g->events[ev].data;
			}
		double p = sig_at(g, SIM_SIG_POWER, t);
		if (i > 0 && !isnan(p))
			energy += p * 1000; /* mJ over one second */
		if (i > 0)
			tokens += tokens_per_s(g, t);
		for (size_t k = 0; k < report_nsources; k++) {
			double v =
			    report_sources[k].metric == METRIC_TOKENS_GENERATED
			        ? (served ? tokens : NAN)
			        : second_of(g, &report_sources[k], t, &energy, &xids, &xid_last);
			fold_second(&fold[k], source_fold(k), v);
		}
		size_t at = demo_point(grid, i);
		if (i + 1 == seconds || demo_point(grid, i + 1) != at)
			for (size_t k = 0; k < report_nsources; k++)
				rg->raw[k][at] = fold_point(&fold[k], source_fold(k));
	}
	return load_processes(g, seconds, grid, rg);
}

int report_load_scenario(const char *scenario, int seconds, int64_t end, struct report_data *out,
                         char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (seconds < 1) {
		snprintf(err, errlen, "no seconds of the scenario to evaluate");
		return -1;
	}
	char msg[1024] = "";
	struct sim_scenario *sc = scenario && *scenario
	                              ? sim_scenario_load_file(scenario, msg, sizeof(msg))
	                              : sim_scenario_load_default(msg, sizeof(msg));
	if (!sc) {
		snprintf(err, errlen, "%s", msg[0] ? msg : "cannot load the scenario");
		return -1;
	}
	out->simulated = true;
	out->to = end;
	out->from = end - seconds + 1;
	int64_t per = (int64_t)report_points_per_gpu(sc->n_gpus);
	struct demo_grid grid = {
	    .from = out->from, .t0 = out->from, .step = (seconds + per - 1) / per};
	grid.n = demo_point(&grid, (size_t)seconds - 1) + 1;
	out->step = (double)grid.step;
	out->n = grid.n;
	snprintf(out->source, sizeof(out->source), "simulator scenario %s (%d s evaluated)",
	         sc->name && *sc->name ? sc->name : (scenario && *scenario ? scenario : "default"),
	         seconds);
	out->gpus = calloc(sc->n_gpus ? sc->n_gpus : 1, sizeof(*out->gpus));
	if (!out->gpus)
		goto oom;
	for (size_t g = 0; g < sc->n_gpus; g++) {
		out->ngpus = g + 1;
		if (load_gpu(&sc->gpus[g], (size_t)seconds, &grid, &out->gpus[g]) != 0)
			goto oom;
	}
	if (report_convert(out) != 0)
		goto oom;
	sim_scenario_free(sc);
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	sim_scenario_free(sc);
	report_data_free(out);
	return -1;
}
