/* cupti_locate.h - finding a libcupti for the program we run inside.
 *
 * libcupti is not part of the driver.  The one that matches the program best is the one its
 * own CUDA came with, so the search order is:
 *   1. GPUSCOPE_CUPTI (gpuscope run --cupti PATH);
 *   2. the pip package nvidia-cuda-cupti-* beside any site-packages directory the program
 *      has already mapped (PyTorch, JAX and friends ship CUDA that way);
 *   3. "libcupti.so" through the dynamic loader (LD_LIBRARY_PATH, ldconfig);
 *   4. the toolkit: /usr/local/cuda/extras/CUPTI/lib64 and /usr/local/cuda-* newest first.
 */
#ifndef GPUSCOPE_CUPTI_LOCATE_H
#define GPUSCOPE_CUPTI_LOCATE_H

#include <stddef.h>

/* Returns a dlopen handle and the path it came from, or NULL and in why every place tried. */
void *cupti_locate(const char *explicit_path, char *path, size_t path_cap, char *why,
                   size_t why_cap);

/* The site-packages directories named in a /proc/PID/maps text (each once, in order of first
 * appearance), written NUL-separated into out.  Returns how many.  Pure, for tests. */
int cupti_site_dirs(const char *maps, size_t len, char *out, size_t cap);

#endif
