"""Foreign systems for the tests: Debian roots made with debootstrap, cached under
``~/.cache/onefile-tests`` (keyed by what they are made from), and a way to run a
binary inside one with ``chroot``, ``env -i`` and no Python visible."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Sequence

import pytest
from needs import require

CACHE = Path(os.environ.get("ONEFILE_TEST_CACHE") or Path.home() / ".cache" / "onefile-tests")
#: Bump when what a root is made of changes in a way its key does not show.
ROOTS_VERSION = 1


def _publish(build: Path, final: Path) -> None:
    """Rename a finished tree into place (a concurrent maker may have won)."""
    try:
        os.rename(build, final)
    except OSError:
        shutil.rmtree(build, ignore_errors=True)
        if not final.is_dir():
            raise


def debian_root(suite: str, arch: str = "amd64", include: Sequence[str] = ()) -> Path:
    """``debootstrap --variant=minbase`` of ``suite``, made once and kept in the cache."""
    if os.geteuid() != 0:
        pytest.skip("debootstrap and chroot need root")
    require("debootstrap")
    facts = [ROOTS_VERSION, suite, arch, "minbase", sorted(include)]
    key = hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:16]
    final = CACHE / "roots" / f"{suite}-{arch}-{key}"
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}-"))
    command = ["debootstrap", "--variant=minbase", f"--arch={arch}"]
    command += [f"--include={','.join(include)}"] if include else []
    result = subprocess.run([*command, suite, str(build)], capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        shutil.rmtree(build, ignore_errors=True)
        pytest.fail(f"debootstrap {suite} failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")
    _publish(build, final)
    return final


def debian_package_root(package: str) -> Path:
    """A root holding only what one Debian package's files are (``apt-get download`` +
    ``dpkg-deb -x``): e.g. ``musl`` (its loader and nothing else)."""
    final = CACHE / "roots" / f"pkg-{package}-{ROOTS_VERSION}"
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}-"))
    download = subprocess.run(["apt-get", "download", package], cwd=build, capture_output=True, text=True)
    if download.returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
        download = subprocess.run(["apt-get", "download", package], cwd=build, capture_output=True, text=True)
    debs = list(build.glob("*.deb"))
    if download.returncode != 0 or len(debs) != 1:
        shutil.rmtree(build, ignore_errors=True)
        pytest.fail(f"apt-get download {package} failed: {download.stderr[-1000:]}")
    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(build)], check=True)
    debs[0].unlink()
    for directory in ("mnt", "proc"):
        (build / directory).mkdir(exist_ok=True)
    _publish(build, final)
    return final


# What a container runtime gives every container, FROM scratch included: a passwd line for
# root and /etc/hosts (debootstrap and the package roots have neither).
_ETC = {"passwd": "root:x:0:0:root:/root:/bin/sh\n", "hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost\n"}
#: The NixOS-like root's glibc: only under the store, no /lib64, no /lib/<triplet>.
NIX_GLIBC = "nix/store/6zq0cs0l4yqvwyb2x3zpm2d3qj4ll7ha-glibc-2.36/lib"


def busybox_root(kind: str, arch: str = "amd64") -> Path:
    """A root with Debian's busybox-static (its applets as links in /bin), /etc/passwd and
    /etc/hosts, and: nothing else ("empty", a FROM scratch container), musl's loader
    ("musl", Alpine-like), or this machine's glibc only under /nix/store ("nixos")."""
    if os.geteuid() != 0:
        pytest.skip("chroot needs root")
    final = CACHE / "roots" / f"busybox-{kind}-{arch}-{ROOTS_VERSION}"
    if final.is_dir():
        return final
    build = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}-"))
    suffix = "" if arch == "amd64" else f":{arch}"  # another CPU's busybox runs under qemu-user
    packages = [f"busybox-static{suffix}"] + ([f"musl{suffix}"] if kind == "musl" else [])
    for package in packages:
        subprocess.run(["cp", "-a", f"{debian_package_root(package)}/.", str(build)], check=True)
    for directory in ("mnt", "proc", "dev", "tmp", "etc"):
        (build / directory).mkdir(exist_ok=True)
    (build / "tmp").chmod(0o1777)
    for name, content in _ETC.items():
        (build / "etc" / name).write_text(content)
    subprocess.run(["chroot", str(build), "/bin/busybox", "--install", "-s", "/bin"], check=True)
    if kind == "nixos":
        store = build / NIX_GLIBC
        store.mkdir(parents=True)
        for name in ("ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1",
                     "libutil.so.1", "libresolv.so.2", "libanl.so.1"):  # fmt: skip
            shutil.copyfile(os.path.realpath(f"/lib/x86_64-linux-gnu/{name}"), store / name)
    _publish(build, final)
    return final


# Run inside the root: a private mount namespace in which the work dir appears at /mnt,
# /proc is mounted unless asked not to be, and the root's own Python is hidden.
_IN_ROOT = r"""
set -e
mount --make-rprivate /
mount --bind "$ONEFILE_TEST_WORK" "$ONEFILE_TEST_ROOT/mnt"
if [ "$ONEFILE_TEST_PROC" = 1 ] && [ -d "$ONEFILE_TEST_ROOT/proc" ]; then
    mount -t proc proc "$ONEFILE_TEST_ROOT/proc"
fi
if [ "$ONEFILE_TEST_DEV" = 1 ]; then  # /dev/null, /dev/shm (multiprocessing's semaphores)
    mount --rbind /dev "$ONEFILE_TEST_ROOT/dev"
fi
for d in "$ONEFILE_TEST_ROOT"/usr/lib/python3* "$ONEFILE_TEST_ROOT"/usr/local/lib/python3*; do
    if [ -d "$d" ]; then mount --bind "$ONEFILE_TEST_EMPTY" "$d"; fi
done
for f in "$ONEFILE_TEST_ROOT"/usr/bin/python*; do
    if [ -f "$f" ]; then mount --bind /dev/null "$f"; fi
done
exec env -i "$@"
"""


def run_in_root(
    root: Path, work: Path, command: Sequence[str], *, proc: bool = True, env: dict[str, str] | None = None,
    dev: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` (paths under /mnt are ``work``'s) with ``chroot root`` under ``env -i``."""
    empty = work.parent / f".{work.name}-empty"
    empty.mkdir(exist_ok=True)
    variables = [f"{k}={v}" for k, v in {"ONEFILE_CACHE_DIR": "/mnt/cache", **(env or {})}.items()]
    return subprocess.run(
        ["unshare", "-m", "--", "sh", "-c", _IN_ROOT, "sh", *variables, shutil.which("chroot") or "chroot", str(root)]
        + list(command),
        env={
            **os.environ,
            "ONEFILE_TEST_ROOT": str(root),
            "ONEFILE_TEST_WORK": str(work),
            "ONEFILE_TEST_EMPTY": str(empty),
            "ONEFILE_TEST_PROC": "1" if proc else "0",
            "ONEFILE_TEST_DEV": "1" if dev else "0",
        },
        capture_output=True,
        text=True,
        timeout=300,
    )


def _in_root(root: Path, path: str) -> Path:
    """``path`` as the root sees it, following links inside the root, never out of it."""
    current = Path("/")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            current = current.parent
            continue
        candidate = root / str(current / part).lstrip("/")
        if candidate.is_symlink():
            hops += 1
            assert hops < 40, f"link loop at {candidate}"
            target = os.readlink(candidate)
            if target.startswith("/"):
                current = Path("/")
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        current = current / part
    return root / str(current).lstrip("/")


_TRIPLETS = {"EM_X86_64": "x86_64-linux-gnu", "EM_AARCH64": "aarch64-linux-gnu"}
_GLIBC_PART = ("libc.so", "libm.so", "libpthread.so", "libdl.so", "librt.so", "libutil.so", "libresolv.so",
               "ld-linux", "libnsl.so", "libanl.so")  # fmt: skip


def _copy_libraries(root: Path, elves: list[Path], lib_dir: Path) -> None:
    """Copy what ``elves`` load from the root (transitively), glibc's own libraries excepted."""
    from onefile_backend.platform.elf import read_elf

    triplet = _TRIPLETS[read_elf(str(elves[0])).machine]
    directories = (f"lib/{triplet}", f"usr/lib/{triplet}", "lib", "usr/lib")
    todo = list(elves)
    while todo:
        for soname in read_elf(str(todo.pop())).needed:
            if soname.startswith(_GLIBC_PART) or (lib_dir / soname).exists():
                continue
            for directory in directories:
                source = _in_root(root, f"/{directory}/{soname}")
                if source.is_file():
                    shutil.copyfile(source, lib_dir / soname)
                    todo.append(lib_dir / soname)
                    break
            else:
                raise AssertionError(f"{soname} is not in {root}")


def runtime_archive_from_root(root: Path, version: str) -> Path:
    """A python-build-standalone ``install_only`` style archive (``python/bin/python3``,
    ``python/lib/...``) of the root's own CPython ``version`` (e.g. "3.9"): the stdlib
    with its links into /etc resolved, the libraries it loads that glibc does not provide
    beside it, and run paths set with the root's patchelf (or this machine's) the way
    relocated trees are made. Cached next to the root."""
    final = root.parent / f"{root.name}-cpython-{version}-install_only.tar.gz"
    if final.is_file():
        return final
    with tempfile.TemporaryDirectory(dir=root.parent, prefix=".archive-") as scratch:
        python = Path(scratch) / "python"
        (python / "bin").mkdir(parents=True)
        (python / "lib").mkdir()
        shutil.copyfile(_in_root(root, f"/usr/bin/python{version}"), python / "bin" / f"python{version}")
        (python / "bin" / f"python{version}").chmod(0o755)
        (python / "bin" / "python3").symlink_to(f"python{version}")
        stdlib = python / "lib" / f"python{version}"
        source = _in_root(root, f"/usr/lib/python{version}")
        for directory, names, files in os.walk(source):
            relative = Path(directory).relative_to(source)
            names[:] = [n for n in names if n not in ("dist-packages", "site-packages", "test", "__pycache__")]
            (stdlib / relative).mkdir(parents=True, exist_ok=True)
            for name in files:
                resolved = _in_root(root, "/" + str((Path(directory) / name).relative_to(root)))
                if resolved.is_file():
                    shutil.copyfile(resolved, stdlib / relative / name)
        dynload = sorted((stdlib / "lib-dynload").glob("*.so"))
        _copy_libraries(root, [python / "bin" / f"python{version}", *dynload], python / "lib")
        patchelf = shutil.which("patchelf", path="/usr/bin") or shutil.which("patchelf")
        assert patchelf, "patchelf is needed to make the archive"
        subprocess.run([patchelf, "--set-rpath", "$ORIGIN/../lib", str(python / "bin" / f"python{version}")], check=True)
        for module in dynload:
            subprocess.run([patchelf, "--set-rpath", "$ORIGIN/../..", str(module)], check=True)
        for library in (python / "lib").glob("*.so*"):
            subprocess.run([patchelf, "--set-rpath", "$ORIGIN", str(library)], check=True)
        partial = Path(scratch) / "archive.tar.gz"
        with tarfile.open(partial, "w:gz") as archive:
            archive.add(python, arcname="python")
        os.replace(partial, final)
    return final
