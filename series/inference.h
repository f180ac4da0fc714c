/* inference.h - per-inference aggregates the agent receives from injected programs.
 *
 * libgpuscope-inject.so sends one datagram per inference (the same JSON line `gpuscope run`
 * writes, docs/inference.md); the agent parses it here (inference_msg_parse, a pure function
 * over bytes, so a fuzz target is one small file) and folds it into histograms keyed by
 * (process, workload, range name).  Cardinality is capped: past `cap` keys, inferences land
 * in one key whose labels are all "_other".  Values are kept, never decayed: histograms are
 * counters, and Prometheus takes rates.
 */
#ifndef GPUSCOPE_INFERENCE_H
#define GPUSCOPE_INFERENCE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INFERENCE_LABEL_MAX 64

struct inference_msg {
	int pid;
	char process[INFERENCE_LABEL_MAX];
	char range[INFERENCE_LABEL_MAX];
	char boundary[8]; /* "nvtx", "gap", or "" */
	bool complete;
	double latency_s, gpu_busy_s, h2d_bytes, d2h_bytes, mem_peak_bytes, kernels;
	double energy_j; /* NAN when the message has none */
	char gpu[96];    /* NVML index or GPU UUID of the device; "" when unknown */
	long long start_unix_ns, end_unix_ns;
};

/* Returns 0 and fills m, or -1 when buf is not an inference message. */
int inference_msg_parse(const char *buf, size_t len, struct inference_msg *m);

/* X(id, name suffix, help, bucket set) - one histogram family each.  Bucket sets are in
 * inference.c. */
#define INFERENCE_FAMILIES(X)                                                                      \
	X(LATENCY, "latency_seconds",                                                              \
	  "Wall time of one inference (NVTX range, or GPU busy period), gpuscope run.", SECONDS)   \
	X(GPU_BUSY, "gpu_busy_seconds",                                                            \
	  "Time a kernel of the inference ran on the GPU (union of kernel intervals).", SECONDS)   \
	X(H2D, "host_to_device_bytes", "Bytes copied host to device during one inference.", BYTES) \
	X(D2H, "device_to_host_bytes", "Bytes copied device to host during one inference.", BYTES) \
	X(MEM_PEAK, "memory_peak_bytes",                                                           \
	  "Device memory the process held at its peak during one inference (cudaMalloc level).",   \
	  MEMORY)                                                                                  \
	X(KERNELS, "kernels", "Kernels one inference launched.", COUNT)                            \
	X(ENERGY, "energy_joules",                                                                 \
	  "Energy of the whole GPU over one inference: its mean power in each second the "         \
	  "inference overlaps, from the agent's own readings, times the time inside it.",          \
	  JOULES)

enum inference_family {
#define X(id, suffix, help, buckets) INF_FAM_##id,
	INFERENCE_FAMILIES(X)
#undef X
	    INF_FAM_COUNT
};

#define INFERENCE_BUCKETS_MAX 16

struct inference_hist {
	uint64_t bucket[INFERENCE_BUCKETS_MAX]; /* not cumulative; +Inf is count */
	uint64_t count;
	double sum;
};

struct inference_series {
	char process[INFERENCE_LABEL_MAX], workload[INFERENCE_LABEL_MAX],
	    range[INFERENCE_LABEL_MAX];
	struct inference_hist h[INF_FAM_COUNT];
	uint64_t incomplete;
};

#define INFERENCE_CAP_DEFAULT 32
#define INFERENCE_CAP_MAX     1024

struct inference_table {
	pthread_mutex_t lock;
	unsigned cap;
	struct inference_series *s; /* cap + 1: the last is "_other" */
	unsigned n;
	bool other_used;
	uint64_t received, rejected, folded;
};

int inference_table_init(struct inference_table *t, unsigned cap);
void inference_table_free(struct inference_table *t);
void inference_table_add(struct inference_table *t, const struct inference_msg *m,
                         const char *workload);
/* Energy of an inference already added, measured once its seconds had settled. */
void inference_table_add_energy(struct inference_table *t, const char *process,
                                const char *workload, const char *range, double joules);
/* A datagram that was not an inference message. */
void inference_table_reject(struct inference_table *t);
/* A consistent copy for rendering: *out (malloc'd, caller frees) and its length. */
int inference_table_copy(struct inference_table *t, struct inference_series **out, unsigned *n,
                         uint64_t counters[3]);

/* Family metadata for renderers and docs. */
const char *inference_family_suffix(enum inference_family f);
const char *inference_family_help(enum inference_family f);
/* Upper bounds of family f's buckets; returns how many. */
unsigned inference_family_bounds(enum inference_family f, const double **bounds);

#endif
