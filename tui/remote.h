/* remote.h - `gpuscope top --url`: read a running agent's JSON API over HTTP (libcurl).
 *
 * Each refresh GETs /api/v1/gpus, /api/v1/processes and /api/v1/diagnosis with a short
 * timeout and hands them to the model's parsers.  An agent that is slow, gone or answers
 * garbage leaves the last good data on screen and one clear line saying what failed;
 * `top` never hangs on it for longer than the timeout and never crashes on it.
 */
#ifndef GPUSCOPE_TUI_REMOTE_H
#define GPUSCOPE_TUI_REMOTE_H

#include <stddef.h>

#include "tui/model.h"

struct top_remote;

/* url: "http://node:9400" (a trailing slash is fine); timeout_s per request.
 * NULL with a sentence in err when the URL is not http(s) or out of memory. */
struct top_remote *top_remote_new(const char *url, double timeout_s, char *err, size_t errlen);
void top_remote_free(struct top_remote *r);

/* One refresh: 0, or -1 with m->error set (the model keeps its last good data). */
int top_remote_fetch(struct top_remote *r, struct top_model *m);

#endif
