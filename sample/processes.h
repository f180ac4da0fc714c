/* processes.h - the processes NVML lists on one GPU, and their utilization.
 *
 * One reader per GPU, used by that GPU's slow-tier thread only.  A read makes three calls:
 * the compute and graphics process lists (sized by a first call) and the per-process
 * utilization samples newer than the last one seen; it merges them into one row per pid.
 * Buffers grow to the largest list seen and are kept, so a steady GPU costs no allocation.
 */
#ifndef GPUSCOPE_PROCESSES_H
#define GPUSCOPE_PROCESSES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvml/nvml_loader.h"

/* Rows kept per GPU per read; a GPU listing more (MPS allows 48 clients per GPU, time-slicing
 * more) has the rest dropped and counted in gpuprocs_reader.dropped. */
#define GPUPROCS_MAX 256

struct gpuprocs_row {
	unsigned pid;
	bool memory_valid;
	uint64_t memory_bytes;
	bool gpu_instance_valid; /* MIG */
	unsigned gpu_instance;
	bool graphics;   /* listed by the graphics call (too) */
	bool util_valid; /* the utilization call answered (0 % when the pid had no sample) */
	double sm_util, mem_util; /* percent, mean of its samples since the last read */
};

struct gpuprocs_reader {
	unsigned char *list; /* raw list buffer, 32 bytes an entry (room for a wrong stride) */
	unsigned list_room;  /* entries */
	nvmlProcessUtilizationSample_t *util;
	unsigned util_room;
	unsigned long long last_seen; /* newest utilization timestamp seen, us */
	bool util_off;                /* NOT_SUPPORTED (MIG, old GPU) or missing: not asked again */
	unsigned stride;  /* list entry size the driver used (judged on 2+ entries): 24, 32, 16 */
	unsigned dropped; /* rows past GPUPROCS_MAX in the last read */
	bool listed;      /* a list call answered in the last read (false: denied, unsupported) */
};

/* Reads the GPU's processes into rows (up to GPUPROCS_MAX).  Returns NVML_SUCCESS (also when
 * the calls are unsupported: no rows), GPU_IS_LOST, or MEMORY when a buffer cannot grow. */
nvmlReturn_t gpuprocs_read(struct gpuprocs_reader *r, const struct nvml_lib *lib, nvmlDevice_t dev,
                           struct gpuprocs_row *rows, unsigned *n);

void gpuprocs_release(struct gpuprocs_reader *r);

/* The entry size of a list the driver wrote (n entries in buf, room for n * 32 bytes):
 * 24 (nvmlProcessInfo_t), unless every pid at that stride is implausible and 32 (early R535)
 * or 16 (v1 layout) reads plausibly.  Exposed for the unit test. */
unsigned gpuprocs_stride(const unsigned char *buf, unsigned n);

#endif
