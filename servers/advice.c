/* advice.c - batch advice and serving verdicts (advice.h). */
#include "servers/advice.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define KV_FULL        0.90 /* at or above: pressure */
#define KV_ROOM        0.70 /* below: room for more sequences */
#define KV_TARGET_UP   0.80 /* raise towards this usage */
#define KV_TARGET_DOWN 0.85 /* lower towards this usage */
#define SM_IDLE        0.60 /* GPM SM activity below this: SMs wait */
#define MEM_LOW        0.70 /* the seed's rule: +2 below */
#define MEM_HIGH       0.85 /* ... -1 above */
#define ENERGY_WORSE   1.30 /* J/token this many times the peer's */

static double fig(const struct server_figures *f, enum server_figure k)
{
	return f->valid[k] ? f->v[k] : NAN;
}

static struct advice_verdict *verdict(struct server_advice *a, const char *id, const char *sev)
{
	if (a->nverdicts >= sizeof(a->verdict) / sizeof(a->verdict[0]))
		return NULL;
	struct advice_verdict *v = &a->verdict[a->nverdicts++];
	memset(v, 0, sizeof(*v));
	v->id = id;
	v->severity = sev;
	return v;
}

void server_advise(const struct advice_input *in, struct server_advice *out)
{
	memset(out, 0, sizeof(*out));
	const struct server_figures *f = in->fig;
	double running = fig(f, SFIG_RUNNING), waiting = fig(f, SFIG_WAITING);
	double kv = fig(f, SFIG_KV_USAGE), preempt = fig(f, SFIG_PREEMPT_PS);
	out->knob = server_kind_batch_knob(in->kind);
	out->batch_now = running;
	out->batch_target = running;
	out->action = "unknown";

	bool pressure = (!isnan(kv) && kv >= KV_FULL) || (!isnan(preempt) && preempt > 0);
	bool room =
	    !isnan(kv) ? kv < KV_ROOM : (!isnan(in->memory_used) && in->memory_used < MEM_LOW);
	bool queue = !isnan(waiting) && waiting >= 1;
	/* SMs waiting on a batch that runs: an idle server (nothing running) is not one */
	bool sm_idle =
	    !isnan(in->sm_active) && in->sm_active < SM_IDLE && !isnan(running) && running >= 1;

	if (isnan(running)) {
		snprintf(out->why, sizeof(out->why),
		         "the server does not report its running batch");
	} else if (pressure) {
		double target =
		    !isnan(kv) && kv > 0 ? floor(running * KV_TARGET_DOWN / kv) : running - 1;
		if (target > running - 1)
			target = running - 1;
		out->batch_target = target < 1 ? 1 : target;
		out->action = "lower";
		snprintf(
		    out->why, sizeof(out->why),
		    "KV cache %.0f%% full, %.2f preemptions/s: requests are evicted and recomputed",
		    isnan(kv) ? NAN : kv * 100, isnan(preempt) ? 0 : preempt);
		struct advice_verdict *v = verdict(out, ADVICE_KV_CACHE_PRESSURE, "warning");
		snprintf(v->evidence, sizeof(v->evidence),
		         "kv_cache_usage %.2f, preemptions %.2f/s, running %.1f, waiting %.1f", kv,
		         isnan(preempt) ? 0 : preempt, running, isnan(waiting) ? 0 : waiting);
		snprintf(v->fix, sizeof(v->fix),
		         "lower %s to about %.0f, or give the KV cache more memory (vLLM "
		         "--gpu-memory-utilization, SGLang --mem-fraction-static) or a shorter "
		         "maximum context",
		         out->knob, out->batch_target);
	} else if (room && (queue || sm_idle)) {
		/* towards 0.80 of the KV cache, at most twice, at least +2; without a KV figure,
		 * the seed's +2 */
		double grow = !isnan(kv) && kv > 0.05 ? KV_TARGET_UP / kv : 1.0;
		if (grow > 2)
			grow = 2;
		double target = ceil(running * grow);
		if (target < running + 2)
			target = ceil(running) + 2;
		out->batch_target = target;
		out->action = "raise";
		snprintf(out->why, sizeof(out->why), "%s%s%s with %s", queue ? "requests wait" : "",
		         queue && sm_idle ? " and " : "", sm_idle ? "SMs idle" : "",
		         !isnan(kv) ? "KV-cache room"
		                    : "GPU memory room (seed rule: +2 below 0.70)");
		struct advice_verdict *v =
		    verdict(out, ADVICE_BATCH_TOO_SMALL, queue ? "warning" : "info");
		snprintf(v->evidence, sizeof(v->evidence),
		         "running %.1f, waiting %.1f, kv_cache_usage %.2f, sm_active %.2f, "
		         "memory_used %.2f",
		         running, isnan(waiting) ? 0 : waiting, kv, in->sm_active, in->memory_used);
		snprintf(
		    v->fix, sizeof(v->fix),
		    "raise %s from about %.0f to %.0f: the KV cache has room, and a larger batch "
		    "shares each step's weight reads over more tokens (lower J/token)",
		    out->knob, running, target);
	} else if (isnan(kv) && !isnan(in->memory_used) && in->memory_used > MEM_HIGH) {
		out->action = "lower";
		out->batch_target = running > 1 ? running - 1 : 1;
		snprintf(
		    out->why, sizeof(out->why),
		    "GPU memory %.0f%% in use and no KV-cache figure (seed rule: -1 above 0.85)",
		    in->memory_used * 100);
	} else {
		out->action = "keep";
		snprintf(out->why, sizeof(out->why), "%s",
		         queue ? "requests wait, but the KV cache has no room for more"
		         : !isnan(running) && running < 1
		             ? "idle: nothing runs, nothing to batch"
		             : "no queue, SMs busy or KV cache well used");
	}

	double jpt = fig(f, SFIG_J_PER_TOKEN);
	if (!isnan(jpt) && !isnan(in->peer_j_per_token) && in->peer_j_per_token > 0 &&
	    jpt > ENERGY_WORSE * in->peer_j_per_token) {
		struct advice_verdict *v = verdict(out, ADVICE_ENERGY_PER_TOKEN, "warning");
		if (v) {
			snprintf(
			    v->evidence, sizeof(v->evidence),
			    "%.3f J/token against %.3f J/token for the same model on the same GPU "
			    "kind (%s): %.1fx",
			    jpt, in->peer_j_per_token, in->peer ? in->peer : "?",
			    jpt / in->peer_j_per_token);
			snprintf(
			    v->fix, sizeof(v->fix),
			    "compare the two servers' batch sizes, precision and settings; route "
			    "more traffic to the cheaper one or give this one its batch");
		}
	}
}
