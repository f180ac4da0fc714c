#!/usr/bin/env bash
# deps.sh - install the Debian packages gpuscope needs, and only those missing.
#
#   scripts/deps.sh build   compiler, CMake and the libraries gpuscope links
#   scripts/deps.sh test    build + cmocka, Prometheus/promtool, Alertmanager, python3,
#                           clang's libFuzzer, tmux, chromium
#   scripts/deps.sh bench   build + wrk and nginx (bench/run.sh)
#   scripts/deps.sh web     fill the npm cache from web/package-lock.json (uPlot for the
#                           dashboard, playwright-core for its test), so the build can
#                           install them offline; needs npm (nodejs) and the network once
#   scripts/deps.sh list SET   print SET's package names, one a line (installs nothing)
#
# Runs apt-get as root (or through sudo); never downloads anything else.
set -euo pipefail

build_pkgs=(gcc make cmake pkg-config libmicrohttpd-dev libjansson-dev zlib1g-dev libsqlite3-dev
            libcurl4-openssl-dev libyaml-dev libgnutls28-dev libcrypt-dev libncurses-dev)
# clang and libclang-rt-14-dev: the fuzz targets (fuzz/, scripts/fuzz.sh), never the build.
test_pkgs=("${build_pkgs[@]}" libcmocka-dev prometheus prometheus-alertmanager python3 sqlite3
           openssl clang libclang-rt-14-dev tmux chromium)
bench_pkgs=("${build_pkgs[@]}" wrk nginx-light sqlite3 time)

pick() {
	case "$1" in
	build) want=("${build_pkgs[@]}") ;;
	test) want=("${test_pkgs[@]}") ;;
	bench) want=("${bench_pkgs[@]}") ;;
	node) want=(nodejs npm) ;;
	*)
		echo "usage: $0 build|test|bench|web, or $0 list build|test|bench" >&2
		exit 2
		;;
	esac
}

if [ "${1:-}" = web ]; then
	# npm comes from Debian (nodejs, npm) when the machine has none of its own.
	if ! command -v npm >/dev/null 2>&1; then
		bash "$0" node || true
	fi
	if ! command -v npm >/dev/null 2>&1; then
		echo "deps: npm not found: the dashboard builds without charts (install nodejs/npm)" >&2
		exit 0
	fi
	tmp=$(mktemp -d)
	cp "$(dirname "$0")/../web/package.json" "$(dirname "$0")/../web/package-lock.json" "$tmp/"
	(cd "$tmp" && npm ci --prefer-offline --ignore-scripts --no-audit --no-fund >/dev/null) ||
		echo "deps: npm ci failed: the dashboard builds without charts" >&2
	rm -rf "$tmp"
	exit 0
fi

if [ "${1:-}" = list ]; then
	pick "${2:-}"
	printf '%s\n' "${want[@]}"
	exit 0
fi
pick "${1:-build}"

missing=()
for p in "${want[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
	sudo=()
elif command -v sudo >/dev/null 2>&1; then
	sudo=(sudo)
else
	echo "deps: missing packages (${missing[*]}) and not root: install them with apt-get" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
# --no-install-recommends keeps the prometheus package from pulling in exporters.
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
