/* fake_cuda_prog.c - a "CUDA program" for tests: does what the driver does at cuInit with
 * CUDA_INJECTION64_PATH (dlopen, InitializeInjection), then follows its arguments:
 *   play FILE     the fake libcupti (FAKE_CUPTI_LIB) plays FILE's activity
 *   fork FILE     a child plays FILE and exits; the parent waits for it
 *   exec ARGS...  replace this image with a fresh fake_cuda_prog ARGS... (same pid)
 *   sleep MS      sleep (the fake activity's clock is the wall clock since start)
 *   exit N        exit with status N now (atexit handlers run)
 *   loop N W K    N "inferences": W thousand steps of arithmetic each (a fixed amount of
 *                 work, not of time), then (when the fake libcupti is loaded) an NVTX range
 *                 around K kernels as activity records, handed over every 32 inferences on
 *                 this thread (a conservative stand-in for CUPTI's own thread); prints
 *                 {"inferences_per_s", "inferences_per_cpu_s"}: per wall second and per
 *                 second of the process's CPU, every thread (bench/overhead_pairs.py)
 * It prints "fake program ran" so tests can see the program itself was unchanged. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int play(const char *file)
{
	const char *lib = getenv("FAKE_CUPTI_LIB");
	void *h = lib ? dlopen(lib, RTLD_NOW | RTLD_NOLOAD) : NULL;
	int (*fn)(const char *) = h ? (int (*)(const char *))dlsym(h, "fake_cupti_play") : NULL;
	if (!fn)
		return 0; /* no CUPTI in this process: the "GPU work" happens unseen */
	return fn(file);
}

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void loop(long n, long work_k, int kernels)
{
	const char *lib = getenv("FAKE_CUPTI_LIB");
	void *h = lib ? dlopen(lib, RTLD_NOW | RTLD_NOLOAD) : NULL;
	void (*line)(const char *) = h ? (void (*)(const char *))dlsym(h, "fake_cupti_line") : NULL;
	double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	volatile unsigned long long x = 1;
	char buf[96];
	for (long i = 0; i < n; i++) {
		unsigned long long ts = (unsigned long long)((clock_s(CLOCK_MONOTONIC) - t0) * 1e6);
		for (long k = 0; k < work_k * 1000; k++) /* the inference's own work */
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		if (!line)
			continue;
		snprintf(buf, sizeof(buf), "push %ld %llu infer", i + 1, ts + 1000);
		line(buf);
		for (int k = 0; k < kernels; k++) {
			snprintf(buf, sizeof(buf), "kernel %llu 5", ts + 1010 + 10ULL * k);
			line(buf);
		}
		snprintf(buf, sizeof(buf), "pop %ld %llu", i + 1, ts + 1020 + 10ULL * kernels);
		line(buf);
		if (i % 32 == 31)
			line("flush");
	}
	if (line)
		line("flush");
	printf("{\"inferences_per_s\": %.3f, \"inferences_per_cpu_s\": %.3f}\n",
	       n / (clock_s(CLOCK_MONOTONIC) - t0), n / (clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *inj = getenv("CUDA_INJECTION64_PATH");
	if (inj && inj[0]) {
		void *h = dlopen(inj, RTLD_NOW);
		int (*init)(void) = h ? (int (*)(void))dlsym(h, "InitializeInjection") : NULL;
		if (!init) {
			fprintf(stderr, "fake_cuda_prog: cannot load injection %s\n", inj);
			return 3;
		}
		init();
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "play") && i + 1 < argc) {
			if (play(argv[++i]) != 0)
				fprintf(stderr, "fake_cuda_prog: cannot read %s\n", argv[i]);
		} else if (!strcmp(argv[i], "fork") && i + 1 < argc) {
			const char *file = argv[++i];
			pid_t pid = fork();
			if (pid == 0) {
				play(file);
				exit(0);
			}
			waitpid(pid, NULL, 0);
		} else if (!strcmp(argv[i], "exec")) {
			argv[i] = argv[0];
			execv("/proc/self/exe", argv + i);
			perror("exec");
			return 4;
		} else if (!strcmp(argv[i], "loop") && i + 3 < argc) {
			loop(atol(argv[i + 1]), atol(argv[i + 2]), atoi(argv[i + 3]));
			i += 3;
		} else if (!strcmp(argv[i], "sleep") && i + 1 < argc) {
			usleep((useconds_t)atoi(argv[++i]) * 1000);
		} else if (!strcmp(argv[i], "exit") && i + 1 < argc) {
			printf("fake program ran\n");
			exit(atoi(argv[i + 1]));
		}
	}
	printf("fake program ran\n");
	return 0;
}
