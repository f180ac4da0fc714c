/* identity.c - the strings dcgm-exporter can put on every series as label fields: serial,
 * VBIOS, brand and inforom versions (DCGM_FI_DEV_SERIAL, _VBIOS_VERSION, _BRAND,
 * _INFOROM_IMAGE_VER, _OEM_INFOROM_VER, _ECC_INFOROM_VER, _POWER_INFOROM_VER).
 *
 * They change only with a firmware flash or a new board, so they are read once with the rest
 * of the identity.  A string the GPU does not give (an H200 has no power inforom object) is
 * left empty, and the exporter leaves its label off as dcgm-exporter does with DCGM's blank.
 */
#include "sample/probe.h"

#include <stdio.h>
#include <string.h>

/* nvidia-smi's "Product Brand" for each nvmlBrandType_t. */
static const char *brand_name(int brand)
{
	static const char *const names[NVML_BRAND_COUNT] = {"Unknown",
	                                                    "Quadro",
	                                                    "Tesla",
	                                                    "NVS",
	                                                    "Grid",
	                                                    "GeForce",
	                                                    "Titan",
	                                                    "NVIDIA Virtual Applications",
	                                                    "NVIDIA Virtual PC",
	                                                    "NVIDIA Virtual Compute Server",
	                                                    "NVIDIA RTX Virtual Workstation",
	                                                    "NVIDIA Cloud Gaming",
	                                                    "Quadro RTX",
	                                                    "NVIDIA RTX",
	                                                    "NVIDIA",
	                                                    "GeForce RTX",
	                                                    "Titan RTX"};
	return brand >= 0 && brand < NVML_BRAND_COUNT ? names[brand] : "Unknown";
}

typedef nvmlReturn_t (*string_call)(nvmlDevice_t, char *, unsigned);

/* One string into buf; false only when the GPU is lost. */
static bool read_string(nvmlDevice_t dev, string_call call, char *buf, size_t len)
{
	buf[0] = 0;
	if (!call)
		return true;
	nvmlReturn_t rc = call(dev, buf, (unsigned)len);
	if (rc != NVML_SUCCESS)
		buf[0] = 0;
	buf[len - 1] = 0;
	return rc != NVML_ERROR_GPU_IS_LOST;
}

static bool read_inforom(const struct nvml_lib *lib, nvmlDevice_t dev, int object, char *buf,
                         size_t len)
{
	buf[0] = 0;
	if (!lib->device_get_inforom_version)
		return true;
	nvmlReturn_t rc = lib->device_get_inforom_version(dev, object, buf, (unsigned)len);
	if (rc != NVML_SUCCESS)
		buf[0] = 0;
	buf[len - 1] = 0;
	return rc != NVML_ERROR_GPU_IS_LOST;
}

nvmlReturn_t identity_read_labels(const struct nvml_lib *lib, nvmlDevice_t dev,
                                  struct gpu_identity *id)
{
	if (!read_string(dev, lib->device_get_serial, id->serial, sizeof(id->serial)) ||
	    !read_string(dev, lib->device_get_vbios_version, id->vbios_version,
	                 sizeof(id->vbios_version)) ||
	    !read_string(dev, lib->device_get_inforom_image_version, id->inforom_image,
	                 sizeof(id->inforom_image)) ||
	    !read_inforom(lib, dev, NVML_INFOROM_OEM, id->inforom_oem, sizeof(id->inforom_oem)) ||
	    !read_inforom(lib, dev, NVML_INFOROM_ECC, id->inforom_ecc, sizeof(id->inforom_ecc)) ||
	    !read_inforom(lib, dev, NVML_INFOROM_POWER, id->inforom_power,
	                  sizeof(id->inforom_power)))
		return NVML_ERROR_GPU_IS_LOST;
	id->brand[0] = 0;
	if (lib->device_get_brand) {
		int brand;
		nvmlReturn_t rc = lib->device_get_brand(dev, &brand);
		if (rc == NVML_ERROR_GPU_IS_LOST)
			return rc;
		if (rc == NVML_SUCCESS)
			snprintf(id->brand, sizeof(id->brand), "%s", brand_name(brand));
	}
	return NVML_SUCCESS;
}
