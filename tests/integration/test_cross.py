"""aarch64 binaries built on this x86_64 machine: a runtime archive for aarch64 (made from
Debian's arm64 CPython in an arm64 root), read and never run by the build; wheels for
aarch64; the aarch64 launcher. They run in the arm64 root under qemu-user (binfmt_misc)
with no Python visible (docs/cross-target.md)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
from conftest import EXAMPLES, SETUP_PY, Hidden, _stub_is_stale, build_binary, onefile
from needs import require
from roots import busybox_root, debian_root, run_in_root, runtime_archive_from_root

pytestmark = pytest.mark.integration

BINFMT = Path("/proc/sys/fs/binfmt_misc")
QEMU = BINFMT / "qemu-aarch64"


def _ensure_binfmt() -> None:
    """qemu-user (Debian's qemu-user-static + binfmt-support) registered for aarch64."""
    if os.geteuid() != 0:
        pytest.skip("binfmt_misc and chroot need root")
    require("qemu-aarch64", "aarch64-loader")
    if not (BINFMT / "register").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], check=True)
    if not QEMU.exists() and shutil.which("update-binfmts"):
        subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], capture_output=True)
    if not QEMU.exists():
        pytest.fail("qemu-aarch64 is not registered with binfmt_misc (update-binfmts --enable qemu-aarch64 failed)")
    QEMU.write_text("1")


@contextlib.contextmanager
def _binfmt_disabled() -> Iterator[None]:
    QEMU.write_text("0")
    try:
        yield
    finally:
        QEMU.write_text("1")


@pytest.fixture(scope="session", autouse=True)
def aarch64_launcher() -> Path:
    """This checkout's aarch64 launcher, built as the wheel build does it (zig from PyPI)."""
    stub = Path(SETUP_PY.launcher_path("aarch64"))
    if _stub_is_stale(stub):
        SETUP_PY.build_launcher("aarch64", str(stub), log=lambda message: None)
    return stub


@pytest.fixture(scope="session")
def arm64_root() -> Path:
    _ensure_binfmt()
    return debian_root("bookworm", arch="arm64", include=["python3"])


@pytest.fixture(scope="session")
def arm64_runtime(arm64_root: Path) -> Path:
    """Debian 12's arm64 CPython 3.11 in the python-build-standalone install_only layout."""
    return runtime_archive_from_root(arm64_root, "3.11")


def _machine(binary: Path) -> str:
    from elftools.elf.elffile import ELFFile

    with binary.open("rb") as f:
        return str(ELFFile(f)["e_machine"])


def _build(project: Path, out: Path, runtime: Path, *extra: str, env: dict[str, str] | None = None) -> Path:
    return build_binary(project, out, "-C", f"python={runtime}", "-C", "target=aarch64", *extra, env=env)


def test_hello_for_aarch64_runs_in_an_arm64_root(arm64_root: Path, arm64_runtime: Path, tmp_path: Path) -> None:
    # A fresh build cache: the runtime stage runs, with its smoke test under qemu-user
    # (this machine has qemu registered and the aarch64 loader, libc6:arm64).
    fresh = {"ONEFILE_BUILD_CACHE": str(tmp_path / "build-cache")}
    result = onefile("build", "--binary", "-n", str(EXAMPLES / "hello"), "-o", str(tmp_path / "out"),
                     "-C", f"python={arm64_runtime}", "-C", "target=aarch64", env=fresh)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "smoke test was skipped" not in result.stderr and "target aarch64" in result.stderr
    binary = tmp_path / "out" / "hello"
    assert _machine(binary) == "EM_AARCH64"
    listing = subprocess.run([require("unzip"), "-l", str(binary)], capture_output=True, text=True)
    assert "runtime/bin/python3" in listing.stdout and "app/onefile.json" in listing.stdout
    facts = json.loads(onefile("inspect", "--json", str(binary)).stdout)
    assert facts["target"] == "aarch64" and facts["python"].startswith("3.11.")
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy2(binary, work / "hello")
    result = run_in_root(arm64_root, work, ["/mnt/hello", "--name", "Ada"])
    assert (result.returncode, result.stdout, result.stderr) == (0, "Hello, Ada!\n", "")
    # The root's own Python is hidden: only the binary's ran.
    assert run_in_root(arm64_root, work, ["/usr/bin/python3.11", "-c", "pass"]).returncode != 0


def test_numpy_app_for_aarch64(arm64_root: Path, arm64_runtime: Path, hidden: Hidden, tmp_path: Path) -> None:
    binary = _build(EXAMPLES / "numbers", tmp_path / "out", arm64_runtime)
    assert _machine(binary) == "EM_AARCH64"
    facts = json.loads(onefile("inspect", "--json", str(binary)).stdout)
    assert "numpy" in {name.lower() for name in facts["distributions"]}
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy2(binary, work / "numbers")
    there = run_in_root(arm64_root, work, ["/mnt/numbers", "1000", "--seed", "7"], env={"COLUMNS": "80"})
    assert there.returncode == 0, there.stderr
    # The same numbers as the x86_64 build prints here.
    native = build_binary(EXAMPLES / "numbers", tmp_path / "native")
    here = hidden.run([str(native), "1000", "--seed", "7"], env={"COLUMNS": "80"})
    assert here.returncode == 0, here.stderr
    assert there.stdout.split() == here.stdout.split()


def test_aarch64_builds_need_no_emulator(arm64_runtime: Path, tmp_path: Path) -> None:
    # The runtime through uv's Python downloads (a downloads JSON of our own, file://), into
    # a fresh build cache: uv can't run it to find it, and the smoke test can't run it.
    digest = hashlib.sha256(arm64_runtime.read_bytes()).hexdigest()
    downloads = {
        "cpython-3.11.2-linux-aarch64-gnu": {
            "name": "cpython", "arch": {"family": "aarch64", "variant": None}, "os": "linux", "libc": "gnu",
            "major": 3, "minor": 11, "patch": 2, "prerelease": "", "variant": None, "build": "debian12",
            "url": arm64_runtime.as_uri(), "sha256": digest,
        }
    }  # fmt: skip
    (tmp_path / "downloads.json").write_text(json.dumps(downloads))
    fresh = {
        "ONEFILE_BUILD_CACHE": str(tmp_path / "build-cache"),
        "UV_PYTHON_DOWNLOADS_JSON_URL": (tmp_path / "downloads.json").as_uri(),
    }
    with _binfmt_disabled():
        result = onefile("build", "--binary", "-n", str(EXAMPLES / "hello"), "-o", str(tmp_path / "out"),
                         "-C", "python=cpython-3.11-linux-aarch64-gnu", env=fresh)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "the smoke test was skipped: this machine can't run aarch64 programs" in result.stderr, result.stderr
    assert _machine(tmp_path / "out" / "hello") == "EM_AARCH64"


def test_a_runtime_for_another_cpu_than_the_target_is_refused(arm64_runtime: Path, tmp_path: Path) -> None:
    result = onefile("build", "--binary", "-n", str(EXAMPLES / "hello"), "-o", str(tmp_path / "out"),
                     "-C", f"python={arm64_runtime}", "-C", "target=x86_64")  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(
        "ERROR tool.onefile.target: 'x86_64', but the runtime "
    ), result.stderr
    assert "is for aarch64" in result.stderr and not (tmp_path / "out").exists()


def test_hello_for_aarch64_carries_an_arm64_glibc_and_runs_where_there_is_none(
    arm64_root: Path, arm64_runtime: Path, tmp_path: Path
) -> None:
    # The arm64 root is a glibc sysroot for aarch64 (Debian's libc6:arm64 and the rest).
    binary = _build(EXAMPLES / "hello", tmp_path / "out", arm64_runtime, "-C", f"libc={arm64_root}")
    facts = json.loads(onefile("inspect", "--json", str(binary)).stdout)
    assert facts["libc"].startswith(f"glibc 2.36 from {arm64_root}: "), facts["libc"]
    work = tmp_path / "work"
    (work / "cache").mkdir(parents=True)
    shutil.copy2(binary, work / "hello")
    empty = busybox_root("empty", arch="arm64")  # busybox-static:arm64 only: no C library
    for proc in (True, False):  # cold, then warm without /proc
        result = run_in_root(empty, work, ["/mnt/hello", "--name", "Ada"], proc=proc)
        assert (result.returncode, result.stdout, result.stderr) == (0, "Hello, Ada!\n", ""), proc
    info = run_in_root(empty, work, ["/mnt/hello"], env={"ONEFILE": "info"})
    assert "C library: the bundled glibc (no glibc loader at /lib/ld-linux-aarch64.so.1)" in info.stdout, info.stdout
    # Without a sysroot, an aarch64 build says it carries no glibc, and still builds.
    plain = onefile("build", "--binary", "-n", str(EXAMPLES / "hello"), "-o", str(tmp_path / "plain"),
                    "-C", f"python={arm64_runtime}", "-C", "target=aarch64")  # fmt: skip
    assert plain.returncode == 0 and "libc: no glibc for aarch64 to bundle" in plain.stderr, plain.stderr
