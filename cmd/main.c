/* main.c - gpuscope's entry: pick the subcommand. */
#include <stdio.h>
#include <string.h>

#include "cmd/commands.h"

static void usage(FILE *to)
{
	fprintf(to,
	        "gpuscope %s - are we using our GPUs efficiently, and if not, why not?\n"
	        "\n"
	        "Usage: gpuscope COMMAND [OPTIONS]\n"
	        "\n"
	        "Commands:\n"
	        "  serve     sample every NVIDIA GPU and serve Prometheus metrics (:9400)\n"
	        "  top       live view of the GPUs, their processes and verdicts in the\n"
	        "            terminal (local GPUs, --url of an agent, or --demo)\n"
	        "  doctor    print each GPU's identity, versions and supported metrics\n"
	        "  report    diagnose every GPU over a window of history (text, JSON,\n"
	        "            Markdown, HTML); --demo reports on simulated GPUs at once\n"
	        "  query     print history series as CSV or JSON\n"
	        "  export    Prometheus alert rules (rules) or a Grafana dashboard (grafana)\n"
	        "  run       run a CUDA program and summarise each inference (-- CMD ARGS)\n"
	        "  version   print the version\n"
	        "  help      print this help\n"
	        "\n"
	        "Every command that reads GPUs takes --demo [SCENARIO] to use the built-in\n"
	        "GPU simulator instead of the NVIDIA driver, and --nvml-lib PATH.\n"
	        "Run 'gpuscope COMMAND --help' for a command's options.\n",
	        GPUSCOPE_VERSION);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(cmd, "top") == 0)
		return cmd_top(argc - 1, argv + 1);
	if (strcmp(cmd, "doctor") == 0)
		return cmd_doctor(argc - 1, argv + 1);
	if (strcmp(cmd, "report") == 0)
		return cmd_report(argc - 1, argv + 1);
	if (strcmp(cmd, "query") == 0)
		return cmd_query(argc - 1, argv + 1);
	if (strcmp(cmd, "export") == 0)
		return cmd_export(argc - 1, argv + 1);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("gpuscope %s\n", GPUSCOPE_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "gpuscope: unknown command '%s'\n\n", cmd);
	usage(stderr);
	return 2;
}
