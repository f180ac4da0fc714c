#!/usr/bin/env bash
# gpu_dropin.sh - the agent as a new user and a dcgm-exporter user meet it, on a real GPU:
# /health and /, one agent per port, the DCGM_FI_* labels of dcgm-exporter's current
# release, the health counters gpuscope reads in one field-values call (answered or
# absent, never 0), a counters CSV (-f) and doctor -f.  Prints what it saw; exits 1 on a
# broken promise.
#
#   BUILD=<dir with gpuscope> bench/gpu_dropin.sh [PORT]     (set LD_LIBRARY_PATH for a
#   build carried from another machine)
set -uo pipefail
bin=${BUILD:-build}/gpuscope
port=${1:-9466}
work=$(mktemp -d)
trap 'kill $agent 2>/dev/null; rm -rf "$work"' EXIT
fail=0
check() { if eval "$2"; then echo "ok    $1"; else echo "FAIL  $1"; fail=1; fi; }

cat >"$work/counters.csv" <<'CSV'
# dcgm-exporter's format: field, type, help
DCGM_FI_DEV_GPU_UTIL,      gauge, GPU utilization (in %).
DCGM_FI_DEV_FB_USED,       gauge, Framebuffer memory used (in MiB).
DCGM_FI_DEV_POWER_USAGE,   gauge, Power draw (in W).
DCGM_FI_DEV_XID_ERRORS,    gauge, Value of the last XID error encountered.
DCGM_FI_DEV_RETIRED_SBE,   counter, Total number of retired pages due to single-bit errors.
DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL, counter, NVLink flow-control CRC errors.
DCGM_FI_DEV_VGPU_LICENSE_STATUS, gauge, vGPU License status
DCGM_FI_DRIVER_VERSION,    label, Driver Version
CSV

NODE_NAME=gpu-node-test "$bin" serve --listen 127.0.0.1:$port --history "$work/h.db" \
	>"$work/out" 2>"$work/err" &
agent=$!
for _ in $(seq 1 100); do grep -q "serving" "$work/err" && break; sleep 0.1; done
sleep 12 # a slow tick and a GPM pair
curl -s "http://127.0.0.1:$port/metrics" >"$work/m"
check "/health answers 200 OK" '[ "$(curl -s -w %{http_code} http://127.0.0.1:$port/health)" = OK200 ]'
check "/ names every endpoint" 'curl -s http://127.0.0.1:$port/ | grep -q /api/v1/diagnosis'
check "DCGM series carry hostname=NODE_NAME" 'grep -q "^DCGM_FI_DEV_GPU_UTIL{.*hostname=\"gpu-node-test\"" "$work/m"'
check "DCGM series carry DCGM_FI_DRIVER_VERSION" 'grep -q "^DCGM_FI_DEV_GPU_UTIL{.*DCGM_FI_DRIVER_VERSION=\"[0-9]" "$work/m"'
check "no Hostname label" '! grep -q "Hostname=" "$work/m"'
echo "--- health counters on this GPU (absent = the driver does not answer the field):"
grep -E '^(gpuscope_retired_pages|gpuscope_nvlink_errors_total|DCGM_FI_DEV_(PSTATE|POWER_USAGE_INSTANT|POWER_VIOLATION|ROW_REMAP_PENDING|XID_ERRORS))' "$work/m" | cut -c1-160 | head -20
check "no health counter reads a made-up value" '! grep -E "^gpuscope_(retired_pages|nvlink_errors)_total.* nan" "$work/m"'
"$bin" serve --listen 127.0.0.1:$port --no-history >/dev/null 2>"$work/err2"
rc=$?
check "a second agent on the port exits 1" '[ $rc = 1 ] && grep -q "port $port is already in use" "$work/err2"'
kill $agent; wait $agent 2>/dev/null
NODE_NAME=gpu-node-test "$bin" serve --listen 127.0.0.1:$port --no-history -f "$work/counters.csv" \
	>/dev/null 2>"$work/err3" &
agent=$!
sleep 4
curl -s "http://127.0.0.1:$port/metrics" >"$work/m3"
echo "--- -f counters.csv:"
grep -E '^# TYPE DCGM_FI' "$work/m3"
grep "counters.csv" "$work/err3"
check "-f serves only the file's fields" '[ "$(grep -c "^# TYPE DCGM_FI" "$work/m3")" -le 6 ] && ! grep -q "^DCGM_FI_DEV_SM_CLOCK" "$work/m3"'
kill $agent; wait $agent 2>/dev/null
echo "--- doctor -f:"
"$bin" doctor -f "$work/counters.csv" | tail -6
exit $fail
