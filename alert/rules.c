/* rules.c - the built-in alert rules and the vocabulary of rules files.
 *
 * The built-in set is the two seeds' alerts, each as one row below, plus one
 * rule per diagnosis verdict that can be critical.  Durations and windows
 * are the seeds' "sustained" made concrete: long enough that one bursty
 * minute does not page anyone, short enough that a real problem is seen
 * within the hour (docs/alerts.md gives the reason for each).  Thresholds
 * that NVML knows per GPU (the slowdown temperature) come from the GPU;
 * the number here is only the fallback when a GPU does not report it.
 */
#include "alert/rules.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const signal_names[ALERT_SIG_COUNT] = {
    [ALERT_SIG_UTILIZATION] = "utilization",
    [ALERT_SIG_MEMORY_USED] = "memory_used",
    [ALERT_SIG_TEMPERATURE] = "temperature",
    [ALERT_SIG_POWER] = "power",
    [ALERT_SIG_POWER_EFFICIENCY] = "power_efficiency",
    [ALERT_SIG_SM_ACTIVE] = "sm_active",
    [ALERT_SIG_XID_ERRORS] = "xid_errors",
    [ALERT_SIG_ECC_UNCORRECTED] = "ecc_uncorrected",
    [ALERT_SIG_VERDICT] = "verdict",
};
static const char *const stat_names[] = {"last", "mean", "max", "min"};
static const char *const op_names[] = {">", ">=", "<", "<="};
static const char *const severity_names[] = {"info", "warning", "critical"};

/* A condition literal (a compound literal, so it can be an argument). */
#define COND(sig, st, o, thr)                                           \
	((struct alert_cond){.signal = (sig),                           \
	                     .stat = (st),                              \
	                     .op = (o),                                 \
	                     .threshold = (thr),                        \
	                     .gpu_threshold = ALERT_GPU_THRESHOLD_NONE, \
	                     .verdict_min = ALERT_INFO})

static void add(struct alert_rules *rs, const char *name, enum alert_severity sev,
                struct alert_cond c, double window_s, double for_s, double keep_s,
                const char *summary)
{
	struct alert_rule *r = &rs->rule[rs->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->builtin = true;
	r->severity = sev;
	r->cond = c;
	r->window_s = window_s;
	r->for_s = for_s;
	r->keep_firing_for_s = keep_s;
	snprintf(r->summary, sizeof(r->summary), "%s", summary);
}

static void add_verdict(struct alert_rules *rs, const char *name, const char *verdict,
                        const char *summary)
{
	struct alert_cond c = COND(ALERT_SIG_VERDICT, ALERT_STAT_LAST, ALERT_OP_GE, 1);
	snprintf(c.verdict, sizeof(c.verdict), "%s", verdict);
	c.verdict_min = ALERT_CRITICAL;
	/* The diagnosis already judges a 10-minute window; a minute of damping
	 * keeps one borderline run from resolving and re-firing it. */
	add(rs, name, ALERT_CRITICAL, c, 0, 0, 60, summary);
}

void alert_rules_builtin(struct alert_rules *rs)
{
	memset(rs, 0, sizeof(*rs));
	/* Critical: for a pager. */
	add(rs, "GpuXidError", ALERT_CRITICAL,
	    COND(ALERT_SIG_XID_ERRORS, ALERT_STAT_LAST, ALERT_OP_GT, 0), 300, 0, 0,
	    "The driver reported an Xid error on the GPU");
	struct alert_cond temp = COND(ALERT_SIG_TEMPERATURE, ALERT_STAT_MEAN, ALERT_OP_GE, 83);
	temp.gpu_threshold = ALERT_GPU_THRESHOLD_SLOWDOWN_TEMP;
	add(rs, "GpuTemperatureHigh", ALERT_CRITICAL, temp, 30, 60, 60,
	    "GPU temperature at or above its slowdown threshold: clocks are being cut");
	add(rs, "GpuEccUncorrectable", ALERT_CRITICAL,
	    COND(ALERT_SIG_ECC_UNCORRECTED, ALERT_STAT_LAST, ALERT_OP_GT, 0), 600, 0, 0,
	    "Uncorrectable ECC errors on the GPU");
	add(rs, "GpuPowerNearLimit", ALERT_CRITICAL,
	    COND(ALERT_SIG_POWER, ALERT_STAT_MEAN, ALERT_OP_GT, 0.95), 60, 300, 60,
	    "Power draw above 95% of the board's limit, sustained");
	/* Warning: for a chat channel. */
	add(rs, "GpuUtilizationLow", ALERT_WARNING,
	    COND(ALERT_SIG_UTILIZATION, ALERT_STAT_MEAN, ALERT_OP_LT, 0.25), 300, 1800, 300,
	    "GPU utilization under 25%, sustained: the GPU is paid for but idle");
	add(rs, "GpuMemoryHigh", ALERT_WARNING,
	    COND(ALERT_SIG_MEMORY_USED, ALERT_STAT_MAX, ALERT_OP_GT, 0.9), 60, 300, 120,
	    "GPU memory above 90% in use: out-of-memory risk");
	struct alert_rule *r = &rs->rule[rs->n];
	add(rs, "GpuMemoryOverprovisioned", ALERT_WARNING,
	    COND(ALERT_SIG_MEMORY_USED, ALERT_STAT_MAX, ALERT_OP_LT, 0.3), 300, 3600, 300,
	    "GPU memory under 30% in use while the GPU works: a smaller GPU or MIG slice would do");
	r->has_and = true;
	r->and_cond = COND(ALERT_SIG_UTILIZATION, ALERT_STAT_MEAN, ALERT_OP_GT, 0);
	r = &rs->rule[rs->n];
	add(rs, "GpuPowerEfficiencyLow", ALERT_WARNING,
	    COND(ALERT_SIG_POWER_EFFICIENCY, ALERT_STAT_MEAN, ALERT_OP_LT, 0.3), 300, 900, 300,
	    "Low utilization for the watts drawn: batches too small for the GPU");
	/* An idle GPU draws little and is GpuUtilizationLow's business. */
	r->has_and = true;
	r->and_cond = COND(ALERT_SIG_POWER, ALERT_STAT_MEAN, ALERT_OP_GE, 0.3);
	add(rs, "GpuMemoryHighSustained", ALERT_WARNING,
	    COND(ALERT_SIG_MEMORY_USED, ALERT_STAT_MIN, ALERT_OP_GT, 0.9), 300, 3600, 300,
	    "GPU memory above 90% for an hour: review the capacity");
	struct alert_cond input = COND(ALERT_SIG_VERDICT, ALERT_STAT_LAST, ALERT_OP_GE, 1);
	snprintf(input.verdict, sizeof(input.verdict), "cpu_bound_input");
	input.verdict_min = ALERT_WARNING;
	add(rs, "GpuInputBottleneck", ALERT_WARNING, input, 0, 0, 60,
	    "GPU waits on a saturated CPU input pipeline (preprocessing bottleneck)");
	/* One per verdict that can be critical (analyze/). */
	add_verdict(rs, "GpuVerdictHardwareHealth", "hardware_health",
	            "Diagnosis: the GPU's hardware health is critical");
	add_verdict(rs, "GpuVerdictThermalThrottling", "thermal_throttling",
	            "Diagnosis: the GPU is throttled by hardware thermal slowdown");
	add_verdict(rs, "GpuVerdictVramPressure", "vram_pressure",
	            "Diagnosis: GPU memory is full, allocations are about to fail");
	add_verdict(rs, "GpuVerdictMemoryGrowth", "memory_growth",
	            "Diagnosis: GPU memory grows and runs out within the hour");
}

struct alert_rule *alert_rules_find(struct alert_rules *rs, const char *name)
{
	for (size_t i = 0; i < rs->n; i++)
		if (strcmp(rs->rule[i].name, name) == 0)
			return &rs->rule[i];
	return NULL;
}

static bool contains_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return true;
	return n == 0;
}

void alert_rule_for_model(const struct alert_rule *r, const char *model, struct alert_rule *out)
{
	*out = *r;
	for (size_t i = 0; model && i < r->nmodels; i++) {
		const struct alert_model_override *m = &r->models[i];
		if (!contains_nocase(model, m->match))
			continue;
		if (!isnan(m->threshold)) {
			out->cond.threshold = m->threshold;
			out->cond.gpu_threshold = ALERT_GPU_THRESHOLD_NONE;
		}
		if (m->for_s >= 0)
			out->for_s = m->for_s;
		if (m->severity >= 0)
			out->severity = (enum alert_severity)m->severity;
		if (m->disabled >= 0)
			out->disabled = m->disabled != 0;
		break;
	}
}

static int parse_name(const char *s, const char *const *names, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (names[i] && strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

const char *alert_signal_name(enum alert_signal s)
{
	return (unsigned)s < ALERT_SIG_COUNT ? signal_names[s] : "?";
}
int alert_signal_parse(const char *s, enum alert_signal *out)
{
	int i = parse_name(s, signal_names, ALERT_SIG_COUNT);
	if (i >= 0)
		*out = (enum alert_signal)i;
	return i >= 0 ? 0 : -1;
}
const char *alert_stat_name(enum alert_stat s)
{
	return (unsigned)s < 4 ? stat_names[s] : "?";
}
int alert_stat_parse(const char *s, enum alert_stat *out)
{
	int i = parse_name(s, stat_names, 4);
	if (i >= 0)
		*out = (enum alert_stat)i;
	return i >= 0 ? 0 : -1;
}
const char *alert_op_name(enum alert_op o)
{
	return (unsigned)o < 4 ? op_names[o] : "?";
}
int alert_op_parse(const char *s, enum alert_op *out)
{
	int i = parse_name(s, op_names, 4);
	if (i >= 0)
		*out = (enum alert_op)i;
	return i >= 0 ? 0 : -1;
}
const char *alert_severity_name(enum alert_severity s)
{
	return (unsigned)s < 3 ? severity_names[s] : "?";
}
int alert_severity_parse(const char *s, enum alert_severity *out)
{
	int i = parse_name(s, severity_names, 3);
	if (i >= 0)
		*out = (enum alert_severity)i;
	return i >= 0 ? 0 : -1;
}

bool alert_signal_is_counter(enum alert_signal s)
{
	return s == ALERT_SIG_XID_ERRORS || s == ALERT_SIG_ECC_UNCORRECTED;
}

bool alert_compare(enum alert_op op, double a, double b)
{
	if (isnan(a) || isnan(b))
		return false;
	switch (op) {
	case ALERT_OP_GT:
		return a > b;
	case ALERT_OP_GE:
		return a >= b;
	case ALERT_OP_LT:
		return a < b;
	case ALERT_OP_LE:
		return a <= b;
	}
	return false;
}

int alert_parse_duration(const char *s, double *seconds)
{
	if (!s || !*s)
		return -1;
	if (strcmp(s, "0") == 0) {
		*seconds = 0;
		return 0;
	}
	double total = 0;
	const char *p = s;
	while (*p) {
		if (!isdigit((unsigned char)*p))
			return -1;
		char *end;
		double v = strtod(p, &end);
		p = end;
		double unit;
		if (strncmp(p, "ms", 2) == 0) {
			unit = 0.001;
			p += 2;
		} else if (*p == 's') {
			unit = 1;
			p++;
		} else if (*p == 'm') {
			unit = 60;
			p++;
		} else if (*p == 'h') {
			unit = 3600;
			p++;
		} else if (*p == 'd') {
			unit = 86400;
			p++;
		} else {
			return -1;
		}
		total += v * unit;
	}
	if (!isfinite(total) || total > 366 * 86400.0)
		return -1;
	*seconds = total;
	return 0;
}

void alert_format_duration(double seconds, char *buf, size_t len)
{
	long s = lround(seconds);
	if (s <= 0) {
		snprintf(buf, len, "0s");
		return;
	}
	long h = s / 3600, m = s % 3600 / 60, r = s % 60;
	int n = 0;
	buf[0] = '\0';
	if (h)
		n += snprintf(buf + n, len - (size_t)n, "%ldh", h);
	if (m && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, "%ldm", m);
	if (r && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, "%lds", r);
}
