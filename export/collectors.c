/* collectors.c - dcgm-exporter's counters CSV; see collectors.h. */
#include "export/collectors.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "series/metric_table.h"
#include "series/nvlink.h"
#include "series/snapshot.h"

static const char *const exp_names[EXP_COUNT] = {
    [EXP_XID_ERRORS_COUNT] = "DCGM_EXP_XID_ERRORS_COUNT",
    [EXP_CLOCK_EVENTS_COUNT] = "DCGM_EXP_CLOCK_EVENTS_COUNT",
    [EXP_P2P_STATUS] = "DCGM_EXP_P2P_STATUS",
    [EXP_GPU_HEALTH_STATUS] = "DCGM_EXP_GPU_HEALTH_STATUS",
};

const char *collector_exp_name(enum collector_exp e)
{
	return e > EXP_NONE && e < EXP_COUNT ? exp_names[e] : "";
}

static const struct {
	const char *name;
	enum collector_label label;
} label_fields[LABEL_COUNT] = {
    {"DCGM_FI_DRIVER_VERSION", LABEL_DRIVER_VERSION},
    {"DCGM_FI_NVML_VERSION", LABEL_NVML_VERSION},
    {"DCGM_FI_DEV_BRAND", LABEL_BRAND},
    {"DCGM_FI_DEV_SERIAL", LABEL_SERIAL},
    {"DCGM_FI_DEV_OEM_INFOROM_VER", LABEL_OEM_INFOROM},
    {"DCGM_FI_DEV_ECC_INFOROM_VER", LABEL_ECC_INFOROM},
    {"DCGM_FI_DEV_POWER_INFOROM_VER", LABEL_POWER_INFOROM},
    {"DCGM_FI_DEV_INFOROM_IMAGE_VER", LABEL_INFOROM_IMAGE},
    {"DCGM_FI_DEV_VBIOS_VERSION", LABEL_VBIOS},
};

const char *collector_label_name(enum collector_label l)
{
	return l > LABEL_NONE && l < LABEL_COUNT ? label_fields[l].name : "";
}

const char *collector_label_value(const struct gpu_identity *id, enum collector_label l)
{
	switch (l) {
	case LABEL_BRAND:
		return id->brand;
	case LABEL_SERIAL:
		return id->serial;
	case LABEL_OEM_INFOROM:
		return id->inforom_oem;
	case LABEL_ECC_INFOROM:
		return id->inforom_ecc;
	case LABEL_POWER_INFOROM:
		return id->inforom_power;
	case LABEL_INFOROM_IMAGE:
		return id->inforom_image;
	case LABEL_VBIOS:
		return id->vbios_version;
	default:
		return "";
	}
}

unsigned collectors_gpu_labels(const struct collectors *c)
{
	unsigned bits = 0;
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].label >= LABEL_BRAND)
			bits |= 1u << c->v[i].label;
	return bits;
}

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

/* Fills the row's metric, label and why from its name and type. */
static void resolve(struct collector *c)
{
	c->metric = -1;
	c->exp = EXP_NONE;
	c->label = LABEL_NONE;
	c->why = NULL;
	if (c->type == COLLECTOR_LABEL) {
		for (int l = 0; l < LABEL_COUNT; l++)
			if (strcmp(c->name, label_fields[l].name) == 0)
				c->label = label_fields[l].label;
		if (c->label == LABEL_NONE)
			c->why =
			    "a label field gpuscope does not read (it gives the driver and NVML "
			    "versions, brand, serial, VBIOS and inforom versions)";
		return;
	}
	c->metric = metric_of_dcgm(c->name, GPU_MAX_NVLINKS);
	if (c->metric >= 0)
		return;
	for (int e = 0; e < EXP_COUNT; e++)
		if (strcmp(c->name, exp_names[e]) == 0) {
			c->exp = e;
			return;
		}
	c->why = unknown_why;
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

const struct collector *collectors_find_name(const struct collectors *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].name, name) == 0)
			return &c->v[i];
	return NULL;
}

const struct collector *collectors_find_exp(const struct collectors *c, enum collector_exp e)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].exp == (int)e)
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
