/* test_server.c - the HTTP server's routing and limits (http/server.h, http/engine.h), on a
 * real server in this process: http_start on 127.0.0.1, raw requests over sockets, no GPU.
 *
 * Routing: each path of the endpoint table (http/endpoints.h, which the index page, the
 * 404 body and `serve --help` list) reaches its own handler, near misses are 404 with the
 * list, a query string does not change the route, and only GET and HEAD are served.
 * Limits, at their exact edges (engine.h's defaults, which http_start uses): the query
 * length and parameter count (414 one past them), the open connections per client
 * address (503 with Retry-After one past it, while another address is served).
 * tests/integration/test_http.py and test_abuse.py run the same paths on the binary. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "export/prom.h"
#include "http/endpoints.h"
#include "http/engine.h"
#include "http/server.h"

struct fixture {
	struct http_server *h;
	unsigned port;
	struct board board; /* attached by the tests that need one */
	bool attached;
};

static int setup(void **state)
{
	struct fixture *f = test_calloc(1, sizeof(*f));
	struct http_config cfg = {.names = NAMES_BOTH, .fresh_s = 0.1, .threads = 2};
	char err[256];
	assert_int_equal(listen_addr_parse("127.0.0.1:0", &cfg.addr, err, sizeof(err)), 0);
	f->h = http_start(NULL, &cfg, err, sizeof(err));
	if (!f->h)
		fail_msg("http_start: %s", err);
	f->port = http_port(f->h);
	assert_int_not_equal(f->port, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	http_stop(f->h);
	if (f->attached)
		board_free(&f->board);
	test_free(f);
	return 0;
}

/* A board with no GPU, handed over as the agent does once NVML answered. */
static void attach_empty_board(struct fixture *f)
{
	assert_int_equal(board_init(&f->board, 0, 0.1, 5, 60), 0);
	f->attached = true;
	http_attach(f->h, &f->board);
}

/* A connection to the server from a loopback address of our choice. */
static int connect_from(const struct fixture *f, const char *source)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct sockaddr_in src = {.sin_family = AF_INET};
	assert_int_equal(inet_pton(AF_INET, source, &src.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0);
	return fd;
}

/* Sends request on fd and reads the reply until the server closes (malloc'd, NUL ended). */
static char *exchange_on(int fd, const char *request)
{
	size_t len = strlen(request), sent = 0;
	while (sent < len) {
		ssize_t n = send(fd, request + sent, len - sent, MSG_NOSIGNAL);
		assert_true(n > 0);
		sent += (size_t)n;
	}
	size_t cap = 64 * 1024, got = 0;
	char *reply = malloc(cap + 1);
	assert_non_null(reply);
	for (;;) {
		if (got == cap) {
			cap *= 2;
			reply = realloc(reply, cap + 1);
			assert_non_null(reply);
		}
		ssize_t n = recv(fd, reply + got, cap - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	reply[got] = '\0';
	close(fd);
	return reply;
}

static char *request_from(const struct fixture *f, const char *source, const char *method,
                          const char *target)
{
	size_t len = strlen(method) + strlen(target) + 64;
	char *req = malloc(len);
	assert_non_null(req);
	snprintf(req, len, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", method,
	         target);
	char *reply = exchange_on(connect_from(f, source), req);
	free(req);
	return reply;
}

static char *get(const struct fixture *f, const char *target)
{
	return request_from(f, "127.0.0.1", "GET", target);
}

static int status_of(const char *reply)
{
	int status = 0;
	if (sscanf(reply, "HTTP/1.%*d %d", &status) != 1)
		fail_msg("not an HTTP reply: %.80s", reply);
	return status;
}

static const char *body_of(const char *reply)
{
	const char *end = strstr(reply, "\r\n\r\n");
	assert_non_null(end);
	return end + 4;
}

/* Whether the reply's headers hold this exact line (name and value). */
static bool has_header(const char *reply, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = strstr(reply, "\r\n"); p && p < body_of(reply);
	     p = strstr(p + 2, "\r\n"))
		if (strncasecmp(p + 2, line, n) == 0 && p[2 + n] == '\r')
			return true;
	return false;
}

/* What each endpoint of the table answers before the GPUs are known: a status and a
 * text only its own handler gives, so two swapped routes fail. */
static const struct {
	const char *path;
	int status;
	const char *text;
} expected[] = {
    {"/metrics", 200, "Content-Type: " PROM_CONTENT_TYPE_TEXT},
    {"/health", 503, "starting: loading the GPU library"},
    {"/healthz", 503, "\"status\": \"starting\""},
    {"/api/v1/gpus", 200, "\"simulated\""},
    {"/api/v1/processes", 200, "gpuscope.processes/v1"},
    {"/api/v1/workloads", 200, "gpuscope.workloads/v1"},
    {"/api/v1/servers", 200, "gpuscope.servers/v1"},
    {"/api/v1/advice", 200, "gpuscope.advice/v1"},
    {"/api/v1/series", 503, "gpuscope.series/v1"},
    {"/api/v1/inference", 503, "gpuscope.inference/v1"},
    {"/api/v1/diagnosis", 200, "gpuscope.diagnosis/v1"},
    {"/api/v1/alerts", 200, "\"alerts\": []"},
    {"/", 200, "Content-Type: text/html"},
};

static void every_endpoint_of_the_table_reaches_its_own_handler(void **state)
{
	struct fixture *f = *state;
	size_t n = sizeof(expected) / sizeof(expected[0]);
	for (size_t i = 0; i < http_endpoint_count; i++) {
		const char *path = http_endpoints[i].path;
		size_t e = 0;
		while (e < n && strcmp(expected[e].path, path) != 0)
			e++;
		if (e == n)
			fail_msg(
			    "%s is in the endpoint table but not in this test: add what it answers",
			    path);
		char *reply = get(f, path);
		if (status_of(reply) != expected[e].status || !strstr(reply, expected[e].text))
			fail_msg("%s: want %d and \"%s\", got: %.300s", path, expected[e].status,
			         expected[e].text, reply);
		free(reply);
	}
	assert_int_equal(n, http_endpoint_count); /* no route here that the table lacks */
}

static void near_misses_are_404_listing_every_endpoint(void **state)
{
	struct fixture *f = *state;
	static const char *misses[] = {
	    "/metrics/",      "/Metrics",     "/metricsx",   "/metric",      "//metrics",
	    "/api/v1/gpus/0", "/api/v1",      "/api/v1/",    "/health/",     "/index.html",
	    "/assets/",       "/assets/x.js", "/nope?plain", "/api/v2/gpus", "/healthz.json"};
	for (size_t i = 0; i < sizeof(misses) / sizeof(misses[0]); i++) {
		char *reply = get(f, misses[i]);
		if (status_of(reply) != 404)
			fail_msg("%s: want 404, got %.80s", misses[i], reply);
		for (size_t e = 0; e < http_endpoint_count; e++)
			if (!strstr(body_of(reply), http_endpoints[e].path))
				fail_msg("%s: the 404 body does not name %s", misses[i],
				         http_endpoints[e].path);
		free(reply);
	}
}

static void a_query_string_does_not_change_the_route(void **state)
{
	struct fixture *f = *state;
	char *reply = get(f, "/metrics?collect[]=x&foo");
	assert_int_equal(status_of(reply), 200);
	assert_true(has_header(reply, "Content-Type: " PROM_CONTENT_TYPE_TEXT));
	free(reply);
	/* `/` is the dashboard (scripts allowed by its policy); `/?plain`, the index page with
	 * no script at all. */
	reply = get(f, "/");
	assert_int_equal(status_of(reply), 200);
	assert_false(has_header(reply, "Content-Security-Policy: default-src 'none'; "
	                               "style-src 'unsafe-inline'"));
	free(reply);
	reply = get(f, "/?plain");
	assert_int_equal(status_of(reply), 200);
	assert_true(has_header(reply, "Content-Security-Policy: default-src 'none'; "
	                              "style-src 'unsafe-inline'"));
	free(reply);
	/* The dashboard's own files are served beside the table's paths. */
	reply = get(f, "/assets/app.js");
	assert_int_equal(status_of(reply), 200);
	free(reply);
}

static void only_get_and_head_are_served(void **state)
{
	struct fixture *f = *state;
	static const char *methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		char *reply = request_from(f, "127.0.0.1", methods[i], "/api/v1/gpus");
		if (status_of(reply) != 405 || !has_header(reply, "Allow: GET, HEAD"))
			fail_msg("%s: want 405 with Allow: GET, HEAD, got %.200s", methods[i],
			         reply);
		free(reply);
	}
	/* HEAD: GET's status and headers, no body. */
	char *reply = request_from(f, "127.0.0.1", "HEAD", "/api/v1/gpus");
	assert_int_equal(status_of(reply), 200);
	assert_true(has_header(reply, "Content-Type: application/json"));
	assert_string_equal(body_of(reply), "");
	free(reply);
	/* A GET with a body is still a GET: the body is read and ignored. */
	reply = exchange_on(connect_from(f, "127.0.0.1"),
	                    "GET /api/v1/advice HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
	                    "Content-Length: 5\r\n\r\nhello");
	assert_int_equal(status_of(reply), 200);
	assert_non_null(strstr(body_of(reply), "gpuscope.advice/v1"));
	free(reply);
}

/* "/api/v1/gpus?" and a query of len bytes made of params parameters. */
static char *query_of(size_t len, unsigned params)
{
	static const char path[] = "/api/v1/gpus?";
	char *t = malloc(sizeof(path) + len);
	assert_non_null(t);
	memcpy(t, path, sizeof(path) - 1);
	char *q = t + sizeof(path) - 1;
	memset(q, 'a', len);
	assert_true(params >= 1 && 2 * params - 1 <= len);
	for (unsigned i = 1; i < params; i++)
		q[2 * i - 1] = '&';
	q[len] = '\0';
	return t;
}

static void expect_query(struct fixture *f, size_t len, unsigned params, int status)
{
	char *target = query_of(len, params);
	char *reply = get(f, target);
	if (status_of(reply) != status)
		fail_msg("a query of %zu bytes, %u parameters: want %d, got %.80s", len, params,
		         status, reply);
	if (status == 414)
		assert_non_null(strstr(body_of(reply), "query string too long"));
	free(reply);
	free(target);
}

static void query_limits_hold_at_their_edges(void **state)
{
	struct fixture *f = *state;
	struct http_limits lim;
	http_limits_default(&lim);
	expect_query(f, lim.query_max, 1, 200);
	expect_query(f, lim.query_max + 1, 1, 414);
	expect_query(f, 2 * lim.params_max - 1, lim.params_max, 200);
	expect_query(f, 2 * lim.params_max + 1, lim.params_max + 1, 414);
	/* Each refusal is counted where /healthz reports it. */
	attach_empty_board(f);
	char *reply = get(f, "/healthz");
	assert_non_null(strstr(body_of(reply), "\"uri_too_long\": 2"));
	free(reply);
}

/* Open connections the server counts now, from /healthz (asked from an address of its
 * own, which it counts too). */
static unsigned open_connections(const struct fixture *f)
{
	char *reply = request_from(f, "127.0.0.200", "GET", "/healthz");
	const char *at = strstr(reply, "\"open_connections\": ");
	assert_non_null(at);
	unsigned open = (unsigned)strtoul(at + strlen("\"open_connections\": "), NULL, 10);
	free(reply);
	return open;
}

static void wait_for_open_connections(const struct fixture *f, unsigned want)
{
	for (int i = 0; i < 250; i++) { /* 5 s at least: a close is noted on its worker */
		if (open_connections(f) == want)
			return;
		nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
	}
	fail_msg("the server never counted %u open connections (now %u)", want,
	         open_connections(f));
}

static void one_address_over_its_limit_gets_503_and_others_are_served(void **state)
{
	struct fixture *f = *state;
	struct http_limits lim;
	http_limits_default(&lim);
	attach_empty_board(f);
	/* One address holds as many idle connections as it may. */
	int *held = malloc(lim.per_address * sizeof(*held));
	assert_non_null(held);
	for (unsigned i = 0; i < lim.per_address; i++)
		held[i] = connect_from(f, "127.0.0.1");
	wait_for_open_connections(f, lim.per_address + 1);

	/* One more from it: 503 and when to retry, not a silent close. */
	char *reply = get(f, "/metrics");
	assert_int_equal(status_of(reply), 503);
	char retry[32];
	snprintf(retry, sizeof(retry), "Retry-After: %u", lim.retry_after_s);
	assert_true(has_header(reply, retry));
	free(reply);
	/* Another address is served meanwhile. */
	reply = request_from(f, "127.0.0.2", "GET", "/metrics");
	assert_int_equal(status_of(reply), 200);
	free(reply);

	/* Once the address closes its connections, it is served again. */
	for (unsigned i = 0; i < lim.per_address; i++)
		close(held[i]);
	free(held);
	wait_for_open_connections(f, 1);
	reply = get(f, "/metrics");
	assert_int_equal(status_of(reply), 200);
	free(reply);
}

static void health_says_starting_until_the_board_is_attached(void **state)
{
	struct fixture *f = *state;
	char *reply = get(f, "/health");
	assert_int_equal(status_of(reply), 503);
	free(reply);
	attach_empty_board(f);
	reply = get(f, "/health");
	assert_int_equal(status_of(reply), 200);
	assert_string_equal(body_of(reply), "OK");
	free(reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(every_endpoint_of_the_table_reaches_its_own_handler,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(near_misses_are_404_listing_every_endpoint, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(a_query_string_does_not_change_the_route, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(only_get_and_head_are_served, setup, teardown),
	    cmocka_unit_test_setup_teardown(query_limits_hold_at_their_edges, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        one_address_over_its_limit_gets_503_and_others_are_served, setup, teardown),
	    cmocka_unit_test_setup_teardown(health_says_starting_until_the_board_is_attached, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
