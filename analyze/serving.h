/* serving.h - the diagnosis of inference servers: should the batch grow or shrink, by how
 * much and why, and three verdicts with evidence and a fix (batch_too_small,
 * kv_cache_pressure, energy_per_token_high).
 *
 * The input is one server and model over a window, as figures the caller computed from the
 * server's own metrics and the GPUs it holds (servers/ in the agent, docs/servers.md).  The
 * batch is bounded by the KV cache, not by GPU memory: vLLM and SGLang take most of the
 * GPU's memory for their KV cache at start, so memory in use says nothing about room for
 * more sequences.  In order:
 *   1. KV cache >= kv_full or any preemption -> lower, to about kv_target_down of the cache;
 *   2. requests waiting, or SMs idle under a running batch, with KV cache < kv_room ->
 *      raise towards kv_target_up of the cache (at most twice, at least +2);
 *   3. no KV figure: the seed's memory rule (target 0.80): +2 below mem_low, -1 above
 *      mem_high;
 *   4. else keep.
 * energy_per_token_high: J/token above energy_worse x the best of the same model on the
 * same GPU model elsewhere (the caller finds that peer).  Pure and stateless, like the
 * rest of the engine; it uses analyze.h's verdict record, so JSON and reports treat the
 * serving verdicts like the others.  Thresholds: struct analyze_serving_config.
 */
#ifndef GPUSCOPE_ANALYZE_SERVING_H
#define GPUSCOPE_ANALYZE_SERVING_H

#include <stddef.h>

#include "analyze/analyze.h"

#define ANALYZE_BATCH_TOO_SMALL       "batch_too_small"
#define ANALYZE_KV_CACHE_PRESSURE     "kv_cache_pressure"
#define ANALYZE_ENERGY_PER_TOKEN_HIGH "energy_per_token_high"

struct analyze_serving_config {
	double kv_full;        /* KV cache at or above: pressure (0.90) */
	double kv_room;        /* below: room for more sequences (0.70) */
	double kv_target_up;   /* raise towards this usage (0.80) */
	double kv_target_down; /* lower towards this usage (0.85) */
	double sm_idle;        /* GPM SM activity below this with a batch running (0.60) */
	double queue_min;      /* mean requests waiting at or above this (1) */
	double mem_low;        /* the seed's rule without a KV figure: +2 below (0.70) */
	double mem_high;       /* ... -1 above (0.85) */
	double energy_worse;   /* J/token at or above this x the peer's (1.30) */
};

void analyze_serving_config_default(struct analyze_serving_config *c);

/* One server and model over a window; NaN where unknown. */
struct analyze_server_window {
	const char *server; /* "host:port" */
	const char *model;
	const char *knob; /* the setting that bounds the batch, e.g. "max_num_seqs" */
	long gpu_index;   /* its (first) GPU, -1 when not joined */
	const char *uuid; /* that GPU's */
	double running, waiting, kv_usage, preemptions_per_s;
	double sm_active;   /* mean GPM SM activity of its GPUs */
	double memory_used; /* highest memory-in-use ratio of its GPUs */
	double j_per_token;
	double peer_j_per_token; /* best of the same model on the same GPU model elsewhere */
	const char *peer;
};

struct analyze_batch_advice {
	const char *action; /* "raise", "lower", "keep", "unknown" */
	double batch_now, batch_target;
	char why[300];
};

/* Advises the batch and writes up to cap verdicts into out; returns how many. */
size_t analyze_serving(const struct analyze_server_window *in,
                       const struct analyze_serving_config *cfg,
                       struct analyze_batch_advice *advice, struct analyze_verdict *out,
                       size_t cap);

#endif
