#!/bin/sh
# inroot.sh ROOT PROC(1|0) COMMAND...: run COMMAND in ROOT (chroot) under `env -i`, in a
# private mount namespace where $WORK (default /work/scratch-19/x) appears at the same path
# (the cache holds absolute paths), /dev is the host's, /proc is mounted only when PROC=1,
# and any Python of the root is hidden. ROOT "/" runs on this machine (/proc unmounted
# when PROC=0). Extra environment: ENV="A=1 B=2".
set -eu
root=$1 proc=$2
shift 2
work=${WORK:-/work/scratch-19/x}
exec unshare -m --propagation private -- sh -c '
set -eu
root=$1 proc=$2 work=$3 env=$4
shift 4
if [ "$root" = / ]; then
    [ "$proc" = 1 ] || umount -l /proc
    exec env -i $env "$@"
fi
mkdir -p "$root$work" "$root/dev" "$root/proc"
mount --bind "$work" "$root$work"
mount --rbind /dev "$root/dev"
[ "$proc" = 1 ] && mount -t proc proc "$root/proc"
if [ "${ETC:-0}" = 1 ]; then
    # What a container runtime provides: /etc/hosts, and a passwd entry for the user.
    t=$(mktemp -d); mount -t tmpfs none "$t"; mkdir "$t/u" "$t/w"
    mkdir -p "$root/etc"
    mount -t overlay overlay -o "lowerdir=$root/etc,upperdir=$t/u,workdir=$t/w" "$root/etc"
    printf "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" > "$root/etc/hosts"
    grep -q "^root:" "$root/etc/passwd" 2>/dev/null || echo "root:x:0:0:root:/root:/bin/sh" >> "$root/etc/passwd"
fi
for f in "$root"/usr/bin/python*; do [ -f "$f" ] && mount --bind /dev/null "$f"; done
for d in "$root"/usr/lib/python3*; do [ -d "$d" ] && mount -t tmpfs none "$d"; done
e=/usr/bin/env; [ -e "$root$e" ] || e=/bin/env
exec chroot "$root" $e -i $env "$@"
' sh "$root" "$proc" "$work" "${ENV:-}" "$@"
