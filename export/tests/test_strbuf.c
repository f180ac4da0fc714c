/* test_strbuf.c - sb_double prints exactly what printf printed before it had fast paths
 * ("%.0f" for a whole number below 10^15, else "%.15g" when that reads back as the same
 * double, else "%.17g"), over the kinds of values the exposition writes and random bits;
 * sb_uint and sb_label_value against their plain definitions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/strbuf.h"

/* The rule as printf alone applies it. */
static void printf_double(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "NaN");
	else if (isinf(v))
		snprintf(buf, len, "%s", v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, len, "%.0f", v);
	else if (snprintf(buf, len, "%.15g", v), strtod(buf, NULL) != v)
		snprintf(buf, len, "%.17g", v);
}

static void check(double v)
{
	struct strbuf sb;
	sb_init(&sb, 8);
	sb_double(&sb, v);
	char want[64];
	printf_double(want, sizeof(want), v);
	if (strcmp(sb.data, want) != 0)
		fail_msg("%.17g: sb_double wrote %s, printf %s", v, sb.data, want);
	sb_free(&sb);
}

static double random_bits(void)
{
	uint64_t u = 0;
	for (int i = 0; i < 4; i++)
		u = u << 16 ^ (uint64_t)(rand() & 0xffff);
	double v;
	memcpy(&v, &u, sizeof(v));
	return v;
}

static void test_double_edges(void **state)
{
	(void)state;
	static const double v[] = {0.0,
	                           -0.0,
	                           1e-4,
	                           9.9e-5,
	                           1.5e-4,
	                           1e15,
	                           1e15 - 1,
	                           1e15 + 0.5,
	                           99999999999999.9,
	                           0.1,
	                           0.2,
	                           0.3,
	                           0.1 + 0.2,
	                           1.0 / 3,
	                           2.0 / 3,
	                           123.456,
	                           -5.5,
	                           -0.25,
	                           1e-7,
	                           412000166.446,
	                           0.123456,
	                           9007199254740993.0,
	                           1e300,
	                           -1e-300,
	                           5e-324,
	                           1.7976931348623157e308,
	                           0.000999999999999999,
	                           9.999999999999999,
	                           0.95,
	                           0.05,
	                           1e22,
	                           1e23};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		check(v[i]);
		check(-v[i]);
		check(nextafter(v[i], 0));
		check(nextafter(v[i], INFINITY));
	}
	check(NAN);
	check(INFINITY);
	check(-INFINITY);
}

static void test_double_random(void **state)
{
	(void)state;
	srand(19);
	for (int i = 0; i < 400000; i++) {
		double sum = 0, v;
		int n = 1 + rand() % 300;
		switch (i % 6) {
		case 0: /* a window mean of whole samples (MHz, W, percent) */
			for (int j = 0; j < n; j++)
				sum += rand() % 2000;
			v = sum / n / (rand() % 2 ? 1 : 100);
			break;
		case 1: /* a few decimals (ratios, watts) */
			v = (rand() % 2000001 - 1000000) / pow(10, rand() % 8);
			break;
		case 2: /* any magnitude */
			v = rand() / (double)RAND_MAX * pow(10, rand() % 40 - 20);
			break;
		case 3:
			v = random_bits();
			break;
		case 4: /* next to a power of ten */
			v = nextafter(pow(10, rand() % 40 - 20), rand() % 2 ? 0 : INFINITY);
			break;
		default: /* seconds since boot, energy in joules */
			v = (double)(rand() % 1000000007) * 1e-3 + (rand() % 1000) * 1e6;
			break;
		}
		check(v);
	}
}

static void test_uint_and_label_value(void **state)
{
	(void)state;
	struct strbuf sb;
	sb_init(&sb, 4);
	sb_uint(&sb, 0);
	sb_puts(&sb, " ");
	sb_uint(&sb, 18446744073709551615ULL);
	sb_puts(&sb, " ");
	sb_label_value(&sb, "a\\b\"c\nd");
	sb_label_value(&sb, "");
	sb_label_value(&sb, "\n\n");
	assert_string_equal(sb.data, "0 18446744073709551615 a\\\\b\\\"c\\nd\\n\\n");
	sb_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_double_edges),
	    cmocka_unit_test(test_double_random),
	    cmocka_unit_test(test_uint_and_label_value),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
