#!/usr/bin/env bash
# bench/fleet_report.sh - `gpuscope report --prometheus` over a fleet, against the cost of
# Prometheus answering the same queries.
#
#   BUILD=build bench/fleet_report.sh [NODES] [DAYS] [INTERVAL_S]   (defaults 125 7 300)
#
# NODES hosts of 8 GPUs each (125: 1,000 GPUs), DAYS of history, one sample every
# INTERVAL_S. The series are one scrape of `gpuscope serve --demo` copied to every host
# (bench/fleet_gen.py), written into TSDB blocks by `promtool tsdb create-blocks-from
# openmetrics` and served by a real Prometheus. Then:
#   baseline  curl replays, one after another, the very range queries the report made
#             (from Prometheus' query log): what fetching the data costs at the least
#   report    `gpuscope report --prometheus URL --format json` over the whole window
# and prints both wall times, their ratio, the report's peak RSS and the GPUs it judged.
# BEFORE_BUILD=<a build of an earlier commit> runs that binary's report on the same
# Prometheus too (after the baseline's queries were taken) and prints its time and peak
# RSS beside this one's.
# Everything lands in bench/out/fleet/. Exits non-zero only when something failed to run.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$root/bench/out/fleet
build=${BUILD:-$root/build}
nodes=${1:-125}
days=${2:-7}
interval=${3:-300}

# shellcheck source=SCRIPTDIR/lib.sh
. "$root/bench/lib.sh"
for tool in prometheus promtool curl python3 /usr/bin/time; do
	command -v "$tool" >/dev/null || bench_die "$tool is not installed (scripts/deps.sh test)"
done
agent_bin=$build/gpuscope
[ -x "$agent_bin" ] || bench_die "$agent_bin not found (build first, or set BUILD)"

rm -rf "$out"
mkdir -p "$out/tsdb"
prom_pid=
trap 'bench_agent_stop; [ -z "$prom_pid" ] || kill "$prom_pid" 2>/dev/null || true' EXIT

# --- one scrape of the demo agent: the template of every host -----------------------
bench_agent_start "$out/serve.log" "$agent_bin" serve --demo --no-history --listen 127.0.0.1:0
sleep 3
curl -sf "http://127.0.0.1:$bench_agent_port/metrics" >"$out/template.prom" ||
	bench_die "scraping the demo agent"
bench_agent_stop

# --- Prometheus, logging every query ---------------------------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
prom_start() {
	printf 'global:\n  query_log_file: %s\n' "$out/queries.log" >"$out/prometheus.yml"
	prometheus --config.file="$out/prometheus.yml" --storage.tsdb.path="$out/tsdb" \
		--storage.tsdb.retention.time=3650d --web.listen-address="127.0.0.1:$port" \
		>"$out/prometheus.log" 2>&1 &
	prom_pid=$!
	for _ in $(seq 300); do
		curl -sf "$url/-/ready" >/dev/null 2>&1 && return 0
		kill -0 "$prom_pid" 2>/dev/null || bench_die "prometheus exited (see $out/prometheus.log)"
		sleep 0.2
	done
	bench_die "prometheus not ready in 60 s"
}
prom_stop() {
	kill "$prom_pid" 2>/dev/null || true
	wait "$prom_pid" 2>/dev/null || true
	prom_pid=
}

end=$(($(date +%s) / 3600 * 3600 - 3600))
start=$((end - days * 86400))

# --- which names the report reads: ask it, against an empty Prometheus ------------------
prom_start
"$agent_bin" report --prometheus "$url" --from "$start" --to "$end" --format json \
	>/dev/null 2>&1 || true # "no DCGM_FI_* GPU series": expected
prom_stop
python3 -c '
import json, re, sys
names = set()
for line in open(sys.argv[1]):
    q = json.loads(line).get("params", {}).get("query", "")
    names.update(re.findall(r"DCGM_FI_[A-Z0-9_]+", q))  # plain, or inside *_over_time()
print("\n".join(sorted(names)))' "$out/queries.log" >"$out/names.txt"
rm -rf "$out/tsdb" "$out/queries.log"
mkdir -p "$out/tsdb"
[ -s "$out/names.txt" ] || bench_die "the report made no DCGM_FI_* query"
grep -E "^($(paste -sd'|' "$out/names.txt"))\{|^# TYPE" "$out/template.prom" >"$out/template.report.prom"

# --- the fleet's history as TSDB blocks -----------------------------------------------
t0=$(bench_now_s)
python3 "$root/bench/fleet_gen.py" "$out/template.report.prom" "$nodes" "$days" "$interval" \
	"$end" "$out/om"
t1=$(bench_now_s)
bench_log "$(wc -l <"$out/names.txt") names; $(cat "$out"/om/*.om | wc -l) samples ($(du -sh "$out/om" | cut -f1)) in $(ls "$out/om" | wc -l) block files, generated in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", b-a}') s"
# One promtool per 2 h block file, as many at once as there are CPUs: a single file would
# be read once per block (84 passes for 7 days).
ls "$out"/om/*.om | xargs -P "$(nproc)" -I{} sh -c \
	'promtool tsdb create-blocks-from openmetrics "$1" "$2" >>"$2.log" 2>&1 && rm -f "$1"' \
	_ {} "$out/tsdb" || bench_die "promtool create-blocks-from openmetrics (see $out/tsdb.log)"
rm -rf "$out/om"
t2=$(bench_now_s)
bench_log "TSDB blocks written in $(awk -v a="$t1" -v b="$t2" 'BEGIN{printf "%.0f", b-a}') s"
prom_start

# --- the report ------------------------------------------------------------------------
/usr/bin/time -f '%e %M' -o "$out/report.time" "$agent_bin" report --prometheus "$url" \
	--from "$start" --to "$end" --format json --output "$out/report.json" 2>"$out/report.err" ||
	bench_die "gpuscope report failed: $(tail -n 3 "$out/report.err")"
read -r report_s report_kib <"$out/report.time"
judged=$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(len(d.get("gpus", [])))' \
	"$out/report.json")
cp "$out/queries.log" "$out/queries.report.log" # the baseline replays these only

# --- the baseline: the same queries, fetched and thrown away ---------------------------
python3 - "$out/queries.report.log" >"$out/queries.txt" <<'EOF'
import json, sys, urllib.parse
for line in open(sys.argv[1]):
    p = json.loads(line).get("params", {})
    if p.get("step"):
        print(urllib.parse.urlencode({"query": p["query"], "start": p["start"], "end": p["end"],
                                      "step": p["step"]}))
EOF
nq=$(wc -l <"$out/queries.txt")
t3=$(bench_now_s)
while read -r q; do
	curl -sf -o /dev/null -H 'Accept-Encoding: identity' "$url/api/v1/query_range?$q" ||
		bench_die "baseline query failed: $q"
done <"$out/queries.txt"
t4=$(bench_now_s)
base_s=$(awk -v a="$t3" -v b="$t4" 'BEGIN { printf "%.2f", b - a }')

if [ -n "${BEFORE_BUILD:-}" ]; then
	/usr/bin/time -f '%e %M' -o "$out/report.before.time" "$BEFORE_BUILD/gpuscope" report \
		--prometheus "$url" --from "$start" --to "$end" --format json \
		--output "$out/report.before.json" 2>"$out/report.before.err" ||
		bench_die "BEFORE_BUILD report failed: $(tail -n 3 "$out/report.before.err")"
	read -r before_s before_kib <"$out/report.before.time"
fi

echo "fleet: $((nodes * 8)) GPUs x $days d at ${interval} s; $nq range queries"
echo "fleet: report $report_s s, peak RSS $((report_kib / 1024)) MiB, $judged GPUs judged"
echo "fleet: baseline (curl, the same queries) $base_s s; report / baseline $(bench_ratio "$report_s" "$base_s")"
if [ -n "${BEFORE_BUILD:-}" ]; then
	echo "fleet: BEFORE_BUILD report $before_s s, peak RSS $((before_kib / 1024)) MiB;" \
		"this / before: time $(bench_ratio "$report_s" "$before_s"), memory" \
		"$(bench_ratio "$report_kib" "$before_kib")"
fi
