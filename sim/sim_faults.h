/* sim_faults.h - parsing of a scenario GPU's "faults" object (private to sim/).
 *
 * Called by sim_scenario.c for each GPU; the rules it fills in (struct sim_gpu in
 * sim_scenario.h) are applied by sim_state.c and, for events, sim_events.c.
 */
#ifndef GPUSCOPE_SIM_FAULTS_H
#define GPUSCOPE_SIM_FAULTS_H

#include "sim/sim_json.h"
#include "sim/sim_scenario.h"

/*
 * Fills the fault fields of g from f (NULL: no faults; lost_at is INFINITY then), path being
 * f's JSON path.  Returns false with a message in c->err; what was allocated stays in g for
 * the caller to free with the rest of the scenario.
 */
bool sim_faults_parse(const struct sim_json_ctx *c, const json_t *f, const char *path,
                      struct sim_gpu *g);

#endif
