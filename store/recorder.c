/* recorder.c - the history writer thread of `gpuscope serve`.
 *
 * One thread, one store handle.  Every second it takes one board snapshot
 * (raw values judged for staleness, so a stalled tier is stored as absent,
 * not as its last number) and, for each GPU and each settled second not yet
 * written, one window aggregate of that second; both go to store_put_gpu.
 * The store batches them into transactions of its own.
 *
 * Errors are states, not exits: a failed open is retried every retry_s; a
 * failed write keeps the handle when the store can resume by itself (disk
 * full, busy) and closes it otherwise (read-only, corrupt), to be reopened
 * later.  Each distinct message is printed once, so a full disk does not
 * flood the log once a second.
 */
#include "store/recorder.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "series/process_table.h"

/* The writer's page cache: what a batch touches (each GPU's newest pages of the second,
 * process and rollup tables, and the oldest ones maintenance folds), with room to spare.
 * SQLite's default, 2000 KiB, fills within minutes with pages written once and never
 * read again, and the check on open fills it at once; at 8 simulated GPUs 256 KiB
 * missed 4 pages a second, each read back from the WAL or the OS's cache. */
#define WRITER_CACHE_KIB(gpus) (128 + 32 * (int)(gpus))

enum rec_state { REC_OPENING, REC_OK, REC_ERROR };

struct recorder {
	struct board *board;
	struct recorder_config cfg;
	char *path;
	pthread_t thread;
	pthread_mutex_t lock; /* guards the fields below and stop */
	pthread_cond_t wake;
	bool stop;
	enum rec_state state;
	char error[1024];
	char printed[1024]; /* the last message printed, so each is printed once */
	int64_t last_second;
	uint64_t rows, rows_dropped;
	int64_t start_second; /* the first second to write: when the recorder started */

	pthread_mutex_t extra_lock; /* held while extra runs; guards extra, extra_ctx */
	recorder_extra_fn extra;
	void *extra_ctx;
};

/* The GPU's process table (slow tier, attribution) as process rows of second
 * t: the latest table stands for every second until the next one. */
static int put_processes(struct store *s, const struct gpu_record *g, int64_t t)
{
	const struct process_table *pt = g->procs;
	for (unsigned k = 0; k < pt->n; k++) {
		const struct process_record *p = &pt->proc[k];
		if (p->pid <= 0)
			continue;
		char job[32] = "";
		if (p->slurm_job_valid)
			snprintf(job, sizeof(job), "%llu", p->slurm_job);
		struct store_process_row row = {
		    .t = t,
		    .uuid = g->id.uuid,
		    .pid = (unsigned)p->pid,
		    .name = p->name,
		    .container = p->container[0] ? p->container : p->container_id,
		    .pod = p->pod,
		    .namespace_ = p->pod_namespace,
		    .job = job[0] ? job : p->systemd_unit,
		};
		/* each family the history keeps, from the families' one reader */
		for (int f = 0; f < PROC_FAMILY_COUNT; f++)
			if (!process_family_value(f, p, &row.value[f]))
				row.value[f] = NAN;
		int rc = store_put_process(s, &row);
		if (rc != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

int recorder_write_seconds(struct board *b, struct store *s, int64_t *last, int64_t newest)
{
	int64_t from = *last == INT64_MIN ? newest : *last + 1;
	/* The ring keeps WINDOW_SECONDS; older seconds are gone (store was down). */
	int64_t oldest = newest - (WINDOW_SECONDS - WINDOW_SETTLE_S - 2);
	if (from < oldest)
		from = oldest;
	if (from > newest)
		return STORE_OK;
	struct board_snapshot snap;
	if (board_snapshot(b, &snap) != 0)
		return STORE_ENOMEM;
	struct window_agg *agg = malloc(sizeof(struct window_agg) * METRIC_COUNT);
	int rc = agg ? STORE_OK : STORE_ENOMEM;
	for (int64_t t = from; t <= newest && rc == STORE_OK; t++) {
		for (unsigned i = 0; i < snap.count && rc == STORE_OK; i++) {
			const struct gpu_record *g = &snap.gpus[i];
			if (!g->has_identity || !g->id.uuid[0] || g->health == GPU_PROBING ||
			    g->health == GPU_INACCESSIBLE)
				continue;
			board_window(b, i, t, t, agg);
			bool any = false;
			for (int m = 0; m < METRIC_COUNT && !any; m++)
				any = agg[m].n > 0;
			/* A GPU with no sample that second and no healthy state has
			 * nothing to say about it (lost, or the agent just started). */
			if (!any && g->health != GPU_OK)
				continue;
			struct store_gpu_row row = {.uuid = g->id.uuid,
			                            .model = g->id.name[0] ? g->id.name : NULL,
			                            .t = t,
			                            .win = agg,
			                            .raw = g->raw,
			                            .valid = &g->valid};
			rc = store_put_gpu(s, &row);
			if (rc == STORE_OK && g->procs)
				rc = put_processes(s, g, t);
		}
		*last = t; /* a failed batch is dropped by the store; do not retry it */
	}
	free(agg);
	board_snapshot_free(&snap);
	return rc;
}

/* ---- default path ---- */

static bool dir_usable(const char *dir, bool create)
{
	struct stat st;
	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) && access(dir, W_OK | X_OK) == 0;
	if (!create)
		return false;
	/* Creatable when the parent exists and is writable. */
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", dir);
	char *slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return false;
	*slash = 0;
	return access(parent, W_OK | X_OK) == 0;
}

static bool user_state_path(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	if (xdg && xdg[0] == '/') {
		snprintf(buf, len, "%s/gpuscope/history.db", xdg);
		return true;
	}
	const char *home = getenv("HOME");
	if (!home || !*home)
		return false;
	snprintf(buf, len, "%s/.local/state/gpuscope/history.db", home);
	return true;
}

bool recorder_default_path(bool for_reading, char *buf, size_t len)
{
	static const char system_dir[] = "/var/lib/gpuscope";
	char user[PATH_MAX];
	bool have_user = user_state_path(user, sizeof(user));
	if (for_reading) {
		if (access("/var/lib/gpuscope/history.db", F_OK) == 0) {
			snprintf(buf, len, "%s/history.db", system_dir);
			return true;
		}
		if (have_user && access(user, F_OK) == 0) {
			snprintf(buf, len, "%s", user);
			return true;
		}
	}
	if (dir_usable(system_dir, true)) {
		snprintf(buf, len, "%s/history.db", system_dir);
		return true;
	}
	if (!have_user)
		return false;
	snprintf(buf, len, "%s", user);
	return true;
}

/* mkdir -p of the file's directory.  The history names processes, users and pods, so
 * the folders we create are the owner's alone (0700), or with a group (--history-group)
 * 02750 and that group's: setgid, so the -wal and -shm SQLite creates later inherit the
 * group too.  Existing folders are left as they are. */
static void make_parent_dirs(const char *path, long group)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = 0;
	for (char *p = dir + 1;; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;
		*p = 0;
		if (mkdir(dir, group >= 0 ? 0750 : 0700) == 0 && group >= 0 &&
		    chown(dir, (uid_t)-1, (gid_t)group) == 0)
			chmod(dir, 02750); /* after chown, which may clear setgid */
		*p = c;
		if (!c)
			break;
	}
}

/* ---- the thread ---- */

/* Records the state; prints the message once per distinct text. */
static void set_state(struct recorder *r, enum rec_state st, const char *msg)
{
	pthread_mutex_lock(&r->lock);
	r->state = st;
	snprintf(r->error, sizeof(r->error), "%s", msg ? msg : "");
	bool print = !r->cfg.quiet && strcmp(r->printed, r->error) != 0;
	if (print)
		snprintf(r->printed, sizeof(r->printed), "%s", r->error);
	pthread_mutex_unlock(&r->lock);
	if (!print)
		return;
	if (st == REC_ERROR)
		fprintf(stderr,
		        "gpuscope: %s%s (metrics are still served; retrying every %.0f s)\n",
		        strncmp(msg, "history", 7) == 0 ? "" : "history: ", msg, r->cfg.retry_s);
	else if (st == REC_OK)
		fprintf(stderr, "gpuscope: history: writing %s\n", r->path);
}

/* Whether the store can recover from this error on the same handle. */
static bool error_keeps_handle(int rc)
{
	return rc == STORE_EFULL || rc == STORE_EBUSY || rc == STORE_ENOMEM || rc == STORE_EIO;
}

/* Sleeps until about 100 ms after the next wall-clock second, or stop. */
static bool wait_tick(struct recorder *r)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct timespec until = {.tv_sec = now.tv_sec + 1, .tv_nsec = 100 * 1000 * 1000};
	pthread_mutex_lock(&r->lock);
	while (!r->stop && pthread_cond_timedwait(&r->wake, &r->lock, &until) != ETIMEDOUT)
		;
	bool stop = r->stop;
	pthread_mutex_unlock(&r->lock);
	return !stop;
}

/* A history written from the simulator says so, for every later reader (store/meta.c). */
static void mark_simulated(struct recorder *r, struct store *s)
{
	const char *scenario = r->board->info.scenario;
	if (!scenario[0])
		return;
	if (store_meta_set(s, STORE_META_SIMULATED, "1") != STORE_OK ||
	    store_meta_set(s, STORE_META_SCENARIO, scenario) != STORE_OK)
		set_state(r, REC_ERROR, store_errmsg(s));
}

static void *recorder_main(void *arg)
{
	struct recorder *r = arg;
	pthread_setname_np(pthread_self(), "gpuscope-record");
	struct store *s = NULL;
	double next_open = 0;
	int64_t last = r->start_second - 1;
	char err[1024];
	do {
		double now = mono_now();
		if (!s && now >= next_open) {
			if (r->cfg.create_dir)
				make_parent_dirs(r->path, r->cfg.opt.group);
			struct store_options o = r->cfg.opt;
			o.read_only = false;
			if (!o.cache_kib)
				o.cache_kib = WRITER_CACHE_KIB(r->board->count);
			if (store_open(r->path, &o, &s, err, sizeof(err)) != STORE_OK) {
				s = NULL;
				next_open = now + r->cfg.retry_s;
				set_state(r, REC_ERROR, err);
				continue;
			}
			set_state(r, REC_OK, NULL);
			mark_simulated(r, s);
		}
		if (!s)
			continue;
		int64_t newest = (int64_t)floor(wall_now()) - WINDOW_SETTLE_S;
		int rc = recorder_write_seconds(r->board, s, &last, newest);
		if (rc == STORE_OK && r->cfg.extra)
			rc = r->cfg.extra(r->cfg.extra_ctx, s, false);
		pthread_mutex_lock(&r->extra_lock);
		if (rc == STORE_OK && r->extra)
			rc = r->extra(r->extra_ctx, s);
		pthread_mutex_unlock(&r->extra_lock);
		struct store_stats st;
		store_get_stats(s, &st);
		pthread_mutex_lock(&r->lock);
		r->last_second = st.committed_t;
		r->rows = st.rows_gpu;
		r->rows_dropped = st.rows_dropped;
		pthread_mutex_unlock(&r->lock);
		if (rc == STORE_OK) {
			if (r->state != REC_OK)
				set_state(r, REC_OK, NULL);
			continue;
		}
		set_state(r, REC_ERROR, store_errmsg(s));
		if (!error_keeps_handle(rc)) {
			store_close(s);
			s = NULL;
			next_open = now + r->cfg.retry_s;
		}
	} while (wait_tick(r));
	if (s && r->cfg.extra)
		r->cfg.extra(r->cfg.extra_ctx, s, true);
	if (s && store_close(s) != STORE_OK && !r->cfg.quiet)
		fprintf(stderr, "gpuscope: history: the last seconds were not saved\n");
	return NULL;
}

struct recorder *recorder_start(struct board *b, const struct recorder_config *cfg, char *err,
                                size_t errlen)
{
	struct recorder *r = calloc(1, sizeof(*r));
	if (!r)
		goto oom;
	r->board = b;
	r->cfg = *cfg;
	if (!(r->cfg.retry_s > 0))
		r->cfg.retry_s = 60;
	r->path = strdup(cfg->path);
	if (!r->path)
		goto oom;
	r->cfg.path = r->path;
	r->state = REC_OPENING;
	r->last_second = INT64_MIN;
	r->start_second = (int64_t)floor(wall_now());
	r->printed[0] = '\001'; /* so the first state is printed, even "ok" */
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->extra_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_cond_init(&r->wake, &ca);
	pthread_condattr_destroy(&ca);
	int rc = pthread_create(&r->thread, NULL, recorder_main, r);
	if (rc != 0) {
		snprintf(err, errlen, "history: cannot start the recorder thread: %s",
		         strerror(rc));
		pthread_cond_destroy(&r->wake);
		pthread_mutex_destroy(&r->lock);
		pthread_mutex_destroy(&r->extra_lock);
		free(r->path);
		free(r);
		return NULL;
	}
	return r;
oom:
	snprintf(err, errlen, "history: out of memory");
	if (r)
		free(r->path);
	free(r);
	return NULL;
}

void recorder_stop(struct recorder *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_broadcast(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	pthread_mutex_destroy(&r->extra_lock);
	free(r->path);
	free(r);
}

void recorder_set_extra(struct recorder *r, recorder_extra_fn fn, void *ctx)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->extra_lock);
	r->extra = fn;
	r->extra_ctx = ctx;
	pthread_mutex_unlock(&r->extra_lock);
}

char *recorder_status_json(struct recorder *r)
{
	static const char *names[] = {"opening", "ok", "error"};
	json_t *o = json_object();
	if (!o)
		return NULL;
	pthread_mutex_lock(&r->lock);
	json_object_set_new(o, "state", json_string(names[r->state]));
	json_object_set_new(o, "path", json_string(r->path));
	json_object_set_new(o, "error",
	                    r->state == REC_ERROR ? json_string(r->error) : json_null());
	json_object_set_new(o, "last_second",
	                    r->last_second == INT64_MIN ? json_null()
	                                                : json_integer(r->last_second));
	json_object_set_new(o, "rows", json_integer((json_int_t)r->rows));
	json_object_set_new(o, "rows_dropped", json_integer((json_int_t)r->rows_dropped));
	pthread_mutex_unlock(&r->lock);
	char *text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	return text;
}
