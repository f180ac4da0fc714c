#!/usr/bin/env bash
# bench/soak.sh - is the agent's memory flat over a simulated day?
#
# Runs `gpuscope serve` on the 8-GPU demo scenario with its time sped up (a day of
# scenario time in MINUTES of real time: processes start and stop, bursts, throttling,
# Xids all come round many times), with history on, scraped once a second with gzip as
# Prometheus does, and reads its VmRSS, threads and open files every SAMPLE_S seconds.
# The baseline is the agent itself after WARMUP_S: the ratios say how much it grew since.
#
#   BUILD=build bench/soak.sh [MINUTES] [HOURS]    (defaults 15 and 24)
#
# Prints one line per sample (real s, scenario h, RSS KiB, threads, fds, history bytes),
# then RSS at warm-up, at the end and its peak, the end/warm-up ratio, and the slope of a
# least-squares line over the second half in KiB per real minute. "flat" means the second
# half's slope times its length is under 2% of the warm-up RSS. The samples are kept in
# bench/out/soak/rss.tsv for plotting. Exits non-zero only when something failed to run.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$root/bench/out/soak
build=${BUILD:-$root/build}
minutes=${1:-15}
hours=${2:-24}
warmup_s=${WARMUP_S:-60}
sample_s=${SAMPLE_S:-10}

# shellcheck source=SCRIPTDIR/lib.sh
. "$root/bench/lib.sh"

agent_bin=$build/gpuscope
[ -x "$agent_bin" ] || bench_die "$agent_bin not found (build first, or set BUILD)"
command -v curl >/dev/null || bench_die "curl is not installed"
command -v python3 >/dev/null || bench_die "python3 is not installed"

rm -rf "$out"
mkdir -p "$out"
scale=$(awk -v h="$hours" -v m="$minutes" 'BEGIN { printf "%.3f", h * 60 / m }')
python3 - "$root/sim/scenarios/default.json" "$out/scenario.json" "$scale" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
s["time_scale"] = float(sys.argv[3])
json.dump(s, open(sys.argv[2], "w"))
EOF

trap 'bench_agent_stop; kill "$scraper" 2>/dev/null || true' EXIT
scraper=
bench_agent_start "$out/serve.log" "$agent_bin" serve --demo "$out/scenario.json" \
	--listen 127.0.0.1:0 --history "$out/history.db"
pid=$bench_agent_pid
bench_log "agent pid $pid on port $bench_agent_port, scenario x$scale ($hours h in $minutes min)"

(while kill -0 "$pid" 2>/dev/null; do
	curl -s -o /dev/null -H 'Accept-Encoding: gzip' "http://127.0.0.1:$bench_agent_port/metrics" || true
	sleep 1
done) &
scraper=$!

total_s=$((minutes * 60))
t0=$(bench_now_s)
printf 'real_s\tscenario_h\trss_kib\tthreads\tfds\thistory_bytes\n' >"$out/rss.tsv"
while :; do
	now=$(bench_now_s)
	el=$(awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.0f", b - a }')
	[ "$el" -le "$total_s" ] || break
	kill -0 "$pid" 2>/dev/null || bench_die "the agent died after $el s (see $out/serve.log)"
	rss=$(bench_proc_status "$pid" VmRSS)
	thr=$(bench_proc_status "$pid" Threads)
	fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	hist=$(cat "$out"/history.db* 2>/dev/null | wc -c)
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$el" \
		"$(awk -v e="$el" -v s="$scale" 'BEGIN { printf "%.2f", e * s / 3600 }')" \
		"$rss" "$thr" "$fds" "$hist" | tee -a "$out/rss.tsv"
	sleep "$sample_s"
done
hwm=$(bench_proc_status "$pid" VmHWM)

awk -v w="$warmup_s" -v total="$total_s" -v hwm="$hwm" 'NR > 1 {
	t = $1; r = $3
	if (t >= w && base == "") base = r
	last = r; if (r > peak) peak = r
	if (t >= total / 2) { n++; sx += t; sy += r; sxx += t * t; sxy += t * r; t_first = (n == 1 ? t : t_first); t_last = t }
}
END {
	slope = (n > 1 && n * sxx - sx * sx > 0) ? (n * sxy - sx * sy) / (n * sxx - sx * sx) : 0
	growth = slope * (t_last - t_first)
	printf "soak: rss after %d s warm-up %d KiB, at the end %d KiB, peak %d KiB (VmHWM %d KiB)\n", w, base, last, peak, hwm
	printf "soak: end / warm-up %.3f; second half slope %.1f KiB per real minute (%.0f KiB over it): %s\n",
		(base > 0 ? last / base : 0), slope * 60, growth,
		(base > 0 && growth < 0.02 * base ? "flat" : "GROWING")
}' "$out/rss.tsv"
