/* bench_store.c - what the history costs: bytes per GPU-day, rows/s, CPU per row.
 *
 * Writes N simulated GPU-days at 1 s resolution, as fast as it can, through the same
 * calls the agent makes (store_put_gpu, store_put_process, default 5 s batches and
 * automatic maintenance), with synthetic values shaped like an H200 serving inference:
 * every metric of the table supported, driver utilization in whole percent averaged over
 * 5 samples, GPM ratios as floats, power over 50 samples, counters that grow, idle pipes
 * at 0.  Then reports the file size per GPU-day (and per table, where SQLite has the
 * dbstat table), the ingest CPU per row and per second of all GPUs, against the budget of
 * 2% of a core, and what reads cost: a verified open (quick_check), 1 h and 24 h queries.
 *
 * Usage: bench_store [--gpus N] [--days D] [--procs P] [--path FILE] [--keep]
 *                    [--retention-1s HOURS] [--sparse]
 *   --days may be fractional; past 2 days (--retention-1s) the 1 s rows are folded as
 *   they age, so the figures then include the steady-state maintenance.
 *   --sparse writes only one row per GPU per minute where the row would be folded by
 *   the end anyway (its minute row then has n = 1 instead of 60): a week of 64 GPUs in
 *   minutes, as report_speed.sh needs, at 1/60 of the writes.  Ingest figures then mean
 *   nothing.
 * bench_store --migrate FILE opens FILE as the agent's writer does (a layout 1 file is
 * migrated then) and prints how long the open took. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store.h"

#define START 1735689600LL /* 2025-01-01T00:00:00Z */

static double now_s(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* xorshift: cheap enough not to show in CPU per row. */
static uint64_t rng_state = 88172645463325252ULL;
static double rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double)(rng_state >> 11) * 0x1.0p-53;
}

struct sim_gpu {
	char uuid[64];
	double load;   /* 0-1, a slow random walk */
	double energy; /* mJ */
	double integrated, idle_s, cap_s;
	struct window_agg win[METRIC_COUNT];
	double raw[METRIC_COUNT];
	metric_set valid;
};

/* n samples of an integer reading around mean +- spread. */
static void agg_ints(struct window_agg *a, double mean, double spread, unsigned n, double lo,
                     double hi)
{
	a->n = n;
	a->sum = 0;
	a->min = INFINITY;
	a->max = -INFINITY;
	for (unsigned i = 0; i < n; i++) {
		double v = fmin(hi, fmax(lo, round(mean + (rnd() - 0.5) * 2 * spread)));
		a->sum += v;
		a->min = fmin(a->min, v);
		a->max = fmax(a->max, v);
	}
}

static void agg_floats(struct window_agg *a, double mean, double spread, unsigned n)
{
	a->n = n;
	a->sum = 0;
	a->min = INFINITY;
	a->max = -INFINITY;
	for (unsigned i = 0; i < n; i++) {
		double v = fmax(0, mean + (rnd() - 0.5) * 2 * spread);
		a->sum += v;
		a->min = fmin(a->min, v);
		a->max = fmax(a->max, v);
	}
}

static void sim_second(struct sim_gpu *g)
{
	g->load = fmin(1, fmax(0.05, g->load + (rnd() - 0.5) * 0.05));
	double u = g->load * 100;
	for (int m = 0; m < METRIC_COUNT; m++) {
		if (!metric_windowed(m))
			continue;
		struct window_agg *a = &g->win[m];
		switch (m) {
		case METRIC_GPU_UTIL:
			agg_ints(a, u, 15, 5, 0, 100);
			break;
		case METRIC_MEM_UTIL:
			agg_ints(a, u * 0.6, 10, 5, 0, 100);
			break;
		case METRIC_FB_USED:
			agg_ints(a, 120e9 + round(g->load * 8) * 2097152, 0, 10, 0, 1e12);
			break;
		case METRIC_GPU_TEMP:
			agg_ints(a, 40 + g->load * 35, 0.6, 10, 0, 100);
			break;
		case METRIC_MEM_TEMP:
			agg_ints(a, 45 + g->load * 30, 0.6, 10, 0, 100);
			break;
		case METRIC_POWER:
			agg_ints(a, 100000 + g->load * 550000, 20000, 10, 0, 700000);
			break;
		case METRIC_POWER_INSTANT:
			agg_ints(a, 100000 + g->load * 550000, 60000, 50, 0, 750000);
			break;
		case METRIC_SM_CLOCK:
			agg_ints(a, g->load > 0.9 ? 1830 : 1980, 0, 10, 0, 1e4);
			break;
		case METRIC_MEM_CLOCK:
			agg_ints(a, 2619, 0, 10, 0, 1e4);
			break;
		case METRIC_CLOCK_LOSS:
			agg_floats(a, g->load > 0.9 ? 0.076 : 0, 0, 10);
			break;
		case METRIC_ENC_UTIL:
		case METRIC_DEC_UTIL:
		case METRIC_GPM_IMMA:
		case METRIC_GPM_DFMA:
		case METRIC_GPM_FP64:
		case METRIC_GPM_NVDEC:
		case METRIC_GPM_NVJPG:
			agg_ints(a, 0, 0, 10, 0, 0); /* idle engines read exactly 0 */
			break;
		case METRIC_GPM_PCIE_TX:
		case METRIC_GPM_PCIE_RX:
			agg_floats(a, 40 + g->load * 200, 30, 10);
			break;
		case METRIC_GPM_NVLINK_TX:
		case METRIC_GPM_NVLINK_RX:
			agg_floats(a, g->load * 90000, 8000, 10);
			break;
		default: /* GPM activity, percent of cycles */
			agg_floats(a, u * 0.7, 6, 10);
			break;
		}
	}
	double p = g->win[METRIC_POWER].sum / g->win[METRIC_POWER].n;
	g->energy += round(p);
	g->integrated += p + (rnd() - 0.5) * 100;
	if (g->load < 0.1)
		g->idle_s += 1;
	if (g->load > 0.95)
		g->cap_s += 0.3 + rnd() * 0.1;
	double *r = g->raw;
	r[METRIC_FB_FREE] = 141e9 - g->win[METRIC_FB_USED].max;
	r[METRIC_FB_RESERVED] = 566231040;
	r[METRIC_FB_TOTAL] = 150754820096;
	r[METRIC_SLOWDOWN_TEMP] = 90;
	r[METRIC_SHUTDOWN_TEMP] = 95;
	r[METRIC_GPU_MAX_TEMP] = 87;
	r[METRIC_MEM_MAX_TEMP] = 95;
	r[METRIC_POWER_LIMIT] = 700000;
	r[METRIC_ENERGY] = g->energy;
	r[METRIC_SM_CLOCK_MAX] = 1980;
	r[METRIC_MEM_CLOCK_MAX] = 2619;
	r[METRIC_CLOCK_EVENT_REASONS] = g->load > 0.95 ? 4 : g->load < 0.1 ? 1 : 0;
	r[METRIC_PSTATE] = 0;
	r[METRIC_POWER_INTEGRATED] = g->integrated;
	r[METRIC_THROTTLE_IDLE] = g->idle_s;
	r[METRIC_THROTTLE_POWER_CAP] = g->cap_s;
	r[METRIC_PCIE_LINK_GEN] = 5;
	r[METRIC_PCIE_LINK_WIDTH] = 16;
	r[METRIC_PCIE_MAX_GEN] = 5;
	r[METRIC_PCIE_MAX_WIDTH] = 16;
	r[METRIC_ECC_ENABLED] = 1;
	r[METRIC_GPU_UP] = 1;
	r[METRIC_FAST_SWEEP] = 0.00031 + rnd() * 0.0001;
	r[METRIC_SLOW_SWEEP] = 0.0042 + rnd() * 0.001;
}

static void sim_init(struct sim_gpu *g, int i)
{
	memset(g, 0, sizeof(*g));
	snprintf(g->uuid, sizeof(g->uuid), "GPU-%08x-1111-2222-3333-%012d", 0x5ca1ab1e + i, i);
	g->load = 0.3 + 0.08 * i;
	g->energy = 9.1e9 + 1e8 * i;
	/* Every metric valid; rows kept at 0 stay 0 (counters with no events). */
	for (int m = 0; m < METRIC_COUNT; m++)
		metric_set_add(&g->valid, m);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_store [--gpus N] [--days D] [--procs P] [--path FILE] "
	                "[--keep] [--retention-1s HOURS] [--sparse]\n");
	exit(2);
}

static void die(const char *what, struct store *s)
{
	fprintf(stderr, "bench_store: %s: %s\n", what, store_errmsg(s));
	exit(1);
}

/* Bytes per table and index from dbstat, where SQLite was built with it. */
static void table_sizes(const char *path, double gpu_days, double proc_days)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return;
	if (sqlite3_prepare_v2(db,
	                       "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC",
	                       -1, &st, NULL) != SQLITE_OK) {
		printf("  (no dbstat table in this SQLite: sizes per table not shown)\n");
		sqlite3_close(db);
		return;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		double bytes = sqlite3_column_double(st, 1);
		if (bytes < 65536)
			continue; /* the catalog, the GPU list, empty tables */
		bool proc = strncmp(name, "proc_", 5) == 0 || strstr(name, "processes");
		double per = proc ? (proc_days > 0 ? bytes / proc_days : 0) : bytes / gpu_days;
		printf("  %-36s %10.2f MB  %8.2f MB per %s-day\n", name, bytes / 1e6, per / 1e6,
		       proc ? "process" : "GPU");
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void query_cost(struct store *s, const char *uuid, int64_t end, int64_t seconds)
{
	struct store_request req[] = {{METRIC_GPU_UTIL, STORE_MEAN},
	                              {METRIC_GPM_SM_ACTIVE, STORE_MEAN},
	                              {METRIC_POWER, STORE_MAX},
	                              {METRIC_FB_USED, STORE_MAX}};
	struct store_series out;
	double t = now_s(CLOCK_MONOTONIC);
	if (store_query(s, uuid, end - seconds + 1, end, req, 4, STORE_RES_AUTO, &out) != STORE_OK)
		die("query", s);
	t = now_s(CLOCK_MONOTONIC) - t;
	printf("query %6lld s of 1 GPU, 4 series: %8.1f ms (%zu points at %llds)\n",
	       (long long)seconds, t * 1e3, out.n, (long long)out.step);
	store_series_free(&out);
}

int main(int argc, char **argv)
{
	int ngpus = 8, procs = 0;
	double days = 1;
	const char *path = NULL;
	bool keep = false, sparse = false;
	double retention_h = 48;
	if (argc == 3 && strcmp(argv[1], "--migrate") == 0) {
		struct store *s;
		char err[1024];
		double t = now_s(CLOCK_MONOTONIC), c = now_s(CLOCK_PROCESS_CPUTIME_ID);
		if (store_open(argv[2], NULL, &s, err, sizeof(err)) != STORE_OK) {
			fprintf(stderr, "bench_store: %s\n", err);
			return 1;
		}
		store_close(s);
		printf("writer open (migration included): %.2f s wall, %.2f s CPU\n",
		       now_s(CLOCK_MONOTONIC) - t, now_s(CLOCK_PROCESS_CPUTIME_ID) - c);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--gpus") == 0 && i + 1 < argc)
			ngpus = atoi(argv[++i]);
		else if (strcmp(argv[i], "--days") == 0 && i + 1 < argc)
			days = atof(argv[++i]);
		else if (strcmp(argv[i], "--procs") == 0 && i + 1 < argc)
			procs = atoi(argv[++i]);
		else if (strcmp(argv[i], "--path") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--keep") == 0)
			keep = true;
		else if (strcmp(argv[i], "--sparse") == 0)
			sparse = true;
		else if (strcmp(argv[i], "--retention-1s") == 0 && i + 1 < argc)
			retention_h = atof(argv[++i]);
		else
			usage();
	}
	if (ngpus < 1 || ngpus > 64 || days <= 0 || procs < 0 || retention_h < 1.0 / 60)
		usage();
	char tmp[256];
	if (!path) {
		const char *dir = getenv("TMPDIR");
		snprintf(tmp, sizeof(tmp), "%s/bench_store-%d.db", dir && *dir ? dir : "/tmp",
		         (int)getpid());
		path = tmp;
	}
	unlink(path);

	struct store_options o;
	struct store *s;
	char err[1024];
	store_options_default(&o);
	o.second_retention_s = (int64_t)(retention_h * 3600);
	if (store_open(path, &o, &s, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "bench_store: %s\n", err);
		return 1;
	}
	struct sim_gpu *gpus = calloc((size_t)ngpus, sizeof(*gpus));
	for (int i = 0; i < ngpus; i++)
		sim_init(&gpus[i], i);

	int64_t seconds = (int64_t)(days * 86400);
	uint64_t rows = 0, prow = 0;
	double cpu_sim = 0;
	double wall0 = now_s(CLOCK_MONOTONIC), cpu0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
	/* Seconds before this are folded into minutes by the end. */
	int64_t dense_from = START + seconds - o.second_retention_s - 120;
	for (int64_t k = 0; k < seconds; k++) {
		int64_t t = START + k;
		if (sparse && t < dense_from && t % 60 != 0)
			continue;
		double c = now_s(CLOCK_PROCESS_CPUTIME_ID);
		for (int i = 0; i < ngpus; i++)
			sim_second(&gpus[i]);
		cpu_sim += now_s(CLOCK_PROCESS_CPUTIME_ID) - c;
		for (int i = 0; i < ngpus; i++) {
			struct store_gpu_row row = {.uuid = gpus[i].uuid,
			                            .model = "NVIDIA H200",
			                            .t = t,
			                            .win = gpus[i].win,
			                            .raw = gpus[i].raw,
			                            .valid = &gpus[i].valid};
			if (store_put_gpu(s, &row) != STORE_OK)
				die("put", s);
			rows++;
			for (int p = 0; p < procs; p++) {
				char name[16];
				snprintf(name, sizeof(name), "vllm-%d", p);
				struct store_process_row pr = {
				    .t = t,
				    .uuid = gpus[i].uuid,
				    .pid = (unsigned)(40000 + i * 100 + p),
				    .name = name,
				    .container = "vllm",
				    .pod = "llama-3-70b-7d9f8c6b5-x2x4z",
				    .namespace_ = "inference",
				    .job = "",
				    .value = {[PROC_FAMILY_MEMORY] =
				                  gpus[i].win[METRIC_FB_USED].max / (procs + 1),
				              [PROC_FAMILY_SM] = gpus[i].load * (0.8 + 0.1 * rnd()),
				              [PROC_FAMILY_CPU] = 0.9 + rnd() * 0.3}};
				if (store_put_process(s, &pr) != STORE_OK)
					die("put process", s);
				prow++;
			}
		}
	}
	if (store_close(s) != STORE_OK) {
		fprintf(stderr, "bench_store: close failed\n");
		return 1;
	}
	double wall = now_s(CLOCK_MONOTONIC) - wall0;
	double cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0 - cpu_sim;

	struct stat stt;
	if (stat(path, &stt) != 0) {
		perror(path);
		return 1;
	}
	double gpu_days = ngpus * days;
	double proc_days = (double)procs * ngpus * days;
	printf("bench_store: %d GPUs x %.3g days at 1 s (%llu GPU rows, %llu process rows), "
	       "SQLite %s\n",
	       ngpus, days, (unsigned long long)rows, (unsigned long long)prow,
	       sqlite3_libversion());
	printf("file: %.1f MB = %.2f MB per GPU-day%s\n", (double)stt.st_size / 1e6,
	       (double)stt.st_size / gpu_days / 1e6, procs ? " (process rows included)" : "");
	table_sizes(path, gpu_days, proc_days);
	printf("ingest: %.0f rows/s wall; CPU %.1f us per row (%.1f us per GPU row with its %d "
	       "process rows)\n",
	       (double)(rows + prow) / wall, cpu / (double)(rows + prow) * 1e6,
	       cpu / (double)rows * 1e6, procs);
	double per_second = cpu / (double)seconds; /* CPU for one second of all GPUs */
	printf("agent at 1 row/s per GPU: %.3f ms CPU per second of %d GPUs = %.3f%% of one core "
	       "(budget 2%%)\n",
	       per_second * 1e3, ngpus, per_second * 100);

	/* Reads: the agent's restart (verified open) and two analysis windows. */
	store_options_default(&o);
	double t = now_s(CLOCK_MONOTONIC);
	if (store_open(path, &o, &s, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "bench_store: %s\n", err);
		return 1;
	}
	printf("open with quick_check: %.0f ms for %.0f MB\n", (now_s(CLOCK_MONOTONIC) - t) * 1e3,
	       (double)stt.st_size / 1e6);
	int64_t end = START + seconds - 1;
	query_cost(s, gpus[0].uuid, end, seconds < 3600 ? seconds : 3600);
	query_cost(s, gpus[0].uuid, end, seconds < 86400 ? seconds : 86400);
	store_close(s);
	if (!keep) {
		char side[300];
		unlink(path);
		snprintf(side, sizeof(side), "%s-wal", path);
		unlink(side);
		snprintf(side, sizeof(side), "%s-shm", path);
		unlink(side);
	}
	free(gpus);
	return 0;
}
