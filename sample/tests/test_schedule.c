/* test_schedule.c - the sampler's schedule on a fake clock.
 *
 * sampler_sweep() takes the step's time as an argument, so these tests drive a
 * GPU's worker and sweeper steps at made-up instants against a fake NVML (a
 * few function pointers that count their calls) and a real board: each
 * source is read on its own period, a source that was not due keeps its
 * values on the board, a failing source is invalidated at once, a stale one
 * when judged, a dear read stretches its source's period, and an idle GPU's fast
 * sources slow down until work shows (the idle rule).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "sample/mig.h"
#include "sample/schedule.h"
#include "sample/worker.h"

static struct {
	int util, power, memory, energy;
	unsigned util_gpu;
	nvmlReturn_t power_rc;
	unsigned power_mw;
	unsigned long long memory_used;
	double energy_burn_s; /* CPU the energy call burns */
} fake;

static nvmlReturn_t fake_util(nvmlDevice_t d, nvmlUtilization_t *u)
{
	(void)d;
	fake.util++;
	u->gpu = fake.util_gpu;
	u->memory = fake.util_gpu ? 10 : 0;
	return NVML_SUCCESS;
}

static nvmlReturn_t fake_power(nvmlDevice_t d, unsigned *mw)
{
	(void)d;
	fake.power++;
	*mw = fake.power_mw;
	return fake.power_rc;
}

static nvmlReturn_t fake_memory(nvmlDevice_t d, nvmlMemory_v2_t *m)
{
	(void)d;
	fake.memory++;
	m->used = ++fake.memory_used;
	m->free = 1000;
	m->reserved = 1;
	m->total = 2000;
	return NVML_SUCCESS;
}

static nvmlReturn_t fake_energy(nvmlDevice_t d, unsigned long long *mj)
{
	(void)d;
	fake.energy++;
	double until = thread_cpu_now() + fake.energy_burn_s;
	while (thread_cpu_now() < until)
		;
	*mj = 1000ULL * (unsigned long long)fake.energy;
	return NVML_SUCCESS;
}

struct rig {
	struct nvml_lib lib;
	struct board board;
	struct sampler s;
	struct gpu_worker w;
	struct source_ctx fast, slow;
};

static const enum source_id rig_sources[] = {SRC_UTILIZATION, SRC_POWER, SRC_MEMORY, SRC_ENERGY};

static int setup(void **state)
{
	memset(&fake, 0, sizeof(fake));
	fake.power_mw = 300000;
	fake.util_gpu = 50; /* busy: the idle rule stays out of the way */
	struct rig *r = test_calloc(1, sizeof(*r));
	r->lib.device_get_utilization_rates = fake_util;
	r->lib.device_get_power_usage = fake_power;
	r->lib.device_get_memory_info_v2 = fake_memory;
	r->lib.device_get_total_energy_consumption = fake_energy;
	r->s.cfg = (struct sampler_config){
	    .fast_s = 0.1, .slow_s = 1, .costly_s = 3, .gpm_s = 1, .idle_s = 1};
	assert_int_equal(board_init(&r->board, 1, 0.1, 1, 3), 0);
	r->s.lib = &r->lib;
	r->s.board = &r->board;
	r->s.count = 1;
	r->w.s = &r->s;
	r->w.fast = &r->fast;
	r->fast.lib = r->slow.lib = &r->lib;
	for (size_t i = 0; i < sizeof(rig_sources) / sizeof(rig_sources[0]); i++)
		sched_add(&r->w.sched, rig_sources[i], &r->s.cfg, 0);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;
	board_free(&r->board);
	test_free(r);
	return 0;
}

static void fast_step(struct rig *r, double t)
{
	char why[160];
	sampler_sweep(&r->w, &r->fast, TIER_FAST, t, -1, why, sizeof(why));
}

static void worker_step(struct rig *r, double t)
{
	char why[160];
	sampler_sweep(&r->w, &r->slow, TIER_SLOW, t, -1, why, sizeof(why));
}

static bool board_value(struct rig *r, enum metric_id m, double *v)
{
	return board_read_value(&r->board, 0, m, v);
}

/* Ten seconds of steps a little late each (as real wake-ups are): each source is read as
 * often as its period says, on its own thread. */
static void each_source_on_its_period(void **state)
{
	struct rig *r = *state;
	for (int i = 0; i < 100; i++) {
		double t = i * 0.1 + (i % 3) * 0.004;
		fast_step(r, t);
		if (i % 10 == 0)
			worker_step(r, t);
	}
	assert_int_equal(fake.util, 100);
	assert_int_equal(fake.power, 100);
	assert_int_equal(fake.memory, 50); /* at most 5 reads a second */
	assert_int_equal(fake.energy, 4);  /* costly 3 s, on the 1 s worker: 0, 3, 6, 9 */
	struct sched_entry *e = sched_find(&r->w.sched, SRC_MEMORY);
	assert_non_null(e);
	assert_true(e->period == 0.2);
	assert_int_equal(e->thread, SCHED_SWEEPER);
	assert_int_equal(sched_find(&r->w.sched, SRC_ENERGY)->thread, SCHED_WORKER);
}

/* A step that does not read a source leaves its value on the board as it was. */
static void skipped_sources_keep_their_values(void **state)
{
	struct rig *r = *state;
	fast_step(r, 0);   /* reads memory: used = 1 */
	fast_step(r, 0.1); /* memory not due */
	assert_int_equal(fake.memory, 1);
	double v;
	assert_true(board_value(r, METRIC_FB_USED, &v));
	assert_true(v == 1);
	assert_true(board_value(r, METRIC_ENERGY, &v) == false); /* not read yet: absent */
	worker_step(r, 0.1);
	assert_true(board_value(r, METRIC_ENERGY, &v));
	fast_step(r, 0.2);
	worker_step(r, 1.1); /* energy not due until 3 */
	assert_int_equal(fake.energy, 1);
	assert_true(board_value(r, METRIC_ENERGY, &v));
	assert_true(v == 1000);
	assert_true(board_value(r, METRIC_FB_USED, &v));
	assert_true(v == 2);
}

/* A source whose read fails has its values withdrawn at once and its error named; the
 * next good read brings them back. */
static void failing_source_is_invalidated(void **state)
{
	struct rig *r = *state;
	fast_step(r, 0);
	double v;
	assert_true(board_value(r, METRIC_POWER, &v));
	fake.power_rc = NVML_ERROR_UNKNOWN;
	fast_step(r, 0.1);
	assert_false(board_value(r, METRIC_POWER, &v));
	assert_true(board_value(r, METRIC_GPU_UTIL, &v)); /* the others are not touched */
	assert_true(board_value(r, METRIC_FB_USED, &v));
	struct board_snapshot snap;
	assert_int_equal(board_snapshot(&r->board, &snap), 0);
	assert_int_equal(snap.gpus[0].source_error[SRC_POWER], NVML_ERROR_UNKNOWN);
	board_snapshot_free(&snap);
	fake.power_rc = NVML_SUCCESS;
	fake.power_mw = 123000;
	fast_step(r, 0.2);
	assert_true(board_value(r, METRIC_POWER, &v));
	assert_true(v == 123000);
}

/* A value whose source stopped being read goes stale after 3 of its periods (at least
 * 2 s), without the rest of the GPU. */
static void stale_source_is_invalidated_when_judged(void **state)
{
	struct rig *r = *state;
	fast_step(r, 0);
	board_set_health(&r->board, 0, GPU_OK, "");
	struct board_snapshot snap;
	assert_int_equal(board_snapshot(&r->board, &snap), 0);
	struct gpu_record *g = &snap.gpus[0];
	assert_true(metric_set_has(&g->valid, METRIC_POWER));
	assert_true(g->source_period[SRC_POWER] == 0.1);
	assert_true(g->source_period[SRC_MEMORY] == 0.2);
	/* 1.9 s on: inside the 2 s floor. */
	struct gpu_record later = *g;
	board_judge(&r->board, &later, g->source_read_at[SRC_POWER] + 1.9);
	assert_true(metric_set_has(&later.valid, METRIC_POWER));
	/* 2.1 s on, and the worker's tier alive: the power reading is stale. */
	later = *g;
	later.published[TIER_FAST] = later.published[TIER_SLOW] = g->source_read_at[SRC_POWER] + 2;
	board_judge(&r->board, &later, g->source_read_at[SRC_POWER] + 2.1);
	assert_false(metric_set_has(&later.valid, METRIC_POWER));
	board_snapshot_free(&snap);
}

/* One rule for dear reads: a worker source whose read cost more than SCHED_DEAR_S of CPU
 * is read SCHED_STRETCH times less often, until a read is cheap again; doctor sees it. */
static void dear_read_stretches_its_period(void **state)
{
	struct rig *r = *state;
	fake.energy_burn_s = SCHED_DEAR_S * 1.5;
	worker_step(r, 0); /* dear: next at 0 + 30 */
	struct sched_entry *e = sched_find(&r->w.sched, SRC_ENERGY);
	assert_int_equal(e->stretch, SCHED_STRETCH);
	assert_true(e->period == 3 * SCHED_STRETCH);
	assert_true(e->cost > SCHED_DEAR_S);
	struct board_snapshot snap;
	assert_int_equal(board_snapshot(&r->board, &snap), 0);
	assert_int_equal(snap.gpus[0].source_stretch[SRC_ENERGY], SCHED_STRETCH);
	assert_true(snap.gpus[0].source_period[SRC_ENERGY] == 30);
	board_snapshot_free(&snap);
	for (int t = 1; t < 30; t++)
		worker_step(r, t);
	assert_int_equal(fake.energy, 1);
	fake.energy_burn_s = 0;
	worker_step(r, 30); /* cheap again: back to 3 s */
	assert_int_equal(fake.energy, 2);
	assert_int_equal(e->stretch, 1);
	worker_step(r, 31);
	worker_step(r, 32);
	assert_int_equal(fake.energy, 2);
	worker_step(r, 33);
	assert_int_equal(fake.energy, 3);
	/* The sweeper's sources are never stretched (their calls are not timed). */
	assert_int_equal(sched_find(&r->w.sched, SRC_POWER)->stretch, 1);
}

/* Fixed rate: a read is due a period after the last was due, a little early counts, and a
 * source that fell far behind starts afresh instead of bursting. */
static void fixed_rate_with_slack(void **state)
{
	(void)state;
	struct sampler_config cfg = {.fast_s = 0.1, .slow_s = 5, .costly_s = 60, .gpm_s = 1};
	struct schedule s = {0};
	sched_add(&s, SRC_GPM, &cfg, 10);
	struct sched_entry *e = sched_find(&s, SRC_GPM);
	assert_true(e->period == 1 && e->slack == 0.05);
	assert_false(sched_is_due(e, 9.94));
	assert_true(sched_is_due(e, 9.96));
	sched_done(e, 10.06, 0); /* the first read anchors the grid at its own time */
	assert_true(e->due == 11.06);
	sched_done(e, 11.09, 0); /* later ones do not move it */
	assert_true(e->due == 12.06);
	assert_true(sched_is_due(e, 12.02)); /* a step a little early still reads */
	sched_done(e, 12.02, 0);
	assert_true(e->due == 13.06);
	sched_done(e, 25.0, 0); /* 12 s late */
	assert_true(e->due == 26.0);
	assert_false(sched_is_due(e, 25.5));
}

/* The periods the table and the flags give; sources not scheduled are not added. */
static void periods_from_table_and_flags(void **state)
{
	(void)state;
	struct sampler_config cfg = {.fast_s = 0.05, .slow_s = 5, .costly_s = 2, .gpm_s = 0.05};
	assert_true(sched_base_period(SRC_MEMORY, &cfg) == 0.2);
	assert_true(sched_base_period(SRC_POWER, &cfg) == 0.05);
	assert_true(sched_base_period(SRC_GPM, &cfg) == GPM_MIN_WINDOW_S);
	assert_true(sched_base_period(SRC_POWER_SAMPLES, &cfg) == BUFFER_INTERVAL_S);
	assert_true(sched_base_period(SRC_ENERGY, &cfg) == 5); /* not under the worker's step */
	assert_true(sched_base_period(SRC_ECC_MODE, &cfg) == 0);
	cfg.fast_s = 1;
	assert_true(sched_base_period(SRC_MEMORY, &cfg) == 1);
	struct schedule s = {0};
	sched_add(&s, SRC_ECC_MODE, &cfg, 0);
	sched_add(&s, SRC_XID_EVENTS, &cfg, 0);
	sched_add(&s, SRC_AGENT, &cfg, 0);
	assert_int_equal(s.n, 0);
	sched_add(&s, SRC_POWER, &cfg, 0);
	sched_add(&s, SRC_POWER, &cfg, 0);
	assert_int_equal(s.n, 1);
	/* Every scheduled source of the table has a thread, and only those. */
	for (int src = 0; src < SRC_COUNT; src++)
		assert_int_equal(sched_base_period(src, &cfg) > 0,
		                 sched_thread_of(src) != SCHED_NONE);
}

/* A MIG instance's memory and GPM are on the GPU's periods, not every sweep. */
static void mig_instances_on_the_gpus_periods(void **state)
{
	(void)state;
	struct sampler_config cfg = {.fast_s = 0.1, .slow_s = 5, .costly_s = 60, .gpm_s = 1};
	struct mig_instance m;
	memset(&m, 0, sizeof(m));
	mig_schedule(&m, &cfg, 0);
	assert_int_equal(m.sched.n, 2);
	assert_true(sched_find(&m.sched, SRC_MEMORY)->period == 0.2);
	assert_true(sched_find(&m.sched, SRC_GPM)->period == 1);
	/* Driven for a second of 100 ms steps: memory is read 5 times, not 10. */
	memset(&fake, 0, sizeof(fake));
	struct nvml_lib lib;
	memset(&lib, 0, sizeof(lib));
	lib.device_get_memory_info_v2 = fake_memory; /* no GPM symbols: GPM stops being asked */
	double raw[METRIC_COUNT];
	for (int i = 0; i < 10; i++) {
		struct board_reads r = {.tier = TIER_FAST, .raw = raw};
		assert_int_equal(mig_read(&lib, NULL, &m, i * 0.1, &r), NVML_SUCCESS);
		assert_int_equal(metric_set_has(&r.got, METRIC_FB_USED), i % 2 == 0);
	}
	assert_int_equal(fake.memory, 5);
	assert_true(m.gpm_off);
}

/* Fast steps every 100 ms from `from` for `n` steps. */
static void fast_steps(struct rig *r, double from, int n)
{
	for (int i = 0; i < n; i++)
		fast_step(r, from + i * 0.1);
}

/* The idle rule: a GPU idle for a whole idle period has its fast sources read every idle
 * period, utilization (the wake source) still every step; their values stay on the board,
 * not stale; the first busy utilization reading restores every fast period in that same
 * step. */
static void idle_gpu_slows_down_and_wakes_at_once(void **state)
{
	struct rig *r = *state;
	fake.util_gpu = 0;
	assert_int_equal(r->w.sched.e[0].src, SCHED_WAKE_SOURCE); /* read first */
	fast_steps(r, 0, 11);                                     /* 0 .. 1.0 s */
	assert_true(r->w.sched.idle.idle);                        /* quiet for 1 s */
	assert_int_equal(fake.power, 11);
	struct sched_entry *power = sched_find(&r->w.sched, SRC_POWER);
	assert_true(power->period == 1);
	fast_steps(r, 1.1, 30); /* 3 s idle: power due at 2, 3, 4 */
	assert_int_equal(fake.util, 41);
	assert_int_equal(fake.power, 14);
	assert_int_equal(fake.memory, 6 + 3); /* 5 Hz, then every second */
	double v;
	assert_true(board_value(r, METRIC_POWER, &v));
	assert_true(board_value(r, METRIC_SAMPLE_IDLE, &v) && v == 1);
	struct board_snapshot snap;
	assert_int_equal(board_snapshot(&r->board, &snap), 0);
	struct gpu_record later = snap.gpus[0];
	assert_true(later.source_period[SRC_POWER] == 1);
	assert_true(later.source_idle_period[SRC_POWER] == 1);
	assert_true(later.source_idle_period[SRC_UTILIZATION] == 0);
	/* 2.5 s after its last read: stale on the fast period, kept on the idle one. */
	later.published[TIER_FAST] = later.source_read_at[SRC_POWER] + 2.4;
	board_judge(&r->board, &later, later.source_read_at[SRC_POWER] + 2.5);
	assert_true(metric_set_has(&later.valid, METRIC_POWER));
	board_snapshot_free(&snap);

	fake.util_gpu = 70; /* work starts */
	fast_step(r, 4.15);
	assert_false(r->w.sched.idle.idle);
	assert_int_equal(fake.power, 15); /* read in the step that saw the work */
	assert_int_equal(fake.memory, 10);
	assert_true(power->period == 0.1);
	fast_steps(r, 4.25, 10);
	assert_int_equal(fake.power, 25);
	assert_true(board_value(r, METRIC_SAMPLE_IDLE, &v) && v == 0);
	assert_true(board_value(r, METRIC_FAST_READS, &v));
	assert_true(v == fake.util + fake.power + fake.memory);
}

/* Power rising well above the idle stretch's lowest wakes the GPU at its next read; the
 * other sources come due in that step, and power is not read again in it. */
static void power_rise_wakes(void **state)
{
	struct rig *r = *state;
	fake.util_gpu = 0;
	fast_steps(r, 0, 15);
	assert_true(r->w.sched.idle.idle);
	fake.power_mw = 330000; /* +10%: still idle */
	fast_steps(r, 1.5, 10);
	assert_true(r->w.sched.idle.idle);
	fake.power_mw = 500000;
	int before = fake.power;
	double t = 2.5;
	for (; r->w.sched.idle.idle && t < 4; t += 0.1)
		fast_step(r, t);
	assert_false(r->w.sched.idle.idle);
	assert_int_equal(fake.power, before + 1); /* the read that saw it, not read twice */
	fast_step(r, t);
	assert_int_equal(fake.power, before + 2); /* every fast period again */
}

/* Processes on the GPU keep it on the fast periods; so does a list not read yet; with no
 * list at all (--no-processes) the readings alone decide. */
static void processes_keep_the_fast_periods(void **state)
{
	struct rig *r = *state;
	fake.util_gpu = 0;
	atomic_store(&r->w.n_procs, 1);
	fast_steps(r, 0, 30);
	assert_false(r->w.sched.idle.idle);
	atomic_store(&r->w.n_procs, SCHED_PROCS_PENDING);
	fast_steps(r, 3, 30);
	assert_false(r->w.sched.idle.idle);
	atomic_store(&r->w.n_procs, SCHED_PROCS_UNLISTED);
	fast_steps(r, 6, 12);
	assert_true(r->w.sched.idle.idle);
	atomic_store(&r->w.n_procs, 2); /* a process shows up in the next list */
	fast_step(r, 7.2);
	assert_false(r->w.sched.idle.idle);
}

/* --idle-interval 0, or one not longer than the fast period, leaves every period alone. */
static void idle_rule_off(void **state)
{
	(void)state;
	struct sampler_config cfg = {.fast_s = 0.1, .slow_s = 5, .costly_s = 60, .gpm_s = 1};
	assert_true(sched_idle_period(SRC_POWER, &cfg) == 0);
	cfg.idle_s = 0.1;
	assert_true(sched_idle_period(SRC_POWER, &cfg) == 0);
	cfg.idle_s = 2;
	assert_true(sched_idle_period(SRC_POWER, &cfg) == 2);
	assert_true(sched_idle_period(SRC_GPM, &cfg) == 2);
	assert_true(sched_idle_period(SRC_UTILIZATION, &cfg) == 0);   /* the wake source */
	assert_true(sched_idle_period(SRC_POWER_SAMPLES, &cfg) == 0); /* buffer tier */
	assert_true(sched_idle_period(SRC_ENERGY, &cfg) == 0);        /* the worker's */
	cfg.idle_s = 0;
	struct schedule s = {0};
	sched_add(&s, SRC_POWER, &cfg, 0);
	sched_add(&s, SRC_UTILIZATION, &cfg, 0);
	assert_int_equal(s.e[0].src, SRC_UTILIZATION);
	assert_true(s.idle.period == 0);
	double raw[METRIC_COUNT] = {0};
	metric_set got;
	memset(&got, 0, sizeof(got));
	metric_set_add(&got, METRIC_GPU_UTIL);
	for (int i = 0; i < 50; i++)
		assert_false(sched_idle_judge(&s, i * 0.1, raw, &got, 0));
	assert_false(s.idle.idle);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(each_source_on_its_period, setup, teardown),
	    cmocka_unit_test_setup_teardown(skipped_sources_keep_their_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(failing_source_is_invalidated, setup, teardown),
	    cmocka_unit_test_setup_teardown(stale_source_is_invalidated_when_judged, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(dear_read_stretches_its_period, setup, teardown),
	    cmocka_unit_test(fixed_rate_with_slack),
	    cmocka_unit_test(periods_from_table_and_flags),
	    cmocka_unit_test(mig_instances_on_the_gpus_periods),
	    cmocka_unit_test_setup_teardown(idle_gpu_slows_down_and_wakes_at_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(power_rise_wakes, setup, teardown),
	    cmocka_unit_test_setup_teardown(processes_keep_the_fast_periods, setup, teardown),
	    cmocka_unit_test(idle_rule_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
