#!/usr/bin/env bash
# bench/agent_cpu.sh [WINDOW_S] [-- SERVE_ARGS...] - CPU of a running `gpuscope serve`,
# per thread name (gpuscope-fast0, -slowN, -events, ...), in ms of CPU per second, from
# /proc/PID/task/*/schedstat (ns of run time) over WINDOW_S (65: one 60 s costly sweep per
# GPU falls inside) after 10 s of warm-up.  Needs a GPU (or GPUSCOPE_NVML_LIB) and a build
# (BUILD=dir, default build/).  Set GPUSCOPE_PROFILE=1 to also get the per-source table
# at exit (it adds its own cost).  Then the process's thread count (/proc/PID/status) at the
# end of the window.  Read-only.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$root/build}
win=${1:-65}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
log=$(mktemp)
"$build/gpuscope" serve --listen 127.0.0.1:0 --no-history "$@" 2>"$log" &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; grep -v "^#" "$log"; rm -f "$log"' EXIT
sleep 10
snap() {
	for t in /proc/"$pid"/task/*; do
		echo "$(cat "$t/comm") $(cut -d' ' -f1 "$t/schedstat")"
	done | awk '{a[$1] += $2} END {for (k in a) print k, a[k]}' | sort
}
snap >"$log.0"
sleep "$win"
snap >"$log.1"
threads=$(awk '$1 == "Threads:" { print $2 }' /proc/"$pid"/status)
join "$log.0" "$log.1" | awk -v w="$win" '
	{ v = ($3 - $2) / 1e6 / w; s += v; printf "%-18s %8.2f ms/s\n", $1, v }
	END { printf "%-18s %8.2f ms/s = %.2f%% of one core\n", "total", s, s / 10 }'
echo "threads            $threads"
rm -f "$log.0" "$log.1"
