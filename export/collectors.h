/* collectors.h - dcgm-exporter's counters CSV (`-f/--collectors`): which DCGM names to serve.
 *
 * A dcgm-exporter deployment names the fields it wants in a CSV file
 * (etc/default-counters.csv in its repository), one a line:
 *
 *   # comment
 *   DCGM_FI_DEV_GPU_UTIL,      gauge, GPU utilization (in %).
 *   DCGM_FI_DRIVER_VERSION,    label, Driver Version
 *
 * gpuscope reads the same file with the same meaning: the DCGM_FI_* series served are the
 * file's names that gpuscope produces, typed and described as the file says; `label` rows
 * become labels on every series.  A name gpuscope cannot produce is kept with the reason, so
 * `serve` can say so once at start and `doctor` can list them.  The parser is a pure
 * function over a buffer (fuzz target: fuzz/collectors).
 */
#ifndef GPUSCOPE_EXPORT_COLLECTORS_H
#define GPUSCOPE_EXPORT_COLLECTORS_H

#include <stdbool.h>
#include <stddef.h>

#define COLLECTORS_MAX      512
#define COLLECTOR_NAME_MAX  96
#define COLLECTOR_HELP_MAX  256
#define COLLECTORS_FILE_MAX (1024 * 1024)

enum collector_type { COLLECTOR_GAUGE, COLLECTOR_COUNTER, COLLECTOR_LABEL };

struct collectors;

/* The label fields gpuscope can put on every DCGM series: the host's versions, then the GPU's
 * own strings (struct gpu_identity). */
enum collector_label {
	LABEL_NONE = -1,
	LABEL_DRIVER_VERSION,
	LABEL_NVML_VERSION,
	LABEL_BRAND,
	LABEL_SERIAL,
	LABEL_OEM_INFOROM,
	LABEL_ECC_INFOROM,
	LABEL_POWER_INFOROM,
	LABEL_INFOROM_IMAGE,
	LABEL_VBIOS,
	LABEL_COUNT
};

/* The DCGM field name of a label field ("DCGM_FI_DEV_SERIAL"). */
const char *collector_label_name(enum collector_label l);

struct gpu_identity;
/* The value of a GPU's label field (LABEL_BRAND and after); "" when the GPU does not say. */
const char *collector_label_value(const struct gpu_identity *id, enum collector_label l);

/* The set of GPU label fields (bit 1 << l, LABEL_BRAND and after) the file asks for. */
unsigned collectors_gpu_labels(const struct collectors *c);

/* dcgm-exporter's own DCGM_EXP_* metrics gpuscope computes (export/prom_dcgm_exp.c). */
enum collector_exp {
	EXP_NONE = -1,
	EXP_XID_ERRORS_COUNT,   /* DCGM_EXP_XID_ERRORS_COUNT */
	EXP_CLOCK_EVENTS_COUNT, /* DCGM_EXP_CLOCK_EVENTS_COUNT */
	EXP_P2P_STATUS,         /* DCGM_EXP_P2P_STATUS */
	EXP_GPU_HEALTH_STATUS,  /* DCGM_EXP_GPU_HEALTH_STATUS */
	EXP_COUNT
};

/* The name of a DCGM_EXP_* metric. */
const char *collector_exp_name(enum collector_exp e);

struct collector {
	char name[COLLECTOR_NAME_MAX];
	enum collector_type type;
	char help[COLLECTOR_HELP_MAX];
	int metric;      /* the metric table row with this DCGM name (or link field), or -1 */
	int exp;         /* enum collector_exp for a DCGM_EXP_* row, else EXP_NONE */
	int label;       /* enum collector_label for a label row, else LABEL_NONE */
	const char *why; /* static: why gpuscope cannot produce it; NULL when it can */
};

struct collectors {
	struct collector *v;
	size_t n;
};

/* Parses a counters CSV.  Returns 0, or -1 with "line N: ..." in err (a malformed line,
 * an unknown type, too many rows, a name listed twice).  Names gpuscope does not know are
 * not errors: they are kept with `why` set.  out is freed with collectors_free either way. */
int collectors_parse(const char *buf, size_t len, struct collectors *out, char *err, size_t errlen);

/* Reads and parses a file (at most COLLECTORS_FILE_MAX bytes); err names the path. */
int collectors_load(const char *path, struct collectors *out, char *err, size_t errlen);

void collectors_free(struct collectors *c);

/* The row for metric m, or NULL when the file does not select it. */
const struct collector *collectors_find_metric(const struct collectors *c, int m);

/* The row named name (a per-link field such as DCGM_FI_DEV_NVLINK_BANDWIDTH_L3), or NULL. */
const struct collector *collectors_find_name(const struct collectors *c, const char *name);

/* The row for DCGM_EXP_* metric e, or NULL when the file does not select it. */
const struct collector *collectors_find_exp(const struct collectors *c, enum collector_exp e);

/* True when the file asks for label field l. */
bool collectors_has_label(const struct collectors *c, enum collector_label l);

#endif
