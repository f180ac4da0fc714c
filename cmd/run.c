/* run.c - `gpuscope run [OPTIONS] -- CMD ARGS...`: per-inference telemetry of any CUDA program.
 *
 * Starts CMD with libgpuscope-inject.so named in CUDA_INJECTION64_PATH (the driver loads it at
 * cuInit) and NVTX_INJECTION64_PATH (it forwards NVTX to libcupti), waits for it, then folds
 * the JSON lines every process of the command wrote (one file per pid in a private temporary
 * directory) into the summary (inference/run_summary.c).  The command's stdin, stdout and
 * exit status are its own; gpuscope writes to stderr only.
 */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "inference/run_energy.h"
#include "inference/run_summary.h"
#include "inference/socket.h"
#include "series/time_text.h"

#ifndef GPUSCOPE_INJECT_LIB_NAME
#define GPUSCOPE_INJECT_LIB_NAME "libgpuscope-inject.so"
#endif
#define GPUSCOPE_NCCL_LIB_NAME "libgpuscope-nccl.so"

static void run_usage(FILE *to)
{
	fprintf(to,
	        "Usage: gpuscope run [OPTIONS] -- CMD [ARGS...]\n"
	        "\n"
	        "Runs CMD with gpuscope's CUPTI injection library and prints, at exit, each\n"
	        "inference's latency, GPU busy time, kernels, launch gaps, copies, memory and\n"
	        "energy as p50/p95/p99/mean per NVTX range name, with verdicts (launch-bound,\n"
	        "PCIe-bound, host-bound between inferences, memory growing).\n"
	        "\n"
	        "Options:\n"
	        "  --range PATTERN     NVTX ranges whose name matches this glob are inferences\n"
	        "                      (default '*': any outermost range)\n"
	        "  --gap DUR           without ranges: GPU busy periods separated by more than\n"
	        "                      DUR idle are inferences (default 2ms)\n"
	        "  --output FILE       also write one JSON line per inference to FILE\n"
	        "  --cupti PATH        libcupti to use (default: the program's pip package,\n"
	        "                      the loader's path, /usr/local/cuda*/extras/CUPTI/lib64)\n"
	        "  --agent-socket PATH the agent's inference socket (default: the first that\n"
	        "                      exists of $XDG_RUNTIME_DIR/gpuscope-inference.sock,\n"
	        "                      /run/gpuscope/inference.sock and\n"
	        "                      /tmp/gpuscope-UID-inference.sock; 'none' sends nothing)\n"
	        "  --nvml-lib PATH     NVML library for energy and SM clock (default\n"
	        "                      libnvidia-ml.so.1; also GPUSCOPE_NVML_LIB)\n"
	        "  --no-energy         do not read power and clocks through NVML\n"
	        "  --no-nccl           do not set NCCL_PROFILER_PLUGIN (NCCL collectives are\n"
	        "                      measured by libgpuscope-nccl.so unless it is already set)\n"
	        "  --threshold NAME=V  a diagnosis threshold, e.g. comm_share_max=0.2 for\n"
	        "                      communication_bound (docs/diagnosis.md)\n"
	        "  --quiet             no summary (with --output)\n"
	        "\n"
	        "The program is never changed: when CUPTI is missing or another profiler holds\n"
	        "it, CMD runs as usual and the summary says why nothing was measured.\n");
}

/* An injected library sits beside the binary (build tree) or in ../lib/gpuscope; `env`
 * names it instead. */
static int find_lib(const char *env_name, const char *name, char *out, size_t len)
{
	const char *env = getenv(env_name);
	if (env && env[0]) {
		snprintf(out, len, "%s", env);
		return access(out, R_OK);
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = 0;
	const char *dir = dirname(exe);
	const char *candidates[] = {"/", "/../lib/gpuscope/"};
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		snprintf(out, len, "%s%s%s", dir, candidates[i], name);
		if (access(out, R_OK) == 0)
			return 0;
	}
	return -1;
}

/* communication_bound over each process's whole run (the engine's text, as `report` has it). */
static void print_comm_verdicts(const struct run_nccl *n, const struct analyze_config *cfg,
                                FILE *to)
{
	struct analyze_comm_series cs[RUN_NCCL_PROCS];
	struct analyze_input in = {.comms = cs, .ncomms = run_nccl_comms(n, cs, RUN_NCCL_PROCS)};
	struct analyze_result *r = NULL;
	if (!in.ncomms || analyze_run(&in, cfg, &r) != 0)
		return;
	for (size_t i = 0; i < r->nverdicts; i++) {
		const struct analyze_verdict *v = &r->verdicts[i];
		fprintf(to, "  verdict %s (%s): %s\n    %s\n    fix: %s\n", v->id,
		        analyze_severity_name(v->severity), v->title, v->evidence_text, v->fix);
	}
	for (size_t i = 0; i < r->nnot_judged; i++)
		fprintf(to, "  %s not judged for pid %u: %s\n", r->not_judged[i].id,
		        r->not_judged[i].about.pid, r->not_judged[i].reason);
	analyze_result_free(r);
}

static pid_t g_child;

static void forward_signal(int sig)
{
	if (g_child > 0)
		kill(g_child, sig);
}

/* Energy and SM cycles onto one inference line; returns the line to use (malloc'd). */
static char *annotate(const struct run_energy *energy, const char *line, size_t len)
{
	json_error_t err;
	json_t *o = energy ? json_loadb(line, len, 0, &err) : NULL;
	const char *type = json_string_value(json_object_get(o, "type"));
	char *out = NULL;
	if (type && !strcmp(type, "inference")) {
		run_energy_annotate(energy, o);
		char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (s && asprintf(&out, "%s\n", s) < 0)
			out = NULL;
		free(s);
	}
	json_decref(o);
	return out ? out : strndup(line, len);
}

/* Reads every inject-*.jsonl under dir into the summary (and inference lines into out). */
static void collect(const char *dir, struct run_summary *sum, FILE *out,
                    const struct run_energy *energy)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "inject-", 7) != 0 && strncmp(e->d_name, "nccl-", 5) != 0)
			continue;
		char path[PATH_MAX + 256];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		while ((n = getline(&line, &cap, f)) > 0) {
			char *l = annotate(energy, line, (size_t)n);
			if (!l)
				continue;
			if (run_summary_add_line(sum, l, strlen(l)) == 1 && out)
				fputs(l, out);
			free(l);
		}
		free(line);
		fclose(f);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static int child_exec(char **cmd, const char *lib, const char *nccl, const char *dir,
                      const char *range, double gap_s, const char *cupti, const char *sock)
{
	if (nccl)
		setenv("NCCL_PROFILER_PLUGIN", nccl, 1);
	char gap[32];
	snprintf(gap, sizeof(gap), "%llu", (unsigned long long)(gap_s * 1e9));
	setenv("CUDA_INJECTION64_PATH", lib, 1);
	setenv("NVTX_INJECTION64_PATH", lib, 1);
	setenv("GPUSCOPE_INJECT_DIR", dir, 1);
	setenv("GPUSCOPE_RANGE", range, 1);
	setenv("GPUSCOPE_GAP_NS", gap, 1);
	if (cupti)
		setenv("GPUSCOPE_CUPTI", cupti, 1);
	if (sock)
		setenv("GPUSCOPE_AGENT_SOCKET", sock, 1);
	else
		unsetenv("GPUSCOPE_AGENT_SOCKET");
	execvp(cmd[0], cmd);
	fprintf(stderr, "gpuscope run: cannot run %s: %s\n", cmd[0], strerror(errno));
	return 127;
}

int cmd_run(int argc, char **argv)
{
	const char *range = "*", *output = NULL, *cupti = NULL, *sock_opt = NULL, *nvml = NULL;
	bool energy_on = true, nccl_on = true;
	struct analyze_config thresholds;
	analyze_config_default(&thresholds);
	double gap_s = 0.002;
	bool quiet = false;
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		bool has = i + 1 < argc;
		if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			run_usage(stdout);
			return 0;
		} else if (!strcmp(a, "--range") && has) {
			range = argv[++i];
		} else if (!strcmp(a, "--gap") && has) {
			if (parse_duration(argv[++i], &gap_s) != 0 || gap_s <= 0) {
				fprintf(stderr,
				        "gpuscope run: --gap needs a duration like 2ms, not '%s'\n",
				        argv[i]);
				return 2;
			}
		} else if (!strcmp(a, "--output") && has) {
			output = argv[++i];
		} else if (!strcmp(a, "--cupti") && has) {
			cupti = argv[++i];
		} else if (!strcmp(a, "--agent-socket") && has) {
			sock_opt = argv[++i];
		} else if (!strcmp(a, "--nvml-lib") && has) {
			nvml = argv[++i];
		} else if (!strcmp(a, "--no-energy")) {
			energy_on = false;
		} else if (!strcmp(a, "--no-nccl")) {
			nccl_on = false;
		} else if (!strcmp(a, "--threshold") && has) {
			char err[256];
			if (analyze_config_set(&thresholds, argv[++i], err, sizeof(err)) != 0) {
				fprintf(stderr, "gpuscope run: --threshold: %s\n", err);
				return 2;
			}
		} else if (!strcmp(a, "--quiet")) {
			quiet = true;
		} else if (a[0] == '-') {
			fprintf(stderr, "gpuscope run: unknown option or missing value '%s'\n", a);
			run_usage(stderr);
			return 2;
		} else {
			break;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "gpuscope run: no command to run\n");
		run_usage(stderr);
		return 2;
	}
	if (cupti && access(cupti, R_OK) != 0) {
		fprintf(stderr, "gpuscope run: --cupti %s: %s\n", cupti, strerror(errno));
		return 2;
	}
	char lib[PATH_MAX];
	if (find_lib("GPUSCOPE_INJECT_LIB", GPUSCOPE_INJECT_LIB_NAME, lib, sizeof(lib)) != 0) {
		fprintf(stderr,
		        "gpuscope run: cannot find %s beside the gpuscope binary or in "
		        "../lib/gpuscope (set GPUSCOPE_INJECT_LIB)\n",
		        GPUSCOPE_INJECT_LIB_NAME);
		return 1;
	}
	/* NCCL loads its profiler plugin from NCCL_PROFILER_PLUGIN; one the user set is theirs. */
	char nccl[PATH_MAX] = "", nccl_note[PATH_MAX + 128] = "";
	const char *user_plugin = getenv("NCCL_PROFILER_PLUGIN");
	if (!nccl_on)
		snprintf(nccl_note, sizeof(nccl_note), "NCCL: not measured (--no-nccl)\n");
	else if (user_plugin && user_plugin[0])
		snprintf(nccl_note, sizeof(nccl_note),
		         "NCCL: not measured (NCCL_PROFILER_PLUGIN is already %s)\n", user_plugin);
	else if (find_lib("GPUSCOPE_NCCL_LIB", GPUSCOPE_NCCL_LIB_NAME, nccl, sizeof(nccl)) != 0) {
		snprintf(nccl_note, sizeof(nccl_note),
		         "NCCL: not measured (no %s beside gpuscope)\n", GPUSCOPE_NCCL_LIB_NAME);
		nccl[0] = '\0';
	}
	char sock[PATH_MAX] = "";
	if (sock_opt && strcmp(sock_opt, "none") != 0)
		snprintf(sock, sizeof(sock), "%s", sock_opt);
	else if (!sock_opt)
		inference_socket_find(sock, sizeof(sock));
	FILE *out = NULL;
	if (output && !(out = fopen(output, "w"))) {
		fprintf(stderr, "gpuscope run: --output %s: %s\n", output, strerror(errno));
		return 2;
	}
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/gpuscope-run-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		fprintf(stderr, "gpuscope run: cannot make a directory in %s: %s\n",
		        tmp ? tmp : "/tmp", strerror(errno));
		if (out)
			fclose(out);
		return 1;
	}
	char energy_why[512] = "--no-energy";
	struct run_energy *energy =
	    energy_on ? run_energy_start(nvml, energy_why, sizeof(energy_why)) : NULL;
	fflush(NULL);
	g_child = fork();
	if (g_child < 0) {
		fprintf(stderr, "gpuscope run: fork: %s\n", strerror(errno));
		run_energy_stop(energy);
		run_energy_free(energy);
		rmdir(dir);
		if (out)
			fclose(out);
		return 1;
	}
	if (g_child == 0)
		_exit(child_exec(argv + i, lib, nccl[0] ? nccl : NULL, dir, range, gap_s, cupti,
		                 sock[0] ? sock : NULL));

	/* Terminal signals reach the whole process group; others are passed on. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	struct sigaction sa = {.sa_handler = forward_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	int status = 0;
	while (waitpid(g_child, &status, 0) < 0 && errno == EINTR)
		;

	run_energy_stop(energy);
	struct run_summary sum;
	run_summary_init(&sum);
	if (!energy)
		run_summary_note(&sum, "energy: not measured (%s)\n", energy_why);
	else
		run_summary_note(&sum, "energy: the whole GPU's, from NVML's 20 ms power samples "
		                       "(the energy counter past 1 s); SM cycles: GPU busy time x "
		                       "SM clock\n");
	if (nccl_note[0])
		run_summary_note(&sum, "%s", nccl_note);
	collect(dir, &sum, out, energy);
	run_energy_free(energy);
	if (out && fclose(out) != 0)
		fprintf(stderr, "gpuscope run: writing %s: %s\n", output, strerror(errno));
	if (!quiet) {
		run_summary_print(&sum, gap_s, stderr);
		run_nccl_print(&sum.nccl, stderr);
		print_comm_verdicts(&sum.nccl, &thresholds, stderr);
	}
	run_summary_free(&sum);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
