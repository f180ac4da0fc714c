/* nvml_loader.c - dlopen libnvidia-ml and bind the NVML_SYMBOLS table.
 *
 * The pattern is nvtop's: own declarations, newest symbol name first, core
 * symbols mandatory, optional ones left NULL.  NVML exports are unversioned
 * ELF symbols (API versions live in _vN suffixes), so plain dlsym is right.
 */
#include "nvml/nvml_loader.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct symbol_row {
	const char *newest;
	const char *fallback;
	bool required;
	size_t offset;
};

static const struct symbol_row symbol_rows[NVML_SYM_COUNT] = {
#define NVML_SYMBOL_ROW(field, req, ret, params, newest_, fallback_) \
	[NVML_SYM_##field] = {.newest = newest_,                     \
	                      .fallback = fallback_,                 \
	                      .required = req,                       \
	                      .offset = offsetof(struct nvml_lib, field)},
    NVML_SYMBOLS(NVML_SYMBOL_ROW)
#undef NVML_SYMBOL_ROW
};

const char *nvml_symbol_newest(enum nvml_symbol_id id)
{
	return symbol_rows[id].newest;
}

const char *nvml_lib_choose(const char *path)
{
	if (path && *path)
		return path;
	const char *env = getenv(NVML_LIB_ENV);
	if (env && *env)
		return env;
	return NVML_LIB_DEFAULT;
}

int nvml_lib_open(struct nvml_lib *lib, const char *path, char *err, size_t errlen)
{
	memset(lib, 0, sizeof(*lib));
	snprintf(lib->path, sizeof(lib->path), "%s", path);
	lib->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib->handle) {
		const char *why = dlerror();
		snprintf(
		    err, errlen,
		    "cannot load the NVIDIA management library %s (%s). Is the NVIDIA driver "
		    "installed? Point --nvml-lib or %s at libnvidia-ml.so.1, or run with --demo "
		    "to use the built-in GPU simulator.",
		    path, why ? why : "unknown error", NVML_LIB_ENV);
		return -1;
	}
	for (int i = 0; i < NVML_SYM_COUNT; i++) {
		const struct symbol_row *row = &symbol_rows[i];
		void *fn = dlsym(lib->handle, row->newest);
		const char *name = row->newest;
		if (!fn && row->fallback) {
			fn = dlsym(lib->handle, row->fallback);
			name = row->fallback;
		}
		if (!fn && row->required) {
			snprintf(err, errlen,
			         "%s is not a usable NVML library: it lacks %s%s%s. The driver is "
			         "too old or the file is not libnvidia-ml.",
			         path, row->newest, row->fallback ? " and " : "",
			         row->fallback ? row->fallback : "");
			dlclose(lib->handle);
			lib->handle = NULL;
			return -1;
		}
		/* POSIX guarantees object and function pointers convert through dlsym. */
		memcpy((char *)lib + row->offset, &fn, sizeof(fn));
		lib->bound[i] = fn ? name : NULL;
	}
	*(void **)&lib->sim_last_error = dlsym(lib->handle, "gpuscopeSimLastError");
	*(void **)&lib->sim_scenario_name = dlsym(lib->handle, "gpuscopeSimScenarioName");
	return 0;
}

void nvml_lib_close(struct nvml_lib *lib)
{
	if (lib->handle)
		dlclose(lib->handle);
	memset(lib, 0, sizeof(*lib));
}

bool nvml_rc_is_unsupported(nvmlReturn_t rc)
{
	return rc == NVML_ERROR_NOT_SUPPORTED || rc == NVML_ERROR_FUNCTION_NOT_FOUND ||
	       rc == NVML_ERROR_ARGUMENT_VERSION_MISMATCH || rc == NVML_ERROR_NO_PERMISSION ||
	       rc == NVML_ERROR_INVALID_ARGUMENT || rc == NVML_ERROR_DEPRECATED;
}

static const char *own_strerror(nvmlReturn_t rc)
{
	switch (rc) {
	case NVML_SUCCESS:
		return "Success";
	case NVML_ERROR_UNINITIALIZED:
		return "Uninitialized";
	case NVML_ERROR_INVALID_ARGUMENT:
		return "Invalid Argument";
	case NVML_ERROR_NOT_SUPPORTED:
		return "Not Supported";
	case NVML_ERROR_NO_PERMISSION:
		return "Insufficient Permissions";
	case NVML_ERROR_NOT_FOUND:
		return "Not Found";
	case NVML_ERROR_INSUFFICIENT_SIZE:
		return "Insufficient Size";
	case NVML_ERROR_DRIVER_NOT_LOADED:
		return "Driver Not Loaded";
	case NVML_ERROR_TIMEOUT:
		return "Timeout";
	case NVML_ERROR_LIBRARY_NOT_FOUND:
		return "NVML Shared Library Not Found";
	case NVML_ERROR_FUNCTION_NOT_FOUND:
		return "Function Not Found";
	case NVML_ERROR_GPU_IS_LOST:
		return "GPU is lost";
	case NVML_ERROR_RESET_REQUIRED:
		return "GPU requires reset";
	case NVML_ERROR_LIB_RM_VERSION_MISMATCH:
		return "RM has detected an NVML/RM version mismatch";
	case NVML_ERROR_NO_DATA:
		return "No data";
	case NVML_ERROR_ARGUMENT_VERSION_MISMATCH:
		return "Argument version mismatch";
	default:
		return "Unknown Error";
	}
}

const char *nvml_lib_strerror(const struct nvml_lib *lib, nvmlReturn_t rc)
{
	if (lib && lib->error_string) {
		const char *s = lib->error_string(rc);
		if (s && *s)
			return s;
	}
	return own_strerror(rc);
}
