/* serve.c - `gpuscope serve`: sampler threads + HTTP endpoint until a
 * signal.  Signals are blocked in every thread and taken by sigtimedwait() in
 * main, so no handler runs in the middle of a driver call. */
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "cmd/config_file.h"
#include "cmd/demo_dir.h"
#include "cmd/options.h"
#include "cmd/history.h"
#include "cmd/serve_alerts.h"
#include "cmd/serve_dcgm.h"
#include "cmd/serve_inference.h"
#include "cmd/serve_procs.h"
#include "cmd/serve_servers.h"
#include "cmd/session.h"
#include "export/hpc_jobs.h"
#include "export/prom.h"
#include "http/endpoints.h"
#include "http/server.h"
#include "inference/history.h"
#include "report/live_diagnosis.h"
#include "sample/sources.h"
#include "series/time_text.h"

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
	    "  --idle-interval DUR    period of the fast calls on an idle GPU (utilization 0,\n"
	    "                         no process): utilization is still read every fast\n"
	    "                         period and the first work restores the rest at once;\n"
	    "                         0 turns it off, up to 60s (default 1s)\n"
	    "  --names MODE           metric names: dcgm, native or both (default both)\n"
	    "  --http-threads N       HTTP worker threads, 1-64 (default 2)\n"
	    "  --nvml-lib PATH        NVML library to load (default libnvidia-ml.so.1;\n"
	    "                         also GPUSCOPE_NVML_LIB)\n"
	    "  --demo [SCENARIO]      read the built-in GPU simulator instead of the\n"
	    "                         driver, with a scenario file or the 8-GPU default\n"
	    "%s%s%s%s%s"
	    "  --config FILE          every option above in a YAML file (option: value;\n"
	    "                         flags on the command line override it)\n"
	    "  -h, --help             this help\n"
	    "\n%s"
	    "\n"
	    "Endpoints:\n",
	    serve_history_usage, serve_procs_usage, serve_alerts_usage, serve_inference_usage,
	    serve_servers_usage, serve_dcgm_usage);
	for (size_t i = 0; i < http_endpoint_count; i++)
		fprintf(to, "  %-20s %s\n", http_endpoints[i].path, http_endpoints[i].what);
}

struct serve_argv;
static int serve_run(struct http_config *hcfg, struct sampler_config *scfg,
                     const struct gpu_opts *gopts, struct serve_history *hist,
                     struct serve_procs *procs, const struct serve_dcgm *dcgm,
                     struct serve_alerts *alerts, struct inference_receiver *infer,
                     struct serve_servers *srv, const struct serve_argv *orig);

/* "gpuscope serve: ...", the pointer to --help, exit status 2. */
#define bad_usage(...) cmd_usage_error("serve", __VA_ARGS__)

/* How often the main loop gives the heap's free pages back (one walk of its free lists). */
#define TRIM_EVERY_S 60

/* The command line as given, for SIGHUP to read the config file again. */
struct serve_argv {
	int argc;
	char **argv;
};

/* What SIGHUP can change while the agent runs, from a parse that starts nothing. */
struct serve_dry {
	unsigned names;
	struct analyze_config thresholds;
	struct serve_dcgm dcgm;
	struct serve_alerts alerts; /* its cfg is the reload's to release */
};

static int serve_options(int argc, char **argv, const struct serve_argv *orig,
                         struct serve_dry *dry);
static int serve_configure(int argc, char **argv, const struct serve_argv *orig,
                           struct serve_dry *dry, struct serve_alerts *alerts);

/* --config FILE's options come first, so the command line's override them. */
int cmd_serve(int argc, char **argv)
{
	/* /metrics renders a few MB a tick at 64 GPUs and frees the tick before: from fresh
	 * mmaps (glibc's default above 128 KB) or a trimmed heap, every 4 KB of it was a page
	 * fault, a fifth of a fresh scrape's CPU.  Kept in the heap, the pages stay mapped;
	 * the main loop below gives back what is free once a minute (TRIM_EVERY_S). */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	/* glibc gives each of the agent's 15 or so threads an arena of its own (up to 8 per
	 * core), each keeping what it once held.  Its threads rarely allocate at the same
	 * moment, so one arena (bench/gpu_memory.sh on the 1-GPU simulator: 0.4 MiB less than
	 * two, which were 1.5 MiB less than glibc's default). */
	mallopt(M_ARENA_MAX, 1);
	struct config_args args;
	char err[600];
	if (config_expand_argv(argc, argv, &args, err, sizeof(err)) != 0) {
		fprintf(stderr, "gpuscope serve: %s\n", err);
		return 2;
	}
	struct serve_argv orig = {argc, argv};
	int rc = serve_options((int)args.n, args.v, &orig, NULL);
	config_args_free(&args);
	return rc;
}

/* Parses the options and runs the agent; with dry, fills it and returns 0 instead of
 * running (SIGHUP), and a bad option returns non-zero with its message printed.  The alert
 * rules are held here, on the heap, so every way out frees them: on main's stack their
 * 65 KB stayed resident for the agent's life, long after the agent took its copy. */
static int serve_options(int argc, char **argv, const struct serve_argv *orig,
                         struct serve_dry *dry)
{
	struct serve_alerts alerts;
	if (serve_alerts_init(&alerts) != 0) {
		fprintf(stderr, "gpuscope serve: out of memory\n");
		return 1;
	}
	int rc = serve_configure(argc, argv, orig, dry, &alerts);
	if (dry && rc == 0)
		dry->alerts = alerts; /* moved: the reload releases it */
	else
		serve_alerts_release(&alerts);
	return rc;
}

/* serve_options' work, with the alert flags' home. */
static int serve_configure(int argc, char **argv, const struct serve_argv *orig,
                           struct serve_dry *dry, struct serve_alerts *alerts)
{
	struct gpu_opts gopts = {0};
	const char *listen = NULL;
	double fast_s = 0.1, slow_s = 5.0, costly_s = 60.0, gpm_s = GPM_DEFAULT_INTERVAL_S;
	double idle_s = SAMPLER_IDLE_DEFAULT_S;
	unsigned names = NAMES_BOTH, threads = 2;
	char err[512];
	struct serve_history hist;
	serve_history_init(&hist);
	struct serve_procs procs;
	serve_procs_init(&procs);
	struct serve_dcgm dcgm;
	serve_dcgm_init(&dcgm);
	if (serve_dcgm_env(&dcgm, err, sizeof(err)) != 0)
		return bad_usage("%s", err);
	struct inference_receiver infer;
	inference_receiver_init(&infer);
	struct serve_servers srv;
	serve_servers_init(&srv);

	static const char *const value_options[] = {"--listen",        "--fast-interval",
	                                            "--slow-interval", "--costly-interval",
	                                            "--gpm-interval",  "--idle-interval",
	                                            "--names",         "--hostname",
	                                            "--http-threads",  NULL};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int taken = gpu_opts_take(&gopts, argc, argv, &i, err, sizeof(err));
		if (!taken)
			taken = serve_history_take(&hist, argc, argv, &i, err, sizeof(err));
		if (!taken)
			taken = serve_procs_take(&procs, argc, argv, &i, err, sizeof(err));
		if (!taken)
			taken = serve_dcgm_take(&dcgm, argc, argv, &i, err, sizeof(err));
		if (!taken)
			taken = serve_alerts_take(alerts, argc, argv, &i, err, sizeof(err));
		if (!taken)
			taken = serve_inference_take(&infer, argc, argv, &i, err, sizeof(err));
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
		} else if (strcmp(a, "--idle-interval") == 0 && val) {
			const char *v = argv[++i];
			if (strcmp(v, "0") == 0)
				idle_s = 0;
			else if (parse_duration(v, &idle_s) != 0 || idle_s < 0 || idle_s > 60)
				return bad_usage(
				    "--idle-interval '%s': give 0 (off) to 60s, e.g. 1s", argv[i]);
		} else if (strcmp(a, "--names") == 0 && val) {
			if (prom_parse_names(argv[++i], &names) != 0)
				return bad_usage("--names '%s': use dcgm, native or both", argv[i]);
		} else if (strcmp(a, "--http-threads") == 0 && val) {
			char *end;
			unsigned long n = strtoul(argv[++i], &end, 10);
			if (*end || n < 1 || n > 64)
				return bad_usage("--http-threads '%s': give 1 to 64", argv[i]);
			threads = (unsigned)n;
		} else if (!val && option_is_one_of(a, value_options)) {
			return bad_usage("%s needs a value", a);
		} else {
			return bad_usage("unknown option '%s'", a);
		}
	}
	if (slow_s < fast_s)
		return bad_usage("--slow-interval must be at least --fast-interval");
	if (listen && dcgm.listen && strcmp(listen, dcgm.listen) != 0)
		return bad_usage("--listen %s and --address %s disagree: give one", listen,
		                 dcgm.listen);
	if (!listen)
		listen = dcgm.listen ? dcgm.listen : ":9400";
	/* dcgm-exporter's -c: values at least this fresh, which the fast tier already is
	 * unless it was set slower. */
	if (dcgm.collect_s > 0 && dcgm.collect_s < fast_s)
		fast_s = dcgm.collect_s < 0.01 ? 0.01 : dcgm.collect_s;
	if (serve_dcgm_load(&dcgm, err, sizeof(err)) != 0) {
		fprintf(stderr, "gpuscope serve: %s\n", err);
		serve_dcgm_free(&dcgm);
		return 2;
	}
	if (dry) {
		dry->names = names;
		dry->thresholds = hist.thresholds;
		dry->dcgm = dcgm; /* moved: the caller frees it */
		if (dry->dcgm.prom.select)
			dry->dcgm.prom.select = &dry->dcgm.collectors;
		return 0;
	}

	struct http_config hcfg = {.names = names,
	                           .fresh_s = fast_s,
	                           .threads = threads,
	                           .process_cap = procs.cap,
	                           .dcgm = &dcgm.prom,
	                           .web = dcgm.web_loaded ? &dcgm.web : NULL};
	if (listen_addr_parse(listen, &hcfg.addr, err, sizeof(err)) != 0) {
		serve_dcgm_free(&dcgm);
		return bad_usage("%s", err);
	}
	struct sampler_config scfg = {.fast_s = fast_s,
	                              .slow_s = slow_s,
	                              .costly_s = costly_s,
	                              .gpm_s = gpm_s,
	                              .idle_s = idle_s};

	/* --demo: a temporary history (so verdicts come live) and the simulated host that
	 * says who the scenario's processes are, unless the user named their own. */
	struct demo_dir demo = {0};
	if (gopts.demo) {
		if (demo_dir_create(&demo, err, sizeof(err)) != 0) {
			fprintf(stderr, "gpuscope: %s\n", err);
			serve_dcgm_free(&dcgm);
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
	int rc = serve_run(&hcfg, &scfg, &gopts, &hist, &procs, &dcgm, alerts, &infer, &srv, orig);
	demo_dir_remove(&demo);
	serve_dcgm_free(&dcgm);
	hpc_jobs_stop();
	return rc;
}

/* How the DCGM series and names look, in words: what SIGHUP compares and reports. */
static void describe_exposition(unsigned names, const struct serve_dcgm *d, char *out, size_t len)
{
	unsigned long long sum = 1469598103934665603ULL; /* FNV-1a over the collectors' rows */
	for (size_t i = 0; i < d->collectors.n; i++)
		for (const char *p = d->collectors.v[i].name; *p; p++)
			sum = (sum ^ (unsigned char)*p) * 1099511628211ULL;
	for (size_t i = 0; i < d->collectors.n; i++)
		for (const char *p = d->collectors.v[i].help; *p; p++)
			sum = (sum ^ (unsigned char)*p) * 1099511628211ULL;
	snprintf(out, len,
	         "names %s, host label %s, driver-version label %s, collectors %s (%zu fields, "
	         "%04llx), hpc job mapping %s, DCGM_EXP windows %u/%u ms",
	         names == NAMES_BOTH   ? "both"
	         : names == NAMES_DCGM ? "dcgm"
	                               : "native",
	         d->prom.host_label ? d->prom.host_label : "none",
	         d->prom.driver_version ? "on" : "off",
	         d->collectors_path ? d->collectors_path : "none", d->collectors.n, sum & 0xffff,
	         d->hpc_dir ? d->hpc_dir : "none", d->prom.xid_window_ms, d->prom.clock_window_ms);
}

static bool same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* SIGHUP: reads the config file and the command line again and applies what can change
 * live (thresholds, names and DCGM labels, the collectors file, basic-auth users); says on
 * stderr what changed, or why it kept the old value.  cur is what is in force, updated. */
static void serve_reload(const struct serve_argv *orig, struct http_server *http,
                         struct serve_history *hist, struct serve_alerts *alerts,
                         unsigned *cur_names, char *cur_look, size_t looklen,
                         struct webconfig *cur_web)
{
	struct config_args args;
	char err[600], what[1024];
	fprintf(stderr, "gpuscope: SIGHUP: reading the configuration again\n");
	if (config_expand_argv(orig->argc, orig->argv, &args, err, sizeof(err)) != 0) {
		fprintf(stderr, "gpuscope: SIGHUP: %s; kept the old configuration\n", err);
		return;
	}
	/* ~85 KB (the rules twice over): on the heap, so a SIGHUP leaves no resident pages
	 * on main's stack */
	struct serve_dry *dry = calloc(1, sizeof(*dry));
	if (!dry) {
		fprintf(stderr, "gpuscope: SIGHUP: out of memory; kept the old configuration\n");
		config_args_free(&args);
		return;
	}
	if (serve_options((int)args.n, args.v, NULL, dry) != 0) {
		/* The alert rules file is read apart: a broken one is said (and shown on
		 * /api/v1/alerts) by its own reload, which keeps the rules in use. */
		alert_agent_reload(alerts->agent);
		fprintf(stderr, "gpuscope: SIGHUP: the error above; kept the old configuration\n");
		free(dry);
		config_args_free(&args);
		return;
	}
	/* the rules file, read again; says what it did */
	alert_agent_apply(alerts->agent, &dry->alerts.cfg->rules, dry->alerts.cfg->rules_path);
	serve_alerts_release(&dry->alerts);
	bool changed = false;
	if (analyze_config_diff(&hist->thresholds, &dry->thresholds, what, sizeof(what)) > 0) {
		live_diagnosis_set_config(hist->diagnosis, &dry->thresholds);
		hist->thresholds = dry->thresholds;
		fprintf(stderr, "gpuscope: SIGHUP: thresholds: %s\n", what);
		changed = true;
	}
	describe_exposition(dry->names, &dry->dcgm, what, sizeof(what));
	if (strcmp(what, cur_look) != 0) {
		struct collectors *owned = NULL;
		if (dry->dcgm.prom.select && (owned = malloc(sizeof(*owned)))) {
			*owned = dry->dcgm.collectors; /* moved to the server */
			memset(&dry->dcgm.collectors, 0, sizeof(dry->dcgm.collectors));
			dry->dcgm.prom.select = owned;
		}
		if (dry->dcgm.prom.select && !owned) {
			fprintf(stderr,
			        "gpuscope: SIGHUP: out of memory; kept the old exposition\n");
		} else {
			http_set_exposition(http, dry->names, &dry->dcgm.prom, owned);
			fprintf(stderr, "gpuscope: SIGHUP: exposition: %s (was: %s)\n", what,
			        cur_look);
			snprintf(cur_look, looklen, "%s", what);
			*cur_names = dry->names;
			changed = true;
		}
	}
	const struct webconfig *w = &dry->dcgm.web;
	bool users = w->nusers != cur_web->nusers || w->client_auth != cur_web->client_auth ||
	             memcmp(w->users, cur_web->users, sizeof(w->users)) != 0;
	if (users) {
		if (!dry->dcgm.web_loaded && cur_web->tls)
			fprintf(stderr, "gpuscope: SIGHUP: --web-config-file is gone; kept TLS and "
			                "the old users (turning TLS off needs a restart)\n");
		else if (http_set_auth(http, w)) {
			fprintf(stderr,
			        "gpuscope: SIGHUP: basic auth: %zu user%s, client certificates "
			        "%s\n",
			        w->nusers, w->nusers == 1 ? "" : "s",
			        w->client_auth == CLIENT_AUTH_NONE ? "not asked" : "as configured");
			memcpy(cur_web->users, w->users, sizeof(w->users));
			cur_web->nusers = w->nusers;
			cur_web->client_auth = w->client_auth;
			changed = true;
		} else {
			fprintf(stderr,
			        "gpuscope: SIGHUP: basic auth changed too often; kept the old "
			        "users (restart the agent)\n");
		}
	}
	if (w->tls != cur_web->tls) {
		if (dry->dcgm.web_loaded)
			fprintf(stderr,
			        "gpuscope: SIGHUP: TLS turned %s in the web config; kept it "
			        "%s (that needs a restart)\n",
			        w->tls ? "on" : "off", cur_web->tls ? "on" : "off");
	} else if (w->tls && (!same_text(w->cert_pem, cur_web->cert_pem) ||
	                      !same_text(w->key_pem, cur_web->key_pem))) {
		if (http_set_certificate(http, w, err, sizeof(err)) == 0) {
			fprintf(stderr,
			        "gpuscope: SIGHUP: TLS certificate reloaded from %s; new "
			        "connections get it\n",
			        w->cert_file);
			/* cur_web owns its certificate and key texts (serve_run). */
			free(cur_web->cert_pem);
			free(cur_web->key_pem);
			cur_web->cert_pem = dry->dcgm.web.cert_pem;
			cur_web->key_pem = dry->dcgm.web.key_pem;
			dry->dcgm.web.cert_pem = dry->dcgm.web.key_pem = NULL;
			changed = true;
		} else {
			fprintf(stderr,
			        "gpuscope: SIGHUP: TLS certificate %s: %s; kept the old one\n",
			        w->cert_file, err);
		}
	}
	/* The trust list is the HTTP engine's, set once at start (cur_web->ca_pem: NULL when
	 * none was): a new client CA, or asking for client certificates at all, waits. */
	if (w->tls && cur_web->tls && w->client_auth != CLIENT_AUTH_NONE) {
		if (!cur_web->ca_pem)
			fprintf(stderr, "gpuscope: SIGHUP: the agent started without a client CA; "
			                "asking for client certificates needs a restart (none "
			                "is asked for until then)\n");
		else if (!same_text(w->ca_pem, cur_web->ca_pem))
			fprintf(stderr, "gpuscope: SIGHUP: client_ca_file changed; kept the old "
			                "client CA (a new one needs a restart)\n");
	}
	if (!changed)
		fprintf(stderr, "gpuscope: SIGHUP: nothing else that can change live has changed "
		                "(listen address, intervals and paths need a restart)\n");
	serve_dcgm_free(&dry->dcgm);
	free(dry);
	config_args_free(&args);
}

/* Runs the agent until SIGINT or SIGTERM (SIGHUP reloads): 0, or 1 on a run-time failure
 * (printed). */
static int serve_run(struct http_config *hcfg, struct sampler_config *scfg,
                     const struct gpu_opts *gopts, struct serve_history *hist,
                     struct serve_procs *procs, const struct serve_dcgm *dcgm,
                     struct serve_alerts *alerts, struct inference_receiver *infer,
                     struct serve_servers *srv, const struct serve_argv *orig)
{
	const char *hostname = dcgm->hostname;
	char err[512];
	double fast_s = scfg->fast_s, slow_s = scfg->slow_s;
	unsigned names = hcfg->names;

	/* Block the stop signals before any thread exists; main takes them. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP); /* reloads what can change live (serve_reload) */
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Listen first: the port answers (and a taken one fails) before the GPU library
	 * loads; /metrics has each GPU once it is probed.  The "serving" line below still
	 * comes once the probes are done, as scripts and tests expect of it, and a library
	 * that does not load is still the only line said. */
	struct http_server *http = http_start(NULL, hcfg, err, sizeof(err));
	if (!http) {
		fprintf(stderr, "gpuscope: %s\n", err);
		return 1;
	}
	struct session sess;
	struct sampling run;
	if (serve_procs_start(procs, slow_s) != 0) {
		http_stop(http);
		return 1;
	}
	scfg->attribution = procs->attribution;
	if (sampling_start(&run, &sess, gopts, scfg) != 0) {
		http_stop(http);
		serve_procs_stop(procs, false);
		return 1;
	}
	if (hostname)
		snprintf(run.board.info.hostname, sizeof(run.board.info.hostname), "%s", hostname);
	http_attach(http, &run.board);
	if (sess.count == 0)
		fprintf(stderr, "gpuscope: warning: NVML reports no GPUs; serving empty metrics\n");
	/* Give each GPU's probe and first sweep a moment (GPM needs ~120 ms) before the
	 * rooms below start and the "serving" line is said; a hung probe does not hold us
	 * up.  /metrics answers meanwhile, without the GPUs not yet probed. */
	sampler_wait_probed(run.sampler, 2.0);

	hist->inference_price = srv->cfg.price_per_gpu_hour; /* money per inference too */
	if (serve_history_start(hist, &run.board, gopts->demo) != 0) {
		http_stop(http);
		sampling_stop(&run, &sess);
		serve_procs_stop(procs, run.hung);
		return 1;
	}
	infer->acc = inference_history_acc(hist->infhist); /* NULL: history off */
	if (inference_receiver_start(infer, &run.board) != 0) {
		http_stop(http);
		serve_history_stop(hist);
		sampling_stop(&run, &sess);
		serve_procs_stop(procs, run.hung);
		return 1;
	}
	hist->inference = infer;
	live_diagnosis_set_comms(hist->diagnosis, inference_receiver_comms, infer);
	const struct http_extras *extras = serve_history_extras(hist);
	if (!alerts->off && !(alerts->agent = alert_agent_start(
	                          alerts->cfg, &run.board, hist->diagnosis,
	                          hist->recorder ? hist->resolved : NULL, gopts->demo))) {
		http_stop(http);
		inference_receiver_stop(infer);
		serve_history_stop(hist);
		sampling_stop(&run, &sess);
		serve_procs_stop(procs, run.hung);
		return 1;
	}
	serve_alerts_release(alerts); /* the agent holds its own copy */
	if (serve_servers_start(srv, &run.board, procs->host_root, gopts->demo) != 0) {
		http_stop(http);
		alert_agent_stop(alerts->agent);
		inference_receiver_stop(infer);
		serve_history_stop(hist);
		sampling_stop(&run, &sess);
		serve_procs_stop(procs, run.hung);
		return 1;
	}
	serve_servers_attach_history(srv, hist->recorder);
	http_set_hooks(http, extras, alert_agent_extras(alerts->agent), serve_servers_hooks(srv));
	fprintf(stderr,
	        "gpuscope %s: serving %u GPU%s on port %u (fast %.0f ms, slow %.1f s, names %s); "
	        "driver %s\n",
	        GPUSCOPE_VERSION, sess.count, sess.count == 1 ? "" : "s", http_port(http),
	        fast_s * 1000, slow_s,
	        names == NAMES_BOTH   ? "both"
	        : names == NAMES_DCGM ? "dcgm"
	                              : "native",
	        sess.info.driver_version[0] ? sess.info.driver_version : "unknown");

	/* What SIGHUP compares against: the CA text stays dcgm's; the certificate and key
	 * are copies, replaced when a reload swaps them. */
	unsigned cur_names = hcfg->names;
	char cur_look[1024];
	describe_exposition(cur_names, dcgm, cur_look, sizeof(cur_look));
	struct webconfig cur_web = dcgm->web;
	cur_web.cert_pem = dcgm->web.cert_pem ? strdup(dcgm->web.cert_pem) : NULL;
	cur_web.key_pem = dcgm->web.key_pem ? strdup(dcgm->web.key_pem) : NULL;
	if (cur_web.client_auth == CLIENT_AUTH_NONE)
		cur_web.ca_pem = NULL; /* not given to the HTTP engine (http/server.c) */
	int sig = 0;
	for (;;) {
		/* Between signals, once a minute, the heap's free pages go back to the kernel:
		 * what a diagnosis, a history query or a big scrape held and freed. */
		struct timespec period = {.tv_sec = TRIM_EVERY_S};
		if ((sig = sigtimedwait(&stop, NULL, &period)) < 0) {
			malloc_trim(0);
			continue;
		}
		if (sig != SIGHUP)
			break;
		serve_reload(orig, http, hist, alerts, &cur_names, cur_look, sizeof(cur_look),
		             &cur_web);
	}
	free(cur_web.cert_pem);
	free(cur_web.key_pem);
	fprintf(stderr, "gpuscope: %s, stopping\n", sig == SIGINT ? "interrupted" : "terminated");

	http_stop(http);
	serve_servers_stop(srv);
	alert_agent_stop(alerts->agent);
	inference_receiver_stop(infer);
	serve_history_stop(hist);
	sampling_stop(&run, &sess);
	serve_procs_stop(procs, run.hung);
	return 0;
}
