/* procfs.c - /proc/PID file readers and parsers; see procfs.h.
 *
 * The parsers walk (buffer, length) with explicit bounds and never trust a NUL terminator, so
 * a truncated or binary file yields PROCFS_GARBAGE rather than a read past the end. */
#include "workload/procfs.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

/* Parses an unsigned decimal at *p (no sign, no spaces); advances *p. False on no digits or
 * overflow. */
static bool parse_u64(const char **p, const char *end, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	if (s >= end || *s < '0' || *s > '9')
		return false;
	while (s < end && *s >= '0' && *s <= '9') {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
		s++;
	}
	*p = s;
	*out = v;
	return true;
}

/* Signed variant for fields that may be negative in odd cases (ppid is never, but be strict
 * about the shape rather than the sign). */
static bool parse_i64(const char **p, const char *end, int64_t *out)
{
	bool neg = false;
	uint64_t v;
	if (*p < end && **p == '-') {
		neg = true;
		(*p)++;
	}
	if (!parse_u64(p, end, &v) || v > (uint64_t)INT64_MAX)
		return false;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return true;
}

static const char *skip_spaces(const char *p, const char *end)
{
	while (p < end && *p == ' ')
		p++;
	return p;
}

/* Advances past one space-separated field. False when the buffer ends first. */
static bool skip_field(const char **p, const char *end)
{
	const char *s = skip_spaces(*p, end);
	if (s >= end || *s == '\n')
		return false;
	while (s < end && *s != ' ' && *s != '\n')
		s++;
	*p = s;
	return true;
}

/* A whole field must be the number: "12x" is garbage, not 12. */
static bool field_ends(const char *p, const char *end)
{
	return p >= end || *p == ' ' || *p == '\n';
}

static bool parse_unsigned_field(const char *p, const char *end, uint64_t *out)
{
	return parse_u64(&p, end, out) && field_ends(p, end);
}

static bool parse_number_field(const char *p, const char *end, int64_t *out)
{
	return parse_i64(&p, end, out) && field_ends(p, end);
}

enum procfs_result procfs_parse_stat(const char *buf, size_t len, struct procfs_stat *out)
{
	assert(buf && out);
	const char *end = buf + len;
	const char *p = buf;
	memset(out, 0, sizeof(*out));

	int64_t pid;
	if (!parse_i64(&p, end, &pid) || pid <= 0 || pid > INT32_MAX)
		return PROCFS_GARBAGE;
	out->pid = (pid_t)pid;
	if (end - p < 2 || p[0] != ' ' || p[1] != '(')
		return PROCFS_GARBAGE;
	const char *comm = p + 2;
	const char *close = NULL;
	for (const char *q = end; q > comm; q--) {
		if (q[-1] == ')') {
			close = q - 1;
			break;
		}
	}
	if (!close)
		return PROCFS_GARBAGE;
	size_t comm_len = (size_t)(close - comm);
	if (comm_len >= sizeof(out->comm))
		comm_len = sizeof(out->comm) - 1;
	memcpy(out->comm, comm, comm_len);
	out->comm[comm_len] = 0;
	/* A NUL inside comm would cut the label short; show it as '?' instead. */
	for (size_t i = 0; i < comm_len; i++)
		if (out->comm[i] == 0)
			out->comm[i] = '?';

	/* Fields 3 .. 24 after the comm: locate each, then parse the ones kept. */
	enum { FIRST = 3, LAST = 24 };
	const char *field[LAST + 1] = {0};
	p = close + 1;
	for (int f = FIRST; f <= LAST; f++) {
		p = skip_spaces(p, end);
		field[f] = p;
		if (!skip_field(&p, end))
			return PROCFS_GARBAGE;
	}
	if (field[3][0] < 'A' || field[3][0] > 'z' || (field[3] + 1 < end && field[3][1] != ' '))
		return PROCFS_GARBAGE;
	out->state = field[3][0];

	int64_t ppid, threads, rss;
	uint64_t utime, stime, start;
	if (!parse_number_field(field[4], end, &ppid) || ppid < 0 || ppid > INT32_MAX ||
	    !parse_unsigned_field(field[14], end, &utime) ||
	    !parse_unsigned_field(field[15], end, &stime) ||
	    !parse_number_field(field[20], end, &threads) || threads < 0 || threads > UINT32_MAX ||
	    !parse_unsigned_field(field[22], end, &start) ||
	    !parse_number_field(field[24], end, &rss))
		return PROCFS_GARBAGE;
	out->ppid = (pid_t)ppid;
	out->utime_ticks = utime;
	out->stime_ticks = stime;
	out->num_threads = (uint32_t)threads;
	out->start_time_ticks = start;
	out->rss_pages = rss < 0 ? 0 : (uint64_t)rss; /* transiently negative on old kernels */
	return PROCFS_OK;
}

enum procfs_result procfs_parse_status_uid(const char *buf, size_t len, uint32_t *euid)
{
	assert(buf && euid);
	const char *end = buf + len;
	const char *line = buf;
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *line_end = nl ? nl : end;
		if (line_end - line > 4 && memcmp(line, "Uid:", 4) == 0) {
			const char *p = line + 4;
			uint64_t uid[2];
			for (int i = 0; i < 2; i++) {
				while (p < line_end && (*p == '\t' || *p == ' '))
					p++;
				if (!parse_u64(&p, line_end, &uid[i]) || uid[i] > UINT32_MAX)
					return PROCFS_GARBAGE;
			}
			*euid = (uint32_t)uid[1];
			return PROCFS_OK;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	return PROCFS_GARBAGE;
}

size_t procfs_cmdline_basename(const char *buf, size_t len, char *out, size_t out_cap)
{
	assert(out && out_cap > 0);
	const char *nul = memchr(buf, 0, len);
	size_t arg0_len = nul ? (size_t)(nul - buf) : len;
	const char *base = buf;
	for (size_t i = 0; i < arg0_len; i++)
		if (buf[i] == '/')
			base = buf + i + 1;
	size_t n = arg0_len - (size_t)(base - buf);
	if (n >= out_cap)
		n = out_cap - 1;
	memcpy(out, base, n);
	out[n] = 0;
	return n;
}

static enum procfs_result result_from_errno(int err)
{
	switch (err) {
	case ENOENT:
	case ESRCH:
	case ENOTDIR:
		return PROCFS_GONE;
	case EACCES:
	case EPERM:
		return PROCFS_DENIED;
	default:
		return PROCFS_IO_ERROR;
	}
}

int procfs_open(int proc_dirfd, pid_t pid, const char *file, enum procfs_result *result)
{
	assert(file && result);
	char rel[64];
	if (pid <= 0) {
		*result = PROCFS_GONE;
		return -1;
	}
	int n = snprintf(rel, sizeof(rel), "%d/%s", (int)pid, file);
	assert(n > 0 && (size_t)n < sizeof(rel));
	(void)n;
	int fd = openat(proc_dirfd, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	*result = fd < 0 ? result_from_errno(errno) : PROCFS_OK;
	return fd;
}

enum procfs_result procfs_reread(int fd, char *buf, size_t cap, size_t *len)
{
	assert(buf && cap > 1 && len);
	size_t got = 0;
	enum procfs_result r = PROCFS_OK;
	while (got < cap - 1) {
		ssize_t k = pread(fd, buf + got, cap - 1 - got, (off_t)got);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = result_from_errno(errno);
			got = 0;
			break;
		}
		if (k == 0)
			break;
		got += (size_t)k;
	}
	buf[got] = 0;
	*len = got;
	return r;
}

enum procfs_result procfs_read(int proc_dirfd, pid_t pid, const char *file, char *buf, size_t cap,
                               size_t *len)
{
	assert(buf && cap > 1 && len);
	*len = 0;
	buf[0] = 0;
	enum procfs_result r;
	int fd = procfs_open(proc_dirfd, pid, file, &r);
	if (fd < 0)
		return r;
	r = procfs_reread(fd, buf, cap, len);
	close(fd);
	return r;
}

bool procfs_is_procfs(int dirfd)
{
	struct statfs st;
	return fstatfs(dirfd, &st) == 0 && st.f_type == PROC_SUPER_MAGIC;
}

bool procfs_pids_are_ours(int dirfd)
{
	char link[32], pid[32];
	if (!procfs_is_procfs(dirfd))
		return false;
	ssize_t n = readlinkat(dirfd, "self", link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = 0;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	return strcmp(link, pid) == 0;
}

const char *procfs_result_name(enum procfs_result r)
{
	switch (r) {
	case PROCFS_OK:
		return "ok";
	case PROCFS_GONE:
		return "gone";
	case PROCFS_DENIED:
		return "denied";
	case PROCFS_GARBAGE:
		return "garbage";
	case PROCFS_IO_ERROR:
		return "io_error";
	}
	return "unknown";
}
