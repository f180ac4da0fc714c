/* test_options.c - command-line values: --listen, --names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>

#include "export/prom.h"
#include "http/listen_addr.h"

static void test_listen_forms(void **state)
{
	struct listen_addr a;
	char err[256];
	assert_int_equal(listen_addr_parse(":9400", &a, err, sizeof(err)), 0);
	assert_true(a.any);
	assert_int_equal(a.port, 9400);
	assert_int_equal(listen_addr_parse("9400", &a, err, sizeof(err)), 0);
	assert_true(a.any);
	assert_int_equal(listen_addr_parse("127.0.0.1:0", &a, err, sizeof(err)), 0);
	assert_false(a.any);
	assert_int_equal(a.ss.ss_family, AF_INET);
	assert_int_equal(a.port, 0);
	assert_int_equal(listen_addr_parse("[::1]:9400", &a, err, sizeof(err)), 0);
	assert_int_equal(a.ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&a.ss)->sin6_port), 9400);
	const char *bad[] = {"",         ":",         ":65536", "host:",  "1.2.3.4:x",
	                     "::1:9400", "[::1]9400", ":-1",    ":123456"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(listen_addr_parse(bad[i], &a, err, sizeof(err)), -1);
		assert_true(err[0] != 0);
	}
}

static void test_names(void **state)
{
	unsigned n;
	assert_int_equal(prom_parse_names("both", &n), 0);
	assert_int_equal(n, NAMES_BOTH);
	assert_int_equal(prom_parse_names("dcgm", &n), 0);
	assert_int_equal(n, NAMES_DCGM);
	assert_int_equal(prom_parse_names("native", &n), 0);
	assert_int_equal(n, NAMES_NATIVE);
	assert_int_equal(prom_parse_names("DCGM", &n), -1);
	assert_int_equal(prom_parse_names("", &n), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_listen_forms),
	    cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
