#!/bin/sh
# One cache directory used by two systems that choose differently (issue 19's "one cache,
# many systems"): the Debian 11 root (bundled glibc) and this machine (its own glibc), the
# same directory at the same path in both. FIRST=d11 unpacks (the launcher's side: the C
# patcher and the twin venv, run inside the root) and starts there first; FIRST=host the
# reverse. Needs /work/scratch-19/x/cache.orig (the real launcher's unpacked layers).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
first=${FIRST:-d11}
work=/work/scratch-19/shared-$first
d11=$HOME/.cache/onefile-tests/roots/bullseye-amd64-74a8a81b2922d18f
py=/work/venv-19/bin/python
rm -rf "$work"; mkdir -p "$work"
cp -a /work/scratch-19/x/cache.orig "$work/cache"
cp /work/scratch-19/x/of_interp_demo /work/scratch-19/x/checks.py "$work/"
runtime=$(ls -d "$work"/cache/runtime/*/ | sed 's#/$##')
# The cache.orig layers were unpacked under /work/scratch-19/x: point the app dirs here.
for app in "$work"/cache/app/*/; do
    sed -i "s#/work/scratch-19/x/#$work/#" "$app/pyvenv.cfg"
    ln -sfn "$runtime/bin/python3" "$app/bin/python"
done
"$py" "$here/proto.py" build "$runtime"             # the builder's side (what the layer holds)
: > "$work/unpack.sh"
for app in "$work"/cache/app/*/; do
    "$py" "$here/proto.py" unpack "$runtime" "${app%/}" --emit-sh "$work/of_interp_demo" >> "$work/unpack.sh"
done
awk '!seen[$0]++' "$work/unpack.sh" > "$work/unpack.sh.1" && mv "$work/unpack.sh.1" "$work/unpack.sh"  # the runtime once
hello=$(grep -l '"hello"' "$work"/cache/app/*/onefile.json | xargs dirname)
start() {  # start hello and a child of sys.executable the way the launcher would, on $1
    root=$1
    python=$(WORK=$work "$here/inroot.sh" "$root" 1 "$work/of_interp_demo" choose "$hello" 2>/dev/null)
    WORK=$work "$here/inroot.sh" "$root" 1 "$python" "$hello/bin/onefile-main" --name "$root"
    WORK=$work "$here/inroot.sh" "$root" 1 "$python" "$work/checks.py" subprocess,spawn,script
}
if [ "$first" = d11 ]; then
    WORK=$work "$here/inroot.sh" "$d11" 1 /bin/sh "$work/unpack.sh"
    start "$d11"; start /
else
    sh "$work/unpack.sh"
    start /; start "$d11"
fi
