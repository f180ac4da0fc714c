/* serve_alerts.c - `gpuscope serve`'s alert flags (see serve_alerts.h). */
#include "cmd/serve_alerts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/rules_yaml.h"

const char serve_alerts_usage[] =
    "  --alert-rules FILE     change the built-in alert rules (YAML; docs/alerts.md);\n"
    "                         re-read on SIGHUP, a bad file keeps the rules in use\n"
    "  --no-alerts            evaluate no alert rules\n"
    "  --alertmanager URL     send alerts to Alertmanager (its API v2; repeatable)\n"
    "  --alert-webhook-file FILE  POST Alertmanager webhook JSON to the URL in FILE\n"
    "                         (or $GPUSCOPE_ALERT_WEBHOOK_URL)\n"
    "  --slack-webhook-file FILE  Slack incoming webhook URL in FILE\n"
    "                         (or $GPUSCOPE_SLACK_WEBHOOK_URL)\n"
    "  --pagerduty-key-file FILE  PagerDuty Events v2 routing key in FILE\n"
    "                         (or $GPUSCOPE_PAGERDUTY_ROUTING_KEY)\n"
    "  --pagerduty-url URL    Events API endpoint (default\n"
    "                         https://events.pagerduty.com/v2/enqueue)\n"
    "  --alert-queue FILE     SQLite file of undelivered notifications (default:\n"
    "                         beside the history; under --demo without one, memory)\n"
    "  --alert-backoff-max DUR  longest wait between delivery retries, 1s-1h (60s)\n";

int serve_alerts_init(struct serve_alerts *a)
{
	memset(a, 0, sizeof(*a));
	if (!(a->cfg = malloc(sizeof(*a->cfg))))
		return -1;
	alert_agent_config_init(a->cfg);
	return 0;
}

void serve_alerts_release(struct serve_alerts *a)
{
	free(a->cfg);
	a->cfg = NULL;
}

int serve_alerts_take(struct serve_alerts *a, int argc, char **argv, int *i, char *err,
                      size_t errlen)
{
	const char *arg = argv[*i];
	const char *val = *i + 1 < argc ? argv[*i + 1] : NULL;
	if (strcmp(arg, "--no-alerts") == 0) {
		a->off = true;
		return 1;
	}
	const char **slot = strcmp(arg, "--alert-webhook-file") == 0   ? &a->cfg->webhook_file
	                    : strcmp(arg, "--slack-webhook-file") == 0 ? &a->cfg->slack_file
	                    : strcmp(arg, "--pagerduty-key-file") == 0 ? &a->cfg->pagerduty_file
	                    : strcmp(arg, "--pagerduty-url") == 0      ? &a->cfg->pagerduty_url
	                    : strcmp(arg, "--alert-queue") == 0        ? &a->cfg->queue_path
	                                                               : NULL;
	bool am = strcmp(arg, "--alertmanager") == 0;
	bool backoff = strcmp(arg, "--alert-backoff-max") == 0;
	if (!slot && !am && !backoff && strcmp(arg, "--alert-rules") != 0)
		return 0;
	if (!val || !*val) {
		snprintf(err, errlen, "%s needs a value", arg);
		return -1;
	}
	++*i;
	if (slot) {
		*slot = val;
		return 1;
	}
	if (am) {
		if (a->cfg->nalertmanager ==
		    sizeof(a->cfg->alertmanager) / sizeof(a->cfg->alertmanager[0])) {
			snprintf(err, errlen, "--alertmanager: at most 4");
			return -1;
		}
		if (strncmp(val, "http://", 7) != 0 && strncmp(val, "https://", 8) != 0) {
			snprintf(err, errlen, "--alertmanager '%s': give http(s)://HOST:PORT", val);
			return -1;
		}
		a->cfg->alertmanager[a->cfg->nalertmanager++] = val;
		return 1;
	}
	if (backoff) {
		if (alert_parse_duration(val, &a->cfg->backoff_max_s) != 0 ||
		    a->cfg->backoff_max_s < 1 || a->cfg->backoff_max_s > 3600) {
			snprintf(err, errlen, "--alert-backoff-max '%s': give 1s to 1h", val);
			return -1;
		}
		return 1;
	}
	char why[800];
	if (alert_rules_load(val, &a->cfg->rules, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "--alert-rules %s", why);
		return -1;
	}
	a->cfg->rules_path = val;
	return 1;
}
