/* serve_dcgm.c - dcgm-exporter's flags and environment on `gpuscope serve`; see
 * serve_dcgm.h.  The table of names below is the whole interface: one row per flag, with
 * its environment variable, and either what it sets or why it is refused. */
#include "cmd/serve_dcgm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "export/hpc_jobs.h"

const char serve_dcgm_usage[] =
    "dcgm-exporter's interface (its DCGM_EXPORTER_* variables are read too):\n"
    "  -a, --address ADDR     the same as --listen\n"
    "  -f, --collectors FILE  dcgm-exporter counters CSV: serve only its DCGM_FI_* names,\n"
    "                         typed and described as it says (names gpuscope cannot\n"
    "                         produce are listed at start, and by doctor -f)\n"
    "  -c, --collect-interval MS  accepted: gpuscope samples every --fast-interval,\n"
    "                         which is never slower than MS\n"
    "  -n, --no-hostname      no host label on DCGM_FI_* series\n"
    "  --hostname NAME        the host label's value (default $NODE_NAME, else this host)\n"
    "  --hostname-label NAME  hostname (default, as dcgm-exporter since 4.x) or Hostname\n"
    "                         (the spelling older dashboards use)\n"
    "  --no-driver-version-label  leave DCGM_FI_DRIVER_VERSION off DCGM_FI_* series\n"
    "  -k, --kubernetes       accepted: pods are always mapped (kubelet pod-resources)\n"
    "  --kubernetes-gpu-id-type uid   accepted (GPUs are matched by UUID)\n"
    "  -d, --devices f|g      accepted: every GPU, and with MIG every GPU instance\n"
    "  --web-config-file FILE TLS and basic auth, in the Prometheus exporter-toolkit\n"
    "                         format (tls_server_config, basic_auth_users with bcrypt)\n"
    "  --hpc-job-mapping-dir DIR  files named by GPU index (or GPU.INSTANCE) listing job\n"
    "                         ids, one a line: each DCGM series of such a GPU is written\n"
    "                         once per job with an hpc_job label (read again each second)\n"
    "  -x, --xid-count-window-size MS  DCGM_EXP_XID_ERRORS_COUNT's window (300000)\n"
    "  --clock-events-count-window-size MS  DCGM_EXP_CLOCK_EVENTS_COUNT's window (300000);\n"
    "                         its count is the time each reason held over -c (30000 ms)\n";

void serve_dcgm_init(struct serve_dcgm *d)
{
	memset(d, 0, sizeof(*d));
	prom_dcgm_default(&d->prom);
	d->prom.host_label = "hostname";
}

/* What one flag (or its variable) does with its value.  Returns 0, or -1 with err. */
typedef int (*dcgm_apply)(struct serve_dcgm *d, const char *flag, const char *val, char *err,
                          size_t errlen);

static bool truthy(const char *v)
{
	return strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0;
}

static int set_listen(struct serve_dcgm *d, const char *flag, const char *val, char *err,
                      size_t errlen)
{
	d->listen = val;
	return 0;
}

static int set_collectors(struct serve_dcgm *d, const char *flag, const char *val, char *err,
                          size_t errlen)
{
	d->collectors_path = val;
	return 0;
}

static int set_interval(struct serve_dcgm *d, const char *flag, const char *val, char *err,
                        size_t errlen)
{
	char *end;
	double ms = strtod(val, &end);
	if (end == val || *end || !(ms >= 1 && ms <= 3600000)) {
		snprintf(err, errlen, "%s '%s': give milliseconds, 1 to 3600000 (e.g. 30000)", flag,
		         val);
		return -1;
	}
	d->collect_s = ms / 1000.0;
	d->prom.collect_ms = (unsigned)ms;
	return 0;
}

/* -x/--xid-count-window-size and --clock-events-count-window-size: milliseconds. */
static int parse_window(const char *flag, const char *val, unsigned *out, char *err, size_t errlen)
{
	char *end;
	double ms = strtod(val, &end);
	if (end == val || *end || !(ms >= 1000 && ms <= 86400000)) {
		snprintf(err, errlen, "%s '%s': give milliseconds, 1000 to 86400000 (e.g. 300000)",
		         flag, val);
		return -1;
	}
	*out = (unsigned)ms;
	return 0;
}

static int set_xid_window(struct serve_dcgm *d, const char *flag, const char *val, char *err,
                          size_t errlen)
{
	return parse_window(flag, val, &d->prom.xid_window_ms, err, errlen);
}

static int set_clock_window(struct serve_dcgm *d, const char *flag, const char *val, char *err,
                            size_t errlen)
{
	return parse_window(flag, val, &d->prom.clock_window_ms, err, errlen);
}

static int set_no_hostname(struct serve_dcgm *d, const char *flag, const char *val, char *err,
                           size_t errlen)
{
	if (!val || truthy(val))
		d->prom.host_label = NULL;
	return 0;
}

static int set_hostname_label(struct serve_dcgm *d, const char *flag, const char *val, char *err,
                              size_t errlen)
{
	if (strcmp(val, "hostname") != 0 && strcmp(val, "Hostname") != 0) {
		snprintf(err, errlen, "%s '%s': use hostname or Hostname", flag, val);
		return -1;
	}
	/* Static strings: a struct prom_dcgm is copied by value (SIGHUP). */
	const char *spelling = strcmp(val, "Hostname") == 0 ? "Hostname" : "hostname";
	if (d->prom.host_label)
		d->prom.host_label = spelling;
	return 0;
}

static int set_no_driver_label(struct serve_dcgm *d, const char *flag, const char *val, char *err,
                               size_t errlen)
{
	d->prom.driver_version = false;
	return 0;
}

static int accept_kubernetes(struct serve_dcgm *d, const char *flag, const char *val, char *err,
                             size_t errlen)
{
	return 0; /* attribution maps pods whenever the kubelet socket is there */
}

static int set_gpu_id_type(struct serve_dcgm *d, const char *flag, const char *val, char *err,
                           size_t errlen)
{
	if (strcmp(val, "uid") == 0)
		return 0;
	snprintf(err, errlen,
	         "%s '%s': gpuscope matches the kubelet's devices by GPU UUID; use uid (the NVIDIA "
	         "device plugin's default)",
	         flag, val);
	return -1;
}

static int set_devices(struct serve_dcgm *d, const char *flag, const char *val, char *err,
                       size_t errlen)
{
	if (strcmp(val, "f") == 0 || strcmp(val, "g") == 0)
		return 0;
	snprintf(err, errlen,
	         "%s '%s': gpuscope serves every GPU (and with MIG every GPU instance): use f or "
	         "g, and select GPUs in Prometheus (e.g. {gpu=~\"0|1\"})",
	         flag, val);
	return -1;
}

static int set_web_config(struct serve_dcgm *d, const char *flag, const char *val, char *err,
                          size_t errlen)
{
	d->web_config_path = val;
	return 0;
}

static int set_hpc_dir(struct serve_dcgm *d, const char *flag, const char *val, char *err,
                       size_t errlen)
{
	if (!*val) {
		snprintf(err, errlen, "%s needs a directory", flag);
		return -1;
	}
	d->hpc_dir = val;
	return 0;
}

static int refuse(struct serve_dcgm *d, const char *flag, const char *val, char *err,
                  size_t errlen);

static const struct dcgm_flag {
	const char *shortf, *longf, *env;
	bool takes_value;
	dcgm_apply apply;
	const char *instead; /* refused: what to use instead */
} flags[] = {
    {"-a", "--address", "DCGM_EXPORTER_LISTEN", true, set_listen, NULL},
    {"-f", "--collectors", "DCGM_EXPORTER_COLLECTORS", true, set_collectors, NULL},
    {"-c", "--collect-interval", "DCGM_EXPORTER_INTERVAL", true, set_interval, NULL},
    {"-n", "--no-hostname", "DCGM_EXPORTER_NO_HOSTNAME", false, set_no_hostname, NULL},
    {NULL, "--hostname-label", NULL, true, set_hostname_label, NULL},
    {NULL, "--no-driver-version-label", NULL, false, set_no_driver_label, NULL},
    {"-k", "--kubernetes", "DCGM_EXPORTER_KUBERNETES", false, accept_kubernetes, NULL},
    {NULL, "--kubernetes-gpu-id-type", "DCGM_EXPORTER_KUBERNETES_GPU_ID_TYPE", true,
     set_gpu_id_type, NULL},
    {"-d", "--devices", "DCGM_EXPORTER_DEVICES_STR", true, set_devices, NULL},
    {NULL, "--web-config-file", "DCGM_EXPORTER_WEB_CONFIG_FILE", true, set_web_config, NULL},
    {NULL, "--hpc-job-mapping-dir", "DCGM_HPC_JOB_MAPPING_DIR", true, set_hpc_dir, NULL},
    {"-x", "--xid-count-window-size", "DCGM_EXPORTER_XID_COUNT_WINDOW_SIZE", true, set_xid_window,
     NULL},
    {NULL, "--clock-events-count-window-size", "DCGM_EXPORTER_CLOCK_EVENTS_COUNT_WINDOW_SIZE", true,
     set_clock_window, NULL},
    {"-r", "--remote-hostengine-info", "DCGM_REMOTE_HOSTENGINE_INFO", true, refuse,
     "gpuscope needs no DCGM host engine: it reads NVML on the node itself; drop this flag"},
    {"-o", "--use-old-namespace", "DCGM_EXPORTER_USE_OLD_NAMESPACE", false, refuse,
     "the 1.x dcgm_* names are gone from dcgm-exporter too: use the DCGM_FI_* names"},
    {NULL, "--kubernetes-enable-pod-labels", "DCGM_EXPORTER_KUBERNETES_ENABLE_POD_LABELS", false,
     refuse,
     "gpuscope labels series with pod, namespace and container, not the pod's own labels: "
     "join kube_pod_labels in PromQL"},
};

static int refuse(struct serve_dcgm *d, const char *flag, const char *val, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if ((flags[i].longf && strcmp(flags[i].longf, flag) == 0) ||
		    (flags[i].shortf && strcmp(flags[i].shortf, flag) == 0) ||
		    (flags[i].env && strcmp(flags[i].env, flag) == 0)) {
			snprintf(err, errlen, "%s is not supported: %s", flag, flags[i].instead);
			return -1;
		}
	snprintf(err, errlen, "%s is not supported", flag);
	return -1;
}

int serve_dcgm_env(struct serve_dcgm *d, char *err, size_t errlen)
{
	const char *node = getenv("NODE_NAME");
	if (node && *node)
		d->hostname = node;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		const struct dcgm_flag *f = &flags[i];
		const char *v = f->env ? getenv(f->env) : NULL;
		if (!v || !*v)
			continue;
		/* A boolean variable set to false means the flag was not given. */
		if (!f->takes_value && !truthy(v))
			continue;
		if (f->apply(d, f->env, v, err, errlen) != 0)
			return -1;
	}
	return 0;
}

int serve_dcgm_take(struct serve_dcgm *d, int argc, char **argv, int *i, char *err, size_t errlen)
{
	const char *a = argv[*i];
	if (strcmp(a, "--hostname") == 0) {
		if (*i + 1 >= argc || !argv[*i + 1][0]) {
			snprintf(err, errlen, "--hostname needs a value");
			return -1;
		}
		d->hostname = argv[++*i];
		return 1;
	}
	for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++) {
		const struct dcgm_flag *f = &flags[k];
		size_t ll = strlen(f->longf);
		const char *val = NULL;
		bool match = (f->shortf && strcmp(a, f->shortf) == 0) || strcmp(a, f->longf) == 0;
		/* --flag=value, as dcgm-exporter's manifests often write it */
		if (!match && strncmp(a, f->longf, ll) == 0 && a[ll] == '=') {
			match = true;
			val = a + ll + 1;
		}
		if (!match)
			continue;
		if (f->takes_value && !val) {
			if (*i + 1 >= argc) {
				snprintf(err, errlen, "%s needs a value", a);
				return -1;
			}
			val = argv[++*i];
		}
		return f->apply(d, f->longf, val, err, errlen) == 0 ? 1 : -1;
	}
	return 0;
}

int serve_dcgm_load(struct serve_dcgm *d, char *err, size_t errlen)
{
	/* A directory that is missing now may appear later (a job prolog creates it): said on
	 * stderr by the mapping, not refused. */
	if (d->hpc_dir) {
		if (hpc_jobs_start(d->hpc_dir) != 0) {
			snprintf(err, errlen, "--hpc-job-mapping-dir: out of memory");
			return -1;
		}
		d->prom.hpc_jobs = true;
	}
	if (d->web_config_path) {
		if (webconfig_load(d->web_config_path, &d->web, err, errlen) != 0)
			return -1;
		d->web_loaded = true;
	}
	if (!d->collectors_path)
		return 0;
	char why[512];
	if (collectors_load(d->collectors_path, &d->collectors, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "--collectors %s", why);
		return -1;
	}
	d->prom.select = &d->collectors;
	size_t served = 0;
	for (size_t i = 0; i < d->collectors.n; i++) {
		const struct collector *c = &d->collectors.v[i];
		if (!c->why) {
			served++;
			continue;
		}
		fprintf(stderr, "gpuscope: %s: %s: %s\n", d->collectors_path, c->name, c->why);
	}
	fprintf(stderr, "gpuscope: %s: serving %zu of its %zu fields\n", d->collectors_path, served,
	        d->collectors.n);
	return 0;
}

void serve_dcgm_free(struct serve_dcgm *d)
{
	webconfig_free(&d->web);
	collectors_free(&d->collectors);
	d->prom.select = NULL;
}
