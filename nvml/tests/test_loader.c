/* test_loader.c - the NVML loader: newest symbol first, fallbacks, optional
 * symbols left NULL, and one clear error for a missing or unusable library. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "nvml/nvml_loader.h"

static void test_old_driver_binds_fallbacks(void **state)
{
	struct nvml_lib lib;
	char err[512] = "";
	assert_int_equal(nvml_lib_open(&lib, FAKE_OLD_NVML, err, sizeof(err)), 0);
	assert_string_equal(lib.bound[NVML_SYM_init], "nvmlInit");
	assert_string_equal(lib.bound[NVML_SYM_device_get_count], "nvmlDeviceGetCount");
	assert_string_equal(lib.bound[NVML_SYM_device_get_handle_by_index],
	                    "nvmlDeviceGetHandleByIndex");
	/* Optional calls the library lacks stay NULL: their metrics go unsupported. */
	assert_null(lib.device_get_power_usage);
	assert_null(lib.bound[NVML_SYM_device_get_power_usage]);
	assert_null(lib.sim_last_error);
	unsigned n = 0;
	assert_int_equal(lib.init(), NVML_SUCCESS);
	assert_int_equal(lib.device_get_count(&n), NVML_SUCCESS);
	assert_int_equal(n, 1);
	/* Without nvmlErrorString the loader's own texts answer. */
	assert_string_equal(nvml_lib_strerror(&lib, NVML_ERROR_GPU_IS_LOST), "GPU is lost");
	nvml_lib_close(&lib);
}

static void test_simulator_binds_newest_names(void **state)
{
	struct nvml_lib lib;
	char err[512] = "";
	assert_int_equal(nvml_lib_open(&lib, SIM_LIB, err, sizeof(err)), 0);
	for (int i = 0; i < NVML_SYM_COUNT; i++)
		assert_string_equal(lib.bound[i], nvml_symbol_newest(i));
	assert_non_null(lib.sim_last_error);
	nvml_lib_close(&lib);
}

static void test_missing_library_is_one_clear_error(void **state)
{
	struct nvml_lib lib;
	char err[512] = "";
	assert_int_equal(nvml_lib_open(&lib, "/nonexistent/libnvidia-ml.so.1", err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "/nonexistent/libnvidia-ml.so.1"));
	assert_non_null(strstr(err, "--demo"));
	assert_null(lib.handle);
}

static void test_library_without_nvml_is_rejected(void **state)
{
	struct nvml_lib lib;
	char err[512] = "";
	assert_int_equal(nvml_lib_open(&lib, "libz.so.1", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "lacks nvmlInit_v2 and nvmlInit"));
}

static void test_choose_order(void **state)
{
	unsetenv(NVML_LIB_ENV);
	assert_string_equal(nvml_lib_choose(NULL), "libnvidia-ml.so.1");
	setenv(NVML_LIB_ENV, "/opt/nvml.so", 1);
	assert_string_equal(nvml_lib_choose(NULL), "/opt/nvml.so");
	assert_string_equal(nvml_lib_choose("/flag.so"), "/flag.so");
	unsetenv(NVML_LIB_ENV);
}

static void test_unsupported_codes(void **state)
{
	assert_true(nvml_rc_is_unsupported(NVML_ERROR_NOT_SUPPORTED));
	assert_true(nvml_rc_is_unsupported(NVML_ERROR_FUNCTION_NOT_FOUND));
	assert_true(nvml_rc_is_unsupported(NVML_ERROR_ARGUMENT_VERSION_MISMATCH));
	assert_false(nvml_rc_is_unsupported(NVML_ERROR_GPU_IS_LOST));
	assert_false(nvml_rc_is_unsupported(NVML_ERROR_TIMEOUT));
	assert_false(nvml_rc_is_unsupported(NVML_ERROR_UNKNOWN));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_old_driver_binds_fallbacks),
	    cmocka_unit_test(test_simulator_binds_newest_names),
	    cmocka_unit_test(test_missing_library_is_one_clear_error),
	    cmocka_unit_test(test_library_without_nvml_is_rejected),
	    cmocka_unit_test(test_choose_order),
	    cmocka_unit_test(test_unsupported_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
