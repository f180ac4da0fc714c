/* fuzz_config.c - `serve --config FILE`'s YAML (cmd/config_file.c). */
#include "cmd/config_file.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_args a = {0};
	char err[512];
	if (config_yaml_args((const char *)data, size, &a, err, sizeof(err)) == 0) {
		/* argv-shaped: every flag a string, NULL after the last */
		for (size_t i = 0; i < a.n; i++)
			if (!a.v[i])
				abort();
		if (a.n && a.v[a.n])
			abort();
	}
	config_args_free(&a);
	return 0;
}
