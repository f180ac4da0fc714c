/* history.h - what `gpuscope serve` does with its history: the flags, the
 * recorder thread (store/recorder.h) and the live diagnosis thread, and the
 * HTTP extras that show them (/healthz "history", /api/v1/diagnosis,
 * gpuscope_verdict on /metrics).  Kept out of serve.c so that file only
 * gains a few lines. */
#ifndef GPUSCOPE_CMD_HISTORY_H
#define GPUSCOPE_CMD_HISTORY_H

#include <stdbool.h>
#include <stddef.h>

#include "analyze/analyze.h"
#include "http/server.h"
#include "series/snapshot.h"

struct inference_receiver;
struct inference_history;

struct serve_history {
	const char *path;                  /* --history PATH; NULL: the default */
	bool off;                          /* --no-history */
	long group;                        /* --history-group; -1: none */
	double retention_1s, retention_1m; /* seconds */
	double diagnosis_window;           /* seconds */
	struct analyze_config thresholds;  /* --threshold */
	/* run time */
	struct recorder *recorder;
	struct live_diagnosis *diagnosis;
	struct series_api *series; /* /api/v1/series; NULL when history is off */
	struct http_extras extras;
	char resolved[4096];
	struct inference_receiver *inference; /* its families join /metrics; NULL: none */
	/* per-inference aggregates: history and /api/v1/inference (NULL when history is off) */
	struct inference_history *infhist;
	double inference_price; /* --price-per-gpu-hour for money per inference; NaN: list */
};

/* Defaults for every field. */
void serve_history_init(struct serve_history *h);

/* Tries argv[*i] as a history flag (advancing *i past its value).  Returns 1
 * when taken, 0 when not ours, -1 on a bad value (err filled). */
int serve_history_take(struct serve_history *h, int argc, char **argv, int *i, char *err,
                       size_t errlen);

/* The --help lines of those flags. */
extern const char serve_history_usage[];

/* Starts the recorder and the diagnosis thread (unless history is off;
 * under --demo it is off unless --history was given) and fills h->extras.
 * Returns 0, or -1 with a message printed (out of memory, no thread). */
int serve_history_start(struct serve_history *h, struct board *b, bool demo);

/* The extras to put in http_config (always valid after start). */
const struct http_extras *serve_history_extras(struct serve_history *h);

/* Stops both threads and closes the store. */
void serve_history_stop(struct serve_history *h);

#endif
