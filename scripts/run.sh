#!/usr/bin/env bash
# run.sh BUILD [serve options] - start gpuscope serve on this machine's GPUs,
# or on the simulator (with a loud banner) when there is no NVIDIA driver.
set -euo pipefail
build=${1:-build}
shift || true
bin="$build/gpuscope"

have_driver() {
	[ -n "${GPUSCOPE_NVML_LIB:-}" ] && return 0
	[ -e /proc/driver/nvidia/version ] || return 1
	ldconfig -p 2>/dev/null | grep -q 'libnvidia-ml\.so\.1'
}

if have_driver; then
	exec "$bin" serve "$@"
fi
cat >&2 <<'MSG'

  No NVIDIA driver found on this machine (no /proc/driver/nvidia or no
  libnvidia-ml.so.1): starting gpuscope on its GPU SIMULATOR instead.

MSG
exec "$bin" serve --demo "$@"
