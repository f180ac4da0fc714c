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
 * The idle rule (issue 18): a GPU that has looked idle for a whole idle
 * period (--idle-interval, default 1 s; 0 or a period not longer than the
 * fast one turns it off) has its fast sources read every idle period
 * instead of every fast period, all but one: the wake source, GPU
 * utilization, the cheapest call that shows work starting (0.2-0.3 us on an
 * H200, ../shared/facts), which is still read at every fast step.  Idle
 * means, in every reading of the stretch: utilization of the GPU and of its
 * memory 0, encoder and decoder 0, no process in the slow tier's last list
 * (without a list, --no-processes, the readings alone decide), the
 * clock-event reasons as they were when the stretch began, and power no more
 * than SCHED_IDLE_POWER_RISE times the stretch's lowest reading plus
 * SCHED_IDLE_POWER_SLACK_MW.  The first reading that is not idle (the wake
 * source's at the next fast step, or a slowed source's when it is next read)
 * puts every fast source back on its own period, those not read in that step
 * due at once: the same step reads them (sched_idle_judge says so).  Sources that are not due keep
 * their values on the board, whose staleness is judged against the period
 * each was read at, so nothing goes missing from /metrics; the buffer tier
 * (2 s, what the driver keeps) and the worker's sources are not touched.
 * On the simulator's 64 idle GPUs it cuts the fast sweeper's CPU about
 * five-fold (bench/README.md, "64 GPUs, idle").
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

/* The idle rule's wake source, and how far power may rise over the idle stretch's lowest
 * reading before the GPU counts as working (idle H200s read 70-120 W; one at work, hundreds). */
#define SCHED_WAKE_SOURCE         SRC_UTILIZATION
#define SCHED_IDLE_POWER_RISE     1.2
#define SCHED_IDLE_POWER_SLACK_MW 10000.0

/* What the slow tier's process list says, for the idle rule: a count of processes, or */
#define SCHED_PROCS_UNLISTED (-1) /* no list (--no-processes, or the driver will not list) */
#define SCHED_PROCS_PENDING  (-2) /* not listed yet: counts as in use */

/* Which thread reads a source: the sweeper (fast and buffer tiers) or the GPU's worker (slow
 * and costly tiers); the others are not scheduled. */
enum sched_thread { SCHED_SWEEPER, SCHED_WORKER, SCHED_NONE };

struct sched_entry {
	unsigned char src;     /* enum source_id */
	unsigned char thread;  /* enum sched_thread */
	unsigned char stretch; /* 1, or SCHED_STRETCH after a dear read */
	bool anchored;         /* read once: due times follow from the first read's */
	double base;           /* seconds: what the table and the flags say */
	double period;         /* base * stretch, or idle_period while the GPU is idle */
	double idle_period;    /* while idle (the idle rule); 0: not under the rule */
	double slack;          /* a read this early still counts */
	double due;            /* monotonic seconds */
	double cost;           /* CPU seconds of the last read (worker sources) */
};

/* The idle rule's state for one GPU (touched by its sweeper only). */
struct sched_idle {
	double period; /* --idle-interval when the rule applies (the wake source is read); 0: off */
	bool idle;     /* the fast sources are on their idle periods now */
	bool quiet;    /* every reading since quiet_since looked idle */
	double quiet_since;
	bool have_power, have_reasons; /* the stretch's references, once read */
	double power_floor;            /* mW: the stretch's lowest power */
	unsigned long long reasons;    /* clock-event reasons when the stretch began */
	unsigned entered;              /* times the GPU went idle, for the profile */
	double idle_since, idle_total; /* seconds spent idle, for the profile */
};

struct schedule {
	unsigned n;
	struct sched_entry e[SRC_COUNT]; /* the wake source, when scheduled, is e[0] */
	struct sched_idle idle;
};

enum sched_thread sched_thread_of(enum source_id src);

/* The period of a source by the table and cfg; 0 for sources not scheduled. */
double sched_base_period(enum source_id src, const struct sampler_config *cfg);

/* The period of a source while its GPU is idle (the idle rule); 0 when the rule does not slow
 * it (off, the wake source, not a fast-tier source, or already that slow). */
double sched_idle_period(enum source_id src, const struct sampler_config *cfg);

/* Adds src to s, first due at `first_due`; ignored when src is not scheduled.  The wake source
 * goes first, so a step reads it before the others, and turns the idle rule on. */
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

/* The idle rule, after a fast step at `now` read what `got` marks into raw[]; `procs` is the
 * process count of the slow tier's last list (or SCHED_PROCS_*).  Puts the GPU's fast
 * sources on their idle periods once it has looked idle for a whole idle period; returns true
 * when a reading woke it: its fast sources that this step did not read are then due at `now`,
 * for the caller to read. */
bool sched_idle_judge(struct schedule *s, double now, const double *raw, const metric_set *got,
                      int procs);

#endif
