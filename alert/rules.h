/* rules.h - alert rules: what the agent alerts on, and how a rules file
 * changes that.
 *
 * A rule is a condition on one per-GPU signal (utilization, memory in use,
 * temperature, power against the limit, Xid or ECC errors over a window, a
 * diagnosis verdict), an optional second condition that must hold with it,
 * a `for` duration, a `keep_firing_for` duration (flap damping) and a
 * severity.  The built-in rules are the alerts of the project's two seeds
 * plus one per verdict that can be critical; alert_rules_builtin() returns
 * them, and docs/alerts.md lists them.  A rules file (alert/rules_yaml.c)
 * starts from the built-in set and overrides fields, disables rules, adds
 * per-model overrides and adds rules of the same form, so the file a user
 * writes says only what differs.
 *
 * The same table is what `gpuscope export rules` turns into Prometheus
 * alerting rules (alert/export_rules.c), so the fleet and the agent alert
 * on the same conditions.  Everything here is plain data: a rule set is one
 * allocation-free struct, copied whole on reload, so the evaluator never
 * sees half a file.
 */
#ifndef GPUSCOPE_ALERT_RULES_H
#define GPUSCOPE_ALERT_RULES_H

#include <stdbool.h>
#include <stddef.h>

/* Per-GPU signals a rule can test.  Ratios are 0-1. */
enum alert_signal {
	ALERT_SIG_UTILIZATION,      /* NVML utilization.gpu */
	ALERT_SIG_MEMORY_USED,      /* memory used / total */
	ALERT_SIG_TEMPERATURE,      /* GPU temperature, Celsius */
	ALERT_SIG_POWER,            /* power draw / enforced power limit */
	ALERT_SIG_POWER_EFFICIENCY, /* utilization / (power / limit): work per watt drawn */
	ALERT_SIG_SM_ACTIVE,        /* GPM SM activity */
	ALERT_SIG_XID_ERRORS,       /* Xid events in the last `window` */
	ALERT_SIG_ECC_UNCORRECTED,  /* uncorrectable ECC errors in the last `window` */
	ALERT_SIG_VERDICT,          /* 1 while the live diagnosis has rule.verdict */
	ALERT_SIG_COUNT
};

/* How a signal over the rule's window becomes one number.  Counters
 * (Xid, ECC) always take the increase. */
enum alert_stat { ALERT_STAT_LAST, ALERT_STAT_MEAN, ALERT_STAT_MAX, ALERT_STAT_MIN };

enum alert_op { ALERT_OP_GT, ALERT_OP_GE, ALERT_OP_LT, ALERT_OP_LE };

enum alert_severity { ALERT_INFO, ALERT_WARNING, ALERT_CRITICAL };

/* Threshold that comes from the GPU itself, when NVML reports it. */
enum alert_gpu_threshold { ALERT_GPU_THRESHOLD_NONE, ALERT_GPU_THRESHOLD_SLOWDOWN_TEMP };

#define ALERT_NAME_MAX    64
#define ALERT_TEXT_MAX    200
#define ALERT_MODEL_MAX   48
#define ALERT_MODELS_MAX  8
#define ALERT_RULES_MAX   64
#define ALERT_WINDOW_MAX  3600.0 /* seconds a windowed signal may look back */
#define ALERT_VERDICT_MAX 32

struct alert_cond {
	enum alert_signal signal;
	enum alert_stat stat;
	enum alert_op op;
	double threshold;
	enum alert_gpu_threshold gpu_threshold; /* used instead of threshold when present */
	char verdict[ALERT_VERDICT_MAX];        /* ALERT_SIG_VERDICT: analyze/'s id */
	enum alert_severity verdict_min;        /* ... at or above this severity */
};

/* Per-model overrides: the first whose `match` is contained in the GPU's
 * model name (case-insensitive) applies.  NaN / negative = not overridden. */
struct alert_model_override {
	char match[ALERT_MODEL_MAX];
	double threshold; /* NaN: keep */
	double for_s;     /* < 0: keep */
	int severity;     /* < 0: keep */
	int disabled;     /* < 0: keep, 0 enable, 1 disable */
};

struct alert_rule {
	char name[ALERT_NAME_MAX]; /* alertname, CamelCase like Prometheus' rules */
	bool builtin;
	bool disabled;
	enum alert_severity severity;
	struct alert_cond cond;
	bool has_and;
	struct alert_cond and_cond; /* must hold too (same window) */
	double window_s;            /* how far back the signal is aggregated (0: now) */
	double for_s;               /* true this long before firing */
	double keep_firing_for_s;   /* false this long before resolving */
	char summary[ALERT_TEXT_MAX];
	size_t nmodels;
	struct alert_model_override models[ALERT_MODELS_MAX];
};

struct alert_rules {
	size_t n;
	struct alert_rule rule[ALERT_RULES_MAX];
};

/* The built-in rules, in documentation order. */
void alert_rules_builtin(struct alert_rules *out);

/* The rule called name, or NULL. */
struct alert_rule *alert_rules_find(struct alert_rules *rs, const char *name);

/* The rule as it applies to a GPU of this model (model overrides folded
 * in); *out is a copy. */
void alert_rule_for_model(const struct alert_rule *r, const char *model, struct alert_rule *out);

/* Names and parsers of the enums, as the rules file and the API spell them. */
const char *alert_signal_name(enum alert_signal s);
int alert_signal_parse(const char *s, enum alert_signal *out);
const char *alert_stat_name(enum alert_stat s);
int alert_stat_parse(const char *s, enum alert_stat *out);
const char *alert_op_name(enum alert_op o);
int alert_op_parse(const char *s, enum alert_op *out);
const char *alert_severity_name(enum alert_severity s);
int alert_severity_parse(const char *s, enum alert_severity *out);

/* True for the counter signals (the window's increase). */
bool alert_signal_is_counter(enum alert_signal s);

/* a <op> b; false when either is NaN. */
bool alert_compare(enum alert_op op, double a, double b);

/* Parses a Prometheus-style duration ("0", "90s", "5m", "1h30m", "500ms")
 * into seconds; 0 or -1. */
int alert_parse_duration(const char *s, double *seconds);

/* Formats seconds as a Prometheus duration ("1h30m", "45s", "0s"). */
void alert_format_duration(double seconds, char *buf, size_t len);

#endif
