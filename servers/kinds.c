/* kinds.c - the name tables of kinds.h and the reduction of a scrape to a reading.
 *
 * A scrape is parsed twice: once to count which server's names it holds (the kind), once
 * to fill the reading from that kind's rows only, so a Triton serving the vLLM backend is
 * not counted twice.  Two passes over a 10 MB body cost a few tens of milliseconds on the
 * reader thread; nothing waits on it.
 */
#include "servers/kinds.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "servers/promtext.h"

struct name_row {
	enum server_kind kind;
	enum server_field field;
	signed char rank;        /* 0 preferred; a lower rank replaces a higher one */
	const char *name;        /* base name (histograms: without _bucket/_sum/_count) */
	const char *part;        /* NULL: the sample itself; "_sum": a histogram's sum */
	const char *label;       /* NULL, or a label that selects the series */
	const char *label_value; /* ... equal to this, or (exclude) anything but this */
	bool exclude;
	double scale; /* to seconds or tokens */
};

#define ROW(k, f, r, n)                                  \
	{                                                \
		k, f, r, n, NULL, NULL, NULL, false, 1.0 \
	}
#define ROW_SUM(k, f, n)                                   \
	{                                                  \
		k, f, 0, n, "_sum", NULL, NULL, false, 1.0 \
	}
#define ROW_LABEL(k, f, r, n, l, v, excl)         \
	{                                         \
		k, f, r, n, NULL, l, v, excl, 1.0 \
	}

static const struct name_row rows[] = {
    /* vLLM V1 (vllm/v1/metrics/loggers.py); counters gain _total from prometheus_client. */
    ROW(SERVER_VLLM, SF_GEN_TOKENS, 0, "vllm:generation_tokens"),
    ROW(SERVER_VLLM, SF_PROMPT_TOKENS, 0, "vllm:prompt_tokens"),
    ROW_LABEL(SERVER_VLLM, SF_REQUESTS, 0, "vllm:request_success", "finished_reason", "abort",
              true),
    ROW(SERVER_VLLM, SF_PREEMPTIONS, 0, "vllm:num_preemptions"),
    ROW(SERVER_VLLM, SF_RUNNING, 0, "vllm:num_requests_running"),
    ROW(SERVER_VLLM, SF_WAITING, 0, "vllm:num_requests_waiting"),
    ROW(SERVER_VLLM, SF_KV_USAGE, 0, "vllm:kv_cache_usage_perc"),
    ROW(SERVER_VLLM, SF_KV_USAGE, 1, "vllm:gpu_cache_usage_perc"), /* before 0.10 */
    ROW(SERVER_VLLM, SF_TTFT, 0, "vllm:time_to_first_token_seconds"),
    ROW(SERVER_VLLM, SF_ITL, 0, "vllm:inter_token_latency_seconds"),
    ROW(SERVER_VLLM, SF_ITL, 1, "vllm:time_per_output_token_seconds"), /* before 0.11 */
    /* SGLang (--enable-metrics): token counters move when a request finishes. */
    ROW(SERVER_SGLANG, SF_GEN_TOKENS, 0, "sglang:generation_tokens"),
    ROW(SERVER_SGLANG, SF_PROMPT_TOKENS, 0, "sglang:prompt_tokens"),
    ROW(SERVER_SGLANG, SF_REQUESTS, 0, "sglang:num_requests"),
    ROW(SERVER_SGLANG, SF_RUNNING, 0, "sglang:num_running_reqs"),
    ROW(SERVER_SGLANG, SF_WAITING, 0, "sglang:num_queue_reqs"),
    ROW(SERVER_SGLANG, SF_KV_USAGE, 0, "sglang:token_usage"),
    ROW(SERVER_SGLANG, SF_TTFT, 0, "sglang:time_to_first_token_seconds"),
    ROW(SERVER_SGLANG, SF_ITL, 0, "sglang:inter_token_latency_seconds"),
    ROW(SERVER_SGLANG, SF_ITL, 1, "sglang:time_per_output_token_seconds"),
    /* TGI: no _total, no token counter (the histograms' sums are the totals). */
    ROW_SUM(SERVER_TGI, SF_GEN_TOKENS, "tgi_request_generated_tokens"),
    ROW_SUM(SERVER_TGI, SF_PROMPT_TOKENS, "tgi_request_input_length"),
    ROW(SERVER_TGI, SF_REQUESTS, 0, "tgi_request_success"),
    ROW(SERVER_TGI, SF_RUNNING, 0, "tgi_batch_current_size"),
    ROW(SERVER_TGI, SF_WAITING, 0, "tgi_queue_size"),
    ROW(SERVER_TGI, SF_KV_USED_TOKENS, 0, "tgi_batch_current_max_tokens"),
    ROW(SERVER_TGI, SF_KV_MAX_TOKENS, 0, "tgi_batch_max_total_tokens"),
    ROW(SERVER_TGI, SF_ITL, 0, "tgi_request_mean_time_per_token_duration"),
    /* Triton core and TensorRT-LLM through Triton. */
    ROW_SUM(SERVER_TRITON, SF_GEN_TOKENS, "nv_llm_output_token_len"),
    ROW_SUM(SERVER_TRITON, SF_PROMPT_TOKENS, "nv_llm_input_token_len"),
    ROW(SERVER_TRITON, SF_REQUESTS, 0, "nv_inference_request_success"),
    ROW_LABEL(SERVER_TRITON, SF_RUNNING, 0, "nv_trt_llm_request_metrics", "request_type", "active",
              false),
    ROW_LABEL(SERVER_TRITON, SF_WAITING, 0, "nv_trt_llm_request_metrics", "request_type", "waiting",
              false),
    ROW(SERVER_TRITON, SF_WAITING, 1, "nv_inference_pending_request_count"),
    ROW_LABEL(SERVER_TRITON, SF_KV_USAGE, 0, "nv_trt_llm_kv_cache_block_metrics",
              "kv_cache_block_type", "fraction", false),
    ROW(SERVER_TRITON, SF_INFER_COUNT, 0, "nv_inference_count"),
    ROW(SERVER_TRITON, SF_EXEC_COUNT, 0, "nv_inference_exec_count"),
    {SERVER_TRITON, SF_TTFT, 0, "nv_inference_first_response_histogram_ms", NULL, NULL, NULL, false,
     1e-3},
    /* llama.cpp (--metrics): no request counter, no histograms. */
    ROW(SERVER_LLAMACPP, SF_GEN_TOKENS, 0, "llamacpp:tokens_predicted"),
    ROW(SERVER_LLAMACPP, SF_PROMPT_TOKENS, 0, "llamacpp:prompt_tokens"),
    ROW(SERVER_LLAMACPP, SF_RUNNING, 0, "llamacpp:requests_processing"),
    ROW(SERVER_LLAMACPP, SF_WAITING, 0, "llamacpp:requests_deferred"),
    ROW(SERVER_LLAMACPP, SF_KV_USAGE, 0, "llamacpp:kv_cache_usage_ratio"), /* before #13660 */
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

bool server_field_counter(enum server_field f)
{
	return f == SF_GEN_TOKENS || f == SF_PROMPT_TOKENS || f == SF_REQUESTS ||
	       f == SF_PREEMPTIONS || f == SF_INFER_COUNT || f == SF_EXEC_COUNT;
}

bool server_field_hist(enum server_field f)
{
	return f == SF_TTFT || f == SF_ITL;
}

static bool field_mean(enum server_field f)
{
	return f == SF_KV_USAGE;
}

/* Which part of the row the sample is: "" the sample itself, "_bucket", "_sum", "_count";
 * NULL when it is not this row's. */
static const char *row_match(const struct name_row *r, const struct promtext_sample *s)
{
	const char *part;
	if (server_field_hist(r->field) || r->part) {
		part = promtext_name_suffix(s->name, r->name);
		if (!part || (r->part && strcmp(part, r->part) != 0))
			return NULL;
		if (!r->part && !*part)
			return NULL;
	} else {
		if (!promtext_name_eq(s->name, r->name))
			return NULL;
		part = "";
	}
	if (r->label) {
		const char *v = promtext_label(s, r->label);
		bool eq = v && strcmp(v, r->label_value) == 0;
		if (r->exclude ? eq : !eq)
			return NULL;
	}
	return part;
}

struct parse_ctx {
	struct server_reading *r;
	enum server_kind only; /* SERVER_UNKNOWN: count kinds only */
	unsigned per_kind[SERVER_KIND_COUNT];
};

static struct server_model *model_of(struct server_reading *r, const struct promtext_sample *s)
{
	const char *name = promtext_label(s, "model_name");
	if (!name)
		name = promtext_label(s, "model");
	if (!name)
		name = "";
	for (unsigned i = 0; i < r->n_models; i++)
		if (strncmp(r->model[i].name, name, SERVER_MODEL_MAX - 1) == 0)
			return &r->model[i];
	if (r->n_models == SERVER_MODELS_MAX) {
		r->models_dropped = true;
		return NULL;
	}
	struct server_model *m = &r->model[r->n_models++];
	memset(m, 0, sizeof(*m));
	strncpy(m->name, name, SERVER_MODEL_MAX - 1);
	return m;
}

static void hist_add(struct server_hist *h, const char *part, const struct promtext_sample *s,
                     double scale)
{
	if (strcmp(part, "_sum") == 0) {
		h->sum += s->value * scale;
	} else if (strcmp(part, "_count") == 0) {
		h->total += s->value;
	} else {
		const char *le_text = promtext_label(s, "le");
		if (!le_text)
			return;
		double le;
		char *end;
		le = strcmp(le_text, "+Inf") == 0 ? INFINITY : strtod(le_text, &end) * scale;
		if (isnan(le))
			return;
		unsigned i = 0;
		while (i < h->n && h->le[i] < le)
			i++;
		if (i < h->n && h->le[i] == le) {
			h->count[i] += s->value;
			return;
		}
		if (h->n == SERVER_HIST_BUCKETS)
			return;
		memmove(&h->le[i + 1], &h->le[i], (h->n - i) * sizeof(double));
		memmove(&h->count[i + 1], &h->count[i], (h->n - i) * sizeof(double));
		h->le[i] = le;
		h->count[i] = s->value;
		h->n++;
	}
}

static void take(struct parse_ctx *c, const struct name_row *row, const char *part,
                 const struct promtext_sample *s)
{
	struct server_model *m = model_of(c->r, s);
	if (!m || isnan(s->value))
		return;
	enum server_field f = row->field;
	if (m->valid[f] && row->rank > m->rank[f])
		return; /* a preferred name already gave this field */
	if (m->valid[f] && row->rank < m->rank[f]) {
		m->valid[f] = false;
		if (server_field_hist(f))
			memset(&m->hist[f == SF_ITL], 0, sizeof(m->hist[0]));
	}
	if (!m->valid[f]) {
		m->valid[f] = true;
		m->rank[f] = row->rank;
		m->v[f] = 0;
		m->n_mean[f] = 0;
	}
	if (server_field_hist(f)) {
		hist_add(&m->hist[f == SF_ITL], part, s, row->scale);
	} else if (field_mean(f)) {
		m->v[f] = (m->v[f] * m->n_mean[f] + s->value) / (m->n_mean[f] + 1);
		m->n_mean[f]++;
	} else {
		m->v[f] += s->value * row->scale;
	}
}

static void on_sample(void *ctx, const struct promtext_sample *s)
{
	struct parse_ctx *c = ctx;
	for (size_t i = 0; i < NROWS; i++) {
		const struct name_row *row = &rows[i];
		if (c->only != SERVER_UNKNOWN && row->kind != c->only)
			continue;
		const char *part = row_match(row, s);
		if (!part)
			continue;
		if (c->only == SERVER_UNKNOWN) {
			c->per_kind[row->kind]++;
			return;
		}
		c->r->matched++;
		take(c, row, part, s);
	}
}

int server_reading_parse(const char *buf, size_t len, struct server_reading *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	struct parse_ctx c = {.r = out, .only = SERVER_UNKNOWN};
	out->samples = promtext_parse(buf, len, on_sample, &c, &out->bad_lines);
	enum server_kind best = SERVER_UNKNOWN;
	for (int k = 1; k < SERVER_KIND_COUNT; k++)
		if (c.per_kind[k] > c.per_kind[best])
			best = (enum server_kind)k;
	if (best == SERVER_UNKNOWN) {
		if (why)
			*why = out->samples ? "no known inference-server metric names"
			                    : "not Prometheus text";
		return -1;
	}
	c.only = best;
	out->kind = best;
	promtext_parse(buf, len, on_sample, &c, NULL);
	return 0;
}

const struct server_model *server_reading_model(const struct server_reading *r, const char *name)
{
	for (unsigned i = 0; i < r->n_models; i++)
		if (strcmp(r->model[i].name, name) == 0)
			return &r->model[i];
	return NULL;
}

const char *server_kind_name(enum server_kind k)
{
	static const char *const names[] = {"unknown", "vllm",   "sglang",
	                                    "tgi",     "triton", "llamacpp"};
	return (unsigned)k < SERVER_KIND_COUNT ? names[k] : "unknown";
}

const char *server_kind_batch_knob(enum server_kind k)
{
	switch (k) {
	case SERVER_VLLM:
		return "max_num_seqs";
	case SERVER_SGLANG:
		return "max_running_requests";
	case SERVER_TGI:
		return "max_batch_total_tokens";
	case SERVER_TRITON:
		return "dynamic_batching max_batch_size / preferred_batch_size";
	case SERVER_LLAMACPP:
		return "--parallel";
	default:
		return "batch size";
	}
}

bool server_kind_lumpy(enum server_kind k)
{
	return k == SERVER_SGLANG || k == SERVER_TGI || k == SERVER_TRITON || k == SERVER_LLAMACPP;
}

double server_kind_min_window(enum server_kind k)
{
	/* vLLM counts tokens every engine step; the others when a request ends, so a window
	 * must hold many requests (docs/servers.md). */
	return k == SERVER_VLLM ? 30.0 : 60.0;
}
