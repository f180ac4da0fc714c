/* query_servers.h - `gpuscope query --servers`: the inference servers' windows of the
 * history (store/serving.h) as CSV or JSON, one row per server, model and window. */
#ifndef GPUSCOPE_CMD_QUERY_SERVERS_H
#define GPUSCOPE_CMD_QUERY_SERVERS_H

#include <stdbool.h>
#include <stdint.h>

#include "cmd/window_opts.h"

/* Prints the rows of [from, to]; the exit status (0, or 1 with a message on stderr). */
int query_servers_run(struct window_opts *w, int64_t from, int64_t to, bool as_json);

#endif
