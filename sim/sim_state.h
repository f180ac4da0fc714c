/* sim_state.h - the simulator's mutable state: init count, clock, devices, fault injection.
 *
 * sim_nvml.c implements the NVML calls on top of this; every device call starts with
 * sim_state_begin(), which checks initialisation and the handle under the one global lock,
 * releases the lock, and only then applies the scenario's faults (sleeps and hangs included),
 * so a slow or hung call on one GPU never blocks another caller.
 */
#ifndef GPUSCOPE_SIM_STATE_H
#define GPUSCOPE_SIM_STATE_H

#include "nvml/nvml_abi.h"
#include "sim/sim_scenario.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* A device handle points at one of these, in the array of the current session. */
/* Running integrals of a signal over scenario time (energy, NVLink bytes). */
enum sim_integral {
	SIM_INT_ENERGY_MJ,
	SIM_INT_NVLINK_TX_KIB,
	SIM_INT_NVLINK_RX_KIB,
	SIM_INT_COUNT
};

/* A device handle points at one of these, in the array of the current session: the
 * physical GPUs first, then every GPU's MIG instances. */
struct nvmlDevice_st {
	const struct sim_gpu *gpu;
	struct nvmlDevice_st *parent;     /* MIG instance: its GPU; NULL for a GPU */
	struct nvmlDevice_st *mig;        /* GPU: its first MIG instance (gpu->n_mig of them) */
	pthread_mutex_t energy_lock;      /* guards the integrals */
	double integral_t[SIM_INT_COUNT]; /* scenario time each integral has reached */
	double integral[SIM_INT_COUNT];
	atomic_bool events_seen; /* registered in an event set already (sim_events.c) */
};

/* One call in progress: the device and the scenario time it sees. */
struct sim_call {
	struct nvmlDevice_st *dev;
	const struct sim_gpu *gpu;
	double t;
};

/* nvmlInit_v2 / nvmlShutdown. */
nvmlReturn_t sim_state_init(void);
nvmlReturn_t sim_state_shutdown(void);

/* Brings the simulated host's files (sim_host.h) to scenario time t; nothing without one. */
void sim_state_host_refresh(double t);

/* Messages for the agent: the last init failure ("" if none), the loaded scenario's name. */
const char *sim_state_last_error(void);
const char *sim_state_scenario_name(void);

/*
 * Starts a device call: UNINITIALIZED, INVALID_ARGUMENT for a bad handle or !args_ok, then the
 * faults of the scenario for `call` (the newest symbol name): GPU_IS_LOST, hang, slow,
 * NOT_SUPPORTED, injected errors.  On NVML_SUCCESS, c is filled in.
 */
nvmlReturn_t sim_state_begin(struct sim_call *c, nvmlDevice_t device, const char *call,
                             bool args_ok);

/* The same for nvmlDeviceGetHandleByIndex: index checks, then the device's faults. */
nvmlReturn_t sim_state_handle(unsigned index, nvmlDevice_t *out, const char *call);

/* Starts a system call: UNINITIALIZED or the scenario (valid until the library unloads). */
nvmlReturn_t sim_state_system(const struct sim_scenario **scn);

/* The current session's devices and the scenario time now (UNINITIALIZED when none). */
nvmlReturn_t sim_state_devices(struct nvmlDevice_st **devs, size_t *n, double *t);

/* Energy in mJ at scenario time t: the trapezoid integral of power_w in 10 ms steps. */
double sim_state_energy_mj(struct nvmlDevice_st *d, double t);

/* KiB sent (tx) or received over all NVLinks by scenario time t, integrated likewise. */
double sim_state_nvlink_kib(struct nvmlDevice_st *d, bool tx, double t);

/* Wall-clock microseconds since the epoch at scenario time t (driver sample timestamps). */
unsigned long long sim_state_wall_us(double t);

/* The scenario's time scale (scenario seconds per wall second); 1 when uninitialised. */
double sim_state_time_scale(void);

#endif
