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

With --diagnose BIN it instead judges each load with gpuscope's diagnosis
(issue 16): per load, a fresh `BIN serve --history F` is started once the
load's CUDA context is up, the live /api/v1/diagnosis is read after
--load-s seconds, the agent is stopped and `BIN report --history F` judges the
same file.  Each load must get its verdict and no other warning, both ways:

  matmul     bf16 8192^3 back to back          -> compute_bound + power_capped
  bandwidth  x * 2 over 1 GiB                  -> memory_bandwidth_bound
  launch     200 tiny elementwise kernels a step (eager-mode decoding)
                                               -> launch_bound
  cpu        30 ms of Python CPU per small matmul (a starved input pipeline)
                                               -> cpu_bound_input
  bursts     100 ms of matmul once a second    -> bursty
  growth     a matmul half the time, 512 MiB more kept every 0.5 s
                                               -> memory_growth
  pcie       pageable host-to-device copies larger than the compute between
                                               -> pcie_bound
Writes --out/diagnosis.md (the table) and diagnosis.json.
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
    elif kind == "launch":
        # The shape of small-batch decoding in eager mode: each step launches
        # 200 tiny elementwise kernels; the SMs are nearly empty.
        x = torch.ones(1024, device=dev)
        while time.time() < end:
            for _ in range(200):
                x = x * 1.0001
            torch.cuda.synchronize()
    elif kind == "cpu":
        # A single-threaded input pipeline: 30 ms of Python per small matmul.
        a = torch.randn(2048, 2048, device=dev, dtype=torch.bfloat16)
        while time.time() < end:
            stop = time.perf_counter() + 0.030
            n = 0
            while time.perf_counter() < stop:
                n += 1
            a @ a
            torch.cuda.synchronize()
    elif kind == "growth":
        # Steady work half the time (not idle, not compute bound), and a
        # leak: 512 MiB more kept every half second.
        a = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
        kept = []
        next_alloc = time.time()
        while time.time() < end:
            a @ a
            torch.cuda.synchronize()
            time.sleep(0.0015)
            if time.time() >= next_alloc:
                kept.append(torch.ones(128 * 1024 * 1024, device=dev))  # 512 MiB
                next_alloc += 0.5
    elif kind == "pcie":
        # Pageable host memory: the driver stages each copy through pinned
        # buffers; the copy dwarfs the compute between copies.
        host = torch.ones(256 * 1024 * 1024)  # 1 GiB, pageable
        gpu = torch.empty(256 * 1024 * 1024, device=dev)
        small = torch.randn(1024, 1024, device=dev)
        while time.time() < end:
            gpu.copy_(host)
            small @ small
            torch.cuda.synchronize()
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


# load -> (verdicts it must get, verdict ids allowed beside them as info)
DIAGNOSES = {
    "matmul": ({"compute_bound", "power_capped"}, {"vram_overprovisioned"}),
    "bandwidth": ({"memory_bandwidth_bound"}, {"vram_overprovisioned"}),
    "launch": ({"launch_bound"}, {"vram_overprovisioned"}),
    "cpu": ({"cpu_bound_input"}, {"vram_overprovisioned"}),
    "bursts": ({"bursty"}, {"vram_overprovisioned"}),
    "growth": ({"memory_growth"}, set()),
    "pcie": ({"pcie_bound"}, {"vram_overprovisioned"}),
}


def gpu0_verdicts(doc):
    out = {}
    for v in doc.get("verdicts", []):
        if v.get("gpu") == 0:
            ev = {e["name"]: e["value"] for e in v["evidence"]["values"]}
            out[v["id"]] = {"severity": v["severity"], "title": v["title"], "evidence": ev}
    return out


def judge(got, want, also):
    """'ok', or what is wrong: a missing verdict, or a warning it should not get."""
    missing = want - set(got)
    extra = {i for i, v in got.items()
             if i not in want and (v["severity"] != "info" or i not in also)}
    if not missing and not extra:
        return "ok"
    return "; ".join(["missing " + ",".join(sorted(missing))] * bool(missing) +
                     ["also " + ",".join(sorted(extra))] * bool(extra))


def diagnose_one(binary, kind, seconds, outdir):
    """One load under a fresh agent and history: (live doc, report doc, gpu summary)."""
    db = os.path.join(outdir, "history-%s.db" % kind)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    proc = start_load(kind, seconds + 15)
    log = open(os.path.join(outdir, "agent-%s.log" % kind), "w+")
    agent = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--history", db],
                             stdout=subprocess.DEVNULL, stderr=log)
    port = None
    for _ in range(150):
        log.seek(0)
        m = re.search(r"on port (\d+)", log.read())
        if m:
            port = int(m.group(1))
            break
        time.sleep(0.1)
    if port is None:
        agent.kill()
        proc.kill()
        raise SystemExit("gpuscope did not start for %s" % kind)
    time.sleep(seconds)
    url = "http://127.0.0.1:%d/api/v1/diagnosis" % port
    live = json.loads(urllib.request.urlopen(url, timeout=5).read())
    agent.terminate()
    agent.wait(15)
    proc.kill()
    proc.wait()
    r = subprocess.run([binary, "report", "--history", db, "--since", "10m", "--format", "json"],
                       capture_output=True, text=True, timeout=60)
    report = json.loads(r.stdout) if r.returncode == 0 else {"error": r.stderr}
    report["history_means"] = history_means(db)
    time.sleep(2)  # let the GPU settle between loads
    return live, report


def history_means(db):
    """Means of the per-second columns over the load, in base units (what the engine saw)."""
    import sqlite3
    cols = ["mean_gpu_util", "max_gpu_util", "mean_gpm_sm_active", "mean_gpm_tensor",
            "mean_gpm_dram", "mean_gpm_pcie_rx", "mean_gpm_pcie_tx", "mean_power",
            "max_power_instant", "mean_clock_active_power_cap", "clock_event_reasons"]
    out = {}
    with sqlite3.connect(db) as c:
        have = {r[1] for r in c.execute("PRAGMA table_info(gpu_second_v)")}
        for col in cols:
            if col in have:
                out[col] = c.execute("SELECT avg(%s) FROM gpu_second_v" % col).fetchone()[0]
    return out


def diagnose(binary, seconds, outdir, kinds):
    results, rows, all_ok = {}, [], True
    for kind in kinds:
        live, report = diagnose_one(binary, kind, seconds, outdir)
        want, also = DIAGNOSES[kind]
        lv, rv = gpu0_verdicts(live), gpu0_verdicts(report)
        gpus = report.get("gpus") or live.get("gpus") or [{}]
        g = gpus[0]
        results[kind] = {"live": live, "report": report}
        def names(vs):
            return ", ".join("%s (%s)" % (i, v["severity"]) for i, v in sorted(vs.items())) or "none"
        rows.append("| %s | %s | %s | %s | %s | %s |" % (
            kind, names(lv), judge(lv, want, also), names(rv), judge(rv, want, also),
            g.get("line", "").split(": ", 1)[-1]))
        all_ok = all_ok and judge(lv, want, also) == "ok" and judge(rv, want, also) == "ok"
        print("# %s: live %s; report %s" % (kind, judge(lv, want, also), judge(rv, want, also)),
              flush=True)
        for i, v in sorted(rv.items()):
            print("#   %s: %s" % (i, v["title"]), flush=True)
        print("#   means: " + ", ".join("%s=%.4g" % (k, v) for k, v in
                                       report.get("history_means", {}).items() if v is not None),
              flush=True)
    lines = ["| load | live /api/v1/diagnosis | | report --history | | summary (report) |",
             "|---|---|---|---|---|---|"] + rows
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(outdir, "diagnosis.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(outdir, "diagnosis.json"), "w") as f:
        json.dump(results, f, indent=1)
    print("result", "PASS" if all_ok else "CHECK")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--child")
    ap.add_argument("--seconds", type=float, default=12)
    ap.add_argument("--metrics", default="http://127.0.0.1:9400/metrics")
    ap.add_argument("--phase-s", type=float, default=12)
    ap.add_argument("--energy-s", type=float, default=60)
    ap.add_argument("--out", default=".")
    ap.add_argument("--diagnose", metavar="BIN", help="judge each load with BIN's diagnosis")
    ap.add_argument("--load-s", type=float, default=48)
    ap.add_argument("--loads", default=",".join(DIAGNOSES))
    a = ap.parse_args()
    if a.child:
        child(a.child, a.seconds)
        return 0
    if a.diagnose:
        os.makedirs(a.out, exist_ok=True)
        return diagnose(a.diagnose, a.load_s, a.out, a.loads.split(","))

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
