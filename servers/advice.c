/* advice.c - from a server's figures to analyze_serving (advice.h). */
#include "servers/advice.h"

#include <math.h>
#include <string.h>

static double fig(const struct server_figures *f, enum server_figure k)
{
	return f->valid[k] ? f->v[k] : NAN;
}

void server_advise(const struct advice_input *in, struct server_advice *out)
{
	memset(out, 0, sizeof(*out));
	const struct server_figures *f = in->fig;
	out->knob = server_kind_batch_knob(in->kind);
	struct analyze_server_window w = {.server = in->server ? in->server : "",
	                                  .model = in->model ? in->model : "",
	                                  .knob = out->knob,
	                                  .gpu_index = in->gpu_index,
	                                  .uuid = in->uuid,
	                                  .running = fig(f, SFIG_RUNNING),
	                                  .waiting = fig(f, SFIG_WAITING),
	                                  .kv_usage = fig(f, SFIG_KV_USAGE),
	                                  .preemptions_per_s = fig(f, SFIG_PREEMPT_PS),
	                                  .sm_active = in->sm_active,
	                                  .memory_used = in->memory_used,
	                                  .j_per_token = fig(f, SFIG_J_PER_TOKEN),
	                                  .peer_j_per_token = in->peer_j_per_token,
	                                  .peer = in->peer};
	struct analyze_batch_advice a;
	out->nverdicts = (unsigned)analyze_serving(&w, NULL, &a, out->verdict,
	                                           sizeof(out->verdict) / sizeof(out->verdict[0]));
	out->action = a.action;
	out->batch_now = a.batch_now;
	out->batch_target = a.batch_target;
	memcpy(out->why, a.why, sizeof(out->why));
}
