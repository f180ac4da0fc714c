/* window_opts.c - history file and time window options of report and query. */
#include "cmd/window_opts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "report/render.h"
#include "series/time_text.h"
#include "store/recorder.h"

const char window_opts_usage[] =
    "  --history PATH         the history file (default: the first that exists of\n"
    "                         /var/lib/gpuscope/history.db, $XDG_STATE_HOME or\n"
    "                         ~/.local/state/gpuscope/history.db)\n"
    "  --since DUR            the window: the last DUR (s, m, h, d; e.g. 30m, 7d)\n"
    "  --from TIME, --to TIME the window's ends: RFC 3339 (2026-11-21T09:00:00Z) or\n"
    "                         Unix seconds; --to defaults to now\n";

void window_opts_init(struct window_opts *w, double default_since)
{
	memset(w, 0, sizeof(*w));
	w->ask.since = default_since;
}

int window_opts_take(struct window_opts *w, int argc, char **argv, int *i, char *err, size_t errlen)
{
	const char *a = argv[*i];
	bool history = strcmp(a, "--history") == 0, since = strcmp(a, "--since") == 0;
	bool from = strcmp(a, "--from") == 0, to = strcmp(a, "--to") == 0;
	if (!history && !since && !from && !to)
		return 0;
	if (*i + 1 >= argc || !argv[*i + 1][0]) {
		snprintf(err, errlen, "%s needs a value", a);
		return -1;
	}
	const char *val = argv[++*i];
	long long t;
	if (history) {
		w->history = val;
	} else if (since) {
		if (parse_span(val, &w->ask.since) != 0 || w->ask.since < 1) {
			snprintf(err, errlen,
			         "--since '%s': give a number and a unit (s, m, h, d, w) from 1s "
			         "to 100 years, e.g. 24h",
			         val);
			return -1;
		}
		w->ask.since_given = true;
	} else if (parse_timestamp(val, &t) != 0) {
		snprintf(err, errlen,
		         "%s '%s': give RFC 3339 (2026-11-21T09:00:00Z) or Unix seconds", a, val);
		return -1;
	} else if (from) {
		w->ask.has_from = true;
		w->ask.from = t;
	} else {
		w->ask.has_to = true;
		w->ask.to = t;
	}
	return 1;
}

struct store *window_opts_open(struct window_opts *w, const char *cmd)
{
	if (w->history)
		snprintf(w->path, sizeof(w->path), "%s", w->history);
	else if (!recorder_default_path(true, w->path, sizeof(w->path))) {
		fprintf(stderr, "gpuscope %s: no history file found; give --history PATH\n", cmd);
		return NULL;
	}
	if (access(w->path, F_OK) != 0) {
		fprintf(stderr,
		        "gpuscope %s: no history at %s: %s; `gpuscope serve` writes it (give "
		        "--history PATH for another file, or try --demo)\n",
		        cmd, w->path, strerror(errno));
		return NULL;
	}
	if (access(w->path, R_OK) != 0) {
		fprintf(stderr, "gpuscope %s: cannot read %s: %s (run as its owner, or as root)\n",
		        cmd, w->path, strerror(errno));
		return NULL;
	}
	struct store_options o;
	store_options_default(&o);
	o.read_only = true;
	struct store *s;
	char err[1024];
	if (store_open(w->path, &o, &s, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "gpuscope %s: %s\n", cmd, err);
		return NULL;
	}
	return s;
}

int window_opts_load(struct window_opts *w, int64_t from, int64_t to, struct report_data *out,
                     const char *cmd)
{
	struct store *s = window_opts_open(w, cmd);
	if (!s)
		return -1;
	char err[1024];
	bool empty = false;
	int rc = report_load_store(s, w->path, from, to, out, &empty, err, sizeof(err));
	if (rc == 0 &&
	    (rc = report_inference_load(s, from, to, &out->inference, err, sizeof(err))) != 0)
		report_data_free(out);
	store_close(s);
	if (rc == 0)
		return 0;
	if (empty) {
		char a[64], b[64];
		report_time(from, a, sizeof(a));
		report_time(to, b, sizeof(b));
		fprintf(stderr,
		        "gpuscope %s: %s holds no GPU data from %s to %s; widen the window "
		        "(--since 7d) or check the agent runs with history on\n",
		        cmd, w->path, a, b);
	} else {
		fprintf(stderr, "gpuscope %s: %s\n", cmd, err);
	}
	return -1;
}
