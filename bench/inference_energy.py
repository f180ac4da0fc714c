#!/usr/bin/env python3
"""inference_energy.py - gpuscope's J/token against an independent energy-counter figure,
on a real GPU, at two batch sizes.

A small text generator with random weights (a stack of bf16 MLP blocks, one decode step =
one token per sequence, so small batches are bound by reading the weights and large ones
share each read over more tokens) runs on GPU 0 and exports vLLM's metric names on a local
/metrics (generation tokens counted after each synchronized step, requests of 256 tokens,
running = batch, KV usage = batch / 256).  gpuscope serve reads it (--inference-server
URL#gpus=0, window 30 s) and reports J/token.  Independently, this script samples NVML's
energy counter (pynvml nvmlDeviceGetTotalEnergyConsumption) and its own token counter
every 0.25 s and computes, over the very window gpuscope reports (its end is the query
time less last_read_age_s), energy delta / token delta.

    python3 bench/inference_energy.py --gpuscope PATH [--out DIR] [--phase 50]

Prints one JSON document (also DIR/inference_energy.json).  bench/README.md has figures.
"""
import argparse
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request

import pynvml
import torch

MODEL = "random-decoder-4096x16"


class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.tokens = 0
        self.requests = 0
        self.batch = 0

    def text(self):
        with self.lock:
            t, r, b = self.tokens, self.requests, self.batch
        m = 'model_name="%s"' % MODEL
        return "\n".join([
            "# TYPE vllm:generation_tokens_total counter",
            "vllm:generation_tokens_total{%s} %d" % (m, t),
            "# TYPE vllm:prompt_tokens_total counter",
            "vllm:prompt_tokens_total{%s} 0" % m,
            "# TYPE vllm:request_success_total counter",
            'vllm:request_success_total{finished_reason="length",%s} %d' % (m, r),
            "# TYPE vllm:num_requests_running gauge",
            "vllm:num_requests_running{%s} %d" % (m, b),
            "# TYPE vllm:num_requests_waiting gauge",
            "vllm:num_requests_waiting{%s} 0" % m,
            "# TYPE vllm:kv_cache_usage_perc gauge",
            "vllm:kv_cache_usage_perc{%s} %g" % (m, b / 256.0), ""])


def serve_metrics(counters):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = counters.text().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd.server_address[1]


class Sampler(threading.Thread):
    """(monotonic s, NVML energy mJ, tokens) every 0.25 s."""

    def __init__(self, handle, counters):
        super().__init__(daemon=True)
        self.h, self.c, self.rows, self.stop = handle, counters, [], threading.Event()

    def run(self):
        while not self.stop.is_set():
            e = pynvml.nvmlDeviceGetTotalEnergyConsumption(self.h)
            with self.c.lock:
                tok = self.c.tokens
            self.rows.append((time.monotonic(), e, tok))
            time.sleep(0.25)

    def at(self, t, col):
        rows = self.rows
        for i in range(1, len(rows)):
            if rows[i][0] >= t:
                a, b = rows[i - 1], rows[i]
                f = (t - a[0]) / (b[0] - a[0]) if b[0] > a[0] else 0
                return a[col] + f * (b[col] - a[col])
        return rows[-1][col]


def generate(counters, batch, seconds, weights):
    x = torch.randn(batch, 4096, device="cuda", dtype=torch.bfloat16)
    end = time.monotonic() + seconds
    steps = 0
    with torch.no_grad():
        while time.monotonic() < end:
            h = x
            for w1, w2 in weights:
                h = h + torch.nn.functional.gelu(h @ w1) @ w2
            x = torch.nn.functional.normalize(h.float(), dim=-1).to(torch.bfloat16)
            torch.cuda.synchronize()
            steps += 1
            with counters.lock:
                counters.tokens += batch
                if steps % 256 == 0:
                    counters.requests += batch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gpuscope", required=True)
    ap.add_argument("--out", default=".")
    ap.add_argument("--phase", type=float, default=50)
    ap.add_argument("--batches", default="8,128")
    args = ap.parse_args()

    pynvml.nvmlInit()
    handle = pynvml.nvmlDeviceGetHandleByIndex(0)
    counters = Counters()
    port = serve_metrics(counters)
    torch.manual_seed(0)
    weights = [(torch.randn(4096, 16384, device="cuda", dtype=torch.bfloat16) * 0.01,
                torch.randn(16384, 4096, device="cuda", dtype=torch.bfloat16) * 0.01)
               for _ in range(16)]
    url = "http://127.0.0.1:%d/metrics" % port
    log = open(os.path.join(args.out, "gpuscope.log"), "w+")
    agent = subprocess.Popen([args.gpuscope, "serve", "--listen", "127.0.0.1:0", "--no-history",
                              "--inference-server", url + "#gpus=0", "--inference-window", "30s",
                              "--inference-poll", "1s", "--slow-interval", "1s"],
                             stdout=subprocess.DEVNULL, stderr=log)
    aport = None
    for _ in range(200):
        log.seek(0)
        m = re.search(r"on port (\d+)", log.read())
        if m:
            aport = int(m.group(1))
            break
        time.sleep(0.05)
    assert aport, "gpuscope did not start"
    sampler = Sampler(handle, counters)
    sampler.start()
    name = pynvml.nvmlDeviceGetName(handle)
    name = name.decode() if isinstance(name, bytes) else name
    result = {"gpu": name, "model": MODEL, "phases": []}
    try:
        for batch in [int(b) for b in args.batches.split(",")]:
            with counters.lock:
                counters.batch = batch
            generate(counters, batch, args.phase, weights)
            q = time.monotonic()
            doc = json.load(urllib.request.urlopen(
                "http://127.0.0.1:%d/api/v1/servers" % aport, timeout=5))
            adv = json.load(urllib.request.urlopen(
                "http://127.0.0.1:%d/api/v1/advice" % aport, timeout=5))
            s = doc["servers"][0]
            mfig = s["models"][0]
            end = q - s["last_read_age_s"]
            start = end - mfig["window_s"]
            de = (sampler.at(end, 1) - sampler.at(start, 1)) / 1000.0
            dt = sampler.at(end, 2) - sampler.at(start, 2)
            ind = de / dt
            g = mfig["tokens_energy_joules_per_token"]
            result["phases"].append({
                "batch": batch, "window_s": mfig["window_s"],
                "gpuscope_j_per_token": g, "independent_j_per_token": ind,
                "difference": (g - ind) / ind,
                "gpuscope_tokens_per_s": mfig["tokens_generated_per_second"],
                "independent_tokens_per_s": dt / mfig["window_s"],
                "gpuscope_power_w": mfig["power_watts"],
                "independent_power_w": de / mfig["window_s"],
                "gpuscope_cost_per_million_tokens": mfig["tokens_cost_per_million"],
                "sm_active_seconds_per_token": mfig["tokens_sm_active_seconds_per_token"],
                "listener_pid_found": s["pid"], "this_pid": os.getpid(),
                "advice": adv["advice"][0]["action"] if adv["advice"] else None,
                "advice_why": adv["advice"][0]["why"] if adv["advice"] else None})
            print(json.dumps(result["phases"][-1]), flush=True)
    finally:
        sampler.stop.set()
        agent.terminate()
        agent.wait(10)
    ph = result["phases"]
    result["within_3_percent"] = all(abs(p["difference"]) <= 0.03 for p in ph)
    result["larger_batch_lower_j_per_token"] = (len(ph) == 2 and
                                                ph[1]["gpuscope_j_per_token"] <
                                                ph[0]["gpuscope_j_per_token"])
    with open(os.path.join(args.out, "inference_energy.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))
    return 0 if result["within_3_percent"] and result["larger_batch_lower_j_per_token"] else 1


if __name__ == "__main__":
    sys.exit(main())
