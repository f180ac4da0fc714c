/* sim_serve.h - the simulated host's inference servers: a real loopback /metrics per
 * scenario process with a "server" key.
 *
 * So that `serve --demo` finds and reads inference servers through the very code that
 * finds them on a real node (servers/discover.c: a GPU process's listening socket in
 * /proc/PID/fd and /proc/PID/net/tcp, then GET /metrics), the simulator, loaded in the
 * agent's own process, listens on 127.0.0.1 (a free port) for each server process and
 * answers GET with that server's real metric names (vLLM, SGLang, TGI, Triton/TRT-LLM,
 * llama.cpp).  The simulated host writes the socket into the process's /proc entry
 * (sim_host.c).  Counters are the integrals of the scenario's rates from the process's
 * start to the scenario time of the request; one thread answers every port.
 */
#ifndef GPUSCOPE_SIM_SERVE_H
#define GPUSCOPE_SIM_SERVE_H

#include <stddef.h>

#include "sim/sim_scenario.h"

struct sim_serve;

/* Scenario time now (seconds), from the host. */
typedef double (*sim_serve_clock)(void *ctx);

/* Listens for every process of procs[0..n) that has a server; NULL when none has one or
 * on failure (err says why; the demo goes on without servers). */
struct sim_serve *sim_serve_start(const struct sim_process *const *procs, size_t n,
                                  sim_serve_clock clock, void *ctx, char *err, size_t errlen);

/* The port and socket inode of pid's server; 0 when it has none. */
unsigned sim_serve_port(const struct sim_serve *s, unsigned pid, unsigned long *inode);

void sim_serve_stop(struct sim_serve *s);

#endif
