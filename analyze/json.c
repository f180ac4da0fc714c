/* json.c - a diagnosis result as JSON, schema "gpuscope.diagnosis/v1".
 *
 * Backs /api/v1/diagnosis and `gpuscope report --format json`; the schema
 * is documented in docs/diagnosis.md and only grows (new keys, new verdict
 * ids), so consumers can rely on what is there.  Unknown numbers (NaN) are
 * JSON null, never 0; whole numbers are integers.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/analyze.h"

/* The builders below return NULL when jansson runs out of memory; the
 * json_object_set_new/json_array_append_new calls take ownership even on
 * failure, so one NULL check per finished object is enough. */
static json_t *number(double v)
{
	if (!isfinite(v))
		return json_null();
	if (v == floor(v) && fabs(v) < 9007199254740992.0)
		return json_integer((json_int_t)v);
	return json_real(v);
}

/* A JSON string even from text that is not UTF-8 (a process name, or a
 * buffer truncated inside a multi-byte character): bytes above 0x7f turn
 * into '?' rather than failing the whole document. */
static json_t *text(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	size_t n = strlen(s);
	char *copy = malloc(n + 1);
	if (!copy)
		return NULL;
	for (size_t i = 0; i <= n; i++)
		copy[i] = (unsigned char)s[i] > 0x7f ? '?' : s[i];
	j = json_string(copy);
	free(copy);
	return j;
}

static json_t *string_or_null(const char *s)
{
	return s && *s ? text(s) : json_null();
}

static int put(json_t *o, const char *key, json_t *v)
{
	return json_object_set_new(o, key, v);
}

static json_t *subject_json(json_t *o, const struct analyze_subject *s)
{
	int err = 0;
	err |= put(o, "gpu", s->gpu_index >= 0 ? json_integer(s->gpu_index) : json_null());
	err |= put(o, "uuid", string_or_null(s->uuid));
	err |= put(o, "group", string_or_null(s->group));
	err |= put(o, "pid", s->pid ? json_integer(s->pid) : json_null());
	err |= put(o, "process", string_or_null(s->process));
	err |= put(o, "workload", string_or_null(s->workload));
	if (err) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *verdict_json(const struct analyze_verdict *v)
{
	json_t *o = json_object(), *values = json_array(), *evidence = json_object();
	int err = !o || !values || !evidence;

	for (size_t i = 0; !err && i < v->nevidence; i++) {
		const struct analyze_evidence *e = &v->evidence[i];
		json_t *ev = json_object();
		err |= !ev;
		err |= ev && put(ev, "name", json_string(e->name));
		err |= ev && put(ev, "value", number(e->value));
		err |= ev && put(ev, "unit", text(e->unit));
		err |= json_array_append_new(values, ev);
	}
	if (err)
		goto fail;
	err |= put(evidence, "text", text(v->evidence_text));
	err |= put(evidence, "values", values);
	values = NULL;
	err |= put(o, "id", json_string(v->id));
	err |= put(o, "severity", json_string(analyze_severity_name(v->severity)));
	err |= put(o, "title", text(v->title));
	err |= put(o, "evidence", evidence);
	evidence = NULL;
	err |= put(o, "fix", text(v->fix));
	if (err)
		goto fail;
	return subject_json(o, &v->about);
fail:
	json_decref(values);
	json_decref(evidence);
	json_decref(o);
	return NULL;
}

static json_t *not_judged_json(const struct analyze_not_judged *nj)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	int err = put(o, "id", json_string(nj->id));
	err |= put(o, "reason", text(nj->reason));
	if (err) {
		json_decref(o);
		return NULL;
	}
	return subject_json(o, &nj->about);
}

static json_t *summary_json(const struct analyze_gpu_summary *s)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	int err = put(o, "gpu", json_integer(s->gpu_index));
	err |= put(o, "uuid", string_or_null(s->uuid));
	err |= put(o, "model", string_or_null(s->model));
	err |= put(o, "window_s", number(s->window_s));
	err |= put(o, "util_mean", number(s->util_mean));
	err |= put(o, "util_source", s->util_source ? json_string(s->util_source) : json_null());
	err |= put(o, "gpu_util_mean", number(s->gpu_util_mean));
	err |= put(o, "waste_ratio", number(s->waste_ratio));
	err |= put(o, "price_per_hour", number(s->price_per_hour));
	err |= put(o, "waste_per_day", number(s->waste_per_day));
	err |= put(o, "waste_per_year", number(s->waste_per_year));
	err |= put(o, "power_mean_w", number(s->power_mean_w));
	err |= put(o, "util_per_watt", number(s->util_per_watt));
	err |= put(o, "energy_j", number(s->energy_j));
	err |= put(o, "energy_per_work_j", number(s->energy_per_work_j));
	err |= put(o, "work_unit", string_or_null(s->work_unit));
	err |= put(o, "line", text(s->line));
	if (err) {
		json_decref(o);
		return NULL;
	}
	return o;
}

struct json_t *analyze_result_json(const struct analyze_result *r)
{
	json_t *doc = json_object();
	json_t *gpus = json_array(), *verdicts = json_array(), *not_judged = json_array();
	int err = !doc || !gpus || !verdicts || !not_judged;

	for (size_t i = 0; !err && i < r->nsummaries; i++)
		err |= json_array_append_new(gpus, summary_json(&r->summaries[i]));
	for (size_t i = 0; !err && i < r->nverdicts; i++)
		err |= json_array_append_new(verdicts, verdict_json(&r->verdicts[i]));
	for (size_t i = 0; !err && i < r->nnot_judged; i++)
		err |= json_array_append_new(not_judged, not_judged_json(&r->not_judged[i]));
	if (err)
		goto fail;
	err |= put(doc, "schema", json_string("gpuscope.diagnosis/v1"));
	err |= put(doc, "currency", string_or_null(r->currency));
	err |= put(doc, "gpus", gpus);
	err |= put(doc, "verdicts", verdicts);
	err |= put(doc, "not_judged", not_judged);
	if (err) {
		json_decref(doc);
		return NULL;
	}
	return doc;
fail:
	json_decref(gpus);
	json_decref(verdicts);
	json_decref(not_judged);
	json_decref(doc);
	return NULL;
}

char *analyze_result_json_text(const struct analyze_result *r, int indent)
{
	json_t *doc = analyze_result_json(r);
	if (!doc)
		return NULL;
	size_t flags = JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10);
	if (indent > 0)
		flags |= JSON_INDENT(indent > 31 ? 31 : indent);
	else
		flags |= JSON_COMPACT;
	char *text = json_dumps(doc, flags);
	json_decref(doc);
	return text;
}
