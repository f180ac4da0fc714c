#!/usr/bin/env bash
# bench/gpu_loads.sh [OUTDIR] - three real loads on GPU 0, judged from gpuscope's
# own /metrics (bench/gpu_loads.py): a bf16 matmul loop (tensor-bound), an
# elementwise loop over 1 GiB (DRAM-bound), 100 ms bursts every second (the
# window max against nvidia-smi polled once a second), then a minute of steady
# matmul comparing the energy counter with the integrated 20 ms power samples.
#
# Needs a GPU, python3 with torch, nvidia-smi, and a gpuscope build (BUILD=dir,
# default build/; set LD_LIBRARY_PATH if its libraries were carried along).
# Knobs: PHASE_S (12), ENERGY_S (60), COSTLY_INTERVAL (2s).  It only reads the GPU; the loads are
# ordinary CUDA work.  Writes OUTDIR/loads.md, loads.json and the agent's log.
#
# DIAGNOSE=1 runs the diagnosis pass instead (issue 16): seven loads (matmul,
# bandwidth, launch, cpu, bursts, growth, pcie), each under a fresh agent and
# history for LOAD_S (48) seconds, judged live (/api/v1/diagnosis) and by
# `gpuscope report --history`; LOADS=a,b picks some.  Writes OUTDIR/diagnosis.md.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
outdir=${1:-$root/bench/out/loads}
mkdir -p "$outdir"
build=${BUILD:-$root/build}
# shellcheck source=SCRIPTDIR/lib.sh
. "$root/bench/lib.sh"
trap 'bench_agent_stop' EXIT
for tool in python3 nvidia-smi; do
	command -v "$tool" >/dev/null || bench_die "$tool is not on PATH"
done
python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null ||
	bench_die "python3 cannot use the GPU through torch"
if [ "${DIAGNOSE:-0}" = 1 ]; then
	exec python3 "$root/bench/gpu_loads.py" --diagnose "$build/gpuscope" --load-s "${LOAD_S:-48}" \
		${LOADS:+--loads "$LOADS"} --out "$outdir"
fi
# The energy counter is read every --costly-interval; 2 s gives the minute of
# steady load enough counter readings to compare rates with.
bench_agent_start "$outdir/agent.log" "$build/gpuscope" serve --listen 127.0.0.1:0 \
	--costly-interval "${COSTLY_INTERVAL:-2s}"
echo "== gpuscope serving $bench_agent_gpus GPU(s) on port $bench_agent_port; loads on GPU 0"
python3 "$root/bench/gpu_loads.py" --metrics "http://127.0.0.1:$bench_agent_port/metrics" \
	--phase-s "${PHASE_S:-12}" --energy-s "${ENERGY_S:-60}" --out "$outdir"
