/* fake_cuda_prog.c - a "CUDA program" for tests: does what the driver does at cuInit with
 * CUDA_INJECTION64_PATH (dlopen, InitializeInjection), then follows its arguments:
 *   play FILE     the fake libcupti (FAKE_CUPTI_LIB) plays FILE's activity
 *   fork FILE     a child plays FILE and exits; the parent waits for it
 *   exec ARGS...  replace this image with a fresh fake_cuda_prog ARGS... (same pid)
 *   sleep MS      sleep (the fake activity's clock is the wall clock since start)
 *   exit N        exit with status N now (atexit handlers run)
 * It prints "fake program ran" so tests can see the program itself was unchanged. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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
