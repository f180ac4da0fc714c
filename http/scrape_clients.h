/* scrape_clients.h - each scraper's window: "since your previous scrape".
 *
 * Window aggregates must cover every sample exactly once per scraper, also
 * when several scrape the same agent (a Prometheus HA pair, a person with
 * curl): a single global "since the last scrape" would split the samples
 * between them.  So the agent remembers, per client (its address and
 * User-Agent), the last second its previous scrape covered, and serves it
 * the whole seconds since.  A client's first scrape gets the last
 * SCRAPE_FIRST_WINDOW_S seconds; a repeat within the same second gets the
 * same window again; the table holds SCRAPE_CLIENTS_MAX clients, the least
 * recently seen making room.
 */
#ifndef GPUSCOPE_SCRAPE_CLIENTS_H
#define GPUSCOPE_SCRAPE_CLIENTS_H

#include <pthread.h>
#include <stdint.h>

#define SCRAPE_CLIENTS_MAX    64
#define SCRAPE_FIRST_WINDOW_S 15
#define SCRAPE_KEY_LEN        160

struct scrape_client {
	char key[SCRAPE_KEY_LEN];
	int64_t from, to; /* the window last served */
	double seen;      /* monotonic seconds of the last scrape */
};

struct scrape_clients {
	pthread_mutex_t lock;
	unsigned n;
	struct scrape_client c[SCRAPE_CLIENTS_MAX];
};

void scrape_clients_init(struct scrape_clients *t);
void scrape_clients_destroy(struct scrape_clients *t);

/* The window [*from, *to] (whole wall-clock seconds) to serve this client
 * now, where `newest` is the newest second that may be served; at most
 * `longest` seconds long. */
void scrape_clients_window(struct scrape_clients *t, const char *key, int64_t newest,
                           int64_t longest, double now, int64_t *from, int64_t *to);

#endif
