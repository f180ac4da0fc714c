/* test_servers.c - the servers room's pure parts against fixture expositions.
 *
 * The fixtures (tests/fixtures/NAME.prom) are written by tests/integration/fixture_servers.py
 * at t = 10 s and 70 s of a known schedule: 1000 generated tokens/s (smooth for vLLM; for
 * the others 250 tokens at each request's end), 4 requests/s (of which vLLM also reports
 * 7 aborts per request, to be left out), 200 prompt tokens a request, 8 running, KV 0.30,
 * every TTFT 40 ms.  So over the 60 s between them: 60000 tokens, 240 requests, 48000
 * prompt tokens; with 30 kJ on 60 GPU-seconds at 3.60 a GPU-hour: 0.5 J/token,
 * 125 J/request, 1000 GPU-s and 1.00 per million tokens.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "servers/advice.h"
#include "servers/discover.h"
#include "servers/figures.h"
#include "servers/kinds.h"
#include "servers/promtext.h"

#define MODEL "meta-llama/Llama-3.1-8B-Instruct"

static char *slurp(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", SERVERS_FIXTURES, name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *buf = malloc(1 << 20);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

static struct server_reading *reading(const char *name)
{
	size_t len;
	char *buf = slurp(name, &len);
	struct server_reading *r = malloc(sizeof(*r));
	const char *why = NULL;
	assert_int_equal(server_reading_parse(buf, len, r, &why), 0);
	free(buf);
	return r;
}

struct collect {
	unsigned n;
	struct promtext_sample last;
};

static void on_sample(void *ctx, const struct promtext_sample *s)
{
	struct collect *c = ctx;
	c->n++;
	c->last = *s;
}

static void test_parser_lines(void **state)
{
	const char text[] = "# HELP x y\n# TYPE a counter\n"
	                    "a_total{l=\"q\\\"uo\\\\te\\n\",  m = \"2\" ,} 12.5 1700000000000\r\n"
	                    "b NaN\nc +Inf\n\n   \nbroken{x=\"1\" 3\nnovalue\nd{} 7";
	struct collect c = {0};
	unsigned bad = 0;
	assert_int_equal(promtext_parse(text, sizeof(text) - 1, on_sample, &c, &bad), 4);
	assert_int_equal(bad, 2);
	assert_string_equal(c.last.name, "d");
	assert_true(c.last.value == 7);
	/* the first sample's labels, unescaped */
	struct collect one = {0};
	const char *line = "a_total{l=\"q\\\"uo\\\\te\\n\",  m = \"2\" ,} 12.5 1700000000000";
	promtext_parse(line, strlen(line), on_sample, &one, NULL);
	assert_string_equal(promtext_label(&one.last, "l"), "q\"uo\\te\n");
	assert_string_equal(promtext_label(&one.last, "m"), "2");
	assert_null(promtext_label(&one.last, "z"));
	assert_true(one.last.value == 12.5);
}

static void test_parser_never_reads_past_len(void **state)
{
	/* a buffer cut in the middle of every token: no sample, no crash */
	const char *text = "vllm:generation_tokens_total{model_name=\"m\"} 12";
	for (size_t n = 0; n < strlen(text) - 1; n++) {
		char *copy = malloc(n ? n : 1);
		memcpy(copy, text, n);
		struct collect c = {0};
		unsigned got = promtext_parse(copy, n, on_sample, &c, NULL);
		assert_true(got <= 1);
		if (got)
			assert_true(c.last.value == 1); /* "... 1" of "12" cut */
		free(copy);
	}
}

static void test_names(void **state)
{
	assert_true(promtext_name_eq("vllm:generation_tokens_total", "vllm:generation_tokens"));
	assert_true(promtext_name_eq("vllm_generation_tokens_total", "vllm:generation_tokens"));
	assert_true(promtext_name_eq("vllm_generation_tokens", "vllm:generation_tokens_total"));
	assert_true(promtext_name_eq("tgi_request_success", "tgi_request_success"));
	assert_false(promtext_name_eq("vllm:generation_tokens_totals", "vllm:generation_tokens"));
	assert_false(promtext_name_eq("vllm:generation", "vllm:generation_tokens"));
	assert_string_equal(promtext_name_suffix("vllm_ttft_seconds_bucket", "vllm:ttft_seconds"),
	                    "_bucket");
	assert_string_equal(promtext_name_suffix("a_sum", "a"), "_sum");
	assert_null(promtext_name_suffix("a_max", "a"));
}

static void test_garbage_is_not_a_server(void **state)
{
	size_t n = 10u << 20;
	char *junk = malloc(n);
	uint32_t x = 12345;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		junk[i] = (char)(x >> 16);
	}
	struct server_reading *r = malloc(sizeof(*r));
	const char *why = NULL;
	assert_int_equal(server_reading_parse(junk, n, r, &why), -1);
	assert_non_null(why);
	const char *plain = "node_cpu_seconds_total{cpu=\"0\"} 1\n";
	assert_int_equal(server_reading_parse(plain, strlen(plain), r, &why), -1);
	assert_string_equal(why, "no known inference-server metric names");
	free(r);
	free(junk);
}

/* Figures of `kind` over the fixture pair, with 30 kJ on 60 GPU-seconds at 3.60/h. */
static void pair(const char *kind, const char *model, struct server_figures *f, enum server_kind *k)
{
	char a[64], b[64];
	snprintf(a, sizeof(a), "%s-t10.prom", kind);
	snprintf(b, sizeof(b), "%s-t70.prom", kind);
	struct server_reading *r0 = reading(a), *r1 = reading(b);
	*k = r1->kind;
	const struct server_reading *rs[2] = {r0, r1};
	double t[2] = {10, 70};
	struct server_gpu_side g = {.energy_valid = true,
	                            .joules = 30000,
	                            .gpu_seconds = 60,
	                            .sm_valid = true,
	                            .sm_active_seconds = 30,
	                            .util_valid = true,
	                            .busy_seconds = 54,
	                            .price_per_hour = 3.6};
	server_figures_compute(rs, t, 2, model, &g, f);
	free(r0);
	free(r1);
}

static void test_vllm_figures(void **state)
{
	struct server_figures f;
	enum server_kind k;
	pair("vllm", MODEL, &f, &k);
	assert_int_equal(k, SERVER_VLLM);
	assert_false(f.reset);
	assert_float_equal(f.gen_tokens, 60000, 1e-6);
	assert_float_equal(f.prompt_tokens, 48000, 1e-6);
	assert_float_equal(f.requests, 240, 1e-9); /* aborts left out */
	assert_float_equal(f.v[SFIG_GEN_TPS], 1000, 1e-9);
	assert_float_equal(f.v[SFIG_PROMPT_TPS], 800, 1e-9);
	assert_float_equal(f.v[SFIG_REQ_PS], 4, 1e-9);
	assert_float_equal(f.v[SFIG_J_PER_TOKEN], 0.5, 1e-12);
	assert_float_equal(f.v[SFIG_J_PER_REQUEST], 125, 1e-9);
	assert_float_equal(f.v[SFIG_GPU_S_PER_MTOK], 1000, 1e-9);
	assert_float_equal(f.v[SFIG_COST_PER_MTOK], 1.0, 1e-12);
	assert_float_equal(f.v[SFIG_GPU_S_PER_KREQ], 250, 1e-9);
	assert_float_equal(f.v[SFIG_COST_PER_KREQ], 0.25, 1e-12);
	assert_float_equal(f.v[SFIG_SM_S_PER_TOKEN], 0.0005, 1e-15);
	assert_float_equal(f.v[SFIG_BUSY_S_PER_REQUEST], 0.225, 1e-12);
	assert_float_equal(f.v[SFIG_POWER_W], 500, 1e-9);
	assert_float_equal(f.v[SFIG_RUNNING], 8, 0);
	assert_float_equal(f.v[SFIG_KV_USAGE], 0.3, 1e-12);
	/* every TTFT is 40 ms, in the (25, 50] ms bucket: interpolated as Prometheus does */
	assert_float_equal(f.v[SFIG_TTFT_P50], 0.0375, 1e-12);
	assert_float_equal(f.v[SFIG_TTFT_P99], 0.04975, 1e-12);
	assert_float_equal(f.v[SFIG_ITL_P50], 0.0175, 1e-12);
	assert_false(f.valid[SFIG_AVG_BATCH]);
}

static void test_vllm_renamed(void **state)
{
	struct server_reading *r = reading("vllm-renamed-t10.prom");
	const struct server_model *m = server_reading_model(r, MODEL);
	assert_non_null(m);
	assert_true(m->valid[SF_KV_USAGE]);
	assert_float_equal(m->v[SF_KV_USAGE], 0.3, 1e-12);
	assert_int_equal(m->rank[SF_KV_USAGE], 1);
	assert_true(m->hist[1].n > 0); /* time_per_output_token read as ITL */
	free(r);
	/* both names at once (0.10 with hidden metrics shown): the new one wins */
	const char *both = "vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.9\n"
	                   "vllm:kv_cache_usage_perc{model_name=\"m\"} 0.25\n"
	                   "vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.9\n";
	r = malloc(sizeof(*r));
	assert_int_equal(server_reading_parse(both, strlen(both), r, NULL), 0);
	assert_float_equal(server_reading_model(r, "m")->v[SF_KV_USAGE], 0.25, 1e-12);
	free(r);
}

static void test_other_servers(void **state)
{
	struct server_figures f;
	enum server_kind k;
	pair("sglang", MODEL, &f, &k);
	assert_int_equal(k, SERVER_SGLANG);
	assert_float_equal(f.gen_tokens, 60000, 1e-6);
	assert_float_equal(f.requests, 240, 1e-9);
	assert_float_equal(f.v[SFIG_KV_USAGE], 0.3, 1e-12);
	assert_float_equal(f.v[SFIG_J_PER_TOKEN], 0.5, 1e-12);

	pair("tgi", "", &f, &k); /* TGI has no model label */
	assert_int_equal(k, SERVER_TGI);
	assert_float_equal(f.gen_tokens, 60000, 1e-6); /* from the histogram's sum */
	assert_float_equal(f.prompt_tokens, 48000, 1e-6);
	assert_float_equal(f.requests, 240, 1e-9);
	assert_float_equal(f.v[SFIG_KV_USAGE], 0.3, 1e-12); /* batch tokens over the budget */
	assert_float_equal(f.v[SFIG_RUNNING], 8, 0);

	pair("triton", "tensorrt_llm", &f, &k);
	assert_int_equal(k, SERVER_TRITON);
	assert_float_equal(f.gen_tokens, 60000, 1e-6);
	assert_float_equal(f.requests, 240, 1e-9);
	assert_float_equal(f.v[SFIG_AVG_BATCH], 4, 1e-12);
	assert_float_equal(f.v[SFIG_KV_USAGE], 0.3, 1e-12);
	assert_float_equal(f.v[SFIG_TTFT_P50], 0.0375, 1e-12); /* milliseconds read as seconds */

	pair("llamacpp", "", &f, &k);
	assert_int_equal(k, SERVER_LLAMACPP);
	assert_float_equal(f.v[SFIG_GEN_TPS], 1000, 1e-9);
	assert_false(f.valid[SFIG_REQ_PS]); /* llama.cpp counts no requests */
	assert_false(f.valid[SFIG_J_PER_REQUEST]);
	assert_float_equal(f.v[SFIG_J_PER_TOKEN], 0.5, 1e-12);
}

static void test_counter_reset(void **state)
{
	/* t = 10, 70, then a restart read 10 s later: 60000 + 10000 tokens */
	struct server_reading *a = reading("vllm-t10.prom"), *b = reading("vllm-t70.prom"),
	                      *c = reading("vllm-t10.prom");
	const struct server_reading *rs[3] = {a, b, c};
	double t[3] = {0, 60, 70};
	struct server_figures f;
	server_figures_compute(rs, t, 3, MODEL, NULL, &f);
	assert_true(f.reset);
	assert_float_equal(f.gen_tokens, 70000, 1e-6);
	assert_float_equal(f.v[SFIG_GEN_TPS], 1000, 1e-9);
	assert_false(f.valid[SFIG_J_PER_TOKEN]); /* not joined: no energy */
	double v[] = {5, 9, 2, 4};
	assert_float_equal(server_counter_increase(v, 4), 4 + 2 + 2, 0);
	free(a);
	free(b);
	free(c);
}

static void test_quantile(void **state)
{
	double le[] = {0.1, 0.2, INFINITY}, count[] = {10, 30, 40};
	assert_float_equal(server_hist_quantile(0.25, le, count, 3), 0.1, 1e-12);
	assert_float_equal(server_hist_quantile(0.5, le, count, 3), 0.15, 1e-12);
	assert_float_equal(server_hist_quantile(0.99, le, count, 3), 0.2, 1e-12);
	double empty[] = {0, 0, 0};
	assert_true(isnan(server_hist_quantile(0.5, le, empty, 3)));
}

static struct server_figures figs(double running, double waiting, double kv, double preempt,
                                  double jpt)
{
	struct server_figures f;
	memset(&f, 0, sizeof(f));
	double v[][2] = {{SFIG_RUNNING, running},
	                 {SFIG_WAITING, waiting},
	                 {SFIG_KV_USAGE, kv},
	                 {SFIG_PREEMPT_PS, preempt},
	                 {SFIG_J_PER_TOKEN, jpt}};
	for (size_t i = 0; i < 5; i++)
		if (!isnan(v[i][1])) {
			f.v[(int)v[i][0]] = v[i][1];
			f.valid[(int)v[i][0]] = true;
		}
	return f;
}

static void test_advice(void **state)
{
	struct server_advice a;
	/* queue and KV room: raise towards 0.80 of the cache, at most twice */
	struct server_figures f = figs(8, 3, 0.3, 0, NAN);
	struct advice_input in = {.kind = SERVER_VLLM,
	                          .fig = &f,
	                          .sm_active = NAN,
	                          .memory_used = 0.92,
	                          .peer_j_per_token = NAN,
	                          .server = "a:8000",
	                          .model = "m",
	                          .gpu_index = 3};
	server_advise(&in, &a);
	assert_string_equal(a.action, "raise");
	assert_float_equal(a.batch_target, 16, 0);
	assert_string_equal(a.knob, "max_num_seqs");
	assert_int_equal(a.nverdicts, 1);
	assert_string_equal(a.verdict[0].id, ANALYZE_BATCH_TOO_SMALL);
	assert_int_equal(a.verdict[0].severity, ANALYZE_SEVERITY_WARNING);
	assert_int_equal(a.verdict[0].about.gpu_index, 3);
	assert_float_equal(analyze_evidence_value(&a.verdict[0], "batch_target"), 16, 0);
	assert_float_equal(analyze_evidence_value(&a.verdict[0], "kv_cache_usage"), 0.3, 1e-12);
	/* KV near full with preemptions: lower to 0.85 of the cache */
	f = figs(40, 5, 0.97, 0.5, NAN);
	server_advise(&in, &a);
	assert_string_equal(a.action, "lower");
	assert_float_equal(a.batch_target, floor(40 * 0.85 / 0.97), 0);
	assert_string_equal(a.verdict[0].id, ANALYZE_KV_CACHE_PRESSURE);
	/* busy SMs, no queue, KV well used: keep */
	f = figs(32, 0, 0.75, 0, NAN);
	in.sm_active = 0.9;
	server_advise(&in, &a);
	assert_string_equal(a.action, "keep");
	assert_int_equal(a.nverdicts, 0);
	/* no KV figure (TGI without v3): the seed's memory rule, +2 below 0.70 */
	f = figs(4, 2, NAN, NAN, NAN);
	in = (struct advice_input){.kind = SERVER_TGI,
	                           .fig = &f,
	                           .sm_active = NAN,
	                           .memory_used = 0.5,
	                           .peer_j_per_token = NAN,
	                           .gpu_index = -1};
	server_advise(&in, &a);
	assert_string_equal(a.action, "raise");
	assert_float_equal(a.batch_target, 6, 0);
	assert_string_equal(a.knob, "max_batch_total_tokens");
	/* energy per token twice the peer's */
	f = figs(32, 0, 0.75, 0, 1.0);
	in = (struct advice_input){.kind = SERVER_VLLM,
	                           .fig = &f,
	                           .sm_active = 0.9,
	                           .memory_used = 0.9,
	                           .peer_j_per_token = 0.5,
	                           .peer = "b:8000",
	                           .gpu_index = 0};
	server_advise(&in, &a);
	assert_int_equal(a.nverdicts, 1);
	assert_string_equal(a.verdict[0].id, ANALYZE_ENERGY_PER_TOKEN_HIGH);
	assert_non_null(strstr(a.verdict[0].evidence_text, "2.0x"));
	assert_float_equal(analyze_evidence_value(&a.verdict[0], "peer_j_per_token"), 0.5, 0);
}

static void test_proc_net_tcp(void **state)
{
	const char text[] =
	    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
	    "timeout inode\n"
	    "   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000 "
	    "       0 424242 1 0000000000000000 100 0 0 10 0\n"
	    "   1: 00000000:24B8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0 "
	    "       0 515151 1 0000000000000000 100 0 0 10 0\n"
	    "   2: 0100007F:1F40 0100007F:D2A4 01 00000000:00000000 00:00000000 00000000  1000 "
	    "       0 626262 1 0000000000000000 20 4 30 10 -1\n"
	    "   3: garbage\n";
	struct discover_listen l[8];
	size_t n = discover_parse_tcp(text, sizeof(text) - 1, 4, l, 8);
	assert_int_equal(n, 2); /* the established connection and the garbage are skipped */
	assert_int_equal(l[0].port, 8000);
	assert_int_equal(l[0].inode, 424242);
	assert_true(l[0].loopback);
	assert_int_equal(l[1].port, 9400);
	assert_false(l[1].loopback);
}

static void test_known_cmdlines(void **state)
{
	const char vllm[] = "/usr/bin/python3\0-m\0vllm.entrypoints.openai.api_server\0";
	const char tgi[] = "text-generation-router\0--port\0080\0";
	const char shell[] = "-bash\0";
	const char sshd[] = "sshd: alice@pts/0\0";
	assert_true(discover_cmdline_known(vllm, sizeof(vllm) - 1));
	assert_true(discover_cmdline_known(tgi, sizeof(tgi) - 1));
	assert_false(discover_cmdline_known(shell, sizeof(shell) - 1));
	assert_false(discover_cmdline_known(sshd, sizeof(sshd) - 1));
}

static void put_stat(const char *root, int pid, const char *comm, int ppid)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/proc/%d", root, pid);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/proc/%d/stat", root, pid);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	/* a name with a space and a parenthesis, as comm may have */
	fprintf(f, "%d (%s) S %d %d 0 0 -1 4194560 1 0 0 0\n", pid, comm, ppid, pid);
	fclose(f);
}

/* TGI's tree: launcher 100 -> shards 101, 102 and router 103; 200 is elsewhere. */
static void test_children(void **state)
{
	(void)state;
	char root[] = "/tmp/gpuscope-children-XXXXXX", path[512];
	assert_non_null(mkdtemp(root));
	snprintf(path, sizeof(path), "%s/proc", root);
	assert_int_equal(mkdir(path, 0700), 0);
	put_stat(root, 100, "text-generation", 1);
	put_stat(root, 101, "text-gen) S 9 (shard", 100);
	put_stat(root, 102, "python3", 100);
	put_stat(root, 103, "text-generation", 100);
	put_stat(root, 200, "bash", 1);
	int kids[8];
	size_t n = discover_children(root, 100, kids, 8);
	assert_int_equal(n, 3);
	int seen = 0;
	for (size_t i = 0; i < n; i++)
		seen |= kids[i] == 101 ? 1 : kids[i] == 102 ? 2 : kids[i] == 103 ? 4 : 8;
	assert_int_equal(seen, 7);
	assert_int_equal(discover_children(root, 100, kids, 2), 2); /* capped */
	assert_int_equal(discover_children(root, 200, kids, 8), 0);
	assert_int_equal(discover_children("/nonexistent-root", 100, kids, 8), 0);
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

/* A pod's namespace: the loopback leaves first, then its own address. */
static void test_fib_trie(void **state)
{
	(void)state;
	static const char pod[] = "Main:\n"
	                          "  +-- 0.0.0.0/0 3 0 5\n"
	                          "     |-- 0.0.0.0\n"
	                          "        /0 universe UNICAST\n"
	                          "     +-- 10.244.0.0/16 2 0 2\n"
	                          "        |-- 10.244.1.0\n"
	                          "           /24 link UNICAST\n"
	                          "     +-- 127.0.0.0/8 2 0 2\n"
	                          "           |-- 127.0.0.1\n"
	                          "              /32 host LOCAL\n"
	                          "        |-- 10.244.1.17\n"
	                          "           /32 host LOCAL\n"
	                          "        |-- 10.244.1.255\n"
	                          "           /32 link BROADCAST\n";
	char addr[16];
	assert_int_equal(discover_parse_fib_trie(pod, sizeof(pod) - 1, addr, sizeof(addr)), 0);
	assert_string_equal(addr, "10.244.1.17");
	static const char lo[] = "Local:\n     |-- 127.0.0.1\n        /32 host LOCAL\n"
	                         "     |-- 999.1.1.1\n        /32 host LOCAL\n";
	assert_int_equal(discover_parse_fib_trie(lo, sizeof(lo) - 1, addr, sizeof(addr)), -1);
	/* cut anywhere: never past len */
	for (size_t n = 0; n < sizeof(pod) - 1; n++)
		discover_parse_fib_trie(pod, n, addr, sizeof(addr));
	/* this process's own namespace is the agent's: the loopback address */
	char here[48];
	assert_true(discover_address("", (int)getpid(), here, sizeof(here)));
	assert_string_equal(here, "127.0.0.1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parser_lines),
	    cmocka_unit_test(test_parser_never_reads_past_len),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_garbage_is_not_a_server),
	    cmocka_unit_test(test_vllm_figures),
	    cmocka_unit_test(test_vllm_renamed),
	    cmocka_unit_test(test_other_servers),
	    cmocka_unit_test(test_counter_reset),
	    cmocka_unit_test(test_quantile),
	    cmocka_unit_test(test_advice),
	    cmocka_unit_test(test_proc_net_tcp),
	    cmocka_unit_test(test_known_cmdlines),
	    cmocka_unit_test(test_children),
	    cmocka_unit_test(test_fib_trie),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
