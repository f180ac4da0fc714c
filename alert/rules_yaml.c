/* rules_yaml.c - the alert rules file, read with libyaml's document API.
 *
 * The whole file is loaded as a node tree first (libyaml resolves anchors
 * to shared nodes, never copies, so an alias bomb costs nothing), then
 * walked: a top-level mapping with one key, `rules`, a sequence of
 * mappings.  Each rule is applied to a private copy of the built-in set,
 * which replaces *out only when the whole file is good; so a bad reload
 * leaves the running rules as they were.
 */
#include "alert/rules_yaml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define RULES_FILE_MAX (1 << 20)

struct ctx {
	yaml_document_t *doc;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int fail(struct ctx *c, const yaml_node_t *n,
                                                      const char *fmt, ...)
{
	int k = 0;
	if (n)
		k = snprintf(c->err, c->errlen, "line %zu, column %zu: ", n->start_mark.line + 1,
		             n->start_mark.column + 1);
	if (k < 0 || (size_t)k >= c->errlen)
		k = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err + k, c->errlen - (size_t)k, fmt, ap);
	va_end(ap);
	return -1;
}

static yaml_node_t *node(struct ctx *c, int id)
{
	return yaml_document_get_node(c->doc, id);
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int get_string(struct ctx *c, const yaml_node_t *v, const char *key, char *out, size_t len)
{
	const char *s = scalar(v);
	if (!s)
		return fail(c, v, "%s: give a string", key);
	if (strlen(s) >= len)
		return fail(c, v, "%s: longer than %zu characters", key, len - 1);
	snprintf(out, len, "%s", s);
	return 0;
}

static int get_number(struct ctx *c, const yaml_node_t *v, const char *key, double *out)
{
	const char *s = scalar(v);
	char *end;
	errno = 0;
	double d = s ? strtod(s, &end) : NAN;
	if (!s || !*s || *end || errno || !isfinite(d))
		return fail(c, v, "%s: give a number", key);
	*out = d;
	return 0;
}

static int get_bool(struct ctx *c, const yaml_node_t *v, const char *key, bool *out)
{
	const char *s = scalar(v);
	if (s && (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0))
		*out = true;
	else if (s && (strcmp(s, "false") == 0 || strcmp(s, "no") == 0))
		*out = false;
	else
		return fail(c, v, "%s: give true or false", key);
	return 0;
}

static int get_duration(struct ctx *c, const yaml_node_t *v, const char *key, double max,
                        double *out)
{
	const char *s = scalar(v);
	double d;
	if (!s || alert_parse_duration(s, &d) != 0)
		return fail(c, v, "%s: give a duration like 30s, 5m or 1h", key);
	if (d > max)
		return fail(c, v, "%s: at most %.0f s", key, max);
	*out = d;
	return 0;
}

static int get_severity(struct ctx *c, const yaml_node_t *v, const char *key,
                        enum alert_severity *out)
{
	if (alert_severity_parse(scalar(v), out) != 0)
		return fail(c, v, "%s: give info, warning or critical", key);
	return 0;
}

/* threshold: a number, or "slowdown" for the GPU's own slowdown temperature. */
static int get_threshold(struct ctx *c, const yaml_node_t *v, struct alert_cond *cond)
{
	const char *s = scalar(v);
	if (s && strcmp(s, "slowdown") == 0) {
		cond->gpu_threshold = ALERT_GPU_THRESHOLD_SLOWDOWN_TEMP;
		return 0;
	}
	if (get_number(c, v, "threshold", &cond->threshold) != 0)
		return fail(c, v, "threshold: give a number, or slowdown (the GPU's own)");
	cond->gpu_threshold = ALERT_GPU_THRESHOLD_NONE;
	return 0;
}

/* The keys a condition has (a rule's own, or its `and`).  Returns 1 when
 * taken, 0 when not a condition key, -1 on error.  *seen gets a bit per key. */
static int cond_key(struct ctx *c, const char *k, const yaml_node_t *v, struct alert_cond *cond,
                    unsigned *seen)
{
	if (strcmp(k, "signal") == 0) {
		if (alert_signal_parse(scalar(v), &cond->signal) != 0)
			return fail(c, v,
			            "signal: one of utilization, memory_used, temperature, power, "
			            "power_efficiency, sm_active, xid_errors, ecc_uncorrected, "
			            "verdict");
		*seen |= 1;
	} else if (strcmp(k, "op") == 0) {
		if (alert_op_parse(scalar(v), &cond->op) != 0)
			return fail(c, v, "op: one of >, >=, <, <= (quote it in YAML)");
		*seen |= 2;
	} else if (strcmp(k, "threshold") == 0) {
		if (get_threshold(c, v, cond) != 0)
			return -1;
		*seen |= 4;
	} else if (strcmp(k, "stat") == 0) {
		if (alert_stat_parse(scalar(v), &cond->stat) != 0)
			return fail(c, v, "stat: one of last, mean, max, min");
	} else if (strcmp(k, "verdict") == 0) {
		if (get_string(c, v, "verdict", cond->verdict, sizeof(cond->verdict)) != 0)
			return -1;
		*seen |= 8;
	} else if (strcmp(k, "verdict_severity") == 0) {
		if (get_severity(c, v, "verdict_severity", &cond->verdict_min) != 0)
			return -1;
	} else {
		return 0;
	}
	return 1;
}

/* A new condition is complete: a signal, and an op and threshold (or, for
 * a verdict, the verdict's id). */
static int cond_complete(struct ctx *c, const yaml_node_t *at, const char *what,
                         struct alert_cond *cond, unsigned seen)
{
	if (!(seen & 1))
		return fail(c, at, "%s: a new condition needs a signal", what);
	if (cond->signal == ALERT_SIG_VERDICT) {
		if (!(seen & 8))
			return fail(c, at, "%s: signal verdict needs verdict: ID", what);
		cond->op = ALERT_OP_GE;
		cond->threshold = 1;
		return 0;
	}
	if ((seen & 6) != 6)
		return fail(c, at, "%s: a new condition needs op and threshold", what);
	return 0;
}

static int parse_models(struct ctx *c, const yaml_node_t *seq, struct alert_rule *r)
{
	if (seq->type != YAML_SEQUENCE_NODE)
		return fail(c, seq, "models: give a list of {match: MODEL, ...}");
	r->nmodels = 0;
	for (yaml_node_item_t *it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++) {
		const yaml_node_t *m = node(c, *it);
		if (!m || m->type != YAML_MAPPING_NODE)
			return fail(c, m ? m : seq, "models: each entry is a mapping");
		if (r->nmodels == ALERT_MODELS_MAX)
			return fail(c, m, "models: at most %d per rule", ALERT_MODELS_MAX);
		struct alert_model_override *o = &r->models[r->nmodels];
		*o = (struct alert_model_override){
		    .threshold = NAN, .for_s = -1, .severity = -1, .disabled = -1};
		for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
		     p < m->data.mapping.pairs.top; p++) {
			const yaml_node_t *kn = node(c, p->key), *v = node(c, p->value);
			const char *k = scalar(kn);
			int rc = 0;
			if (!k || !v)
				return fail(c, m, "models: keys are plain words");
			if (strcmp(k, "match") == 0) {
				rc = get_string(c, v, "match", o->match, sizeof(o->match));
			} else if (strcmp(k, "threshold") == 0) {
				rc = get_number(c, v, "threshold", &o->threshold);
			} else if (strcmp(k, "for") == 0) {
				rc = get_duration(c, v, "for", 7 * 86400.0, &o->for_s);
			} else if (strcmp(k, "severity") == 0) {
				enum alert_severity s = 0;
				rc = get_severity(c, v, "severity", &s);
				if (rc == 0) /* a failed read leaves s unset */
					o->severity = (int)s;
			} else if (strcmp(k, "disabled") == 0) {
				bool b = false;
				rc = get_bool(c, v, "disabled", &b);
				if (rc == 0)
					o->disabled = b;
			} else {
				return fail(c, kn,
				            "models: unknown key '%s' (match, threshold, for, "
				            "severity, disabled)",
				            k);
			}
			if (rc)
				return -1;
		}
		if (!o->match[0])
			return fail(c, m, "models: each entry needs match: MODEL");
		r->nmodels++;
	}
	return 0;
}

static int parse_and(struct ctx *c, const yaml_node_t *m, struct alert_rule *r)
{
	if (m->type != YAML_MAPPING_NODE)
		return fail(c, m, "and: give a condition {signal, op, threshold}");
	struct alert_cond cond = {.stat = ALERT_STAT_MEAN};
	unsigned seen = 0;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *kn = node(c, p->key), *v = node(c, p->value);
		const char *k = scalar(kn);
		if (!k || !v)
			return fail(c, m, "and: keys are plain words");
		int rc = cond_key(c, k, v, &cond, &seen);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return fail(c, kn, "and: unknown key '%s'", k);
	}
	if (cond_complete(c, m, "and", &cond, seen) != 0)
		return -1;
	r->has_and = true;
	r->and_cond = cond;
	return 0;
}

static int parse_rule(struct ctx *c, const yaml_node_t *m, struct alert_rules *rs)
{
	if (!m || m->type != YAML_MAPPING_NODE)
		return fail(c, m, "rules: each entry is a mapping with a name");
	const char *name = NULL;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		const char *k = scalar(node(c, p->key));
		if (k && strcmp(k, "name") == 0)
			name = scalar(node(c, p->value));
	}
	if (!name || !*name)
		return fail(c, m, "rules: each entry needs name: ALERTNAME");
	for (const char *q = name; *q; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
		      (*q >= '0' && *q <= '9' && q != name) || *q == '_'))
			return fail(c, m, "name '%s': letters, digits and _ only", name);
	if (strlen(name) >= ALERT_NAME_MAX)
		return fail(c, m, "name '%s': at most %d characters", name, ALERT_NAME_MAX - 1);
	struct alert_rule *r = alert_rules_find(rs, name);
	bool fresh = r == NULL;
	struct alert_rule tmp;
	if (fresh) {
		memset(&tmp, 0, sizeof(tmp));
		snprintf(tmp.name, sizeof(tmp.name), "%s", name);
		tmp.cond.stat = ALERT_STAT_LAST;
		tmp.severity = ALERT_WARNING;
		tmp.cond.verdict_min = ALERT_WARNING;
	} else {
		tmp = *r;
	}
	unsigned seen = 0;
	bool severity_seen = false;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *kn = node(c, p->key), *v = node(c, p->value);
		const char *k = scalar(kn);
		if (!k || !v)
			return fail(c, m, "rule %s: keys are plain words", name);
		int rc = cond_key(c, k, v, &tmp.cond, &seen);
		if (rc < 0)
			return -1;
		if (rc > 0 || strcmp(k, "name") == 0)
			continue;
		if (strcmp(k, "for") == 0)
			rc = get_duration(c, v, "for", 7 * 86400.0, &tmp.for_s);
		else if (strcmp(k, "keep_firing_for") == 0)
			rc = get_duration(c, v, "keep_firing_for", 86400.0, &tmp.keep_firing_for_s);
		else if (strcmp(k, "window") == 0)
			rc = get_duration(c, v, "window", ALERT_WINDOW_MAX, &tmp.window_s);
		else if (strcmp(k, "severity") == 0) {
			rc = get_severity(c, v, "severity", &tmp.severity);
			severity_seen = true;
		} else if (strcmp(k, "disabled") == 0)
			rc = get_bool(c, v, "disabled", &tmp.disabled);
		else if (strcmp(k, "summary") == 0)
			rc = get_string(c, v, "summary", tmp.summary, sizeof(tmp.summary));
		else if (strcmp(k, "models") == 0)
			rc = parse_models(c, v, &tmp);
		else if (strcmp(k, "and") == 0)
			rc = parse_and(c, v, &tmp);
		else
			return fail(c, kn,
			            "rule %s: unknown key '%s' (name, signal, stat, window, op, "
			            "threshold, verdict, verdict_severity, and, for, "
			            "keep_firing_for, severity, summary, disabled, models)",
			            name, k);
		if (rc)
			return -1;
	}
	if (fresh) {
		if (cond_complete(c, m, name, &tmp.cond, seen) != 0)
			return -1;
		if (!severity_seen)
			return fail(c, m, "rule %s: a new rule needs a severity", name);
		if (rs->n == ALERT_RULES_MAX)
			return fail(c, m, "rules: at most %d in all", ALERT_RULES_MAX);
		if (!tmp.summary[0])
			snprintf(tmp.summary, sizeof(tmp.summary), "%s", name);
		rs->rule[rs->n++] = tmp;
	} else {
		if ((seen & 1) && tmp.cond.signal != r->cond.signal)
			return fail(c, m,
			            "rule %s: a built-in rule's signal cannot change; "
			            "add a rule with a new name",
			            name);
		*r = tmp;
	}
	if (alert_signal_is_counter(tmp.cond.signal) && !(tmp.window_s > 0))
		return fail(c, m, "rule %s: %s counts errors over a window: give window > 0", name,
		            alert_signal_name(tmp.cond.signal));
	return 0;
}

int alert_rules_parse(const char *buf, size_t len, struct alert_rules *out, char *err,
                      size_t errlen)
{
	if (len > RULES_FILE_MAX) {
		snprintf(err, errlen, "larger than %d bytes", RULES_FILE_MAX);
		return -1;
	}
	struct alert_rules *rs = malloc(sizeof(*rs));
	if (!rs) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	alert_rules_builtin(rs);
	yaml_parser_t parser;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&parser)) {
		free(rs);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "line %zu, column %zu: %s", parser.problem_mark.line + 1,
		         parser.problem_mark.column + 1,
		         parser.problem ? parser.problem : "not YAML");
		yaml_parser_delete(&parser);
		free(rs);
		return -1;
	}
	struct ctx c = {.doc = &doc, .err = err, .errlen = errlen};
	int rc = 0;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root && root->type == YAML_SCALAR_NODE && !*scalar(root))
		root = NULL; /* an empty document: no changes */
	if (root && root->type != YAML_MAPPING_NODE)
		rc = fail(&c, root, "the file is a mapping with one key, rules");
	for (yaml_node_pair_t *p = root ? root->data.mapping.pairs.start : NULL;
	     !rc && p && p < root->data.mapping.pairs.top; p++) {
		const yaml_node_t *kn = node(&c, p->key), *v = node(&c, p->value);
		const char *k = scalar(kn);
		if (!k || !v || strcmp(k, "rules") != 0) {
			rc = fail(&c, kn ? kn : root, "unknown top-level key '%s' (rules)",
			          k ? k : "?");
		} else if (v->type == YAML_SCALAR_NODE && !*scalar(v)) {
			/* rules: with nothing under it */
		} else if (v->type != YAML_SEQUENCE_NODE) {
			rc = fail(&c, v, "rules: give a list");
		} else {
			for (yaml_node_item_t *it = v->data.sequence.items.start;
			     !rc && it < v->data.sequence.items.top; it++)
				rc = parse_rule(&c, node(&c, *it), rs);
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rc == 0)
		*out = *rs;
	free(rs);
	return rc;
}

int alert_rules_load(const char *path, struct alert_rules *out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *buf = malloc(RULES_FILE_MAX + 1);
	size_t n = buf ? fread(buf, 1, RULES_FILE_MAX + 1, f) : 0;
	bool bad = ferror(f);
	fclose(f);
	if (!buf || bad) {
		snprintf(err, errlen, "%s: %s", path, buf ? "read error" : "out of memory");
		free(buf);
		return -1;
	}
	char why[400];
	int rc = alert_rules_parse(buf, n, out, why, sizeof(why));
	free(buf);
	if (rc)
		snprintf(err, errlen, "%s: %s", path, why);
	return rc;
}
