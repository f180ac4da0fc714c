/* serve.c - `gpuscope serve`: sampler threads + HTTP endpoint until a
 * signal.  Signals are blocked in every thread and taken by sigwait() in
 * main, so no handler runs in the middle of a driver call. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "cmd/demo_dir.h"
#include "cmd/options.h"
#include "cmd/history.h"
#include "cmd/serve_procs.h"
#include "cmd/serve_servers.h"
#include "cmd/session.h"
#include "export/prom.h"
#include "http/endpoints.h"
#include "http/server.h"
#include "sample/sources.h"

static void serve_usage(FILE *to)
{
	fprintf(
	    to,
	    "Usage: gpuscope serve [OPTIONS]\n"
	    "\n"
	    "Samples every NVIDIA GPU through NVML and serves Prometheus metrics (a\n"
	    "drop-in for dcgm-exporter), JSON and live verdicts over HTTP (endpoints below).\n"
	    "\n"
	    "Options:\n"
	    "  --listen ADDR          address to serve on: PORT, :PORT, HOST:PORT or\n"
	    "                         [IPv6]:PORT (default :9400; port 0 picks a free one)\n"
	    "  --fast-interval DUR    fast tier period, 10ms-60s (default 100ms)\n"
	    "  --slow-interval DUR    slow tier period (power limit, ECC errors, PCIe gen,\n"
	    "                         processes), at least the fast period, up to 10m\n"
	    "                         (default 5s)\n"
	    "  --costly-interval DUR  period of the calls that burn milliseconds of CPU\n"
	    "                         (energy counter, PCIe replays and width, GPM graphics\n"
	    "                         engine, NVLink),\n"
	    "                         1s-1h (default 60s)\n"
	    "  --gpm-interval DUR     GPM sample period (SM, tensor, DRAM activity), 110ms-60s,\n"
	    "                         rounded up to whole fast periods (default 1s)\n"
	    "  --names MODE           metric names: dcgm, native or both (default both)\n"
	    "  --hostname NAME        Hostname label of DCGM_FI_* series (default: this host)\n"
	    "  --http-threads N       HTTP worker threads, 1-64 (default 2)\n"
	    "  --nvml-lib PATH        NVML library to load (default libnvidia-ml.so.1;\n"
	    "                         also GPUSCOPE_NVML_LIB)\n"
	    "  --demo [SCENARIO]      read the built-in GPU simulator instead of the\n"
	    "                         driver, with a scenario file or the 8-GPU default\n"
	    "%s%s%s"
	    "  -h, --help             this help\n"
	    "\n"
	    "Endpoints:\n",
	    serve_history_usage, serve_procs_usage, serve_servers_usage);
	for (size_t i = 0; i < http_endpoint_count; i++)
		fprintf(to, "  %-20s %s\n", http_endpoints[i].path, http_endpoints[i].what);
}

static int serve_run(struct http_config *hcfg, struct sampler_config *scfg,
                     const struct gpu_opts *gopts, struct serve_history *hist,
                     struct serve_procs *procs, struct serve_servers *srv, const char *hostname);

/* "gpuscope serve: ...", the pointer to --help, exit status 2. */
#define bad_usage(...) cmd_usage_error("serve", __VA_ARGS__)

int cmd_serve(int argc, char **argv)
{
	struct gpu_opts gopts = {0};
	const char *listen = ":9400", *hostname = NULL;
	double fast_s = 0.1, slow_s = 5.0, costly_s = 60.0, gpm_s = GPM_DEFAULT_INTERVAL_S;
	unsigned names = NAMES_BOTH, threads = 2;
	char err[512];
	struct serve_history hist;
	serve_history_init(&hist);
	struct serve_procs procs;
	serve_procs_init(&procs);
	struct serve_servers srv;
	serve_servers_init(&srv);

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int taken = gpu_opts_take(&gopts, argc, argv, &i, err, sizeof(err));
		if (!taken)
			taken = serve_history_take(&hist, argc, argv, &i, err, sizeof(err));
		if (!taken)
			taken = serve_procs_take(&procs, argc, argv, &i, err, sizeof(err));
		if (!taken)
			taken = serve_servers_take(&srv, argc, argv, &i, err, sizeof(err));
		if (taken < 0)
			return bad_usage("%s", err);
		if (taken)
			continue;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			serve_usage(stdout);
			return 0;
		}
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--listen") == 0 && val) {
			listen = argv[++i];
		} else if (strcmp(a, "--fast-interval") == 0 && val) {
			if (parse_duration(argv[++i], &fast_s) != 0 || fast_s < 0.01 || fast_s > 60)
				return bad_usage(
				    "--fast-interval '%s': give 10ms to 60s, e.g. 100ms", argv[i]);
		} else if (strcmp(a, "--slow-interval") == 0 && val) {
			if (parse_duration(argv[++i], &slow_s) != 0 || slow_s < 0.01 ||
			    slow_s > 600)
				return bad_usage("--slow-interval '%s': give up to 10m, e.g. 5s",
				                 argv[i]);
		} else if (strcmp(a, "--costly-interval") == 0 && val) {
			if (parse_duration(argv[++i], &costly_s) != 0 || costly_s < 1 ||
			    costly_s > 3600)
				return bad_usage("--costly-interval '%s': give 1s to 1h, e.g. 30s",
				                 argv[i]);
		} else if (strcmp(a, "--gpm-interval") == 0 && val) {
			if (parse_duration(argv[++i], &gpm_s) != 0 || gpm_s < GPM_MIN_WINDOW_S ||
			    gpm_s > 60)
				return bad_usage("--gpm-interval '%s': give 110ms to 60s, e.g. 1s",
				                 argv[i]);
		} else if (strcmp(a, "--names") == 0 && val) {
			if (prom_parse_names(argv[++i], &names) != 0)
				return bad_usage("--names '%s': use dcgm, native or both", argv[i]);
		} else if (strcmp(a, "--hostname") == 0 && val) {
			hostname = argv[++i];
		} else if (strcmp(a, "--http-threads") == 0 && val) {
			char *end;
			unsigned long n = strtoul(argv[++i], &end, 10);
			if (*end || n < 1 || n > 64)
				return bad_usage("--http-threads '%s': give 1 to 64", argv[i]);
			threads = (unsigned)n;
		} else if (a[0] == '-' && !val && strncmp(a, "--", 2) == 0 &&
		           strcmp(a, "--demo") != 0) {
			return bad_usage("%s needs a value", a);
		} else {
			return bad_usage("unknown option '%s'", a);
		}
	}
	if (slow_s < fast_s)
		return bad_usage("--slow-interval must be at least --fast-interval");

	struct http_config hcfg = {
	    .names = names, .fresh_s = fast_s, .threads = threads, .process_cap = procs.cap};
	if (listen_addr_parse(listen, &hcfg.addr, err, sizeof(err)) != 0)
		return bad_usage("%s", err);
	struct sampler_config scfg = {
	    .fast_s = fast_s, .slow_s = slow_s, .costly_s = costly_s, .gpm_s = gpm_s};

	/* --demo: a temporary history (so verdicts come live) and the simulated host that
	 * says who the scenario's processes are, unless the user named their own. */
	struct demo_dir demo = {0};
	if (gopts.demo) {
		if (demo_dir_create(&demo, err, sizeof(err)) != 0) {
			fprintf(stderr, "gpuscope: %s\n", err);
			return 1;
		}
		if (!hist.path && !hist.off)
			hist.path = demo.history;
		if (procs.host_root || procs.proc_root) {
			unsetenv("GPUSCOPE_SIM_HOST_ROOT");
		} else {
			procs.host_root = demo.host;
			if (!procs.kubelet_socket)
				procs.kubelet_socket = "";
		}
	}
	int rc = serve_run(&hcfg, &scfg, &gopts, &hist, &procs, &srv, hostname);
	demo_dir_remove(&demo);
	return rc;
}

/* Runs the agent until SIGINT or SIGTERM: 0, or 1 on a run-time failure (printed). */
static int serve_run(struct http_config *hcfg, struct sampler_config *scfg,
                     const struct gpu_opts *gopts, struct serve_history *hist,
                     struct serve_procs *procs, struct serve_servers *srv, const char *hostname)
{
	char err[512];
	double fast_s = scfg->fast_s, slow_s = scfg->slow_s;
	unsigned names = hcfg->names;

	/* Block the stop signals before any thread exists; main takes them. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct session sess;
	struct sampling run;
	if (serve_procs_start(procs, slow_s) != 0)
		return 1;
	scfg->attribution = procs->attribution;
	if (sampling_start(&run, &sess, gopts, scfg) != 0) {
		serve_procs_stop(procs, false);
		return 1;
	}
	if (hostname)
		snprintf(run.board.info.hostname, sizeof(run.board.info.hostname), "%s", hostname);
	if (sess.count == 0)
		fprintf(stderr, "gpuscope: warning: NVML reports no GPUs; serving empty metrics\n");
	/* Give each GPU's probe and first sweep a moment (GPM needs ~120 ms),
	 * so the first scrape is not empty; a hung probe does not hold us up. */
	sampler_wait_probed(run.sampler, 2.0);

	if (serve_history_start(hist, &run.board, gopts->demo) != 0) {
		sampling_stop(&run, &sess);
		serve_procs_stop(procs, run.hung);
		return 1;
	}
	hcfg->extras = serve_history_extras(hist);
	if (serve_servers_start(srv, &run.board, procs->host_root, gopts->demo) != 0) {
		serve_history_stop(hist);
		sampling_stop(&run, &sess);
		serve_procs_stop(procs, run.hung);
		return 1;
	}
	hcfg->servers = serve_servers_hooks(srv);
	struct http_server *http = http_start(&run.board, hcfg, err, sizeof(err));
	if (!http) {
		fprintf(stderr, "gpuscope: %s\n", err);
		serve_servers_stop(srv);
		serve_history_stop(hist);
		sampling_stop(&run, &sess);
		serve_procs_stop(procs, run.hung);
		return 1;
	}
	fprintf(stderr,
	        "gpuscope %s: serving %u GPU%s on port %u (fast %.0f ms, slow %.1f s, names %s); "
	        "driver %s\n",
	        GPUSCOPE_VERSION, sess.count, sess.count == 1 ? "" : "s", http_port(http),
	        fast_s * 1000, slow_s,
	        names == NAMES_BOTH   ? "both"
	        : names == NAMES_DCGM ? "dcgm"
	                              : "native",
	        sess.info.driver_version[0] ? sess.info.driver_version : "unknown");

	int sig = 0;
	sigwait(&stop, &sig);
	fprintf(stderr, "gpuscope: %s, stopping\n", sig == SIGINT ? "interrupted" : "terminated");

	http_stop(http);
	serve_servers_stop(srv);
	serve_history_stop(hist);
	sampling_stop(&run, &sess);
	serve_procs_stop(procs, run.hung);
	return 0;
}
