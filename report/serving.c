/* serving.c - the per-model lines of serving.h. */
#include "report/serving.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/chart.h"
#include "store/serving.h"

static bool same_key(const struct report_model *m, const struct store_serving_row *r)
{
	return strcmp(m->server, r->server) == 0 && strcmp(m->model, r->model) == 0;
}

static bool known(double v)
{
	return isfinite(v);
}

static double per(double a, double b)
{
	return b > 0 ? a / b : NAN;
}

static void add_sums(struct report_model_sums *x, const struct store_serving_row *r)
{
	const double *v = r->v;
	double tok = v[STORE_SERVING_GEN_TOKENS];
	x->rows++;
	x->window_s += r->window_s;
	if (known(tok))
		x->tokens += tok;
	if (known(v[STORE_SERVING_REQUESTS]))
		x->requests += v[STORE_SERVING_REQUESTS];
	if (known(tok) && known(v[STORE_SERVING_JOULES])) {
		x->joules += v[STORE_SERVING_JOULES];
		x->tokens_j += tok;
	}
	if (known(tok) && known(v[STORE_SERVING_GPU_SECONDS])) {
		x->cost += v[STORE_SERVING_GPU_SECONDS] / 3600 *
		           (known(v[STORE_SERVING_PRICE]) ? v[STORE_SERVING_PRICE] : NAN);
		x->tokens_cost += tok;
		x->gpu_s_cost += v[STORE_SERVING_GPU_SECONDS];
	}
	if (known(v[STORE_SERVING_BUSY_SECONDS]) && known(v[STORE_SERVING_GPU_SECONDS])) {
		x->busy_s += v[STORE_SERVING_BUSY_SECONDS];
		x->gpu_s_busy += v[STORE_SERVING_GPU_SECONDS];
	}
}

static void mean_add(double v, double *sum, size_t *n)
{
	if (known(v)) {
		*sum += v;
		++*n;
	}
}

int report_serving_feed_row(void *vctx, const struct store_serving_row *r)
{
	struct report_serving_feed *c = vctx;
	struct report_serving *sv = c->sv;
	double centre = (double)r->t - r->window_s / 2;
	if (c->pass == 0) {
		struct report_model *m = sv->n ? &sv->models[sv->n - 1] : NULL;
		if (!m || !same_key(m, r)) {
			if (sv->n == REPORT_MODELS_MAX) {
				sv->truncated = true;
				return 0;
			}
			m = &sv->models[sv->n++];
			memset(m, 0, sizeof(*m));
			snprintf(m->server, sizeof(m->server), "%s", r->server);
			snprintf(m->model, sizeof(m->model), "%s", r->model);
			m->first_t = r->t;
			m->first_centre = centre;
		}
		/* the latest row names the kind, GPUs and advice */
		snprintf(m->kind, sizeof(m->kind), "%s", r->kind);
		snprintf(m->gpus, sizeof(m->gpus), "%s", r->gpus);
		snprintf(m->gpu_model, sizeof(m->gpu_model), "%s", r->gpu_model);
		snprintf(m->advice, sizeof(m->advice), "%s", r->advice);
		m->batch_now = r->v[STORE_SERVING_RUNNING];
		m->batch_target = r->v[STORE_SERVING_BATCH_TARGET];
		m->last_t = r->t;
		m->last_centre = centre;
		return 0;
	}
	while (c->cursor < sv->n && !same_key(&sv->models[c->cursor], r))
		c->cursor++;
	if (c->cursor == sv->n) {
		c->cursor = 0; /* a model past REPORT_MODELS_MAX, or a row written meanwhile */
		return 0;
	}
	struct report_model *m = &sv->models[c->cursor];
	if (r->t > m->last_t)
		return 0; /* written between the passes */
	add_sums(&m->all, r);
	add_sums(&m->half[centre > m->mid], r);
	mean_add(r->v[STORE_SERVING_KV_USAGE], &m->kv_sum, &m->kv_n);
	mean_add(r->v[STORE_SERVING_RUNNING], &m->running_sum, &m->running_n);
	mean_add(r->v[STORE_SERVING_WAITING], &m->waiting_sum, &m->waiting_n);
	mean_add(r->v[STORE_SERVING_SM_ACTIVE], &m->sm_sum, &m->sm_n);
	mean_add(r->v[STORE_SERVING_MEMORY_USED], &m->mem_sum, &m->mem_n);
	if (known(r->v[STORE_SERVING_PREEMPTIONS]))
		m->preemptions += r->v[STORE_SERVING_PREEMPTIONS];
	if (strcmp(r->advice, "raise") == 0)
		m->advised[0]++;
	else if (strcmp(r->advice, "lower") == 0)
		m->advised[1]++;
	else if (strcmp(r->advice, "keep") == 0)
		m->advised[2]++;
	return 0;
}

/* The setting that bounds each server's batch (servers/kinds.c says the same for the
 * agent; the history names the kind, not the knob). */
static const char *batch_knob(const char *kind)
{
	static const char *const knobs[][2] = {
	    {"vllm", "max_num_seqs"},
	    {"sglang", "max_running_requests"},
	    {"tgi", "max_batch_total_tokens"},
	    {"triton", "dynamic_batching max_batch_size / preferred_batch_size"},
	    {"llamacpp", "--parallel"},
	};
	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		if (strcmp(kind, knobs[i][0]) == 0)
			return knobs[i][1];
	return "batch size";
}

static void judge(struct report_serving *sv)
{
	for (size_t i = 0; i < sv->n; i++) {
		struct report_model *m = &sv->models[i];
		struct report_model_figures f;
		report_model_figures(&m->all, m, sv->price, &f);
		struct analyze_server_window w = {
		    .server = m->server,
		    .model = m->model,
		    .knob = batch_knob(m->kind),
		    .gpu_index = -1,
		    .uuid = m->gpus,
		    .running = f.running,
		    .waiting = f.waiting,
		    .kv_usage = f.kv_usage,
		    .preemptions_per_s = per(m->preemptions, m->all.window_s),
		    .sm_active = m->sm_n ? m->sm_sum / (double)m->sm_n : NAN,
		    .memory_used = m->mem_n ? m->mem_sum / (double)m->mem_n : NAN,
		    .j_per_token = f.j_per_token,
		    .peer_j_per_token = NAN};
		for (size_t k = 0; k < sv->n; k++) {
			const struct report_model *o = &sv->models[k];
			double j = per(o->all.joules, o->all.tokens_j);
			if (k == i || strcmp(o->model, m->model) != 0 ||
			    strcmp(o->gpu_model, m->gpu_model) != 0 || !known(j))
				continue;
			if (!known(w.peer_j_per_token) || j < w.peer_j_per_token) {
				w.peer_j_per_token = j;
				w.peer = o->server;
			}
		}
		m->nverdicts = analyze_serving(&w, NULL, &m->judged, m->verdict,
		                               sizeof(m->verdict) / sizeof(m->verdict[0]));
	}
}

int report_serving_load(struct store *s, int64_t from, int64_t to, struct report_serving *out,
                        char *err, size_t errlen)
{
	struct report_serving_feed c;
	if (report_serving_begin(out, &c) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = store_serving_each(s, from, to, report_serving_feed_row, &c);
	report_serving_split(&c);
	if (rc == STORE_OK && out->n)
		rc = store_serving_each(s, from, to, report_serving_feed_row, &c);
	if (rc != STORE_OK) {
		snprintf(err, errlen, "%s", store_errmsg(s));
		report_serving_free(out);
		return -1;
	}
	report_serving_end(out);
	return 0;
}

int report_serving_begin(struct report_serving *sv, struct report_serving_feed *feed)
{
	memset(sv, 0, sizeof(*sv));
	sv->price = NAN; /* the caller may set its own afterwards */
	*feed = (struct report_serving_feed){.sv = sv};
	sv->models = calloc(REPORT_MODELS_MAX, sizeof(*sv->models));
	return sv->models ? 0 : -1;
}

void report_serving_split(struct report_serving_feed *feed)
{
	/* the halves split at the middle of the model's own span of windows */
	struct report_serving *sv = feed->sv;
	for (size_t i = 0; i < sv->n; i++)
		sv->models[i].mid = (sv->models[i].first_centre + sv->models[i].last_centre) / 2;
	feed->pass = 1;
	feed->cursor = 0;
}

void report_serving_end(struct report_serving *sv)
{
	judge(sv);
}

void report_serving_free(struct report_serving *sv)
{
	free(sv->models);
	sv->models = NULL;
	sv->n = 0;
}

void report_model_figures(const struct report_model_sums *x, const struct report_model *m,
                          double price, struct report_model_figures *out)
{
	out->tokens_per_s = per(x->tokens, x->window_s);
	out->requests_per_s = per(x->requests, x->window_s);
	out->j_per_token = per(x->joules, x->tokens_j);
	/* a report's own price replaces the one the agent stored with each window */
	double cost = known(price) ? x->gpu_s_cost / 3600 * price : x->cost;
	out->cost_per_mtok = per(cost, x->tokens_cost) * 1e6;
	out->utilization = per(x->busy_s, x->gpu_s_busy);
	out->kv_usage = m && m->kv_n ? m->kv_sum / (double)m->kv_n : NAN;
	out->running = m && m->running_n ? m->running_sum / (double)m->running_n : NAN;
	out->waiting = m && m->waiting_n ? m->waiting_sum / (double)m->waiting_n : NAN;
}

/* The change from the first half to the second: direction and size. */
struct trend {
	double first, second, change; /* change: second / first - 1 */
	const char *direction;        /* "rising", "falling", "steady", "unknown" */
};

static struct trend trend_of(double first, double second)
{
	struct trend t = {first, second, NAN, "unknown"};
	if (known(first) && known(second) && first > 0) {
		t.change = second / first - 1;
		t.direction = t.change > REPORT_TREND_STEADY    ? "rising"
		              : t.change < -REPORT_TREND_STEADY ? "falling"
		                                                : "steady";
	}
	return t;
}

static void trends(const struct report_serving *sv, const struct report_model *m, struct trend *jpt,
                   struct trend *tps)
{
	struct report_model_figures a, b;
	report_model_figures(&m->half[0], NULL, sv->price, &a);
	report_model_figures(&m->half[1], NULL, sv->price, &b);
	*jpt = trend_of(a.j_per_token, b.j_per_token);
	*tps = trend_of(a.tokens_per_s, b.tokens_per_s);
}

static size_t put_trend(char *buf, size_t len, const char *what, const struct trend *t,
                        int decimals)
{
	if (!known(t->change))
		return (size_t)snprintf(buf, len, "%s trend unknown", what);
	if (strcmp(t->direction, "steady") == 0)
		return (size_t)snprintf(buf, len, "%s steady (%+.0f%%)", what, 100 * t->change);
	return (size_t)snprintf(buf, len, "%s %s %.0f%% (%.*f -> %.*f)", what, t->direction,
	                        100 * fabs(t->change), decimals, t->first, decimals, t->second);
}

void report_model_line(const struct report_serving *sv, const struct report_model *m, char *buf,
                       size_t len)
{
	struct report_model_figures f;
	report_model_figures(&m->all, m, sv->price, &f);
	const char *cur = sv->currency ? sv->currency : "USD";
	size_t n = (size_t)snprintf(buf, len, "%s %s %s: ", m->kind, m->server,
	                            m->model[0] ? m->model : "(no model label)");
#define PUT(...)                                                              \
	do {                                                                  \
		if (n < len)                                                  \
			n += (size_t)snprintf(buf + n, len - n, __VA_ARGS__); \
	} while (0)
	if (known(f.tokens_per_s))
		PUT("%.0f tokens/s", f.tokens_per_s);
	else
		PUT("tokens/s unknown");
	if (known(f.j_per_token))
		PUT(", %.3f J/token", f.j_per_token);
	else
		PUT(", J/token unknown (no energy counter or not joined to a GPU)");
	if (known(f.cost_per_mtok))
		PUT(", %.2f %s per million tokens", f.cost_per_mtok, cur);
	if (known(f.utilization))
		PUT(", GPU %.0f%% busy", 100 * f.utilization);
	const struct analyze_batch_advice *a = &m->judged;
	if (a->action && strcmp(a->action, "unknown") != 0) {
		PUT("; batch: %s", a->action);
		if (strcmp(a->action, "keep") != 0) {
			PUT(" %s", batch_knob(m->kind));
			if (known(a->batch_now) && known(a->batch_target))
				PUT(" %.0f -> %.0f", a->batch_now, a->batch_target);
		}
	} else {
		PUT("; batch: no advice (no queue, KV-cache or memory figure)");
	}
	if (m->advised[0] + m->advised[1] + m->advised[2])
		PUT(" (windows: raise %zu, lower %zu, keep %zu of %zu)", m->advised[0],
		    m->advised[1], m->advised[2], m->all.rows);
	struct trend jpt, tps;
	trends(sv, m, &jpt, &tps);
	PUT("; trend over %zu windows: ", m->all.rows);
	if (n < len)
		n += put_trend(buf + n, len - n, "J/token", &jpt, 3);
	PUT(", ");
	if (n < len)
		n += put_trend(buf + n, len - n, "tokens/s", &tps, 0);
#undef PUT
}

static void wrap(FILE *out, const char *first, const char *rest, const char *s, int width)
{
	const char *lead = first;
	while (*s) {
		int avail = width - (int)strlen(lead);
		int len = (int)strlen(s);
		int cut = len;
		if (len > avail) {
			cut = avail;
			while (cut > 0 && s[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = avail;
		}
		fprintf(out, "%s%.*s\n", lead, cut, s);
		s += cut;
		while (*s == ' ')
			s++;
		lead = rest;
	}
}

void report_serving_text(FILE *out, const struct report_serving *sv, bool md)
{
	if (!sv->n)
		return;
	fputs(md ? "## Models served\n\n" : "MODELS SERVED (inference servers' windows)\n", out);
	char line[1200];
	for (size_t i = 0; i < sv->n; i++) {
		report_model_line(sv, &sv->models[i], line, sizeof(line));
		const struct report_model *m = &sv->models[i];
		if (md)
			fprintf(out, "- %s\n", line);
		else
			wrap(out, "  ", "      ", line, 80);
		for (size_t k = 0; k < m->nverdicts; k++) {
			const struct analyze_verdict *v = &m->verdict[k];
			const char *sev = analyze_severity_name(v->severity);
			if (md) {
				fprintf(out, "  - **%s** `%s`: %s\n    - %s\n    - *Fix:* %s\n",
				        sev, v->id, v->title, v->evidence_text, v->fix);
				continue;
			}
			char head[320], fix[440];
			snprintf(head, sizeof(head), "[%s] %s: %s", sev, v->id, v->title);
			snprintf(fix, sizeof(fix), "fix: %s", v->fix);
			wrap(out, "      ", "        ", head, 80);
			wrap(out, "          ", "          ", v->evidence_text, 80);
			wrap(out, "          ", "          ", fix, 80);
		}
	}
	if (sv->truncated)
		fprintf(out,
		        md ? "- (more than %d models: the rest left out)\n"
		           : "  (more than %d models: the rest left out)\n",
		        REPORT_MODELS_MAX);
	fputc('\n', out);
}

void report_serving_html(FILE *out, const struct report_serving *sv)
{
	if (!sv->n)
		return;
	fputs("<h2>Models served</h2>\n<ul>\n", out);
	char line[1200];
	for (size_t i = 0; i < sv->n; i++) {
		report_model_line(sv, &sv->models[i], line, sizeof(line));
		const struct report_model *m = &sv->models[i];
		fputs("<li>", out);
		chart_html_escape(out, line);
		for (size_t k = 0; k < m->nverdicts; k++) {
			const struct analyze_verdict *v = &m->verdict[k];
			const char *sev = analyze_severity_name(v->severity);
			fprintf(out, "<div class=\"v %s\"><span class=\"sev\">%s</span> <code>",
			        sev, sev);
			chart_html_escape(out, v->id);
			fputs("</code> ", out);
			chart_html_escape(out, v->title);
			fputs("<br>", out);
			chart_html_escape(out, v->evidence_text);
			fputs("<br><b>Fix:</b> ", out);
			chart_html_escape(out, v->fix);
			fputs("</div>", out);
		}
		fputs("</li>\n", out);
	}
	fputs("</ul>\n", out);
}

static json_t *num(double v)
{
	return known(v) ? json_real(v) : json_null();
}

static json_t *trend_json(const struct trend *t)
{
	json_t *o = json_object();
	json_object_set_new(o, "first_half", num(t->first));
	json_object_set_new(o, "second_half", num(t->second));
	json_object_set_new(o, "change_ratio", num(t->change));
	json_object_set_new(o, "direction", json_string(t->direction));
	return o;
}

json_t *report_serving_json(const struct report_serving *sv)
{
	json_t *arr = json_array();
	char line[1200];
	for (size_t i = 0; arr && i < sv->n; i++) {
		const struct report_model *m = &sv->models[i];
		struct report_model_figures f;
		report_model_figures(&m->all, m, sv->price, &f);
		json_t *o = json_object();
		json_object_set_new(o, "server", json_string(m->server));
		json_object_set_new(o, "kind", json_string(m->kind));
		json_object_set_new(o, "model", json_string(m->model));
		json_object_set_new(o, "gpus", json_string(m->gpus));
		json_object_set_new(o, "gpu_model", json_string(m->gpu_model));
		json_object_set_new(o, "from", json_integer(m->first_t));
		json_object_set_new(o, "to", json_integer(m->last_t));
		json_object_set_new(o, "windows", json_integer((json_int_t)m->all.rows));
		json_object_set_new(o, "generated_tokens", json_real(m->all.tokens));
		json_object_set_new(o, "tokens_per_second", num(f.tokens_per_s));
		json_object_set_new(o, "requests_per_second", num(f.requests_per_s));
		json_object_set_new(o, "joules_per_token", num(f.j_per_token));
		json_object_set_new(o, "cost_per_million_tokens", num(f.cost_per_mtok));
		json_object_set_new(o, "currency",
		                    json_string(sv->currency ? sv->currency : "USD"));
		json_object_set_new(o, "gpu_utilization_ratio", num(f.utilization));
		json_object_set_new(o, "kv_cache_usage_ratio", num(f.kv_usage));
		json_object_set_new(o, "running_requests", num(f.running));
		json_object_set_new(o, "queue_requests", num(f.waiting));
		json_t *b = json_object();
		const struct analyze_batch_advice *a = &m->judged;
		json_object_set_new(b, "action", json_string(a->action ? a->action : "unknown"));
		json_object_set_new(b, "knob", json_string(batch_knob(m->kind)));
		json_object_set_new(b, "batch_now", num(a->batch_now));
		json_object_set_new(b, "batch_target", num(a->batch_target));
		json_object_set_new(b, "why", json_string(a->why));
		json_object_set_new(b, "last_window_action",
		                    json_string(m->advice[0] ? m->advice : "unknown"));
		json_object_set_new(b, "windows_raise", json_integer((json_int_t)m->advised[0]));
		json_object_set_new(b, "windows_lower", json_integer((json_int_t)m->advised[1]));
		json_object_set_new(b, "windows_keep", json_integer((json_int_t)m->advised[2]));
		json_object_set_new(o, "batch", b);
		json_t *vs = json_array();
		for (size_t k = 0; k < m->nverdicts; k++) {
			const struct analyze_verdict *v = &m->verdict[k];
			json_t *vo = json_object();
			json_object_set_new(vo, "id", json_string(v->id));
			json_object_set_new(vo, "severity",
			                    json_string(analyze_severity_name(v->severity)));
			json_object_set_new(vo, "title", json_string(v->title));
			json_object_set_new(vo, "evidence", json_string(v->evidence_text));
			json_object_set_new(vo, "fix", json_string(v->fix));
			json_array_append_new(vs, vo);
		}
		json_object_set_new(o, "verdicts", vs);
		struct trend jpt, tps;
		trends(sv, m, &jpt, &tps);
		json_t *tr = json_object();
		json_object_set_new(tr, "joules_per_token", trend_json(&jpt));
		json_object_set_new(tr, "tokens_per_second", trend_json(&tps));
		json_object_set_new(o, "trend", tr);
		report_model_line(sv, m, line, sizeof(line));
		json_object_set_new(o, "line", json_string(line));
		json_array_append_new(arr, o);
	}
	return arr;
}
