/* alerts.h - what `gpuscope serve` does with alerts: the flags, the
 * evaluation thread (alert/eval.h on the board and the live diagnosis), the
 * reload on SIGHUP, and the HTTP extras (/api/v1/alerts, gpuscope_alert on
 * /metrics).  Kept out of serve.c so that file only gains a few lines. */
#ifndef GPUSCOPE_CMD_ALERTS_H
#define GPUSCOPE_CMD_ALERTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "alert/rules.h"
#include "http/server.h"
#include "series/snapshot.h"

struct live_diagnosis;
struct alert_engine;
struct alert_delivery;

struct serve_alerts {
	const char *rules_path; /* --alert-rules FILE; NULL: the built-in rules */
	bool off;               /* --no-alerts */
	struct alert_rules rules;
	/* delivery (alert/deliver.h) */
	const char *alertmanager[4]; /* --alertmanager URL (repeatable) */
	size_t nalertmanager;
	const char *webhook_file, *slack_file, *pagerduty_file; /* secrets, from files */
	const char *pagerduty_url;                              /* --pagerduty-url (tests) */
	const char *queue_path;                                 /* --alert-queue FILE */
	double backoff_max_s;                                   /* --alert-backoff-max */
	/* run time */
	struct board *board;
	struct live_diagnosis *diagnosis;
	struct alert_engine *engine;
	struct alert_delivery *delivery;
	pthread_t thread;
	pthread_mutex_t lock; /* guards everything below and the engine */
	pthread_cond_t wake;
	bool started, stop;
	char *json;              /* cached /api/v1/alerts "data.alerts" array text */
	char *metrics;           /* cached families */
	char loaded_at[40];      /* when the rules in use were read */
	char applied_path[4096]; /* rules_path after serve_alerts_apply (a copy it owns) */
	char reload_error[900];
	struct http_extras extras;
};

void serve_alerts_init(struct serve_alerts *a);

/* Tries argv[*i] as an alert flag.  1 taken, 0 not ours, -1 bad value (err
 * filled; a rules file that does not parse is one: exit 2). */
int serve_alerts_take(struct serve_alerts *a, int argc, char **argv, int *i, char *err,
                      size_t errlen);

extern const char serve_alerts_usage[];

/* Starts evaluation (and delivery when receivers are given); restores the
 * alerts the queue records as firing.  history: the history file in use
 * (the delivery queue's home), NULL when off; demo: keep the queue in
 * memory when there is no history and no --alert-queue.
 * Returns 0, or -1 with a message printed. */
int serve_alerts_start(struct serve_alerts *a, struct board *b, struct live_diagnosis *d,
                       const char *history, bool demo);

/* SIGHUP: reads the rules file again; a bad file keeps the rules in use and
 * says why (stderr and /api/v1/alerts). */
void serve_alerts_reload(struct serve_alerts *a);

/* For a SIGHUP that parses the whole command line (or a config file) again
 * into a fresh serve_alerts (serve_alerts_take loads its --alert-rules, so a
 * bad file has already been refused there): takes its rules into the
 * running one.  Alert states of rules that remain are kept. */
void serve_alerts_apply(struct serve_alerts *a, const struct serve_alerts *fresh);

const struct http_extras *serve_alerts_extras(struct serve_alerts *a);

void serve_alerts_stop(struct serve_alerts *a);

#endif
