/* test_main.c - runs every workload test group; the exit status is the failure count. */
#include "workload/tests/test_util.h"

int main(void)
{
	int failed = 0;
	failed += test_procfs_run();
	failed += test_cgroup_run();
	failed += test_k8s_run();
	failed += test_attrib_run();
	failed += test_attrib_life_run();
	failed += test_attrib_clock_run();
	failed += test_helpers_run();
	failed += test_podres_run();
	return failed ? 1 : 0;
}
