/* collectors.c - dcgm-exporter's counters CSV; see collectors.h. */
#include "export/collectors.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "series/metric_table.h"

/* DCGM names gpuscope knows but does not serve, and why (the rest are unknown to it). */
static const struct {
	const char *name;
	const char *why;
} not_served[] = {
    {"DCGM_FI_DEV_THERMAL_VIOLATION",
     "needs nvmlDeviceGetViolationStatus, not read yet (gpuscope_clock_event_seconds_total "
     "splits thermal time into sw_thermal and hw_thermal)"},
    {"DCGM_FI_DEV_BOARD_LIMIT_VIOLATION", "needs nvmlDeviceGetViolationStatus, not read yet"},
    {"DCGM_FI_DEV_LOW_UTIL_VIOLATION", "needs nvmlDeviceGetViolationStatus, not read yet"},
    {"DCGM_FI_DEV_RELIABILITY_VIOLATION", "needs nvmlDeviceGetViolationStatus, not read yet"},
    {"DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
     "not served yet: gpuscope_nvlink_{transmit,receive}_bytes_total has the bytes per link"},
};

static const char *unknown_why =
    "not a field gpuscope produces (DCGM host engine only, or not read yet)";

/* Trims spaces at both ends of [*s, *e). */
static void trim(const char **s, const char **e)
{
	while (*s < *e && isspace((unsigned char)**s))
		(*s)++;
	while (*e > *s && isspace((unsigned char)(*e)[-1]))
		(*e)--;
}

static int metric_of(const char *name)
{
	for (int m = 0; m < METRIC_COUNT; m++)
		if (metric_table[m].dcgm && strcmp(metric_table[m].dcgm, name) == 0)
			return m;
	return -1;
}

/* Fills the row's metric, label and why from its name and type. */
static void resolve(struct collector *c)
{
	c->metric = -1;
	c->label = LABEL_NONE;
	c->why = NULL;
	if (c->type == COLLECTOR_LABEL) {
		if (strcmp(c->name, "DCGM_FI_DRIVER_VERSION") == 0)
			c->label = LABEL_DRIVER_VERSION;
		else if (strcmp(c->name, "DCGM_FI_NVML_VERSION") == 0)
			c->label = LABEL_NVML_VERSION;
		else
			c->why =
			    "a label field gpuscope does not read yet (it gives driver and NVML "
			    "versions)";
		return;
	}
	c->metric = metric_of(c->name);
	if (c->metric >= 0)
		return;
	c->why = unknown_why;
	for (size_t i = 0; i < sizeof(not_served) / sizeof(not_served[0]); i++)
		if (not_served[i].why && strcmp(not_served[i].name, c->name) == 0)
			c->why = not_served[i].why;
}

static int fail(char *err, size_t errlen, unsigned line, const char *what)
{
	snprintf(err, errlen, "line %u: %s", line, what);
	return -1;
}

int collectors_parse(const char *buf, size_t len, struct collectors *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	const char *p = buf, *end = buf + len;
	unsigned line = 0;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;
		if (!eol)
			eol = end;
		line++;
		const char *s = p, *e = eol;
		p = next;
		trim(&s, &e);
		if (s == e || *s == '#')
			continue;
		if (memchr(s, '\0', (size_t)(e - s)))
			return fail(err, errlen, line, "a NUL byte");
		/* Three fields: name, type, help (the help may hold commas). */
		const char *c1 = memchr(s, ',', (size_t)(e - s));
		const char *c2 = c1 ? memchr(c1 + 1, ',', (size_t)(e - c1 - 1)) : NULL;
		if (!c1 || !c2)
			return fail(
			    err, errlen, line,
			    "expected 'DCGM_FIELD, type, help' (three comma-separated fields)");
		const char *ns = s, *ne = c1, *ts = c1 + 1, *te = c2, *hs = c2 + 1, *he = e;
		trim(&ns, &ne);
		trim(&ts, &te);
		trim(&hs, &he);
		if (ne == ns || (size_t)(ne - ns) >= COLLECTOR_NAME_MAX)
			return fail(err, errlen, line, "the field name is empty or too long");
		for (const char *q = ns; q < ne; q++)
			if (!(isalnum((unsigned char)*q) || *q == '_'))
				return fail(err, errlen, line,
				            "the field name may hold only letters, digits and '_'");
		enum collector_type type;
		size_t tl = (size_t)(te - ts);
		if (tl == 5 && strncmp(ts, "gauge", 5) == 0)
			type = COLLECTOR_GAUGE;
		else if (tl == 7 && strncmp(ts, "counter", 7) == 0)
			type = COLLECTOR_COUNTER;
		else if (tl == 5 && strncmp(ts, "label", 5) == 0)
			type = COLLECTOR_LABEL;
		else
			return fail(err, errlen, line, "the type must be gauge, counter or label");
		if (out->n >= COLLECTORS_MAX)
			return fail(err, errlen, line, "more than 512 fields");
		if (!out->v && !(out->v = calloc(COLLECTORS_MAX, sizeof(*out->v))))
			return fail(err, errlen, line, "out of memory");
		struct collector *c = &out->v[out->n];
		snprintf(c->name, sizeof(c->name), "%.*s", (int)(ne - ns), ns);
		for (size_t k = 0; k < out->n; k++)
			if (strcmp(out->v[k].name, c->name) == 0)
				return fail(err, errlen, line, "the field is listed twice");
		size_t hl = (size_t)(he - hs);
		if (hl >= COLLECTOR_HELP_MAX)
			hl = COLLECTOR_HELP_MAX - 1;
		memcpy(c->help, hs, hl);
		c->help[hl] = 0;
		/* HELP text is one line in the exposition: no backslash or control byte. */
		for (char *q = c->help; *q; q++)
			if (*q == '\\' || (unsigned char)*q < 0x20)
				*q = ' ';
		c->type = type;
		resolve(c);
		out->n++;
	}
	return 0;
}

int collectors_load(const char *path, struct collectors *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *buf = malloc(COLLECTORS_FILE_MAX + 1);
	size_t len = buf ? fread(buf, 1, COLLECTORS_FILE_MAX + 1, f) : 0;
	bool io = buf && ferror(f);
	fclose(f);
	if (!buf || io || len > COLLECTORS_FILE_MAX) {
		snprintf(err, errlen, "%s: %s", path,
		         !buf ? "out of memory"
		         : io ? "read error (a directory?)"
		              : "larger than 1 MiB: not a counters CSV");
		free(buf);
		return -1;
	}
	char why[256];
	int rc = collectors_parse(buf, len, out, why, sizeof(why));
	free(buf);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		collectors_free(out);
	}
	return rc;
}

void collectors_free(struct collectors *c)
{
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

const struct collector *collectors_find_metric(const struct collectors *c, int m)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].metric == m)
			return &c->v[i];
	return NULL;
}

bool collectors_has_label(const struct collectors *c, enum collector_label l)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].label == (int)l)
			return true;
	return false;
}
