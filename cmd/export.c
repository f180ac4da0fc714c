/* export.c - `gpuscope export rules|grafana`: what a fleet loads into
 * Prometheus and Grafana, generated from the agent's own tables (the alert
 * rules, the metric table), so the files never drift from the agent.
 * deploy/ holds the generated files; a test regenerates and diffs them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/export_rules.h"
#include "alert/rules_yaml.h"
#include "cmd/commands.h"
#include "cmd/options.h"
#include "export/grafana.h"

static void export_usage(FILE *to)
{
	fprintf(to, "Usage: gpuscope export rules [--names native|dcgm|both] [--alert-rules FILE]\n"
	            "                             [--output FILE]\n"
	            "       gpuscope export grafana [--output FILE]\n"
	            "\n"
	            "rules    Prometheus recording and alerting rules that say what the agent's\n"
	            "         alert rules say (built-in, or changed by --alert-rules), for\n"
	            "         gpuscope's names, dcgm-exporter's, or both (default)\n"
	            "grafana  a Grafana dashboard (JSON) of gpuscope's metrics\n"
	            "\n"
	            "Writes to standard output unless --output is given.\n");
}

#define bad_usage(...) cmd_usage_error("export", __VA_ARGS__)

int cmd_export(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		export_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *what = argv[1], *output = NULL;
	bool rules = strcmp(what, "rules") == 0, grafana = strcmp(what, "grafana") == 0;
	if (!rules && !grafana)
		return bad_usage("unknown export '%s': rules or grafana", what);
	unsigned names = ALERT_EXPORT_NATIVE | ALERT_EXPORT_DCGM;
	struct alert_rules rs; /* ~70 KB: fine on main's stack */
	alert_rules_builtin(&rs);
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			export_usage(stdout);
			return 0;
		}
		if (!val)
			return bad_usage("%s needs a value", a);
		i++;
		if (strcmp(a, "--output") == 0) {
			output = val;
		} else if (rules && strcmp(a, "--names") == 0) {
			names = strcmp(val, "native") == 0 ? ALERT_EXPORT_NATIVE
			        : strcmp(val, "dcgm") == 0 ? ALERT_EXPORT_DCGM
			        : strcmp(val, "both") == 0 ? ALERT_EXPORT_NATIVE | ALERT_EXPORT_DCGM
			                                   : 0;
			if (!names)
				return bad_usage("--names '%s': use native, dcgm or both", val);
		} else if (rules && strcmp(a, "--alert-rules") == 0) {
			char err[800];
			if (alert_rules_load(val, &rs, err, sizeof(err)) != 0)
				return bad_usage("--alert-rules %s", err);
		} else {
			return bad_usage("unknown option '%s'", a);
		}
	}
	char *text = rules ? alert_export_rules(&rs, names) : grafana_dashboard_json();
	if (!text) {
		fprintf(stderr, "gpuscope export: out of memory\n");
		return 1;
	}
	FILE *f = output ? fopen(output, "w") : stdout;
	if (!f) {
		perror(output);
		free(text);
		return 1;
	}
	bool ok = fputs(text, f) >= 0;
	ok = (output ? fclose(f) : fflush(f)) == 0 && ok;
	free(text);
	if (!ok) {
		fprintf(stderr, "gpuscope export: cannot write %s\n", output ? output : "stdout");
		return 1;
	}
	return 0;
}
