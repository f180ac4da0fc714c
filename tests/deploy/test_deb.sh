#!/usr/bin/env bash
# test_deb.sh - `make deb`'s package, installed with dpkg into a temporary root.
#
#   test_deb.sh BUILD_DIR
#
# Builds the package from BUILD_DIR (deploy/debian/build-deb.sh, what `make deb` runs);
# checks that the host's dpkg would install it (its Depends are satisfied: dpkg --no-act
# -i, as root); installs it for real with `dpkg --root` into a temporary root (the
# maintainer scripts see DPKG_ROOT and leave the host's systemd alone); runs the installed
# binary (`version`, and `doctor --demo`, which finds the simulator library in
# /usr/lib/gpuscope); checks the unit with systemd-analyze (verify: no warning at all;
# security: exposure at most 2.5) and the man page (groff warnings; every option of every
# command's --help documented); then purges the package.
set -euo pipefail
build="$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
fail() { echo "FAIL: $*" >&2; exit 1; }

deb="$(bash "$repo/deploy/debian/build-deb.sh" "$build")"
[ -f "$deb" ] || fail "build-deb.sh made no package"
version="$("$build/gpuscope" version)"

if [ "$(id -u)" -eq 0 ]; then
	dpkg --no-act -i "$deb" >/dev/null || fail "dpkg -i would not install $deb on this host"
	echo "ok: dpkg -i would install it here (Depends satisfied)"
fi

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
# The empty root has no libc package: Depends are checked above against the host's.
dpkg --root="$root" --force-depends --force-script-chrootless --force-not-root -i "$deb" >/dev/null 2>&1 ||
	fail "dpkg --root -i failed"
dpkg --root="$root" -s gpuscope | grep -q '^Status: install ok installed' || fail "not installed"
for f in usr/bin/gpuscope usr/lib/gpuscope/libgpuscope-nvml-sim.so lib/systemd/system/gpuscope.service \
	etc/default/gpuscope etc/gpuscope/gpuscope.yaml usr/share/man/man1/gpuscope.1.gz; do
	[ -e "$root/$f" ] || fail "the package does not install /$f"
done
for f in /etc/default/gpuscope /etc/gpuscope/gpuscope.yaml; do
	grep -qx "$f" "$root/var/lib/dpkg/info/gpuscope.conffiles" || fail "$f is not a conffile"
done

got="$(env -u GPUSCOPE_SIM_LIB "$root/usr/bin/gpuscope" version)"
[ "$got" = "$version" ] || fail "installed binary says '$got', the build '$version'"
out="$(env -u GPUSCOPE_SIM_LIB "$root/usr/bin/gpuscope" doctor --demo 2>&1)" || true
grep -q "$root/usr/bin/../lib/gpuscope/libgpuscope-nvml-sim.so" <<<"$out" ||
	fail "the installed binary did not load the installed simulator: $out"
echo "ok: installed with dpkg --root; '$got'; doctor --demo reads /usr/lib/gpuscope's simulator"

# The installed configuration as the unit passes it (the address and history moved here).
log="$root/serve.log"
env -u GPUSCOPE_SIM_LIB "$root/usr/bin/gpuscope" serve --config "$root/etc/gpuscope/gpuscope.yaml" \
	--demo --listen 127.0.0.1:0 --history "$root/history.db" 2>"$log" &
agent=$!
port=""
for _ in $(seq 1 100); do
	port="$(sed -n 's/.* on port \([0-9]*\).*/\1/p' "$log" | head -1)"
	[ -n "$port" ] && break
	kill -0 "$agent" 2>/dev/null || break
	sleep 0.1
done
health="$(python3 -c 'import sys, urllib.request; print(urllib.request.urlopen("http://127.0.0.1:%s/health" % sys.argv[1], timeout=5).read().decode().strip())' "$port" 2>&1)" || true
kill "$agent" 2>/dev/null || true
wait "$agent" 2>/dev/null || true
[ "$health" = OK ] || fail "serve --config with the installed gpuscope.yaml: /health '$health'; $(cat "$log")"
echo "ok: the installed gpuscope.yaml runs serve (/health OK)"

if command -v systemd-analyze >/dev/null; then
	# systemd-analyze resolves the unit's dependencies (sysinit.target, ...) in the root.
	for u in /lib/systemd/system/*.target /lib/systemd/system/*.slice /lib/systemd/system/*.socket; do
		[ -e "$u" ] && cp -n "$u" "$root/lib/systemd/system/" 2>/dev/null || true
	done
	# and the unit's /bin/kill, from procps, which the package depends on.
	install -D /bin/kill "$root/bin/kill"
	unit="$root/lib/systemd/system/gpuscope.service"
	warnings="$(MANPATH="$root/usr/share/man" systemd-analyze verify --root="$root" "$unit" 2>&1)" ||
		fail "systemd-analyze verify: $warnings"
	[ -z "$warnings" ] || fail "systemd-analyze verify warns: $warnings"
	exposure="$(systemd-analyze security --offline=true --root="$root" gpuscope.service 2>&1 |
		sed -n 's/.*Overall exposure level for gpuscope.service: \([0-9.]*\).*/\1/p')"
	[ -n "$exposure" ] || fail "systemd-analyze security gave no exposure level"
	awk -v e="$exposure" 'BEGIN { exit !(e <= 2.5) }' || fail "unit exposure $exposure > 2.5"
	echo "ok: systemd-analyze verify is silent; security exposure $exposure"
fi

man="$(mktemp)"
zcat "$root/usr/share/man/man1/gpuscope.1.gz" >"$man"
warn="$(groff -man -Tutf8 -ww -z "$man" 2>&1)"
[ -z "$warn" ] || fail "groff warns on gpuscope.1: $warn"
missing=()
# Every command `gpuscope --help` lists has its section; every option of each, its entry.
commands=$("$build/gpuscope" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z]\+\) .*/\1/p')
[ -n "$commands" ] || fail "no commands in gpuscope --help"
for cmd in $commands; do
	grep -qx ".SS gpuscope $cmd" "$man" || missing+=("the command $cmd")
done
for cmd in $commands; do
	[ "$cmd" = help ] || [ "$cmd" = version ] && continue
	for opt in $("$build/gpuscope" "$cmd" --help 2>&1 | grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u); do
		grep -qF -- "$(sed 's/-/\\-/g' <<<"$opt")" "$man" || missing+=("$cmd $opt")
	done
done
rm -f "$man"
[ ${#missing[@]} -eq 0 ] || fail "gpuscope.1 does not document: ${missing[*]}"
echo "ok: gpuscope.1 renders without warnings and documents every option of every command"

dpkg --root="$root" --force-depends --force-script-chrootless --force-not-root -P gpuscope >/dev/null 2>&1 ||
	fail "dpkg -P failed"
[ ! -e "$root/usr/bin/gpuscope" ] && [ ! -e "$root/etc/default/gpuscope" ] || fail "purge left files"
echo "ok: purged"
