"""inference_loads.py - PyTorch loads with known per-inference work, for `gpuscope run`.

Each inference is wrapped in torch.cuda.nvtx.range("infer") and timed with the program's own
CUDA events; what the program knows (bytes copied, kernels launched, memory allocated, its
own latency) is written to --report as JSON, so bench/inference_check.py can hold gpuscope's
figures against it.

  known    per inference: allocate N + A bytes, copy N bytes host->device (pinned), 50
           in-place adds (50 kernels), copy M bytes device->host (pinned), free both.  Run
           with PYTORCH_NO_CUDA_MEMORY_CACHING=1 each allocation is a cudaMalloc; with the
           caching allocator the pool is allocated once and reused.
  launch   200 tiny in-place adds on 1024 floats: launch-bound.
  pcie     256 MiB pageable host->device copy, one small kernel: PCIe-bound.
  matmul   ten 8192^3 bf16 matrix products on resident tensors: compute-bound.
  model    a 6-layer transformer encoder (d=512, batch 8, seq 128) under no_grad, for the
           overhead benchmark: prints inferences per second over --seconds.
"""
import argparse
import json
import time

import torch

MiB = 1 << 20


def timed(n, warm, body, name="infer"):
    """Runs body n times inside NVTX ranges, CUDA-event timed; warm-ups in 'warmup'."""
    for _ in range(warm):
        torch.cuda.nvtx.range_push("warmup")
        body()
        torch.cuda.synchronize()
        torch.cuda.nvtx.range_pop()
    out = []
    for _ in range(n):
        torch.cuda.reset_peak_memory_stats()
        t0 = torch.cuda.Event(enable_timing=True)
        t1 = torch.cuda.Event(enable_timing=True)
        torch.cuda.nvtx.range_push(name)
        t0.record()
        body()
        t1.record()
        torch.cuda.synchronize()
        torch.cuda.nvtx.range_pop()
        # Without the caching allocator (PYTORCH_NO_CUDA_MEMORY_CACHING=1) PyTorch keeps
        # no memory statistics: these read 0 and the check uses the known allocation.
        out.append({"event_s": t0.elapsed_time(t1) / 1e3,
                    "torch_peak_bytes": torch.cuda.max_memory_allocated(),
                    "torch_reserved_bytes": torch.cuda.max_memory_reserved()})
    torch.cuda.synchronize()
    return out


def known(args):
    n_bytes, a_bytes, m_bytes, kernels = 64 * MiB, 32 * MiB, 16 * MiB, 50
    host = torch.empty(n_bytes // 4, dtype=torch.float32).pin_memory()
    host_out = torch.empty(m_bytes // 4, dtype=torch.float32).pin_memory()

    def body():
        x = torch.empty(n_bytes // 4, dtype=torch.float32, device="cuda")
        x.copy_(host, non_blocking=True)
        for _ in range(kernels):
            x.add_(1.0)
        scratch = torch.empty(a_bytes, dtype=torch.uint8, device="cuda")
        host_out.copy_(x[: m_bytes // 4], non_blocking=True)
        del x, scratch

    rows = timed(args.n, 3, body)
    return {"load": "known", "h2d_bytes": n_bytes, "d2h_bytes": m_bytes, "kernels": kernels,
            "alloc_bytes": n_bytes + a_bytes, "inferences": rows}


def launch(args):
    x = torch.zeros(1024, device="cuda")

    def body():
        for _ in range(200):
            x.add_(1.0)

    return {"load": "launch", "kernels": 200, "inferences": timed(args.n, 3, body)}


def pcie(args):
    host = torch.ones(256 * MiB // 4)  # pageable
    dev = torch.empty_like(host, device="cuda")

    def body():
        dev.copy_(host)
        dev[:1024].mul_(2.0)

    return {"load": "pcie", "h2d_bytes": 256 * MiB, "kernels": 1,
            "inferences": timed(args.n, 2, body)}


def matmul(args):
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    c = torch.empty_like(a)

    def body():
        for _ in range(10):
            torch.matmul(a, b, out=c)

    # The GPU's own energy counter around the timed inferences, for the energy check.
    import pynvml
    pynvml.nvmlInit()
    h = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
    e0, t0 = pynvml.nvmlDeviceGetTotalEnergyConsumption(h), time.time()
    rows = timed(args.n, 3, body)
    e1, t1 = pynvml.nvmlDeviceGetTotalEnergyConsumption(h), time.time()
    return {"load": "matmul", "kernels": 10, "inferences": rows,
            "counter_joules": (e1 - e0) / 1e3, "counter_span_s": t1 - t0}


def model(args):
    layer = torch.nn.TransformerEncoderLayer(512, 8, 2048, batch_first=True)
    net = torch.nn.TransformerEncoder(layer, 6).cuda().eval()
    x = torch.randn(8, 128, 512, device="cuda")
    with torch.no_grad():
        for _ in range(20):
            net(x)
        torch.cuda.synchronize()
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < args.seconds:
            torch.cuda.nvtx.range_push("infer")
            net(x)
            torch.cuda.synchronize()
            torch.cuda.nvtx.range_pop()
            n += 1
        dt = time.perf_counter() - t0
    return {"load": "model", "inferences_per_s": n / dt, "n": n}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("load", choices=["known", "launch", "pcie", "matmul", "model"])
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--report")
    args = p.parse_args()
    doc = globals()[args.load](args)
    if args.report:
        with open(args.report, "w") as f:
            json.dump(doc, f)
    print(json.dumps({k: v for k, v in doc.items() if k != "inferences"}))


if __name__ == "__main__":
    main()
