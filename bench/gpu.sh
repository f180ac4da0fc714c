#!/usr/bin/env bash
# bench/gpu.sh [OUTDIR] - gpuscope's benchmarks on a machine with real NVIDIA
# GPUs, as ratios against baselines measured in the same run.
#
#   a. floor      bench/nvml_floor.c: the agent's fast-tier calls in a tight
#                 loop on libnvidia-ml.so.1 (2000 sweeps) -> us per GPU-sweep;
#                 then paced, one sweep every 100 ms like the agent (10 s)
#   b. agent      gpuscope serve at 100 ms, 20 s: CPU per GPU-sweep from /proc,
#                 once as deployed (slow tier every 5 s) and once with the slow
#                 tier parked (--slow-interval 10m) so the fast tier stands
#                 alone; target: fast tier <= 1.5x the floor
#   c. pynvml     the same calls through pynvml (bench/pynvml_sweep.py)
#   d. nvidia-smi one --query-gpu invocation, timed, 10 runs
#   e. crosscheck /metrics against nvidia-smi taken at the same moment
#                 (bench/crosscheck.py), meant for an idle GPU
#   f. doctor     `gpuscope doctor`, saved
#
# It only READS the GPU: no clocks, power limits, persistence, compute mode,
# MIG or reset are ever set.  Needs cmake, cc, curl, python3 with pynvml
# (nvidia-ml-py) and nvidia-smi; no network.  Everything printed goes to
# stdout and OUTDIR/gpu.log; each step leaves its raw output in OUTDIR
# (default bench/out/gpu).  Builds into bench/out/build unless BUILD is given.
# Knobs: DURATION (20), WARMUP (5), FLOOR_SWEEPS (2000), PY_SWEEPS (500),
#        SMI_RUNS (10).  Exits non-zero only when a step failed to run.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
outdir=${1:-$root/bench/out/gpu}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
build=${BUILD:-$root/bench/out/build}
duration=${DURATION:-20}
warmup=${WARMUP:-5}
floor_sweeps=${FLOOR_SWEEPS:-2000}
py_sweeps=${PY_SWEEPS:-500}
smi_runs=${SMI_RUNS:-10}
fast_interval_s=0.1
started=$(date +%s)

# shellcheck source=SCRIPTDIR/lib.sh
. "$root/bench/lib.sh"
exec > >(tee "$outdir/gpu.log") 2>&1
trap 'bench_agent_stop' EXIT
trap 'exit 130' INT TERM
elapsed() { echo "$(($(date +%s) - started))s"; }

for tool in cc cmake curl python3 nvidia-smi awk; do
	command -v "$tool" >/dev/null || bench_die "$tool is not on PATH"
done
smi() { timeout 30 nvidia-smi "$@"; }

echo "== gpuscope bench/gpu.sh $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $(uname -sr)"
smi --query-gpu=index,name,driver_version,pci.bus_id,mig.mode.current,persistence_mode \
	--format=csv >"$outdir/gpus.csv" || bench_die "nvidia-smi --query-gpu failed"
cat "$outdir/gpus.csv"
gpus=$(($(wc -l <"$outdir/gpus.csv") - 1))
[ "$gpus" -ge 1 ] || bench_die "nvidia-smi lists no GPU"

# --- build -------------------------------------------------------------------
# Without gpuscope (no libmicrohttpd-dev / libjansson-dev here, say) the
# floor, pynvml and nvidia-smi steps still run; b, e and f are skipped and the
# script exits 1 at the end.  BUILD=dir uses a gpuscope built elsewhere (copy
# its runtime libraries along and point LD_LIBRARY_PATH at them).
have_agent=1
skipped="skipped: no gpuscope binary (see build.log)"
if [ -z "${BUILD:-}" ]; then
	echo "== building gpuscope into $build ($(elapsed))"
	if ! { timeout 120 cmake -S "$root" -B "$build" &&
		timeout 150 cmake --build "$build" -j"$(nproc)" --target gpuscope; } \
		>"$outdir/build.log" 2>&1; then
		grep -E 'Error|error:|not found' "$outdir/build.log" | head -n 8
		echo "   build FAILED: going on with the steps that need no gpuscope"
		have_agent=0
	fi
fi
agent_bin=$build/gpuscope
if [ "$have_agent" = 1 ] && ! "$agent_bin" version >/dev/null 2>&1; then
	echo "   $agent_bin does not run: going on with the steps that need no gpuscope"
	have_agent=0
fi
floor_bin=$outdir/nvml_floor
bench_build_floor "$root" "$floor_bin" || bench_die "compiling bench/nvml_floor.c"

# --- a. floor ----------------------------------------------------------------
echo "== a. nvml_floor, $floor_sweeps sweeps on libnvidia-ml.so.1 ($(elapsed))"
timeout 90 "$floor_bin" --nvml-lib libnvidia-ml.so.1 --sweeps "$floor_sweeps" \
	>"$outdir/floor.txt" 2>"$outdir/floor.err" || {
	cat "$outdir/floor.err"
	bench_die "nvml_floor failed"
}
cat "$outdir/floor.txt"
floor_cpu_us=$(bench_floor_key "$outdir/floor.txt" cpu_us_per_gpu_sweep)
floor_wall_us=$(bench_floor_key "$outdir/floor.txt" wall_us_per_gpu_sweep)
echo "== a. nvml_floor paced like the agent: 100 sweeps, one every 100 ms ($(elapsed))"
timeout 60 "$floor_bin" --nvml-lib libnvidia-ml.so.1 --sweeps 100 --pace-ms 100 \
	>"$outdir/floor-paced.txt" 2>"$outdir/floor-paced.err" || {
	cat "$outdir/floor-paced.err"
	bench_die "nvml_floor --pace-ms failed"
}
grep -E '^(cpu_us_per_gpu_sweep|sweep_wall_us_p50|sweep_wall_us_p99|maxrss_mib) ' "$outdir/floor-paced.txt"
paced_cpu_us=$(bench_floor_key "$outdir/floor-paced.txt" cpu_us_per_gpu_sweep)
paced_wall_us=$(bench_floor_key "$outdir/floor-paced.txt" sweep_wall_us_p50)
floor_rss=$(bench_floor_key "$outdir/floor-paced.txt" maxrss_mib)

# --- b. agent ----------------------------------------------------------------
# agent_run NAME SLOW_INTERVAL: sets run_* from a DURATION-long run.
agent_run() {
	local name=$1 slow=$2
	echo "== b. gpuscope serve, fast 100 ms, slow $slow, ${duration}s ($name, $(elapsed))"
	bench_agent_start "$outdir/agent-$name.log" "$agent_bin" serve --listen 127.0.0.1:0 \
		--fast-interval 100ms --slow-interval "$slow"
	[ "$bench_agent_gpus" = "$gpus" ] ||
		echo "   note: gpuscope serves $bench_agent_gpus GPUs, nvidia-smi lists $gpus"
	sleep "$warmup"
	bench_classify_threads "$bench_agent_pid" >"$outdir/threads-$name.txt"
	bench_measure_cpu "$bench_agent_pid" "$((duration - warmup))"
	run_cpu_us=$(bench_per_sweep_us "$bench_cpu_s" "$bench_win_s" "$bench_agent_gpus" "$fast_interval_s")
	run_core_pct=$(bench_core_pct "$bench_cpu_s" "$bench_win_s")
	run_sampler_us=$(bench_per_sweep_us "$bench_sampler_cpu_s" "$bench_win_s" "$bench_agent_gpus" \
		"$fast_interval_s")
	run_other_pct=$(bench_core_pct "$bench_other_cpu_s" "$bench_win_s")
	curl -fsS "http://127.0.0.1:$bench_agent_port/metrics" -o "$outdir/metrics-$name.txt" ||
		bench_die "GET /metrics"
	run_sweep_wall_us=$(bench_fast_sweep_wall_us "$outdir/metrics-$name.txt")
	run_rss_mib=$(awk -v k="$(bench_proc_status "$bench_agent_pid" VmRSS)" \
		'BEGIN { printf "%.1f", k / 1024 }')
	printf '   %-44s %10s\n' \
		"window (s)" "$bench_win_s" \
		"process CPU (s, /proc/PID/stat)" "$bench_cpu_s" \
		"process CPU, % of one core" "$run_core_pct" \
		"process CPU per GPU-sweep (us)" "$run_cpu_us" \
		"sampler threads ($bench_sampler_threads) CPU per GPU-sweep (us)" "$run_sampler_us" \
		"other threads, % of one core" "$run_other_pct" \
		"fast sweep wall, /metrics mean (us)" "$run_sweep_wall_us" \
		"VmRSS (MiB)" "$run_rss_mib"
}
fast_cpu_us=n/a fast_sampler_us=n/a fast_wall_us=n/a fast_ratio=n/a fast_proc_ratio=n/a
dep_cpu_us=n/a dep_ratio=n/a dep_core_pct=n/a dep_rss=n/a x_ok=0 x_diff=0 x_na=0
if [ "$have_agent" = 1 ]; then
	agent_run deployed 5s
	dep_cpu_us=$run_cpu_us dep_core_pct=$run_core_pct dep_rss=$run_rss_mib
	bench_agent_stop
	# Second run: the slow tier sweeps once at start (inside the warm-up) and not
	# again, so the sampler threads' CPU in the window is the fast tier's alone.
	agent_run fast-only 10m
	fast_cpu_us=$run_cpu_us fast_sampler_us=$run_sampler_us fast_wall_us=$run_sweep_wall_us
	fast_ratio=$(bench_ratio "$fast_sampler_us" "$floor_cpu_us")
	fast_proc_ratio=$(bench_ratio "$fast_cpu_us" "$floor_cpu_us")
	dep_ratio=$(bench_ratio "$dep_cpu_us" "$floor_cpu_us")

	# --- e. crosscheck (the fast-only agent is still running) --------------------
	echo "== e. crosscheck: /metrics vs nvidia-smi ($(elapsed))"
	q=uuid,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw,clocks.sm,clocks.mem
	smi --query-gpu=$q --format=csv,noheader,nounits >"$outdir/smi-before.csv" || bench_die "nvidia-smi"
	curl -fsS "http://127.0.0.1:$bench_agent_port/metrics" -o "$outdir/metrics-crosscheck.txt" ||
		bench_die "GET /metrics"
	smi --query-gpu=$q --format=csv,noheader,nounits >"$outdir/smi-after.csv" || bench_die "nvidia-smi"
	busy=$(awk -F', *' '$2 + 0 > 0 { n++ } END { print n + 0 }' "$outdir/smi-before.csv")
	apps=$(smi --query-compute-apps=pid --format=csv,noheader 2>/dev/null | grep -c . || true)
	[ "$busy" -eq 0 ] && [ "$apps" -eq 0 ] ||
		echo "   note: GPU not idle ($busy busy, $apps compute processes): values may move"
	set +e
	python3 "$root/bench/crosscheck.py" "$outdir/metrics-crosscheck.txt" "$outdir/smi-before.csv" \
		"$outdir/smi-after.csv" >"$outdir/crosscheck.txt" 2>&1
	xrc=$?
	set -e
	[ "$xrc" -le 1 ] || {
		cat "$outdir/crosscheck.txt"
		bench_die "crosscheck.py failed"
	}
	# One table row per GPU and metric: show the DIFFs and n/a, and the first GPU in full.
	awk 'NR == 1 || /DIFF| n\/a$/ || NR <= 8 || /^crosscheck_/' "$outdir/crosscheck.txt"
	x_ok=$(bench_floor_key "$outdir/crosscheck.txt" crosscheck_ok)
	x_diff=$(bench_floor_key "$outdir/crosscheck.txt" crosscheck_diff)
	x_na=$(bench_floor_key "$outdir/crosscheck.txt" crosscheck_na)
	bench_agent_stop
else
	echo "== b. gpuscope serve: $skipped"
	echo "== e. crosscheck: $skipped"
fi

# --- c. pynvml -----------------------------------------------------------------
echo "== c. pynvml, $py_sweeps sweeps ($(elapsed))"
py_cpu_us=n/a
if timeout 90 python3 "$root/bench/pynvml_sweep.py" --sweeps "$py_sweeps" >"$outdir/pynvml.txt" \
	2>"$outdir/pynvml.err"; then
	cat "$outdir/pynvml.txt"
	py_cpu_us=$(bench_floor_key "$outdir/pynvml.txt" cpu_us_per_gpu_sweep)
else
	cat "$outdir/pynvml.err"
	echo "   pynvml step failed (is nvidia-ml-py installed?); going on"
	pynvml_failed=1
fi

# --- d. nvidia-smi -------------------------------------------------------------
echo "== d. nvidia-smi --query-gpu, $smi_runs runs ($(elapsed))"
smi_q=utilization.gpu,utilization.memory,memory.used,memory.free,temperature.gpu,power.draw,clocks.sm,clocks.mem,clocks_event_reasons.active,pstate
: >"$outdir/smi-times.txt"
for _ in $(seq "$smi_runs"); do
	t0=$(date +%s%N)
	smi --query-gpu=$smi_q --format=csv,noheader,nounits >"$outdir/smi-query.csv" ||
		bench_die "nvidia-smi --query-gpu=$smi_q"
	echo $((($(date +%s%N) - t0) / 1000)) >>"$outdir/smi-times.txt"
done
read -r smi_p50_ms smi_min_ms smi_max_ms < <(sort -n "$outdir/smi-times.txt" | awk '
	{ v[NR] = $1 } END { printf "%.1f %.1f %.1f\n", v[int((NR + 1) / 2)] / 1e3, v[1] / 1e3, v[NR] / 1e3 }')
echo "   per invocation: median $smi_p50_ms ms (min $smi_min_ms, max $smi_max_ms), all $gpus GPUs"
smi_us_per_gpu=$(awk -v m="$smi_p50_ms" -v n="$gpus" 'BEGIN { printf "%.1f", m * 1000 / n }')

# --- f. doctor -----------------------------------------------------------------
echo "== f. gpuscope doctor ($(elapsed))"
if [ "$have_agent" = 0 ]; then
	echo "   $skipped"
elif timeout 60 "$agent_bin" doctor >"$outdir/doctor.txt" 2>&1; then
	echo "   saved $outdir/doctor.txt ($(wc -l <"$outdir/doctor.txt") lines)"
else
	echo "   gpuscope doctor exited non-zero; see $outdir/doctor.txt"
	doctor_failed=1
fi
[ ! -f "$outdir/doctor.txt" ] || grep -iE 'driver|NVML|GPUs|supported' "$outdir/doctor.txt" | head -n 12 || true

# --- summary -------------------------------------------------------------------
py_ratio=$(bench_ratio "$py_cpu_us" "$floor_cpu_us")
smi_ratio=$(bench_ratio "$smi_us_per_gpu" "$floor_cpu_us")
{
	echo
	echo "== summary ($gpus GPU(s), $(sed -n 2p "$outdir/gpus.csv" | cut -d, -f2,3), $(elapsed) total)"
	printf '%-40s %12s %8s  %-9s %s\n' "measure" "us/GPU-sweep" "x floor" "target" "result"
	printf '%-40s %12s %8s  %-9s %s\n' \
		"nvml_floor CPU" "$floor_cpu_us" "1.00" "" "" \
		"nvml_floor wall" "$floor_wall_us" "$(bench_ratio "$floor_wall_us" "$floor_cpu_us")" "" "" \
		"nvml_floor paced 100 ms, CPU" "$paced_cpu_us" "$(bench_ratio "$paced_cpu_us" "$floor_cpu_us")" "" "" \
		"nvml_floor paced 100 ms, sweep wall p50" "$paced_wall_us" "$(bench_ratio "$paced_wall_us" "$floor_cpu_us")" "" "" \
		"agent fast tier, sampler threads CPU" "$fast_sampler_us" "$fast_ratio" "<= 1.5x" \
		"$(bench_verdict "$fast_ratio" "<=" 1.5)" \
		"agent fast-only run, process CPU" "$fast_cpu_us" "$fast_proc_ratio" "info" "-" \
		"agent as deployed (slow 5s), process" "$dep_cpu_us" "$dep_ratio" "info" "-" \
		"agent fast sweep wall (/metrics)" "$fast_wall_us" "$(bench_ratio "$fast_wall_us" "$floor_wall_us")" "vs wall" "-" \
		"pynvml CPU" "$py_cpu_us" "$py_ratio" "info" "-" \
		"nvidia-smi query, wall per GPU" "$smi_us_per_gpu" "$smi_ratio" "info" "-"
	echo "agent fast tier vs the paced floor: $(bench_ratio "$fast_sampler_us" "$paced_cpu_us")x CPU, $(bench_ratio "$fast_wall_us" "$paced_wall_us")x sweep wall"
	echo "agent as deployed: $dep_core_pct % of one core, VmRSS $dep_rss MiB (target < 16 MiB with 8 GPUs;"
	echo "  nvml_floor alone, the same library loaded: max RSS $floor_rss MiB)"
	echo "nvidia-smi --query-gpu: median $smi_p50_ms ms per invocation"
	echo "crosscheck vs nvidia-smi: $x_ok OK, $x_diff DIFF, $x_na n/a (see crosscheck.txt)"
	[ "$have_agent" = 1 ] || echo "gpuscope steps b, e, f: $skipped"
	echo "files: $outdir"
} | tee "$outdir/summary.txt"
[ "$have_agent" = 1 ] && [ -z "${pynvml_failed:-}" ] && [ -z "${doctor_failed:-}" ] || exit 1
