/* bench_workload.c - what one attribution sweep costs.
 *
 * Builds a fixture tree of 200 processes (a mix of Docker, Kubernetes with both cgroup
 * drivers, CRI-O, Podman, Slurm, systemd services and shells over 8 GPUs) in a temporary
 * directory, then runs sweeps on a simulated 5 s tick, so that identity re-reads (every
 * 60 s, jittered) happen at their steady-state rate. Reports microseconds per sweep, wall
 * and CPU, for the first (cold) sweep and the steady state, plus the per-sweep helpers
 * (cardinality cap, tensor-parallel groups, energy split). The fixture tree is on a regular
 * file system, where every stat read is an open/read/close. With --live it also forks as
 * many paused children and sweeps them through the real procfs: the production path, which
 * there is the CPU-clock path (a pidfd and the CPU clock per process, stat every 60 s;
 * attrib_clock.h), or with --stat-path the held stat fds re-read with pread every sweep, as
 * on another namespace's /proc. --threads N gives each child N threads (a PyTorch server has
 * dozens, and the kernel sums the times of all of them); --pace-ms N sleeps between sweeps,
 * as the agent does (5 s apart), so each sweep finds the caches as cold as the agent's do.
 *
 * Usage: bench_workload [--sweeps N] [--procs N] [--live] [--stat-path] [--threads N]
 *                       [--pace-ms N] */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "workload/attrib.h"
#include "workload/cap.h"
#include "workload/energy.h"
#include "workload/tpgroup.h"

#define GPUS      8
#define MAX_PROCS 4096
#define TICK_NS   (5LL * 1000000000LL)

static int pace_ms;           /* real sleep between sweeps (--pace-ms) */
static int child_threads = 1; /* threads per live child (--threads) */
static bool stat_path;        /* live: stat every sweep, not the CPU clocks (--stat-path) */

static double clock_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int write_file(const char *root, const char *rel, const void *data, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; *p; p++) {
		if (*p == '/') {
			*p = 0;
			if (mkdir(path, 0755) != 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, data, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

static void hex64(char *out, unsigned seed)
{
	for (int i = 0; i < 64; i++)
		out[i] = "0123456789abcdef"[(seed * 2654435761u >> (i % 28)) & 15];
	out[64] = 0;
}

/* One process of kind (i % 8); pods hold 4 processes each (one per tensor-parallel rank). */
static int write_process(const char *root, int i)
{
	int pid = 10000 + i;
	char id[65], uid_dashed[37], uid_under[37], cgroup[1024], rel[512], text[1024];
	hex64(id, (unsigned)i + 1);
	snprintf(uid_dashed, sizeof(uid_dashed), "%08x-0000-4000-8000-%012x", i / 4, i / 4);
	snprintf(uid_under, sizeof(uid_under), "%08x_0000_4000_8000_%012x", i / 4, i / 4);
	switch (i % 8) {
	case 0:
		snprintf(cgroup, sizeof(cgroup), "0::/system.slice/docker-%s.scope\n", id);
		break;
	case 1:
		snprintf(
		    cgroup, sizeof(cgroup),
		    "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/"
		    "cri-containerd-%s.scope\n",
		    uid_under, id);
		break;
	case 2:
		snprintf(
		    cgroup, sizeof(cgroup),
		    "12:pids:/kubepods/besteffort/pod%s/%s\n9:cpu,cpuacct:/kubepods/besteffort/"
		    "pod%s/%s\n8:memory:/kubepods/besteffort/pod%s/%s\n"
		    "1:name=systemd:/kubepods/besteffort/pod%s/%s\n0::/\n",
		    uid_dashed, id, uid_dashed, id, uid_dashed, id, uid_dashed, id);
		break;
	case 3:
		snprintf(cgroup, sizeof(cgroup),
		         "0::/kubepods.slice/kubepods-pod%s.slice/crio-%s.scope\n", uid_under, id);
		break;
	case 4:
		snprintf(cgroup, sizeof(cgroup), "0::/machine.slice/libpod-%s.scope/container\n",
		         id);
		break;
	case 5:
		snprintf(cgroup, sizeof(cgroup),
		         "0::/system.slice/slurmstepd.scope/job_%d/step_0/user/task_0\n",
		         100 + i / 8);
		break;
	case 6:
		snprintf(cgroup, sizeof(cgroup), "0::/system.slice/inference-%d.service\n", i);
		break;
	default:
		snprintf(cgroup, sizeof(cgroup),
		         "0::/user.slice/user-1000.slice/session-%d.scope\n", i);
		break;
	}
	snprintf(rel, sizeof(rel), "proc/%d/cgroup", pid);
	if (write_file(root, rel, cgroup, strlen(cgroup)))
		return -1;
	snprintf(text, sizeof(text),
	         "%d (python3) S %d %d %d 0 -1 4194560 1000 0 0 0 %d 17 0 0 20 0 12 0 %d 123456789 "
	         "250000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0 0 0 0 0 0 0 0 "
	         "0\n",
	         pid, 9000 + i / 4, pid, pid, 1000 + i, 4000 + i);
	snprintf(rel, sizeof(rel), "proc/%d/stat", pid);
	if (write_file(root, rel, text, strlen(text)))
		return -1;
	snprintf(text, sizeof(text), "Name:\tpython3\nPid:\t%d\nUid:\t%d\t%d\t%d\t%d\n", pid,
	         1000 + i % 3, 1000 + i % 3, 1000 + i % 3, 1000 + i % 3);
	snprintf(rel, sizeof(rel), "proc/%d/status", pid);
	if (write_file(root, rel, text, strlen(text)))
		return -1;
	static const char cmdline[] = "/usr/bin/python3\0-m\0vllm.entrypoints.openai.api_server";
	snprintf(rel, sizeof(rel), "proc/%d/cmdline", pid);
	if (write_file(root, rel, cmdline, sizeof(cmdline)))
		return -1;
	if (i % 8 == 1 || i % 8 == 2 || i % 8 == 3) {
		snprintf(rel, sizeof(rel), "var/log/pods/ns%d_pod-%d_%s/main/0.log", i % 5, i / 4,
		         uid_dashed);
		if (write_file(root, rel, "", 0))
			return -1;
		snprintf(rel, sizeof(rel), "var/log/containers/pod-%d_ns%d_main-%s.log", i / 4,
		         i % 5, id);
		if (write_file(root, rel, "", 0))
			return -1;
	}
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* The per-sweep helpers an exporter runs on the sweep's result. */
static double run_helpers(const struct attrib *a, const struct attrib_row *rows, size_t n,
                          const uint32_t *row_process)
{
	static struct cap_entry cap[MAX_PROCS];
	static struct tpgroup_member members[MAX_PROCS];
	static struct energy_process energy_in[MAX_PROCS];
	static struct energy_share shares[MAX_PROCS];
	struct tpgroup groups[64];
	double t0 = clock_us(CLOCK_MONOTONIC);
	for (unsigned gpu = 0; gpu < GPUS; gpu++) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			if (rows[i].gpu != gpu)
				continue;
			const struct attrib_process *p = attrib_process_at(a, row_process[i]);
			cap[k] = (struct cap_entry){.pid = rows[i].pid,
			                            .memory_bytes = rows[i].memory_bytes,
			                            .sm_util = 30,
			                            .sm_util_valid = true,
			                            .cpu_cores = p->cpu_cores,
			                            .cpu_valid = p->cpu_valid,
			                            .ref = i};
			energy_in[k] =
			    (struct energy_process){.sm_util = 30,
			                            .sm_util_valid = true,
			                            .memory_bytes = rows[i].memory_bytes};
			k++;
		}
		struct cap_other other;
		cap_top_k(cap, k, CAP_DEFAULT_TOP_K, &other);
		struct energy_split split;
		energy_apportion(3500, 5, 90, true, energy_in, k, shares, &split);
	}
	for (size_t i = 0; i < n; i++) {
		const struct attrib_process *p = attrib_process_at(a, row_process[i]);
		members[i] = (struct tpgroup_member){.gpu = rows[i].gpu,
		                                     .pid = rows[i].pid,
		                                     .ppid = p->ppid,
		                                     .memory_bytes = rows[i].memory_bytes,
		                                     .sm_util = 30,
		                                     .sm_util_valid = true};
		tpgroup_key_for(&p->identity, p->ppid, &members[i].key);
	}
	tpgroup_find(members, n, groups, 64);
	return clock_us(CLOCK_MONOTONIC) - t0;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Sweeps `rows` `sweeps` times on a 5 s simulated tick; prints the figures. */
static int bench(const char *label, struct attrib *a, const struct attrib_row *rows, size_t n,
                 int sweeps)
{
	static uint32_t row_process[MAX_PROCS];
	double *wall = calloc((size_t)sweeps, sizeof(*wall));
	if (!wall)
		return -1;
	int64_t now = TICK_NS;
	double c0 = clock_us(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_us(CLOCK_MONOTONIC);
	if (attrib_sweep(a, rows, n, now, row_process) < 0)
		goto err;
	double cold_wall = clock_us(CLOCK_MONOTONIC) - w0;
	double cold_cpu = clock_us(CLOCK_PROCESS_CPUTIME_ID) - c0;

	struct attrib_stats st0;
	attrib_get_stats(a, &st0);
	double cpu_start = clock_us(CLOCK_PROCESS_CPUTIME_ID);
	double helpers = 0, sweep_cpu = 0;
	for (int s = 0; s < sweeps; s++) {
		now += TICK_NS;
		double t = clock_us(CLOCK_MONOTONIC);
		double c = clock_us(CLOCK_THREAD_CPUTIME_ID);
		if (attrib_sweep(a, rows, n, now, row_process) < 0)
			goto err;
		sweep_cpu += clock_us(CLOCK_THREAD_CPUTIME_ID) - c;
		wall[s] = clock_us(CLOCK_MONOTONIC) - t;
		helpers += run_helpers(a, rows, n, row_process);
		if (pace_ms) {
			struct timespec ts = {pace_ms / 1000, (long)(pace_ms % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	double cpu_total = clock_us(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
	double wall_sum = 0;
	for (int s = 0; s < sweeps; s++)
		wall_sum += wall[s];
	qsort(wall, (size_t)sweeps, sizeof(*wall), compare_doubles);
	struct attrib_stats st;
	attrib_get_stats(a, &st);
	printf("%s: %zu processes, %d sweeps on a 5 s tick, %d ms apart\n", label, n, sweeps,
	       pace_ms);
	printf("  CPU time from:        %s\n",
	       st.clock_path ? "CPU clocks, pidfds polled; stat every 60 s (the CPU-clock path)"
	       : st.held_fds ? "/proc/PID/stat every sweep, held fds re-read with pread"
	                     : "/proc/PID/stat every sweep, opened each time");
	printf("  cold first sweep:     %8.1f us wall, %8.1f us CPU (every file read)\n", cold_wall,
	       cold_cpu);
	printf("  steady-state sweep:   %8.1f us wall mean, p50 %.1f, p99 %.1f\n",
	       wall_sum / sweeps, wall[sweeps / 2], wall[(size_t)(sweeps * 0.99)]);
	printf("  helpers per sweep:    %8.1f us (cap per GPU, TP groups, energy split)\n",
	       helpers / sweeps);
	printf("  CPU per sweep:        %8.1f us (attrib_sweep alone)\n", sweep_cpu / sweeps);
	printf("  CPU per sweep+helpers:%8.1f us\n", cpu_total / sweeps);
	printf("  stat reads:           %8.1f per sweep\n",
	       (double)(st.stat_reads - st0.stat_reads) / sweeps);
	printf("  clock reads:          %8.1f per sweep\n",
	       (double)(st.clock_reads - st0.clock_reads) / sweeps);
	printf("  identity re-reads:    %8.1f per sweep (cgroup only)\n",
	       (double)(st.identity_reads - st0.identity_reads) / sweeps);
	free(wall);
	return 0;
err:
	free(wall);
	return -1;
}

static void *park(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/* 200 real processes (paused children) through the real procfs. */
static int bench_live(int procs, int sweeps)
{
	static struct attrib_row rows[MAX_PROCS];
	static pid_t children[MAX_PROCS];
	int started = 0, rc = -1;
	struct attrib *a = NULL;
	for (; started < procs; started++) {
		pid_t c = fork();
		if (c < 0)
			goto out;
		if (c == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (int t = 1; t < child_threads; t++) {
				pthread_t th;
				if (pthread_create(&th, NULL, park, NULL) != 0)
					break;
			}
			pause();
			_exit(0);
		}
		children[started] = c;
		rows[started] = (struct attrib_row){.gpu = (unsigned)(started % GPUS),
		                                    .pid = c,
		                                    .memory_bytes = 1u << 30,
		                                    .memory_valid = true};
	}
	struct attrib_config cfg;
	attrib_config_default(&cfg);
	cfg.stat_every_sweep = stat_path;
	a = attrib_create(&cfg);
	if (!a)
		goto out;
	attrib_refresh(a, 0, true);
	rc = bench("live /proc (paused children)", a, rows, (size_t)procs, sweeps);
	struct attrib_stats st;
	attrib_get_stats(a, &st);
	printf("  held fds:             %8zu (%s)\n", st.held_fds,
	       st.clock_path ? "pidfds" : "stat fds");
out:
	attrib_destroy(a);
	for (int i = 0; i < started; i++) {
		kill(children[i], SIGKILL);
		waitpid(children[i], NULL, 0);
	}
	return rc;
}

int main(int argc, char **argv)
{
	int sweeps = 2000, procs = 200;
	int live = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--sweeps") && i + 1 < argc)
			sweeps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--procs") && i + 1 < argc)
			procs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--live"))
			live = 1;
		else if (!strcmp(argv[i], "--stat-path"))
			stat_path = true;
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			child_threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--pace-ms") && i + 1 < argc)
			pace_ms = atoi(argv[++i]);
		else {
			fprintf(stderr,
			        "usage: %s [--sweeps N] [--procs N] [--live] [--stat-path] "
			        "[--threads N] [--pace-ms N]\n",
			        argv[0]);
			return 2;
		}
	}
	if (sweeps < 1 || procs < 1 || procs > MAX_PROCS || child_threads < 1 ||
	    child_threads > 256 || pace_ms < 0 || pace_ms > 60000) {
		fprintf(stderr,
		        "bench_workload: --sweeps >= 1, 1 <= --procs <= %d, 1 <= --threads <= 256, "
		        "0 <= --pace-ms <= 60000\n",
		        MAX_PROCS);
		return 2;
	}
	char root[] = "/tmp/bench-workload-XXXXXX";
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	int rc = 1;
	struct attrib *a = NULL;
	static struct attrib_row rows[MAX_PROCS];
	for (int i = 0; i < procs; i++) {
		if (write_process(root, i) != 0) {
			perror("bench_workload: writing the fixture");
			goto out;
		}
		rows[i] = (struct attrib_row){.gpu = (unsigned)(i % GPUS),
		                              .pid = 10000 + i,
		                              .memory_bytes = (uint64_t)(20 + i % 7) << 30,
		                              .memory_valid = true};
	}
	if (write_file(root, "etc/passwd", "alice:x:1000:1000::/:/bin/sh\n", 29) != 0)
		goto out;
	struct attrib_config cfg;
	attrib_config_default(&cfg);
	cfg.root = root;
	a = attrib_create(&cfg);
	if (!a || attrib_refresh(a, 0, true) < 0) {
		perror("bench_workload: attrib_create");
		goto out;
	}
	double t = clock_us(CLOCK_MONOTONIC);
	attrib_refresh(a, 0, true);
	printf("name refresh (passwd, %d pod dirs): %.1f us\n", procs * 3 / 8,
	       clock_us(CLOCK_MONOTONIC) - t);
	if (bench("fixture tree", a, rows, (size_t)procs, sweeps) != 0)
		goto out;
	if (live && bench_live(procs, sweeps) != 0)
		goto out;
	rc = 0;
out:
	attrib_destroy(a);
	nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
