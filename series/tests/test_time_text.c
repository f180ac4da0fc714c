/* test_time_text.c - durations, spans and timestamps from text (series/time_text.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "series/time_text.h"

static void test_durations(void **state)
{
	double s;
	assert_int_equal(parse_duration("100ms", &s), 0);
	assert_true(s == 0.1);
	assert_int_equal(parse_duration("5s", &s), 0);
	assert_true(s == 5);
	assert_int_equal(parse_duration("1.5s", &s), 0);
	assert_true(s == 1.5);
	assert_int_equal(parse_duration("2m", &s), 0);
	assert_true(s == 120);
	assert_int_equal(parse_duration(".5s", &s), 0);
	assert_true(s == 0.5);
	/* "0x10s" once read as hex (16 s); exponents and blanks are not durations either. */
	const char *bad[] = {"",     "5",      "s",     "-1s",   "1h",   "5 s", "nan s",
	                     "infs", "1e999s", "10msx", "0x10s", "1e1s", " 5s", ".s"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_duration(bad[i], &s), -1);
	assert_int_equal(parse_duration(NULL, &s), -1);
}

static void test_spans_and_times(void **state)
{
	double s;
	assert_int_equal(parse_span("48h", &s), 0);
	assert_true(s == 48 * 3600);
	assert_int_equal(parse_span("90d", &s), 0);
	assert_true(s == 90 * 86400);
	assert_int_equal(parse_span("10m", &s), 0);
	assert_true(s == 600);
	assert_int_equal(parse_span("1.5h", &s), 0);
	assert_true(s == 5400);
	assert_int_equal(parse_span("5200w", &s), 0); /* 99.7 years: the longest span */
	/* --since 1e300w and --retention-1s 1e300d overflowed a 64-bit second count. */
	const char *bad[] = {"",   "5",      "h",      "-1h",    "1hh",   "5 h",
	                     "1y", "1e999d", "1e300w", "1e300d", "5300w", "9999999999999s"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_span(bad[i], &s), -1);

	long long t;
	assert_int_equal(parse_timestamp("1700000000", &t), 0);
	assert_true(t == 1700000000LL);
	assert_int_equal(parse_timestamp("2023-11-14T22:13:20Z", &t), 0);
	assert_true(t == 1700000000LL);
	assert_int_equal(parse_timestamp("2023-11-14 23:13:20.25+01:00", &t), 0);
	assert_true(t == 1700000000LL);
	assert_int_equal(parse_timestamp("2023-11-14T17:13:20-05:00", &t), 0);
	assert_true(t == 1700000000LL);
	assert_int_equal(parse_timestamp("1970-01-01T00:00:00Z", &t), 0);
	assert_true(t == 0);
	const char *badt[] = {"",
	                      "yesterday",
	                      "2023-11-14",
	                      "2023-11-14T22:13:20",
	                      "2023-13-14T22:13:20Z",
	                      "2023-11-14T22:13:20+1",
	                      "17e8",
	                      "99999999999999999999", /* past LLONG_MAX */
	                      "253402300800"};        /* past year 9999 */
	for (size_t i = 0; i < sizeof(badt) / sizeof(badt[0]); i++)
		assert_int_equal(parse_timestamp(badt[i], &t), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_durations),
	    cmocka_unit_test(test_spans_and_times),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
