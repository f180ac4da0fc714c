/* verdicts_comm.c - communication_bound: a process spends too much of its time in NCCL
 * collectives (tensor-parallel inference waiting on AllReduce).
 *
 * The input is what libgpuscope-nccl.so measured (struct analyze_comm_series): the share of
 * the process's wall time inside collectives (the union over its communicators, so two
 * overlapping collectives count once), and the collective kind that took the most time with
 * its size and achieved bus bandwidth.  The verdict fires above comm_share_max (0.3, the
 * usual rule of thumb for tensor parallelism).  Its fix follows from why the time goes:
 *   - small calls (below comm_small_bytes): latency, not bandwidth; bigger batches, fewer
 *     ranks, fused or overlapped collectives;
 *   - large calls well below the link's bandwidth: the ranks do not talk over NVLink (PCIe
 *     or the CPU's interconnect), or NCCL was steered to a slow algorithm;
 *   - large calls near the link's bandwidth: the link is the limit; fewer ranks or overlap.
 * Collectives timed only by their enqueue (NCCL before 2.26) measure host time in the call,
 * not the GPU's: not judged, and said so.
 */
#include <math.h>
#include <string.h>

#include "analyze/internal.h"

/* Below this share of the link, large calls are not limited by it. */
#define COMM_LINK_SLOW 0.5

static void subject(struct analyze_ctx *c, struct analyze_subject *s,
                    const struct analyze_comm_series *cs)
{
	memset(s, 0, sizeof(*s));
	s->gpu_index = -1;
	long gi = cs->gpu_index;
	for (size_t i = 0; gi < 0 && cs->gpu_uuid[0] && i < c->in->ngpus; i++)
		if (c->in->gpus[i].uuid && !strcmp(c->in->gpus[i].uuid, cs->gpu_uuid))
			gi = (long)i;
	if (gi >= 0 && (size_t)gi < c->in->ngpus)
		analyze_subject_gpu(s, (size_t)gi, &c->in->gpus[gi]);
	else if (cs->gpu_uuid[0])
		analyze_setf(s->uuid, sizeof(s->uuid), "%s", cs->gpu_uuid);
	s->pid = cs->pid;
	analyze_setf(s->process, sizeof(s->process), "%s", cs->process);
	analyze_setf(s->workload, sizeof(s->workload), "%s", cs->workload);
}

void analyze_check_comm(struct analyze_ctx *c, const struct analyze_comm_series *cs)
{
	const struct analyze_config *cfg = c->cfg;
	struct analyze_subject about;
	subject(c, &about, cs);
	if (!(cs->window_s > 0) || isnan(cs->busy_s)) {
		analyze_not_judged_add(c, ANALYZE_COMMUNICATION_BOUND, &about,
		                       "no NCCL window measured yet");
		return;
	}
	if (!strcmp(cs->timing, "enqueue")) {
		analyze_not_judged_add(c, ANALYZE_COMMUNICATION_BOUND, &about,
		                       "this NCCL reports when collectives are enqueued, not when "
		                       "they finish (NCCL 2.26 or later times them)");
		return;
	}
	double share = cs->busy_s / cs->window_s;
	if (!(share > cfg->comm_share_max))
		return;
	struct analyze_verdict *v =
	    analyze_verdict_add(c, ANALYZE_COMMUNICATION_BOUND, ANALYZE_SEVERITY_WARNING, &about);
	char size[32], win[32];
	analyze_fmt_bytes(size, sizeof(size), cs->bytes_per_call);
	analyze_fmt_duration(win, sizeof(win), cs->window_s);
	double link_use =
	    cs->busbw > 0 && cs->link_bytes_per_s > 0 ? cs->busbw / cs->link_bytes_per_s : NAN;
	analyze_setf(v->title, sizeof(v->title),
	             "Communication bound: %.0f %% of the time in NCCL collectives (%s)",
	             share * 100, cs->collective[0] ? cs->collective : "collectives");
	char bw[96] = "";
	if (cs->busbw > 0 && !isnan(link_use))
		analyze_setf(bw, sizeof(bw),
		             ", %.1f GB/s bus bandwidth, %.0f %% of NVLink's %.0f GB/s",
		             cs->busbw / 1e9, link_use * 100, cs->link_bytes_per_s / 1e9);
	else if (cs->busbw > 0)
		analyze_setf(bw, sizeof(bw), ", %.1f GB/s bus bandwidth", cs->busbw / 1e9);
	analyze_setf(v->evidence_text, sizeof(v->evidence_text),
	             "%s (pid %u) spent %.0f %% of %s inside collectives (threshold %.0f %%); "
	             "most of it in %s: %.0f calls of %s on average%s%s.",
	             cs->process[0] ? cs->process : "the process", cs->pid, share * 100, win,
	             cfg->comm_share_max * 100, cs->collective, cs->calls, size, bw,
	             cs->nranks > 0 ? "" : " (communicator size not reported by this NCCL)");
	analyze_evidence_add(v, "comm_share", share, "ratio");
	analyze_evidence_add(v, "comm_seconds", cs->busy_s, "s");
	analyze_evidence_add(v, "window", cs->window_s, "s");
	analyze_evidence_add(v, "calls", cs->calls, "count");
	analyze_evidence_add(v, "bytes_per_call", cs->bytes_per_call, "bytes");
	analyze_evidence_add(v, "bus_bandwidth", cs->busbw > 0 ? cs->busbw : NAN, "bytes/s");
	analyze_evidence_add(v, "link_bandwidth", cs->link_bytes_per_s, "bytes/s");
	analyze_evidence_add(v, "link_utilization", link_use, "ratio");
	analyze_evidence_add(v, "ranks", cs->nranks > 0 ? cs->nranks : NAN, "count");
	if (cs->bytes_per_call < cfg->comm_small_bytes)
		analyze_setf(
		    v->fix, sizeof(v->fix),
		    "Each call moves only %s, so latency, not bandwidth, sets its time: "
		    "batch more tokens per step (bigger batches, chunked prefill), use fewer "
		    "tensor-parallel ranks (or data parallelism across replicas), and let "
		    "the server overlap or fuse its AllReduces (CUDA graphs, async TP).",
		    size);
	else if (!isnan(link_use) && link_use < COMM_LINK_SLOW)
		analyze_setf(
		    v->fix, sizeof(v->fix),
		    "Large calls reach only %.0f %% of NVLink: check the ranks talk over "
		    "NVLink (`nvidia-smi topo -m`; NCCL_P2P_LEVEL=NVL), place "
		    "tensor-parallel ranks on NVLink-connected GPUs of one node, and unset "
		    "NCCL_ALGO/NCCL_PROTO overrides.",
		    link_use * 100);
	else if (!isnan(link_use))
		analyze_setf(v->fix, sizeof(v->fix),
		             "The interconnect is near its limit: use fewer tensor-parallel ranks "
		             "(more replicas instead), overlap communication with compute (async "
		             "TP, sequence parallelism), or move to GPUs with a faster link.");
	else
		analyze_setf(
		    v->fix, sizeof(v->fix),
		    "The link's bandwidth is not known here: compare the bus bandwidth with "
		    "nccl-tests' all_reduce_perf on these GPUs.  Well below it, check the "
		    "ranks talk over NVLink (`nvidia-smi topo -m`); near it, use fewer "
		    "tensor-parallel ranks or overlap communication with compute.");
}
