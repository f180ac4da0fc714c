/* internal.h - the state shared by servers.c (the reader thread) and render.c (its
 * documents).  Only the reader thread touches targets; handlers see the rendered strings. */
#ifndef GPUSCOPE_SERVERS_INTERNAL_H
#define GPUSCOPE_SERVERS_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "servers/advice.h"
#include "servers/figures.h"
#include "servers/kinds.h"
#include "servers/servers.h"
#include "store/serving.h"

#define SERVERS_MAX     16
#define SERVER_GPUS_MAX 16
#define PIDPORTS_MAX    256
#define PIDPORT_PORTS   4 /* listening ports kept per process */

#define ACC_GPUS_MAX 16 /* board GPUs whose energy a server can hold */

/* What a server's GPUs did since it was first read, apportioned to it: counters.  Energy is
 * kept per GPU with the time its counter covered (between the counter's own updates, which
 * come every 2 s for the integrated power samples, not at our polls), so a window's energy
 * is each GPU's mean power over whole counter updates times the window's length. */
struct gpu_acc {
	double joules[ACC_GPUS_MAX], energy_time[ACC_GPUS_MAX];
	double gpu_seconds, sm_seconds, busy_seconds;
	unsigned energy_gaps, sm_gaps, util_gaps; /* steps without the figure */
};

/* A response body being read, capped at max bytes. */
struct fetch_buf {
	char *data;
	size_t len, cap, max;
	bool over;
};

struct slot {
	double t; /* monotonic seconds of the reading */
	struct server_reading *r;
	struct gpu_acc acc;
};

struct target {
	char url[256]; /* as fetched (fragment stripped) */
	char name[80]; /* host:port */
	bool discovered;
	int pinned[SERVER_GPUS_MAX];
	unsigned npinned;
	unsigned port;
	bool local; /* the URL's host is this host: its listener can be found */
	int pid;    /* listening process, 0 while unknown */
	enum server_kind kind;
	bool up;
	char error[200];
	double last_ok, last_try; /* monotonic */
	unsigned long failures;
	void *curl;
	struct fetch_buf buf;
	/* the join */
	unsigned gpus[SERVER_GPUS_MAX];
	double share[SERVER_GPUS_MAX];
	unsigned ngpus;
	char gpu_model[96];
	char gpu_uuid[96];  /* of its first GPU */
	double memory_used; /* highest ratio over its GPUs, NaN unknown */
	double sm_active;   /* last step's mean over its GPUs, NaN unknown */
	struct gpu_acc acc;
	/* readings */
	struct slot *ring;
	unsigned cap, n, head; /* ring[(head + i) % cap], i < n, oldest first */
	/* computed each poll */
	unsigned nmodels;
	struct server_figures fig[SERVER_MODELS_MAX];
	char model[SERVER_MODELS_MAX][SERVER_MODEL_MAX];
	struct server_advice advice[SERVER_MODELS_MAX];
	bool warming; /* the window is not full yet */
	/* the history (history.c) */
	struct server_gpu_side side[SERVER_MODELS_MAX]; /* each model's part of the GPUs */
	char gpu_uuids[400];                            /* the joined GPUs, comma-separated */
	double last_row[SERVER_MODELS_MAX];             /* wall time of its last history row */
};

/* Per GPU, what the previous poll saw. */
struct gpu_prev {
	bool valid;
	int metric; /* which energy metric */
	double mj;
	double t;           /* monotonic time of our poll */
	double te;          /* monotonic time the energy value was published */
	long long last_sec; /* last wall-clock second folded in */
	double sm, util;    /* the last seconds' means, for a poll with no new second */
};

struct pidports {
	int pid;
	double checked;
	int parent;
	unsigned ports[PIDPORT_PORTS];
	unsigned nports;
	bool probed;    /* its ports were asked for /metrics */
	bool reachable; /* its network namespace has an address the agent can reach */
	char addr[48];  /* where its ports are: 127.0.0.1, or its container's address */
	bool known;     /* its command line names a known server */
};

struct servers {
	struct board *board;
	struct servers_config cfg;
	char host_root[512];
	pthread_t thread;
	bool started;
	pthread_mutex_t lock; /* guards stop and the rendered strings */
	pthread_cond_t wake;
	bool stop;
	unsigned polls; /* finished by the reader thread */
	/* the reader thread's own */
	/* ntargets in an array of tcap, grown as servers are configured or found (target_slot):
	 * SERVERS_MAX of 54 KB each were 0.9 MB held by every agent, servers or not */
	struct target *targets;
	unsigned ntargets, tcap;
	struct gpu_prev *prev;
	unsigned nprev;
	double *gpu_tokens, *gpu_requests; /* per GPU, published as counters (nprev) */
	bool *gpu_served;                  /* a server was ever joined to the GPU */
	struct pidports pids[PIDPORTS_MAX];
	unsigned npids;
	struct fetch_buf probe; /* discovery's */
	/* rendered (under lock) */
	char *json, *advice_json, *health_json, *prom, *doctor;
	/* history rows waiting for the recorder (under lock; history.c) */
	struct store_serving_row *pending;
	unsigned npending;
	unsigned long rows_dropped;
};

/* servers.c */
/* Where the next target goes, &targets[ntargets] (the array grown when full; moving it is
 * safe between polls, fetch.c sets each handle's buffer before every fetch); NULL when
 * SERVERS_MAX are there or out of memory. */
struct target *target_slot(struct servers *s);
int target_init(struct target *t, const char *spec, char *err, size_t errlen);
int target_alloc(struct servers *s, struct target *t);
void target_free(struct target *t);

/* fetch.c: one GET waiting for it (discovery's probes), into s->probe: 0, or -1 with why. */
int servers_fetch(struct servers *s, void *curl, const char *url, double timeout_s, char *why,
                  size_t whylen);
/* Reads every target at once; added[k] says whether target k got a new reading. */
void servers_read_targets(struct servers *s, bool *added);

/* join.c */
struct board_snapshot;
void servers_discover(struct servers *s, const struct board_snapshot *snap, double now);
void servers_join(struct servers *s, struct target *t, const struct board_snapshot *snap,
                  double now);
void servers_gpu_step(struct servers *s, const struct board_snapshot *snap, double now);

/* history.c: queues a history row per model whose window is full and whose last row is a
 * window old (reader thread, after the advice). */
void servers_history_collect(struct servers *s, double wall);

/* render.c: builds every document from the targets (reader thread), swaps them in. */
void servers_render(struct servers *s);
/* The most recent reading, or NULL. */
const struct server_reading *target_latest(const struct target *t);

#endif
