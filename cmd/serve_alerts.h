/* serve_alerts.h - `gpuscope serve`'s alert flags, which configure the agent's alerts
 * (alert/agent.h).  Kept out of serve.c so that file only gains a few lines. */
#ifndef GPUSCOPE_CMD_SERVE_ALERTS_H
#define GPUSCOPE_CMD_SERVE_ALERTS_H

#include <stdbool.h>
#include <stddef.h>

#include "alert/agent.h"

struct serve_alerts {
	/* The flags and the rules (~65 KB, so on the heap): alert_agent_start and
	 * alert_agent_apply take copies, and serve releases this one then. */
	struct alert_agent_config *cfg;
	bool off;                  /* --no-alerts */
	struct alert_agent *agent; /* running; NULL: not started or off */
};

/* The built-in rules and no flags; -1 when out of memory. */
int serve_alerts_init(struct serve_alerts *a);
/* Frees the flags and rules (cfg NULL after; the agent is left alone). */
void serve_alerts_release(struct serve_alerts *a);

/* Tries argv[*i] as an alert flag.  1 taken, 0 not ours, -1 bad value (err
 * filled; a rules file that does not parse is one: exit 2). */
int serve_alerts_take(struct serve_alerts *a, int argc, char **argv, int *i, char *err,
                      size_t errlen);

extern const char serve_alerts_usage[];

#endif
