/* sim_nvml.h - what libgpuscope-nvml-sim.so exports besides the NVML symbols.
 *
 * The library exports every symbol of NVML_SYMBOLS (nvml/nvml_abi.h), both names of each row,
 * plus these two, which the agent looks up with dlsym() to tell a simulator from a driver and
 * to print why a scenario failed to load.
 */
#ifndef GPUSCOPE_SIM_NVML_H
#define GPUSCOPE_SIM_NVML_H

/* The message of the last failed nvmlInit ("" if none): names file, line and JSON path. */
const char *gpuscopeSimLastError(void);

/* The "name" of the scenario loaded by the last successful nvmlInit ("" before that). */
const char *gpuscopeSimScenarioName(void);

typedef const char *(*gpuscope_sim_last_error_fn)(void);
typedef const char *(*gpuscope_sim_scenario_name_fn)(void);

#endif
