/* agent.h - the agent's alerts: the evaluation thread (alert/eval.h on the board and the
 * live diagnosis), delivery (alert/deliver.h), the reload on SIGHUP, and the HTTP extras
 * (/api/v1/alerts, gpuscope_alert on /metrics).  `gpuscope serve` fills the configuration
 * from its flags (cmd/serve_alerts.c) and starts one. */
#ifndef GPUSCOPE_ALERT_AGENT_H
#define GPUSCOPE_ALERT_AGENT_H

#include <stdbool.h>
#include <stddef.h>

#include "alert/rules.h"
#include "http/server.h"
#include "series/snapshot.h"

struct live_diagnosis;

struct alert_agent_config {
	const char *rules_path; /* the rules file (--alert-rules); NULL: the built-in rules */
	struct alert_rules rules;
	/* delivery (alert/deliver.h) */
	const char *alertmanager[4]; /* Alertmanager base URLs */
	size_t nalertmanager;
	const char *webhook_file, *slack_file, *pagerduty_file; /* secrets, from files */
	const char *pagerduty_url;                              /* NULL: PagerDuty's Events API */
	const char *queue_path; /* NULL: beside the history (or memory) */
	double backoff_max_s;   /* longest wait between delivery retries */
};

/* The built-in rules, no receiver, a 60 s backoff. */
void alert_agent_config_init(struct alert_agent_config *c);

struct alert_agent;

/* Starts evaluation (and delivery when receivers are given); restores the
 * alerts the queue records as firing.  history: the history file in use
 * (the delivery queue's home), NULL when off; demo: keep the queue in
 * memory when there is no history and no queue path.
 * Returns the agent, or NULL with a message printed. */
struct alert_agent *alert_agent_start(const struct alert_agent_config *cfg, struct board *b,
                                      struct live_diagnosis *d, const char *history, bool demo);

/* SIGHUP: reads the rules file again; a bad file keeps the rules in use and
 * says why (stderr and /api/v1/alerts).  a may be NULL (alerts off). */
void alert_agent_reload(struct alert_agent *a);

/* For a SIGHUP that parses the whole command line (or a config file) again
 * (the parse has loaded the rules file, so a bad one has already been refused
 * there): takes those rules, read from path, into the running agent.  Alert
 * states of rules that remain are kept.  a may be NULL. */
void alert_agent_apply(struct alert_agent *a, const struct alert_rules *rules, const char *path);

/* The HTTP extras; NULL when a is. */
const struct http_extras *alert_agent_extras(struct alert_agent *a);

/* Stops the threads and frees a (NULL: nothing). */
void alert_agent_stop(struct alert_agent *a);

#endif
