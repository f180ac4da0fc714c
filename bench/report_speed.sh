#!/usr/bin/env bash
# bench/report_speed.sh [BUILD] - `gpuscope report` time and peak RSS on the history
# layout gpuscope writes now (layout 2: GPU rows clustered by (gpu, t), per-minute
# rollups) against layout 1 (rows in arrival order plus a (gpu_id, t) index, no
# rollups), both measured in the same run on the same rows.
#
# Cases (targets from issue 19):
#   day8:    8 GPUs x 24 h of 1 s rows                    (under 0.5 s and 64 MiB)
#   week64: 64 GPUs x 7 days, the last FLEET_RETENTION_H hours at 1 s, the rest in
#           1-minute rows                                  (under 10 s)
#
# How each history is made: store/bench_store writes it through the store API (the
# agent's calls; week64 with --sparse: one row per GPU-minute where the row is folded
# by the end anyway, so a week of 64 GPUs takes a minute to write, not hours).  The
# layout 1 twin is a copy rebuilt by the SQL below: the GPU tables as rowid tables in
# arrival order (t, then GPU, as the agent appended them) with layout 1's unique
# (gpu_id, t) index, proc_second keyed by time first again, gpu_rollup dropped, schema
# version 1.  The current binary reads a
# layout 1 file read-only as it is (no migration: only a writer migrates), folding
# its seconds into minutes on the fly.  With OLD_BUILD=<a build of the commit before
# layout 2> the old binary (which also mapped the file: mmap_size 1 GiB) reads the
# layout 1 file too.  The migration of the day8 twin is timed last
# (bench_store --migrate, the agent's writer open).
#
# BEFORE_BUILD=<a build of an earlier commit> reads the same layout 2 files with that
# binary too and prints this one's time and memory as ratios of it (the before/after of
# a change to the reader); LAYOUT1=0 then skips the layout 1 twins.  With BEFORE_BUILD
# the week64 file is also reported over its last 6 h (six64: 64 GPUs of 1 s rows).
#
# Each report runs 3 times (week64 layout 1 once: it is slow); the best wall time and
# the peak RSS (GNU time %M) of that run are kept.  Needs the sqlite3 shell and GNU
# time.  Disk: about 0.35 GB per day8 file and 1.1 GB per week64 file at the default
# FLEET_RETENTION_H=6 (the agent's default 48 needs 4.3 GB each); FLEET=0 skips it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-${BUILD:-$root/build}}
old_build=${OLD_BUILD:-}
before_build=${BEFORE_BUILD:-}
layout1_on=${LAYOUT1:-1}
fleet=${FLEET:-1}
fleet_h=${FLEET_RETENTION_H:-6}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

layout1() { # the layout 1 twin of $1 at $2
	cp "$1" "$2"
	sqlite3 "$2" <<-'SQL'
		BEGIN;
		DROP VIEW IF EXISTS gpu_second_v; DROP VIEW IF EXISTS gpu_minute_v;
		CREATE TABLE gpu_second_l1 AS SELECT * FROM gpu_second WHERE 0;
		INSERT INTO gpu_second_l1 SELECT * FROM gpu_second ORDER BY t, gpu_id;
		DROP TABLE gpu_second; ALTER TABLE gpu_second_l1 RENAME TO gpu_second;
		CREATE UNIQUE INDEX gpu_second_key ON gpu_second(gpu_id, t);
		CREATE TABLE gpu_minute_l1 AS SELECT * FROM gpu_minute WHERE 0;
		INSERT INTO gpu_minute_l1 SELECT * FROM gpu_minute ORDER BY t, gpu_id;
		DROP TABLE gpu_minute; ALTER TABLE gpu_minute_l1 RENAME TO gpu_minute;
		CREATE UNIQUE INDEX gpu_minute_key ON gpu_minute(gpu_id, t);
		DROP VIEW IF EXISTS proc_second_v;
		CREATE TABLE proc_second_l1(t INTEGER NOT NULL, gpu_id INTEGER NOT NULL,
			proc_id INTEGER NOT NULL, gpu_mem_bytes REAL, sm_util REAL, cpu_cores REAL,
			PRIMARY KEY(t, gpu_id, proc_id)) WITHOUT ROWID;
		INSERT INTO proc_second_l1 SELECT t, gpu_id, proc_id, gpu_mem_bytes, sm_util,
			cpu_cores FROM proc_second;
		DROP TABLE proc_second; ALTER TABLE proc_second_l1 RENAME TO proc_second;
		DROP TABLE gpu_rollup; UPDATE schema_version SET version = 1;
		COMMIT;
	SQL
}

used_mb() { # pages in use (the layout 1 twin keeps the old tables' pages free)
	sqlite3 "$1" 'SELECT ((SELECT page_count FROM pragma_page_count) - (SELECT
		freelist_count FROM pragma_freelist_count)) * (SELECT page_size FROM
		pragma_page_size) / 1000000'
}

best() { # N BIN DB FROM TO: "wall_s cpu_s peak_MiB" of the fastest of N reports
	local n=$1 bin=$2 db=$3 from=$4 to=$5 line b=""
	for _ in $(seq "$n"); do
		/usr/bin/time -o "$dir/time" -f '%e %U %S %M' "$bin" report --history "$db" \
			--from "$from" --to "$to" >/dev/null 2>&1
		line=$(awk '{ printf "%.2f %.2f %.1f", $1, $2 + $3, $4 / 1024 }' "$dir/time")
		if [ -z "$b" ] || awk -v a="$line" -v c="$b" 'BEGIN { split(a, x); split(c, y);
			exit !(x[1] < y[1]) }'; then b=$line; fi
	done
	echo "$b"
}

row() { # LABEL "wall cpu rss" [baseline "wall cpu rss"]
	local ratio=""
	if [ -n "${3:-}" ]; then
		ratio=$(awk -v a="$2" -v b="$3" 'BEGIN { split(a, x); split(b, y);
			printf "  (%.3fx the time, %.2fx the memory)", x[1] / y[1], x[3] / y[3] }')
	fi
	read -r w c m <<<"$2"
	printf '  %-44s %7.2f s wall  %7.2f s CPU  %7.1f MiB peak%s\n' "$1" "$w" "$c" "$m" "$ratio"
}

measure() { # NAME NEW_DB FROM TO RUNS_OLD
	local name=$1 db=$2 from=$3 to=$4 runs_old=$5 new old old_bin before
	new=$(best 3 "$build/gpuscope" "$db" "$from" "$to")
	if [ -n "$before_build" ]; then
		echo "$name: $(used_mb "$db") MB of pages in use (layout 2); report --from $from --to $to"
		before=$(best 3 "$before_build/gpuscope" "$db" "$from" "$to")
		row "layout 2, this gpuscope" "$new"
		row "layout 2, BEFORE_BUILD gpuscope (baseline)" "$before"
		row "this against BEFORE_BUILD, same file" "$new" "$before"
	fi
	[ "$layout1_on" != 0 ] || return 0
	layout1 "$db" "$dir/$name-l1.db"
	echo "$name: $(used_mb "$db") MB of pages in use (layout 2), $(used_mb \
		"$dir/$name-l1.db") MB (layout 1); report --from $from --to $to"
	old=$(best "$runs_old" "$build/gpuscope" "$dir/$name-l1.db" "$from" "$to")
	row "layout 2, this gpuscope" "$new"
	row "layout 1, this gpuscope (baseline)" "$old"
	if [ -n "$old_build" ]; then
		old_bin=$(best "$runs_old" "$old_build/gpuscope" "$dir/$name-l1.db" "$from" "$to")
		row "layout 1, OLD_BUILD gpuscope (baseline)" "$old_bin"
		row "layout 2 against OLD_BUILD on layout 1" "$new" "$old_bin"
	else
		row "layout 2 against layout 1" "$new" "$old"
	fi
	rm -f "$dir/$name-l1.db"*
}

"$build/store/bench_store" --gpus 8 --days 1 --path "$dir/day8.db" --keep >"$dir/day8.txt"
read -r t0 t1 < <(sqlite3 -separator ' ' "$dir/day8.db" 'SELECT min(t), max(t) FROM gpu_second')
measure day8 "$dir/day8.db" "$t0" "$t1" 3

if [ "$fleet" != 0 ]; then
	"$build/store/bench_store" --gpus 64 --days 7 --sparse --retention-1s "$fleet_h" \
		--path "$dir/week64.db" --keep >"$dir/week64.txt"
	read -r t0 t1 < <(sqlite3 -separator ' ' "$dir/week64.db" \
		'SELECT (SELECT min(t) FROM gpu_minute), max(t) FROM gpu_second')
	rm -f "$dir/day8.db" "$dir/day8-l1.db"* # room for the week
	measure week64 "$dir/week64.db" "$t0" "$t1" 1
	if [ -n "$before_build" ]; then
		layout1_on=0 measure six64 "$dir/week64.db" "$((t1 - 6 * 3600 + 1))" "$t1" 1
	fi
	rm -f "$dir/week64-l1.db"*
fi
[ "$layout1_on" != 0 ] || exit 0

layout1_day=${dir}/day8-migrate.db
if [ ! -e "$dir/day8.db" ]; then
	"$build/store/bench_store" --gpus 8 --days 1 --path "$dir/day8.db" --keep >/dev/null
fi
layout1 "$dir/day8.db" "$layout1_day"
echo "migration of the day8 layout 1 file ($(used_mb "$layout1_day") MB in use):"
echo "  $("$build/store/bench_store" --migrate "$layout1_day")"
