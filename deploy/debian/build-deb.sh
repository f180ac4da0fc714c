#!/usr/bin/env bash
# build-deb.sh - the gpuscope Debian package, from a build tree (make deb).
#
#   deploy/debian/build-deb.sh BUILD_DIR     writes BUILD_DIR/gpuscope_VERSION_ARCH.deb
#
# A binary package straight from the CMake build, with no source package or debhelper: the
# tree is staged by `cmake --install --strip` (the binary to /usr/bin, the simulator
# library to /usr/lib/gpuscope), the systemd unit, its configuration
# (/etc/gpuscope/gpuscope.yaml and /etc/default/gpuscope, conffiles) and the man page are
# added, dpkg-shlibdeps computes Depends from the ELF files, and
# dpkg-deb builds it with root ownership.  procps is added for the unit's ExecReload
# (/bin/kill).  The service is installed, not enabled:
# `systemctl enable --now gpuscope` on a GPU host (on a host without GPUs it would only
# restart and fail).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)"

version="$("$build/gpuscope" version | awk '{print $2}')"
arch="$(dpkg --print-architecture)"
stage="$build/deb/gpuscope"
rm -rf "$build/deb"
mkdir -p "$stage/DEBIAN"

cmake --install "$build" --prefix "$stage/usr" --strip >/dev/null
install -D -m 0644 "$here/../systemd/gpuscope.service" "$stage/lib/systemd/system/gpuscope.service"
install -D -m 0644 "$here/../systemd/gpuscope.default" "$stage/etc/default/gpuscope"
install -D -m 0644 "$here/../systemd/gpuscope.yaml" "$stage/etc/gpuscope/gpuscope.yaml"
install -d -m 0755 "$stage/usr/share/man/man1" "$stage/usr/share/doc/gpuscope"
gzip -9n <"$here/gpuscope.1" >"$stage/usr/share/man/man1/gpuscope.1.gz"
install -m 0644 "$here/copyright" "$stage/usr/share/doc/gpuscope/copyright"

# Depends from the libraries the ELF files link, with the versions their symbols need;
# libcurl and GnuTLS are loaded at run time (http/libcurl.c, http/libgnutls.c), so
# dpkg-shlibdeps cannot see them.
shlib="$build/deb/shlibdeps"
mkdir -p "$shlib/debian"
printf 'Source: gpuscope\n\nPackage: gpuscope\nArchitecture: any\n' >"$shlib/debian/control"
depends="$(cd "$shlib" && dpkg-shlibdeps -O "-e$stage/usr/bin/gpuscope" "$stage"/usr/lib/gpuscope/*.so 2>/dev/null |
	sed -n 's/^shlibs:Depends=//p')"
[ -n "$depends" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

cat >"$stage/DEBIAN/control" <<CONTROL
Package: gpuscope
Version: $version
Architecture: $arch
Maintainer: gpuscope developers <gpuscope@localhost>
Section: admin
Priority: optional
Depends: $depends, libcurl3-gnutls (>= 7.85), libgnutls30, procps
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Description: GPU monitoring agent: dcgm-exporter metrics, history, diagnosis
 gpuscope watches every NVIDIA GPU on a host through NVML (no DCGM): Prometheus
 metrics that are a drop-in for dcgm-exporter, per-process attribution, an SQLite
 history and a diagnosis of each GPU (idle, power-capped, bandwidth-bound, ...).
 The service (gpuscope.service) is installed but not enabled.
CONTROL
printf '/etc/default/gpuscope\n/etc/gpuscope/gpuscope.yaml\n' >"$stage/DEBIAN/conffiles"
for script in postinst prerm postrm; do
	install -m 0755 "$here/$script" "$stage/DEBIAN/$script"
done

out="$build/gpuscope_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >/dev/null
echo "$out"
