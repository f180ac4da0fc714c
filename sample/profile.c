/* profile.c - per-source CPU accounting for benchmarks (see profile.h). */
#include "sample/profile.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_llong cpu_ns[TIER_COUNT][PROFILE_ROWS];
static atomic_llong calls[TIER_COUNT][PROFILE_ROWS];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool enabled;

static void read_env(void)
{
	const char *v = getenv("GPUSCOPE_PROFILE");
	enabled = v && *v && strcmp(v, "0") != 0;
}

bool profile_enabled(void)
{
	pthread_once(&once, read_env);
	return enabled;
}

long long profile_begin(void)
{
	if (!profile_enabled())
		return 0;
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void profile_end(int tier, int row, long long begun)
{
	if (!profile_enabled() || tier < 0 || tier >= TIER_COUNT || row < 0 || row >= PROFILE_ROWS)
		return;
	long long now = profile_begin();
	atomic_fetch_add_explicit(&cpu_ns[tier][row], now - begun, memory_order_relaxed);
	atomic_fetch_add_explicit(&calls[tier][row], 1, memory_order_relaxed);
}

static const char *row_name(int row)
{
	if (row < SRC_COUNT)
		return source_table[row].name;
	switch (row) {
	case PROFILE_PROCESSES:
		return "PROCESSES";
	case PROFILE_PROCESS_LISTS:
		return "PROCESS_LISTS";
	case PROFILE_PROCESS_UTIL:
		return "PROCESS_UTIL";
	default:
		return "MIG";
	}
}

void profile_print(FILE *to, double seconds)
{
	if (!profile_enabled() || seconds <= 0)
		return;
	for (int t = 0; t < TIER_COUNT; t++)
		for (int r = 0; r < PROFILE_ROWS; r++) {
			long long n = atomic_load(&calls[t][r]);
			if (n == 0)
				continue;
			double ns = (double)atomic_load(&cpu_ns[t][r]);
			fprintf(to, "profile %s %s %lld %.1f %.3f\n",
			        sample_tier_name((enum sample_tier)t), row_name(r), n,
			        ns / (double)n / 1e3, ns / 1e6 / seconds);
		}
}
