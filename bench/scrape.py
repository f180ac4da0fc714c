#!/usr/bin/env python3
"""bench/scrape.py - what a /metrics scrape costs the agent, and how soon it answers.

  a. scrape CPU   the agent's CPU per scrape (its HTTP worker threads, where the whole
                  scrape path runs: /proc/PID/task/*/schedstat; their idle rate, measured
                  just before, is taken off), 8 and 64 simulated GPUs, plain
                  and gzip; "fresh": one scrape per fast tick (150 ms apart: what one
                  Prometheus sees, every scrape renders and compresses), "same tick": 20
                  scrapers in one tick (each one after the first is served from memory);
                  each the median of 3 rounds of 20.
                  With --base BIN, the same for another gpuscope binary (e.g. the last
                  release) in the same run, and the ratio.
  b. first answer  time from exec to the first 200 on /metrics: gpuscope (8 and 64 GPUs,
                  --no-history) against prometheus-node-exporter (Debian's), interleaved,
                  median of --runs, and the process's CPU (utime+stime) by then, which
                  does not grow with the machine's load; a trivial Python HTTP server when
                  node_exporter is not installed (the report says which).

The 64-GPU scenario is the default scenario's 8 GPUs eight times over (new UUIDs, bus ids
and pids), written to bench/out/scrape/s64.json.  Only loopback; every process it starts
it stops.  Usage: bench/scrape.py [--build DIR] [--base BIN] [--runs N] [--driver]
(--driver: b. only, with the agent on the GPU host's real driver instead of the simulator.)
"""
import argparse
import copy
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out", "scrape")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scenario64():
    d = json.load(open(os.path.join(ROOT, "sim", "scenarios", "default.json")))
    base, gpus = d["gpus"], []
    for k in range(64):
        g = copy.deepcopy(base[k % len(base)])
        g["uuid"] = "GPU-%08x-0000-4000-8000-%012x" % (0x64000000 + k, k)
        g["pci_bus_id"] = "00000000:%02x:00.0" % (k + 1)
        for p in g.get("processes", []):
            p["pid"] = 100000 + k * 100 + p["pid"] % 100
            p.pop("server", None)  # no simulated inference servers: GPUs only
        gpus.append(g)
    d["gpus"], d["name"] = gpus, "bench-64"
    path = os.path.join(OUT, "s64.json")
    with open(path, "w") as f:
        json.dump(d, f)
    return path


def get(port, headers, timeout=5):
    req = urllib.request.Request("http://127.0.0.1:%d/metrics" % port, headers=headers)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read()


class Agent:
    def __init__(self, binary, sim_lib, scenario):
        self.port = free_port()
        self.log = open(os.path.join(OUT, "agent-%d.log" % self.port), "w")
        args = [binary, "serve", "--demo"] + ([scenario] if scenario else [])
        args += ["--listen", "127.0.0.1:%d" % self.port, "--no-history"]
        env = dict(os.environ, GPUSCOPE_SIM_LIB=sim_lib)
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.log, env=env)

    def wait_serving(self):
        path = self.log.name
        for _ in range(300):
            if "serving" in open(path).read():
                return
            time.sleep(0.05)
        raise SystemExit("agent did not start: see %s" % path)

    def cpu_s(self):
        """CPU of the HTTP worker threads (named gpuscope-http, http/engine.c): the whole
        scrape path (render, compress, send) runs there and nothing else does."""
        t = 0
        for tid in os.listdir("/proc/%d/task" % self.proc.pid):
            try:
                with open("/proc/%d/task/%s/comm" % (self.proc.pid, tid)) as f:
                    # MHD-: builds before the server of its own (--base BIN)
                    if not f.read().startswith(("gpuscope-http", "MHD-")):
                        continue
                with open("/proc/%d/task/%s/schedstat" % (self.proc.pid, tid)) as f:
                    t += int(f.read().split()[0])
            except OSError:
                pass
        return t / 1e9

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def scrape_cpu(agent, headers, n, gap, idle_rate):
    """Agent CPU per scrape (ms), less its idle rate over the same wall time."""
    c0, t0 = agent.cpu_s(), time.monotonic()
    size = 0
    for i in range(n):
        size = len(get(agent.port, dict(headers, **{"User-Agent": "bench-%d" % (i % 4)})))
        if gap:
            time.sleep(gap)
    c, t = agent.cpu_s() - c0, time.monotonic() - t0
    return max(0.0, (c - idle_rate * t) / n * 1000), size


def measure_cpu(binary, sim_lib, scenario, label):
    a = Agent(binary, sim_lib, scenario)
    try:
        a.wait_serving()
        time.sleep(3)  # the slow tier's first rounds, the first windows
        c0, t0 = a.cpu_s(), time.monotonic()
        time.sleep(3)
        idle = (a.cpu_s() - c0) / (time.monotonic() - t0)
        rows = []
        for enc, hdr in (("plain", {}), ("gzip", {"Accept-Encoding": "gzip"})):
            runs = [scrape_cpu(a, hdr, 20, 0.15, idle) for _ in range(3)]
            fresh, size = statistics.median(r[0] for r in runs), runs[0][1]
            # same tick: 20 scrapers back to back (4 clients: their windows differ)
            hot = statistics.median(scrape_cpu(a, hdr, 20, 0, idle)[0] for _ in range(3))
            rows.append((label, enc, size, fresh, hot))
        return idle, rows
    finally:
        a.stop()


def process_cpu_s(pid):
    """CPU time of a process's threads so far (schedstat, ns: /proc/PID/stat counts 10 ms
    ticks, too coarse here)."""
    t = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                t += int(f.read().split()[0])
        except OSError:
            pass
    return t / 1e9


def first_answer(cmd, port, env=None):
    """(seconds, process CPU seconds) from exec to the first answer to GET /metrics
    (polled every millisecond).  The CPU figure does not grow with the machine's load."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        while time.monotonic() - t0 < 10 and p.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if s.recv(12).startswith(b"HTTP/1."):
                        return time.monotonic() - t0, process_cpu_s(p.pid)
            except OSError:
                pass
            time.sleep(0.001)
        return float("nan"), float("nan")
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("BUILD", os.path.join(ROOT, "build")))
    ap.add_argument("--base", help="another gpuscope binary to measure beside this one")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--driver", action="store_true",
                    help="b. only, the agent on the real driver (no --demo): for a GPU host")
    o = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    binary = os.path.join(o.build, "gpuscope")
    sim_lib = os.path.join(o.build, "sim", "libgpuscope-nvml-sim.so")
    s64 = scenario64()
    report = []

    def say(line=""):
        print(line, flush=True)
        report.append(line)

    say("gpuscope bench/scrape.py  %s" % time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    say("machine: %d CPUs, load average %.1f" % (os.cpu_count(), os.getloadavg()[0]))
    say()
    if o.driver:
        first_answers(o, binary, None, say, ["gpuscope (driver)", "baseline"])
        return finish(report)
    say("a. agent CPU per /metrics scrape (ms), simulator, fast 100 ms, --no-history")
    say("   %-10s %-6s %10s %12s %12s" % ("agent", "enc", "bytes", "fresh tick", "same tick"))
    results = {}
    for label, bin_ in [("gpuscope", binary)] + ([("base", o.base)] if o.base else []):
        for gpus, scen in ((8, None), (64, s64)):
            idle, rows = measure_cpu(bin_, sim_lib, scen, label)
            for (lab, enc, size, fresh, hot) in rows:
                results[(lab, gpus, enc)] = (fresh, hot)
                say("   %-10s %-6s %10d %12.2f %12.2f   (%d GPUs; idle %.1f ms/s)" %
                    (lab, enc, size, fresh, hot, gpus, idle * 1000))
    if o.base:
        for gpus in (8, 64):
            for enc in ("plain", "gzip"):
                a, b = results[("gpuscope", gpus, enc)], results[("base", gpus, enc)]
                say("   ratio gpuscope/base, %d GPUs %s: fresh %.2f, same tick %.2f" %
                    (gpus, enc, a[0] / b[0] if b[0] else float("nan"),
                     a[1] / b[1] if b[1] else float("nan")))
    say()
    first_answers(o, binary, s64, say, ["gpuscope 8 GPUs", "gpuscope 64 GPUs", "baseline"])
    finish(report)


def finish(report):
    with open(os.path.join(OUT, "report.txt"), "w") as f:
        f.write("\n".join(report) + "\n")


def first_answers(o, binary, s64, say, keys):
    sim_lib = os.path.join(o.build, "sim", "libgpuscope-nvml-sim.so")
    node = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    say("b. exec to first 200 on /metrics (ms), median of %d interleaved runs; baseline: %s" %
        (o.runs, node or "python3 -m http.server (node_exporter is not installed)"))
    times = {k: [] for k in keys}
    cpus = {k: [] for k in times}
    env = dict(os.environ, GPUSCOPE_SIM_LIB=sim_lib)
    for _ in range(o.runs):
        for key in times:
            port = free_port()
            if key == "baseline":
                cmd = ([node, "--web.listen-address=127.0.0.1:%d" % port] if node else
                       [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)])
            elif "driver" in key:
                cmd = [binary, "serve", "--listen", "127.0.0.1:%d" % port, "--no-history"]
            else:
                cmd = [binary, "serve", "--demo"] + ([s64] if "64" in key else [])
                cmd += ["--listen", "127.0.0.1:%d" % port, "--no-history"]
            t, c = first_answer(cmd, port, None if key == "baseline" else env)
            times[key].append(t)
            cpus[key].append(c)
    base, base_cpu = statistics.median(times["baseline"]), statistics.median(cpus["baseline"])
    for key, v in times.items():
        m, c = statistics.median(v), statistics.median(cpus[key])
        say("   %-18s %8.1f ms  (runs: %s)  ratio %.2f;  process CPU by then %.0f ms, ratio %.2f" %
            (key, m * 1000, ", ".join("%.0f" % (x * 1000) for x in v), m / base, c * 1000,
             c / base_cpu if base_cpu else float("nan")))


if __name__ == "__main__":
    main()
