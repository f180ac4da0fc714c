/* advice.h - a server's window figures to the diagnosis engine's serving advice and
 * verdicts (analyze/serving.h, where the rules and thresholds live).
 *
 * This file only gathers the engine's input from a server's figures and the GPUs it holds;
 * keeping the rules in analyze/ lets a report over history or Prometheus judge servers the
 * same way the agent does.
 */
#ifndef GPUSCOPE_SERVERS_ADVICE_H
#define GPUSCOPE_SERVERS_ADVICE_H

#include <stdbool.h>

#include "analyze/serving.h"
#include "servers/figures.h"
#include "servers/kinds.h"

struct advice_input {
	enum server_kind kind;
	const struct server_figures *fig;
	double sm_active;        /* mean GPM SM activity of its GPUs, NaN when unknown */
	double memory_used;      /* highest memory-in-use ratio of its GPUs, NaN when unknown */
	double peer_j_per_token; /* best J/token of the same model on the same GPU kind elsewhere */
	const char *peer;        /* which server that was */
	const char *server, *model, *uuid;
	long gpu_index; /* -1: not joined */
};

struct server_advice {
	const char *action; /* "raise", "lower", "keep", "unknown" */
	double batch_now;   /* running requests (mean); NaN when unknown */
	double batch_target;
	const char *knob;
	char why[300];
	unsigned nverdicts;
	struct analyze_verdict verdict[3];
};

void server_advise(const struct advice_input *in, struct server_advice *out);

#endif
