"""What the tests need beyond Python packages, in one place: each tool or file, the
Debian packages it comes from and why a test needs it.

``require(name)`` gives a test what it needs, installing the packages with apt-get when
it is missing (the integration tests run as root anyway; Debian 12 is the machine the
README's test command is promised on), and fails the test, naming what is missing, when
that is not possible. So ``pip install '.[test]' && python -m pytest`` needs nothing
installed first. Everything else comes from PyPI: zig (``ziglang``, a test extra) and
zstd's source (the ``zstandard`` sdist that setup.py fetches for the launcher, which the
C tests compile in too, so no ``libzstd-dev``).

``python3 tests/needs.py`` installs the whole list (what .ci/run does first);
``--packages`` only prints the Debian packages. Standard library only, as .ci/run runs it
with the system's Python.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from typing import NoReturn


@dataclass(frozen=True)
class Need:
    #: A command looked up on PATH, or an absolute path of a file.
    what: str
    #: The Debian packages that provide it (``name:arch`` for another architecture's).
    packages: tuple[str, ...]
    why: str


NEEDS = {
    "make": Need("make", ("make",), "stub/Makefile and fuzz/Makefile build the C tests and the test launchers"),
    # zig has no ASan: the sanitizer builds (make check, asan-stub, fuzz) use gcc, with the
    # launcher's sources and zstd.c. Also compiles a C extension that links this machine's
    # libzstd.so.1 (test_ecosystem).
    "cc": Need("cc", ("gcc", "libc6-dev"), "ASan/UBSan builds of the launcher and a C extension built here"),
    # Python.h of the Python running the tests: Debian's python3 has it only with its -dev
    # package (pyenv's and python-build-standalone's always do).
    "python-headers": Need(
        os.path.join(sysconfig.get_paths()["include"], "Python.h"),
        (f"libpython{sys.version_info[0]}.{sys.version_info[1]}-dev",),
        "C extensions built for the Python running the tests",
    ),
    # A machine with zstd's headers and library: the launcher is the same bytes without.
    "zstd-headers": Need("/usr/include/zstd.h", ("libzstd-dev",), "a build machine that has libzstd-dev"),
    "debootstrap": Need("debootstrap", ("debootstrap",), "Debian roots to run binaries in (older glibc, arm64)"),
    "strace": Need("strace", ("strace",), "the system calls of a start"),
    "unzip": Need("unzip", ("unzip",), "a binary is also a zip that unzip -l lists"),
    "qemu-aarch64": Need(
        "/usr/bin/qemu-aarch64-static", ("qemu-user-static", "binfmt-support"), "aarch64 binaries run here"
    ),
    # The loader qemu-user needs for a dynamically linked aarch64 program (the build's
    # smoke test of an aarch64 runtime).
    "aarch64-loader": Need("/lib/ld-linux-aarch64.so.1", ("libc6:arm64",), "aarch64 programs linked to glibc run here"),
}


def find(name: str) -> str | None:
    """Where ``name`` is on this machine, or None."""
    what = NEEDS[name].what
    if what.startswith("/"):
        return what if os.path.exists(what) else None
    return shutil.which(what)


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(command, capture_output=True, text=True, env=env)


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {result.returncode}"


def install(packages: list[str]) -> str | None:
    """Install Debian ``packages`` with apt-get; None, or what went wrong (one line)."""
    if os.geteuid() != 0:
        return "installing them needs root"
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        return "this is not a Debian system (no apt-get)"
    update = not glob.glob("/var/lib/apt/lists/*_Packages")  # a fresh root has no lists yet
    foreign = {package.split(":", 1)[1] for package in packages if ":" in package}
    known = _run(["dpkg", "--print-foreign-architectures"]).stdout.split()
    for arch in sorted(foreign - set(known)):
        result = _run(["dpkg", "--add-architecture", arch])
        if result.returncode != 0:
            return f"dpkg --add-architecture {arch}: {_last_line(result)}"
        update = True
    command = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]
    for _ in range(2):
        if update:
            result = _run(["apt-get", "update", "-qq"])
            if result.returncode != 0:
                return f"apt-get update: {_last_line(result)}"
        result = _run(command)
        if result.returncode == 0:
            return None
        update = True  # the package lists may be old: once more after an update
    return f"apt-get install {' '.join(packages)}: {_last_line(result)}"


def _fail(message: str) -> NoReturn:
    import pytest

    pytest.fail(message, pytrace=False)


def require(*names: str) -> str:
    """Each of ``names`` (keys of NEEDS), installed when missing; the path of the first.
    Fails the calling test with a message naming what is missing when it can't be had."""
    missing = [name for name in names if find(name) is None]
    if missing:
        packages = list(dict.fromkeys(package for name in missing for package in NEEDS[name].packages))
        problem = install(packages)
        still = [name for name in missing if find(name) is None]
        if still:
            wanted = "; ".join(f"{name} ({NEEDS[name].why})" for name in still)
            _fail(
                f"this test needs {wanted}: Debian's {' '.join(packages)} "
                f"{'could not be installed: ' + problem if problem else 'did not provide it'}"
            )
    found = find(names[0])
    assert found is not None
    return found


def main(argv: list[str]) -> int:
    packages = list(dict.fromkeys(package for need in NEEDS.values() for package in need.packages))
    if argv == ["--packages"]:
        print(" ".join(packages))
        return 0
    if argv:
        print("usage: python3 tests/needs.py [--packages]", file=sys.stderr)
        return 2
    missing = [name for name in NEEDS if find(name) is None]
    wanted = list(dict.fromkeys(package for name in missing for package in NEEDS[name].packages))
    if not wanted:
        print("needs: everything the tests need is here")
        return 0
    print(f"needs: installing {' '.join(wanted)}")
    problem = install(wanted)
    if problem is not None:
        print(f"needs: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
