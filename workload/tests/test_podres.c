/* test_podres.c - the kubelet pod-resources client: protobuf reader, HPACK literals,
 * response decoding, and whole exchanges with a fake kubelet (tests/fake_kubelet.py) that
 * speaks raw HTTP/2 frames over a unix socket and checks what the client sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "workload/attrib.h"
#include "workload/h2c.h"
#include "workload/podres.h"
#include "workload/protobuf.h"
#include "workload/tests/test_util.h"

#define GPU0   "GPU-aaaaaaaa-1111-2222-3333-444444444444"
#define GPU1   "GPU-bbbbbbbb-1111-2222-3333-444444444444"
#define MIG    "MIG-cccccccc-1111-2222-3333-444444444444"
#define SHARED "GPU-dddddddd-1111-2222-3333-444444444444"

static void protobuf_reader(void **state)
{
	(void)state;
	/* field 1 varint 300, field 2 "hi", field 3 fixed32, field 4 fixed64 */
	const uint8_t msg[] = {0x08, 0xac, 0x02, 0x12, 0x02, 'h', 'i', 0x1d, 1, 0, 0,
	                       0,    0x21, 2,    0,    0,    0,   0,   0,    0, 0};
	struct pb_reader r;
	struct pb_field f;
	pb_reader_init(&r, msg, sizeof(msg));
	assert_int_equal(pb_next(&r, &f), 1);
	assert_int_equal(f.number, 1);
	assert_int_equal(f.type, PB_VARINT);
	assert_int_equal(f.value, 300);
	assert_int_equal(pb_next(&r, &f), 1);
	assert_int_equal(f.type, PB_LEN);
	char s[2];
	assert_true(pb_copy_string(&f, s, sizeof(s)));
	assert_string_equal(s, "h"); /* truncated to fit */
	assert_int_equal(pb_next(&r, &f), 1);
	assert_int_equal(f.value, 1);
	assert_int_equal(pb_next(&r, &f), 1);
	assert_int_equal(f.value, 2);
	assert_int_equal(pb_next(&r, &f), 0);

	const uint8_t truncated_varint[] = {0x08, 0xff};
	const uint8_t past_end[] = {0x12, 0x05, 'a'};
	const uint8_t group[] = {0x0b};
	const uint8_t field_zero[] = {0x00, 0x01};
	const uint8_t long_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
	                               0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	const uint8_t short_fixed[] = {0x1d, 1, 2};
	const struct {
		const uint8_t *p;
		size_t n;
	} bad[] = {{truncated_varint, sizeof(truncated_varint)},
	           {past_end, sizeof(past_end)},
	           {group, sizeof(group)},
	           {field_zero, sizeof(field_zero)},
	           {long_varint, sizeof(long_varint)},
	           {short_fixed, sizeof(short_fixed)}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pb_reader_init(&r, bad[i].p, bad[i].n);
		assert_int_equal(pb_next(&r, &f), -1);
	}
	pb_reader_init(&r, NULL, 0);
	assert_int_equal(pb_next(&r, &f), 0);
	f.type = PB_VARINT;
	assert_false(pb_copy_string(&f, s, sizeof(s)));
}

static void hpack_literals(void **state)
{
	(void)state;
	uint8_t out[512];
	size_t n = h2c_hpack_literal(out, sizeof(out), "te", "trailers");
	const uint8_t want[] = {0x00, 2, 't', 'e', 8, 't', 'r', 'a', 'i', 'l', 'e', 'r', 's'};
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	/* A 200-byte value: the length takes the 7-bit prefix plus one byte (127 + 73). */
	char value[201];
	memset(value, 'v', 200);
	value[200] = 0;
	n = h2c_hpack_literal(out, sizeof(out), "x", value);
	assert_int_equal(n, 1 + 1 + 1 + 2 + 200);
	assert_int_equal(out[3], 0x7f);
	assert_int_equal(out[4], 73);
	assert_int_equal(h2c_hpack_literal(out, 10, "x", value), 0); /* does not fit */
	assert_string_equal(h2c_result_name(H2C_TIMEOUT), "timeout");
}

/* The frame reader on bytes in memory (what the fuzz target drives). */
static void decode_in_memory(void **state)
{
	(void)state;
	/* An empty DATA frame first: the body is still NULL when its 0 bytes arrive. */
	static const uint8_t frames[] = {
	    0,    0,    0, 0x0, 0x0, 0, 0, 0, 1,                /* DATA, empty */
	    0,    0,    7, 0x0, 0x1, 0, 0, 0, 1, 0, 0, 0, 0, 2, /* DATA END_STREAM, gRPC prefix */
	    0x08, 0x01,                                         /* message: field 1 = 1 */
	};
	uint8_t *msg;
	size_t len;
	assert_int_equal(h2c_decode_response(frames, sizeof(frames), &msg, &len), H2C_OK);
	assert_int_equal(len, 2);
	assert_int_equal(msg[0], 0x08);
	free(msg);
	/* Only the empty frame, then the bytes end: the stream never finished. */
	assert_int_equal(h2c_decode_response(frames, 9, &msg, &len), H2C_IO);
	assert_null(msg);
	/* A length prefix promising more than came. */
	uint8_t lying[sizeof(frames)];
	memcpy(lying, frames, sizeof(frames));
	lying[22] = 9;
	assert_int_equal(h2c_decode_response(lying, sizeof(lying), &msg, &len), H2C_PROTOCOL);
	assert_int_equal(h2c_decode_response(NULL, 0, &msg, &len), H2C_IO);
}

/* A tiny encoder for hand-made responses. */
struct msg {
	uint8_t b[2048];
	size_t n;
};

static void put_varint(struct msg *m, uint64_t v)
{
	do {
		uint8_t byte = v & 0x7f;
		v >>= 7;
		m->b[m->n++] = (uint8_t)(byte | (v ? 0x80 : 0));
	} while (v);
}

static void put_bytes(struct msg *m, uint32_t field, const void *p, size_t n)
{
	put_varint(m, (uint64_t)field << 3 | 2);
	put_varint(m, n);
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void put_string(struct msg *m, uint32_t field, const char *s)
{
	put_bytes(m, field, s, strlen(s));
}

static void put_msg(struct msg *m, uint32_t field, const struct msg *inner)
{
	put_bytes(m, field, inner->b, inner->n);
}

static void parse_response(void **state)
{
	(void)state;
	struct msg dev = {0}, dev2 = {0}, ctr = {0}, pod = {0}, resp = {0};
	put_string(&dev, 1, "nvidia.com/gpu");
	put_string(&dev, 2, GPU1);
	put_string(&dev, 2, GPU0);
	put_string(&dev2, 1, "example.com/fpga");
	put_string(&dev2, 2, "fpga-0");
	put_msg(&ctr, 2, &dev); /* devices before the name */
	put_msg(&ctr, 2, &dev2);
	put_string(&ctr, 1, "vllm");
	put_varint(&ctr, 3 << 3 | 0); /* cpu_ids, unpacked */
	put_varint(&ctr, 7);
	put_msg(&pod, 3, &ctr);
	put_string(&pod, 1, "vllm-0");
	put_string(&pod, 2, "ml");
	put_msg(&resp, 1, &pod);
	struct podres_table t;
	assert_int_equal(podres_parse(resp.b, resp.n, &t), 0);
	assert_int_equal(t.count, 2);
	assert_string_equal(t.devices[0].device_id, GPU0); /* sorted */
	const struct podres_device *d = podres_find(&t, GPU1);
	assert_non_null(d);
	assert_string_equal(d->pod_namespace, "ml");
	assert_string_equal(d->pod, "vllm-0");
	assert_string_equal(d->container, "vllm");
	assert_string_equal(d->resource, "nvidia.com/gpu");
	assert_null(podres_find(&t, "fpga-0"));
	assert_null(podres_find(&t, "GPU-aaaa"));
	assert_null(podres_find(&t, ""));
	podres_table_free(&t);

	/* An empty response: no pods. */
	assert_int_equal(podres_parse(NULL, 0, &t), 0);
	assert_int_equal(t.count, 0);
	/* Malformed at any depth: -1 and an empty table. */
	struct msg broken = resp;
	broken.b[broken.n - 3] = 0x7f; /* a length inside the pod runs past its end */
	assert_int_equal(podres_parse(broken.b, broken.n, &t), -1);
	assert_int_equal(t.count, 0);
	assert_null(t.devices);
	for (size_t cut = 1; cut < resp.n; cut++) {
		assert_true(podres_parse(resp.b, cut, &t) <= 0);
		podres_table_free(&t);
	}
	uint32_t seed = 99;
	uint8_t junk[300];
	for (int round = 0; round < 2000; round++) {
		size_t n = (seed = seed * 1664525u + 1013904223u) % sizeof(junk);
		for (size_t i = 0; i < n; i++)
			junk[i] = (uint8_t)((seed = seed * 1664525u + 1013904223u) >> 24);
		podres_parse(junk, n, &t);
		podres_table_free(&t);
	}
}

/* The fake kubelet, one connection per run. */
static pid_t server;

static int stop_server(void **state)
{
	(void)state;
	if (server > 0) {
		kill(server, SIGKILL);
		waitpid(server, NULL, 0);
	}
	server = 0;
	return 0;
}

static void start_server(const char *sock, const char *mode)
{
	server = fork();
	assert_true(server >= 0);
	if (server == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(PYTHON3, PYTHON3, FAKE_KUBELET, sock, mode, (char *)NULL);
		_exit(127);
	}
	/* It renames the socket into place only after listen(). */
	for (int i = 0; i < 1000; i++) {
		struct stat st;
		if (stat(sock, &st) == 0)
			return;
		int status;
		if (waitpid(server, &status, WNOHANG) == server) {
			server = 0;
			fail_msg("fake kubelet exited early (python3 missing?)");
		}
		usleep(10000);
	}
	fail_msg("fake kubelet did not come up");
}

/* The server's verdict on the client; 0 when it behaved. */
static int server_verdict(void)
{
	int status = 0;
	for (int i = 0; i < 1000; i++) {
		if (waitpid(server, &status, WNOHANG) == server) {
			server = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		}
		usleep(10000);
	}
	return -1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static enum h2c_result exchange(const char *mode, unsigned timeout_ms, struct podres_table *t,
                                double *elapsed)
{
	char *dir = tree_make_temp();
	char sock[4200];
	snprintf(sock, sizeof(sock), "%s/kubelet.sock", dir);
	start_server(sock, mode);
	double t0 = now_s();
	enum h2c_result r = podres_list(sock, timeout_ms, t);
	if (elapsed)
		*elapsed = now_s() - t0;
	tree_remove(dir);
	free(dir);
	return r;
}

static void check_full_table(const struct podres_table *t)
{
	assert_int_equal(t->count, 4); /* two GPUs, a MIG slice, a shared GPU; no NIC */
	const struct podres_device *d = podres_find(t, GPU0);
	assert_non_null(d);
	assert_string_equal(d->pod_namespace, "ml-serving");
	assert_string_equal(d->pod, "vllm-0");
	assert_string_equal(d->container, "vllm");
	d = podres_find(t, MIG);
	assert_non_null(d);
	assert_string_equal(d->resource, "nvidia.com/mig-1g.10gb");
	assert_string_equal(d->pod, "trainer-xyz"); /* strings after children */
	assert_string_equal(d->pod_namespace, "batch");
	assert_string_equal(d->container, "trainer");
	d = podres_find(t, SHARED); /* time-sliced "GPU-...::0" found by the GPU's UUID */
	assert_non_null(d);
	assert_string_equal(d->container, "jupyter");
	assert_null(podres_find(t, "nic-0"));
}

static void kubelet_answers(void **state)
{
	(void)state;
	/* empty_data: a zero-length DATA frame once reached memcpy(NULL, p, 0) */
	static const char *modes[] = {"ok", "split", "ping", "empty_data"};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct podres_table t;
		enum h2c_result r = exchange(modes[i], 5000, &t, NULL);
		assert_int_equal(r, H2C_OK);
		check_full_table(&t);
		podres_table_free(&t);
		int verdict = server_verdict();
		if (verdict != 0)
			fail_msg("mode %s: the fake kubelet rejected the client (%d)", modes[i],
			         verdict);
	}
}

static void kubelet_failures(void **state)
{
	(void)state;
	static const struct {
		const char *mode;
		enum h2c_result want;
	} cases[] = {
	    {"error", H2C_NO_MESSAGE}, {"rst", H2C_PROTOCOL},       {"goaway", H2C_PROTOCOL},
	    {"garbage", H2C_PROTOCOL}, {"big_frame", H2C_PROTOCOL}, {"bad_proto", H2C_PROTOCOL},
	    {"close", H2C_IO},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct podres_table t;
		enum h2c_result r = exchange(cases[i].mode, 5000, &t, NULL);
		if (r != cases[i].want)
			fail_msg("mode %s: %s, expected %s", cases[i].mode, h2c_result_name(r),
			         h2c_result_name(cases[i].want));
		assert_int_equal(t.count, 0);
		assert_null(t.devices);
		stop_server(NULL);
	}
	/* A kubelet that never answers costs the timeout, not more. */
	struct podres_table t;
	double elapsed;
	assert_int_equal(exchange("slow", 300, &t, &elapsed), H2C_TIMEOUT);
	assert_true(elapsed >= 0.29 && elapsed < 1.5);
	stop_server(NULL);
	/* No socket at all. */
	assert_int_equal(podres_list("/nonexistent/kubelet.sock", 100, &t), H2C_CONNECT);
	char longpath[200];
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = 0;
	assert_int_equal(podres_list(longpath, 100, &t), H2C_CONNECT);
}

static void attribution_asks_the_kubelet(void **state)
{
	(void)state;
	char *dir = tree_make_temp();
	tree_write_text(dir, "proc/.keep", "");
	char sock[4200];
	snprintf(sock, sizeof(sock), "%s/var/lib/kubelet/pod-resources/kubelet.sock", dir);
	tree_write_text(dir, "var/lib/kubelet/pod-resources/.keep", "");
	start_server(sock, "ok");
	struct attrib_config cfg;
	attrib_config_default(&cfg);
	cfg.root = dir;
	struct attrib *a = attrib_create(&cfg);
	assert_non_null(a);
	assert_int_equal(attrib_refresh(a, 0, true), 1);
	struct attrib_stats st;
	attrib_get_stats(a, &st);
	assert_true(st.kubelet_queried);
	assert_int_equal(st.kubelet_result, H2C_OK);
	assert_int_equal(st.kubelet_devices, 4);
	struct podres_device owner;
	assert_true(attrib_gpu_owner(a, GPU1, &owner));
	assert_string_equal(owner.pod, "vllm-0");
	assert_false(attrib_gpu_owner(a, "GPU-unknown", &owner));
	assert_int_equal(server_verdict(), 0);
	/* The kubelet goes away: the next refresh leaves the table empty, nothing fails. */
	assert_int_equal(attrib_refresh(a, 0, true), 1);
	attrib_get_stats(a, &st);
	assert_false(st.kubelet_queried);
	assert_false(attrib_gpu_owner(a, GPU1, &owner));
	attrib_destroy(a);
	tree_remove(dir);
	free(dir);
}

int test_podres_run(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(protobuf_reader),
	    cmocka_unit_test(hpack_literals),
	    cmocka_unit_test(decode_in_memory),
	    cmocka_unit_test(parse_response),
	    cmocka_unit_test_teardown(kubelet_answers, stop_server),
	    cmocka_unit_test_teardown(kubelet_failures, stop_server),
	    cmocka_unit_test_teardown(attribution_asks_the_kubelet, stop_server),
	};
	return cmocka_run_group_tests_name("workload.podres", tests, NULL, NULL);
}
