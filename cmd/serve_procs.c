/* serve_procs.c - `gpuscope serve`'s per-process flags and the attribution's lifetime.
 *
 * The paths exist for an agent in a container: with the host's / mounted at /host,
 * --host-root /host makes every default path (/proc, /etc/passwd, /var/log/pods,
 * /var/log/containers, the kubelet's pod-resources socket) resolve under it; --proc-root and
 * --kubelet-socket override one path each (docs/attribution.md, "Paths").
 */
#include "cmd/serve_procs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/prom_procs.h"
#include "sample/attribution.h"
#include "series/process_table.h"
#include "series/time_text.h"

const char serve_procs_usage[] =
    "  --process-cap N        per-process series per GPU: the N largest by GPU memory,\n"
    "                         the rest summed as process=\"_other\" (1-64, default 10)\n"
    "  --host-root DIR        where the host's / is mounted (agent in a container):\n"
    "                         /proc, /etc/passwd, /var/log/pods, the kubelet socket\n"
    "                         are read under it (default /)\n"
    "  --proc-root DIR        the /proc whose pids NVML reports (default <host-root>/proc)\n"
    "  --kubelet-socket PATH  kubelet pod-resources socket; \"\" for none (default\n"
    "                         <host-root>/var/lib/kubelet/pod-resources/kubelet.sock)\n"
    "  --growth-sample DUR    one GPU-memory sample per process per DUR for its growth\n"
    "                         rate over the last hour (100ms-1h, default 1m)\n"
    "  --no-processes         do not read or attribute GPU processes\n";

void serve_procs_init(struct serve_procs *p)
{
	memset(p, 0, sizeof(*p));
	p->cap = PROM_PROCESS_CAP_DEFAULT;
	p->growth_sample_s = 60;
}

int serve_procs_take(struct serve_procs *p, int argc, char **argv, int *i, char *err, size_t errlen)
{
	const char *a = argv[*i];
	const char *val = *i + 1 < argc ? argv[*i + 1] : NULL;
	if (strcmp(a, "--no-processes") == 0) {
		p->off = true;
		return 1;
	}
	const char **path = strcmp(a, "--host-root") == 0        ? &p->host_root
	                    : strcmp(a, "--proc-root") == 0      ? &p->proc_root
	                    : strcmp(a, "--kubelet-socket") == 0 ? &p->kubelet_socket
	                                                         : NULL;
	bool cap = strcmp(a, "--process-cap") == 0;
	bool growth = strcmp(a, "--growth-sample") == 0;
	if (!path && !cap && !growth)
		return 0;
	/* An empty --kubelet-socket is meaningful (no kubelet); other values must not be. */
	if (!val || (!*val && path != &p->kubelet_socket)) {
		snprintf(err, errlen, "%s needs a value", a);
		return -1;
	}
	++*i;
	if (path) {
		*path = val;
		return 1;
	}
	if (growth) {
		if (parse_duration(val, &p->growth_sample_s) != 0 || p->growth_sample_s < 0.1 ||
		    p->growth_sample_s > 3600) {
			snprintf(err, errlen, "--growth-sample '%s': give 100ms to 1h, e.g. 1m",
			         val);
			return -1;
		}
		return 1;
	}
	char *end;
	unsigned long n = strtoul(val, &end, 10);
	if (*end || n < 1 || n > PROM_PROCESS_CAP_MAX) {
		snprintf(err, errlen, "--process-cap '%s': give 1 to %d", val,
		         PROM_PROCESS_CAP_MAX);
		return -1;
	}
	p->cap = (unsigned)n;
	return 1;
}

int serve_procs_start(struct serve_procs *p, double slow_s)
{
	if (p->off)
		return 0;
	struct attribution_config cfg = {.host_root = p->host_root,
	                                 .proc_root = p->proc_root,
	                                 .kubelet_socket = p->kubelet_socket,
	                                 .slow_s = slow_s,
	                                 .growth_sample_s = p->growth_sample_s};
	char warning[700];
	p->attribution = attribution_start(&cfg, warning, sizeof(warning));
	if (!p->attribution) {
		fprintf(stderr, "gpuscope: cannot start process attribution (out of memory)\n");
		return -1;
	}
	if (warning[0])
		fprintf(stderr, "gpuscope: warning: %s\n", warning);
	return 0;
}

void serve_procs_stop(struct serve_procs *p, bool sampler_hung)
{
	if (!sampler_hung)
		attribution_stop(p->attribution);
	p->attribution = NULL;
}
