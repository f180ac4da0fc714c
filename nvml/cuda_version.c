/* cuda_version.c - the CUDA driver's version from a child process; see cuda_version.h. */
#include "nvml/cuda_version.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int cuda_version_main(void)
{
	void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return 1;
	int (*get)(int *) = (int (*)(int *))dlsym(h, "cuDriverGetVersion");
	int v = 0;
	if (!get || get(&v) != 0 || v <= 0)
		return 1;
	printf("%d\n", v);
	return fflush(stdout) == 0 ? 0 : 1;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Reads the child's stdout until it closes or the deadline passes; returns bytes read. */
static size_t read_until(int fd, char *buf, size_t cap, double deadline)
{
	size_t n = 0;
	while (n + 1 < cap) {
		double left = deadline - now_ms();
		if (left <= 0)
			break;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, (int)left + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		ssize_t got = read(fd, buf + n, cap - 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	buf[n] = 0;
	return n;
}

bool cuda_version_isolated(int *version, int timeout_ms)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		return false;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	char arg0[] = "gpuscope", arg1[] = CUDA_VERSION_COMMAND;
	char *argv[] = {arg0, arg1, NULL};
	pid_t pid;
	int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (rc != 0) {
		close(fds[0]);
		return false;
	}
	char buf[32];
	double deadline = now_ms() + timeout_ms;
	read_until(fds[0], buf, sizeof(buf), deadline);
	close(fds[0]);
	int status = 0;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ms() >= deadline) {
			kill(pid, SIGKILL); /* hung in the driver: not worth a stuck agent */
			waitpid(pid, &status, 0);
			return false;
		}
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	}
	char *end;
	long v = strtol(buf, &end, 10);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || end == buf || v <= 0 || v > 1000000)
		return false;
	*version = (int)v;
	return true;
}
