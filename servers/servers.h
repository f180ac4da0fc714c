/* servers.h - the inference servers on this node, read on a thread of their own and joined
 * to the GPUs their processes hold.
 *
 * Every --poll-interval (5 s) a background thread fetches each server's /metrics with
 * libcurl (a timeout, a size cap), reduces it to a reading (kinds.h), and adds the GPU side
 * of the same interval from the board: each joined GPU's energy increase, GPU-seconds,
 * SM-active and busy seconds, times the server's share of that GPU.  Over the window (60 s
 * default, at least 30 s) it computes the figures (figures.h) and advice (advice.h), then
 * renders /api/v1/servers, /api/v1/advice, the /metrics families and the /healthz field
 * into strings that the HTTP handlers copy.  So a server that hangs, answers garbage or
 * 10 MB costs this thread one timeout, never a scrape; it shows as a line on /healthz.
 *
 * Servers come from --inference-server URL (a "#gpus=0,1" fragment pins the GPUs when the
 * process cannot be seen, e.g. another host or network namespace) and, unless discovery is
 * off, from the GPUs' processes: a GPU process, or its parent or grandparent, listening on
 * a port whose /metrics carries a known server's names (discover.h).  A configured URL is
 * joined the same way: the GPU process (or ancestor) that listens on its port.
 */
#ifndef GPUSCOPE_SERVERS_SERVERS_H
#define GPUSCOPE_SERVERS_SERVERS_H

#include <stdbool.h>
#include <stddef.h>

struct board;
struct strbuf;
struct prom_options;
struct servers;

#define SERVERS_URLS_MAX 16

struct servers_config {
	const char *urls[SERVERS_URLS_MAX]; /* --inference-server */
	unsigned nurls;
	bool no_discovery;         /* --no-inference-discovery */
	const char *host_root;     /* /proc of the host ("" or NULL: "/") */
	double window_s;           /* --inference-window (default 60) */
	double poll_s;             /* --inference-poll (default 5) */
	double timeout_s;          /* per request (default 2) */
	size_t max_body;           /* bytes (default 4 MiB) */
	double price_per_gpu_hour; /* NaN: the list price of the GPU model */
	bool simulated;            /* --demo: mark the documents */
};

void servers_config_default(struct servers_config *c);

/* Starts the reader thread; NULL with err filled when it cannot (out of memory). */
struct servers *servers_start(struct board *b, const struct servers_config *cfg, char *err,
                              size_t errlen);
void servers_stop(struct servers *s);

/* Copies of the latest rendered documents (malloc'd; never NULL unless out of memory). */
char *servers_json(struct servers *s);
char *servers_advice_json(struct servers *s);
/* JSON value for /healthz's "inference_servers" field. */
char *servers_health_json(struct servers *s);
/* The gpuscope_inference_server_* and gpuscope_tokens_* families. */
void servers_prom(struct servers *s, const struct prom_options *o, struct strbuf *out);
/* One line per server for doctor (malloc'd). */
char *servers_doctor_text(struct servers *s);

/* Runs one poll now on the calling thread (the reader thread's step); returns the number
 * of servers known.  Not to be called while the reader thread runs. */
unsigned servers_poll_now(struct servers *s);

/* Writes the windows queued since the last call into the history: one row per server and
 * model per window (store/serving.h).  For recorder_set_extra (ctx: the struct servers),
 * so it runs on the recorder's thread with its store handle.  A row that cannot be written
 * stays queued (at most SERVERS_MAX x 8 rows; the oldest are dropped). */
struct store;
int servers_history_write(void *ctx, struct store *st);

/* Waits until the reader thread finished its first poll, at most timeout_s (doctor). */
void servers_wait_polled(struct servers *s, double timeout_s);

#endif
