/* model.h - what `gpuscope top` shows, read from the agent's own JSON documents.
 *
 * The terminal UI knows the GPUs only through the documents the agent serves:
 * /api/v1/gpus, /api/v1/processes and /api/v1/diagnosis.  A remote agent hands them
 * over HTTP (tui/remote.h); a local `top` renders them in-process from its own board
 * (export/json.h, export/proc_json.h) and the same parser reads them.  So there is one
 * path from sample to screen, and what `top` shows is what the API says.
 *
 * The parsers are pure functions over a buffer, so a fuzz target is one small file:
 * top_model_parse_gpus(), top_model_parse_processes(), top_model_parse_diagnosis(),
 * top_model_parse_inference().
 * A document that does not parse leaves the model as it was and says why.
 *
 * Each update also appends one point per GPU to short rings, the sparklines' history.
 */
#ifndef GPUSCOPE_TUI_MODEL_H
#define GPUSCOPE_TUI_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#define TOP_MAX_GPUS  64
#define TOP_MAX_PROCS 512
#define TOP_RING      240 /* points of history kept per series */

/* The series each GPU keeps a ring of (sparklines, the selected-GPU view). */
enum top_series {
	TS_UTIL,   /* ratio 0-1 */
	TS_SM,     /* ratio */
	TS_TENSOR, /* ratio */
	TS_DRAM,   /* ratio */
	TS_MEM,    /* memory used, ratio of total */
	TS_POWER,  /* watts */
	TS_TEMP,   /* Celsius */
	TS_CLOCK,  /* SM clock, MHz */
	TS_COUNT
};

/* A value that may be absent (absent is not zero). */
struct top_value {
	bool ok;
	double v;
};

struct top_ring {
	unsigned n, head; /* points held; next write position */
	double v[TOP_RING];
	bool ok[TOP_RING];
};

struct top_gpu {
	unsigned index;
	char name[96], uuid[96], health[24], reason[192];
	struct top_value util, sm, tensor, dram; /* ratios */
	struct top_value mem_used, mem_total;    /* bytes */
	struct top_value power, power_limit;     /* watts */
	struct top_value temp, temp_slowdown;    /* Celsius */
	struct top_value sm_clock, sm_clock_max; /* hertz */
	struct top_value mem_clock;              /* hertz */
	struct top_value clock_reasons;          /* NVML bit mask */
	struct top_value xid_total, xid_last;    /* counts, code */
	struct top_value ecc_uncorrected;        /* volatile uncorrected count */
	struct top_value ecc_corrected;          /* volatile corrected count */
	struct top_value remap_pending;          /* 0/1 */
	/* The most severe live verdict of this GPU (severity "" when none). */
	char verdict_id[48], verdict_severity[16], verdict_title[256];
	unsigned verdicts; /* how many verdicts name this GPU */
	struct top_ring ring[TS_COUNT];
};

struct top_proc {
	unsigned gpu;
	int pid;
	char name[64], user[40], workload[96], status[12];
	struct top_value mem; /* GPU memory, bytes */
	struct top_value sm;  /* ratio of the GPU */
	struct top_value cpu; /* cores */
};

/* One verdict, for the selected-GPU view. */
struct top_verdict {
	int gpu; /* -1: not tied to one GPU */
	char id[48], severity[16], title[256], evidence[512], fix[512];
};

#define TOP_MAX_VERDICTS 128

/* One (GPU, process, range) of /api/v1/inference: programs under `gpuscope run`. */
struct top_inference {
	int gpu; /* -1: not on the board */
	int pid;
	char process[64], range[64];
	double count;
	struct top_value rate, p50, p95, p99, busy, energy; /* /s, seconds, seconds, J */
};

#define TOP_MAX_INFERENCES 32

struct top_model {
	char hostname[128], driver[80];
	bool simulated;
	char scenario[128];
	unsigned n_gpus;
	struct top_gpu gpu[TOP_MAX_GPUS];
	unsigned n_procs;
	struct top_proc proc[TOP_MAX_PROCS];
	unsigned n_verdicts;
	struct top_verdict verdict[TOP_MAX_VERDICTS];
	unsigned n_inferences; /* a remote agent's last 15 minutes (top --url) */
	struct top_inference inference[TOP_MAX_INFERENCES];
	char diagnosis_state[128]; /* "" when verdicts came; else why there are none */
	double updated;            /* wall seconds of the last good update (0: never) */
	char error[256];           /* the last update's failure, "" when it worked */
};

void top_model_init(struct top_model *m);

/* Parse one document into the model; 0, or -1 with a sentence in err (model unchanged
 * for that document).  parse_gpus also appends a point to each GPU's rings. */
int top_model_parse_gpus(struct top_model *m, const char *buf, size_t len, char *err,
                         size_t errlen);
int top_model_parse_processes(struct top_model *m, const char *buf, size_t len, char *err,
                              size_t errlen);
int top_model_parse_diagnosis(struct top_model *m, const char *buf, size_t len, char *err,
                              size_t errlen);
int top_model_parse_inference(struct top_model *m, const char *buf, size_t len, char *err,
                              size_t errlen);

/* The ring's last `want` points, oldest first, into out/ok (returns how many). */
unsigned top_ring_last(const struct top_ring *r, unsigned want, double *out, bool *ok);

/* Severity rank: critical 3, warning 2, info 1, anything else 0. */
int top_severity_rank(const char *severity);

/* Active clock event reasons as short words ("power_cap thermal"), "" when none. */
void top_clock_reasons_text(double mask, char *buf, size_t len);

#endif
