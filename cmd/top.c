/* top.c - `gpuscope top`: a live terminal view of one node's GPUs.
 *
 * Two sources feed the same screen (tui/): a remote agent's JSON API (--url), or the local
 * GPUs read by the agent's own parts started in this process: the sampler and board
 * (session.h), the process attribution (serve_procs.h) and a temporary history with the
 * live diagnosis (history.h).  The local source renders the same JSON documents the agent
 * serves and hands them to the same parser, so `top` and the API cannot disagree.
 * While the screen is up, stderr goes to a file in the temporary directory and is
 * replayed after the screen closes, so no message tears the screen.
 */
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "cmd/demo_dir.h"
#include "cmd/history.h"
#include "cmd/options.h"
#include "cmd/serve_procs.h"
#include "cmd/session.h"
#include "export/json.h"
#include "export/proc_json.h"
#include "sample/sources.h"
#include "series/time_text.h"
#include "tui/remote.h"
#include "tui/screen.h"

static void top_usage(FILE *to)
{
	fprintf(to,
	        "Usage: gpuscope top [OPTIONS]\n"
	        "\n"
	        "A live view of this node's GPUs in the terminal: per GPU utilization, SM,\n"
	        "tensor and DRAM activity, memory, power against its limit, temperature\n"
	        "against the slowdown threshold, clocks, throttle reasons, Xid and ECC, and\n"
	        "the live verdict; history as sparklines; processes with their container or\n"
	        "pod, GPU memory, SM and CPU use.  Keys: ? help, q quit.\n"
	        "\n"
	        "Options:\n"
	        "  --url URL          read a running agent (http://node:9400) instead of\n"
	        "                     the local GPUs\n"
	        "  --interval DUR     refresh period, 100ms-10s (default 1s)\n"
	        "  --once             print one plain-text frame and exit (scripts, bug reports)\n"
	        "  --size COLSxROWS   size of the --once frame (default: 120 columns, as\n"
	        "                     many rows as the GPUs and processes need)\n"
	        "  --nvml-lib PATH    NVML library to load (default libnvidia-ml.so.1)\n"
	        "  --demo [SCENARIO]  read the built-in GPU simulator instead of the driver\n"
	        "  -h, --help         this help\n"
	        "\n"
	        "Reading local GPUs, top keeps a temporary history (removed at exit) for its\n"
	        "live verdicts, which come after the first minute.  Colours follow the\n"
	        "terminal; NO_COLOR turns them off.\n");
}

#define bad_usage(...) cmd_usage_error("top", __VA_ARGS__)

/* The local GPUs, read by the agent's own parts. */
struct top_local {
	struct session sess;
	struct sampling run;
	struct serve_history hist;
	struct serve_procs procs;
	struct demo_dir dir;
	bool sampling, history;
};

static int local_fetch(void *ctx, struct top_model *m)
{
	struct top_local *l = ctx;
	struct board_snapshot snap;
	char err[256] = "";
	if (board_snapshot(&l->run.board, &snap) != 0) {
		snprintf(m->error, sizeof(m->error), "out of memory");
		return -1;
	}
	char *gpus = json_gpus(&snap), *procs = proc_json_processes(&snap);
	board_snapshot_free(&snap);
	int rc = -1;
	if (gpus && top_model_parse_gpus(m, gpus, strlen(gpus), err, sizeof(err)) == 0) {
		if (procs)
			top_model_parse_processes(m, procs, strlen(procs), err, sizeof(err));
		unsigned status = 0;
		const struct http_extras *x = serve_history_extras(&l->hist);
		char *diag = x->diagnosis(x->ctx, &status);
		if (diag)
			top_model_parse_diagnosis(m, diag, strlen(diag), err, sizeof(err));
		free(diag);
		m->error[0] = 0;
		m->updated = wall_now();
		rc = 0;
	} else {
		snprintf(m->error, sizeof(m->error), "%s", err[0] ? err : "out of memory");
	}
	free(gpus);
	free(procs);
	return rc;
}

static void local_stop(struct top_local *l)
{
	if (l->history)
		serve_history_stop(&l->hist);
	if (l->sampling)
		sampling_stop(&l->run, &l->sess);
	serve_procs_stop(&l->procs, l->run.hung);
	demo_dir_remove(&l->dir);
}

/* Starts sampling as `serve` does, with the sampler's fast tier at the refresh period
 * (at most 100 ms... 1 s): top draws one point per refresh, so sampling faster than it
 * draws would only burn CPU.  Returns 0, or -1 with the reason printed. */
static int local_start(struct top_local *l, const struct gpu_opts *g, double interval_s)
{
	char err[512];
	serve_history_init(&l->hist);
	serve_procs_init(&l->procs);
	if (demo_dir_create(&l->dir, err, sizeof(err)) != 0) {
		fprintf(stderr, "gpuscope top: %s\n", err);
		return -1;
	}
	l->hist.path = l->dir.history;
	if (g->demo) {
		l->procs.host_root = l->dir.host;
		l->procs.kubelet_socket = "";
	} else {
		unsetenv("GPUSCOPE_SIM_HOST_ROOT");
	}
	double fast_s = interval_s < 1.0 ? interval_s : 1.0;
	struct sampler_config cfg = {
	    .fast_s = fast_s, .slow_s = 5.0, .costly_s = 60.0, .gpm_s = GPM_DEFAULT_INTERVAL_S};
	if (serve_procs_start(&l->procs, cfg.slow_s) != 0)
		goto err;
	cfg.attribution = l->procs.attribution;
	if (sampling_start(&l->run, &l->sess, g, &cfg) != 0)
		goto err;
	l->sampling = true;
	sampler_wait_probed(l->run.sampler, 2.0);
	if (serve_history_start(&l->hist, &l->run.board, g->demo) != 0)
		goto err;
	l->history = true;
	return 0;
err:
	local_stop(l);
	return -1;
}

static int remote_fetch(void *ctx, struct top_model *m)
{
	return top_remote_fetch(ctx, m);
}

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

/* Parses "120x40"; 0 or -1. */
static int parse_size(const char *s, int *cols, int *rows)
{
	char *end;
	long c = strtol(s, &end, 10);
	if (*end != 'x' || c < 20 || c > TOP_MAX_COLS)
		return -1;
	long r = strtol(end + 1, &end, 10);
	if (*end || r < 5 || r > TOP_MAX_ROWS)
		return -1;
	*cols = (int)c;
	*rows = (int)r;
	return 0;
}

/* Sends stderr to path until restored; returns the saved descriptor or -1. */
static int stderr_to_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	if (saved < 0 || dup2(fd, STDERR_FILENO) < 0) {
		if (saved >= 0)
			close(saved);
		close(fd);
		return -1;
	}
	close(fd);
	return saved;
}

static void stderr_restore(int saved, const char *path)
{
	if (saved < 0)
		return;
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char line[1024];
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fclose(f);
}

static int top_run(const char *url, const struct gpu_opts *g, double interval_s, bool once,
                   int cols, int rows);

int cmd_top(int argc, char **argv)
{
	struct gpu_opts g = {0};
	const char *url = NULL;
	double interval_s = 1.0;
	bool once = false;
	int cols = 0, rows = 0;
	char err[512];
	/* Only the character type: numbers in the JSON documents stay in the C locale. */
	setlocale(LC_CTYPE, "");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int taken = gpu_opts_take(&g, argc, argv, &i, err, sizeof(err));
		if (taken < 0)
			return bad_usage("%s", err);
		if (taken)
			continue;
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			top_usage(stdout);
			return 0;
		} else if (strcmp(a, "--once") == 0) {
			once = true;
		} else if (strcmp(a, "--url") == 0 && val) {
			url = argv[++i];
		} else if (strcmp(a, "--interval") == 0 && val) {
			if (parse_duration(argv[++i], &interval_s) != 0 || interval_s < 0.1 ||
			    interval_s > 10)
				return bad_usage("--interval '%s': give 100ms to 10s, e.g. 1s",
				                 argv[i]);
		} else if (strcmp(a, "--size") == 0 && val) {
			if (parse_size(argv[++i], &cols, &rows) != 0)
				return bad_usage("--size '%s': give COLSxROWS, e.g. 120x40 (20-%d "
				                 "columns, 5-%d rows)",
				                 argv[i], TOP_MAX_COLS, TOP_MAX_ROWS);
		} else if (strncmp(a, "--", 2) == 0 && !val &&
		           (strcmp(a, "--url") == 0 || strcmp(a, "--interval") == 0 ||
		            strcmp(a, "--size") == 0)) {
			return bad_usage("%s needs a value", a);
		} else {
			return bad_usage("unknown option '%s'", a);
		}
	}
	if (url && (g.demo || g.nvml_lib))
		return bad_usage("--url reads a remote agent: it takes no --demo or --nvml-lib");
	if (!once && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)))
		return bad_usage("the live view needs a terminal; use --once for one frame");
	return top_run(url, &g, interval_s, once, cols, rows);
}

static int top_run(const char *url, const struct gpu_opts *g, double interval_s, bool once,
                   int cols, int rows)
{
	char err[512];
	struct top_model *m = malloc(sizeof(*m));
	if (!m) {
		fprintf(stderr, "gpuscope top: out of memory\n");
		return 1;
	}
	top_model_init(m);
	struct top_source src = {.stop = &stop_signal};
	struct top_remote *remote = NULL;
	struct top_local *local = NULL;
	int rc = 1;

	/* Signals end the loop in the main thread; sampler threads never take them. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	struct sigaction sa = {.sa_handler = on_stop};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (url) {
		remote = top_remote_new(url, interval_s < 2 ? 2 : interval_s, err, sizeof(err));
		if (!remote) {
			pthread_sigmask(SIG_UNBLOCK, &stop, NULL);
			free(m);
			return bad_usage("%s", err);
		}
		src.fetch = remote_fetch;
		src.ctx = remote;
		src.name = url;
	} else {
		local = calloc(1, sizeof(*local));
		if (!local || local_start(local, g, interval_s) != 0) {
			free(local);
			local = NULL;
			goto out;
		}
		src.fetch = local_fetch;
		src.ctx = local;
		src.name = g->demo ? "demo" : "local";
	}
	pthread_sigmask(SIG_UNBLOCK, &stop, NULL);

	if (once) {
		if (local)
			usleep((useconds_t)(interval_s * 1e6)); /* one sweep to draw */
		rc = top_print_once(&src, m, interval_s, cols, rows, stdout);
	} else {
		char log[700];
		snprintf(log, sizeof(log), "%s/stderr.log", local ? local->dir.path : "/tmp");
		int saved = local ? stderr_to_file(log) : -1;
		rc = top_screen_run(&src, m, interval_s);
		stderr_restore(saved, log);
	}
out:
	if (local) {
		local_stop(local);
		free(local);
	}
	top_remote_free(remote);
	free(m);
	return rc;
}
