/* serving.c - batch advice and serving verdicts (serving.h). */
#include "analyze/serving.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analyze/internal.h"

void analyze_serving_config_default(struct analyze_serving_config *c)
{
	*c = (struct analyze_serving_config){.kv_full = 0.90,
	                                     .kv_room = 0.70,
	                                     .kv_target_up = 0.80,
	                                     .kv_target_down = 0.85,
	                                     .sm_idle = 0.60,
	                                     .queue_min = 1,
	                                     .mem_low = 0.70,
	                                     .mem_high = 0.85,
	                                     .energy_worse = 1.30};
}

struct out {
	struct analyze_verdict *v;
	size_t n, cap;
};

static struct analyze_verdict *verdict(struct out *o, const struct analyze_server_window *in,
                                       const char *id, enum analyze_severity sev)
{
	if (o->n >= o->cap)
		return NULL;
	struct analyze_verdict *v = &o->v[o->n++];
	memset(v, 0, sizeof(*v));
	v->id = id;
	v->severity = sev;
	v->about.gpu_index = in->gpu_index;
	analyze_setf(v->about.uuid, sizeof(v->about.uuid), "%s", in->uuid ? in->uuid : "");
	analyze_setf(v->about.workload, sizeof(v->about.workload), "%s %s",
	             in->server ? in->server : "", in->model ? in->model : "");
	return v;
}

static double or0(double v)
{
	return isnan(v) ? 0 : v;
}

size_t analyze_serving(const struct analyze_server_window *in,
                       const struct analyze_serving_config *cfg, struct analyze_batch_advice *a,
                       struct analyze_verdict *out, size_t cap)
{
	struct analyze_serving_config defaults;
	if (!cfg) {
		analyze_serving_config_default(&defaults);
		cfg = &defaults;
	}
	struct out o = {out, 0, out ? cap : 0};
	memset(a, 0, sizeof(*a));
	double running = in->running, kv = in->kv_usage, preempt = in->preemptions_per_s;
	const char *knob = in->knob ? in->knob : "the batch size";
	a->batch_now = a->batch_target = running;
	a->action = "unknown";
	bool pressure = (!isnan(kv) && kv >= cfg->kv_full) || (!isnan(preempt) && preempt > 0);
	bool room = !isnan(kv) ? kv < cfg->kv_room
	                       : (!isnan(in->memory_used) && in->memory_used < cfg->mem_low);
	bool queue = !isnan(in->waiting) && in->waiting >= cfg->queue_min;
	/* SMs waiting on a batch that runs: an idle server (nothing running) is not one */
	bool sm_idle = !isnan(in->sm_active) && in->sm_active < cfg->sm_idle && !isnan(running) &&
	               running >= 1;

	if (isnan(running)) {
		analyze_setf(a->why, sizeof(a->why),
		             "the server does not report its running batch");
	} else if (pressure) {
		double target =
		    !isnan(kv) && kv > 0 ? floor(running * cfg->kv_target_down / kv) : running - 1;
		if (target > running - 1)
			target = running - 1;
		a->batch_target = target < 1 ? 1 : target;
		a->action = "lower";
		if (!isnan(preempt) && preempt > 0)
			analyze_setf(
			    a->why, sizeof(a->why),
			    "KV cache %.0f%% full, %.2f preemptions/s: requests are evicted and "
			    "recomputed",
			    or0(kv) * 100, preempt);
		else
			analyze_setf(
			    a->why, sizeof(a->why),
			    "KV cache %.0f%% full: new requests wait for room, and a longer one "
			    "evicts others",
			    kv * 100);
		struct analyze_verdict *v =
		    verdict(&o, in, ANALYZE_KV_CACHE_PRESSURE, ANALYZE_SEVERITY_WARNING);
		if (v) {
			analyze_setf(v->title, sizeof(v->title), "%s (%s): KV cache %.0f%% full",
			             in->server, in->model, or0(kv) * 100);
			analyze_setf(
			    v->evidence_text, sizeof(v->evidence_text),
			    "KV cache %.2f in use on average, %.2f preemptions/s, %.1f running, "
			    "%.1f waiting: %s",
			    kv, or0(preempt), running, or0(in->waiting), a->why);
			analyze_setf(
			    v->fix, sizeof(v->fix),
			    "lower %s to about %.0f, or give the KV cache more memory (vLLM "
			    "--gpu-memory-utilization, SGLang --mem-fraction-static) or a shorter "
			    "maximum context",
			    knob, a->batch_target);
			analyze_evidence_add(v, "kv_cache_usage", kv, "ratio");
			analyze_evidence_add(v, "preemptions_per_s", preempt, "1/s");
			analyze_evidence_add(v, "running", running, "requests");
			analyze_evidence_add(v, "batch_target", a->batch_target, "requests");
		}
	} else if (room && (queue || sm_idle)) {
		/* towards kv_target_up of the cache, at most twice, at least +2; without a KV
		 * figure, the seed's +2 */
		double grow = !isnan(kv) && kv > 0.05 ? cfg->kv_target_up / kv : 1.0;
		if (grow > 2)
			grow = 2;
		double target = ceil(running * grow);
		if (target < running + 2)
			target = ceil(running) + 2;
		a->batch_target = target;
		a->action = "raise";
		analyze_setf(a->why, sizeof(a->why), "%s%s%s with %s", queue ? "requests wait" : "",
		             queue && sm_idle ? " and " : "", sm_idle ? "SMs idle" : "",
		             !isnan(kv) ? "KV-cache room"
		                        : "GPU memory room (seed rule: +2 below 0.70)");
		struct analyze_verdict *v =
		    verdict(&o, in, ANALYZE_BATCH_TOO_SMALL,
		            queue ? ANALYZE_SEVERITY_WARNING : ANALYZE_SEVERITY_INFO);
		if (v) {
			analyze_setf(v->title, sizeof(v->title),
			             "%s (%s): batch too small, %.0f running with %s", in->server,
			             in->model, running,
			             !isnan(kv) ? "KV-cache room" : "memory room");
			analyze_setf(
			    v->evidence_text, sizeof(v->evidence_text),
			    "%.1f running, %.1f waiting, KV cache %.2f, SM activity %.2f, memory "
			    "in use %.2f: %s",
			    running, or0(in->waiting), kv, in->sm_active, in->memory_used, a->why);
			analyze_setf(
			    v->fix, sizeof(v->fix),
			    "raise %s from about %.0f to %.0f: the KV cache has room, and a larger "
			    "batch shares each step's weight reads over more tokens (lower "
			    "J/token)",
			    knob, running, target);
			analyze_evidence_add(v, "running", running, "requests");
			analyze_evidence_add(v, "waiting", in->waiting, "requests");
			analyze_evidence_add(v, "kv_cache_usage", kv, "ratio");
			analyze_evidence_add(v, "sm_active", in->sm_active, "ratio");
			analyze_evidence_add(v, "batch_target", target, "requests");
		}
	} else if (isnan(kv) && !isnan(in->memory_used) && in->memory_used > cfg->mem_high) {
		a->action = "lower";
		a->batch_target = running > 1 ? running - 1 : 1;
		analyze_setf(a->why, sizeof(a->why),
		             "GPU memory %.0f%% in use and no KV-cache figure (seed rule: -1 above "
		             "0.85)",
		             in->memory_used * 100);
	} else {
		a->action = "keep";
		analyze_setf(a->why, sizeof(a->why), "%s",
		             queue         ? "requests wait, but the KV cache has no room for more"
		             : running < 1 ? "idle: nothing runs, nothing to batch"
		                           : "no queue, SMs busy or KV cache well used");
	}

	double jpt = in->j_per_token, peer = in->peer_j_per_token;
	if (!isnan(jpt) && !isnan(peer) && peer > 0 && jpt >= cfg->energy_worse * peer) {
		struct analyze_verdict *v =
		    verdict(&o, in, ANALYZE_ENERGY_PER_TOKEN_HIGH, ANALYZE_SEVERITY_WARNING);
		if (v) {
			analyze_setf(v->title, sizeof(v->title),
			             "%s (%s): %.1fx the energy per token of %s", in->server,
			             in->model, jpt / peer, in->peer ? in->peer : "its peer");
			analyze_setf(
			    v->evidence_text, sizeof(v->evidence_text),
			    "%.3f J/token against %.3f J/token for the same model on the same GPU "
			    "model (%s): %.1fx",
			    jpt, peer, in->peer ? in->peer : "?", jpt / peer);
			analyze_setf(
			    v->fix, sizeof(v->fix),
			    "compare the two servers' batch sizes, precision and settings; route "
			    "more traffic to the cheaper one or give this one its batch");
			analyze_evidence_add(v, "j_per_token", jpt, "J");
			analyze_evidence_add(v, "peer_j_per_token", peer, "J");
		}
	}
	return o.n;
}
