/* test_sim_func.c - the simulator's time functions at and around their boundaries. */
#include "sim/sim_func.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char err[1024];

/* Parses JSON text as a function; fails the test when it does not parse. */
static sim_func *parse(const char *text, const char *base_dir)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
	assert_non_null(j);
	err[0] = '\0';
	sim_func *f = sim_func_parse(j, base_dir, "f", err, sizeof(err));
	json_decref(j);
	if (!f)
		fail_msg("%s", err);
	return f;
}

/* Parses JSON text that must fail; returns the message. */
static const char *parse_error(const char *text)
{
	json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
	assert_non_null(j);
	sim_func *f = sim_func_parse(j, NULL, "gpus[2].metrics.power_w", err, sizeof(err));
	json_decref(j);
	assert_null(f);
	return err;
}

#define assert_near(a, b) assert_true(fabs((a) - (b)) < 1e-9)

static void test_const(void **state)
{
	sim_func *f = parse("42.5", NULL);
	assert_near(sim_func_eval(f, 0), 42.5);
	assert_near(sim_func_eval(f, 1e6), 42.5);
	sim_func_free(f);
	f = parse("{\"const\": \"0x60\"}", NULL);
	assert_near(sim_func_eval(f, 3), 96);
	sim_func_free(f);
	f = parse("\"0x4\"", NULL);
	assert_near(sim_func_eval(f, 3), 4);
	sim_func_free(f);
}

static void test_ramp(void **state)
{
	sim_func *f =
	    parse("{\"ramp\": {\"from\": 10, \"to\": 20, \"start\": 5, \"duration\": 10}}", NULL);
	assert_near(sim_func_eval(f, -1), 10);
	assert_near(sim_func_eval(f, 5), 10);
	assert_near(sim_func_eval(f, 10), 15);
	assert_near(sim_func_eval(f, 15), 20);
	assert_near(sim_func_eval(f, 1000), 20);
	sim_func_free(f);
	/* duration 0 is a step at start */
	f = parse("{\"ramp\": {\"from\": 1, \"to\": 2, \"start\": 3, \"duration\": 0}}", NULL);
	assert_near(sim_func_eval(f, 2.999), 1);
	assert_near(sim_func_eval(f, 3.001), 2);
	sim_func_free(f);
}

static void test_sine(void **state)
{
	sim_func *f = parse("{\"sine\": {\"mean\": 50, \"amplitude\": 10, \"period\": 4}}", NULL);
	assert_true(fabs(sim_func_eval(f, 0) - 50) < 1e-9);
	assert_true(fabs(sim_func_eval(f, 1) - 60) < 1e-9);
	assert_true(fabs(sim_func_eval(f, 3) - 40) < 1e-9);
	assert_true(fabs(sim_func_eval(f, 5) - 60) < 1e-9);
	sim_func_free(f);
	f = parse("{\"sine\": {\"mean\": 0, \"amplitude\": 1, \"period\": 4, \"phase\": 1}}", NULL);
	assert_true(fabs(sim_func_eval(f, 0) - 1) < 1e-9);
	sim_func_free(f);
}

static void test_square(void **state)
{
	sim_func *f =
	    parse("{\"square\": {\"low\": 0, \"high\": 97, \"period\": 10, \"duty\": 0.3}}", NULL);
	assert_near(sim_func_eval(f, 0), 97); /* high first */
	assert_near(sim_func_eval(f, 2.999), 97);
	assert_near(sim_func_eval(f, 3.0), 0);
	assert_near(sim_func_eval(f, 9.999), 0);
	assert_near(sim_func_eval(f, 10.0), 97);
	assert_near(sim_func_eval(f, -7.5), 97); /* -7.5 wraps to 2.5 */
	sim_func_free(f);
	f = parse("{\"square\": {\"low\": 1, \"high\": 2, \"period\": 10, \"phase\": 5}}", NULL);
	assert_near(sim_func_eval(f, 0), 1); /* duty defaults to 0.5; phase shifts by 5 s */
	assert_near(sim_func_eval(f, 5), 2);
	sim_func_free(f);
	f = parse("{\"square\": {\"low\": 1, \"high\": 2, \"period\": 10, \"duty\": 0}}", NULL);
	assert_near(sim_func_eval(f, 0), 1);
	sim_func_free(f);
	f = parse("{\"square\": {\"low\": 1, \"high\": 2, \"period\": 10, \"duty\": 1}}", NULL);
	assert_near(sim_func_eval(f, 9.99), 2);
	sim_func_free(f);
}

static void test_steps(void **state)
{
	sim_func *f = parse("{\"steps\": [[5, 1], [10, 2], [20, \"0x8\"]]}", NULL);
	assert_near(sim_func_eval(f, 0), 1); /* before t0: v0 */
	assert_near(sim_func_eval(f, 9.99), 1);
	assert_near(sim_func_eval(f, 10), 2);
	assert_near(sim_func_eval(f, 19.99), 2);
	assert_near(sim_func_eval(f, 20), 8);
	assert_near(sim_func_eval(f, 1e9), 8);
	sim_func_free(f);
}

static void test_add(void **state)
{
	sim_func *f =
	    parse("{\"add\": [100, {\"steps\": [[0, 0], [2, 5]]}, {\"const\": 1}]}", NULL);
	assert_near(sim_func_eval(f, 1), 101);
	assert_near(sim_func_eval(f, 3), 106);
	sim_func_free(f);
}

static void test_csv(void **state)
{
	char dir[] = "/tmp/sim_func_testXXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/trace.csv", dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("t_s,power_w,reasons,when\r\n1.0,10,0x0,0\r\n2.0,20,0x4,1\r\n3.0,40,0x60,2\r\n"
	      "4.0,,0x1,3\r\n",
	      fp);
	fclose(fp);

	/* t=0 reads the first row; linear between rows; the empty cell skips row 4 */
	sim_func *f = parse("{\"csv\": {\"file\": \"trace.csv\", \"column\": \"power_w\", "
	                    "\"loop\": false}}",
	                    dir);
	assert_near(sim_func_eval(f, 0), 10);
	assert_near(sim_func_eval(f, 0.5), 15);
	assert_near(sim_func_eval(f, 1.5), 30);
	assert_near(sim_func_eval(f, 2), 40);
	assert_near(sim_func_eval(f, 100), 40);
	sim_func_free(f);

	/* looped: the rows span 2 s */
	f = parse("{\"csv\": {\"file\": \"trace.csv\", \"column\": \"power_w\"}}", dir);
	assert_near(sim_func_eval(f, 2.5), 15);
	assert_near(sim_func_eval(f, 4.5), 15);
	sim_func_free(f);

	/* hex column: parsed as integers and held, not interpolated */
	f = parse("{\"csv\": {\"file\": \"trace.csv\", \"column\": \"reasons\", \"loop\": false}}",
	          dir);
	assert_near(sim_func_eval(f, 0.5), 0);
	assert_near(sim_func_eval(f, 1.0), 4);
	assert_near(sim_func_eval(f, 1.99), 4);
	assert_near(sim_func_eval(f, 2.5), 0x60);
	assert_near(sim_func_eval(f, 3.5), 1);
	sim_func_free(f);

	/* other time column, explicit step, cropped rows */
	f = parse("{\"csv\": {\"file\": \"trace.csv\", \"column\": \"power_w\", \"time_column\": "
	          "\"when\", \"interpolate\": \"step\", \"start\": 1, \"loop\": false}}",
	          dir);
	assert_near(sim_func_eval(f, 0), 20);
	assert_near(sim_func_eval(f, 0.9), 20);
	assert_near(sim_func_eval(f, 1), 40);
	sim_func_free(f);

	unlink(path);
	rmdir(dir);
}

static void test_csv_builtin(void **state)
{
	sim_func *f = parse("{\"csv\": {\"file\": \"builtin:h200-matmul.csv\", \"column\": "
	                    "\"clock_event_reasons\"}}",
	                    NULL);
	assert_near(sim_func_eval(f, 0), 0);    /* first row 0x0 */
	assert_near(sim_func_eval(f, 0.25), 4); /* third row (t_s 0.301) is 0x4 */
	sim_func_free(f);
	f = parse("{\"csv\": {\"file\": \"builtin:h200-matmul.csv\", \"column\": \"power_w\"}}",
	          NULL);
	assert_near(sim_func_eval(f, 0), 81.7);
	for (double t = 0; t < 100; t += 0.37) {
		double v = sim_func_eval(f, t);
		assert_true(v >= 81.7 && v <= 710);
	}
	sim_func_free(f);
}

static void test_errors(void **state)
{
	assert_string_equal(parse_error("{\"sinus\": {}}"),
	                    "gpus[2].metrics.power_w: unknown function \"sinus\" (expected const, "
	                    "ramp, sine, square, steps, csv, add)");
	assert_string_equal(parse_error("{\"ramp\": {\"from\": 1, \"to\": 2}}"),
	                    "gpus[2].metrics.power_w.ramp: missing \"duration\"");
	assert_string_equal(
	    parse_error("{\"ramp\": {\"from\": 1, \"to\": 2, \"duration\": 1, \"stat\": 0}}"),
	    "gpus[2].metrics.power_w.ramp: unknown key \"stat\" (expected from, to, start, "
	    "duration)");
	assert_string_equal(parse_error("{\"square\": {\"low\": 0, \"high\": 1, \"period\": 1, "
	                                "\"duty\": 2}}"),
	                    "gpus[2].metrics.power_w.square: \"duty\" must be between 0 and 1");
	assert_string_equal(
	    parse_error("{\"sine\": {\"mean\": 0, \"amplitude\": 1, \"period\": 0}}"),
	    "gpus[2].metrics.power_w.sine: \"period\" must be > 0");
	assert_string_equal(
	    parse_error("{\"sine\": {\"mean\": \"x\", \"amplitude\": 1, \"period\": 1}}"),
	    "gpus[2].metrics.power_w.sine: \"mean\" must be a number");
	assert_string_equal(parse_error("{\"steps\": [[2, 1], [1, 2]]}"),
	                    "gpus[2].metrics.power_w.steps: [1]: times must not decrease");
	assert_string_equal(parse_error("{\"steps\": []}"),
	                    "gpus[2].metrics.power_w.steps: expected a non-empty array of [t, "
	                    "value] pairs");
	assert_string_equal(
	    parse_error("{\"csv\": {\"file\": \"builtin:nope.csv\", \"column\": "
	                "\"power_w\"}}"),
	    "gpus[2].metrics.power_w.csv: builtin:nope.csv: no such built-in trace");
	assert_string_equal(parse_error("{\"csv\": {\"file\": \"builtin:h200-idle.csv\", "
	                                "\"column\": \"watts\"}}"),
	                    "gpus[2].metrics.power_w.csv: builtin:h200-idle.csv has no column "
	                    "\"watts\"");
	assert_non_null(strstr(parse_error("{\"csv\": {\"file\": \"/nonexistent/x.csv\", "
	                                   "\"column\": \"a\"}}"),
	                       "/nonexistent/x.csv: No such file or directory"));
	assert_non_null(strstr(parse_error("{\"ramp\": {}, \"sine\": {}}"), "exactly one key"));
	assert_non_null(strstr(parse_error("\"fast\""), "expected a number"));
	assert_non_null(strstr(parse_error("[1]"), "exactly one key"));
	assert_string_equal(parse_error("{\"add\": [1, {\"ramp\": 3}]}"),
	                    "gpus[2].metrics.power_w.add[1].ramp: expected an object");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_const),  cmocka_unit_test(test_ramp),
	    cmocka_unit_test(test_sine),   cmocka_unit_test(test_square),
	    cmocka_unit_test(test_steps),  cmocka_unit_test(test_add),
	    cmocka_unit_test(test_csv),    cmocka_unit_test(test_csv_builtin),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
