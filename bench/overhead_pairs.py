"""overhead_pairs.py - what `gpuscope run` costs a program's throughput, from interleaved pairs.

Runs the same program alternately without and with `gpuscope run` (ABBA order, so drift in
the machine's load falls on both sides), reads each run's own throughput (the last stdout
line's JSON "inferences_per_s"), and prints for every pair the ratio with/without, then the
median paired overhead with a distribution-free confidence interval of the median (order
statistics of the pairs, at least 90% coverage).  The 2% target is "proven" only when the
interval's upper end is under 2%; a median under 2% with a wide interval is "not resolved",
never a pass.

  CPU side (no GPU: the real injection library, a fake libcupti and a program of a fixed
  amount of work per inference; throughput per second of the program's own CPU, every
  thread, which a shared machine's load does not move as it moves wall time; the
  library's record processing runs on the program's thread here, so this bounds from above
  what CUPTI's separate thread costs a real program):
    python3 bench/overhead_pairs.py --cpu BUILD [--pairs 10] [--inferences 1000]
        [--work 1000] [--kernels 20] [--sim]  (--work: thousand arithmetic steps an
                                               inference, about 1.3 ms; --sim: run reads the
                                               simulator's power at 20 ms as a GPU's)
  GPU side (an H200 with PyTorch; bench/inference_loads.py's transformer loop):
    python3 bench/overhead_pairs.py --gpu BIN [--pairs 10] [--seconds 4]
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def rate_of(cmd, env=None, timeout=300, key="inferences_per_s"):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, **(env or {})))
    lines = [x for x in p.stdout.strip().splitlines() if x.startswith("{")]
    if p.returncode != 0 or not lines:
        raise RuntimeError("%s: exit %d\n%s" % (" ".join(cmd), p.returncode, p.stderr[-2000:]))
    return json.loads(lines[-1])[key]


def median_interval(xs, coverage=0.90):
    """(lo, hi) of the order statistics that cover the median with >= coverage; None when
    there are too few values for that coverage."""
    n = len(xs)
    s = sorted(xs)
    best = None
    for k in range(0, n // 2):  # the interval s[k] .. s[n-1-k]
        p = sum(math.comb(n, i) for i in range(k + 1, n - k)) / 2 ** n
        if p >= coverage:
            best = (s[k], s[n - 1 - k], p)
    return best


def interleave(pairs, bare, wrapped, env=None, key="inferences_per_s"):
    """Runs bare and wrapped (argv lists) in ABBA order; returns [(without, with), ...]."""
    out = []
    for i in range(pairs):
        r = {}
        for with_lib in ((False, True) if i % 2 == 0 else (True, False)):
            r[with_lib] = rate_of(wrapped if with_lib else bare, env, key=key)
        out.append((r[False], r[True]))
        print("  pair %2d: without %9.1f  with %9.1f  ratio %.4f" % (
            i + 1, r[False], r[True], r[True] / r[False]), flush=True)
    return out


def summarize(results, target=0.02):
    """Prints the paired overhead and its verdict; returns (median, interval, verdict)."""
    over = [1 - w / b for b, w in results]
    med = statistics.median(over)
    ci = median_interval(over)
    print("overhead per pair: %s" % ", ".join("%+.2f%%" % (x * 100) for x in over))
    print("median paired overhead %+.2f%% (ratio with/without %.4f); pooled medians %.1f vs "
          "%.1f/s" % (med * 100, 1 - med, statistics.median(b for b, _ in results),
                      statistics.median(w for _, w in results)))
    if ci is None:
        verdict = "not resolved: too few pairs for a %d%% interval" % 90
    else:
        lo, hi, p = ci
        print("%.0f%% interval of the median: %+.2f%% .. %+.2f%%" % (p * 100, lo * 100,
                                                                    hi * 100))
        verdict = ("proven under %g%%" % (target * 100) if hi < target else
                   "over %g%%" % (target * 100) if lo > target else
                   "not resolved at %g%%: the interval straddles it (more pairs, a quieter "
                   "host)" % (target * 100))
    print("verdict: " + verdict)
    return med, ci, verdict


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--cpu", metavar="BUILD", help="build directory (CPU side)")
    mode.add_argument("--gpu", metavar="BIN", help="gpuscope binary (GPU side)")
    ap.add_argument("--pairs", type=int, default=10)
    ap.add_argument("--inferences", type=int, default=1000)
    ap.add_argument("--work", type=int, default=1000)
    ap.add_argument("--kernels", type=int, default=20)
    ap.add_argument("--seconds", default="4")
    ap.add_argument("--sim", action="store_true")
    ap.add_argument("--json", help="write the pairs and the verdict here")
    a = ap.parse_args()
    if a.cpu:
        b = os.path.abspath(a.cpu)
        cupti = os.path.join(b, "tests", "fake_cupti", "libcupti.so")
        prog = [os.path.join(b, "tests", "fake_cuda_prog"), "loop", str(a.inferences),
                str(a.work), str(a.kernels)]
        run = [os.path.join(b, "gpuscope"), "run", "--quiet", "--cupti", cupti,
               "--agent-socket", "none"]
        sim = os.path.join(b, "sim", "libgpuscope-nvml-sim.so")
        run += ["--nvml-lib", sim] if a.sim else ["--no-energy"]
        env = {"FAKE_CUPTI_LIB": cupti}
        print("CPU side: %d inferences of %dk steps and %d kernel records each, %d pairs%s; "
              "inferences per CPU second" % (a.inferences, a.work, a.kernels, a.pairs,
                                              ", run reading the simulator's power" if a.sim
                                              else ""))
        results = interleave(a.pairs, prog, run + ["--"] + prog, env, "inferences_per_cpu_s")
    else:
        prog = [sys.executable, os.path.join(HERE, "inference_loads.py"), "model", "--seconds",
                a.seconds]
        run = [a.gpu, "run", "--quiet", "--range", "infer", "--output", os.devnull, "--"]
        print("GPU side: the transformer loop, %s s a run, %d pairs; inferences per second" % (
            a.seconds, a.pairs))
        results = interleave(a.pairs, prog, run + prog)
    med, ci, verdict = summarize(results)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"pairs": results, "median_overhead": med,
                       "interval": ci and ci[:2], "verdict": verdict}, f)


if __name__ == "__main__":
    main()
