/* kinds.h - what each inference server calls its counts, and one scrape of a server
 * reduced to the figures gpuscope needs (a "reading").
 *
 * One table (kinds.c) says, per server kind, which metric name (and which label, for the
 * ones that mix outcomes: vLLM's request_success counts aborts) gives each field, with the
 * field's unit scale.  A field may have several names, in order of preference: vLLM's
 * kv_cache_usage_perc before its deprecated gpu_cache_usage_perc, inter_token_latency before
 * time_per_output_token.  A reading keeps, per model, the sum of a counter over the series
 * that carry it (engines, finished reasons), the mean of a fraction, and a histogram's
 * buckets summed by bound.  The kind is the one whose names the scrape matched most, so a
 * Triton server running the vLLM backend (vllm:* names with a "model" label) reads as vLLM.
 *
 * Everything here is pure: text in, reading out.  Sources for each name:
 * ../shared/facts/inference-servers.md (vLLM loggers.py, SGLang collector.py, TGI router,
 * Triton metrics.md, tensorrtllm_backend README, llama.cpp server).
 */
#ifndef GPUSCOPE_SERVERS_KINDS_H
#define GPUSCOPE_SERVERS_KINDS_H

#include <stdbool.h>
#include <stddef.h>

enum server_kind {
	SERVER_UNKNOWN,
	SERVER_VLLM,
	SERVER_SGLANG,
	SERVER_TGI,
	SERVER_TRITON, /* Triton core, and TensorRT-LLM through Triton */
	SERVER_LLAMACPP,
	SERVER_KIND_COUNT
};

enum server_field {
	SF_GEN_TOKENS,     /* counter: generated (output) tokens */
	SF_PROMPT_TOKENS,  /* counter: prompt (input) tokens */
	SF_REQUESTS,       /* counter: requests completed, aborts left out */
	SF_PREEMPTIONS,    /* counter: requests preempted (KV cache full) */
	SF_RUNNING,        /* gauge: requests in the running batch */
	SF_WAITING,        /* gauge: requests queued */
	SF_KV_USAGE,       /* gauge: KV cache in use, fraction 0-1 */
	SF_KV_USED_TOKENS, /* gauge: tokens of the batch (TGI), over SF_KV_MAX_TOKENS */
	SF_KV_MAX_TOKENS,  /* gauge: the batch's token budget (TGI max_batch_total_tokens) */
	SF_INFER_COUNT,    /* counter: batch items executed (Triton nv_inference_count) */
	SF_EXEC_COUNT,     /* counter: executions (Triton nv_inference_exec_count) */
	SF_TTFT,           /* histogram: time to first token, seconds */
	SF_ITL,            /* histogram: inter-token latency, seconds */
	SF_FIELD_COUNT
};

#define SERVER_HIST_BUCKETS 48
#define SERVER_MODELS_MAX   8
#define SERVER_MODEL_MAX    128

struct server_hist {
	unsigned n; /* buckets, bounds ascending; the last is +Inf when the server sent it */
	double le[SERVER_HIST_BUCKETS];
	double count[SERVER_HIST_BUCKETS]; /* cumulative, as exposed */
	double sum, total;
};

struct server_model {
	char name[SERVER_MODEL_MAX]; /* "" when the server has no model label */
	double v[SF_FIELD_COUNT];    /* counters and gauges (histograms: in hist) */
	bool valid[SF_FIELD_COUNT];
	unsigned n_mean[SF_FIELD_COUNT];  /* series averaged into a fraction */
	signed char rank[SF_FIELD_COUNT]; /* preference of the name that gave the value */
	struct server_hist hist[2];       /* [0] TTFT, [1] ITL */
};

struct server_reading {
	enum server_kind kind;
	unsigned samples, bad_lines, matched;
	unsigned n_models;
	bool models_dropped; /* more than SERVER_MODELS_MAX models: the rest were not kept */
	struct server_model model[SERVER_MODELS_MAX];
};

/* Reads one /metrics body.  Returns 0, or -1 when no name of any known server was found
 * (why: "no known inference-server metric names", "not Prometheus text"). */
int server_reading_parse(const char *buf, size_t len, struct server_reading *out, const char **why);

const char *server_kind_name(enum server_kind k); /* "vllm", "sglang", "tgi", ... */
/* The knob that sets the batch size, for advice ("max_num_seqs"). */
const char *server_kind_batch_knob(enum server_kind k);
/* True when this server counts tokens only when a request finishes (lumpy counters). */
bool server_kind_lumpy(enum server_kind k);
/* The shortest window its counters support, seconds (docs/servers.md). */
double server_kind_min_window(enum server_kind k);

/* Is the field a counter (rates over windows, resets), a histogram, or a gauge? */
bool server_field_counter(enum server_field f);
bool server_field_hist(enum server_field f);

/* The model's entry, or NULL. */
const struct server_model *server_reading_model(const struct server_reading *r, const char *name);

#endif
