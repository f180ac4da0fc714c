#!/usr/bin/env bash
# bench/gpu_processes.sh [OUTDIR] - gpuscope's per-process view against nvidia-smi's, on GPU 0.
#
# Starts two PyTorch processes on GPU 0: a busy one (a bf16 matmul loop, ~6 GiB) and an idle
# one holding ~2 GiB, then a gpuscope agent with a 1 s slow tier.  After WARM_S (15 s) it
# reads, back to back, `nvidia-smi --query-compute-apps=pid,used_memory`,
# `nvidia-smi pmon -c 1 -s um` and gpuscope's /api/v1/processes and /metrics, SAMPLES (5)
# times a second apart, and compares per pid:
#   - GPU memory: nvidia-smi's MiB against gpuscope_process_memory_used_bytes (must agree
#     to the MiB: the same NVML field);
#   - SM utilization: pmon's sm % against gpuscope_process_sm_utilization_ratio (both from
#     the driver's per-process samples, over different windows: within SM_TOL, 5 points,
#     the issue's bar);
#   - that both processes are listed, with process="python3" (or python), and the idle one
#     at 0-5 % SM.
# Needs a GPU, python3 with torch, nvidia-smi and a gpuscope build (BUILD=dir, default
# build/).  Writes OUTDIR/processes.md and the agent's log; exits 1 when a check fails.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
outdir=${1:-$root/bench/out/processes}
mkdir -p "$outdir"
build=${BUILD:-$root/build}
# shellcheck source=SCRIPTDIR/lib.sh
. "$root/bench/lib.sh"
busy_pid='' idle_pid=''
cleanup() {
	bench_agent_stop
	for p in $busy_pid $idle_pid; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT
for tool in python3 nvidia-smi curl; do
	command -v "$tool" >/dev/null || bench_die "$tool is not on PATH"
done
python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null ||
	bench_die "python3 cannot use the GPU through torch"

CUDA_VISIBLE_DEVICES=0 python3 - <<'PY' &
import torch, time
x = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
hold = torch.empty(5 << 30, dtype=torch.uint8, device="cuda")  # ~5 GiB more
while True:
    for _ in range(20):
        y = x @ x
    torch.cuda.synchronize()
PY
busy_pid=$!
CUDA_VISIBLE_DEVICES=0 python3 - <<'PY' &
import torch, time
hold = torch.empty(2 << 30, dtype=torch.uint8, device="cuda")
torch.cuda.synchronize()
time.sleep(3600)
PY
idle_pid=$!
bench_agent_start "$outdir/agent.log" "$build/gpuscope" serve --listen 127.0.0.1:0 \
	--slow-interval 1s --no-history
echo "== gpuscope on port $bench_agent_port; busy pid $busy_pid, idle pid $idle_pid on GPU 0"
sleep "${WARM_S:-15}"

BUSY=$busy_pid IDLE=$idle_pid PORT=$bench_agent_port SAMPLES=${SAMPLES:-5} \
	SM_TOL=${SM_TOL:-5} OUT="$outdir/processes.md" python3 - <<'PY'
import json, os, re, subprocess, sys, time, urllib.request

busy, idle, port = int(os.environ["BUSY"]), int(os.environ["IDLE"]), int(os.environ["PORT"])
tol = float(os.environ["SM_TOL"])


def smi_memory():
    out = subprocess.run(["nvidia-smi", "-i", "0", "--query-compute-apps=pid,used_memory",
                          "--format=csv,noheader,nounits"], capture_output=True, text=True).stdout
    return {int(p): float(m) for p, m in (l.split(",") for l in out.strip().splitlines() if l)}


def smi_pmon():
    out = subprocess.run(["nvidia-smi", "pmon", "-i", "0", "-c", "1", "-s", "um"],
                         capture_output=True, text=True).stdout
    rows, cols = {}, None
    for line in out.splitlines():
        if line.startswith("# gpu"):
            cols = line[1:].split()
        elif not line.startswith("#") and cols:
            v = dict(zip(cols, line.split()))
            if v.get("pid", "-").isdigit():
                rows[int(v["pid"])] = v
    return rows


def gpuscope():
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r'(gpuscope_process_\w+)\{([^}]*)\} (\S+)', line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        if labels.get("gpu") == "0" and labels.get("pid", "").isdigit():
            out.setdefault(int(labels["pid"]), {"process": labels.get("process")})[m.group(1)] = float(m.group(3))
    with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/processes" % port, timeout=5) as r:
        doc = json.load(r)
    return out, doc


lines, failed = ["| sample | pid | smi MiB | gpuscope MiB | pmon sm % | gpuscope sm % | process |",
                 "|---|---|---|---|---|---|---|"], []
for k in range(int(os.environ["SAMPLES"])):
    mem, pmon, (gs, doc) = smi_memory(), smi_pmon(), gpuscope()
    for pid in (busy, idle):
        g = gs.get(pid)
        if g is None or pid not in mem:
            failed.append("sample %d: pid %d missing (smi %s, gpuscope %s)" % (k, pid, pid in mem, g is not None))
            continue
        gmib = g.get("gpuscope_process_memory_used_bytes", -1) / 1048576
        gsm = g.get("gpuscope_process_sm_utilization_ratio", float("nan")) * 100
        psm = pmon.get(pid, {}).get("sm", "-")
        lines.append("| %d | %d | %.0f | %.0f | %s | %.0f | %s |" % (k, pid, mem[pid], gmib, psm, gsm, g["process"]))
        if abs(gmib - mem[pid]) > 1:
            failed.append("sample %d pid %d: memory %.0f MiB vs nvidia-smi %.0f" % (k, pid, gmib, mem[pid]))
        if psm not in ("-", "") and abs(gsm - float(psm)) > tol:
            failed.append("sample %d pid %d: SM %.0f %% vs pmon %s %%" % (k, pid, gsm, psm))
        if not g["process"].startswith("python"):
            failed.append("pid %d: process label %r" % (pid, g["process"]))
        if pid == idle and gsm > 5:
            failed.append("sample %d: the idle process reads %.0f %% SM" % (k, gsm))
    time.sleep(1)
report = "\n".join(lines + ["", "failed:" if failed else "all checks passed"] + failed) + "\n"
open(os.environ["OUT"], "w").write(report)
print(report)
sys.exit(1 if failed else 0)
PY
