"""Lock files, extras and runtimes from python-build-standalone style archives."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import subprocess
import sys
import tarfile
import threading
import zipfile
from pathlib import Path
from typing import Iterator

import pytest
from conftest import PROJECTS, Hidden, build_binary, copy_project, onefile
from needs import require

pytestmark = pytest.mark.integration


def _error_line(stderr: str) -> str:
    (line,) = [line for line in stderr.splitlines() if line.startswith("ERROR")]
    return line


def test_pylock_next_to_pyproject_pins_what_goes_in(hidden: Hidden, tmp_path: Path) -> None:
    result = onefile("build", "--binary", "-n", str(PROJECTS / "locked"), "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "pinned by pylock.toml" in result.stderr
    assert hidden.run([str(tmp_path / "locked")]).stdout == "click 8.1.7\n"


def test_requirements_file_with_hashes_as_the_lock(hidden: Hidden, tmp_path: Path) -> None:
    binary = build_binary(PROJECTS / "locked", tmp_path, "-C", "lock=requirements-lock.txt")
    assert hidden.run([str(binary)]).stdout == "click 8.1.7\n"


@pytest.mark.parametrize(
    ("lock", "message"),
    [
        ("bad-hashes.txt", "hash"),
        ("incomplete-lock.txt", "incomplete-lock.txt does not satisfy locked's requirements: click>=8"),
        ("missing.txt", "tool.onefile.lock: 'missing.txt' does not exist"),
    ],
)
def test_a_lock_that_does_not_fit_is_an_error(tmp_path: Path, lock: str, message: str) -> None:
    result = onefile("build", "--binary", "-n", str(PROJECTS / "locked"), "-o", str(tmp_path), "-C", f"lock={lock}")
    assert result.returncode == 1
    assert message in _error_line(result.stderr).lower() if message == "hash" else message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_extras_are_installed(hidden: Hidden, tmp_path: Path) -> None:
    binary = build_binary(PROJECTS / "extras", tmp_path)
    assert hidden.run([str(binary)]).stdout.startswith("with the extra: six ")
    wrong = onefile("build", "--binary", "-n", str(PROJECTS / "extras"), "-o", str(tmp_path / "x"), "-C", "extras=nope")
    assert (
        _error_line(wrong.stderr) == "ERROR tool.onefile.extras: 'nope' is not an extra of extrasdemo (it has: fancy)"
    )


def _standalone_archive(source_prefix: Path, destination: Path) -> Path:
    """A python-build-standalone ``install_only`` archive made from an installed Python."""
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    skip = {"site-packages", "test", "__pycache__", "idlelib", "tkinter", "ensurepip", "turtledemo"}

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if skip & set(info.name.split("/")) or "/config-" in info.name:
            return None
        if info.issym() and info.linkname.startswith("/"):
            # A link out of the tree (Debian's python3: sitecustomize.py -> /etc/python3.X/)
            # goes in as the file it points to, as python-build-standalone's archives have
            # none (and a download with one is refused). add() reads it through the link.
            info.type, info.size, info.linkname = tarfile.REGTYPE, os.stat(info.linkname).st_size, ""
        return info

    with tarfile.open(destination, "w:gz", compresslevel=1) as archive:
        for name in (f"bin/python{version}", "bin/python3"):
            if (source_prefix / name).exists():
                archive.add(source_prefix / name, f"python/{name}")
        for entry in sorted((source_prefix / "lib").iterdir()):
            if entry.name.startswith("libpython") or entry.name == f"python{version}":
                archive.add(entry, f"python/lib/{entry.name}", filter=keep)
    return destination


@pytest.fixture(scope="module")
def served_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(url, sha256) of an archive of the test interpreter served on 127.0.0.1."""
    directory = tmp_path_factory.mktemp("archive")
    archive = _standalone_archive(Path(sys.base_prefix), directory / "cpython-install_only.tar.gz")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        yield f"http://127.0.0.1:{server.server_address[1]}/{archive.name}", digest
    finally:
        server.shutdown()


def _with_python(project: Path, value: str) -> Path:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + f"\n[tool.onefile]\npython = {value}\n")
    return project


def test_runtime_from_a_downloaded_archive(hidden: Hidden, tmp_path: Path, served_archive: tuple[str, str]) -> None:
    url, digest = served_archive
    project = _with_python(copy_project("behaviour", tmp_path), f'{{ url = "{url}", sha256 = "{digest}" }}')
    cache = {"ONEFILE_BUILD_CACHE": str(tmp_path / "build-cache")}
    result = onefile("build", "--binary", "-n", str(project), "-o", str(tmp_path / "dist"), env=cache)
    assert result.returncode == 0, result.stderr
    assert f"runtime: downloading {url}" in result.stderr
    info = hidden.run([str(tmp_path / "dist" / "behaviour"), "info"])
    assert f'"version": "{sys.version.split()[0]}' in info.stdout.replace("'", '"'), info.stderr
    again = onefile("build", "--binary", "-n", str(project), "-o", str(tmp_path / "dist"), env=cache)
    assert again.returncode == 0 and "downloading" not in again.stderr  # downloaded once


def test_archive_checksum_mismatch_names_both_hashes(tmp_path: Path, served_archive: tuple[str, str]) -> None:
    url, digest = served_archive
    wrong = "0" * 64
    project = _with_python(copy_project("behaviour", tmp_path), f'{{ url = "{url}", sha256 = "{wrong}" }}')
    result = onefile(
        "build", "--binary", "-n", str(project), "-o", str(tmp_path / "dist"),
        env={"ONEFILE_BUILD_CACHE": str(tmp_path / "build-cache")},
    )  # fmt: skip
    assert result.returncode == 1
    assert (
        _error_line(result.stderr) == f"ERROR tool.onefile.python: {url} has sha256 {digest}, but {wrong} was expected"
    )
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())
    downloads = tmp_path / "build-cache" / "runtimes" / "downloads"
    assert not downloads.exists() or not any(p.is_file() for p in downloads.rglob("*"))


def test_runtime_from_a_local_archive_path(hidden: Hidden, tmp_path: Path) -> None:
    project = copy_project("behaviour", tmp_path)
    _standalone_archive(Path(sys.base_prefix), project / "runtime.tar.gz")
    _with_python(project, '"runtime.tar.gz"')
    env = {"ONEFILE_BUILD_CACHE": str(tmp_path / "build-cache")}
    result = onefile("build", "--binary", "-n", str(project), "-o", str(tmp_path / "dist"), env=env)
    assert result.returncode == 0, result.stderr
    assert hidden.run([str(tmp_path / "dist" / "behaviour"), "child"]).returncode == 0


def test_a_resolution_is_reused_while_fresh_then_asked_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from onefile_backend._errors import ResolveError
    from onefile_backend.app import install as _install
    from onefile_backend.app.indexes import IndexSettings
    from onefile_backend.cache.store import BlobStore
    from onefile_backend.runtime.interpreters import inspect_interpreter

    wheel = onefile("build", "--wheel", "-n", str(copy_project("behaviour", tmp_path)), "-o", str(tmp_path / "w"))
    assert wheel.returncode == 0, wheel.stderr
    (built,) = (tmp_path / "w").glob("*.whl")
    interpreter = inspect_interpreter(sys.executable)
    store = BlobStore(str(tmp_path / "blobs.sqlite3"))
    indexes = IndexSettings("pypi")  # not this machine's pip.conf: its file:// indexes work offline
    pins = _install.pin_dependencies(str(built), (), interpreter, store, indexes)
    assert pins.startswith("click==") and "behaviour" not in pins
    # With no index and no uv cache, only a remembered answer can come back.
    for name, value in {"UV_NO_CACHE": "1", "UV_INDEX_URL": "http://127.0.0.1:9/simple", "UV_OFFLINE": "1"}.items():
        monkeypatch.setenv(name, value)
    assert _install.pin_dependencies(str(built), (), interpreter, store, indexes) == pins
    monkeypatch.setattr(_install, "PINS_FRESH_SECONDS", 0)
    with pytest.raises(ResolveError, match="click"):
        _install.pin_dependencies(str(built), (), interpreter, store, indexes)
    store.close()


def test_test_suites_of_dependencies_are_left_out_unless_kept(tmp_path: Path) -> None:
    from onefile_backend.app import select as _select
    from onefile_backend.format.layers import MODE_FILE, FileEntry

    site = "lib/python3.11/site-packages/"
    paths = [
        "pkg/__init__.py",
        "pkg/test_util.py",  # not in a tests/ directory: could be anything
        "pkg/tests/__init__.py",
        "pkg/tests/runner.py",  # runtime code may import it (astropy.tests.runner)
        "pkg/tests/data/table.csv",  # test data
        "pkg/tests/data/sample.pyi",
        "pkg/tests/src/ext.c",
        "pkg/tests/__pycache__/runner.cpython-311.pyc",
        "pkg/tests/conftest.py",
        "pkg/tests/test_core.py",
        "pkg/tests/__pycache__/test_core.cpython-311.pyc",
        "pkg/sub/tests/deep/io_test.py",
        "pkg/sub/tests/deep/__init__.py",
        "pkg/core.pyi",  # outside tests/: stays
        "tests/test_top.py",  # a stray top-level tests package some wheels ship
        "bin/test_tool.py",  # outside site-packages
    ]
    entries = [FileEntry(path if path.startswith("bin/") else site + path, MODE_FILE, b"") for path in paths]
    messages: list[str] = []

    def log(message: str, kind: str = "info") -> None:
        messages.append(message)

    def kept(exclude: tuple[str, ...], drop_tests: bool) -> list[str]:
        chosen, tests = _select.without_excluded(entries, str(tmp_path), str(tmp_path / site), exclude, drop_tests, log)
        assert tests == len(entries) - len(chosen) or exclude
        return [entry.path.removeprefix(site) for entry in chosen]

    assert kept((), False) == paths
    assert kept((), True) == [
        "pkg/__init__.py", "pkg/test_util.py", "pkg/tests/__init__.py", "pkg/tests/runner.py",
        "pkg/tests/__pycache__/runner.cpython-311.pyc", "pkg/sub/tests/deep/__init__.py", "pkg/core.pyi",
        "bin/test_tool.py",
    ]  # fmt: skip
    assert messages[-1] == "resolve: left out 8 files of the dependencies' test suites (keep-tests = true keeps them)"
    assert kept(("pkg/tests/*",), True) == [
        "pkg/__init__.py", "pkg/test_util.py", "pkg/sub/tests/deep/__init__.py", "pkg/core.pyi", "bin/test_tool.py",
    ]  # fmt: skip


_SUITEPKG = {
    "suitepkg/__init__.py": "",
    "suitepkg/core.pyi": "def f() -> int: ...\n",  # a stub outside tests/: stays
    "suitepkg/tests/__init__.py": "",
    "suitepkg/tests/helpers.py": "ANSWER = 42  # imported at run time, as astropy.tests.runner is\n",
    "suitepkg/tests/test_core.py": "from suitepkg.tests.helpers import ANSWER\n\ndef test_answer():\n    assert ANSWER\n",
    "suitepkg/tests/data/table.csv": "a,b\n1,2\n",
    "suitepkg/tests/data/sample.pyi": "x: int\n",
}


@pytest.mark.parametrize("keep", [False, True])
def test_a_dependencys_test_suite_is_left_out_but_its_other_modules_unless_kept(
    keep: bool, hidden: Hidden, tmp_path: Path
) -> None:
    from test_indexes import build_env, make_wheel, run_onefile

    (tmp_path / "wheels").mkdir()
    make_wheel(tmp_path / "wheels", "suitepkg", "1.0", _SUITEPKG)
    env = build_env(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(tmp_path / "wheels"))
    project = PROJECTS / "testsuites"
    keeping = ["-C", "keep-tests=true"] if keep else []
    result = run_onefile("build", "--binary", "-n", str(project), "-o", str(tmp_path / "dist"), *keeping, env=env)
    assert result.returncode == 0, result.stderr
    binary = tmp_path / "dist" / "testsuites"
    site = f"app/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages/suitepkg/"  # the runtime is this Python
    names = {name.removeprefix(site) for name in zipfile.ZipFile(binary).namelist() if name.startswith(site)}
    tag = sys.implementation.cache_tag
    assert {
        "__init__.py",
        "core.pyi",
        "tests/__init__.py",
        "tests/helpers.py",
        f"tests/__pycache__/helpers.{tag}.pyc",
    } <= names
    suite = {
        "tests/test_core.py",
        f"tests/__pycache__/test_core.{tag}.pyc",
        "tests/data/table.csv",
        "tests/data/sample.pyi",
    }
    said = "4 files of the dependencies' test suites (in tests/ directories: all but the modules that are not tests); `keep-tests = true` keeps them"
    ran = hidden.run([str(binary)])
    info = hidden.run([str(binary)], {"ONEFILE": "info"}).stdout  # the launcher prints the manifest
    if keep:
        assert suite <= names
        assert ran.stdout == "42 data/sample.pyi data/table.csv test_core.py\n", ran.stderr
        assert "test suites" not in onefile("inspect", str(binary)).stdout and "test suites" not in info
    else:
        assert not suite & names, suite & names
        assert ran.stdout == "42\n", ran.stderr
        lines = onefile("inspect", str(binary)).stdout.splitlines()
        stdlib = lines.index(
            "left out      the stdlib's .py sources (bytecode kept); `stdlib-sources = true` keeps them"
        )
        assert lines[stdlib + 1] == " " * 14 + said  # the runtime's first, then the app's
        assert f'"{said}"' in info


def test_machine_libraries_go_next_to_the_vendored_ones_their_loader_finds(tmp_path: Path) -> None:
    from onefile_backend.app import bundle as _bundle
    from onefile_backend.platform.elf import read_elf

    site = tmp_path / "stage/lib/python3.11/site-packages"
    (site / "pkg.libs").mkdir(parents=True)
    (site / "plain").mkdir()
    (tmp_path / "x.c").write_text("int x(void) { return 1; }\n")

    cc = require("cc")

    def library(path: Path, rpath: str = "") -> Path:  # one that loads this machine's libzstd.so.1 (dpkg's own)
        command = [
            cc,
            "-shared",
            "-fPIC",
            "-o",
            str(path),
            str(tmp_path / "x.c"),
            "-Wl,--no-as-needed",
            "-l:libzstd.so.1",
        ]
        subprocess.run(command + ([f"-Wl,-rpath,{rpath}", "-Wl,--disable-new-dtags"] if rpath else []), check=True)
        return path

    vendored = library(site / "pkg.libs/libvendored.so", "$ORIGIN")
    plain = library(site / "plain/_plain.so")
    size = vendored.stat().st_size
    elves = {str(path): read_elf(str(path)) for path in (vendored, plain)}
    assert _bundle.bundle_foreign_libraries(str(tmp_path / "stage"), elves, lambda *a, **k: None) == ["libzstd.so.1"]
    assert (site / "pkg.libs/libzstd.so.1").is_file()
    assert vendored.stat().st_size == size and read_elf(str(vendored)).run_path == "$ORIGIN"  # left as it was
    assert (tmp_path / "stage/lib/onefile.libs/libzstd.so.1").is_file()
    assert read_elf(str(plain)).run_path == "$ORIGIN/../../../onefile.libs"


def test_exclude_leaves_out_matching_files_of_dependencies(hidden: Hidden, tmp_path: Path) -> None:
    project = copy_project("behaviour", tmp_path)
    env = {"ONEFILE_BUILD_CACHE": str(tmp_path / "build-cache")}
    whole = build_binary(project, tmp_path / "whole", env=env)  # leaves the dependencies cached
    trimmed = build_binary(project, tmp_path / "trimmed", "-C", "exclude=click/testing.py", env=env)
    site = f"app/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages/click/"
    for binary, expected in ((whole, True), (trimmed, False)):
        names = zipfile.ZipFile(binary).namelist()
        assert site.replace("click/", "behaviour/tests/test_own.py") in names  # the project is never trimmed
        assert site + "core.py" in names
        assert (site + "testing.py" in names) is expected
        assert any(n.startswith(site + "__pycache__/testing.") for n in names) is expected  # its .pyc goes too
    assert hidden.run([str(trimmed), "info"]).returncode == 0
    wrong = onefile("build", "--binary", "-n", str(project), "-o", str(tmp_path / "x"), "-C", "exclude=/etc/*")
    assert _error_line(wrong.stderr).startswith("ERROR tool.onefile.exclude: ['/etc/*'] is not allowed")


@pytest.mark.parametrize(
    ("pins", "cached"),
    [
        ("click==8.1.7 --hash=sha256:ae74\n", True),
        ('[[packages]]\nname = "click"\nwheels = [{ url = "https://files.pythonhosted.org/c.whl" }]\n', True),
        ("./vendored/pkg\n", False),
        ("-e ../sibling\n", False),
        ("pkg @ https://example.org/pkg.whl\n", False),
        ('[[packages]]\nname = "lib"\ndirectory = { path = "../lib" }\n', False),
    ],
)
def test_dependencies_from_local_paths_or_urls_are_never_cached(pins: str, cached: bool) -> None:
    from onefile_backend.app import install as _install
    from onefile_backend.app.indexes import IndexSettings
    from onefile_backend.runtime.interpreters import inspect_interpreter

    key = _install.dependencies_key(inspect_interpreter(sys.executable), pins, (), False, 10, 0, IndexSettings("pypi"))
    assert (key is not None) is cached
