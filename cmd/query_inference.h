/* query_inference.h - `gpuscope query --inference`: the history's per-inference aggregates
 * over a window, one row per (GPU, process, range), as CSV or JSON (report/inference.h has
 * the figures; docs/inference.md names them). */
#ifndef GPUSCOPE_CMD_QUERY_INFERENCE_H
#define GPUSCOPE_CMD_QUERY_INFERENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmd/window_opts.h"

/* want: --gpu values (uuid or index in the history's order; none: every GPU).  price: NaN
 * for the model's list price.  Returns the exit status. */
int query_inference_run(struct window_opts *w, int64_t from, int64_t to, const char *const *want,
                        size_t nwant, bool as_json, double price, const char *currency);

#endif
