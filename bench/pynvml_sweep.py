#!/usr/bin/env python3
"""pynvml_sweep.py - gpuscope's fast-tier NVML calls made through pynvml.

The Python baseline for bench/gpu.sh: the same eleven calls per GPU per sweep
as bench/nvml_floor.c (and sample/sources.c), through nvidia-ml-py, so the
cost of the usual Python exporter loop can be set beside the C floor and the
agent.  As in the agent, a call that answers "unsupported" in the first
(probe) sweep is not made again.  Read-only.

Prints "key value" lines like nvml_floor; '#' lines are for people.
"""
import argparse
import statistics
import sys
import time

try:
    import pynvml as N
except ImportError:
    sys.exit("pynvml_sweep: pynvml is not installed (pip package nvidia-ml-py)")

# Return codes that mean "this GPU or driver cannot do that" (nvml_loader.c).
UNSUPPORTED = {2, 3, 4, 13, 25, 26}


def memory_v2(h):
    try:
        return N.nvmlDeviceGetMemoryInfo(h, version=N.nvmlMemory_v2)
    except (TypeError, AttributeError):  # an older pynvml without version=
        return N.nvmlDeviceGetMemoryInfo(h)


def field_82(h):
    v = N.nvmlDeviceGetFieldValues(h, [82])[0]
    if v.nvmlReturn != 0:
        raise N.NVMLError(v.nvmlReturn)
    return v


EVENT_REASONS = getattr(N, "nvmlDeviceGetCurrentClocksEventReasons", None) or getattr(
    N, "nvmlDeviceGetCurrentClocksThrottleReasons")

CALLS = [
    ("nvmlDeviceGetUtilizationRates", N.nvmlDeviceGetUtilizationRates),
    ("nvmlDeviceGetMemoryInfo_v2", memory_v2),
    ("nvmlDeviceGetTemperature", lambda h: N.nvmlDeviceGetTemperature(h, N.NVML_TEMPERATURE_GPU)),
    ("nvmlDeviceGetFieldValues(82)", field_82),
    ("nvmlDeviceGetPowerUsage", N.nvmlDeviceGetPowerUsage),
    ("nvmlDeviceGetClockInfo(SM)", lambda h: N.nvmlDeviceGetClockInfo(h, N.NVML_CLOCK_SM)),
    ("nvmlDeviceGetClockInfo(MEM)", lambda h: N.nvmlDeviceGetClockInfo(h, N.NVML_CLOCK_MEM)),
    ("nvmlDeviceGetCurrentClocksEventReasons", EVENT_REASONS),
    ("nvmlDeviceGetPerformanceState", N.nvmlDeviceGetPerformanceState),
    ("nvmlDeviceGetEncoderUtilization", N.nvmlDeviceGetEncoderUtilization),
    ("nvmlDeviceGetDecoderUtilization", N.nvmlDeviceGetDecoderUtilization),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweeps", type=int, default=500)
    args = ap.parse_args()

    t0 = time.perf_counter()
    N.nvmlInit()
    init_ms = (time.perf_counter() - t0) * 1e3
    try:
        handles = [N.nvmlDeviceGetHandleByIndex(i) for i in range(N.nvmlDeviceGetCount())]
        # Probe sweep: keep the (handle, fn) pairs that are supported.
        plan, unsupported = [], []
        for i, h in enumerate(handles):
            for name, fn in CALLS:
                try:
                    fn(h)
                    plan.append((h, fn))
                except N.NVMLError as e:
                    if e.value in UNSUPPORTED:
                        unsupported.append(f"{name}@{i}")
                    else:
                        plan.append((h, fn))  # transient: keep calling, as the agent does
        failed = 0
        per_sweep = []
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(args.sweeps):
            s0 = time.perf_counter()
            for h, fn in plan:
                try:
                    fn(h)
                except N.NVMLError:
                    failed += 1
            per_sweep.append(time.perf_counter() - s0)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    finally:
        N.nvmlShutdown()

    try:
        from importlib.metadata import version
        pyver = version("nvidia-ml-py")
    except Exception:  # not installed as a distribution, or Python < 3.8
        pyver = "?"
    n = len(handles)
    gpu_sweeps = args.sweeps * n
    print(f"# pynvml {pyver}, {n} GPUs, {args.sweeps} sweeps, "
          f"{len(plan)} calls per sweep (all GPUs)")
    if unsupported:
        print("# unsupported: " + " ".join(unsupported[:24]))
    print(f"gpus {n}")
    print(f"sweeps {args.sweeps}")
    print(f"init_ms {init_ms:.3f}")
    print(f"failed_calls {failed}")
    print(f"cpu_us_per_gpu_sweep {cpu / gpu_sweeps * 1e6:.3f}")
    print(f"wall_us_per_gpu_sweep {wall / gpu_sweeps * 1e6:.3f}")
    print(f"wall_us_per_call {wall / (args.sweeps * max(len(plan), 1)) * 1e6:.3f}")
    print(f"wall_us_per_sweep_p50 {statistics.median(per_sweep) * 1e6:.3f}")


if __name__ == "__main__":
    main()
