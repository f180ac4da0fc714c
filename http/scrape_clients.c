/* scrape_clients.c - the per-scraper window table (see scrape_clients.h). */
#include "http/scrape_clients.h"

#include <stdio.h>
#include <string.h>

void scrape_clients_init(struct scrape_clients *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
}

void scrape_clients_destroy(struct scrape_clients *t)
{
	pthread_mutex_destroy(&t->lock);
}

void scrape_clients_window(struct scrape_clients *t, const char *key, int64_t newest,
                           int64_t longest, double now, int64_t *from, int64_t *to)
{
	pthread_mutex_lock(&t->lock);
	struct scrape_client *c = NULL;
	for (unsigned i = 0; i < t->n && !c; i++)
		if (strcmp(t->c[i].key, key) == 0)
			c = &t->c[i];
	if (!c) {
		if (t->n < SCRAPE_CLIENTS_MAX) {
			c = &t->c[t->n++];
		} else {
			c = &t->c[0];
			for (unsigned i = 1; i < t->n; i++)
				if (t->c[i].seen < c->seen)
					c = &t->c[i];
		}
		snprintf(c->key, sizeof(c->key), "%s", key);
		c->to = newest - SCRAPE_FIRST_WINDOW_S; /* as if it had scraped 15 s ago */
		c->from = c->to - SCRAPE_FIRST_WINDOW_S + 1;
	}
	if (newest > c->to) {
		c->from = c->to + 1;
		c->to = newest;
	}
	if (c->to - c->from + 1 > longest)
		c->from = c->to - longest + 1;
	c->seen = now;
	*from = c->from;
	*to = c->to;
	pthread_mutex_unlock(&t->lock);
}
