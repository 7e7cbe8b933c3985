"""Launchers for every supported CPU, built with one toolchain (zig from PyPI, the pinned
zstd.c) whatever the machine has installed (setup.py, stub/Makefile)."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import HOST_MACHINE, REPO, SETUP_PY, _stub_is_stale
from elftools.elf.elffile import ELFFile
from needs import require

from onefile_backend._errors import AssembleError
from onefile_backend.format import binary as _assemble
from onefile_backend.platform import target as _target

# Hides the C toolchain, make, and zstd's headers and libraries by bind-mounting an empty
# file (or directory) over each, then runs "$@".
_HIDE_TOOLCHAIN = r"""
set -e
mount --make-rprivate /
for f in /usr/bin/cc /usr/bin/c89* /usr/bin/c99* /usr/bin/cpp* /usr/bin/gcc* /usr/bin/*-linux-gnu-gcc* \
         /usr/bin/clang* /usr/bin/tcc /usr/bin/ld /usr/bin/ld.* /usr/local/bin/cc /usr/local/bin/gcc* \
         /usr/bin/make /usr/bin/gmake /usr/local/bin/make \
         /usr/include/zstd.h /usr/include/zstd_errors.h /usr/include/zdict.h \
         /usr/lib/*-linux-gnu/libzstd.* /usr/lib/libzstd.* /usr/local/lib/libzstd.* /usr/local/include/zstd.h; do
    if [ -e "$f" ] && [ "$f" != /usr/bin/ld.so ]; then mount --bind "$HIDE_EMPTY_FILE" "$f"; fi
done
for d in /usr/lib/gcc /usr/libexec/gcc; do
    if [ -d "$d" ]; then mount --bind "$HIDE_EMPTY_DIR" "$d"; fi
done
exec "$@"
"""


@pytest.fixture(scope="session")
def aarch64_launcher() -> Path:
    """This checkout's aarch64 launcher, as `pip install .` builds it (zig, or up to date)."""
    path = Path(SETUP_PY.launcher_path("aarch64"))
    if _stub_is_stale(path):
        SETUP_PY.build_launcher("aarch64", str(path), log=lambda message: None)
    return path


# ---- choosing a launcher ----


def test_machine_names_are_normalised() -> None:
    assert [_target.normalise_machine(m) for m in ("x86_64", "AMD64", "aarch64", "arm64")] == [
        "x86_64",
        "x86_64",
        "aarch64",
        "aarch64",
    ]
    assert SETUP_PY.normalise_machine("arm64") == "aarch64" and SETUP_PY.MACHINES == ("x86_64", "aarch64")


def test_read_stub_is_this_machines_launcher(launcher: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_assemble.ENV_STUB, raising=False)
    assert launcher.name == f"onefile-stub-{HOST_MACHINE}"
    assert _assemble.read_stub() == launcher.read_bytes()


def test_stub_for_another_machine(aarch64_launcher: Path) -> None:
    assert _assemble.stub_for("arm64") == aarch64_launcher.read_bytes()


def test_no_launcher_for_an_unsupported_machine() -> None:
    with pytest.raises(AssembleError, match="has no onefile launcher for riscv64"):
        _assemble.stub_for("riscv64")


# ---- the launchers ----


def _elf_facts(path: Path) -> tuple[str, str, bool]:
    with open(path, "rb") as f:
        elf = ELFFile(f)
        interpreter = any(segment["p_type"] == "PT_INTERP" for segment in elf.iter_segments())
        dynamic = any(segment["p_type"] == "PT_DYNAMIC" for segment in elf.iter_segments())
        return elf["e_machine"], elf["e_ident"]["EI_CLASS"], not (interpreter or dynamic)


def test_the_aarch64_launcher_is_a_static_aarch64_executable(aarch64_launcher: Path) -> None:
    assert _elf_facts(aarch64_launcher) == ("EM_AARCH64", "ELFCLASS64", True)


def test_the_host_launcher_is_static(launcher: Path) -> None:
    assert _elf_facts(launcher)[2]


def test_the_aarch64_launcher_runs_under_qemu(aarch64_launcher: Path, tmp_path: Path) -> None:
    qemu = require("qemu-aarch64")
    cache = tmp_path / "cache"
    # Its own file has no trailer: its one-line refusal, before writing anything.
    result = subprocess.run(
        [qemu, str(aarch64_launcher), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"ONEFILE_CACHE_DIR": str(cache)},
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a onefile binary" in lines[0], result.stderr
    assert not cache.exists()


def _make_dry_run(variables: dict[str, str]) -> list[list[str]]:
    result = subprocess.run(
        [
            require("make"),
            "-n",
            "-B",
            "--no-print-directory",
            "-C",
            str(REPO / "stub"),
            *(f"{k}={v}" for k, v in variables.items()),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = result.stdout.replace("\\\n", " ").splitlines()
    return [shlex.split(line) for line in lines if line.strip() and not line.startswith("mkdir -p")]


@pytest.mark.parametrize("toolchain", ["cc", "zig"])
def test_setup_py_runs_what_the_makefile_says_without_make(toolchain: str, tmp_path: Path) -> None:
    """Where there is no make, setup.py runs the Makefile's commands itself: the same ones."""
    zstd = tmp_path / "zstd-abc" / "zstd.c"
    zstd.parent.mkdir()
    zstd.touch()
    variables = {"OUT": str(tmp_path / "onefile-stub-x86_64"), "ZSTD_SRC": str(zstd)}
    if toolchain == "zig":
        variables = {
            "CC": "/some/python -m ziglang cc",
            "TARGET": "aarch64-linux-musl",
            "ZSTD_SRC": str(zstd),
            "OBJDIR": str(tmp_path / "obj"),
            "OUT": str(tmp_path / "onefile-stub-aarch64"),
        }
    assert SETUP_PY.launcher_commands(variables) == _make_dry_run(variables)


# ---- building onefile-backend with no C toolchain ----


def _copy_checkout(destination: Path) -> Path:
    ignore = shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "_stub", ".tox", ".nox", "__pycache__", "*_cache", ".benchmarks"
    )
    return Path(shutil.copytree(REPO, destination, ignore=ignore))


def _fresh_build_cache(tmp_path: Path, name: str) -> dict[str, str]:
    """An empty ~/.cache for setup.py (no launcher from an earlier build), pip's and zig's
    caches as they are (they don't decide the launcher's bytes)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return {
        "XDG_CACHE_HOME": str(tmp_path / name),
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", str(cache / "pip")),
        "ZIG_GLOBAL_CACHE_DIR": os.environ.get("ZIG_GLOBAL_CACHE_DIR", str(cache / "zig")),
    }


@pytest.mark.integration
def test_pip_install_without_cc_make_or_libzstd_gives_the_same_launchers(tmp_path: Path) -> None:
    """`pip install .` in a fresh venv where cc, gcc, make and zstd's headers and libraries
    are hidden; that venv's front end then builds examples/hello, whose binary runs. Its
    launchers are the bytes of those in a wheel built where cc, make and libzstd-dev are
    (each with an empty launcher cache)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("hiding the toolchain needs root and unshare(1)")
    require("cc", "make", "zstd-headers")
    with_toolchain = _copy_checkout(tmp_path / "with")
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path / "wheel")]
    wheel = subprocess.run(
        [*command, str(with_toolchain)],
        env={**os.environ, **_fresh_build_cache(tmp_path, "cache-with")},
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert wheel.returncode == 0, wheel.stdout[-4000:] + wheel.stderr[-4000:]
    (built,) = (tmp_path / "wheel").glob("onefile_backend-*.whl")
    with zipfile.ZipFile(built) as archive:
        shipped = {
            Path(name).name: hashlib.sha256(archive.read(name)).hexdigest()
            for name in archive.namelist()
            if name.endswith(tuple(f"onefile_backend/_stub/onefile-stub-{machine}" for machine in SETUP_PY.MACHINES))
        }
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    empty_file = tmp_path / "empty-file"
    empty_file.touch(mode=0o000)
    checkout = _copy_checkout(tmp_path / "src")
    venv = tmp_path / "venv"
    script = f"""
set -e
for tool in cc gcc make; do
    if "$tool" --version >/dev/null 2>&1; then echo "$tool is still there" >&2; exit 97; fi
done
{sys.executable} -m venv {venv}
{venv}/bin/python -m pip install --quiet {checkout}
cd {checkout}/examples/hello
{venv}/bin/python -m onefile_backend build --binary -o {tmp_path}/dist
ONEFILE_CACHE_DIR={tmp_path}/cache {tmp_path}/dist/hello --name Ada
"""
    result = subprocess.run(
        ["unshare", "-m", "--", "sh", "-c", _HIDE_TOOLCHAIN, "sh", "sh", "-c", script],
        env={
            **os.environ,
            **_fresh_build_cache(tmp_path, "cache-without"),
            "HIDE_EMPTY_FILE": str(empty_file),
            "HIDE_EMPTY_DIR": str(empty_dir),
        },
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-8000:]
    assert result.stdout.strip().splitlines()[-1] == "Hello, Ada!", result.stdout
    stubs = checkout / "onefile_backend" / "_stub"
    assert {p.name for p in stubs.iterdir()} == {f"onefile-stub-{machine}" for machine in SETUP_PY.MACHINES}
    assert _elf_facts(stubs / "onefile-stub-aarch64")[0] == "EM_AARCH64"
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in stubs.iterdir()} == shipped
