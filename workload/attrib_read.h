/* attrib_read.h - reading one process for attribution: /proc/PID/stat, the identity files
 * (cgroup, status, cmdline) and the CPU clock (attrib_clock.h), into its slot.
 *
 * Internal to the attribution: attrib.c decides what a sweep reads and when, in which order,
 * and what it keeps; attrib_read.c does the reading and takes what it read into the slot.
 * struct attrib, which both use, is defined here; nothing outside those two files sees it. */
#ifndef GPUSCOPE_WORKLOAD_ATTRIB_READ_H
#define GPUSCOPE_WORKLOAD_ATTRIB_READ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "workload/attrib.h"
#include "workload/attrib_clock.h"
#include "workload/attrib_names.h"
#include "workload/attrib_table.h"

#define NS_PER_S 1000000000.0

struct attrib {
	struct attrib_config cfg; /* paths point at the copies below */
	char *proc_root, *passwd_path, *pod_log_dir, *container_log_dir, *kubelet_socket;
	int proc_dirfd;
	bool hold_fds;   /* proc_root is a real procfs and max_held_fds > 0, no clock_path */
	bool clock_path; /* CPU from pidfds and CPU clocks (attrib_clock.h) */
	struct attrib_clock_batch batch; /* this sweep's pidfds, with clock_path */
	long clock_ticks;
	long page_size;

	struct attrib_table table;
	uint64_t sweep;
	struct attrib_stats stats;
	char scratch[8192]; /* file contents; the sweep is single-threaded */

	/* Name tables: written by attrib_refresh (under names_lock), read by the sweep. */
	pthread_mutex_t names_lock;
	bool names_lock_ready;
	_Atomic uint64_t names_generation;
	struct attrib_names names;
	uint64_t refreshes;
	int64_t names_next_ns;                  /* refresh thread only */
	struct attrib_names_stamp passwd_stamp; /* refresh thread only */
};

/* Closes a held stat fd or pidfd (-1 is left alone) and counts it off held_fds. */
void attrib_read_close_fd(struct attrib *a, int *fd);

/* Reads /proc/PID/stat and takes all of it: pid reuse, comm, state, ppid, threads, RSS,
 * identity when due, and CPU from stat's ticks, or from *clock_cpu_ns when the caller holds a
 * reading of the process's CPU clock known to be this process's (NULL otherwise). With
 * clock_path, a process without a pidfd is given one (attrib_clock.h). */
void attrib_read_stat(struct attrib *a, struct attrib_entry *e, int64_t now_ns,
                      const uint64_t *clock_cpu_ns);

/* The CPU-clock path, for a process with a pidfd. First pass: reads its clock and queues its
 * pidfd (slot is its slot) in a->batch. Second pass, after the batch's poll: keeps the
 * reading if the process is alive (reading stat too when its stat_refresh_s is due, and
 * identity when due), else drops the reading and the pidfd and reads stat instead. */
void attrib_read_clock(struct attrib *a, struct attrib_entry *e, uint32_t slot);
void attrib_read_clock_polled(struct attrib *a, struct attrib_entry *e, int64_t now_ns, bool alive);

#endif
