/* now.h - the agent's three clocks, in seconds as doubles.
 *
 * Monotonic time schedules reads and judges staleness; wall-clock time
 * stamps window buckets and matches the driver's sample timestamps; a
 * thread's CPU time measures what a call cost.  Every room reads time
 * through these, so a test can see at a glance which clock a rule uses
 * (the sampler's schedule itself takes `now` as an argument, which is how
 * its unit test runs on a fake clock).
 */
#ifndef GPUSCOPE_NOW_H
#define GPUSCOPE_NOW_H

/* CLOCK_MONOTONIC. */
double mono_now(void);
/* Wall-clock seconds since the epoch (window buckets, driver timestamps). */
double wall_now(void);
/* CPU seconds the calling thread has used. */
double thread_cpu_now(void);

#endif
