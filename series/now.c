/* now.c - the agent's clocks (see now.h). */
#include "series/now.h"

#include <time.h>

static double read_clock(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double mono_now(void)
{
	return read_clock(CLOCK_MONOTONIC);
}

double wall_now(void)
{
	return read_clock(CLOCK_REALTIME);
}

double thread_cpu_now(void)
{
	return read_clock(CLOCK_THREAD_CPUTIME_ID);
}
