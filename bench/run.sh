#!/usr/bin/env bash
# bench/run.sh - gpuscope's benchmarks on the NVML simulator (8 GPUs), each
# printed as a ratio against a baseline measured in the same run, because
# shared machines are too noisy for absolute numbers to mean much.
#
#   a. sweep cost   agent CPU per GPU per fast sweep (from /proc/PID/stat)
#                   vs bench/nvml_floor.c making the same NVML calls in a loop
#   b. /metrics     wrk against the agent vs nginx serving the very same bytes, and
#                   each server's CPU per request (its HTTP threads / workers)
#                   (plain, and gzip vs nginx's gzip_static of the agent's gzip)
#   c. memory       VmRSS / VmHWM of the agent after the wrk load
#
# Usage: bench/run.sh            (from any directory; builds into bench/out/build)
#        BUILD=dir bench/run.sh  (use an existing build folder, built already)
# Knobs: DURATION (20 s agent run for a.), WARMUP (5 s), WRK_DURATION (10s),
#        WRK_THREADS (2), WRK_CONNS (16), FLOOR_SWEEPS (200000: the simulator answers in ~0.1 us),
#        ROUNDS (1: wrk rounds for b., agent and nginx alternating; medians and each round's ratio).
# Exits non-zero only when something failed to run, never on a missed target.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$root/bench/out
build=${BUILD:-$out/build}
duration=${DURATION:-20}
warmup=${WARMUP:-5}
wrk_duration=${WRK_DURATION:-10s}
wrk_threads=${WRK_THREADS:-2}
wrk_conns=${WRK_CONNS:-16}
floor_sweeps=${FLOOR_SWEEPS:-200000}
rounds=${ROUNDS:-1}
fast_interval_s=0.1
gpus_expected=8

mkdir -p "$out"
# shellcheck source=SCRIPTDIR/lib.sh
. "$root/bench/lib.sh"
log() { bench_log "$@"; }
die() { bench_die "$@"; }

# --- tools -------------------------------------------------------------------
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
	if [ -f "$root/scripts/deps.sh" ]; then
		bash "$root/scripts/deps.sh" bench || die "scripts/deps.sh bench failed"
	fi
fi
for tool in cc cmake curl wrk nginx gzip awk; do
	command -v "$tool" >/dev/null || die "$tool is not installed (scripts/deps.sh bench)"
done

# --- build -------------------------------------------------------------------
if [ -z "${BUILD:-}" ]; then
	log "building gpuscope into $build"
	cmake -S "$root" -B "$build" >"$out/cmake.log" 2>&1 || die "cmake configure (see $out/cmake.log)"
	cmake --build "$build" -j"$(nproc)" --target gpuscope >"$out/build.log" 2>&1 ||
		die "cmake build (see $out/build.log)"
fi
agent_bin=$build/gpuscope
sim_lib=$build/sim/libgpuscope-nvml-sim.so
[ -x "$agent_bin" ] || die "$agent_bin not found"
[ -f "$sim_lib" ] || die "$sim_lib not found"

floor_bin=$out/nvml_floor
bench_build_floor "$root" "$floor_bin" || die "compiling bench/nvml_floor.c"

# --- processes we start, and stop on any exit --------------------------------
nginx_pid=
cleanup() {
	if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
		kill -QUIT "$nginx_pid" 2>/dev/null || true
		wait "$nginx_pid" 2>/dev/null || true
	fi
	bench_agent_stop
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wrk --latency output -> "rps p50_ms p99_ms non2xx errors"
wrk_parse() {
	awk '
	function ms(v) {
		if (v ~ /us$/) return v / 1000.0
		if (v ~ /ms$/) return v + 0.0
		if (v ~ /s$/) return v * 1000.0
		return v + 0.0
	}
	/Requests\/sec:/ { rps = $2 }
	$1 == "50.000%" || $1 == "50%" { p50 = ms($2) }
	$1 == "99.000%" || $1 == "99%" { p99 = ms($2) }
	/Non-2xx or 3xx responses:/ { bad = $NF }
	/Socket errors:/ { gsub(",", ""); err = $4 + $6 + $8 + $10 }
	END { printf "%.1f %.3f %.3f %d %d\n", rps, p50, p99, bad, err }' "$1"
}

# --- a0. the floor -----------------------------------------------------------
log "nvml_floor: $floor_sweeps sweeps on the simulator"
unset GPUSCOPE_SIM_SCENARIO
"$floor_bin" --nvml-lib "$sim_lib" --sweeps "$floor_sweeps" >"$out/floor.txt" 2>"$out/floor.err" ||
	die "nvml_floor (see $out/floor.err)"
floor_cpu_us=$(bench_floor_key "$out/floor.txt" cpu_us_per_gpu_sweep)
floor_wall_us=$(bench_floor_key "$out/floor.txt" wall_us_per_gpu_sweep)
floor_call_us=$(bench_floor_key "$out/floor.txt" wall_us_per_call)
floor_gpus=$(bench_floor_key "$out/floor.txt" gpus)
[ "$floor_gpus" = "$gpus_expected" ] || die "nvml_floor saw $floor_gpus GPUs, expected $gpus_expected"
log "nvml_floor: 100 sweeps paced at 100 ms, like the agent"
"$floor_bin" --nvml-lib "$sim_lib" --sweeps 100 --pace-ms 100 >"$out/floor-paced.txt" \
	2>"$out/floor-paced.err" || die "nvml_floor --pace-ms (see $out/floor-paced.err)"
paced_cpu_us=$(bench_floor_key "$out/floor-paced.txt" cpu_us_per_gpu_sweep)
paced_wall_us=$(bench_floor_key "$out/floor-paced.txt" sweep_wall_us_p50)

# --- a. the agent's sweep cost -----------------------------------------------
agent_log=$out/agent.log
log "starting gpuscope serve --demo (fast 100 ms) for ${duration}s"
bench_agent_start "$agent_log" "$agent_bin" serve --demo --listen 127.0.0.1:0 \
	--fast-interval 100ms --slow-interval 5s
agent_pid=$bench_agent_pid
[ "$bench_agent_gpus" = "$gpus_expected" ] ||
	die "gpuscope serves $bench_agent_gpus GPUs, expected $gpus_expected"
agent_url=http://127.0.0.1:$bench_agent_port/metrics
log "gpuscope pid $agent_pid on port $bench_agent_port"

sleep "$warmup"
bench_measure_cpu "$agent_pid" "$((duration - warmup))"
window=$bench_win_s
agent_cpu_s=$bench_cpu_s
agent_cpu_us=$(bench_per_sweep_us "$bench_cpu_s" "$window" "$gpus_expected" "$fast_interval_s")
agent_core_pct=$(bench_core_pct "$bench_cpu_s" "$window")
sampler_cpu_us=$(bench_per_sweep_us "$bench_sampler_cpu_s" "$window" "$gpus_expected" "$fast_interval_s")
sampler_core_pct=$(bench_core_pct "$bench_sampler_cpu_s" "$window")
other_core_pct=$(bench_core_pct "$bench_other_cpu_s" "$window")
sampler_threads=$bench_sampler_threads
# Ticks are 1/CLK_TCK s: say how coarse the whole-process figure is.
cpu_resolution_pct=$(awk -v c="$agent_cpu_s" -v t="$bench_clk_tck" \
	'BEGIN { printf "%.0f", (c > 0 ? 100 / (c * t) : 100) }')

# The agent's own view: wall time of its last fast sweep, per GPU.
curl -fsS "$agent_url" -o "$out/metrics.txt" || die "GET $agent_url"
agent_sweep_wall_us=$(bench_fast_sweep_wall_us "$out/metrics.txt")
sweep_ratio=$(bench_ratio "$agent_cpu_us" "$floor_cpu_us")
sampler_ratio=$(bench_ratio "$sampler_cpu_us" "$floor_cpu_us")

# --- b. /metrics throughput vs nginx -----------------------------------------
www=$out/nginx/www
mkdir -p "$www" "$out/nginx/tmp"
cp "$out/metrics.txt" "$www/metrics"
# The gzip copy is the agent's own gzip output, so nginx sends the same bytes.
curl -fsS -H 'Accept-Encoding: gzip' "$agent_url" -o "$www/metrics.gz" || die "GET $agent_url (gzip)"
gzip_ok=yes
if ! gzip -t "$www/metrics.gz" 2>/dev/null; then
	log "the agent did not gzip /metrics; serving a gzip -6 copy from nginx instead"
	gzip_ok=no
	gzip -6 -c "$www/metrics" >"$www/metrics.gz"
fi
metrics_bytes=$(wc -c <"$www/metrics")
metrics_gz_bytes=$(wc -c <"$www/metrics.gz")

# nginx gets as many workers as the agent has HTTP threads (serve's default: 2).
nginx_workers=2
nginx_conf=$out/nginx/nginx.conf
nginx_port=
for _ in 1 2 3 4 5; do
	try=$((20000 + RANDOM % 40000))
	ss -Htln "sport = :$try" 2>/dev/null | grep -q . && continue
	user_line=
	# As root, nginx would drop its workers to nobody, who may not reach bench/out.
	[ "$(id -u)" -eq 0 ] && user_line="user root;"
	cat >"$nginx_conf" <<EOF
# generated by bench/run.sh: serves one captured /metrics body, nothing else
$user_line
daemon off;
worker_processes $nginx_workers;
pid $out/nginx/nginx.pid;
error_log $out/nginx/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $out/nginx/tmp/body;
	proxy_temp_path $out/nginx/tmp/proxy;
	fastcgi_temp_path $out/nginx/tmp/fastcgi;
	uwsgi_temp_path $out/nginx/tmp/uwsgi;
	scgi_temp_path $out/nginx/tmp/scgi;
	default_type text/plain;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 1000000;
	server {
		listen 127.0.0.1:$try;
		root $www;
		location = /metrics { gzip_static on; }
	}
}
EOF
	nginx -p "$out/nginx" -e "$out/nginx/error.log" -c "$nginx_conf" >"$out/nginx/stdout.log" 2>&1 &
	nginx_pid=$!
	for _ in $(seq 50); do
		curl -fsS -o /dev/null "http://127.0.0.1:$try/metrics" 2>/dev/null && break
		kill -0 "$nginx_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$nginx_pid" 2>/dev/null; then
		nginx_port=$try
		break
	fi
	wait "$nginx_pid" 2>/dev/null || true
	nginx_pid=
done
[ -n "$nginx_port" ] || die "nginx did not start (see $out/nginx/error.log)"
nginx_url=http://127.0.0.1:$nginx_port/metrics
curl -fsS "$nginx_url" | cmp -s - "$www/metrics" || die "nginx does not serve the captured body"
curl -fsS -H 'Accept-Encoding: gzip' "$nginx_url" | cmp -s - "$www/metrics.gz" ||
	die "nginx does not serve the gzip copy"
log "nginx pid $nginx_pid on port $nginx_port, body $metrics_bytes bytes ($metrics_gz_bytes gzip)"

# The server's CPU in ns: the agent's HTTP threads (gpuscope-http; MHD-* in builds before
# the server of its own), or every nginx worker.
server_cpu_ns() { # agent|nginx
	local tids=() t
	if [ "$1" = agent ]; then
		for t in /proc/"$agent_pid"/task/*; do
			grep -qE '^(gpuscope-http|MHD)' "$t/comm" 2>/dev/null && tids+=("${t##*/}")
		done
		bench_threads_cpu_ns "$agent_pid" "${tids[@]}"
	else
		local sum=0 w
		for w in $(pgrep -P "$nginx_pid"); do
			mapfile -t tids < <(ls /proc/"$w"/task)
			sum=$((sum + $(bench_threads_cpu_ns "$w" "${tids[@]}")))
		done
		echo "$sum"
	fi
}
wrk_run() { # name url [header...]; leaves its output in $out/wrk-NAME.txt, CPU in .cpu
	local name=$1 url=$2 c0 c1
	shift 2
	log "wrk -t$wrk_threads -c$wrk_conns -d$wrk_duration $* $url"
	c0=$(server_cpu_ns "${name%-gzip}")
	wrk -t"$wrk_threads" -c"$wrk_conns" -d"$wrk_duration" --latency "$@" "$url" \
		>"$out/wrk-$name.txt" 2>&1 || die "wrk $name (see $out/wrk-$name.txt)"
	c1=$(server_cpu_ns "${name%-gzip}")
	grep -q 'Requests/sec:' "$out/wrk-$name.txt" || die "wrk $name printed no rate"
	awk -v c=$((c1 - c0)) '/requests in/ { printf "%.1f\n", ($1 > 0 ? c / $1 / 1000 : 0) }' \
		"$out/wrk-$name.txt" >"$out/wrk-$name.cpu"
}
gz=(-H 'Accept-Encoding: gzip')
# ROUNDS rounds, the agent first in odd ones and nginx first in even ones; each round's
# wrk output is kept as wrk-NAME-rN.txt, and each figure below is the median of the rounds.
round_ratios=() round_gz_ratios=()
rm -f "$out"/wrk-*-r*.txt "$out"/wrk-*-r*.cpu
for round in $(seq "$rounds"); do
	if [ $((round % 2)) = 1 ]; then order=(agent nginx); else order=(nginx agent); fi
	for who in "${order[@]}"; do
		url=$agent_url
		[ "$who" = nginx ] && url=$nginx_url
		wrk_run "$who" "$url"
		wrk_run "$who-gzip" "$url" "${gz[@]}"
	done
	for name in agent nginx agent-gzip nginx-gzip; do
		mv "$out/wrk-$name.txt" "$out/wrk-$name-r$round.txt"
		mv "$out/wrk-$name.cpu" "$out/wrk-$name-r$round.cpu"
	done
	round_ratios+=("$(bench_ratio "$(wrk_parse "$out/wrk-agent-r$round.txt" | cut -d' ' -f1)" \
		"$(wrk_parse "$out/wrk-nginx-r$round.txt" | cut -d' ' -f1)")")
	round_gz_ratios+=("$(bench_ratio "$(wrk_parse "$out/wrk-agent-gzip-r$round.txt" | cut -d' ' -f1)" \
		"$(wrk_parse "$out/wrk-nginx-gzip-r$round.txt" | cut -d' ' -f1)")")
	kill -0 "$agent_pid" 2>/dev/null || die "gpuscope died under wrk (see $agent_log)"
done
# wrk_median NAME -> the median over the rounds of each wrk_parse column
wrk_median() {
	local col vals=() f
	for col in 1 2 3 4 5; do
		vals=()
		for f in "$out/wrk-$1"-r*.txt; do vals+=("$(wrk_parse "$f" | cut -d' ' -f"$col")"); done
		printf '%s ' "$(bench_median "${vals[@]}")"
	done
	echo
}
cpu_median() {
	local vals
	mapfile -t vals < <(cat "$out/wrk-$1"-r*.cpu)
	bench_median "${vals[@]}"
}
read -r a_rps a_p50 a_p99 a_bad a_err < <(wrk_median agent)
read -r n_rps n_p50 n_p99 n_bad n_err < <(wrk_median nginx)
read -r ag_rps ag_p50 ag_p99 ag_bad ag_err < <(wrk_median agent-gzip)
read -r ng_rps ng_p50 ng_p99 ng_bad ng_err < <(wrk_median nginx-gzip)
a_cpu=$(cpu_median agent) n_cpu=$(cpu_median nginx)
ag_cpu=$(cpu_median agent-gzip) ng_cpu=$(cpu_median nginx-gzip)

# --- c. memory after the load ------------------------------------------------
rss_mib=$(awk -v k="$(bench_proc_status "$agent_pid" VmRSS)" 'BEGIN { printf "%.1f", k / 1024 }')
hwm_mib=$(awk -v k="$(bench_proc_status "$agent_pid" VmHWM)" 'BEGIN { printf "%.1f", k / 1024 }')
threads=$(bench_proc_status "$agent_pid" Threads)

# --- report ------------------------------------------------------------------
tput_ratio=$(bench_median "${round_ratios[@]}")
tput_gz_ratio=$(bench_median "${round_gz_ratios[@]}")
report=$out/report.txt
{
	echo "gpuscope bench/run.sh  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "machine: $(nproc) CPUs, $(uname -sr); $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
	echo "gpuscope: simulator, $bench_agent_gpus GPUs (default scenario), fast 100 ms, slow 5 s; commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') (+ uncommitted work)"
	echo
	echo "a. fast-tier sweep cost (window ${window} s after ${warmup} s warm-up; GPU-sweeps = window / 0.1 s x $gpus_expected)"
	printf '   %-46s %12s\n' \
		"agent process CPU in window (s, /proc/PID/stat)" "$agent_cpu_s" \
		"agent process CPU, % of one core" "$agent_core_pct" \
		"agent process CPU per GPU-sweep (us)" "$agent_cpu_us" \
		"  sampler threads ($sampler_threads), % of one core" "$sampler_core_pct" \
		"  sampler threads CPU per GPU-sweep (us)" "$sampler_cpu_us" \
		"  other threads (events, HTTP, main), % core" "$other_core_pct" \
		"floor CPU per GPU-sweep (us, nvml_floor)" "$floor_cpu_us" \
		"agent fast sweep wall, /metrics mean (us)" "$agent_sweep_wall_us" \
		"floor wall per GPU-sweep (us)" "$floor_wall_us" \
		"floor wall per NVML call (us)" "$floor_call_us" \
		"floor paced 100 ms: CPU per GPU-sweep (us)" "$paced_cpu_us" \
		"floor paced 100 ms: sweep wall p50 (us)" "$paced_wall_us"
	echo "   (/proc/PID/stat counts 1/$bench_clk_tck s ticks: the process figure is +-${cpu_resolution_pct}%;"
	echo "    thread split from /proc/PID/task/*/schedstat, ns)"
	echo
	echo "b. /metrics, wrk -t$wrk_threads -c$wrk_conns -d$wrk_duration --latency, body $metrics_bytes B (gzip $metrics_gz_bytes B, agent gzip: $gzip_ok)"
	echo "   $rounds round(s), agent and nginx alternating; medians over the rounds"
	echo "   agent/nginx req/s per round, plain: ${round_ratios[*]}; gzip: ${round_gz_ratios[*]}"
	printf '   %-12s %10s %9s %9s %7s %7s %12s\n' "server" "req/s" "p50 ms" "p99 ms" "non2xx" "errors" \
		"CPU us/req"
	printf '   %-12s %10s %9s %9s %7s %7s %12s\n' \
		agent "$a_rps" "$a_p50" "$a_p99" "$a_bad" "$a_err" "$a_cpu" \
		nginx "$n_rps" "$n_p50" "$n_p99" "$n_bad" "$n_err" "$n_cpu" \
		agent-gzip "$ag_rps" "$ag_p50" "$ag_p99" "$ag_bad" "$ag_err" "$ag_cpu" \
		nginx-gzip "$ng_rps" "$ng_p50" "$ng_p99" "$ng_bad" "$ng_err" "$ng_cpu"
	echo "   (CPU us/req: the agent's HTTP threads or nginx's workers over the wrk run, per request;"
	echo "    it does not count waiting for a CPU, which req/s does when the machine is shared)"
	echo "   (nginx $(nginx -v 2>&1 | sed 's/.*\///'): $nginx_workers workers = the agent's default HTTP threads; gzip via gzip_static of the agent's own gzip body)"
	echo
	echo "c. memory after the wrk load: VmRSS $rss_mib MiB, VmHWM $hwm_mib MiB, $threads threads"
	echo
	printf '%-30s %10s %10s %7s  %-10s %s\n' "summary" "gpuscope" "baseline" "ratio" "target" "result"
	printf '%-30s %10s %10s %7s  %-10s %s\n' \
		"sweep CPU/GPU-sweep, process" "$agent_cpu_us" "$floor_cpu_us" "$sweep_ratio" "info (sim)" "-" \
		"sweep CPU/GPU-sweep, samplers" "$sampler_cpu_us" "$floor_cpu_us" "$sampler_ratio" "info (sim)" "-" \
		"  same, vs paced floor" "$sampler_cpu_us" "$paced_cpu_us" "$(bench_ratio "$sampler_cpu_us" "$paced_cpu_us")" "info (sim)" "-" \
		"/metrics req/s" "$a_rps" "$n_rps" "$tput_ratio" ">= 0.8x" "$(bench_verdict "$tput_ratio" ">=" 0.8)" \
		"/metrics gzip req/s" "$ag_rps" "$ng_rps" "$tput_gz_ratio" ">= 0.5x" "$(bench_verdict "$tput_gz_ratio" ">=" 0.5)" \
		"/metrics CPU us/req" "$a_cpu" "$n_cpu" "$(bench_ratio "$a_cpu" "$n_cpu")" "info" "-" \
		"/metrics gzip CPU us/req" "$ag_cpu" "$ng_cpu" "$(bench_ratio "$ag_cpu" "$ng_cpu")" "info" "-" \
		"VmRSS MiB, 8 GPUs" "$rss_mib" "-" "-" "< 16 MiB" "$(bench_verdict "$rss_mib" "<=" 16)" \
		"VmHWM MiB, 8 GPUs" "$hwm_mib" "-" "-" "< 16 MiB" "$(bench_verdict "$hwm_mib" "<=" 16)"
	echo "(sweep targets need a real GPU, see bench/gpu.sh: the simulator answers a call in ~0.1 us,"
	echo " so here the ratio is the agent's own overhead over an almost free driver)"
} | tee "$report"
log "report written to $report"
