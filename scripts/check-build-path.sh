#!/usr/bin/env bash
# check-build-path.sh - prove that `make run` works on a machine that has only the
# packages `scripts/deps.sh build` installs.
#
# CI installs the test packages before it runs the tests, so a build that quietly needs
# one of them (a library, a header, a tool) stays green there while the README's first
# command fails on every fresh machine.  This script hides every file of every package
# that only the test path installs (the `test` list minus the `build` list), each masked
# by /dev/null in a private mount namespace, then configures and builds into a new
# directory through `make build`, and starts the result as `make run` does, long enough
# to see it serve.  Nothing outside the namespace changes.  Needs root (CI runs as root).
#
#   scripts/check-build-path.sh            exit 0 when the build path works
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then
	echo "check-build-path: needs root and unshare(1) to hide the test packages" >&2
	exit 1
fi

mapfile -t build < <(bash scripts/deps.sh list build)
mapfile -t test < <(bash scripts/deps.sh list test)
hidden=()
for p in "${test[@]}"; do
	case " ${build[*]} " in *" $p "*) continue ;; esac
	hidden+=("$p")
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Regular files and links only: a directory stays, but nothing a build could use in it.
for p in "${hidden[@]}"; do
	dpkg-query -L "$p" 2>/dev/null || true
done | while read -r f; do
	if [ -f "$f" ] && [ ! -d "$f" ]; then printf '%s\n' "$f"; fi
done | sort -u >"$work/masked"
echo "check-build-path: hiding $(wc -l <"$work/masked") files of: ${hidden[*]}"

# Inside the namespace: mask, build afresh, start as `make run` does (port 0: any free
# port) and wait for the line that says it serves.  The agent is stopped with SIGTERM.
unshare --mount --propagation private bash -euo pipefail -c '
	work=$1
	while read -r f; do mount --bind /dev/null "$f" 2>/dev/null || true; done <"$work/masked"
	if pkg-config --exists cmocka 2>/dev/null; then
		echo "check-build-path: cmocka is still visible; the mask did not work" >&2
		exit 1
	fi
	make build BUILD="$work/build" >"$work/build.log" 2>&1 || {
		cat "$work/build.log" >&2
		echo "check-build-path: make build failed with the test-only packages hidden:" \
		     "a build dependency is installed only by the test path" >&2
		exit 1
	}
	make run BUILD="$work/build" ARGS="--listen 127.0.0.1:0" >"$work/run.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 100); do
		grep -q "serving [0-9]* GPU" "$work/run.log" && break
		sleep 0.1
	done
	pkill -TERM -P "$pid" 2>/dev/null || true
	pkill -TERM -f "$work/build/gpuscope serve" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	if ! grep -q "serving [0-9]* GPU" "$work/run.log"; then
		cat "$work/run.log" >&2
		echo "check-build-path: make run did not start serving" >&2
		exit 1
	fi
' _ "$work"
echo "check-build-path: ok: make run builds and serves with only the build packages"
