"""Issue 14: any PEP 517 backend, published tools (--from), isolated front ends through
the wheelhouse. Every binary runs with Python hidden."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path
from typing import Iterator

import pytest
from conftest import EXAMPLES, HOST_MACHINE, PROJECTS, Hidden, copy_project, onefile
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.integration

PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"

# (project, the binary's name, its arguments, what it prints)
BACKENDS = [
    ("anybackend-setuptools", "stapp", ["Ada"], f"stapp (setuptools) greets Ada from {PYTHON}\n"),
    ("anybackend-hatchling", "hatchapp-bin", ["123456789"], "hatchapp (hatchling): 123.5 MB\n"),
    (
        "anybackend-flit",
        "flitapp",
        ["a", "bb"],
        "flitapp (flit-core)\nword      length\na              1\nbb             2\n",
    ),
    ("anybackend-pdm", "pdmapp", ["hi", "there"], "pdmapp (pdm-backend): hi there\x1b[0m\n"),
    ("anybackend-poetry", "poetryapp", ["1", "2", "3"], "poetryapp (poetry-core): 3 arguments\n"),
    # No pyproject.toml at all: pypa/build's default (setuptools' legacy backend).
    ("anybackend-setuppy", "legacyapp", ["--count", "2"], "legacyapp (setup.py only)\n" * 2),
]


def _dist(path: Path) -> list[str]:
    """What is in dist/ (uv build also writes a .gitignore there)."""
    return sorted(p.name for p in path.iterdir() if not p.name.startswith(".")) if path.exists() else []


def _one_line_error(result: subprocess.CompletedProcess[str], expected: str) -> None:
    """Non-zero exit, and the last line of stderr is the only ERROR line, saying ``expected``."""
    lines = result.stderr.rstrip("\n").splitlines()
    assert result.returncode != 0, result.stderr
    assert lines and lines[-1].startswith("ERROR ") and expected in lines[-1], result.stderr
    assert [line for line in lines if line.startswith("ERROR")] == [lines[-1]], result.stderr


@pytest.mark.parametrize(("project", "name", "arguments", "expected"), BACKENDS, ids=[b[0] for b in BACKENDS])
def test_a_project_with_another_backend_builds_unchanged(
    project: str, name: str, arguments: list[str], expected: str, hidden: Hidden, tmp_path: Path
) -> None:
    """The project's own backend (installed from PyPI in the isolated env) builds its
    wheel; the binary is made from that wheel, [tool.onefile] read as usual."""
    source = copy_project(project, tmp_path)
    result = onefile("build", "--binary", cwd=source)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("has no build_binary hook: building the binary from the wheel it builds") == 1
    assert _dist(source / "dist") == [name]
    run = hidden.run([str(source / "dist" / name), *arguments])
    assert (run.returncode, run.stdout, run.stderr) == (0, expected, "")


def test_another_backend_sdist_wheel_and_binary(hidden: Hidden, tmp_path: Path) -> None:
    """--sdist --wheel --binary: sdist and wheel from flit-core, the binary from that wheel."""
    source = copy_project("anybackend-flit", tmp_path)
    result = onefile("build", "--sdist", "--wheel", "--binary", cwd=source)
    assert result.returncode == 0, result.stderr
    assert _dist(source / "dist") == ["flitapp", "flitapp-2.0-py2.py3-none-any.whl", "flitapp-2.0.tar.gz"]
    assert result.stderr.count("* Building wheel...") == 1  # the binary reused the wheel
    run = hidden.run([str(source / "dist" / "flitapp"), "x"])
    assert run.returncode == 0 and run.stdout.startswith("flitapp (flit-core)\n"), run.stderr


def test_another_backend_without_isolation(tmp_path: Path) -> None:
    """-n: setuptools from this environment builds the wheel."""
    source = copy_project("anybackend-setuptools", tmp_path)
    result = onefile("build", "--binary", "-n", cwd=source)
    assert result.returncode == 0, result.stderr
    assert "Creating isolated environment" not in result.stderr
    assert _dist(source / "dist") == ["stapp"]


def test_a_failing_backend_is_named_and_leaves_nothing(tmp_path: Path) -> None:
    source = copy_project("anybackend-broken", tmp_path)
    result = onefile("build", "--binary", cwd=source)
    _one_line_error(
        result,
        "ERROR the project's build backend 'setuptools.build_meta' failed in get_requires_for_build_wheel: "
        "RuntimeError: brokenapp's setup.py refuses to build",
    )
    assert "Traceback" in result.stderr  # setuptools' own output, shown because it failed
    assert _dist(source / "dist") == []


@pytest.mark.parametrize("isolation", [True, False], ids=["isolated", "no-isolation"])
def test_a_backend_that_is_not_there(isolation: bool, tmp_path: Path) -> None:
    project = tmp_path / "nobackend"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "no_such_backend_14"\n\n[project]\nname = "x"\nversion = "1"\n'
    )
    result = onefile("build", "--binary", *([] if isolation else ["-n"]), cwd=project)
    fix = "list what it needs in build-system.requires" if isolation else "install it here, or build without -n"
    _one_line_error(
        result,
        "ERROR the project's build backend 'no_such_backend_14' cannot be imported "
        f"(ModuleNotFoundError: No module named 'no_such_backend_14'): {fix}",
    )
    assert "Traceback" not in result.stderr
    assert _dist(project / "dist") == []


@pytest.fixture
def web_root(tmp_path: Path) -> Iterator[str]:
    """A file served on 127.0.0.1 for the lifetime of the test."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "greeting.txt").write_text("hello from 127.0.0.1\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_from_httpie(hidden: Hidden, tmp_path: Path, web_root: str) -> None:
    several = onefile("build", "--binary", "--from", "httpie==3.2.4", cwd=tmp_path)
    _one_line_error(
        several, "ERROR httpie 3.2.4 has several console scripts (http, httpie, https): choose one with --script NAME"
    )
    assert _dist(tmp_path / "dist") == []
    result = onefile(
        "build", "--binary", "--from", "httpie==3.2.4", "--script", "http", "--python", PYTHON, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert _dist(tmp_path / "dist") == ["http"]
    binary = str(tmp_path / "dist" / "http")
    home = {"HOME": str(tmp_path / "home")}
    version = hidden.run([binary, "--version"], env=home)
    assert (version.returncode, version.stdout) == (0, "3.2.4\n"), version.stderr
    fetched = hidden.run([binary, "--ignore-stdin", "--body", f"{web_root}/greeting.txt"], env=home)
    assert (fetched.returncode, fetched.stdout) == (0, "hello from 127.0.0.1\n"), fetched.stderr
    facts = json.loads(onefile("inspect", "--json", binary).stdout)
    assert facts["distributions"]["httpie"] == "3.2.4" and "requests" in facts["distributions"]
    assert facts["entry_point"]["name"] == "http"


def test_from_black_two_scripts_lock_with_and_output(hidden: Hidden, tmp_path: Path) -> None:
    """black has two scripts (black, blackd) and mypyc-compiled modules; --lock pins what
    --from and --with need; --output names the file."""
    two = onefile("build", "--binary", "--from", "black==24.10.0", cwd=tmp_path)
    _one_line_error(
        two, "ERROR black 24.10.0 has several console scripts (black, blackd): choose one with --script NAME"
    )
    wrong = onefile("build", "--binary", "--from", "black==24.10.0", "--script", "blak", cwd=tmp_path)
    _one_line_error(wrong, "ERROR --script 'blak' is not a console script of black 24.10.0 (it has: black, blackd)")
    from uv import find_uv_bin

    wanted = tmp_path / "wanted.in"
    wanted.write_text("black==24.10.0\ntomli-w==1.0.0\n")
    lock = tmp_path / "lock.txt"
    compiled = subprocess.run(
        [find_uv_bin(), "pip", "compile", "--quiet", "--python", sys.executable, str(wanted), "-o", str(lock)],
        capture_output=True,
        text=True,
    )
    assert compiled.returncode == 0, compiled.stderr
    result = onefile(
        "build", "--binary", "--from", "black==24.10.0", "--script", "black", "--with", "tomli-w",
        "--lock", str(lock), "--output", "fmt", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert _dist(tmp_path / "dist") == ["fmt"]
    binary = str(tmp_path / "dist" / "fmt")
    version = hidden.run([binary, "--version"])
    assert version.returncode == 0 and version.stdout.startswith("fmt, 24.10.0 (compiled: yes)"), version.stderr
    source = tmp_path / "messy.py"
    source.write_text("x = [1,2,\n  3]\nprint( 'hi' )\n")
    formatted = hidden.run([binary, "--quiet", str(source)])
    assert formatted.returncode == 0, formatted.stderr
    assert source.read_text() == 'x = [1, 2, 3]\nprint("hi")\n'
    facts = json.loads(onefile("inspect", "--json", binary).stdout)
    resolved = {canonicalize_name(name): version for name, version in facts["distributions"].items()}
    pinned = [line.split()[0].split("==") for line in lock.read_text().splitlines() if "==" in line.split("#")[0]]
    assert pinned and all(resolved[canonicalize_name(name)] == version for name, version in pinned), resolved
    assert resolved["tomli-w"] == "1.0.0" and resolved["black"] == "24.10.0"


def test_from_errors_leave_nothing(tmp_path: Path) -> None:
    missing = onefile("build", "--binary", "--from", "onefile-no-such-distribution-14==1.0", cwd=tmp_path)
    _one_line_error(missing, "ERROR --from 'onefile-no-such-distribution-14==1.0': cannot be installed: ")
    no_script = onefile("build", "--binary", "--from", "six==1.16.0", cwd=tmp_path)
    _one_line_error(no_script, "ERROR six 1.16.0 declares no console script: there is nothing for a binary to run")
    bad = onefile("build", "--binary", "--from", "black>>1", cwd=tmp_path)
    _one_line_error(bad, "ERROR --from 'black>>1': not a requirement")
    project_only = onefile("build", "--binary", "--script", "x", cwd=tmp_path)
    _one_line_error(project_only, "ERROR --script goes with --from REQ")
    for result in (missing, no_script, bad, project_only):
        assert "Traceback" not in result.stderr
    assert _dist(tmp_path / "dist") == []


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("wheelhouse")
    result = onefile("wheelhouse", str(directory))
    assert result.returncode == 0, result.stderr
    (wheel,) = directory.iterdir()
    assert wheel.name.startswith("onefile_backend-") and wheel.name.endswith(".whl")
    return directory


def _without_this_checkout(extra: dict[str, str]) -> dict[str, str]:
    """The environment of a front end that must find onefile-backend by itself."""
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**environ, **extra}


def _hello(tmp_path: Path) -> Path:
    project = tmp_path / "hello"
    shutil.copytree(
        EXAMPLES / "hello", project, ignore=shutil.ignore_patterns("dist", "build", "*.egg-info", ".tox", ".nox")
    )
    return project


def _wheel_files(wheel: Path) -> dict[str, tuple[int, bytes]]:
    with zipfile.ZipFile(wheel) as archive:
        return {info.filename: (info.external_attr >> 16, archive.read(info)) for info in archive.infolist()}


def test_wheelhouse_wheel_holds_the_launcher(wheelhouse: Path, tmp_path: Path) -> None:
    (wheel,) = wheelhouse.iterdir()
    files = _wheel_files(wheel)
    mode, launcher = files[f"onefile_backend/_stub/onefile-stub-{HOST_MACHINE}"]
    assert mode & 0o111 and launcher.startswith(b"\x7fELF")
    (entry_points,) = [data for name, (_, data) in files.items() if name.endswith(".dist-info/entry_points.txt")]
    assert b"onefile = onefile_backend.cli.frontend:main" in entry_points
    again = onefile("wheelhouse", str(wheelhouse))  # the same files give the same bytes
    assert again.returncode == 0
    assert wheel.read_bytes() == next(wheelhouse.iterdir()).read_bytes()
    # The installed copy (not this checkout) packs itself too, with its installed metadata.
    installed = subprocess.run(
        [sys.executable, "-m", "onefile_backend", "wheelhouse", str(tmp_path / "installed")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_without_this_checkout({}),
    )
    assert installed.returncode == 0, installed.stderr
    (other,) = (tmp_path / "installed").iterdir()
    assert other.name == wheel.name
    other_files = _wheel_files(other)
    assert other_files[f"onefile_backend/_stub/onefile-stub-{HOST_MACHINE}"][0] & 0o111
    (metadata,) = [data for name, (_, data) in other_files.items() if name.endswith(".dist-info/METADATA")]
    assert b"Name: onefile-backend" in metadata and b"Requires-Dist: zstandard" in metadata


@pytest.mark.parametrize("front_end", ["pypa-build", "uv"])
def test_isolated_front_ends_find_onefile_backend_in_the_wheelhouse(
    front_end: str, wheelhouse: Path, hidden: Hidden, tmp_path: Path
) -> None:
    project = _hello(tmp_path)
    if front_end == "uv":
        from uv import find_uv_bin

        command = [find_uv_bin(), "build", "--wheel", "-C", "binary=true", str(project)]
        environ = _without_this_checkout({"UV_FIND_LINKS": str(wheelhouse)})
    else:
        command = [sys.executable, "-m", "build", "--wheel", "-C", "binary=true", str(project)]
        environ = _without_this_checkout({"PIP_FIND_LINKS": str(wheelhouse)})
    result = subprocess.run(command, capture_output=True, text=True, env=environ, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert _dist(project / "dist") == ["hello", "hello-1.0.0-py3-none-any.whl"]
    run = hidden.run([str(project / "dist" / "hello"), "--name", "Ada"])
    assert (run.returncode, run.stdout) == (0, "Hello, Ada!\n")


def test_tox_isolated_build_uses_the_wheelhouse(wheelhouse: Path, hidden: Hidden, tmp_path: Path) -> None:
    """tox builds the package in its isolated .pkg env (pip finds onefile-backend through
    PIP_FIND_LINKS); with binary=true for build_wheel the binary lands next to the wheel."""
    if shutil.which("tox") is None:
        pytest.skip("tox is not installed")
    project = _hello(tmp_path)
    (project / "tox.ini").write_text(
        "[tox]\nenvlist = py\n\n[testenv]\npackage = wheel\ncommands = hello --name Tox\n\n"
        "[testenv:.pkg]\nconfig_settings_build_wheel = binary=true\n"
    )
    result = subprocess.run(
        ["tox", "-c", str(project)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=900,
        env=_without_this_checkout({"PIP_FIND_LINKS": str(wheelhouse)}),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Hello, Tox!" in result.stdout
    binary = project / ".tox" / ".pkg" / "dist" / "hello"
    run = hidden.run([str(binary), "--name", "Ada"])
    assert (run.returncode, run.stdout) == (0, "Hello, Ada!\n")


def test_projects_are_not_built_with_onefile_backend() -> None:
    """The scenario projects here must stay foreign: their [build-system] never names us."""
    for project, *_ in BACKENDS:
        if not (PROJECTS / project / "pyproject.toml").exists():
            continue
        text = (PROJECTS / project / "pyproject.toml").read_text()
        build_system = text.split("[build-system]")[1].split("\n[")[0]
        assert "onefile" not in build_system, project
