/* fuzz_scenario.c - simulator scenario JSON (sim_scenario_parse), the file --demo reads.
 * Relative CSV traces resolve against a folder that does not exist, so only "builtin:"
 * traces load: the parser, not the file system, is under test (fuzz_csv covers traces). */
#include "fuzz/fuzz.h"
#include "sim/sim_scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024];
	struct sim_scenario *s = sim_scenario_parse((const char *)data, size, "fuzz.json",
	                                            "/nonexistent-fuzz-dir", err, sizeof(err));
	sim_scenario_free(s);
	return 0;
}
