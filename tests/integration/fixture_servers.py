"""fixture_servers.py - small local inference-server stand-ins for tests (stdlib only).

Each FixtureServer answers GET /metrics with one server's real metric names and types
(vLLM, SGLang, TGI, Triton with TensorRT-LLM, llama.cpp; ../shared/facts/inference-servers.md),
its counters moving on a schedule the test knows:

    tokens(t) = tokens_per_s * t         (smooth: vLLM counts every engine step)
    tokens(t) = per_request * floor(t * requests_per_s)   (lumpy: counted when a request ends)

where t is seconds since the server started (or since its simulated restart).  Modes:
"hang" never answers, "garbage" answers 10 MB of bytes that are no exposition, "restart"
sets every counter back to zero `restart_after` seconds in, "renamed" uses vLLM's old
gpu_cache_usage_perc / time_per_output_token_seconds names.
"""
import http.server
import math
import os
import threading
import time

KINDS = ("vllm", "sglang", "tgi", "triton", "llamacpp")
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
LE = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class Schedule:
    def __init__(self, tokens_per_s=1000.0, requests_per_s=4.0, prompt_per_request=200,
                 running=8, waiting=0, kv=0.30, preempt_per_s=0.0, ttft_s=0.04, itl_s=0.02,
                 switch_at=None, tokens_per_s_after=None):
        self.tokens_per_s = tokens_per_s
        # a step in the rate (smooth counters): tokens_per_s until switch_at seconds,
        # tokens_per_s_after from then on, the counter continuous
        self.switch_at, self.tokens_per_s_after = switch_at, tokens_per_s_after
        self.requests_per_s = requests_per_s
        self.prompt_per_request = prompt_per_request
        self.running = running
        self.waiting = waiting
        self.kv = kv
        self.preempt_per_s = preempt_per_s
        self.ttft_s = ttft_s
        self.itl_s = itl_s


def smooth_tokens(s, t):
    """Generated tokens by t of a smooth (per engine step) counter."""
    if s.switch_at is None or t <= s.switch_at:
        return s.tokens_per_s * t
    return s.tokens_per_s * s.switch_at + s.tokens_per_s_after * (t - s.switch_at)


def _hist(name, labels, value_s, count, scale=1.0):
    """Every observation equal to value_s: cumulative buckets, sum and count."""
    out = ["# TYPE %s histogram" % name]
    for le in LE:
        out.append('%s_bucket{%sle="%g"} %d' % (name, labels, le * scale,
                                               count if value_s <= le else 0))
    out.append('%s_bucket{%sle="+Inf"} %d' % (name, labels, count))
    out.append("%s_sum{%s} %.6f" % (name, labels.rstrip(","), value_s * scale * count))
    out.append("%s_count{%s} %d" % (name, labels.rstrip(","), count))
    return out


def exposition(kind, s, t, renamed=False):
    """The /metrics text of `kind` at t seconds."""
    lumpy = kind != "vllm"
    done = math.floor(t * s.requests_per_s)
    per_req = s.tokens_per_s / s.requests_per_s
    gen = per_req * done if lumpy else smooth_tokens(s, t)
    prompt = s.prompt_per_request * done
    preempt = math.floor(t * s.preempt_per_s)
    m = 'model_name="%s"' % MODEL
    L = []
    if kind == "vllm":
        L += ["# HELP vllm:generation_tokens_total Number of generation tokens processed.",
              "# TYPE vllm:generation_tokens_total counter",
              "vllm:generation_tokens_total{%s,engine=\"0\"} %.1f" % (m, gen),
              "# TYPE vllm:prompt_tokens_total counter",
              "vllm:prompt_tokens_total{%s,engine=\"0\"} %.1f" % (m, prompt),
              "# TYPE vllm:request_success_total counter",
              'vllm:request_success_total{finished_reason="stop",%s,engine="0"} %d'
              % (m, done - done // 4),
              'vllm:request_success_total{finished_reason="length",%s,engine="0"} %d'
              % (m, done // 4),
              # aborts are not completed requests: the join must leave them out
              'vllm:request_success_total{finished_reason="abort",%s,engine="0"} %d'
              % (m, 7 * done),
              "# TYPE vllm:num_preemptions_total counter",
              "vllm:num_preemptions_total{%s,engine=\"0\"} %d" % (m, preempt),
              "# TYPE vllm:num_requests_running gauge",
              "vllm:num_requests_running{%s,engine=\"0\"} %g" % (m, s.running),
              "# TYPE vllm:num_requests_waiting gauge",
              "vllm:num_requests_waiting{%s,engine=\"0\"} %g" % (m, s.waiting)]
        kv = "vllm:gpu_cache_usage_perc" if renamed else "vllm:kv_cache_usage_perc"
        L += ["# TYPE %s gauge" % kv, "%s{%s,engine=\"0\"} %g" % (kv, m, s.kv)]
        L += _hist("vllm:time_to_first_token_seconds", m + ',engine="0",', s.ttft_s, done)
        itl = ("vllm:time_per_output_token_seconds" if renamed
               else "vllm:inter_token_latency_seconds")
        L += _hist(itl, m + ',engine="0",', s.itl_s, int(gen))
    elif kind == "sglang":
        L += ["# TYPE sglang:generation_tokens_total counter",
              "sglang:generation_tokens_total{%s} %.6e" % (m, gen),
              "# TYPE sglang:prompt_tokens_total counter",
              "sglang:prompt_tokens_total{%s} %.1f" % (m, prompt),
              "# TYPE sglang:num_requests_total counter",
              "sglang:num_requests_total{%s} %d" % (m, done),
              "# TYPE sglang:num_running_reqs gauge",
              "sglang:num_running_reqs{%s} %g" % (m, s.running),
              "# TYPE sglang:num_queue_reqs gauge",
              "sglang:num_queue_reqs{%s} %g" % (m, s.waiting),
              "# TYPE sglang:token_usage gauge",
              "sglang:token_usage{%s} %g" % (m, s.kv),
              "# TYPE sglang:gen_throughput gauge",
              "sglang:gen_throughput{%s} %g" % (m, s.tokens_per_s)]
        L += _hist("sglang:time_to_first_token_seconds", m + ",", s.ttft_s, done)
    elif kind == "tgi":
        # no _total, no colon, no model label; tokens only as histogram sums
        L += ["# TYPE tgi_request_success counter", "tgi_request_success %d" % done,
              "# TYPE tgi_request_count counter", "tgi_request_count %d" % (done + 3),
              "# TYPE tgi_queue_size gauge", "tgi_queue_size %g" % s.waiting,
              "# TYPE tgi_batch_current_size gauge", "tgi_batch_current_size %g" % s.running,
              "# TYPE tgi_batch_current_max_tokens gauge",
              "tgi_batch_current_max_tokens %g" % (s.kv * 100000),
              "# TYPE tgi_batch_max_total_tokens gauge",
              "tgi_batch_max_total_tokens 100000",
              "# TYPE tgi_request_generated_tokens histogram",
              "tgi_request_generated_tokens_bucket{le=\"+Inf\"} %d" % done,
              "tgi_request_generated_tokens_sum %.1f" % gen,
              "tgi_request_generated_tokens_count %d" % done,
              "# TYPE tgi_request_input_length histogram",
              "tgi_request_input_length_bucket{le=\"+Inf\"} %d" % done,
              "tgi_request_input_length_sum %.1f" % prompt,
              "tgi_request_input_length_count %d" % done]
    elif kind == "triton":
        tm = 'model="tensorrt_llm",version="1"'
        L += ["# TYPE nv_inference_request_success counter",
              "nv_inference_request_success{%s} %d" % (tm, done),
              "nv_inference_request_success{model=\"ensemble\",version=\"1\"} %d" % done,
              "# TYPE nv_inference_count counter",
              "nv_inference_count{%s} %d" % (tm, done * 4),
              "# TYPE nv_inference_exec_count counter",
              "nv_inference_exec_count{%s} %d" % (tm, done),
              "# TYPE nv_inference_pending_request_count gauge",
              "nv_inference_pending_request_count{%s} %g" % (tm, s.waiting),
              "# TYPE nv_trt_llm_request_metrics gauge",
              'nv_trt_llm_request_metrics{%s,request_type="active"} %g' % (tm, s.running),
              'nv_trt_llm_request_metrics{%s,request_type="max"} 256' % tm,
              "# TYPE nv_trt_llm_kv_cache_block_metrics gauge",
              'nv_trt_llm_kv_cache_block_metrics{%s,kv_cache_block_type="fraction"} %g'
              % (tm, s.kv),
              'nv_trt_llm_kv_cache_block_metrics{%s,kv_cache_block_type="used"} 1234' % tm,
              "# TYPE nv_llm_output_token_len histogram",
              'nv_llm_output_token_len_bucket{%s,response_metric_type="total_output_tokens",'
              'le="+Inf"} %d' % (tm, done),
              'nv_llm_output_token_len_sum{%s,response_metric_type="total_output_tokens"} %.1f'
              % (tm, gen),
              "# TYPE nv_energy_consumption gauge",
              'nv_energy_consumption{gpu_uuid="GPU-x"} 12345']
        L += _hist("nv_inference_first_response_histogram_ms", tm + ",", s.ttft_s, done, 1000)
    elif kind == "llamacpp":
        L += ["# TYPE llamacpp:prompt_tokens_total counter",
              "llamacpp:prompt_tokens_total %d" % prompt,
              "# TYPE llamacpp:tokens_predicted_total counter",
              "llamacpp:tokens_predicted_total %d" % gen,
              "# TYPE llamacpp:requests_processing gauge",
              "llamacpp:requests_processing %g" % s.running,
              "# TYPE llamacpp:requests_deferred gauge",
              "llamacpp:requests_deferred %g" % s.waiting]
    return "\n".join(L) + "\n"


class FixtureServer:
    """A threaded HTTP server on 127.0.0.1 (a free port); use as a context manager."""

    def __init__(self, kind, schedule=None, mode=None, restart_after=None, renamed=False):
        self.kind, self.s = kind, schedule or Schedule()
        self.mode, self.restart_after, self.renamed = mode, restart_after, renamed
        self.t0 = time.monotonic()
        self.release = threading.Event()
        fixture = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if fixture.mode == "hang":
                    fixture.release.wait(60)
                    return
                if fixture.mode == "garbage":
                    body = os.urandom(10 << 20)
                else:
                    t = time.monotonic() - fixture.t0
                    if fixture.restart_after is not None and t >= fixture.restart_after:
                        t -= fixture.restart_after
                    body = exposition(fixture.kind, fixture.s, t, fixture.renamed).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d/metrics" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.t0 = time.monotonic()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
