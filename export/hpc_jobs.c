/* hpc_jobs.c - dcgm-exporter's HPC job mapping directory; see hpc_jobs.h.
 *
 * The map is rebuilt whole from the directory (at most HPC_JOBS_FILES small files) and
 * published by pointer swap under a mutex; a renderer holds a reference, so a rebuild never
 * frees a map that is being written out.  Reading the directory costs a few syscalls per
 * file; it happens on the rendering path at most once a second, not per series.
 */
#include "export/hpc_jobs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HPC_REREAD_S 1.0

struct hpc_entry {
	unsigned gpu;
	int gi;
	struct hpc_job_list jobs;
};

struct hpc_map {
	atomic_int refs;
	unsigned n;
	struct hpc_entry e[HPC_JOBS_FILES];
};

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned min;
	unsigned cp;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, min = 0x80, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, min = 0x800, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, min = 0x10000, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* A job id must be a label value Prometheus takes: UTF-8 without control bytes. */
static bool usable(const char *s, size_t n)
{
	if (n == 0 || n >= HPC_JOB_ID_MAX)
		return false;
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
		size_t l = utf8_len(p + i, n - i);
		if (l == 0)
			return false;
		i += l;
	}
	return true;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

void hpc_jobs_parse(const char *buf, size_t len, struct hpc_job_list *out)
{
	memset(out, 0, sizeof(*out));
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;
		const char *s = p, *e = eol ? eol : end;
		p = next;
		while (s < e && is_blank(*s))
			s++;
		while (e > s && is_blank(e[-1]))
			e--;
		if (s == e)
			continue; /* a blank line is no job (dcgm-exporter would label it "") */
		size_t n = (size_t)(e - s);
		bool dup = false;
		for (unsigned k = 0; k < out->n && !dup; k++)
			dup = strlen(out->job[k]) == n && memcmp(out->job[k], s, n) == 0;
		if (dup || !usable(s, n) || out->n >= HPC_JOBS_PER_GPU) {
			out->skipped++;
			continue;
		}
		memcpy(out->job[out->n], s, n);
		out->job[out->n][n] = 0;
		out->n++;
	}
}

static bool decimal(const char *s, size_t n, unsigned *v)
{
	if (n == 0 || n > 9)
		return false;
	unsigned x = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (unsigned)(s[i] - '0');
	}
	*v = x;
	return true;
}

bool hpc_jobs_file_name(const char *name, unsigned *gpu, int *gi)
{
	const char *dot = strchr(name, '.');
	size_t n = strlen(name);
	if (!dot) {
		*gi = -1;
		return decimal(name, n, gpu);
	}
	unsigned g;
	if (!decimal(name, (size_t)(dot - name), gpu) ||
	    !decimal(dot + 1, n - (size_t)(dot - name) - 1, &g))
		return false;
	*gi = (int)g;
	return true;
}

const struct hpc_job_list *hpc_map_find(const struct hpc_map *m, unsigned gpu, int gi)
{
	for (unsigned i = 0; m && i < m->n; i++)
		if (m->e[i].gpu == gpu && m->e[i].gi == gi)
			return m->e[i].jobs.n ? &m->e[i].jobs : NULL;
	return NULL;
}

/* ---- the directory, read again at most once a second ---- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *map_dir;           /* NULL: mapping off */
static struct hpc_map *current; /* under lock; one reference is the module's */
static double read_at = -1e9;   /* monotonic seconds of the last read */
static int said_errno;          /* the last directory error said on stderr */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void read_file(int dirfd, const char *name, struct hpc_job_list *out)
{
	char buf[HPC_JOBS_FILE_MAX];
	memset(out, 0, sizeof(*out));
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	size_t got = 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		ssize_t r;
		while (got < sizeof(buf) && (r = read(fd, buf + got, sizeof(buf) - got)) > 0)
			got += (size_t)r;
	}
	close(fd);
	hpc_jobs_parse(buf, got, out);
}

static struct hpc_map *read_dir(const char *dir)
{
	struct hpc_map *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	atomic_init(&m->refs, 1);
	DIR *d = opendir(dir);
	if (!d) {
		if (errno != said_errno)
			fprintf(stderr,
			        "gpuscope: --hpc-job-mapping-dir %s: %s; no hpc_job labels "
			        "until it can be read\n",
			        dir, strerror(errno));
		said_errno = errno;
		return m;
	}
	said_errno = 0;
	struct dirent *de;
	while ((de = readdir(d)) && m->n < HPC_JOBS_FILES) {
		struct hpc_entry *e = &m->e[m->n];
		if (!hpc_jobs_file_name(de->d_name, &e->gpu, &e->gi))
			continue;
		read_file(dirfd(d), de->d_name, &e->jobs);
		m->n++;
	}
	closedir(d);
	return m;
}

int hpc_jobs_start(const char *dir)
{
	char *copy = strdup(dir);
	if (!copy)
		return -1;
	pthread_mutex_lock(&lock);
	free(map_dir);
	map_dir = copy;
	read_at = -1e9;
	pthread_mutex_unlock(&lock);
	return 0;
}

const struct hpc_map *hpc_jobs_acquire(void)
{
	pthread_mutex_lock(&lock);
	if (!map_dir) {
		pthread_mutex_unlock(&lock);
		return NULL;
	}
	double now = now_s();
	if (!current || now - read_at >= HPC_REREAD_S) {
		struct hpc_map *fresh = read_dir(map_dir);
		if (fresh) {
			if (current)
				hpc_map_release(current);
			current = fresh;
		}
		read_at = now;
	}
	struct hpc_map *m = current;
	if (m)
		atomic_fetch_add(&m->refs, 1);
	pthread_mutex_unlock(&lock);
	return m;
}

void hpc_map_release(const struct hpc_map *m)
{
	struct hpc_map *w = (struct hpc_map *)m;
	if (w && atomic_fetch_sub(&w->refs, 1) == 1)
		free(w);
}

void hpc_jobs_stop(void)
{
	pthread_mutex_lock(&lock);
	free(map_dir);
	map_dir = NULL;
	if (current)
		hpc_map_release(current);
	current = NULL;
	pthread_mutex_unlock(&lock);
}
