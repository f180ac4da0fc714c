/* xid_log.c - the Xid records: per-code tallies and recent events; see xid_log.h. */
#include "series/xid_log.h"

#include <pthread.h>

struct xid_event {
	double t;
	unsigned gpu, code;
};

void xid_tally_count(struct xid_tally *x, unsigned code)
{
	unsigned i = 0;
	while (i < x->n && x->code[i] != code)
		i++;
	if (i == x->n && x->n < GPU_MAX_XID_CODES) {
		x->code[i] = code;
		x->count[i] = 0;
		x->n++;
	}
	if (i < x->n)
		x->count[i]++;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct xid_event ring[XID_LOG_MAX];
static unsigned long long appended; /* events ever appended; ring[i % MAX] */

void xid_log_record(unsigned gpu, unsigned code, double t)
{
	pthread_mutex_lock(&lock);
	ring[appended % XID_LOG_MAX] = (struct xid_event){.t = t, .gpu = gpu, .code = code};
	appended++;
	pthread_mutex_unlock(&lock);
}

unsigned xid_log_count(unsigned gpu, double since, unsigned *code, unsigned *count, unsigned max)
{
	unsigned n = 0;
	pthread_mutex_lock(&lock);
	unsigned long long first = appended > XID_LOG_MAX ? appended - XID_LOG_MAX : 0;
	for (unsigned long long i = first; i < appended; i++) {
		const struct xid_event *e = &ring[i % XID_LOG_MAX];
		if (e->gpu != gpu || e->t < since)
			continue;
		unsigned k = 0;
		while (k < n && code[k] != e->code)
			k++;
		if (k == n) {
			if (n == max)
				continue;
			code[n] = e->code;
			count[n++] = 0;
		}
		count[k]++;
	}
	pthread_mutex_unlock(&lock);
	return n;
}
