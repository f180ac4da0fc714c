/* cuda_version.h - the CUDA driver's version, read without loading libcuda into the agent.
 *
 * nvmlSystemGetCudaDriverVersion answers by loading libcuda.so into the caller, and NVML
 * never unloads it: on an H200 with driver 580 that is 3.9 MiB of resident memory for one
 * integer the agent reads once (bench/README.md, issue 19's memory figures).  So the agent
 * asks a short-lived copy of itself: `gpuscope __cuda-driver-version` loads libcuda, prints
 * cuDriverGetVersion's answer and exits; the copy's memory goes with it.
 */
#ifndef GPUSCOPE_NVML_CUDA_VERSION_H
#define GPUSCOPE_NVML_CUDA_VERSION_H

#include <stdbool.h>

/* The hidden command's name (cmd/main.c dispatches it to cuda_version_main). */
#define CUDA_VERSION_COMMAND "__cuda-driver-version"

/* The child's side: prints the version (1000 * major + 10 * minor) and returns 0, or
 * returns 1 when libcuda or its entry point is missing or the call fails. */
int cuda_version_main(void);

/* The agent's side: runs the child from /proc/self/exe and reads its answer, waiting at
 * most timeout_ms (a child that hangs in the driver is killed).  False when the child
 * could not run or had no answer; *version is then untouched. */
bool cuda_version_isolated(int *version, int timeout_ms);

#endif
