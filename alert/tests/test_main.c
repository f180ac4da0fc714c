/* test_main.c - runs the alert test groups: all of them, or the one named by argv[1]
 * (ctest runs each group as its own test, unit.alert.<group>). Exit status: failures. */
#include <stdio.h>
#include <string.h>

#include "alert/tests/tests.h"

static const struct {
	const char *name;
	int (*run)(void);
} groups[] = {
    {"rules", test_rules_run},
    {"eval", test_eval_run},
    {"queue", test_queue_run},
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
		fprintf(stderr, "test_alert: no group named %s\n", argv[1]);
		return 2;
	}
	return failed ? 1 : 0;
}
