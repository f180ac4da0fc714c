#!/usr/bin/env bash
# bench/bucketed_reads.sh BUILD BEFORE_BUILD - peak RSS (GNU time %M) of the history
# readers that now read a window as the points they answer with (issue 19: "streamed at
# the resolution a window needs"), this build against BEFORE_BUILD on the same inputs in
# the same run:
#
#   series: the agent (`serve --demo --history FILE`) answering one /api/v1/series for a
#           month of GPUS GPUs' minute rows in 600 points; its peak RSS against the same
#           agent that was asked nothing (what the request adds is the difference).
#   demo:   `report --demo` over 1 h (1 s points either way) and 24 h of the 8-GPU
#           default scenario.
#   report: `report --history FILE` over the month (processes included), which was
#           bucketed already: the two builds should agree.
#
# The history is written by store/bench_store, as bench/report_speed.sh writes its week:
# --sparse (one row per GPU-minute beyond the last --retention-1s hours), --procs 2.
# Best (lowest) peak of RUNS runs (3) each.  Disk: about 25 MB per GPU-month.
set -euo pipefail
build=${1:?usage: bench/bucketed_reads.sh BUILD BEFORE_BUILD}
before=${2:?usage: bench/bucketed_reads.sh BUILD BEFORE_BUILD}
gpus=${GPUS:-4}
days=${DAYS:-30}
runs=${RUNS:-3}
sim=${SIM_LIB:-$build/sim/libgpuscope-nvml-sim.so}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
start=1735689600 # store/bench_store.c START
first=$start last=$((start + days * 86400 - 1))


# serve BIN ASK: the agent's peak RSS in KiB, asked for the month's series when ASK is 1.
serve() {
	local bin=$1 ask=$2 port pid child
	cp "$dir/month.db" "$dir/agent.db"
	rm -f "$dir/agent.db-wal" "$dir/agent.db-shm"
	GPUSCOPE_SIM_LIB=$sim /usr/bin/time -o "$dir/time" -f %M "$bin" serve --demo \
		--listen 127.0.0.1:0 --history "$dir/agent.db" --retention-1m 1000w \
		2>"$dir/serve.log" &
	pid=$!
	for _ in $(seq 300); do
		port=$(sed -n 's/.*on port \([0-9]*\).*/\1/p' "$dir/serve.log" | head -1)
		[ -n "$port" ] && break
		sleep 0.05
	done
	[ -n "$port" ] || { cat "$dir/serve.log" >&2; exit 1; }
	sleep 3 # warm: the first batches written, the reader open
	curl -sf -o /dev/null "http://127.0.0.1:$port/api/v1/series?range=15m"
	if [ "$ask" = 1 ]; then
		curl -sf -o "$dir/series.json" \
			"http://127.0.0.1:$port/api/v1/series?from=$first&to=$last&points=600"
	fi
	child=$(pgrep -P "$pid")
	kill -TERM "$child"
	wait "$pid" || true
	cat "$dir/time"
}

report() { # BIN ARGS...: the peak RSS in KiB
	local bin=$1
	shift
	GPUSCOPE_SIM_LIB=$sim /usr/bin/time -o "$dir/time" -f %M "$bin" report "$@" \
		--format json >/dev/null 2>&1
	cat "$dir/time"
}

best() { # FUNCTION ARGS...: the lowest of RUNS peaks, in KiB
	local b="" v
	for _ in $(seq "$runs"); do
		v=$("$@")
		if [ -z "$b" ] || [ "$v" -lt "$b" ]; then b=$v; fi
	done
	echo "$b"
}

row() { # LABEL THIS_KIB BEFORE_KIB
	awk -v l="$1" -v a="$2" -v b="$3" 'BEGIN {
		printf "  %-46s %8.1f MiB  %8.1f MiB  %6.2fx\n", l, a / 1024, b / 1024, a / b }'
}

"$build/store/bench_store" --gpus "$gpus" --days "$days" --sparse --retention-1s 1 \
	--procs 2 --path "$dir/month.db" --keep >/dev/null
echo "history: $gpus GPUs x $days days ($(du -m "$dir/month.db" | cut -f1) MB), $runs runs each"
printf '  %-46s %12s  %12s  %7s\n' "peak RSS" "this" "before" "ratio"
idle_new=$(best serve "$build/gpuscope" 0)
idle_old=$(best serve "$before/gpuscope" 0)
asked_new=$(best serve "$build/gpuscope" 1)
asked_old=$(best serve "$before/gpuscope" 1)
row "agent, asked nothing" "$idle_new" "$idle_old"
row "agent, one /api/v1/series of the history" "$asked_new" "$asked_old"
row "  what the request added" "$((asked_new - idle_new))" "$((asked_old - idle_old))"
for since in 1h 24h; do
	row "report --demo --since $since" "$(best report "$build/gpuscope" --demo --since "$since")" \
		"$(best report "$before/gpuscope" --demo --since "$since")"
done
row "report --history (all of it, processes)" \
	"$(best report "$build/gpuscope" --history "$dir/month.db" --from "$first" --to "$last")" \
	"$(best report "$before/gpuscope" --history "$dir/month.db" --from "$first" --to "$last")"
