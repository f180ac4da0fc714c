/* test_main.c - runs the store test groups: all of them, or the one named by argv[1]
 * (ctest runs each group as its own test, unit.store.<group>). Exit status: failures. */
#include <stdio.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store/tests/helpers.h"

static const struct {
	const char *name;
	int (*run)(void);
} groups[] = {
    {"roundtrip", test_roundtrip_run}, {"batch", test_batch_run},
    {"maintain", test_maintain_run},   {"schema", test_schema_run},
    {"errors", test_errors_run},       {"crash", test_crash_run},
    {"recorder", test_recorder_run},   {"migrate", test_migrate_run},
};

int main(int argc, char **argv)
{
	int failed = 0, ran = 0;
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (argc > 1 && strcmp(argv[1], groups[i].name) != 0)
			continue;
		failed += groups[i].run();
		ran++;
	}
	if (!ran) {
		fprintf(stderr, "test_store: no group named %s\n", argv[1]);
		return 2;
	}
	return failed ? 1 : 0;
}
