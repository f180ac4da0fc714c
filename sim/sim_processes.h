/* sim_processes.h - parsing of a scenario GPU's "processes" array (private to sim/).
 *
 * Called by sim_scenario.c for each GPU after its MIG instances (a process may name the GPU
 * instance it runs in); the NVML calls that report the processes are in sim_procs.c.
 */
#ifndef GPUSCOPE_SIM_PROCESSES_H
#define GPUSCOPE_SIM_PROCESSES_H

#include "sim/sim_json.h"
#include "sim/sim_scenario.h"

/* At most this many processes per GPU (a GPU under MPS takes 48 clients). */
#define SIM_MAX_PROCESSES 256

/* Fills g->processes from the array a (NULL: none), path being a's JSON path.  Returns false
 * with a message in c->err; what was allocated stays in g for sim_processes_free. */
bool sim_processes_parse(const struct sim_json_ctx *c, const json_t *a, const char *path,
                         struct sim_gpu *g);

void sim_processes_free(struct sim_gpu *g);

/* True when process p runs at scenario time t. */
bool sim_process_running(const struct sim_process *p, double t);

#endif
