/* serve_servers.h - `gpuscope serve`'s inference-server flags and the reader they start
 * (servers/servers.h).  Kept out of serve.c so that file only gains a few lines. */
#ifndef GPUSCOPE_CMD_SERVE_SERVERS_H
#define GPUSCOPE_CMD_SERVE_SERVERS_H

#include <stdbool.h>
#include <stddef.h>

#include "http/server.h"
#include "servers/servers.h"

struct serve_servers {
	struct servers_config cfg;
	bool off; /* --no-inference-servers */
	struct servers *reader;
	struct http_server_hooks hooks;
	struct recorder *recorder; /* writes the servers' windows into the history */
};

void serve_servers_init(struct serve_servers *p);

/* Tries argv[*i] as one of these flags: 1 taken, 0 not ours, -1 bad value (err filled). */
int serve_servers_take(struct serve_servers *p, int argc, char **argv, int *i, char *err,
                       size_t errlen);

extern const char serve_servers_usage[];

/* Starts the reader (unless off) over the board; hooks for http_config.servers, or NULL.
 * Returns 0, or -1 with a message printed. */
int serve_servers_start(struct serve_servers *p, struct board *b, const char *host_root,
                        bool simulated);
/* Hands the reader's windows to the history's recorder (NULL: no history); stop detaches. */
struct recorder;
void serve_servers_attach_history(struct serve_servers *p, struct recorder *r);
const struct http_server_hooks *serve_servers_hooks(struct serve_servers *p);
void serve_servers_stop(struct serve_servers *p);

#endif
