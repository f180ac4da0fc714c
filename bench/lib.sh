# shellcheck shell=bash disable=SC2034  # its globals are read by the scripts that source it
# bench/lib.sh - helpers shared by bench/run.sh (simulator) and bench/gpu.sh
# (real GPU); sourced, never run.  Every name starts with bench_.
#
# CPU is read two ways.  /proc/PID/stat (utime+stime, whole process) is what
# the issue asks for, but it counts 1/CLK_TCK s ticks, coarse next to an agent
# that uses a few ms per second.  /proc/PID/task/TID/schedstat gives each
# thread's run time in ns; it splits the agent into its sampler threads (the
# fast and slow tiers, which sleep in a futex between sweeps) and the rest
# (event thread, HTTP threads, main).  A thread is classed by the system call
# it sleeps in, read once after warm-up: a sweep lasts microseconds out of
# 100 ms, so a sampler thread is almost always caught in its futex wait.

bench_log() { printf '%s\n' "bench: $*" >&2; }
bench_die() {
	printf '%s\n' "bench: FAILED: $*" >&2
	exit 1
}

bench_clk_tck=$(getconf CLK_TCK)

# Whole-process CPU seconds (utime+stime of all threads) from /proc/PID/stat.
# The command name (field 2) may hold spaces, so count from its closing paren.
bench_proc_cpu_s() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	# After "comm) " field 3 (state) is $1, so utime (14) is $12, stime (15) $13.
	awk -v tck="$bench_clk_tck" '{ printf "%.4f\n", ($12 + $13) / tck }' <<<"$stat"
}

# futex(2)'s number on this machine's architecture.
bench_futex_nr() {
	case "$(uname -m)" in
	x86_64) echo 202 ;;
	aarch64 | arm64) echo 98 ;;
	*) echo -1 ;;
	esac
}

# Prints "TID sampler" or "TID other" for each thread of PID.
bench_classify_threads() {
	local pid=$1 futex t nr
	futex=$(bench_futex_nr)
	for t in /proc/"$pid"/task/*; do
		nr=$(cut -d' ' -f1 "$t/syscall" 2>/dev/null) || nr=
		if [ "$nr" = "$futex" ]; then
			echo "${t##*/} sampler"
		else
			echo "${t##*/} other"
		fi
	done
}

# Run time in ns of the listed threads of PID, summed (schedstat, else stat).
bench_threads_cpu_ns() {
	local pid=$1 sum=0 tid v
	shift
	for tid in "$@"; do
		if [ -r "/proc/$pid/task/$tid/schedstat" ]; then
			v=$(cut -d' ' -f1 "/proc/$pid/task/$tid/schedstat" 2>/dev/null) || v=0
		else
			v=$(awk -v tck="$bench_clk_tck" '{ s = $0; sub(/.*\) /, "", s); split(s, f, " ")
				printf "%.0f", (f[12] + f[13]) / tck * 1e9 }' "/proc/$pid/task/$tid/stat" \
				2>/dev/null) || v=0
		fi
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

# A value from /proc/PID/status, in kB (VmRSS, VmHWM) or a count (Threads).
bench_proc_status() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

bench_now_s() { date +%s.%N; }

# a / b with two decimals ("0.00" when b is 0 or empty).
# The median of the numbers given (0 when none): bench_median 3 1 2 -> 2
bench_median() {
	[ $# -gt 0 ] || set -- 0
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2];
		      else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
bench_ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# "met" or "MISSED": bench_verdict VALUE <=|>= TARGET
bench_verdict() {
	awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
		ok = (op == "<=") ? (v <= t) : (v >= t); print (ok ? "met" : "MISSED") }'
}

# Starts `gpuscope serve ARGS...` in the background with stderr in LOG and
# waits for "serving N GPUs on port P".  Sets bench_agent_pid, bench_agent_port
# and bench_agent_gpus.  Usage: bench_agent_start LOG BIN serve ARGS...
bench_agent_pid=
bench_agent_start() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	bench_agent_pid=$!
	bench_agent_port=
	local _i
	for _i in $(seq 150); do
		bench_agent_port=$(sed -n 's/.*serving [0-9]* GPUs\{0,1\} on port \([0-9]*\).*/\1/p' "$log" |
			head -n1)
		[ -n "$bench_agent_port" ] && break
		kill -0 "$bench_agent_pid" 2>/dev/null || bench_die "gpuscope exited at start (see $log)"
		sleep 0.1
	done
	[ -n "$bench_agent_port" ] || bench_die "gpuscope did not report its port in 15 s (see $log)"
	bench_agent_gpus=$(sed -n 's/.*serving \([0-9]*\) GPUs\{0,1\} on port.*/\1/p' "$log" | head -n1)
}

bench_agent_stop() {
	if [ -n "$bench_agent_pid" ] && kill -0 "$bench_agent_pid" 2>/dev/null; then
		kill -TERM "$bench_agent_pid" 2>/dev/null || true
		wait "$bench_agent_pid" 2>/dev/null || true
	fi
	bench_agent_pid=
}

# Measures the running agent's CPU over WINDOW seconds (call after warm-up).
# Sets: bench_win_s, bench_cpu_s (whole process, /proc/PID/stat),
# bench_sampler_cpu_s, bench_other_cpu_s (schedstat split), bench_sampler_threads.
bench_measure_cpu() {
	local pid=$1 window=$2 c0 c1 t0 t1 s0 s1 o0 o1
	local -a samplers=() others=()
	local tid class
	while read -r tid class; do
		if [ "$class" = sampler ]; then samplers+=("$tid"); else others+=("$tid"); fi
	done < <(bench_classify_threads "$pid")
	bench_sampler_threads=${#samplers[@]}
	c0=$(bench_proc_cpu_s "$pid") || bench_die "gpuscope died before the CPU window"
	s0=$(bench_threads_cpu_ns "$pid" "${samplers[@]}")
	o0=$(bench_threads_cpu_ns "$pid" "${others[@]}")
	t0=$(bench_now_s)
	sleep "$window"
	c1=$(bench_proc_cpu_s "$pid") || bench_die "gpuscope died during the CPU window"
	s1=$(bench_threads_cpu_ns "$pid" "${samplers[@]}")
	o1=$(bench_threads_cpu_ns "$pid" "${others[@]}")
	t1=$(bench_now_s)
	read -r bench_win_s bench_cpu_s bench_sampler_cpu_s bench_other_cpu_s < <(awk \
		-v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" -v s0="$s0" -v s1="$s1" \
		-v o0="$o0" -v o1="$o1" 'BEGIN {
		printf "%.3f %.4f %.6f %.6f\n", t1 - t0, c1 - c0, (s1 - s0) / 1e9, (o1 - o0) / 1e9 }')
}

# CPU seconds over a window -> microseconds per GPU-sweep: bench_per_sweep_us
# CPU_S WINDOW_S GPUS INTERVAL_S
bench_per_sweep_us() {
	awk -v c="$1" -v w="$2" -v n="$3" -v p="$4" \
		'BEGIN { printf "%.3f", (w > 0 && n > 0 ? c / (w / p * n) * 1e6 : 0) }'
}
bench_core_pct() { awk -v c="$1" -v w="$2" 'BEGIN { printf "%.2f", (w > 0 ? c / w * 100 : 0) }'; }

# Mean of gpuscope_sample_duration_seconds{tier="fast"} over GPUs, in us.
bench_fast_sweep_wall_us() {
	awk '/^gpuscope_sample_duration_seconds\{/ && /tier="fast"/ { s += $NF; n++ }
		END { if (n) printf "%.3f", s / n * 1e6; else printf "n/a" }' "$1"
}

# Compiles bench/nvml_floor.c against the project's loader: bench_build_floor ROOT OUT_BIN
bench_build_floor() {
	cc -std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$1" \
		"$1/bench/nvml_floor.c" "$1/nvml/nvml_loader.c" -ldl -o "$2"
}

# A "key value" line of nvml_floor's output: bench_floor_key FILE KEY
bench_floor_key() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
