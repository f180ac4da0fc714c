/* attrib_clock.c - pidfds, process CPU clocks and the one poll per sweep; see
 * attrib_clock.h. */
#include "workload/attrib_clock.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* the same number on every architecture */
#endif

static int pidfd_open(pid_t pid)
{
	/* pidfds are always close-on-exec. */
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

bool attrib_clock_supported(void)
{
	int fd = pidfd_open(getpid());
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int attrib_clock_open(pid_t pid, clockid_t *clock)
{
	assert(clock);
	if (pid <= 0) {
		errno = ESRCH;
		return -1;
	}
	int fd = pidfd_open(pid);
	if (fd < 0)
		return -1;
	/* glibc checks the clock with clock_getres: ESRCH once the pid is gone. */
	int err = clock_getcpuclockid(pid, clock);
	if (err != 0) {
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

bool attrib_clock_read(clockid_t clock, uint64_t *cpu_ns)
{
	assert(cpu_ns);
	struct timespec ts;
	if (clock_gettime(clock, &ts) != 0 || ts.tv_sec < 0)
		return false;
	*cpu_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return true;
}

bool attrib_clock_batch_init(struct attrib_clock_batch *b, size_t capacity)
{
	assert(b && capacity > 0);
	b->count = 0;
	b->capacity = capacity;
	b->fds = calloc(capacity, sizeof(*b->fds));
	b->slots = calloc(capacity, sizeof(*b->slots));
	if (b->fds && b->slots)
		return true;
	attrib_clock_batch_free(b);
	return false;
}

void attrib_clock_batch_free(struct attrib_clock_batch *b)
{
	free(b->fds);
	free(b->slots);
	b->fds = NULL;
	b->slots = NULL;
	b->count = 0;
	b->capacity = 0;
}

void attrib_clock_batch_add(struct attrib_clock_batch *b, int pidfd, uint32_t slot)
{
	assert(b->count < b->capacity && pidfd >= 0);
	b->fds[b->count] = (struct pollfd){.fd = pidfd, .events = POLLIN};
	b->slots[b->count] = slot;
	b->count++;
}

void attrib_clock_batch_poll(struct attrib_clock_batch *b)
{
	if (b->count == 0)
		return;
	int n;
	do
		n = poll(b->fds, (nfds_t)b->count, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		for (size_t i = 0; i < b->count; i++)
			b->fds[i].revents = POLLERR;
}

bool attrib_clock_batch_alive(const struct attrib_clock_batch *b, size_t i)
{
	assert(i < b->count);
	return b->fds[i].revents == 0;
}
