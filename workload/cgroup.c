/* cgroup.c - the cgroup path pattern table and the /proc/PID/cgroup line chooser.
 *
 * A path is split into components; each component is tried against the rows of
 * cgroup_patterns in order and the first row that matches is applied. A row matches when
 * the component is prefix + middle + suffix, the middle has the row's shape (64 hex digits,
 * a pod UID, digits, ...) and every context bit the row requires was set by an ancestor
 * component ("pod<uid>" means a pod only under "kubepods"; a bare 64-hex directory is a
 * container only under "docker" or a pod). Adding a runtime is adding rows here and a line
 * to docs/attribution.md; nothing else matches strings.
 *
 * Left out on purpose: nested-runtime heuristics beyond "innermost wins", cgroup paths of
 * LXC/LXD, and the containerd "namespace/id" cgroupfs layout of bare containerd (nerdctl's
 * systemd scopes are covered). */
#include "workload/cgroup.h"

#include <assert.h>
#include <string.h>

/* Context bits set by ancestor components. */
enum {
	CTX_KUBEPODS = 1u << 0,   /* under kubepods / kubepods.slice */
	CTX_POD = 1u << 1,        /* under a pod's cgroup */
	CTX_DOCKER_DIR = 1u << 2, /* under /docker (cgroupfs driver) */
	CTX_SLURM = 1u << 3,      /* under slurm, slurm_<node> or slurmstepd.scope */
	CTX_SLURM_JOB = 1u << 4,  /* under job_<n> */
};

/* What must sit between a row's prefix and suffix. */
enum middle_shape {
	MID_EMPTY,           /* nothing: the component is exactly prefix + suffix */
	MID_HEX64,           /* a 64-hex-digit container id */
	MID_UID_DASHED,      /* 8-4-4-4-12 hex with '-' (or 32 hex: static pods) */
	MID_UID_UNDERSCORED, /* the same with '_' (systemd slice names cannot hold '-') */
	MID_DIGITS,
	MID_WORD, /* [A-Za-z0-9_]+ : Slurm step names (0, batch, extern, ...) */
	MID_NAME, /* any non-empty printable text */
};

enum pattern_action {
	ACT_CONTEXT,   /* only sets context bits */
	ACT_QOS,       /* a Kubernetes QoS class cgroup */
	ACT_POD,       /* a pod: the middle is its UID */
	ACT_CONTAINER, /* a container: the middle is its id */
	ACT_CONMON,    /* a runtime's monitor process cgroup: explicitly not the container */
	ACT_SLURM_UID,
	ACT_SLURM_JOB,
	ACT_SLURM_STEP,
	ACT_USER_MANAGER, /* user@UID.service: what follows are user units */
	ACT_UNIT,         /* a systemd service */
};

struct cgroup_pattern {
	const char *prefix;
	const char *suffix;
	enum middle_shape middle;
	unsigned requires; /* context bits an ancestor must have set */
	unsigned sets;     /* context bits this component sets for its descendants */
	enum pattern_action action;
	enum cgroup_runtime runtime; /* ACT_CONTAINER */
	enum cgroup_k8s_qos qos;     /* ACT_QOS, ACT_POD (NONE: inherit, else guaranteed) */
};

/* THE table. Order matters where rows overlap: "crio-conmon-" before "crio-", specific
 * before generic, the bare 64-hex rows last among containers. */
static const struct cgroup_pattern cgroup_patterns[] = {
    /* prefix, suffix, middle, requires, sets, action, runtime, qos */
    /* Kubernetes, systemd cgroup driver: kubepods.slice/kubepods-<qos>.slice/
     * kubepods-<qos>-pod<uid_with_underscores>.slice/<container scope> */
    {"kubepods", ".slice", MID_EMPTY, 0, CTX_KUBEPODS, ACT_CONTEXT, 0, 0},
    {"kubepods-burstable", ".slice", MID_EMPTY, 0, CTX_KUBEPODS, ACT_QOS, 0, CGROUP_QOS_BURSTABLE},
    {"kubepods-besteffort", ".slice", MID_EMPTY, 0, CTX_KUBEPODS, ACT_QOS, 0,
     CGROUP_QOS_BESTEFFORT},
    {"kubepods-burstable-pod", ".slice", MID_UID_UNDERSCORED, 0, CTX_KUBEPODS | CTX_POD, ACT_POD, 0,
     CGROUP_QOS_BURSTABLE},
    {"kubepods-besteffort-pod", ".slice", MID_UID_UNDERSCORED, 0, CTX_KUBEPODS | CTX_POD, ACT_POD,
     0, CGROUP_QOS_BESTEFFORT},
    {"kubepods-pod", ".slice", MID_UID_UNDERSCORED, 0, CTX_KUBEPODS | CTX_POD, ACT_POD, 0,
     CGROUP_QOS_GUARANTEED},
    /* Kubernetes, cgroupfs driver: /kubepods/[burstable|besteffort/]pod<uid>/<64hex> */
    {"kubepods", "", MID_EMPTY, 0, CTX_KUBEPODS, ACT_CONTEXT, 0, 0},
    {"burstable", "", MID_EMPTY, CTX_KUBEPODS, 0, ACT_QOS, 0, CGROUP_QOS_BURSTABLE},
    {"besteffort", "", MID_EMPTY, CTX_KUBEPODS, 0, ACT_QOS, 0, CGROUP_QOS_BESTEFFORT},
    {"pod", "", MID_UID_DASHED, CTX_KUBEPODS, CTX_POD, ACT_POD, 0, CGROUP_QOS_NONE},

    /* Container scopes (systemd cgroup driver, any cgroup version). */
    {"docker-", ".scope", MID_HEX64, 0, 0, ACT_CONTAINER, CGROUP_RUNTIME_DOCKER, 0},
    {"cri-containerd-", ".scope", MID_HEX64, 0, 0, ACT_CONTAINER, CGROUP_RUNTIME_CONTAINERD, 0},
    {"crio-conmon-", ".scope", MID_HEX64, 0, 0, ACT_CONMON, 0, 0},
    {"crio-", ".scope", MID_HEX64, 0, 0, ACT_CONTAINER, CGROUP_RUNTIME_CRIO, 0},
    {"libpod-conmon-", ".scope", MID_HEX64, 0, 0, ACT_CONMON, 0, 0},
    {"libpod-", ".scope", MID_HEX64, 0, 0, ACT_CONTAINER, CGROUP_RUNTIME_PODMAN, 0},
    {"nerdctl-", ".scope", MID_HEX64, 0, 0, ACT_CONTAINER, CGROUP_RUNTIME_CONTAINERD, 0},

    /* Containers as plain directories (cgroupfs driver). */
    {"docker", "", MID_EMPTY, 0, CTX_DOCKER_DIR, ACT_CONTEXT, 0, 0},
    {"", "", MID_HEX64, CTX_DOCKER_DIR, 0, ACT_CONTAINER, CGROUP_RUNTIME_DOCKER, 0},
    {"crio-conmon-", "", MID_HEX64, CTX_POD, 0, ACT_CONMON, 0, 0},
    {"crio-", "", MID_HEX64, CTX_POD, 0, ACT_CONTAINER, CGROUP_RUNTIME_CRIO, 0},
    {"libpod-conmon-", "", MID_HEX64, 0, 0, ACT_CONMON, 0, 0},
    {"libpod-", "", MID_HEX64, 0, 0, ACT_CONTAINER, CGROUP_RUNTIME_PODMAN, 0},
    /* A bare id in a pod: containerd (dockershim, the other writer of this layout, left
     * Kubernetes in 1.24). */
    {"", "", MID_HEX64, CTX_POD, 0, ACT_CONTAINER, CGROUP_RUNTIME_CONTAINERD, 0},

    /* Slurm: v1 /slurm[_<node>]/uid_<u>/job_<j>/step_<s>/task_<t>,
     * v2 /system.slice/slurmstepd.scope/job_<j>/step_<s>/user/task_<t>. */
    {"slurm", "", MID_EMPTY, 0, CTX_SLURM, ACT_CONTEXT, 0, 0},
    {"slurm_", "", MID_NAME, 0, CTX_SLURM, ACT_CONTEXT, 0, 0},
    {"slurmstepd", ".scope", MID_EMPTY, 0, CTX_SLURM, ACT_CONTEXT, 0, 0},
    {"uid_", "", MID_DIGITS, CTX_SLURM, 0, ACT_SLURM_UID, 0, 0},
    {"job_", "", MID_DIGITS, CTX_SLURM, CTX_SLURM_JOB, ACT_SLURM_JOB, 0, 0},
    {"step_", "", MID_WORD, CTX_SLURM_JOB, 0, ACT_SLURM_STEP, 0, 0},

    /* systemd: /system.slice/<name>.service, and user units under
     * /user.slice/user-<uid>.slice/user@<uid>.service/.../<name>.service */
    {"user@", ".service", MID_DIGITS, 0, 0, ACT_USER_MANAGER, 0, 0},
    {"", ".service", MID_NAME, 0, 0, ACT_UNIT, 0, 0},
};

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* 8-4-4-4-12 with sep, or 32 hex digits (static pods' UIDs are manifest hashes). */
static bool is_pod_uid(const char *s, size_t n, char sep)
{
	if (n == 32) {
		for (size_t i = 0; i < n; i++)
			if (!is_hex(s[i]))
				return false;
		return true;
	}
	if (n != CGROUP_POD_UID_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != sep : !is_hex(s[i]))
			return false;
	}
	return true;
}

static bool middle_has_shape(const char *s, size_t n, enum middle_shape shape)
{
	switch (shape) {
	case MID_EMPTY:
		return n == 0;
	case MID_HEX64:
		if (n != CGROUP_CONTAINER_ID_LEN)
			return false;
		for (size_t i = 0; i < n; i++)
			if (!is_hex(s[i]))
				return false;
		return true;
	case MID_UID_DASHED:
		return is_pod_uid(s, n, '-');
	case MID_UID_UNDERSCORED:
		return is_pod_uid(s, n, '_');
	case MID_DIGITS:
		if (n == 0 || n > 19)
			return false;
		for (size_t i = 0; i < n; i++)
			if (!is_digit(s[i]))
				return false;
		return true;
	case MID_WORD:
		if (n == 0 || n >= CGROUP_STEP_MAX)
			return false;
		for (size_t i = 0; i < n; i++) {
			char c = s[i];
			if (!(is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      c == '_'))
				return false;
		}
		return true;
	case MID_NAME:
		if (n == 0)
			return false;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
				return false;
		return true;
	}
	return false;
}

static uint64_t digits_value(const char *s, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	return v;
}

static void copy_text(char *dst, size_t cap, const char *src, size_t n)
{
	assert(cap > 0);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

static void apply_pattern(const struct cgroup_pattern *row, const char *comp, size_t comp_len,
                          const char *mid, size_t mid_len, unsigned *ctx,
                          struct cgroup_identity *out)
{
	switch (row->action) {
	case ACT_CONTEXT:
		break;
	case ACT_QOS:
		out->qos = row->qos;
		break;
	case ACT_POD:
		copy_text(out->pod_uid, sizeof(out->pod_uid), mid, mid_len);
		for (char *c = out->pod_uid; *c; c++)
			if (*c == '_')
				*c = '-';
		if (row->qos != CGROUP_QOS_NONE)
			out->qos = row->qos;
		else if (out->qos == CGROUP_QOS_NONE)
			out->qos = CGROUP_QOS_GUARANTEED; /* cgroupfs: no QoS directory */
		break;
	case ACT_CONTAINER:
		assert(mid_len == CGROUP_CONTAINER_ID_LEN);
		copy_text(out->container_id, sizeof(out->container_id), mid, mid_len);
		out->runtime = row->runtime;
		out->conmon = false;
		break;
	case ACT_CONMON:
		out->conmon = true;
		break;
	case ACT_SLURM_UID:
		out->has_slurm_uid = true;
		out->slurm_uid = (uint32_t)digits_value(mid, mid_len);
		break;
	case ACT_SLURM_JOB:
		out->has_slurm_job = true;
		out->slurm_job = digits_value(mid, mid_len);
		break;
	case ACT_SLURM_STEP:
		copy_text(out->slurm_step, sizeof(out->slurm_step), mid, mid_len);
		break;
	case ACT_USER_MANAGER:
		out->systemd_user_unit = true;
		out->systemd_user_uid = (uint32_t)digits_value(mid, mid_len);
		break;
	case ACT_UNIT:
		copy_text(out->systemd_unit, sizeof(out->systemd_unit), comp, comp_len);
		break;
	}
	*ctx |= row->sets;
}

static void classify_component(const char *comp, size_t n, unsigned *ctx,
                               struct cgroup_identity *out)
{
	size_t rows = sizeof(cgroup_patterns) / sizeof(cgroup_patterns[0]);
	for (size_t i = 0; i < rows; i++) {
		const struct cgroup_pattern *row = &cgroup_patterns[i];
		if ((row->requires & *ctx) != row->requires)
			continue;
		size_t plen = strlen(row->prefix), slen = strlen(row->suffix);
		if (n < plen + slen || memcmp(comp, row->prefix, plen) != 0 ||
		    memcmp(comp + n - slen, row->suffix, slen) != 0)
			continue;
		const char *mid = comp + plen;
		size_t mid_len = n - plen - slen;
		if (!middle_has_shape(mid, mid_len, row->middle))
			continue;
		apply_pattern(row, comp, n, mid, mid_len, ctx, out);
		return;
	}
}

void cgroup_classify_path(const char *path, size_t len, struct cgroup_identity *out)
{
	assert(path && out);
	unsigned ctx = 0;
	size_t i = 0;
	while (i < len) {
		while (i < len && path[i] == '/')
			i++;
		size_t start = i;
		while (i < len && path[i] != '/')
			i++;
		size_t n = i - start;
		if (n == 0 || (n == 1 && path[start] == '.') ||
		    (n == 2 && path[start] == '.' && path[start + 1] == '.'))
			continue;
		classify_component(path + start, n, &ctx, out);
	}
}

/* How much a classified line tells: the chooser keeps the line with the highest score. */
static int identity_score(const struct cgroup_identity *id)
{
	return (id->container_id[0] ? 8 : 0) + (id->pod_uid[0] ? 4 : 0) +
	       (id->has_slurm_job ? 2 : 0) + (id->systemd_unit[0] ? 1 : 0);
}

/* Controller preference among equally rich lines. */
static int controller_preference(const char *list, size_t n)
{
	if (n == 0)
		return 1; /* the v2 line "0::/..." */
	int best = 0;
	size_t i = 0;
	while (i < n) {
		size_t start = i;
		while (i < n && list[i] != ',')
			i++;
		size_t len = i - start;
		const char *name = list + start;
		int pref = 0;
		if (len == 4 && memcmp(name, "pids", 4) == 0)
			pref = 5;
		else if (len == 3 && memcmp(name, "cpu", 3) == 0)
			pref = 4;
		else if (len == 6 && memcmp(name, "memory", 6) == 0)
			pref = 3;
		else if (len == 12 && memcmp(name, "name=systemd", 12) == 0)
			pref = 2;
		if (pref > best)
			best = pref;
		i++;
	}
	return best;
}

bool cgroup_parse(const char *text, size_t len, struct cgroup_identity *out)
{
	assert(text && out);
	memset(out, 0, sizeof(*out));
	struct cgroup_identity line_id;
	int best_score = -1, best_pref = -1;
	const char *end = text + len;
	const char *line = text;
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *line_end = nl ? nl : end;
		/* "hierarchy-ID:controller-list:cgroup-path"; the path may itself hold ':'. */
		const char *p = line;
		while (p < line_end && is_digit(*p))
			p++;
		const char *colon1 = (p > line && p < line_end && *p == ':') ? p : NULL;
		const char *colon2 =
		    colon1 ? memchr(colon1 + 1, ':', (size_t)(line_end - colon1 - 1)) : NULL;
		if (colon2 && colon2 + 1 < line_end && colon2[1] == '/') {
			const char *ctrl = colon1 + 1;
			size_t ctrl_len = (size_t)(colon2 - ctrl);
			const char *path = colon2 + 1;
			size_t path_len = (size_t)(line_end - path);
			memset(&line_id, 0, sizeof(line_id));
			cgroup_classify_path(path, path_len, &line_id);
			int score = identity_score(&line_id);
			int pref = controller_preference(ctrl, ctrl_len);
			if (score > best_score || (score == best_score && pref > best_pref)) {
				best_score = score;
				best_pref = pref;
				*out = line_id;
				out->cgroup_v2 =
				    ctrl_len == 0 && colon1 - line == 1 && line[0] == '0';
				copy_text(out->path, sizeof(out->path), path, path_len);
				/* The path becomes a label: no control bytes (NUL included). */
				for (size_t i = 0; i < path_len && i + 1 < sizeof(out->path); i++)
					if ((unsigned char)out->path[i] < 0x20 ||
					    out->path[i] == 0x7f)
						out->path[i] = '?';
			}
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	return best_score >= 0;
}

const char *cgroup_runtime_name(enum cgroup_runtime r)
{
	switch (r) {
	case CGROUP_RUNTIME_NONE:
		return "";
	case CGROUP_RUNTIME_DOCKER:
		return "docker";
	case CGROUP_RUNTIME_CONTAINERD:
		return "containerd";
	case CGROUP_RUNTIME_CRIO:
		return "cri-o";
	case CGROUP_RUNTIME_PODMAN:
		return "podman";
	}
	return "";
}

const char *cgroup_qos_name(enum cgroup_k8s_qos q)
{
	switch (q) {
	case CGROUP_QOS_NONE:
		return "";
	case CGROUP_QOS_GUARANTEED:
		return "guaranteed";
	case CGROUP_QOS_BURSTABLE:
		return "burstable";
	case CGROUP_QOS_BESTEFFORT:
		return "besteffort";
	}
	return "";
}

bool cgroup_same_workload(const struct cgroup_identity *a, const struct cgroup_identity *b)
{
	return a->runtime == b->runtime && strcmp(a->container_id, b->container_id) == 0 &&
	       strcmp(a->pod_uid, b->pod_uid) == 0 && a->has_slurm_job == b->has_slurm_job &&
	       a->slurm_job == b->slurm_job && strcmp(a->systemd_unit, b->systemd_unit) == 0;
}
