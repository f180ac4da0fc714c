/* synth.c - synthetic and recorded GPU windows for the diagnosis tests
 * (see synth.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/tests/synth.h"

void synth_init(struct synth *s, size_t n, double step)
{
	memset(s, 0, sizeof(*s));
	s->n = n;
	s->step = step;
}

void synth_free(struct synth *s)
{
	for (int i = 0; i < ANALYZE_SIG_COUNT; i++)
		free(s->sig[i]);
	for (int i = 0; i < SYNTH_PROCS_MAX; i++) {
		free(s->proc_mem[i]);
		free(s->proc_cpu[i]);
	}
	memset(s, 0, sizeof(*s));
}

static double *nan_array(size_t n)
{
	double *a = malloc((n ? n : 1) * sizeof(*a));
	assert_non_null(a);
	for (size_t i = 0; i < n; i++)
		a[i] = NAN;
	return a;
}

double *synth_sig(struct synth *s, enum analyze_signal sig)
{
	if (!s->sig[sig])
		s->sig[sig] = nan_array(s->n);
	return s->sig[sig];
}

void synth_set(struct synth *s, enum analyze_signal sig, double value)
{
	double *a = synth_sig(s, sig);
	for (size_t i = 0; i < s->n; i++)
		a[i] = value;
}

void synth_util(struct synth *s, double v)
{
	synth_set(s, ANALYZE_SIG_GPU_UTIL, v);
	synth_set(s, ANALYZE_SIG_SM_ACTIVE, v);
}

void synth_split(struct synth *s, enum analyze_signal sig, size_t k, double value, double other)
{
	double *a = synth_sig(s, sig);
	for (size_t i = 0; i < s->n; i++)
		a[i] = i < k ? value : other;
}

void synth_absent(struct synth *s, enum analyze_signal sig)
{
	free(s->sig[sig]);
	s->sig[sig] = NULL;
}

void synth_healthy(struct synth *s)
{
	synth_set(s, ANALYZE_SIG_GPU_UTIL, 0.97);
	synth_set(s, ANALYZE_SIG_MEM_UTIL, 0.35);
	synth_set(s, ANALYZE_SIG_SM_ACTIVE, 0.9);
	synth_set(s, ANALYZE_SIG_SM_OCCUPANCY, 0.4);
	synth_set(s, ANALYZE_SIG_TENSOR_ACTIVE, 0.7);
	synth_set(s, ANALYZE_SIG_DRAM_ACTIVE, 0.3);
	synth_set(s, ANALYZE_SIG_FB_USED_BYTES, 0.6 * H200_TOTAL_BYTES);
	synth_set(s, ANALYZE_SIG_FB_TOTAL_BYTES, H200_TOTAL_BYTES);
	synth_set(s, ANALYZE_SIG_POWER_W, 550);
	synth_set(s, ANALYZE_SIG_POWER_MAX_W, 610);
	synth_set(s, ANALYZE_SIG_GPU_UTIL_MAX, 1.0);
	synth_set(s, ANALYZE_SIG_POWER_LIMIT_W, 700);
	synth_set(s, ANALYZE_SIG_TEMP_C, 60);
	synth_set(s, ANALYZE_SIG_SLOWDOWN_TEMP_C, 89);
	synth_set(s, ANALYZE_SIG_SM_CLOCK_HZ, 1980e6);
	synth_set(s, ANALYZE_SIG_SM_CLOCK_MAX_HZ, 1980e6);
	synth_set(s, ANALYZE_SIG_CLOCK_EVENT_REASONS, 0);
	synth_set(s, ANALYZE_SIG_PCIE_TX_BYTES_PER_S, 1e9);
	synth_set(s, ANALYZE_SIG_PCIE_RX_BYTES_PER_S, 2e9);
	synth_set(s, ANALYZE_SIG_PCIE_LINK_GEN, 5);
	synth_set(s, ANALYZE_SIG_PCIE_LINK_WIDTH, 16);
	synth_set(s, ANALYZE_SIG_XID_COUNT, 0);
	synth_set(s, ANALYZE_SIG_XID_LAST, NAN);
	synth_set(s, ANALYZE_SIG_ECC_DBE_COUNT, 0);
	synth_set(s, ANALYZE_SIG_REMAP_FAILURE, 0);
	double *e = synth_sig(s, ANALYZE_SIG_ENERGY_J);
	for (size_t i = 0; i < s->n; i++)
		e[i] = 1e9 + 550.0 * s->step * (double)i;
	synth_proc(s, 1000, 0.3, 0.55 * H200_TOTAL_BYTES);
}

size_t synth_proc(struct synth *s, unsigned pid, double cpu, double mem)
{
	assert_true(s->nprocs < SYNTH_PROCS_MAX);
	size_t p = s->nprocs++;
	s->procs[p] =
	    (struct analyze_process_series){.pid = pid, .name = "python3", .workload = "llm-serve"};
	if (!isnan(cpu)) {
		s->proc_cpu[p] = nan_array(s->n);
		for (size_t i = 0; i < s->n; i++)
			s->proc_cpu[p][i] = cpu;
	}
	if (!isnan(mem)) {
		s->proc_mem[p] = nan_array(s->n);
		for (size_t i = 0; i < s->n; i++)
			s->proc_mem[p][i] = mem;
	}
	return p;
}

double *synth_proc_mem(struct synth *s, size_t p)
{
	if (!s->proc_mem[p])
		s->proc_mem[p] = nan_array(s->n);
	return s->proc_mem[p];
}

double *synth_proc_cpu(struct synth *s, size_t p)
{
	if (!s->proc_cpu[p])
		s->proc_cpu[p] = nan_array(s->n);
	return s->proc_cpu[p];
}

const struct analyze_gpu_series *synth_gpu(struct synth *s)
{
	struct analyze_gpu_series *g = &s->gpu;
	g->uuid = g->uuid ? g->uuid : "GPU-00000000-test";
	g->model = g->model ? g->model : "NVIDIA H200";
	g->step = s->step;
	g->n = s->n;
	g->t0 = 1.7e9;
	g->work_done = g->work_unit ? g->work_done : NAN;
	for (int i = 0; i < ANALYZE_SIG_COUNT; i++)
		g->sig[i] = s->sig[i];
	for (size_t p = 0; p < s->nprocs; p++) {
		s->procs[p].cpu_cores = s->proc_cpu[p];
		s->procs[p].gpu_mem_bytes = s->proc_mem[p];
	}
	g->procs = s->nprocs ? s->procs : NULL;
	g->nprocs = s->nprocs;
	return g;
}

struct analyze_result *synth_run(struct synth *s, const struct analyze_config *cfg)
{
	struct analyze_input in = {.gpus = synth_gpu(s), .ngpus = 1};
	struct analyze_result *r = NULL;
	assert_int_equal(analyze_run(&in, cfg, &r), 0);
	assert_non_null(r);
	return r;
}

double synth_uniform(uint64_t *state, double lo, double hi)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	double u = (double)((x * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
	return lo + (hi - lo) * u;
}

/* --- CSV traces ------------------------------------------------------- */

enum { COL_PCT, COL_MIB, COL_RAW, COL_MHZ, COL_HEX, COL_MIBPS };

static const struct {
	const char *name;
	int sig; /* enum analyze_signal, or -1 / -2 for the process's cpu / memory */
	int conv;
} trace_columns[] = {
    {"util_gpu_pct", ANALYZE_SIG_GPU_UTIL, COL_PCT},
    {"util_mem_pct", ANALYZE_SIG_MEM_UTIL, COL_PCT},
    {"fb_used_mib", ANALYZE_SIG_FB_USED_BYTES, COL_MIB},
    {"power_w", ANALYZE_SIG_POWER_W, COL_RAW},
    {"temp_c", ANALYZE_SIG_TEMP_C, COL_RAW},
    {"sm_clock_mhz", ANALYZE_SIG_SM_CLOCK_HZ, COL_MHZ},
    {"clock_event_reasons", ANALYZE_SIG_CLOCK_EVENT_REASONS, COL_HEX},
    {"gpm_sm_active", ANALYZE_SIG_SM_ACTIVE, COL_PCT},
    {"gpm_sm_occupancy", ANALYZE_SIG_SM_OCCUPANCY, COL_PCT},
    {"gpm_tensor_active", ANALYZE_SIG_TENSOR_ACTIVE, COL_PCT},
    {"gpm_dram_active", ANALYZE_SIG_DRAM_ACTIVE, COL_PCT},
    {"gpm_pcie_tx_mibps", ANALYZE_SIG_PCIE_TX_BYTES_PER_S, COL_MIBPS},
    {"gpm_pcie_rx_mibps", ANALYZE_SIG_PCIE_RX_BYTES_PER_S, COL_MIBPS},
    {"proc_cpu_pct", -1, COL_PCT},
    {"proc_gpu_mem_mib", -2, COL_MIB},
};
#define NCOLS_MAX 32

static double convert(const char *field, int conv)
{
	char *end;
	if (!*field)
		return NAN; /* an empty cell is an absent sample */
	double v = conv == COL_HEX ? (double)strtoul(field, &end, 16) : strtod(field, &end);
	switch (conv) {
	case COL_PCT:
		return v / 100.0;
	case COL_MIB:
		return v * MIB;
	case COL_MHZ:
		return v * 1e6;
	case COL_MIBPS:
		return v * MIB;
	default:
		return v;
	}
}

/* Splits a CSV line in place (no quoting in these files). */
static size_t split(char *line, char **fields, size_t max)
{
	size_t k = 0;
	line[strcspn(line, "\r\n")] = 0;
	fields[k++] = line;
	for (char *p = line; *p && k < max; p++)
		if (*p == ',') {
			*p = 0;
			fields[k++] = p + 1;
		}
	return k;
}

int synth_load_trace(struct synth *s, const char *name)
{
	char path[512], line[1024], *fields[NCOLS_MAX];
	int map[NCOLS_MAX];
	size_t rows = 0, ncols;
	double t_first = NAN, t_last = NAN;

	snprintf(path, sizeof(path), "%s/%s", ANALYZE_FIXTURES, name);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		rows++;
	if (rows < 2) {
		fclose(f);
		return -1;
	}
	synth_init(s, rows - 1, 0.1);
	rewind(f);
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return -1;
	}
	ncols = split(line, fields, NCOLS_MAX);
	for (size_t c = 0; c < ncols; c++) {
		map[c] = -100;
		for (size_t k = 0; k < sizeof(trace_columns) / sizeof(trace_columns[0]); k++)
			if (strcmp(fields[c], trace_columns[k].name) == 0)
				map[c] = (int)k;
	}
	size_t p = synth_proc(s, 4242, NAN, NAN);
	s->procs[p].name = "python3";
	for (size_t i = 0; i < s->n && fgets(line, sizeof(line), f); i++) {
		size_t k = split(line, fields, NCOLS_MAX);
		double t = strtod(fields[0], NULL);
		t_first = i == 0 ? t : t_first;
		t_last = t;
		for (size_t c = 1; c < k && c < ncols; c++) {
			if (map[c] < 0)
				continue;
			int sig = trace_columns[map[c]].sig;
			double v = convert(fields[c], trace_columns[map[c]].conv);
			if (sig == -1)
				synth_proc_cpu(s, p)[i] = v;
			else if (sig == -2)
				synth_proc_mem(s, p)[i] = v;
			else
				synth_sig(s, (enum analyze_signal)sig)[i] = v;
		}
	}
	fclose(f);
	/* Mean spacing of the rows (about 100 ms). */
	s->step = (t_last - t_first) / (double)(s->n - 1);
	/* What the trace does not carry, from facts/h200-nvml.md. */
	synth_set(s, ANALYZE_SIG_FB_TOTAL_BYTES, H200_TOTAL_BYTES);
	synth_set(s, ANALYZE_SIG_POWER_LIMIT_W, 700);
	synth_set(s, ANALYZE_SIG_SLOWDOWN_TEMP_C, 89);
	synth_set(s, ANALYZE_SIG_SM_CLOCK_MAX_HZ, 1980e6);
	synth_set(s, ANALYZE_SIG_PCIE_LINK_GEN, 5);
	synth_set(s, ANALYZE_SIG_PCIE_LINK_WIDTH, 16);
	return 0;
}
