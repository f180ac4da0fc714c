/* schedule.h - when each source of a GPU is read next.
 *
 * The sampler keeps, per GPU, one list of {source, period, next due} built
 * from the sources table (series/metric_table.h: each source's thread and
 * period) and the flags that set the periods; each sampling thread reads,
 * at each of its steps, the sources of its own that are due.  Nothing else
 * decides when a call is made: readers keep no clocks, and the board keeps a
 * source's last values until it is read again (series/board.h).
 *
 * Timing is fixed-rate: the next read is due one period after the last was
 * due (after the first read, which anchors the grid to the thread's steps),
 * so a source does not drift later by a step's length each time; one that
 * fell behind by more than a period starts afresh rather than bursting.
 * A read may come up to `slack` early (half its thread's step), so a source
 * whose period is a multiple of its thread's is read every Nth step and not
 * every N+1st when a step wakes a little early.
 *
 * One rule for dear calls: a source read by the GPU's worker whose read cost
 * more than SCHED_DEAR_S of the thread's CPU has its period stretched
 * SCHED_STRETCH times, until a read costs less again.  On an H200 it catches
 * the NVLink data counters (16 ms for 18 links, every 10 min at the default
 * 60 s) and nothing else (the energy counter costs 3.4-7.6 ms).  The fast
 * sweeper's sources are not timed: two clock reads per call would cost more
 * than most of its calls.
 *
 * Every function takes `now` (monotonic seconds) rather than reading a
 * clock, so the unit test drives it with a fake one.
 */
#ifndef GPUSCOPE_SCHEDULE_H
#define GPUSCOPE_SCHEDULE_H

#include <stdbool.h>

#include "sample/sampler.h"
#include "series/metric_table.h"

#define SCHED_DEAR_S  0.010 /* CPU seconds of one read */
#define SCHED_STRETCH 10

/* Which thread reads a source: the sweeper (fast and buffer tiers) or the GPU's worker (slow
 * and costly tiers); the others are not scheduled. */
enum sched_thread { SCHED_SWEEPER, SCHED_WORKER, SCHED_NONE };

struct sched_entry {
	unsigned char src;     /* enum source_id */
	unsigned char thread;  /* enum sched_thread */
	unsigned char stretch; /* 1, or SCHED_STRETCH after a dear read */
	bool anchored;         /* read once: due times follow from the first read's */
	double base;           /* seconds: what the table and the flags say */
	double period;         /* base * stretch */
	double slack;          /* a read this early still counts */
	double due;            /* monotonic seconds */
	double cost;           /* CPU seconds of the last read (worker sources) */
};

struct schedule {
	unsigned n;
	struct sched_entry e[SRC_COUNT];
};

enum sched_thread sched_thread_of(enum source_id src);

/* The period of a source by the table and cfg; 0 for sources not scheduled. */
double sched_base_period(enum source_id src, const struct sampler_config *cfg);

/* Adds src to s, first due at `first_due`; ignored when src is not scheduled. */
void sched_add(struct schedule *s, enum source_id src, const struct sampler_config *cfg,
               double first_due);

/* The entry of src, or NULL. */
struct sched_entry *sched_find(struct schedule *s, enum source_id src);

/* True when entry e is to be read at `now`. */
bool sched_is_due(const struct sched_entry *e, double now);

/* Records a read of e at `now` that cost `cpu_s` (0 when not timed): sets the next due time
 * and applies the rule for dear reads to worker sources.  A read that was skipped
 * (SOURCE_SKIPPED) is not recorded: the source is tried again at its thread's next step. */
void sched_done(struct sched_entry *e, double now, double cpu_s);

#endif
