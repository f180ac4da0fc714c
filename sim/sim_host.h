/* sim_host.h - the simulated host around the simulated GPUs: the /proc entries, users and
 * Kubernetes log directories of the scenario's processes, written as files.
 *
 * NVML tells the agent only a process's pid and GPU use; who the process is (name, user,
 * container, pod) and how much CPU it burns the agent reads from /proc, /etc/passwd and the
 * kubelet's log directories.  So that `serve --demo` shows the scenario's processes as a
 * real node would, and through the very same readers, the simulator writes a small host
 * tree when GPUSCOPE_SIM_HOST_ROOT names a directory:
 *
 *   ROOT/proc/PID/{stat,status,cmdline,cgroup}     one per running scenario process
 *   ROOT/etc/passwd                                 root and every scenario user
 *   ROOT/var/log/pods/NS_POD_UID/CONTAINER/0.log    for processes with a "pod"
 *   ROOT/var/log/containers/POD_NS_CONTAINER-ID.log
 *
 * and the agent reads ROOT as its host root.  No host pid is borrowed and no CPU is burned:
 * a process's CPU time in its stat file is the integral of its scenario "cpu_cores" over wall
 * time.  The tree is brought up to date whenever the agent asks NVML for a GPU's process list
 * (every slow tick), which is also when the agent reads it: processes start and stop there
 * with their "from" and "until", and every file is replaced by rename, so a reader never
 * sees half a file.
 */
#ifndef GPUSCOPE_SIM_HOST_H
#define GPUSCOPE_SIM_HOST_H

#include "sim/sim_scenario.h"

struct sim_host;

/* A host tree for scn under root (which must exist); NULL when root is NULL or empty, or
 * when the tree cannot be written (err says why).  Writes the static files at once. */
struct sim_host *sim_host_create(const struct sim_scenario *scn, const char *root, char *err,
                                 size_t errlen);

/* Brings the tree to scenario time t (time_scale scenario seconds per wall second).
 * Thread-safe; cheap when called again within 50 ms. */
void sim_host_refresh(struct sim_host *h, double t, double time_scale);

void sim_host_free(struct sim_host *h);

#endif
