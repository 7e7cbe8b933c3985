"""Shared helpers: build real binaries with the front end, run them with Python hidden."""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

import pytest
from needs import require

REPO = Path(__file__).resolve().parent.parent
PROJECTS = Path(__file__).resolve().parent / "projects"
EXAMPLES = REPO / "examples"

# Every place a Python install lives on the machines we test on. Hidden by bind-mounting
# an empty directory (or an unreadable empty file, for executables) over each.
_HIDE_SCRIPT = r"""
set -e
mount --make-rprivate /
for d in /root/.pyenv /usr/lib/python3* /usr/local/lib/python3* /opt/python* "$HOME/.local/share/uv/python"; do
    if [ -d "$d" ]; then mount --bind "$ONEFILE_TEST_EMPTY_DIR" "$d"; fi
done
for f in /usr/bin/python* /usr/local/bin/python*; do
    if [ -e "$f" ]; then mount --bind "$ONEFILE_TEST_EMPTY_FILE" "$f"; fi
done
exec "$@"
"""


def _load_setup_py():
    """setup.py as a module: its ``build_launcher`` is how the wheel build makes launchers."""
    spec = importlib.util.spec_from_file_location("onefile_setup_py", REPO / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SETUP_PY = _load_setup_py()
HOST_MACHINE = SETUP_PY.host_machine()
STUB = Path(SETUP_PY.launcher_path(HOST_MACHINE))


def _stub_is_stale(stub: Path) -> bool:
    if not stub.exists():
        return True
    built = stub.stat().st_mtime
    sources = [*(REPO / "stub").glob("*.[ch]"), REPO / "stub" / "Makefile"]
    return any(p.stat().st_mtime > built for p in sources)


@pytest.fixture(scope="session", autouse=True)
def launcher() -> Path:
    """This checkout's launcher for this machine (what ``read_stub()`` uses), built as
    onefile-backend's wheel build does it: zig, for <machine>-linux-musl."""
    if _stub_is_stale(STUB):
        SETUP_PY.build_launcher(HOST_MACHINE, str(STUB), log=lambda message: None)
    return STUB


def make(directory: Path, *targets: str, variables: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``make -s -C directory targets`` (stub/ or fuzz/) with the launcher's one zstd (the
    pinned sdist's zstd.c) and, unless ``variables`` name another CC, the system's cc,
    installed when missing: the sanitizer builds need gcc, as zig has no ASan."""
    variables = {"ZSTD_SRC": SETUP_PY.zstd_source(), **(variables or {})}
    require("make", *([] if "CC" in variables else ["cc"]))
    command = ["make", "-s", "-C", str(directory), *targets, *(f"{k}={v}" for k, v in variables.items())]
    return subprocess.run(command, capture_output=True, text=True)


def onefile(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run this checkout's front end (``python -m onefile_backend ...``); the backend hooks
    it runs import this checkout too."""
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "onefile_backend", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": pythonpath, **(env or {})},
        capture_output=True,
        text=True,
    )


def build_binary(project: Path, outdir: Path, *extra: str, env: dict[str, str] | None = None) -> Path:
    """Build ``project``'s binary into ``outdir`` (no isolation: fast); return its path."""
    result = onefile("build", "--binary", "-n", str(project), "-o", str(outdir), *extra, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    built = [
        p for p in outdir.iterdir() if p.is_file() and os.access(p, os.X_OK) and not p.name.endswith((".whl", ".gz"))
    ]
    assert len(built) == 1, built
    return built[0]


def copy_project(name: str, destination: Path) -> Path:
    target = destination / name
    shutil.copytree(PROJECTS / name, target, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info"))
    return target


@pytest.fixture(scope="session")
def hidden_mounts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("hiding Python needs root and unshare(1)")
    base = tmp_path_factory.mktemp("hide")
    (base / "empty").mkdir()
    (base / "empty-file").touch(mode=0o000)
    return {"ONEFILE_TEST_EMPTY_DIR": str(base / "empty"), "ONEFILE_TEST_EMPTY_FILE": str(base / "empty-file")}


class Hidden:
    """Runs commands in a mount namespace where no Python install is visible, under ``env -i``."""

    def __init__(self, mounts: dict[str, str], cache: Path) -> None:
        self.mounts = mounts
        self.cache = cache

    def argv(self, command: Sequence[str], env: dict[str, str] | None = None) -> list[str]:
        clean = {"ONEFILE_CACHE_DIR": str(self.cache), **(env or {})}
        return [
            "unshare",
            "-m",
            "--",
            "sh",
            "-c",
            _HIDE_SCRIPT,
            "sh",
            "env",
            "-i",
            *(f"{k}={v}" for k, v in clean.items()),
            *command,
        ]

    def run(
        self, command: Sequence[str], env: dict[str, str] | None = None, **kwargs: object
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(command, env),
            env={**os.environ, **self.mounts},
            capture_output=True,
            text=True,
            timeout=120,
            **kwargs,
        )  # type: ignore[call-overload]

    def popen(self, command: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(command, env),
            env={**os.environ, **self.mounts},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def hidden(hidden_mounts: dict[str, str], tmp_path: Path) -> Hidden:
    return Hidden(hidden_mounts, tmp_path / "cache")


@pytest.fixture(scope="session")
def behaviour(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/projects/behaviour's binary: reports how its process looks."""
    return build_binary(PROJECTS / "behaviour", tmp_path_factory.mktemp("behaviour"))


@pytest.fixture(scope="session")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_binary(EXAMPLES / "hello", tmp_path_factory.mktemp("hello"))


def wait_for_cleanup(cache: Path, timeout: float = 120) -> None:
    """Wait until no clean-up holds <cache>/.cleaning."""
    lock = cache / ".cleaning"
    if not lock.exists():
        return
    deadline = time.monotonic() + timeout
    with open(lock) as f:
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(f, fcntl.LOCK_UN)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AssertionError("the clean-up is still running") from None
                time.sleep(0.05)


def wait_stopped(pid: int) -> None:
    """Wait until process ``pid`` is stopped (SIGSTOP), at most 30 s."""
    for _ in range(600):
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "T":
                return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} never stopped")
