/* test_wire.c - the request head parser (http/wire.h): what it accepts, what it refuses and
 * with which status, heads arriving byte by byte, and the decoding of path, query and
 * Basic credentials.  Every case runs on a copy, as the engine's buffer would be. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/wire.h"

static const struct wire_limits lim = {8192, 512};

/* Parses text (a copy); the result of wire_parse.  *out points into *keep (free it). */
static long parse(const char *text, struct wire_request *out, char **keep)
{
	size_t n = strlen(text);
	*keep = malloc(n + 1);
	assert_non_null(*keep);
	memcpy(*keep, text, n + 1);
	return wire_parse(*keep, n, &lim, out);
}

static long status_of(const char *text)
{
	struct wire_request r;
	char *keep;
	long got = parse(text, &r, &keep);
	free(keep);
	return got;
}

static void a_scrape_is_parsed(void **state)
{
	(void)state;
	const char *text =
	    "GET /metrics HTTP/1.1\r\nHost: node:9400\r\nUser-Agent: Prometheus/2.53\r\n"
	    "Accept-Encoding:  gzip \r\n\r\nNEXT";
	struct wire_request r;
	char *keep;
	long used = parse(text, &r, &keep);
	assert_int_equal(used, (long)(strlen(text) - 4)); /* the head, not what follows */
	assert_string_equal(r.method, "GET");
	assert_string_equal(r.path, "/metrics");
	assert_int_equal(r.minor, 1);
	assert_true(r.keep_alive);
	assert_int_equal(r.body, 0);
	assert_false(r.chunked);
	assert_int_equal(r.nheaders, 3);
	assert_string_equal(wire_header(&r, "accept-encoding"), "gzip"); /* trimmed, any case */
	assert_string_equal(wire_header(&r, "HOST"), "node:9400");
	assert_null(wire_header(&r, "Accept"));
	free(keep);
}

static void a_head_arriving_in_pieces_waits_unchanged(void **state)
{
	(void)state;
	const char *text = "GET /api/v1/series?range=1h HTTP/1.1\r\nHost: x\r\n\r\n";
	size_t n = strlen(text);
	char *buf = malloc(n);
	assert_non_null(buf);
	memcpy(buf, text, n);
	struct wire_request r;
	for (size_t have = 0; have < n; have++) {
		assert_int_equal(wire_parse(buf, have, &lim, &r), 0);
		assert_memory_equal(buf, text, n); /* re-parsed later from the same bytes */
	}
	assert_int_equal(wire_parse(buf, n, &lim, &r), (long)n);
	free(buf);
}

static void bare_lf_and_leading_empty_lines_are_accepted(void **state)
{
	(void)state;
	struct wire_request r;
	char *keep;
	assert_true(parse("\r\n\nHEAD / HTTP/1.0\nConnection: keep-alive\n\n", &r, &keep) > 0);
	assert_string_equal(r.method, "HEAD");
	assert_int_equal(r.minor, 0);
	assert_true(r.keep_alive); /* 1.0 keeps the connection only when asked */
	free(keep);
	assert_true(parse("GET / HTTP/1.0\r\n\r\n", &r, &keep) > 0);
	assert_false(r.keep_alive);
	free(keep);
	assert_true(parse("GET / HTTP/1.1\r\nConnection: Upgrade, close\r\n\r\n", &r, &keep) > 0);
	assert_false(r.keep_alive);
	free(keep);
}

static void malformed_heads_are_refused_with_their_status(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		long status;
	} cases[] = {
	    {"GET /metrics HTTP/2.0\r\n\r\n", -505},
	    {"GET /metrics HTTP/0.9\r\n\r\n", -505},
	    {"GET /metrics HTTX/1.1\r\n\r\n", -400},
	    {"GET  /metrics HTTP/1.1\r\n\r\n", -400},
	    {"GET /metrics HTTP/1.1 \r\n\r\n", -400},
	    {"G(T / HTTP/1.1\r\n\r\n", -400},
	    {"GETTOOLONGMETHODNAMEHERE / HTTP/1.1\r\n\r\n", -400},
	    {"GET metrics HTTP/1.1\r\n\r\n", -400},
	    {"GET * HTTP/1.1\r\n\r\n", -400},
	    {"GET /a%zz HTTP/1.1\r\n\r\n", -400},
	    {"GET /a%00b HTTP/1.1\r\n\r\n", -400},
	    {"GET /?a%00=1 HTTP/1.1\r\n\r\n", -400},
	    {"GET /?a=%0 HTTP/1.1\r\n\r\n", -400},
	    {"GET / HTTP/1.1\r\nX : y\r\n\r\n", -400},
	    {"GET / HTTP/1.1\r\nX: y\r\n folded\r\n\r\n", -400},
	    {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", -400},
	    {"GET / HTTP/1.1\r\nX: a\001b\r\n\r\n", -400},
	    {"GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", -400},
	    {"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", -400},
	    {"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", -400},
	    {"GET / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", -400},
	    {"GET http://host HTTP/1.1\r\n\r\n", -400},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long got = status_of(cases[i].text);
		if (got != cases[i].status)
			fail_msg("%s: got %ld, want %ld", cases[i].text, got, cases[i].status);
	}
	/* A bad request line is refused before the head is whole. */
	assert_int_equal(status_of("GET /metrics HTTP/3"), -505);
	assert_int_equal(status_of("G{"), -400);
}

static void too_many_fields_is_431(void **state)
{
	(void)state;
	char text[4096] = "GET / HTTP/1.1\r\n";
	for (int i = 0; i < WIRE_HEADERS_MAX; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "X-%d: v\r\n", i);
	strcat(text, "\r\n");
	assert_true(status_of(text) > 0); /* exactly the most */
	text[strlen(text) - 2] = '\0';
	strcat(text, "X-more: v\r\n\r\n");
	assert_int_equal(status_of(text), -431);
}

static void queries_over_the_limits_are_414_at_once(void **state)
{
	(void)state;
	char *text = malloc(20000);
	assert_non_null(text);
	/* Exactly 8 KiB of query: served; one more byte: 414, before the line even ends. */
	strcpy(text, "GET /metrics?");
	memset(text + strlen(text), 'a', 8192);
	strcpy(text + 13 + 8192, " HTTP/1.1\r\n\r\n");
	assert_true(status_of(text) > 0);
	text[13 + 8192] = 'a';
	text[13 + 8193] = '\0';
	assert_int_equal(status_of(text), -414);
	/* 512 parameters: served; 513: 414. */
	strcpy(text, "GET /?");
	for (int i = 0; i < 512; i++)
		strcat(text, i ? "&a" : "a");
	strcat(text, " HTTP/1.1\r\n\r\n");
	assert_true(status_of(text) > 0);
	strcpy(strstr(text, " HTTP"), "&a HTTP/1.1\r\n\r\n");
	assert_int_equal(status_of(text), -414);
	free(text);
}

static void path_and_query_are_decoded(void **state)
{
	(void)state;
	struct wire_request r;
	char *keep;
	assert_true(
	    parse("GET /a%20b+c?range=1%20h&gpu=0&plain&empty=&x+y=a+b&gpu=9 HTTP/1.1\r\n\r\n", &r,
	          &keep) > 0);
	assert_string_equal(r.path, "/a b+c"); /* '+' is a space only in the query */
	const char *v;
	assert_true(wire_arg(&r, "range", &v));
	assert_string_equal(v, "1 h");
	assert_true(wire_arg(&r, "gpu", &v));
	assert_string_equal(v, "0"); /* the first of two */
	assert_true(wire_arg(&r, "plain", &v));
	assert_null(v); /* a bare key */
	assert_true(wire_arg(&r, "empty", &v));
	assert_string_equal(v, "");
	assert_true(wire_arg(&r, "x y", &v));
	assert_string_equal(v, "a b");
	assert_false(wire_arg(&r, "points", &v));
	assert_false(wire_arg(&r, "plai", &v));
	assert_int_equal(r.nparams, 6);
	free(keep);
	/* absolute-form: the path after the authority */
	assert_true(parse("GET https://node:9400/healthz?x=1 HTTP/1.1\r\n\r\n", &r, &keep) > 0);
	assert_string_equal(r.path, "/healthz");
	assert_true(wire_arg(&r, "x", &v));
	assert_string_equal(v, "1");
	free(keep);
}

static void bodies_are_framed(void **state)
{
	(void)state;
	struct wire_request r;
	char *keep;
	assert_true(parse("POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n", &r, &keep) > 0);
	assert_int_equal(r.body, 12);
	free(keep);
	assert_true(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &r, &keep) > 0);
	assert_true(r.chunked);
	free(keep);
}

static void basic_credentials(void **state)
{
	(void)state;
	char user[16], pass[16];
	/* prometheus:s3cret */
	assert_true(wire_basic_auth("Basic cHJvbWV0aGV1czpzM2NyZXQ=", user, sizeof(user), pass,
	                            sizeof(pass)));
	assert_string_equal(user, "prometheus");
	assert_string_equal(pass, "s3cret");
	/* a:b:c - the password may hold colons */
	assert_true(wire_basic_auth("basic  YTpiOmM", user, sizeof(user), pass, sizeof(pass)));
	assert_string_equal(user, "a");
	assert_string_equal(pass, "b:c");
	assert_false(wire_basic_auth(NULL, user, sizeof(user), pass, sizeof(pass)));
	assert_false(wire_basic_auth("Bearer abc", user, sizeof(user), pass, sizeof(pass)));
	assert_false(wire_basic_auth("Basic !!!!", user, sizeof(user), pass, sizeof(pass)));
	assert_false(
	    wire_basic_auth("Basic YWJj", user, sizeof(user), pass, sizeof(pass))); /* abc */
	assert_false(
	    wire_basic_auth("Basic YQBiOmM=", user, sizeof(user), pass, sizeof(pass))); /* NUL */
	/* user of 16 bytes does not fit 16 with its NUL */
	assert_false(wire_basic_auth("Basic MDEyMzQ1Njc4OWFiY2RlZjp4", user, sizeof(user), pass,
	                             sizeof(pass)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_scrape_is_parsed),
	    cmocka_unit_test(a_head_arriving_in_pieces_waits_unchanged),
	    cmocka_unit_test(bare_lf_and_leading_empty_lines_are_accepted),
	    cmocka_unit_test(malformed_heads_are_refused_with_their_status),
	    cmocka_unit_test(too_many_fields_is_431),
	    cmocka_unit_test(queries_over_the_limits_are_414_at_once),
	    cmocka_unit_test(path_and_query_are_decoded),
	    cmocka_unit_test(bodies_are_framed),
	    cmocka_unit_test(basic_credentials),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
