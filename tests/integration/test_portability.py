"""Binaries that carry no C library (libc = "system") on other Linux systems: a Debian 11
root (glibc 2.31), roots with musl or no C library at all, no /proc; portable runtimes fetched through uv's Python downloads from a
mirror on 127.0.0.1; the min-glibc floor (docs/portability.md)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import re
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import pytest
from conftest import EXAMPLES, Hidden, build_binary, onefile
from roots import debian_package_root, debian_root, run_in_root, runtime_archive_from_root

pytestmark = pytest.mark.integration

REFUSED = re.compile(r"^hello: onefile: needs glibc 2\.(\d+) or newer; this system has glibc 2\.31$")


@pytest.fixture(scope="session")
def bullseye() -> Path:
    """Debian 11 (glibc 2.31) with its CPython 3.9, which the tests turn into a runtime
    archive; when binaries run there, that Python is hidden."""
    return debian_root("bullseye", include=["python3", "python3-distutils"])


@pytest.fixture(scope="session")
def portable(bullseye: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The build environment for a runtime that needs at most glibc 2.31: the root's CPython
    in the python-build-standalone layout, listed in a uv downloads JSON served with the
    archive from 127.0.0.1, and a fresh build cache (so the download path runs)."""
    archive = runtime_archive_from_root(bullseye, "3.9")
    served = tmp_path_factory.mktemp("mirror")
    unpacked = tmp_path_factory.mktemp("archive")
    subprocess.run(["tar", "xzf", str(archive), "-C", str(unpacked)], check=True)
    version = subprocess.run(
        [str(unpacked / "python/bin/python3"), "-c", "import platform; print(platform.python_version())"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    name = f"cpython-{version}+debian11-x86_64-unknown-linux-gnu-install_only.tar.gz"
    shutil.copyfile(archive, served / name)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    major, minor, patch = (int(part) for part in version.split("."))
    key = f"cpython-{version}-linux-x86_64-gnu"
    downloads = {
        key: {
            "name": "cpython", "arch": {"family": "x86_64", "variant": None}, "os": "linux", "libc": "gnu",
            "major": major, "minor": minor, "patch": patch, "prerelease": "", "variant": None, "build": "debian11",
            "url": f"{base}/{name.replace('+', '%2B')}",
            "sha256": hashlib.sha256((served / name).read_bytes()).hexdigest(),
        }
    }  # fmt: skip
    (served / "downloads.json").write_text(json.dumps(downloads))
    yield {
        "UV_PYTHON_DOWNLOADS_JSON_URL": f"{base}/downloads.json",
        "ONEFILE_BUILD_CACHE": str(tmp_path_factory.mktemp("build-cache")),
        "ONEFILE_TEST_PYTHON_KEY": key,
    }
    server.shutdown()


@pytest.fixture(scope="session")
def portable_hello(portable: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    # min-glibc = 2.31 passes for this runtime (a pyenv one fails it, below). libc = "system":
    # no glibc inside, so the launcher relies on the system's (refusing one that can't serve).
    key = portable["ONEFILE_TEST_PYTHON_KEY"]
    out = tmp_path_factory.mktemp("portable-hello")
    return build_binary(
        EXAMPLES / "hello", out, "-C", f"python={key}", "-C", "min-glibc=2.31", "-C", "libc=system", env=portable
    )


@pytest.fixture(scope="session")
def pyenv_hello(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hello with a runtime compiled on this machine (pyenv's 3.11, as a user's would be)."""
    from onefile_backend._errors import InterpreterNotFound
    from onefile_backend.runtime.interpreters import find_interpreter

    try:
        find_interpreter("3.11")
    except InterpreterNotFound:
        pytest.skip("needs pyenv's (or another) CPython 3.11 on this machine")
    return build_binary(EXAMPLES / "hello", tmp_path_factory.mktemp("pyenv-hello"), "-C", "python=3.11", "-C", "libc=system")


def _work(tmp_path: Path, *binaries: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / "cache").mkdir()
    for binary in binaries:
        shutil.copy2(binary, work / binary.name)
    return work


def _inspect(binary: Path) -> dict[str, object]:
    result = onefile("inspect", "--json", str(binary))
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_a_build_machine_runtime_is_refused_before_anything_is_written(
    bullseye: Path, pyenv_hello: Path, tmp_path: Path
) -> None:
    work = _work(tmp_path, pyenv_hello)
    result = run_in_root(bullseye, work, ["/mnt/hello", "--name", "Ada"])
    assert result.returncode == 1 and result.stdout == ""
    match = REFUSED.match(result.stderr.strip())
    assert match, result.stderr
    assert f"2.{match[1]}" == _inspect(pyenv_hello)["min_glibc"]
    assert list((work / "cache").iterdir()) == []


def test_a_portable_runtime_runs_on_debian_11_with_and_without_proc(
    bullseye: Path, portable_hello: Path, tmp_path: Path
) -> None:
    facts = _inspect(portable_hello)
    assert facts["python"].startswith("3.9.") and facts["min_glibc"] <= "2.31"  # type: ignore[union-attr]
    assert facts["min_glibc_set_by"] and facts["glibc_versions"]
    work = _work(tmp_path, portable_hello)
    result = run_in_root(bullseye, work, ["/mnt/hello", "--name", "Ada"], proc=False)  # cold, no /proc
    assert (result.returncode, result.stdout, result.stderr) == (0, "Hello, Ada!\n", "")
    result = run_in_root(bullseye, work, ["/mnt/hello", "--name", "Bo"])  # warm, /proc mounted
    assert (result.returncode, result.stdout, result.stderr) == (0, "Hello, Bo!\n", "")
    # The root's own Python is hidden: nothing but the binary's runtime ran.
    assert run_in_root(bullseye, work, ["/usr/bin/python3.9", "-c", "pass"]).returncode != 0


def test_a_numpy_app_with_a_portable_runtime_runs_on_debian_11(
    bullseye: Path, portable: dict[str, str], hidden: Hidden, tmp_path: Path
) -> None:
    key = portable["ONEFILE_TEST_PYTHON_KEY"]
    binary = build_binary(EXAMPLES / "numbers", tmp_path / "out", "-C", f"python={key}", env=portable)
    here = hidden.run([str(binary), "1000", "--seed", "7"])
    assert here.returncode == 0 and "1000 numbers" in here.stdout, here.stderr
    work = _work(tmp_path, binary)
    there = run_in_root(bullseye, work, ["/mnt/numbers", "1000", "--seed", "7"], env={"COLUMNS": "80"})
    assert there.returncode == 0, there.stderr
    assert there.stdout.split() == here.stdout.split()  # same numbers; only the terminal width may differ
    assert _inspect(binary)["min_glibc"] <= "2.31"  # type: ignore[operator]


def test_min_glibc_names_the_files_that_need_more(tmp_path: Path) -> None:
    from onefile_backend._errors import InterpreterNotFound
    from onefile_backend.runtime.interpreters import find_interpreter

    try:
        find_interpreter("3.11")
    except InterpreterNotFound:
        pytest.skip("needs a CPython 3.11 on this machine")
    out = tmp_path / "out"
    result = onefile("build", "--binary", "-n", str(EXAMPLES / "hello"), "-o", str(out), "-C", "python=3.11",
                     "-C", "min-glibc=2.31")  # fmt: skip
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert re.match(
        r"^ERROR tool\.onefile\.min-glibc: the binary would need a newer glibc than 2\.31: runtime/\S+ needs 2\.3[2-9]",
        errors[0],
    ), errors[0]
    assert not out.exists() or list(out.iterdir()) == []


def test_portable_builds_are_bit_identical(portable: dict[str, str], portable_hello: Path, tmp_path: Path) -> None:
    key = portable["ONEFILE_TEST_PYTHON_KEY"]
    again = build_binary(
        EXAMPLES / "hello", tmp_path, "-C", f"python={key}", "-C", "min-glibc=2.31", "-C", "libc=system", env=portable
    )
    assert again.read_bytes() == portable_hello.read_bytes()


@pytest.mark.parametrize(
    ("system", "message"),
    [
        ("none", "hello: onefile: needs glibc; this system has none (no /lib64/ld-linux-x86-64.so.2)"),
        ("musl", "hello: onefile: needs glibc; this system's C library is musl"),
    ],
)
def test_a_system_without_glibc_gets_one_line(portable_hello: Path, tmp_path: Path, system: str, message: str) -> None:
    if system == "musl":
        root = debian_package_root("musl")
        assert list(root.glob("lib/ld-musl-*.so.1"))
    else:
        root = tmp_path / "empty-root"
        for directory in ("mnt", "proc"):
            (root / directory).mkdir(parents=True)
    work = _work(tmp_path, portable_hello)
    result = run_in_root(root, work, ["/mnt/hello", "--name", "Ada"])
    assert (result.returncode, result.stdout, result.stderr.strip()) == (1, "", message)
    assert list((work / "cache").iterdir()) == []
