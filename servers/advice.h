/* advice.h - should an inference server run a larger or a smaller batch, by how much, and
 * why; and the serving verdicts (batch too small, KV-cache pressure, energy per token worse
 * than the same model elsewhere).
 *
 * The batch is bounded by the KV cache, not by GPU memory: vLLM and SGLang take most of the
 * GPU's memory for their KV cache at start, so the memory in use says nothing about room
 * for more sequences.  The inputs, in order of weight:
 *   1. KV-cache usage and preemptions: near full (>= 0.90) or preempting -> lower, to about
 *      0.85 of the cache;
 *   2. requests waiting, or SMs idle (GPM SM activity < 0.60), with KV-cache room (< 0.70)
 *      -> raise, towards 0.80 of the cache (at most twice the batch, at least +2);
 *   3. where the server has no KV figure (TGI without v3, Triton without TRT-LLM), the
 *      seed's memory rule: GPU memory in use below 0.70 -> +2, above 0.85 -> -1, target 0.80.
 * Pure; thresholds are in advice.c and docs/servers.md.
 */
#ifndef GPUSCOPE_SERVERS_ADVICE_H
#define GPUSCOPE_SERVERS_ADVICE_H

#include <stdbool.h>

#include "servers/figures.h"
#include "servers/kinds.h"

#define ADVICE_BATCH_TOO_SMALL   "batch_too_small"
#define ADVICE_KV_CACHE_PRESSURE "kv_cache_pressure"
#define ADVICE_ENERGY_PER_TOKEN  "energy_per_token_high"

struct advice_input {
	enum server_kind kind;
	const struct server_figures *fig;
	double sm_active;        /* mean GPM SM activity of its GPUs, NaN when unknown */
	double memory_used;      /* highest memory-in-use ratio of its GPUs, NaN when unknown */
	double peer_j_per_token; /* best J/token of the same model on the same GPU kind elsewhere */
	const char *peer;        /* which server that was */
};

struct advice_verdict {
	const char *id;
	const char *severity; /* "info", "warning" */
	char evidence[400];
	char fix[300];
};

struct server_advice {
	const char *action; /* "raise", "lower", "keep", "unknown" */
	double batch_now;   /* running requests (mean); NaN when unknown */
	double batch_target;
	const char *knob;
	char why[400];
	unsigned nverdicts;
	struct advice_verdict verdict[3];
};

void server_advise(const struct advice_input *in, struct server_advice *out);

#endif
