/* render.c - the documents of servers.h, built on the reader thread after each poll and
 * swapped in under the lock, so a handler only copies a string.
 *
 * /api/v1/servers: schema "gpuscope.servers/v1", one object per server (url, kind, how it
 * was found, up or why not, its GPUs and shares, and per model every figure of
 * SERVER_FIGURES by its key, null when unknown).  /api/v1/advice: "gpuscope.advice/v1",
 * per server and model the batch advice and the serving verdicts.  /metrics: one family per
 * figure, labels server, kind, model.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/prom.h"
#include "export/strbuf.h"
#include "series/snapshot.h"
#include "servers/internal.h"

static const char *fig_key(enum server_figure f)
{
	/* the family name without "gpuscope_tokens_" / "gpuscope_inference_server_" */
	const char *n = server_figure_info[f].name;
	if (strncmp(n, "gpuscope_tokens_", 16) == 0)
		return n + 9; /* "tokens_..." */
	if (strncmp(n, "gpuscope_inference_server_", 26) == 0)
		return n + 26;
	return n;
}

static json_t *num(bool valid, double v)
{
	return valid && isfinite(v) ? json_real(v) : json_null();
}

static const char *found_how(const struct target *t)
{
	return t->discovered ? "discovered" : "configured";
}

static json_t *server_doc(const struct servers *s, const struct target *t, double now)
{
	json_t *o = json_object();
	json_object_set_new(o, "server", json_string(t->name));
	json_object_set_new(o, "url", json_string(t->url));
	json_object_set_new(o, "kind", json_string(server_kind_name(t->kind)));
	json_object_set_new(o, "found", json_string(found_how(t)));
	json_object_set_new(o, "up", json_boolean(t->up));
	json_object_set_new(o, "error", t->error[0] ? json_string(t->error) : json_null());
	json_object_set_new(o, "last_read_age_s",
	                    t->last_ok > 0 ? json_real(now - t->last_ok) : json_null());
	json_object_set_new(o, "pid", t->pid ? json_integer(t->pid) : json_null());
	json_t *gpus = json_array();
	for (unsigned j = 0; j < t->ngpus; j++) {
		json_t *g = json_object();
		json_object_set_new(g, "gpu", json_integer(t->gpus[j]));
		json_object_set_new(g, "share", json_real(t->share[j]));
		json_array_append_new(gpus, g);
	}
	json_object_set_new(o, "gpus", gpus);
	json_object_set_new(o, "gpu_model", t->ngpus ? json_string(t->gpu_model) : json_null());
	json_object_set_new(o, "joined", json_boolean(t->ngpus > 0));
	json_object_set_new(o, "lumpy_counters", json_boolean(server_kind_lumpy(t->kind)));
	json_object_set_new(o, "window_target_s", json_real(s->cfg.window_s));
	/* lumpy counters need windows that hold many requests (docs/servers.md) */
	json_object_set_new(o, "window_min_s", json_real(server_kind_min_window(t->kind)));
	json_object_set_new(o, "window_too_short",
	                    json_boolean(s->cfg.window_s < server_kind_min_window(t->kind)));
	json_t *models = json_array();
	for (unsigned m = 0; m < t->nmodels; m++) {
		const struct server_figures *f = &t->fig[m];
		json_t *mo = json_object();
		json_object_set_new(mo, "model", json_string(t->model[m]));
		json_object_set_new(mo, "window_s", json_real(f->window_s));
		json_object_set_new(mo, "warming_up", json_boolean(t->warming));
		json_object_set_new(mo, "counter_reset", json_boolean(f->reset));
		json_object_set_new(mo, "generated_tokens", num(true, f->gen_tokens));
		json_object_set_new(mo, "prompt_tokens", num(true, f->prompt_tokens));
		json_object_set_new(mo, "requests", num(true, f->requests));
		for (int k = 0; k < SFIG_COUNT; k++)
			json_object_set_new(mo, fig_key((enum server_figure)k),
			                    num(f->valid[k], f->v[k]));
		json_array_append_new(models, mo);
	}
	json_object_set_new(o, "models", models);
	return o;
}

static char *doc_text(json_t *doc)
{
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
	json_decref(doc);
	if (!text)
		return NULL;
	size_t n = strlen(text);
	char *out = realloc(text, n + 2);
	if (!out)
		return text;
	out[n] = '\n';
	out[n + 1] = 0;
	return out;
}

static char *render_servers(const struct servers *s, double now)
{
	json_t *doc = json_object();
	json_object_set_new(doc, "schema", json_string("gpuscope.servers/v1"));
	if (s->cfg.simulated)
		json_object_set_new(doc, "simulated", json_true());
	json_object_set_new(doc, "discovery", json_boolean(!s->cfg.no_discovery));
	json_t *arr = json_array();
	for (unsigned k = 0; k < s->ntargets; k++)
		json_array_append_new(arr, server_doc(s, &s->targets[k], now));
	json_object_set_new(doc, "servers", arr);
	return doc_text(doc);
}

static char *render_advice(const struct servers *s)
{
	json_t *doc = json_object();
	json_object_set_new(doc, "schema", json_string("gpuscope.advice/v1"));
	if (s->cfg.simulated)
		json_object_set_new(doc, "simulated", json_true());
	json_t *arr = json_array();
	for (unsigned k = 0; k < s->ntargets; k++) {
		const struct target *t = &s->targets[k];
		for (unsigned m = 0; m < t->nmodels; m++) {
			const struct server_advice *a = &t->advice[m];
			json_t *o = json_object();
			json_object_set_new(o, "server", json_string(t->name));
			json_object_set_new(o, "kind", json_string(server_kind_name(t->kind)));
			json_object_set_new(o, "model", json_string(t->model[m]));
			json_object_set_new(o, "action", json_string(a->action));
			json_object_set_new(o, "knob", json_string(a->knob));
			json_object_set_new(o, "batch_now", num(true, a->batch_now));
			json_object_set_new(o, "batch_target", num(true, a->batch_target));
			json_object_set_new(o, "why", json_string(a->why));
			json_object_set_new(o, "warming_up", json_boolean(t->warming));
			json_t *vs = json_array();
			for (unsigned i = 0; i < a->nverdicts; i++) {
				const struct analyze_verdict *av = &a->verdict[i];
				json_t *v = json_object();
				json_object_set_new(v, "id", json_string(av->id));
				json_object_set_new(
				    v, "severity",
				    json_string(analyze_severity_name(av->severity)));
				json_object_set_new(v, "title", json_string(av->title));
				json_object_set_new(v, "evidence", json_string(av->evidence_text));
				json_object_set_new(v, "fix", json_string(av->fix));
				json_t *ev = json_object();
				for (size_t e = 0; e < av->nevidence; e++)
					json_object_set_new(ev, av->evidence[e].name,
					                    num(true, av->evidence[e].value));
				json_object_set_new(v, "values", ev);
				json_array_append_new(vs, v);
			}
			json_object_set_new(o, "verdicts", vs);
			json_array_append_new(arr, o);
		}
	}
	json_object_set_new(doc, "advice", arr);
	return doc_text(doc);
}

static char *render_health(const struct servers *s, double now)
{
	json_t *arr = json_array();
	for (unsigned k = 0; k < s->ntargets; k++) {
		const struct target *t = &s->targets[k];
		json_t *o = json_object();
		json_object_set_new(o, "server", json_string(t->name));
		json_object_set_new(o, "up", json_boolean(t->up));
		if (!t->up)
			json_object_set_new(o, "error",
			                    json_string(t->error[0] ? t->error : "not read yet"));
		json_array_append_new(arr, o);
	}
	(void)now;
	char *text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return text;
}

static void esc(struct strbuf *sb, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			sb_printf(sb, "\\%c", *v);
		else if (*v == '\n')
			sb_append(sb, "\\n", 2);
		else
			sb_append(sb, v, 1);
	}
}

static char *render_prom(const struct servers *s)
{
	struct strbuf sb;
	sb_init(&sb, 8 * 1024);
	sb_printf(&sb, "# HELP gpuscope_inference_server_up 1 when the server's last /metrics "
	               "read succeeded (docs/servers.md).\n# TYPE gpuscope_inference_server_up "
	               "gauge\n");
	for (unsigned k = 0; k < s->ntargets; k++) {
		const struct target *t = &s->targets[k];
		sb_printf(&sb, "gpuscope_inference_server_up{server=\"");
		esc(&sb, t->name);
		sb_printf(&sb, "\",kind=\"%s\",found=\"%s\"} %d\n", server_kind_name(t->kind),
		          found_how(t), t->up ? 1 : 0);
	}
	sb_printf(&sb, "# HELP gpuscope_inference_server_gpu_share The server's share of a GPU "
	               "(its processes' part of the GPU's energy split).\n# TYPE "
	               "gpuscope_inference_server_gpu_share gauge\n");
	for (unsigned k = 0; k < s->ntargets; k++) {
		const struct target *t = &s->targets[k];
		for (unsigned j = 0; j < t->ngpus; j++) {
			sb_printf(&sb, "gpuscope_inference_server_gpu_share{server=\"");
			esc(&sb, t->name);
			sb_printf(&sb, "\",gpu=\"%u\"} %.6g\n", t->gpus[j], t->share[j]);
		}
	}
	for (int f = 0; f < SFIG_COUNT; f++) {
		const struct server_figure_info *fi = &server_figure_info[f];
		sb_printf(&sb, "# HELP %s %s\n# TYPE %s gauge\n", fi->name, fi->help, fi->name);
		for (unsigned k = 0; k < s->ntargets; k++) {
			const struct target *t = &s->targets[k];
			for (unsigned m = 0; m < t->nmodels; m++) {
				if (!t->fig[m].valid[f])
					continue;
				sb_printf(&sb, "%s{server=\"", fi->name);
				esc(&sb, t->name);
				sb_printf(&sb, "\",kind=\"%s\",model=\"",
				          server_kind_name(t->kind));
				esc(&sb, t->model[m]);
				/* the GPU model too, so a fleet compares the same model on the same
				 * GPUs */
				sb_printf(&sb, "\",gpu_model=\"");
				esc(&sb, t->ngpus ? t->gpu_model : "");
				sb_printf(&sb, "\"} %.9g\n", t->fig[m].v[f]);
			}
		}
	}
	sb_printf(&sb, "# HELP gpuscope_inference_server_batch_advice_target Batch size the "
	               "advice aims at (/api/v1/advice says why).\n# TYPE "
	               "gpuscope_inference_server_batch_advice_target gauge\n");
	for (unsigned k = 0; k < s->ntargets; k++) {
		const struct target *t = &s->targets[k];
		for (unsigned m = 0; m < t->nmodels; m++) {
			const struct server_advice *a = &t->advice[m];
			if (!isfinite(a->batch_target))
				continue;
			sb_printf(&sb, "gpuscope_inference_server_batch_advice_target{server=\"");
			esc(&sb, t->name);
			sb_printf(&sb, "\",model=\"");
			esc(&sb, t->model[m]);
			sb_printf(&sb, "\",action=\"%s\"} %.6g\n", a->action, a->batch_target);
		}
	}
	char *out = sb.oom ? NULL : strdup(sb.data ? sb.data : "");
	sb_free(&sb);
	return out;
}

static char *render_doctor(const struct servers *s)
{
	struct strbuf sb;
	sb_init(&sb, 1024);
	if (!s->ntargets)
		sb_printf(&sb, "inference servers: none configured or found%s\n",
		          s->cfg.no_discovery ? " (discovery off)" : "");
	for (unsigned k = 0; k < s->ntargets; k++) {
		const struct target *t = &s->targets[k];
		sb_printf(&sb, "inference server %s (%s, %s): %s%s", t->name,
		          server_kind_name(t->kind), found_how(t),
		          t->up ? "up" : "DOWN: ", t->up ? "" : t->error);
		if (t->ngpus) {
			sb_printf(&sb, ", GPUs");
			for (unsigned j = 0; j < t->ngpus; j++)
				sb_printf(&sb, "%s%u", j ? "," : " ", t->gpus[j]);
		} else {
			sb_printf(&sb, ", not joined to a GPU");
		}
		sb_printf(&sb, "\n");
	}
	char *out = sb.oom ? NULL : strdup(sb.data ? sb.data : "");
	sb_free(&sb);
	return out;
}

void servers_render(struct servers *s)
{
	double now = mono_now();
	char *json = render_servers(s, now), *advice = render_advice(s);
	char *health = render_health(s, now), *prom = render_prom(s), *doctor = render_doctor(s);
	pthread_mutex_lock(&s->lock);
	free(s->json);
	free(s->advice_json);
	free(s->health_json);
	free(s->prom);
	free(s->doctor);
	s->json = json;
	s->advice_json = advice;
	s->health_json = health;
	s->prom = prom;
	s->doctor = doctor;
	pthread_mutex_unlock(&s->lock);
}

static char *copy(struct servers *s, char *const *field)
{
	pthread_mutex_lock(&s->lock);
	char *out = *field ? strdup(*field) : NULL;
	pthread_mutex_unlock(&s->lock);
	return out;
}

char *servers_json(struct servers *s)
{
	return copy(s, &s->json);
}

char *servers_advice_json(struct servers *s)
{
	return copy(s, &s->advice_json);
}

char *servers_health_json(struct servers *s)
{
	return copy(s, &s->health_json);
}

char *servers_doctor_text(struct servers *s)
{
	return copy(s, &s->doctor);
}

void servers_prom(struct servers *s, const struct prom_options *o, struct strbuf *out)
{
	if (!(o->names & NAMES_NATIVE))
		return;
	pthread_mutex_lock(&s->lock);
	if (s->prom)
		sb_append(out, s->prom, strlen(s->prom));
	pthread_mutex_unlock(&s->lock);
}
