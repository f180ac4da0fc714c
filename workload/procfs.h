/* procfs.h - read and parse /proc/PID/{stat,status,cmdline} into caller buffers.
 *
 * Nothing here allocates: the attribution sweep reads /proc/PID/stat for every GPU process
 * on every slow-tier sweep, so readers fill stack buffers and parsers take (buffer, length)
 * pairs, which also lets tests feed them truncated or binary input directly.
 * A process can exit between NVML listing it and us reading it: that is PROCFS_GONE, an
 * expected answer, never an error to log. */
#ifndef GPUSCOPE_WORKLOAD_PROCFS_H
#define GPUSCOPE_WORKLOAD_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum procfs_result {
	PROCFS_OK = 0,
	PROCFS_GONE,     /* ENOENT/ESRCH: the process exited (or is hidden by hidepid=) */
	PROCFS_DENIED,   /* EACCES/EPERM */
	PROCFS_GARBAGE,  /* the file was read but does not parse */
	PROCFS_IO_ERROR, /* anything else (EMFILE, EIO, ...) */
};

/* "comm" is at most 15 bytes in the kernel (TASK_COMM_LEN 16); 64 leaves room for fixtures and
 * future kernels while still bounding the record. */
#define PROCFS_COMM_MAX 64

/* The fields of /proc/PID/stat the attribution uses. Field numbers as in proc(5). */
struct procfs_stat {
	pid_t pid;                  /* (1) */
	char comm[PROCFS_COMM_MAX]; /* (2) without the parentheses; may hold spaces and ')' */
	char state;                 /* (3) R S D Z T ... */
	pid_t ppid;                 /* (4) */
	uint64_t utime_ticks;       /* (14) */
	uint64_t stime_ticks;       /* (15) */
	uint32_t num_threads;       /* (20) */
	uint64_t start_time_ticks;  /* (22) clock ticks after boot: (pid, start) names a process */
	uint64_t rss_pages;         /* (24) */
};

/* Parses one stat line. The comm field is delimited by the first '(' and the LAST ')' of the
 * buffer, so "(a) b)" parses as comm "a) b". Returns PROCFS_OK or PROCFS_GARBAGE. */
enum procfs_result procfs_parse_stat(const char *buf, size_t len, struct procfs_stat *out);

/* Finds "Uid:\treal\teffective\t..." in /proc/PID/status and returns the effective uid (the one
 * ps and top show). PROCFS_GARBAGE when absent or malformed. */
enum procfs_result procfs_parse_status_uid(const char *buf, size_t len, uint32_t *euid);

/* Writes the basename of argv[0] (cmdline up to the first NUL, after the last '/') to out.
 * Returns its length; 0 for an empty cmdline (kernel threads, zombies). */
size_t procfs_cmdline_basename(const char *buf, size_t len, char *out, size_t out_cap);

/* Reads "<proc_dirfd>/<pid>/<file>" into buf (NUL-terminated, at most cap - 1 bytes; a longer
 * file is truncated, which suits every file read here). */
enum procfs_result procfs_read(int proc_dirfd, pid_t pid, const char *file, char *buf, size_t cap,
                               size_t *len);

/* Opens "<proc_dirfd>/<pid>/<file>" to be read again and again with procfs_reread. Returns
 * the fd, or -1 with *result saying why. */
int procfs_open(int proc_dirfd, pid_t pid, const char *file, enum procfs_result *result);

/* Reads an open /proc file again from offset 0 (pread: no seek, no re-open). On procfs an fd
 * of a process that was reaped answers ESRCH, PROCFS_GONE, even when its pid was reused
 * since: the fd names the process, not the number. A zombie still reads. */
enum procfs_result procfs_reread(int fd, char *buf, size_t cap, size_t *len);

/* True when dirfd is on a real procfs (where procfs_reread's ESRCH promise holds), false on
 * any other file system (fixture trees, where files are replaced rather than re-rendered). */
bool procfs_is_procfs(int dirfd);

/* True when dirfd is a procfs of our own pid namespace: its "self" link names getpid(). Pids
 * read there then mean to pidfd_open and clock_getcpuclockid what they mean in the files.
 * False for another namespace's procfs (a host's /proc mounted into a container without its
 * pid namespace shows us under another number, or not at all) and for any other tree. */
bool procfs_pids_are_ours(int dirfd);

/* "ok", "gone", "denied", "garbage", "io_error". */
const char *procfs_result_name(enum procfs_result r);

#endif
