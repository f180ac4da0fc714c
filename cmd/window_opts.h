/* window_opts.h - what `gpuscope report` and `gpuscope query` share: the
 * history file (--history, else the default path) and the window options (--since,
 * or --from/--to), parsed here; which window they mean is report/window.h's
 * (report_window_resolve).  The file is opened read-only with one clear message per
 * failure. */
#ifndef GPUSCOPE_WINDOW_OPTS_H
#define GPUSCOPE_WINDOW_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "report/report.h"
#include "store/store.h"

struct window_opts {
	const char *history;          /* --history; NULL: the default path */
	struct report_window_ask ask; /* --since, --from, --to */
	char path[4096];              /* the history file used */
};

/* The --help lines of these options. */
extern const char window_opts_usage[];

void window_opts_init(struct window_opts *w, double default_since);

/* Tries argv[*i]; returns 1 taken, 0 not ours, -1 bad value (err filled). */
int window_opts_take(struct window_opts *w, int argc, char **argv, int *i, char *err,
                     size_t errlen);

/* Opens the history read-only; prints why not ("gpuscope CMD: ...") and
 * returns NULL on failure. */
struct store *window_opts_open(struct window_opts *w, const char *cmd);

/* Opens the history and loads [from, to] for the engine; prints why not
 * and returns -1 on failure (missing file, unreadable, empty window). */
int window_opts_load(struct window_opts *w, int64_t from, int64_t to, struct report_data *out,
                     const char *cmd);

#endif
