/* nvml_loader.h - the one door to the NVIDIA driver: dlopen + a dlsym table.
 *
 * gpuscope never links against libnvidia-ml: the library is opened at run
 * time so the same binary runs on machines without a driver (and reports
 * that clearly), and so tests can swap in the simulator library.  Every
 * symbol comes from the NVML_SYMBOLS table in nvml_abi.h; the newest name is
 * tried first, then its fallback.  Optional symbols that are missing stay
 * NULL, and the metrics that need them are reported unsupported.
 */
#ifndef GPUSCOPE_NVML_LOADER_H
#define GPUSCOPE_NVML_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include "nvml/nvml_abi.h"

enum nvml_symbol_id {
#define NVML_SYMBOL_ENUM(field, ...) NVML_SYM_##field,
	NVML_SYMBOLS(NVML_SYMBOL_ENUM)
#undef NVML_SYMBOL_ENUM
	    NVML_SYM_COUNT
};

struct nvml_lib {
	void *handle;
	char path[512];
#define NVML_SYMBOL_FIELD(field, req, ret, params, newest, fallback) ret(*field) params;
	NVML_SYMBOLS(NVML_SYMBOL_FIELD)
#undef NVML_SYMBOL_FIELD
	/* The name each symbol was bound under, or NULL when absent. */
	const char *bound[NVML_SYM_COUNT];
	/* Present only in gpuscope's simulator library. */
	const char *(*sim_last_error)(void);
	const char *(*sim_scenario_name)(void);
};

/* Default library name, and the environment variable that overrides it. */
#define NVML_LIB_DEFAULT "libnvidia-ml.so.1"
#define NVML_LIB_ENV     "GPUSCOPE_NVML_LIB"

/* Chooses the library: path if non-NULL, else $GPUSCOPE_NVML_LIB, else
 * libnvidia-ml.so.1. */
const char *nvml_lib_choose(const char *path);

/* Opens the library and binds its symbols.  Returns 0, or -1 with a
 * sentence for the user in err (what failed and what to do). */
int nvml_lib_open(struct nvml_lib *lib, const char *path, char *err, size_t errlen);
void nvml_lib_close(struct nvml_lib *lib);

/* NVML's own text for rc when the library offers it, else ours. */
const char *nvml_lib_strerror(const struct nvml_lib *lib, nvmlReturn_t rc);

/* The newest symbol name of each table row, for doctor and tests. */
const char *nvml_symbol_newest(enum nvml_symbol_id id);

/* True for return codes that mean "this GPU or driver cannot do that":
 * cache the answer and stop asking. */
bool nvml_rc_is_unsupported(nvmlReturn_t rc);

#endif
