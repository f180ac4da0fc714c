#!/usr/bin/env python3
"""nccl_check.py - does libgpuscope-nccl.so see what a tensor-parallel loop really spends in
AllReduce?  (issue 20's GPU check; needs torch with CUDA and 1 or 2+ GPUs.)

Each rank runs a tensor-parallel-shaped step: --matmuls square bf16 GEMMs of --n, then one
AllReduce of --ar-mib MiB, timing both with CUDA events on the current stream (the loop's own
truth).  The NCCL plugin, loaded through NCCL_PROFILER_PLUGIN, writes its final figures to
GPUSCOPE_INJECT_DIR/nccl-PID.jsonl when the process group is destroyed; the parent reads them
and compares, per rank:
  - AllReduce time: the plugin's GPU time (sum) against the CUDA events' (sum), within 10 %;
  - the communication share: the plugin's busy_s / wall_s against the loop's AllReduce time
    over its wall time from the first collective to the end;
  - communication_bound: the plugin's share over 0.3 (the default threshold) or not.
--sweep runs one child per AllReduce size, so the share moves with the ratio.

  # two GPUs, the ratio sweep (figures for bench/README.md):
  python3 bench/nccl_check.py --plugin build/libgpuscope-nccl.so --ranks 2 \\
      --sweep 1,8,32,128,512
  # one GPU (PyTorch's bundled NCCL, a one-rank communicator):
  python3 bench/nccl_check.py --plugin build/libgpuscope-nccl.so --ranks 1 --ar-mib 64
  # the plugin's cost: step time without and with it (3 rounds each, the best of each)
  python3 bench/nccl_check.py --plugin build/libgpuscope-nccl.so --ranks 2 --overhead
  # the verdict as gpuscope prints it (the plugin is set by run):
  build/gpuscope run --no-energy -- python3 bench/nccl_check.py --ranks 2 --ar-mib 512
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time


def worker(rank, args):
    import torch
    import torch.distributed as dist

    torch.cuda.set_device(rank)
    dev = torch.device("cuda", rank)
    dist.init_process_group("nccl", rank=rank, world_size=args.ranks, device_id=dev)
    n = args.n
    a = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    x = torch.zeros(args.ar_mib * 1048576 // 2, device=dev, dtype=torch.bfloat16)
    ev = lambda: torch.cuda.Event(enable_timing=True)  # noqa: E731
    pairs = []  # (start, after matmuls, after allreduce) per step
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for step in range(args.warmup + args.steps):
        e0, e1, e2 = ev(), ev(), ev()
        e0.record()
        for _ in range(args.matmuls):
            c = a @ b
        e1.record()
        dist.all_reduce(x)
        e2.record()
        pairs.append((e0, e1, e2))
    del c
    torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    compute = sum(e0.elapsed_time(e1) for e0, e1, _ in pairs) / 1e3
    comm = sum(e1.elapsed_time(e2) for _, e1, e2 in pairs) / 1e3
    dist.destroy_process_group()  # NCCL finalizes the plugin: its final lines are written
    out = {"rank": rank, "pid": os.getpid(), "wall_s": wall, "compute_s": compute,
           "allreduce_s": comm, "allreduces": len(pairs), "ar_bytes": x.numel() * 2}
    with open(os.path.join(args.outdir, "loop-%d.json" % rank), "w") as f:
        json.dump(out, f)


def run_one(args):
    """Runs the ranks here (the plugin and GPUSCOPE_INJECT_DIR are in the environment)."""
    import torch.multiprocessing as mp

    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(29500 + os.getpid() % 1000))
    mp.spawn(worker, args=(args,), nprocs=args.ranks, join=True)


def compare(outdir, injdir, threshold):
    loops = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(outdir, "loop-*.json")))]
    lines = []
    for p in glob.glob(os.path.join(injdir, "nccl-*.jsonl")):
        with open(p) as f:
            lines += [json.loads(x) for x in f if x.strip()]
    rows = []
    for lp in loops:
        ar = [x for x in lines if x["type"] == "nccl" and x["pid"] == lp["pid"] and
              x["collective"] == "AllReduce"]
        pr = [x for x in lines if x["type"] == "nccl_process" and x["pid"] == lp["pid"]]
        if not ar or not pr:
            rows.append((lp, None, pr[-1] if pr else None))
            continue
        rows.append((lp, ar[-1], pr[-1]))
    ok = True
    print("%-4s %9s %9s %7s %9s %9s %7s %9s %9s %6s %s" % (
        "rank", "loop AR s", "plug AR s", "diff", "loop sh", "plug sh", "diff", "busbw GB/s",
        "calls", "timing", "verdict"))
    for lp, ar, pr in rows:
        if ar is None and pr is not None:
            # The plugin ran (its process line is there) but saw no AllReduce: NCCL runs a
            # one-rank communicator's collectives as local copies, without profiler events.
            print("%-4d the plugin ran (%d communicator(s)) but saw no AllReduce%s" % (
                lp["rank"], pr["communicators"],
                ": a one-rank communicator's collectives bypass NCCL's profiler"
                if len(rows) == 1 else ""))
            ok = False
            continue
        if ar is None:
            print("%-4d no plugin figures for pid %d (was NCCL_PROFILER_PLUGIN set? NCCL "
                  "2.23+?)" % (lp["rank"], lp["pid"]))
            ok = False
            continue
        loop_share = lp["allreduce_s"] / lp["wall_s"]
        plug_share = pr["busy_s"] / pr["wall_s"] if pr["wall_s"] else float("nan")
        d_time = (ar["time_s"] - lp["allreduce_s"]) / lp["allreduce_s"]
        d_share = (plug_share - loop_share) / loop_share if loop_share else float("nan")
        verdict = "communication_bound" if plug_share > threshold else "-"
        print("%-4d %9.4f %9.4f %+6.1f%% %9.3f %9.3f %+6.1f%% %9.1f %9d %6s %s" % (
            lp["rank"], lp["allreduce_s"], ar["time_s"], d_time * 100, loop_share, plug_share,
            d_share * 100, (ar["busbw_bytes_per_s"] or 0) / 1e9, ar["count"], ar["timing"],
            verdict))
        if ar["timing"] == "gpu" and abs(d_time) > 0.10:
            ok = False
        if ar["count"] != lp["allreduces"]:
            print("     calls: loop %d, plugin %d" % (lp["allreduces"], ar["count"]))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plugin", help="libgpuscope-nccl.so (default: NCCL_PROFILER_PLUGIN)")
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--n", type=int, default=4096, help="GEMM size (default 4096)")
    ap.add_argument("--matmuls", type=int, default=4, help="GEMMs per step (default 4)")
    ap.add_argument("--ar-mib", type=int, default=32, help="AllReduce MiB per step")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--threshold", type=float, default=0.3)
    ap.add_argument("--sweep", help="AllReduce sizes in MiB, one child each: 1,8,32,128")
    ap.add_argument("--overhead", action="store_true",
                    help="run the loop without and with the plugin; print the step time ratio")
    ap.add_argument("--no-plugin", action="store_true",
                    help="time the loop without the plugin and print its step time")
    ap.add_argument("--outdir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.no_plugin:  # one timed loop, no comparison; the plugin only under --overhead
        if not os.environ.get("GPUSCOPE_NCCL_KEEP"):
            os.environ.pop("NCCL_PROFILER_PLUGIN", None)
        args.outdir = tempfile.mkdtemp()
        run_one(args)
        loops = [json.load(open(p)) for p in glob.glob(os.path.join(args.outdir, "*.json"))]
        print("step_s %.9f" % max(lp["wall_s"] / lp["allreduces"] for lp in loops))
        return
    plugin = args.plugin or os.environ.get("NCCL_PROFILER_PLUGIN")
    if not plugin:
        sys.exit("nccl_check: give --plugin or set NCCL_PROFILER_PLUGIN")
    os.environ["NCCL_PROFILER_PLUGIN"] = os.path.abspath(plugin) if os.path.exists(plugin) \
        else plugin
    if args.overhead:
        base = [sys.executable, __file__, "--no-plugin", "--ranks", str(args.ranks), "--n",
                str(args.n), "--matmuls", str(args.matmuls), "--ar-mib", str(args.ar_mib),
                "--steps", str(args.steps), "--warmup", str(args.warmup)]
        env_off = dict(os.environ)
        env_off.pop("NCCL_PROFILER_PLUGIN", None)
        env_on = dict(env_off, NCCL_PROFILER_PLUGIN=os.environ["NCCL_PROFILER_PLUGIN"],
                      GPUSCOPE_NCCL_KEEP="1")
        times = {"without": [], "with": []}
        for _ in range(3):  # alternate, so drift hits both
            for name, env in (("without", env_off), ("with", env_on)):
                out = subprocess.run(base, env=env, capture_output=True, text=True).stdout
                times[name].append(float(out.split("step_s ")[1].split()[0]))
        off, on = min(times["without"]), min(times["with"])
        print("step time without the plugin %.1f us, with %.1f us: overhead %+.2f %%" % (
            off * 1e6, on * 1e6, (on - off) / off * 100))
        return
    if args.sweep:
        ok = True
        for mib in args.sweep.split(","):
            print("\n== AllReduce %s MiB per step after %d GEMMs of %d ==" % (
                mib, args.matmuls, args.n))
            cmd = [sys.executable, __file__, "--plugin", os.environ["NCCL_PROFILER_PLUGIN"],
                   "--ranks", str(args.ranks), "--n", str(args.n), "--matmuls",
                   str(args.matmuls), "--ar-mib", mib, "--steps", str(args.steps),
                   "--warmup", str(args.warmup), "--threshold", str(args.threshold)]
            ok = subprocess.run(cmd).returncode == 0 and ok
        sys.exit(0 if ok else 1)
    # Under `gpuscope run` the plugin's files go to run's directory; read them there.
    own = "GPUSCOPE_INJECT_DIR" not in os.environ
    injdir = tempfile.mkdtemp() if own else os.environ["GPUSCOPE_INJECT_DIR"]
    os.environ["GPUSCOPE_INJECT_DIR"] = injdir
    args.outdir = tempfile.mkdtemp()
    run_one(args)
    ok = compare(args.outdir, injdir, args.threshold)
    if own:
        for p in glob.glob(os.path.join(injdir, "*")):
            os.unlink(p)
        os.rmdir(injdir)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
