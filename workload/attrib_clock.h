/* attrib_clock.h - the CPU-clock path of attribution: per process a pidfd and its CPU clock,
 * the clocks read every sweep, and one poll over all pidfds to learn which processes exited.
 *
 * Reading /proc/PID/stat every sweep for the CPU time makes the kernel render 52 fields, sum
 * every thread and read the mm counters: about 4.5 us a process on a small VM, most of a
 * sweep. clock_gettime on the process CPU clock (clock_getcpuclockid) gives the counter stat
 * derives utime+stime from, summed over threads, in nanoseconds, for a fraction of that and
 * with no permission needed. But a clock id names a pid number, not a process, and the number
 * can be reused between two reads. A pidfd names the process and polls readable once it
 * exits. So a sweep reads every clock first, then polls every pidfd once (timeout 0): a
 * process still alive at the poll held its pid through the read, so the reading is its own.
 * A reading whose pidfd is readable is thrown away; attrib.c then resolves the pid through
 * stat, as it does without this path.
 *
 * It works only where pid numbers mean to us what they mean in proc_root (the clock and the
 * pidfd take our pid namespace's numbers) and where pidfd_open exists (Linux 5.3) and is
 * allowed (a seccomp profile may answer EPERM). Elsewhere attribution reads stat every
 * sweep, as before. Nothing here allocates after attrib_clock_batch_init. */
#ifndef GPUSCOPE_WORKLOAD_ATTRIB_CLOCK_H
#define GPUSCOPE_WORKLOAD_ATTRIB_CLOCK_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* True when pidfd_open works here (probed on our own pid): false on ENOSYS (before Linux
 * 5.3) and EPERM (seccomp). */
bool attrib_clock_supported(void);

/* Opens a pidfd for pid and finds its process CPU clock. Returns the pidfd, or -1 with errno
 * set (ESRCH: no such process; EMFILE; ENOSYS, EPERM). The caller checks that the pidfd names
 * the process it meant (the pid may have been reused just before). */
int attrib_clock_open(pid_t pid, clockid_t *clock);

/* The process's CPU time (all its threads, live and exited) in ns. False when the clock cannot
 * be read: its pid is gone. The reading may be of another process than the caller means
 * until a poll has shown the pidfd not readable. */
bool attrib_clock_read(clockid_t clock, uint64_t *cpu_ns);

/* The pidfds of one sweep, polled together. */
struct attrib_clock_batch {
	struct pollfd *fds;
	uint32_t *slots; /* the caller's slot of each fds[i] */
	size_t count;
	size_t capacity; /* no more pidfds than this are ever held */
};

/* False on out-of-memory. */
bool attrib_clock_batch_init(struct attrib_clock_batch *b, size_t capacity);
void attrib_clock_batch_free(struct attrib_clock_batch *b);

void attrib_clock_batch_add(struct attrib_clock_batch *b, int pidfd, uint32_t slot);

/* One poll() over the batch, timeout 0. Should the poll itself fail, every process counts as
 * exited: the caller then resolves them all through stat, which is safe, only dearer. */
void attrib_clock_batch_poll(struct attrib_clock_batch *b);

/* After the poll: false when fds[i]'s process exited (or the pidfd is bad). */
bool attrib_clock_batch_alive(const struct attrib_clock_batch *b, size_t i);

#endif
