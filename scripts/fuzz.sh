#!/usr/bin/env bash
# fuzz.sh - build fuzz/ with clang's libFuzzer and run every target for SECONDS each.
#
#   scripts/fuzz.sh [--if-available] [SECONDS]   (default 60; `make fuzz`, FUZZ_SECONDS=...)
#
# Targets run two at a time under ASan and UBSan, each from its committed corpus
# (fuzz/corpus/TARGET, read only) plus what it finds (build-fuzz/work/TARGET).  A crash,
# a leak, undefined behaviour, a 10 s input or 2 GiB of memory is a finding: the input is
# saved as build-fuzz/findings/TARGET-*, the log's tail printed, and the script fails.
# Replay one with build-fuzz/TARGET FILE.  FUZZ_SEED=N fixes libFuzzer's seed: `make test`
# uses 1 so that CI walks the same mutations as the run that passed before a commit;
# `make fuzz` leaves it random to explore further.  --if-available (make test) skips, loudly, when
# clang with libFuzzer is missing instead of failing; scripts/deps.sh test installs it.
set -euo pipefail
cd "$(dirname "$0")/.."

optional=false
if [ "${1:-}" = "--if-available" ]; then
	optional=true
	shift
fi
seconds=${1:-60}
jobs=${FUZZ_JOBS:-2}
out=${BUILD_FUZZ:-build-fuzz}
seed=()
[ -z "${FUZZ_SEED:-}" ] || seed=(-seed="$FUZZ_SEED")

probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }' \
	>"$probe/p.c"
if ! command -v clang >/dev/null 2>&1 ||
	! clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>/dev/null; then
	msg="clang with libFuzzer not found (Debian: apt-get install clang libclang-rt-14-dev)"
	if $optional; then
		echo "fuzz: SKIPPED: $msg" >&2
		exit 0
	fi
	echo "fuzz: $msg" >&2
	exit 1
fi

cmake -S fuzz -B "$out" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$out" -j "$jobs" >/dev/null
targets=$(cd fuzz && ls fuzz_*.c | sed 's/\.c$//')
mkdir -p "$out/findings" "$out/logs"

run_one() {
	local t=$1
	mkdir -p "$out/work/$t"
	"$out/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 "${seed[@]}" \
		-artifact_prefix="$out/findings/$t-" "$out/work/$t" "fuzz/corpus/$t" \
		>"$out/logs/$t.log" 2>&1
}

echo "fuzz: $(echo $targets | wc -w) targets, ${seconds} s each, $jobs at a time${FUZZ_SEED:+, seed $FUZZ_SEED}" >&2
failed=()
declare -A pid_of
for t in $targets; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n || true
	done
	run_one "$t" &
	pid_of[$t]=$!
done
for t in $targets; do
	if wait "${pid_of[$t]}"; then
		runs=$(grep -o 'Done [0-9]* runs' "$out/logs/$t.log" | tail -1 || true)
		echo "fuzz: $t: ok (${runs:-no summary})" >&2
	else
		failed+=("$t")
		echo "fuzz: $t: FINDING; log $out/logs/$t.log, input(s):" >&2
		ls "$out/findings/$t-"* >&2 2>/dev/null || true
		tail -n 40 "$out/logs/$t.log" >&2
	fi
done
[ ${#failed[@]} -eq 0 ] || {
	echo "fuzz: findings in: ${failed[*]}" >&2
	exit 1
}
