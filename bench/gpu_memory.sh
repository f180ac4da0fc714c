#!/usr/bin/env bash
# bench/gpu_memory.sh [SECONDS] - the agent's memory beyond libnvidia-ml's own, on a GPU.
#
# The baseline is a bare C program (built here with cc) that loads libnvidia-ml, calls
# nvmlInit and takes every device's handle: what any NVML reader pays.  Then
# `gpuscope serve` with history on (a fresh file), scraped at 1 Hz (gzip and plain, one
# diagnosis and one series call each time) for SECONDS (default 120).  Printed: both
# processes' RSS and anonymous memory from /proc/PID/smaps_rollup, the agent's RSS every
# 20 s (is it flat?), the difference (the issue's target: under 8 MiB), and the mappings
# whose private pages differ most between the two (which library, or the heap).
#
# Needs a GPU, cc and curl, and a build (BUILD=dir, default build/).  GPUSCOPE_NVML_LIB
# points both at another library (the simulator: a dry run without a GPU).  Read-only.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$root/build}
secs=${1:-120}
# shellcheck source=SCRIPTDIR/lib.sh
. "$root/bench/lib.sh"
[ -x "$build/gpuscope" ] || bench_die "$build/gpuscope not found (build first, or set BUILD)"
for tool in cc curl; do
	command -v "$tool" >/dev/null || bench_die "$tool is not installed"
done
work=$(mktemp -d)
trap 'bench_agent_stop; rm -rf "$work"' EXIT

# Private pages per mapped file (heap and anonymous mappings as "[anon]"), in KiB.
private_by_mapping() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / { f = NF >= 6 ? $6 : "[anon]"; sub(".*/", "", f); next }
	     /^Private_(Clean|Dirty):/ { kb[f] += $2 }
	     END { for (f in kb) if (kb[f] > 0) print f, kb[f] }' "/proc/$1/smaps" | sort
}
rollup() { awk -v k="$2" '$1 == k ":" { print $2 }' "/proc/$1/smaps_rollup"; }

cat >"$work/bare.c" <<'C'
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
/* libnvidia-ml loaded, initialized, every handle taken; then waits to be measured. */
int main(void)
{
	const char *lib = getenv("GPUSCOPE_NVML_LIB");
	void *h = dlopen(lib && *lib ? lib : "libnvidia-ml.so.1", RTLD_NOW);
	if (!h) {
		fprintf(stderr, "bare: %s\n", dlerror());
		return 1;
	}
	int (*init)(void) = (int (*)(void))dlsym(h, "nvmlInit_v2");
	int (*count)(unsigned *) = (int (*)(unsigned *))dlsym(h, "nvmlDeviceGetCount_v2");
	int (*handle)(unsigned, void **) =
	    (int (*)(unsigned, void **))dlsym(h, "nvmlDeviceGetHandleByIndex_v2");
	unsigned n = 0;
	if (!init || !count || !handle || init() != 0 || count(&n) != 0) {
		fprintf(stderr, "bare: nvmlInit failed\n");
		return 1;
	}
	for (unsigned i = 0; i < n; i++) {
		void *d;
		handle(i, &d);
	}
	printf("ready %u\n", n);
	fflush(stdout);
	pause();
	return 0;
}
C
cc -O2 -o "$work/bare" "$work/bare.c" -ldl
"$work/bare" >"$work/bare.out" &
bare=$!
for _ in $(seq 100); do
	grep -q ready "$work/bare.out" 2>/dev/null && break
	kill -0 "$bare" 2>/dev/null || bench_die "the bare NVML program failed"
	sleep 0.1
done
sleep 1
bare_rss=$(rollup "$bare" Rss)
bare_anon=$(rollup "$bare" Anonymous)
private_by_mapping "$bare" >"$work/bare.map"
kill "$bare"
wait "$bare" 2>/dev/null || true

bench_agent_start "$work/serve.log" "$build/gpuscope" serve --listen 127.0.0.1:0 \
	--history "$work/history.db"
pid=$bench_agent_pid
url=http://127.0.0.1:$bench_agent_port
for i in $(seq "$secs"); do
	# (503 while the GPUs are still being probed, or before the first diagnosis)
	curl -fs -o /dev/null -H 'Accept-Encoding: gzip' "$url/metrics" || true
	curl -fs -o /dev/null "$url/metrics" || true
	curl -fs -o /dev/null "$url/api/v1/diagnosis" || true
	curl -fs -o /dev/null "$url/api/v1/series?metric=gpu_util&since=10m" || true
	[ $((i % 20)) -ne 0 ] || echo "agent RSS at ${i} s: $(rollup "$pid" Rss) KiB"
	sleep 1
done
rss=$(rollup "$pid" Rss)
anon=$(rollup "$pid" Anonymous)
private_by_mapping "$pid" >"$work/agent.map"
bench_agent_stop

echo "bare nvmlInit: RSS $bare_rss KiB, anonymous $bare_anon KiB ($(awk '{print $2}' "$work/bare.out") GPUs)"
echo "agent:         RSS $rss KiB, anonymous $anon KiB (history on, ${secs} s of 1 Hz scrapes)"
awk -v a="$rss" -v b="$bare_rss" -v x="$anon" -v y="$bare_anon" 'BEGIN {
	printf "beyond NVML:   %.1f MiB (anonymous %+.1f MiB); target under 8 MiB\n",
	       (a - b) / 1024, (x - y) / 1024 }'
echo "private pages, agent minus bare, by mapping (KiB, largest first):"
join -a1 -a2 -e0 -o 0,1.2,2.2 "$work/agent.map" "$work/bare.map" |
	awk '{ d = $2 - $3; if (d != 0) print d, $1 }' | sort -nr | head -15 |
	awk '{ printf "  %-34s %+8d\n", $2, $1 }'
