/* synth.h - GPU windows for the diagnosis tests: synthetic series built
 * signal by signal, and the recorded H200 traces loaded from CSV.
 *
 * A struct synth owns its arrays (the engine never does) and fills a
 * struct analyze_gpu_series that points into them.
 */
#ifndef GPUSCOPE_ANALYZE_TEST_SYNTH_H
#define GPUSCOPE_ANALYZE_TEST_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "analyze/analyze.h"

#define GIB              (1024.0 * 1024.0 * 1024.0)
#define MIB              (1024.0 * 1024.0)
#define H200_TOTAL_BYTES (143771.0 * MIB) /* memory.total of the traced H200 */

#define SYNTH_PROCS_MAX 4

struct synth {
	size_t n;
	double step;
	double *sig[ANALYZE_SIG_COUNT];
	double *proc_mem[SYNTH_PROCS_MAX], *proc_cpu[SYNTH_PROCS_MAX];
	struct analyze_process_series procs[SYNTH_PROCS_MAX];
	size_t nprocs;
	struct analyze_gpu_series gpu;
};

/* n samples `step` seconds apart, every signal absent, model "NVIDIA H200". */
void synth_init(struct synth *s, size_t n, double step);
void synth_free(struct synth *s);

/* The signal's array, allocated NaN-filled on first use. */
double *synth_sig(struct synth *s, enum analyze_signal sig);
void synth_set(struct synth *s, enum analyze_signal sig, double value);
/* value for the first `k` samples, other after. */
void synth_split(struct synth *s, enum analyze_signal sig, size_t k, double value, double other);
void synth_absent(struct synth *s, enum analyze_signal sig);
/* A GPU used `v`: NVML utilization and SM activity both v. */
void synth_util(struct synth *s, double v);

/* A busy, healthy H200: SMs 90%, tensor 70%, DRAM 30%, memory 60%, no
 * throttling, no errors, one process at 0.3 cores. */
void synth_healthy(struct synth *s);

/* Adds a process with constant CPU (cores) and GPU memory (bytes); NaN
 * leaves that series absent.  Returns its index. */
size_t synth_proc(struct synth *s, unsigned pid, double cpu, double mem);
double *synth_proc_mem(struct synth *s, size_t p);
double *synth_proc_cpu(struct synth *s, size_t p);

/* The engine's view, pointing into s (valid until the next synth call). */
const struct analyze_gpu_series *synth_gpu(struct synth *s);

/* Loads fixtures/<name> (an h200-*.csv trace) with the H200 constants the
 * trace does not carry (facts/h200-nvml.md).  Returns 0 or -1. */
int synth_load_trace(struct synth *s, const char *name);

/* Runs the engine on one GPU, asserting success. */
struct analyze_result *synth_run(struct synth *s, const struct analyze_config *cfg);

/* Deterministic xorshift64* for the property tests. */
double synth_uniform(uint64_t *state, double lo, double hi);

#endif
