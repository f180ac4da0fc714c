#!/usr/bin/env bash
# bench/report_speed.sh [BUILD] - how long `gpuscope report` takes over 24 h of 1 s
# history for 8 GPUs (target: under 2 s), against a baseline measured in the same run:
# the sqlite3 shell reading the same rows and columns (every gpu_second row of the
# day, the 25 values the report asks for).
#
# Builds the history with store/bench_store (synthetic H200-like rows, 8 GPUs, 1 day:
# about 270 MB), then runs each command 3 times and keeps the fastest.  Needs a
# gpuscope build (BUILD, default build/) and the sqlite3 shell (scripts/deps.sh test).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-${BUILD:-$root/build}}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
db=$dir/day8.db
"$build/store/bench_store" --gpus 8 --days 1 --path "$db" --keep >"$dir/bench_store.txt"
read -r t0 t1 < <(sqlite3 -separator ' ' "$db" 'SELECT min(t), max(t) FROM gpu_second')
cols=$(sqlite3 "$db" "SELECT group_concat(name, ',') FROM pragma_table_info('gpu_second')
	WHERE name LIKE 'mean_%' OR name LIKE 'max_%' LIMIT 25")
best() { # best of 3 wall seconds of "$@"
	local b=999 t
	for _ in 1 2 3; do
		/usr/bin/time -o "$dir/time" -f %e "$@" >/dev/null 2>&1
		t=$(tail -n1 "$dir/time")
		b=$(awk -v a="$b" -v c="$t" 'BEGIN { print (c < a ? c : a) }')
	done
	echo "$b"
}
scan=$(best sqlite3 "$db" "SELECT t, $cols FROM gpu_second WHERE t BETWEEN $t0 AND $t1")
report=$(best "$build/gpuscope" report --history "$db" --from "$t0" --to "$t1")
echo "history: 8 GPUs x 86400 s, $(du -m "$db" | cut -f1) MB"
echo "baseline: sqlite3 scanning the same day (25 columns of every row): $scan s"
echo "gpuscope report --from/--to that day: $report s ($(awk -v r="$report" -v s="$scan" \
	'BEGIN { printf "%.2f", r / s }')x the scan; target under 2 s)"
