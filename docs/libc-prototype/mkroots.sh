#!/bin/sh
# Make the foreign roots of the libc experiments under $1 (default /work/scratch-19/roots):
#   empty/  busybox-static only (a FROM scratch container with one static busybox)
#   musl/   busybox-static + Debian's musl package (its loader at /lib/ld-musl-x86_64.so.1)
#   nixos/  busybox-static + this machine's glibc only under /nix/store/<hash>-glibc-2.36/lib
# The Debian 11 root comes from tests/roots.py (debootstrap --variant=minbase bullseye).
set -eu
out=${1:-/work/scratch-19/roots}
debs=$out/.debs
mkdir -p "$debs"
(cd "$debs" && [ -n "$(ls busybox-static_*.deb 2>/dev/null)" ] || apt-get download busybox-static musl)

make_base() {  # a root with busybox's applets as links, and the mount points we use
    rm -rf "$1"; mkdir -p "$1"
    dpkg-deb -x "$debs"/busybox-static_*.deb "$1"
    mkdir -p "$1/proc" "$1/mnt" "$1/dev" "$1/tmp" "$1/work"
    chmod 1777 "$1/tmp"
    chroot "$1" /bin/busybox --install -s /bin
}

make_base "$out/empty"

make_base "$out/musl"
dpkg-deb -x "$debs"/musl_*.deb "$out/musl"

make_base "$out/nixos"
store=$out/nixos/nix/store/6zq0cs0l4yqvwyb2x3zpm2d3qj4ll7ha-glibc-2.36/lib
mkdir -p "$store"
for f in ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1 libutil.so.1 \
         libresolv.so.2 libanl.so.1; do
    cp -L /lib/x86_64-linux-gnu/$f "$store/"
done
ls -la "$out"/*/lib* "$out/nixos/nix/store"/*/lib | head -40
