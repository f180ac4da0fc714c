/* run_energy.h - energy and SM-clock cycles of each inference, from `gpuscope run`'s side.
 *
 * The injection library stays away from NVML (nothing more inside the user's program than
 * CUPTI needs); instead `gpuscope run` keeps the driver's 20 ms power samples, its energy
 * counter and the SM clock for the whole run on a thread of its own, and when the program has
 * exited gives each inference line its energy:
 *   - power_samples: the 20 ms power samples integrated over the inference (each sample
 *     standing for the 20 ms before it), for inferences up to 1 s;
 *   - energy_counter: the driver's energy counter, read every second and interpolated, for
 *     longer ones.
 * and its SM cycles: GPU busy time x the SM clock read nearest the inference.  Energy is the
 * whole GPU's: other processes on the same GPU count too.  The injection library names the
 * NVML device of each inference ("gpu": its CUDA ordinal through CUDA_VISIBLE_DEVICES, an
 * index or a GPU UUID); without CUDA_VISIBLE_DEVICES ordinal = index, which holds when every
 * GPU is alike (else set CUDA_DEVICE_ORDER=PCI_BUS_ID).
 */
#ifndef GPUSCOPE_RUN_ENERGY_H
#define GPUSCOPE_RUN_ENERGY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct run_energy;

/* Starts sampling (nvml_path NULL: the default library).  Returns NULL and a reason in why
 * when NVML cannot be used; the run goes on without energy. */
struct run_energy *run_energy_start(const char *nvml_path, char *why, size_t why_len);
/* Stops sampling, after waiting for the samples that cover the program's last moments. */
void run_energy_stop(struct run_energy *e);
/* Adds energy_j, energy_method and sm_cycles to one inference object where it can. */
void run_energy_annotate(const struct run_energy *e, json_t *inference);
void run_energy_free(struct run_energy *e);

#endif
