/* fuzz.h - what the fuzz targets share: libFuzzer's entry point and a NUL-terminated copy.
 *
 * Each fuzz_*.c is one libFuzzer target (clang -fsanitize=fuzzer) linked against the
 * project's own parser sources, never a copy of them; fuzz/CMakeLists.txt builds them and
 * scripts/fuzz.sh runs them (see fuzz/README.md). */
#ifndef GPUSCOPE_FUZZ_H
#define GPUSCOPE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a C string (malloc'd; a NUL inside ends it early, as it would for argv). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
