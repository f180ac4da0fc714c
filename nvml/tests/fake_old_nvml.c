/* fake_old_nvml.c - a stand-in for an old libnvidia-ml that exports only the
 * pre-_v2 names of the required calls and nothing optional, so the loader's
 * fallbacks and its tolerance of missing symbols can be tested. */
#include <stdint.h>

#include "nvml/nvml_abi.h"

nvmlReturn_t nvmlInit(void);
nvmlReturn_t nvmlShutdown(void);
nvmlReturn_t nvmlDeviceGetCount(unsigned *n);
nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned i, nvmlDevice_t *d);

nvmlReturn_t nvmlInit(void)
{
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void)
{
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount(unsigned *n)
{
	*n = 1;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned i, nvmlDevice_t *d)
{
	*d = (nvmlDevice_t)(uintptr_t)(i + 1);
	return NVML_SUCCESS;
}
