/* test_boundaries.c - every threshold of the engine, a value just under and
 * just over it, on an otherwise healthy busy H200 (60 samples, 1 s apart).
 *
 * A case names the verdict, the threshold, the step either side, the least
 * severity that counts as "fires", and which side fires.  The defaults come
 * from analyze_config_default(), so a changed default fails here first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>

#include "analyze/analyze.h"
#include "analyze/tests/synth.h"
#include "analyze/tests/tests.h"

#define N 60

typedef void (*prepare_fn)(struct synth *s, double v);

struct boundary_case {
	prepare_fn prepare;
	double threshold, eps;
	const char *id;
	enum analyze_severity min;
	bool fires_above;
};

static bool fires_at(const struct boundary_case *bc, double v)
{
	struct synth s;
	synth_init(&s, N, 1.0);
	synth_healthy(&s);
	bc->prepare(&s, v);
	struct analyze_result *r = synth_run(&s, NULL);
	const struct analyze_verdict *verdict = analyze_find(r, bc->id, 0);
	bool fired = verdict && verdict->severity >= bc->min;
	analyze_result_free(r);
	synth_free(&s);
	return fired;
}

static void test_boundary(void **state)
{
	const struct boundary_case *bc = *state;
	double below = bc->threshold - bc->eps, above = bc->threshold + bc->eps;
	bool fb = fires_at(bc, below), fa = fires_at(bc, above);
	if (fb == bc->fires_above)
		fail_msg("%s at %g (just under %g): %s", bc->id, below, bc->threshold,
		         fb ? "fired" : "did not fire");
	if (fa != bc->fires_above)
		fail_msg("%s at %g (just over %g): %s", bc->id, above, bc->threshold,
		         fa ? "fired" : "did not fire");
}

static void idle_util(struct synth *s, double v)
{
	synth_util(s, v);
}

static void cpu_saturation(struct synth *s, double v)
{
	synth_util(s, 0.1);
	double *cpu = synth_proc_cpu(s, 0);
	for (size_t i = 0; i < s->n; i++)
		cpu[i] = v;
}

static void cpu_saturation_4_cores(struct synth *s, double v)
{
	cpu_saturation(s, v * 4);
	s->procs[0].cpu_cores_usable = 4;
}

static void cpu_gpu_idle(struct synth *s, double v)
{
	cpu_saturation(s, 1.0);
	synth_util(s, 1.0 - v);
}

static void bw_dram(struct synth *s, double v)
{
	synth_set(s, ANALYZE_SIG_DRAM_ACTIVE, v);
	synth_set(s, ANALYZE_SIG_TENSOR_ACTIVE, 0.1);
}

static void bw_tensor(struct synth *s, double v)
{
	synth_set(s, ANALYZE_SIG_DRAM_ACTIVE, 0.8);
	synth_set(s, ANALYZE_SIG_TENSOR_ACTIVE, v);
}

static void compute_sm(struct synth *s, double v)
{
	synth_set(s, ANALYZE_SIG_SM_ACTIVE, v);
}

static void compute_tensor(struct synth *s, double v)
{
	synth_set(s, ANALYZE_SIG_DRAM_ACTIVE, 0.7);
	synth_set(s, ANALYZE_SIG_TENSOR_ACTIVE, v);
}

static void power_clock_loss(struct synth *s, double v)
{
	synth_set(s, ANALYZE_SIG_CLOCK_EVENT_REASONS, ANALYZE_CLOCK_SW_POWER);
	synth_set(s, ANALYZE_SIG_SM_CLOCK_HZ, 1980e6 * (1 - v));
}

static void power_near_limit(struct synth *s, double v)
{
	synth_absent(s, ANALYZE_SIG_CLOCK_EVENT_REASONS);
	synth_set(s, ANALYZE_SIG_POWER_W, 700 * v);
}

static void vram_ratio(struct synth *s, double v)
{
	synth_set(s, ANALYZE_SIG_FB_USED_BYTES, v * H200_TOTAL_BYTES);
}

static void vram_sustained(struct synth *s, double share)
{
	size_t k = (size_t)lround(share * (double)s->n);
	synth_split(s, ANALYZE_SIG_FB_USED_BYTES, k, 0.95 * H200_TOTAL_BYTES,
	            0.6 * H200_TOTAL_BYTES);
}

static void thermal_temp(struct synth *s, double v)
{
	synth_set(s, ANALYZE_SIG_TEMP_C, v);
}

static void thermal_share(struct synth *s, double share)
{
	size_t k = (size_t)lround(share * (double)s->n);
	synth_split(s, ANALYZE_SIG_CLOCK_EVENT_REASONS, k, ANALYZE_CLOCK_SW_THERMAL, 0);
}

#define GEN5_X16 (3.938e9 * 16)

static void pcie_link_util(struct synth *s, double v)
{
	synth_set(s, ANALYZE_SIG_SM_ACTIVE, 0.2);
	synth_set(s, ANALYZE_SIG_GPU_UTIL, 0.3);
	synth_set(s, ANALYZE_SIG_PCIE_RX_BYTES_PER_S, v * GEN5_X16);
}

static void pcie_sm(struct synth *s, double v)
{
	synth_set(s, ANALYZE_SIG_SM_ACTIVE, v);
	synth_set(s, ANALYZE_SIG_PCIE_TX_BYTES_PER_S, 0.9 * GEN5_X16);
}

/* A process whose memory rises linearly by `growth` bytes over the window. */
static void growth_total(struct synth *s, double growth)
{
	double *mem = synth_proc_mem(s, 0);
	for (size_t i = 0; i < s->n; i++)
		mem[i] = 10 * GIB + growth * (double)i / (double)(s->n - 1);
}

/* Growth whose projected time to OOM is `tto` seconds from the last sample. */
static void growth_time_to_oom(struct synth *s, double tto)
{
	double free_bytes = H200_TOTAL_BYTES - 0.6 * H200_TOTAL_BYTES;
	growth_total(s, free_bytes / tto * (double)(s->n - 1) * s->step);
}

/* clang-format off */
#define CASE(label, fn, thr, eps, verdict, severity, above) \
	{label, test_boundary, NULL, NULL, \
	 &(struct boundary_case){fn, thr, eps, verdict, severity, above}}
/* clang-format on */
#define ANY  ANALYZE_SEVERITY_INFO
#define WARN ANALYZE_SEVERITY_WARNING
#define CRIT ANALYZE_SEVERITY_CRITICAL

static const struct CMUnitTest boundary_tests[] = {
    CASE("idle.util_max_0.25", idle_util, 0.25, 0.001, ANALYZE_IDLE, WARN, false),
    CASE("cpu_bound.saturated_0.9", cpu_saturation, 0.9, 0.005, ANALYZE_CPU_BOUND_INPUT, WARN,
         true),
    CASE("cpu_bound.saturated_0.9_of_4_cores", cpu_saturation_4_cores, 0.9, 0.005,
         ANALYZE_CPU_BOUND_INPUT, WARN, true),
    CASE("cpu_bound.gpu_idle_0.5", cpu_gpu_idle, 0.5, 0.005, ANALYZE_CPU_BOUND_INPUT, WARN, true),
    CASE("bandwidth.dram_0.6", bw_dram, 0.6, 0.005, ANALYZE_MEMORY_BW_BOUND, WARN, true),
    CASE("bandwidth.tensor_0.5", bw_tensor, 0.5, 0.005, ANALYZE_MEMORY_BW_BOUND, WARN, false),
    CASE("compute.sm_0.8", compute_sm, 0.8, 0.005, ANALYZE_COMPUTE_BOUND, ANY, true),
    CASE("compute.tensor_0.5", compute_tensor, 0.5, 0.005, ANALYZE_COMPUTE_BOUND, ANY, true),
    CASE("power_capped.warn_loss_0.10", power_clock_loss, 0.10, 0.005, ANALYZE_POWER_CAPPED, WARN,
         true),
    CASE("power_capped.near_limit_0.97", power_near_limit, 0.97, 0.005, ANALYZE_POWER_CAPPED, ANY,
         true),
    CASE("vram_pressure.ratio_0.9", vram_ratio, 0.9, 0.002, ANALYZE_VRAM_PRESSURE, WARN, true),
    CASE("vram_pressure.critical_0.99", vram_ratio, 0.99, 0.002, ANALYZE_VRAM_PRESSURE, CRIT, true),
    CASE("vram_pressure.sustain_share_0.5", vram_sustained, 0.5, 0.02, ANALYZE_VRAM_PRESSURE, WARN,
         true),
    CASE("vram_overprovisioned.ratio_0.3", vram_ratio, 0.3, 0.002, ANALYZE_VRAM_OVERPROVISIONED,
         ANY, false),
    /* At the slowdown threshold counts: 88.9 does not fire, 89.0 does. */
    CASE("thermal.at_slowdown_89", thermal_temp, 88.95, 0.05, ANALYZE_THERMAL_THROTTLING, CRIT,
         true),
    CASE("thermal.share_0.1", thermal_share, 0.1, 0.02, ANALYZE_THERMAL_THROTTLING, WARN, true),
    CASE("pcie.link_util_0.1", pcie_link_util, 0.1, 0.005, ANALYZE_PCIE_BOUND, WARN, true),
    CASE("pcie.sm_0.5", pcie_sm, 0.5, 0.005, ANALYZE_PCIE_BOUND, WARN, false),
    CASE("memory_growth.min_bytes_256MiB", growth_total, 256 * MIB, 2 * MIB, ANALYZE_MEMORY_GROWTH,
         WARN, true),
    CASE("memory_growth.critical_3600s", growth_time_to_oom, 3600, 20, ANALYZE_MEMORY_GROWTH, CRIT,
         false),
};

int analyze_boundary_tests(void)
{
	return cmocka_run_group_tests_name("analyze.boundaries", boundary_tests, NULL, NULL);
}
