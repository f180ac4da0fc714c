/* demo_dir.h - the temporary directory a `--demo` agent lives in.
 *
 * Under --demo the agent keeps its history in a temporary file (so the live diagnosis has
 * something to judge from the first minute on, and nothing is left behind), and the
 * simulator writes the simulated host's /proc, /etc/passwd and kubelet logs for the
 * scenario's processes (sim/sim_host.h), which the agent's attribution reads as its host
 * root.  Both live in one directory made with mkdtemp under $TMPDIR (or /tmp), removed
 * at exit.  An agent killed with SIGKILL leaves it behind: /tmp/gpuscope-demo-*.
 */
#ifndef GPUSCOPE_CMD_DEMO_DIR_H
#define GPUSCOPE_CMD_DEMO_DIR_H

#include <stddef.h>

struct demo_dir {
	char path[512];    /* "" until made */
	char host[600];    /* path/host: the simulated host's root */
	char history[600]; /* path/history.db */
};

/* Makes the directory and path/host/proc, and points the simulator at the host root
 * (GPUSCOPE_SIM_HOST_ROOT).  Returns 0, or -1 with a sentence in err. */
int demo_dir_create(struct demo_dir *d, char *err, size_t errlen);

/* Removes the directory and everything in it; nothing when it was never made. */
void demo_dir_remove(struct demo_dir *d);

#endif
