/* sim_procs.c - the simulator's running-process calls: the compute and graphics process lists
 * and per-process utilization samples.
 *
 * Split out of sim_nvml.c like sim_gpm.c (file 3 in sim_exports.h).  What the agent must get
 * right about the real calls, and so what is modelled here:
 *   - the lists are sized by a first call: a count too small answers INSUFFICIENT_SIZE with
 *     the count needed (SUCCESS and 0 when nothing runs);
 *   - on a MIG GPU each entry names its GPU instance, a MIG device handle lists only its own
 *     instance's processes, and per-process utilization is NOT_SUPPORTED;
 *   - utilization samples come every 200 ms of wall time, one per process that did something
 *     in the period; asked for samples newer than a timestamp, the driver answers one sample
 *     per busy process (here: its mean since that timestamp, at most the 72 periods the driver
 *     keeps) or NOT_FOUND when there is nothing new.  A NULL buffer asks for the size: 72 and
 *     INSUFFICIENT_SIZE, as an H200 answered.
 */
#include "sim/sim_exports.h"
#include "sim/sim_processes.h"
#include "sim/sim_state.h"

#include <math.h>
#include <stdlib.h>

NVML_SYMBOLS(SIM_FILE_PROTOTYPE_3)

#define PROC_SAMPLE_PERIOD_S 0.200
#define PROC_SAMPLE_KEEP     72

static double mean_over(const sim_func *f, double a, double b)
{
	if (b <= a)
		return sim_func_eval(f, a);
	double sum = 0;
	for (int i = 0; i < 16; i++)
		sum += sim_func_eval(f, a + (b - a) * (i + 0.5) / 16);
	return sum / 16;
}

static unsigned pct(double v)
{
	return v <= 0 ? 0 : v >= 100 ? 100 : (unsigned)llround(v);
}

/* The processes a list call reports on c's device: a GPU's of that type, or on a MIG device
 * handle only those in its instance. */
static nvmlReturn_t list_processes(nvmlDevice_t device, const char *call, bool graphics,
                                   unsigned *count, nvmlProcessInfo_t *infos)
{
	struct sim_call c;
	nvmlReturn_t rc = sim_state_begin(&c, device, call, count != NULL);
	if (rc)
		return rc;
	const struct sim_gpu *g = c.dev->parent ? c.dev->parent->gpu : c.gpu;
	bool mig_on = g->n_mig > 0;
	/* The agent reads /proc right after the list: bring the simulated host to now. */
	sim_state_host_refresh(c.t);
	unsigned n = 0, room = infos ? *count : 0;
	for (size_t i = 0; i < g->n_processes; i++) {
		const struct sim_process *p = &g->processes[i];
		if (p->graphics != graphics || !sim_process_running(p, c.t))
			continue;
		if (c.dev->parent &&
		    (!p->has_gpu_instance || p->gpu_instance_id != c.gpu->gpu_instance_id))
			continue;
		if (n < room) {
			nvmlProcessInfo_t *e = &infos[n];
			double mib = sim_func_eval(p->used_mib, c.t);
			e->pid = p->pid;
			e->usedGpuMemory = mib < 0 ? NVML_VALUE_NOT_AVAILABLE_ULL
			                           : (unsigned long long)llround(mib * 1048576.0);
			e->gpuInstanceId = mig_on && p->has_gpu_instance ? p->gpu_instance_id
			                                                 : NVML_NO_INSTANCE_ID;
			e->computeInstanceId =
			    mig_on && p->has_gpu_instance ? 0 : NVML_NO_INSTANCE_ID;
		}
		n++;
	}
	bool fits = n <= room || n == 0;
	*count = n;
	return fits ? NVML_SUCCESS : NVML_ERROR_INSUFFICIENT_SIZE;
}

static nvmlReturn_t sim_device_get_compute_running_processes(nvmlDevice_t device, unsigned *count,
                                                             nvmlProcessInfo_t *infos)
{
	return list_processes(device, "nvmlDeviceGetComputeRunningProcesses_v3", false, count,
	                      infos);
}

static nvmlReturn_t sim_device_get_graphics_running_processes(nvmlDevice_t device, unsigned *count,
                                                              nvmlProcessInfo_t *infos)
{
	return list_processes(device, "nvmlDeviceGetGraphicsRunningProcesses_v3", true, count,
	                      infos);
}

static nvmlReturn_t sim_device_get_process_utilization(nvmlDevice_t device,
                                                       nvmlProcessUtilizationSample_t *buf,
                                                       unsigned *count,
                                                       unsigned long long last_seen)
{
	struct sim_call c;
	nvmlReturn_t rc =
	    sim_state_begin(&c, device, "nvmlDeviceGetProcessUtilization", count != NULL);
	if (rc)
		return rc;
	if (c.dev->parent || c.gpu->n_mig > 0)
		return NVML_ERROR_NOT_SUPPORTED;
	if (!buf) {
		*count = PROC_SAMPLE_KEEP;
		return NVML_ERROR_INSUFFICIENT_SIZE;
	}
	double scale = sim_state_time_scale();
	double newest = floor(c.t / scale / PROC_SAMPLE_PERIOD_S) * PROC_SAMPLE_PERIOD_S * scale;
	double oldest = newest - PROC_SAMPLE_PERIOD_S * scale * PROC_SAMPLE_KEEP;
	double wall0 = (double)sim_state_wall_us(0);
	double seen = last_seen ? ((double)last_seen - wall0) / 1e6 * scale
	                        : newest - PROC_SAMPLE_PERIOD_S * scale;
	unsigned long long stamp = sim_state_wall_us(newest);
	if (newest <= 0 || stamp <= last_seen) {
		*count = 0;
		return NVML_ERROR_NOT_FOUND;
	}
	double from = seen > oldest ? seen : oldest;
	if (from < 0)
		from = 0;
	unsigned n = 0;
	for (size_t i = 0; i < c.gpu->n_processes && n < *count; i++) {
		const struct sim_process *p = &c.gpu->processes[i];
		if (!sim_process_running(p, newest))
			continue;
		unsigned sm = pct(mean_over(p->sm_util_pct, from, newest));
		unsigned mem = pct(mean_over(p->mem_util_pct, from, newest));
		if (!sm && !mem)
			continue; /* idle in the period: the driver writes no sample */
		buf[n++] = (nvmlProcessUtilizationSample_t){
		    .pid = p->pid, .timeStamp = stamp, .smUtil = sm, .memUtil = mem};
	}
	*count = n;
	return n ? NVML_SUCCESS : NVML_ERROR_NOT_FOUND;
}

NVML_SYMBOLS(SIM_FILE_EXPORT_3)

/* The _v2 names (same 24-byte entries), as a driver of the 11.1 to 11.6 era exports them. */
#define SIM_EXPORT_FALLBACK(field, name)                                      \
	SIM_EXPORT __typeof__(sim_##field) sim_fallback_##field __asm__(name) \
	    __attribute__((alias("sim_" #field)));
SIM_EXPORT_FALLBACK(device_get_compute_running_processes, "nvmlDeviceGetComputeRunningProcesses_v2")
SIM_EXPORT_FALLBACK(device_get_graphics_running_processes,
                    "nvmlDeviceGetGraphicsRunningProcesses_v2")
#undef SIM_EXPORT_FALLBACK
