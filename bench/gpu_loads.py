#!/usr/bin/env python3
"""gpu_loads.py - three real loads on one GPU, judged from gpuscope's own /metrics.

Run by bench/gpu_loads.sh next to a running `gpuscope serve`.  Each load runs in a
child process (PyTorch, GPU 0) while this process scrapes the agent and polls
nvidia-smi once a second, as a 1 s poller would:

  matmul     bf16 8192^3 matmuls back to back              -> expect tensor-bound
  bandwidth  x * 2 over 1 GiB of float32, back to back     -> expect DRAM-bound
  bursts     a 100 ms burst of matmuls every second, timed with synchronize() so a
             burst really lasts 100 ms; idle in between     -> the window max keeps it
  energy     steady matmul for --energy-s seconds: the driver's energy counter and
             gpuscope's integral of the 20 ms power samples, as rates (least squares
             over the counter's own updates, so their different read times cancel)

Prints a markdown table (and writes it to --out/loads.md) plus raw numbers
(loads.json).  It only reads the GPU; the loads are ordinary CUDA work.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

UA = "gpu_loads"


def child(kind, seconds):
    import torch

    dev = torch.device("cuda:0")
    torch.ones(1, device=dev)
    torch.cuda.synchronize()
    print("ready", flush=True)  # CUDA is up: the parent times the load from here
    end = time.time() + seconds
    if kind == "matmul":
        a = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
        b = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
        while time.time() < end:
            for _ in range(8):
                a @ b
            torch.cuda.synchronize()
    elif kind == "bandwidth":
        x = torch.randn(256 * 1024 * 1024, device=dev, dtype=torch.float32)  # 1 GiB
        while time.time() < end:
            for _ in range(8):
                x * 2
            torch.cuda.synchronize()
    elif kind == "bursts":
        a = torch.randn(4096, 4096, device=dev, dtype=torch.bfloat16)
        b = torch.randn(4096, 4096, device=dev, dtype=torch.bfloat16)
        a @ b
        torch.cuda.synchronize()
        next_burst = float(int(time.time()) + 1)
        while next_burst < end:
            time.sleep(max(0.0, next_burst - time.time()))
            stop = next_burst + 0.100
            while time.time() < stop:  # each matmul ~1 ms: the burst ends within ~1 ms of 100
                a @ b
                torch.cuda.synchronize()
            next_burst += 1.0
    else:
        raise SystemExit("unknown load " + kind)


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(url):
    req = urllib.request.Request(url, headers={"User-Agent": UA})
    with urllib.request.urlopen(req, timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = _SAMPLE.match(line)
        labels = dict(_LABEL.findall(m.group(3) or ""))
        if labels.get("gpu") != "0" or "GPU_I_ID" in labels:
            continue
        key = m.group(1)
        if "pipe" in labels:
            key += "{pipe=%s}" % labels["pipe"]
        if "reason" in labels:
            key += "{reason=%s}" % labels["reason"]
        out[key] = float(m.group(4))
    return out


def smi_poller(seconds):
    """nvidia-smi polled once a second, as a 1 s exporter would."""
    return subprocess.Popen(
        ["timeout", str(seconds), "nvidia-smi", "-i", "0", "--query-gpu=utilization.gpu,power.draw",
         "--format=csv,noheader,nounits", "-lms", "1000"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def smi_values(p):
    out, _ = p.communicate()
    util, power = [], []
    for line in out.splitlines():
        parts = [x.strip() for x in line.split(",")]
        if len(parts) == 2:
            try:
                util.append(float(parts[0]))
                power.append(float(parts[1]))
            except ValueError:
                pass
    return util, power


def start_load(kind, seconds):
    """Starts a load child and returns once its CUDA context is up."""
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", kind,
                             "--seconds", str(seconds)], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if line.strip() != "ready":
        raise SystemExit("load %s did not start: %r" % (kind, line))
    return proc


def phase(url, kind, seconds):
    """Runs one load; returns gpuscope's window over its steady part and nvidia-smi's polls."""
    proc = start_load(kind, seconds)
    time.sleep(2.5)          # first kernels; then the steady part
    scrape(url)              # opens this scraper's window
    smi = smi_poller(seconds - 3.5)
    time.sleep(seconds - 2.5)
    m = scrape(url)          # window: the steady seconds (the newest 2 s are not served yet)
    proc.wait()
    util, power = smi_values(smi)
    time.sleep(3)            # idle gap between loads
    return m, util, power


def slope(points):
    n = len(points)
    if n < 3:
        return float("nan")
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    sxx = sum((t - mx) ** 2 for t, _ in points)
    return sum((t - mx) * (v - my) for t, v in points) / sxx if sxx else float("nan")


def energy_phase(url, seconds):
    proc = start_load("matmul", seconds + 5)
    time.sleep(3)
    counter, integral = [], []
    last_c = last_i = None
    end = time.time() + seconds
    while time.time() < end:
        t = time.time()
        m = scrape(url)
        c, i = m.get("gpuscope_energy_joules_total"), m.get("gpuscope_power_integrated_joules_total")
        # Only fresh readings count: each counter is read on its own tier.
        if c is not None and c != last_c:
            counter.append((t, c))
            last_c = c
        if i is not None and i != last_i:
            integral.append((t, i))
            last_i = i
        time.sleep(0.25)
    proc.wait()
    return slope(counter), slope(integral), len(counter), len(integral), counter, integral


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--child")
    ap.add_argument("--seconds", type=float, default=12)
    ap.add_argument("--metrics", default="http://127.0.0.1:9400/metrics")
    ap.add_argument("--phase-s", type=float, default=12)
    ap.add_argument("--energy-s", type=float, default=60)
    ap.add_argument("--out", default=".")
    a = ap.parse_args()
    if a.child:
        child(a.child, a.seconds)
        return 0

    results = {}
    for kind in ("matmul", "bandwidth", "bursts"):
        m, util, power = phase(a.metrics, kind, a.phase_s)
        results[kind] = {"gpuscope": m, "smi_util": util, "smi_power": power}
        print("# %s done: %d gpuscope series, %d nvidia-smi polls" % (kind, len(m), len(util)),
              flush=True)
    e_rate, p_rate, nc, ni, counter, integral = energy_phase(a.metrics, a.energy_s)
    results["energy"] = {"counter_w": e_rate, "integrated_w": p_rate, "counter_updates": nc,
                         "integral_updates": ni, "counter": counter, "integral": integral}

    def g(kind, name):
        return results[kind]["gpuscope"].get(name, float("nan"))

    def verdict(kind):
        tensor = g(kind, "gpuscope_tensor_active_window_mean_ratio")
        dram = g(kind, "gpuscope_dram_active_window_mean_ratio")
        sm = g(kind, "gpuscope_sm_active_window_mean_ratio")
        if tensor >= 0.5 and sm >= 0.5 and dram < 0.5:
            return "tensor-bound"
        if dram >= 0.6 and tensor < 0.2:
            return "DRAM-bound"
        return "neither"

    rows = []
    for kind in ("matmul", "bandwidth", "bursts"):
        r = results[kind]
        rows.append("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f | %.0f | %.0f | %s | %s | %s |" % (
            kind, g(kind, "gpuscope_gpu_utilization_window_mean_ratio"),
            g(kind, "gpuscope_sm_active_window_mean_ratio"),
            g(kind, "gpuscope_tensor_active_window_mean_ratio"),
            g(kind, "gpuscope_dram_active_window_mean_ratio"),
            g(kind, "gpuscope_sm_active_window_max_ratio"),
            g(kind, "gpuscope_power_instant_window_mean_watts"),
            g(kind, "gpuscope_power_instant_window_max_watts"),
            max(r["smi_power"]) if r["smi_power"] else float("nan"),
            "%.0f" % max(r["smi_util"]) if r["smi_util"] else "-",
            "%.2f" % g(kind, "gpuscope_gpu_utilization_window_max_ratio"),
            verdict(kind)))
    lines = [
        "| load | util mean | SM active mean | tensor mean | DRAM mean | SM active max | "
        "power mean W | power max W (20 ms samples) | nvidia-smi power max W (1 s polls) | "
        "nvidia-smi util max % | gpuscope util max | gpuscope says |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ] + rows
    ratio = p_rate / e_rate if e_rate == e_rate and e_rate else float("nan")
    lines += [
        "",
        "Energy over %.0f s of steady matmul: energy counter %.1f W (%d updates), integrated "
        "20 ms power samples %.1f W (%d updates): ratio %.4f (%+.2f%%)." % (
            a.energy_s, e_rate, nc, p_rate, ni, ratio, (ratio - 1) * 100),
        "Bursts: power max in the window %.0f W against the matmul load's mean %.0f W; "
        "nvidia-smi polled once a second saw at most %.0f W." % (
            g("bursts", "gpuscope_power_instant_window_max_watts"),
            g("matmul", "gpuscope_power_instant_window_mean_watts"),
            max(results["bursts"]["smi_power"]) if results["bursts"]["smi_power"] else float("nan")),
    ]
    text = "\n".join(lines)
    print(text)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "loads.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(a.out, "loads.json"), "w") as f:
        json.dump(results, f, indent=1)
    ok = (verdict("matmul") == "tensor-bound" and verdict("bandwidth") == "DRAM-bound"
          and abs(ratio - 1) <= 0.02)
    print("result", "PASS" if ok else "CHECK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
