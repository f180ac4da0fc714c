/* export_rules.c - Prometheus recording and alerting rules from the agent's
 * rule table (export_rules.h says what maps to what).
 *
 * Two dialects share one writer: each names the series a signal is read
 * from, the GPU's identity label and the series that carries the model, so
 * a rule is turned into PromQL once.  Expressions go out as YAML block
 * scalars, which need no escaping; only the annotations are quoted.
 */
#include "alert/export_rules.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/strbuf.h"

struct dialect {
	const char *names;  /* the --names value it answers to */
	const char *prefix; /* of group and recording rule names */
	const char *uuid;   /* the GPU's identity label */
	const char *info;   /* series carrying the model, and its label */
	const char *model_label;
	const char *slowdown; /* the GPU's own slowdown temperature */
	const char *signal[ALERT_SIG_COUNT];
	const char *recording[3][2]; /* record, expr */
	const char *description;
};

static const struct dialect dialects[2] = {
    {
        .names = "native",
        .prefix = "gpuscope",
        .uuid = "uuid",
        .info = "gpuscope_gpu_info",
        .model_label = "name",
        .slowdown = "gpuscope_temperature_slowdown_threshold_celsius",
        .signal =
            {
                [ALERT_SIG_UTILIZATION] = "gpuscope_gpu_utilization_ratio",
                [ALERT_SIG_MEMORY_USED] = "gpuscope:memory_used:ratio",
                [ALERT_SIG_TEMPERATURE] = "gpuscope_temperature_celsius",
                [ALERT_SIG_POWER] = "gpuscope:power_draw_of_limit:ratio",
                [ALERT_SIG_POWER_EFFICIENCY] = "gpuscope:power_efficiency:ratio",
                [ALERT_SIG_SM_ACTIVE] = "gpuscope_sm_active_ratio",
                [ALERT_SIG_XID_ERRORS] = "gpuscope_xid_errors_total",
                [ALERT_SIG_ECC_UNCORRECTED] = "ecc",
                [ALERT_SIG_VERDICT] = "gpuscope_verdict",
            },
        .recording =
            {
                {"gpuscope:memory_used:ratio",
                 "gpuscope_memory_used_bytes / gpuscope_memory_total_bytes"},
                {"gpuscope:power_draw_of_limit:ratio",
                 "gpuscope_power_watts / gpuscope_power_limit_watts"},
                {"gpuscope:power_efficiency:ratio",
                 "gpuscope_gpu_utilization_ratio / gpuscope:power_draw_of_limit:ratio"},
            },
        .description = "GPU {{ $labels.gpu }} ({{ $labels.uuid }}) on {{ $labels.instance }}",
    },
    {
        .names = "dcgm",
        .prefix = "dcgm",
        .uuid = "UUID",
        .info = "DCGM_FI_DEV_GPU_TEMP",
        .model_label = "modelName",
        .slowdown = "DCGM_FI_DEV_SLOWDOWN_TEMP",
        .signal =
            {
                [ALERT_SIG_UTILIZATION] = "dcgm:gpu_utilization:ratio",
                [ALERT_SIG_MEMORY_USED] = "dcgm:memory_used:ratio",
                [ALERT_SIG_TEMPERATURE] = "DCGM_FI_DEV_GPU_TEMP",
                [ALERT_SIG_POWER] = "dcgm:power_draw_of_limit:ratio",
                [ALERT_SIG_POWER_EFFICIENCY] = "dcgm:power_efficiency:ratio",
                [ALERT_SIG_SM_ACTIVE] = "DCGM_FI_PROF_SM_ACTIVE",
                [ALERT_SIG_XID_ERRORS] = "DCGM_FI_DEV_XID_ERRORS",
                [ALERT_SIG_ECC_UNCORRECTED] = "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
                [ALERT_SIG_VERDICT] = NULL,
            },
        .recording =
            {
                {"dcgm:memory_used:ratio",
                 "DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)"},
                {"dcgm:power_draw_of_limit:ratio",
                 "DCGM_FI_DEV_POWER_USAGE / DCGM_FI_DEV_ENFORCED_POWER_LIMIT"},
                {"dcgm:power_efficiency:ratio",
                 "dcgm:gpu_utilization:ratio / dcgm:power_draw_of_limit:ratio"},
            },
        .description = "GPU {{ $labels.gpu }} ({{ $labels.modelName }}, {{ $labels.UUID }}) "
                       "on {{ $labels.hostname }}{{ $labels.Hostname }}",
    },
};

static void window(struct strbuf *sb, double s)
{
	char d[32];
	alert_format_duration(s, d, sizeof(d));
	sb_puts(sb, d);
}

/* The condition's value as PromQL (no comparison). */
static void value_expr(struct strbuf *sb, const struct dialect *dl, const struct alert_rule *r,
                       const struct alert_cond *c)
{
	const char *x = dl->signal[c->signal];
	if (c->signal == ALERT_SIG_VERDICT) {
		sb_printf(sb, "%s{verdict=\"%s\",severity=~\"%s\"}", x, c->verdict,
		          c->verdict_min == ALERT_CRITICAL  ? "critical"
		          : c->verdict_min == ALERT_WARNING ? "warning|critical"
		                                            : "info|warning|critical");
		return;
	}
	if (c->signal == ALERT_SIG_ECC_UNCORRECTED && strcmp(x, "ecc") == 0) {
		/* The agent counts the volatile counter and the driver's events. */
		sb_puts(sb, "sum without(error, scope) (increase(gpuscope_ecc_errors_total{"
		            "error=\"uncorrected\",scope=\"volatile\"}[");
		window(sb, r->window_s);
		sb_puts(sb, "]) or increase(gpuscope_ecc_dbe_events_total[");
		window(sb, r->window_s);
		sb_puts(sb, "]))");
		return;
	}
	if (c->signal == ALERT_SIG_XID_ERRORS && strcmp(dl->names, "dcgm") == 0) {
		/* DCGM_FI_DEV_XID_ERRORS holds the last code: a change is a new Xid.  Since
		 * dcgm-exporter labels it with err_code, a new code is a new series, which
		 * changes() never sees: a series younger than the window counts too. */
		sb_printf(sb, "(changes(%s[", x);
		window(sb, r->window_s);
		sb_printf(sb, "]) > 0 or (%s unless %s offset ", x, x);
		window(sb, r->window_s);
		sb_puts(sb, "))");
		return;
	}
	if (alert_signal_is_counter(c->signal)) {
		sb_printf(sb, "increase(%s[", x);
		window(sb, r->window_s);
		sb_puts(sb, "])");
		return;
	}
	if (c->stat == ALERT_STAT_LAST || !(r->window_s > 0)) {
		sb_puts(sb, x);
		return;
	}
	sb_printf(sb, "%s_over_time(%s[",
	          c->stat == ALERT_STAT_MEAN  ? "avg"
	          : c->stat == ALERT_STAT_MAX ? "max"
	                                      : "min",
	          x);
	window(sb, r->window_s);
	sb_puts(sb, "])");
}

static void cond_expr(struct strbuf *sb, const struct dialect *dl, const struct alert_rule *r,
                      const struct alert_cond *c)
{
	sb_puts(sb, "(");
	if (c->signal == ALERT_SIG_VERDICT) {
		value_expr(sb, dl, r, c);
		sb_puts(sb, " == 1)");
		return;
	}
	if (c->gpu_threshold == ALERT_GPU_THRESHOLD_SLOWDOWN_TEMP) {
		/* The GPU's own threshold; the fixed one where it reports none. */
		sb_puts(sb, "(");
		value_expr(sb, dl, r, c);
		sb_printf(sb, " %s %s) or (", alert_op_name(c->op), dl->slowdown);
		value_expr(sb, dl, r, c);
		sb_printf(sb, " %s %.15g unless %s))", alert_op_name(c->op), c->threshold,
		          dl->slowdown);
		return;
	}
	value_expr(sb, dl, r, c);
	sb_printf(sb, " %s %.15g)", alert_op_name(c->op), c->threshold);
}

static bool usable(const struct dialect *dl, const struct alert_rule *r)
{
	return dl->signal[r->cond.signal] && (!r->has_and || dl->signal[r->and_cond.signal]);
}

/* A regular expression matching model names that contain m, any case. */
static void model_regex(struct strbuf *sb, const char *m)
{
	for (; *m; m++) {
		if (strchr(".^$*+?()[]{}|\\", *m))
			sb_puts(sb, "\\\\");
		if (*m == '"')
			sb_puts(sb, "\\");
		sb_append(sb, m, 1);
	}
}

static void quoted(struct strbuf *sb, const char *s)
{
	sb_puts(sb, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sb_puts(sb, "\\");
		sb_append(sb, s, 1);
	}
	sb_puts(sb, "\"");
}

/* One alerting rule: the rule (as it applies to `models`, NULL for the
 * default), its expression, and a filter on the model. */
static void alert_rule_yaml(struct strbuf *sb, const struct dialect *dl, const struct alert_rule *r,
                            const char *only_model, const struct alert_rule *base)
{
	sb_printf(sb, "      - alert: %s\n        expr: |-\n          ", r->name);
	cond_expr(sb, dl, r, &r->cond);
	if (r->has_and) {
		sb_printf(sb, "\n          and on(instance, %s) ", dl->uuid);
		cond_expr(sb, dl, r, &r->and_cond);
	}
	if (only_model) {
		sb_printf(sb, "\n          and on(instance, %s) %s{%s=~\"(?i).*", dl->uuid,
		          dl->info, dl->model_label);
		model_regex(sb, only_model);
		sb_puts(sb, ".*\"}");
	} else if (base->nmodels) {
		sb_printf(sb, "\n          unless on(instance, %s) %s{%s=~\"(?i).*(", dl->uuid,
		          dl->info, dl->model_label);
		for (size_t i = 0; i < base->nmodels; i++) {
			if (i)
				sb_puts(sb, "|");
			model_regex(sb, base->models[i].match);
		}
		sb_puts(sb, ").*\"}");
	}
	sb_puts(sb, "\n");
	if (r->for_s > 0) {
		sb_puts(sb, "        for: ");
		window(sb, r->for_s);
		sb_puts(sb, "\n");
	}
	if (r->keep_firing_for_s > 0) {
		sb_puts(sb, "        keep_firing_for: ");
		window(sb, r->keep_firing_for_s);
		sb_puts(sb, "\n");
	}
	/* rule_set (and model) keep the two name sets' rules, and a rule and its
	 * model overrides, apart: same alertname, different label sets. */
	sb_printf(sb, "        labels:\n          severity: %s\n          rule_set: %s\n",
	          alert_severity_name(r->severity), dl->prefix);
	if (only_model) {
		sb_puts(sb, "          model: ");
		quoted(sb, only_model);
		sb_puts(sb, "\n");
	}
	sb_puts(sb, "        annotations:\n          summary: ");
	quoted(sb, r->summary);
	sb_puts(sb, "\n          description: ");
	quoted(sb, dl->description);
	sb_puts(sb, "\n");
}

static void dialect_yaml(struct strbuf *sb, const struct dialect *dl, const struct alert_rules *rs)
{
	sb_printf(sb, "  - name: %s-recording\n    rules:\n", dl->prefix);
	if (strcmp(dl->names, "dcgm") == 0)
		sb_puts(sb, "      - record: dcgm:gpu_utilization:ratio\n"
		            "        expr: DCGM_FI_DEV_GPU_UTIL / 100\n");
	for (size_t i = 0; i < 3; i++)
		sb_printf(sb, "      - record: %s\n        expr: %s\n", dl->recording[i][0],
		          dl->recording[i][1]);
	sb_printf(sb, "  - name: %s-alerts\n    rules:\n", dl->prefix);
	for (size_t i = 0; i < rs->n; i++) {
		const struct alert_rule *r = &rs->rule[i];
		if (r->disabled && !r->nmodels)
			continue;
		if (!usable(dl, r)) {
			sb_printf(sb,
			          "      # %s: %s has no %s series (it needs gpuscope's own "
			          "names)\n",
			          r->name, alert_signal_name(r->cond.signal), dl->names);
			continue;
		}
		if (!r->disabled)
			alert_rule_yaml(sb, dl, r, NULL, r);
		for (size_t m = 0; m < r->nmodels; m++) {
			struct alert_rule mr;
			alert_rule_for_model(r, r->models[m].match, &mr);
			/* The override applies to models that contain its match. */
			if (!mr.disabled)
				alert_rule_yaml(sb, dl, &mr, r->models[m].match, r);
		}
	}
}

char *alert_export_rules(const struct alert_rules *rs, unsigned names)
{
	struct strbuf sb;
	sb_init(&sb, 16384);
	sb_printf(&sb,
	          "# Prometheus rules generated by `gpuscope export rules --names %s` from the "
	          "agent's\n# alert rules (docs/alerts.md); regenerate rather than edit.\n"
	          "groups:\n",
	          names == ALERT_EXPORT_NATIVE ? "native"
	          : names == ALERT_EXPORT_DCGM ? "dcgm"
	                                       : "both");
	for (int d = 0; d < 2; d++)
		if (names & (d == 0 ? ALERT_EXPORT_NATIVE : ALERT_EXPORT_DCGM))
			dialect_yaml(&sb, &dialects[d], rs);
	sb_append(&sb, "", 1);
	if (sb.oom) {
		sb_free(&sb);
		return NULL;
	}
	return sb.data;
}
