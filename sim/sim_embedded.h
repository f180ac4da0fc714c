/* sim_embedded.h - files compiled into the simulator: traces and scenarios.
 *
 * sim/cmake/embed.cmake turns sim/traces/ *.csv and sim/scenarios/ *.json into a generated C
 * source at build time, so the library is self-contained: "builtin:h200-matmul.csv" in a
 * scenario, and the default scenario itself, need no file on disk.
 */
#ifndef GPUSCOPE_SIM_EMBEDDED_H
#define GPUSCOPE_SIM_EMBEDDED_H

#include <stddef.h>

/*
 * The contents of an embedded file ("traces/h200-matmul.csv", "scenarios/default.json"),
 * NUL-terminated, with its length (without the NUL) in *len; NULL when there is none.
 */
const char *sim_embedded_find(const char *name, size_t *len);

/* The i-th embedded file's name, or NULL past the end (for listings and messages). */
const char *sim_embedded_name(size_t i);

#endif
