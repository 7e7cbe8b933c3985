#!/bin/sh
# The loader experiments behind docs/libc-design.md's "why" notes, in the Debian 11 and
# musl roots, with the bundled interpreter of WORK=/work/scratch-19/x (DT_NEEDED added for
# glibc's other libraries) and of /work/scratch-19/y (the same without them).
#   1. a library with its own DT_RUNPATH that needs libpthread.so.0/librt.so.1/libm.so.6;
#   2. the same with the user's LD_LIBRARY_PATH naming the system's glibc directory;
#   3. nsswitch.conf "passwd: compat" (an NSS module glibc dlopens);
#   4. a DT_RUNPATH library that needs libstdc++.so.6/libgcc_s.so.1, in the musl root.
set -u
here=$(cd "$(dirname "$0")" && pwd)
d11=$HOME/.cache/onefile-tests/roots/bullseye-amd64-74a8a81b2922d18f
musl=/work/scratch-19/roots/musl
x=/work/scratch-19/x y=/work/scratch-19/y
rp=$x/rp
if [ ! -f "$rp/librp.so" ]; then  # librp.so: DT_RUNPATH $ORIGIN/rp.libs, needs libpthread, librt, libm
    mkdir -p "$rp/rp.libs"
    cc -shared -fPIC -O2 -o "$rp/librp.so" "$here/rp.c" -Wl,--enable-new-dtags,-rpath,'$ORIGIN/rp.libs' -lm
    patchelf --add-needed libpthread.so.0 --add-needed librt.so.1 "$rp/librp.so"
    echo 'int rp2(void){return 7;}' > "$rp/rp2.c"
    cc -shared -fPIC -o "$rp/librp2.so" "$rp/rp2.c" -Wl,--enable-new-dtags,-rpath,'$ORIGIN/rp.libs'
    patchelf --add-needed libstdc++.so.6 --add-needed libgcc_s.so.1 "$rp/librp2.so"
fi
hx=$(ls -d $x/cache/app/4be*) hy=$(ls -d $y/cache/app/4be*)
echo "== 1. DT_RUNPATH library needing libpthread/librt/libm, Debian 11, with the added DT_NEEDED"
WORK=$x "$here/inroot.sh" "$d11" 1 "$hx/libc/bin/python" "$rp/rp_check.py"
echo "== 1'. the same, bundled interpreter without them"
rm -rf "$y/rp"; cp -a "$rp" "$y/rp"
WORK=$y "$here/inroot.sh" "$d11" 1 "$hy/libc/bin/python" "$y/rp/rp_check.py"
echo "== 2. LD_LIBRARY_PATH=/lib/x86_64-linux-gnu set by the user (DT_RPATH is searched first)"
ENV="LD_LIBRARY_PATH=/lib/x86_64-linux-gnu" WORK=$x "$here/inroot.sh" "$d11" 1 "$hx/libc/bin/python" "$rp/rp_check.py"
echo "== 3. nsswitch.conf passwd: compat"
ETC=1 WORK=$x "$here/inroot.sh" "$d11" 1 /bin/sh -c "sed -i 's/^passwd:.*/passwd: compat/' /etc/nsswitch.conf
$hx/libc/bin/python -c 'import pwd; print(pwd.getpwuid(0).pw_name, sorted({l.split()[-1] for l in open(\"/proc/self/maps\") if \"nss\" in l}))'"
echo "== 4. DT_RUNPATH library needing libstdc++/libgcc_s, musl root (the executable's DT_RPATH does not apply to it)"
WORK=$x "$here/inroot.sh" "$musl" 1 "$hx/libc/bin/python" -c "import ctypes; print(ctypes.CDLL('$rp/librp2.so').rp2())" 2>&1 | tail -1
echo "== 4'. the same with libstdc++/libgcc_s added as DT_NEEDED of the interpreter (python3-cxx)"
r=$(ls -d $x/cache/runtime/*)
WORK=$x "$here/inroot.sh" "$musl" 1 "$r/libc/bin/python3-cxx" -c "import ctypes; print(ctypes.CDLL('$rp/librp2.so').rp2())" 2>&1 | tail -1
echo "== 5. today's interpreter (DT_RPATH \$ORIGIN/../lib) without /proc: on this machine, then in the Debian 11 root"
orig=$(ls -d $x/cache.orig/runtime/*)
WORK=$x "$here/inroot.sh" / 0 /bin/sh -c "LD_DEBUG=libs $orig/bin/python3 -c 'import sys; print(sys.version)' 2>&1 | grep -E 'calling init:.*libpython|^3\.'"
WORK=$x "$here/inroot.sh" "$d11" 0 "$orig/bin/python3" -c 'import sys; print(sys.version)' 2>&1 | tail -1
echo "== 5'. the same interpreter with the absolute DT_RPATH written at unpack, Debian 11 root's own glibc is too old, so: this machine"
WORK=$x "$here/inroot.sh" / 0 /bin/sh -c "LD_DEBUG=libs $r/bin/python3 -c 'import sys; print(sys.version)' 2>&1 | grep -E 'calling init:.*libpython|^3\.'"
