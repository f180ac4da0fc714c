"""inference_check.py - gpuscope run on a real GPU against what the program itself knows.

Runs bench/inference_loads.py under `gpuscope run --range infer` and compares, inference by
inference: copy bytes and kernel counts exactly, latency within 5% of the program's CUDA
events, peak device memory within the allocator's granularity (2 MiB); then checks each
load's verdicts (known: none expected beyond what it is; launch: launch-bound; pcie:
PCIe-bound; matmul: none), and measures the overhead on a transformer loop by interleaving
runs with and without the injection library.

  python3 bench/inference_check.py GPUSCOPE_BIN OUTDIR [--pairs 12] [--seconds 4]
(the overhead check passes only when the 90% interval of the median paired overhead is
under 2%, bench/overhead_pairs.py; fewer than 5 pairs give no interval)
Prints one block per check and a last line "ALL CHECKS PASSED" or the failures.
"""
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import overhead_pairs  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
LOADS = os.path.join(HERE, "inference_loads.py")
MiB = 1 << 20
failures = []


def check(ok, what):
    print(("  ok    " if ok else "  FAIL  ") + what)
    if not ok:
        failures.append(what)


def run_load(gpuscope, out, load, env=None, extra=(), tag=None, load_args=()):
    tag = tag or load
    jsonl = os.path.join(out, tag + ".jsonl")
    report = os.path.join(out, tag + ".report.json")
    e = dict(os.environ, **(env or {}))
    cmd = [gpuscope, "run", "--range", "infer", "--output", jsonl, *extra, "--",
           sys.executable, LOADS, load, "--report", report, *load_args]
    p = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=240)
    with open(os.path.join(out, tag + ".stderr.txt"), "w") as f:
        f.write(p.stderr)
    print("== %s (exit %d)" % (tag, p.returncode))
    print(p.stderr[-6000:])
    lines = []
    if os.path.exists(jsonl):
        with open(jsonl) as f:
            lines = [json.loads(x) for x in f]
    doc = json.load(open(report)) if os.path.exists(report) else {}
    return lines, doc, p.stderr


def compare(lines, doc, exact_alloc=False, cached=False):
    ours = [x for x in lines if x["range"] == "infer"]
    theirs = doc.get("inferences", [])
    check(len(ours) == len(theirs) and ours,
          "%d inferences seen, program ran %d" % (len(ours), len(theirs)))
    worst_lat, worst_mem = 0.0, 0
    for o, t in zip(ours, theirs):
        rel = abs(o["latency_s"] - t["event_s"]) / t["event_s"]
        worst_lat = max(worst_lat, rel)
        if exact_alloc:
            # Every allocation is a cudaMalloc: nothing is held between inferences, so the
            # peak is exactly what the inference allocated.
            if o["mem_alloc_bytes"] != doc["alloc_bytes"]:
                check(False, "seq %d allocated %d == %d" % (
                    o["seq"], o["mem_alloc_bytes"], doc["alloc_bytes"]))
            worst_mem = max(worst_mem, abs(o["mem_peak_bytes"] - doc["alloc_bytes"]))
        if cached:
            # The pool: cudaMalloc'd segments are PyTorch's reserved memory; tensors inside
            # them (max_memory_allocated) differ by the allocator's rounding only.
            worst_mem = max(worst_mem, abs(o["mem_peak_bytes"] - t["torch_reserved_bytes"]),
                            abs(o["mem_peak_bytes"] - t["torch_peak_bytes"]))
    for key in ("kernels", "h2d_bytes", "d2h_bytes"):
        if key in doc and ours:
            check(all(o[key] == doc[key] for o in ours),
                  "%s exactly %d in every inference (seen %s)" % (
                      key, doc[key], sorted({o[key] for o in ours})))
    if ours:
        lat = statistics.median(o["latency_s"] for o in ours)
        ev = statistics.median(t["event_s"] for t in theirs)
        check(worst_lat <= 0.05, "latency within 5%% of CUDA events: worst %.2f%% "
              "(median ours %.3f ms, events %.3f ms)" % (worst_lat * 100, lat * 1e3, ev * 1e3))
    if (exact_alloc or cached) and ours:
        check(worst_mem <= 2 * MiB, "peak memory within 2 MiB of %s: worst %d bytes" % (
            "the allocation" if exact_alloc else "torch max_memory_reserved/allocated",
            worst_mem))


def agent_check(gpuscope, out):
    import re
    import time
    import urllib.request
    sock = os.path.join(out, "inference.sock")
    log = open(os.path.join(out, "agent.stderr.txt"), "w+")
    agent = subprocess.Popen([gpuscope, "serve", "--listen", "127.0.0.1:0", "--no-history",
                              "--inference-socket", sock], stdout=subprocess.DEVNULL,
                             stderr=log)
    try:
        port = None
        for _ in range(200):
            log.seek(0)
            m = re.search(r"on port (\d+)", log.read())
            if m:
                port = int(m.group(1))
                break
            time.sleep(0.05)
        check(port is not None, "agent started on the real GPU")
        if port is None:
            return
        lines, doc, err = run_load(gpuscope, out, "launch", tag="launch-agent",
                                   extra=("--agent-socket", sock))
        check("agent: 20 inferences sent, 0 dropped" in err, "20 datagrams sent to the agent")
        time.sleep(0.5)
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port).read().decode()
        with open(os.path.join(out, "agent.metrics.txt"), "w") as f:
            f.write(text)
        def val(name):
            m = re.search(r'^%s\{process="python3",workload="[^"]*",range="infer"\} (\S+)$'
                          % name, text, re.M)
            return float(m.group(1)) if m else None
        check(val("gpuscope_inference_latency_seconds_count") == 20,
              "agent: latency histogram counts 20 inferences")
        check(val("gpuscope_inference_kernels_sum") == 20 * 200,
              "agent: kernels histogram sums 4000 kernels")
    finally:
        agent.terminate()
        agent.wait(10)


def verdicts(stderr):
    return {v for v in ("LAUNCH-BOUND", "PCIE-BOUND", "HOST-BOUND", "MEMORY GROWING")
            if v in stderr}


def main():
    gpuscope, out = sys.argv[1], sys.argv[2]
    pairs = int(sys.argv[sys.argv.index("--pairs") + 1]) if "--pairs" in sys.argv else 4
    secs = sys.argv[sys.argv.index("--seconds") + 1] if "--seconds" in sys.argv else "4"
    os.makedirs(out, exist_ok=True)

    lines, doc, err = run_load(gpuscope, out, "known", tag="known-nocache",
                               env={"PYTORCH_NO_CUDA_MEMORY_CACHING": "1"})
    compare(lines, doc, exact_alloc=True)
    check("measured with" in err, "CUPTI found and measuring")
    lines, doc, err = run_load(gpuscope, out, "known")
    compare(lines, doc, cached=True)
    check(not verdicts(err), "known load: no verdict (%s)" % sorted(verdicts(err)))
    for load, want in (("launch", {"LAUNCH-BOUND"}), ("pcie", {"PCIE-BOUND"}),
                       ("matmul", set())):
        # 60 matmul inferences (~1 s) so the energy counter moves enough to compare.
        lines, doc, err = run_load(gpuscope, out, load,
                                   load_args=("--n", "60") if load == "matmul" else ())
        compare(lines, doc)
        got = verdicts(err)
        check(got == want, "%s verdicts %s, expected %s" % (load, sorted(got), sorted(want)))
    # Energy: back-to-back matmul inferences cover most of the counter's span, so their
    # summed energy is that share of what the GPU's counter moved.
    ours = [x for x in lines if x["range"] == "infer"]
    if ours and "counter_joules" in doc and all("energy_j" in x for x in ours):
        share = sum(x["latency_s"] for x in ours) / doc["counter_span_s"]
        want = doc["counter_joules"] * share
        got = sum(x["energy_j"] for x in ours)
        print("   energy: ours %.1f J over %d inferences (%s), counter %.1f J x %.3f of "
              "its span = %.1f J; mean power %.0f W" % (
                  got, len(ours), sorted({x["energy_method"] for x in ours}),
                  doc["counter_joules"], share, want, got / sum(x["latency_s"] for x in ours)))
        check(abs(got - want) / want < 0.10, "matmul energy within 10%% of the counter's "
              "share (%.1f vs %.1f J)" % (got, want))
    else:
        check(False, "matmul inferences carry energy_j")

    # The agent: the same inferences arrive as histograms on /metrics.
    agent_check(gpuscope, out)

    # Overhead: interleaved pairs without and with the library, same program, same GPU;
    # the paired ratios and the interval of their median (bench/overhead_pairs.py).
    print("== overhead (interleaved pairs)")
    prog = [sys.executable, LOADS, "model", "--seconds", secs]
    wrapped = [gpuscope, "run", "--quiet", "--range", "infer", "--output",
               os.path.join(out, "model.jsonl"), "--"] + prog
    results = overhead_pairs.interleave(pairs, prog, wrapped)
    base, inj = [b for b, _ in results], [w for _, w in results]
    med, ci, verdict = overhead_pairs.summarize(results)
    check(ci is not None and ci[1] < 0.02, "throughput overhead under 2%%: median %+.2f%%, "
          "%s" % (med * 100, verdict))
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump({"base": base, "inj": inj, "failures": failures}, f)
    print("ALL CHECKS PASSED" if not failures else "FAILURES:\n" + "\n".join(failures))


if __name__ == "__main__":
    main()
