"""Real binaries, built by the front end and run with every Python install hidden."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from conftest import PROJECTS, Hidden, build_binary, copy_project, onefile
from needs import require

pytestmark = pytest.mark.integration


def _info(hidden: Hidden, binary: Path, env: dict[str, str] | None = None) -> dict:
    result = hidden.run([str(binary), "info"], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _layer_dirs(cache: Path) -> dict[str, list[tuple[str, int]]]:
    """Each layer directory with its inode: unpacked again, it is another directory. (Not
    its mtime: the clean-up's mark of a flushed layer changes that.)"""
    return {kind: sorted((p.name, p.stat().st_ino) for p in (cache / kind).iterdir()) for kind in ("runtime", "app")}


def test_hello_greets_with_python_hidden(hidden: Hidden, hello: Path) -> None:
    result = hidden.run([str(hello), "--name", "Ada"])
    assert (result.returncode, result.stdout, result.stderr) == (0, "Hello, Ada!\n", "")
    usage = hidden.run([str(hello), "--help"])
    assert usage.stdout.startswith("Usage: hello [OPTIONS]")
    assert hidden.run([str(hello), "--version"]).stdout == "hello, version 1.0.0\n"


def test_python_itself_is_not_reachable_in_the_hidden_namespace(hidden: Hidden) -> None:
    # The standard library is gone (pyenv's tree) or empty (Debian's /usr/lib/python3.X),
    # and the interpreter can't run.
    stdlib, python = sysconfig.get_paths()["stdlib"], os.path.realpath(sys.executable)
    result = hidden.run(["sh", "-c", f"ls {stdlib}; {python} -c 1"], {"PATH": "/usr/bin:/bin"})
    assert result.returncode != 0 and result.stdout == ""


def test_process_looks_like_an_installed_console_script(hidden: Hidden, behaviour: Path) -> None:
    info = _info(hidden, behaviour)
    assert info["argv"] == [str(behaviour), "info"]
    assert info["binary"] == str(behaviour)
    assert info["executable"].startswith(str(hidden.cache / "app")) and info["executable"].endswith("/bin/python")
    assert info["prefix"] != info["base_prefix"]  # a virtual environment of the runtime
    assert info["base_prefix"].startswith(str(hidden.cache / "runtime"))
    assert info["version"].split()[0] == ".".join(map(str, sys.version_info[:3]))
    assert info["leaked"] == [] and info["user_site"] is False


def test_caller_pythonpath_and_pythonhome_do_not_leak_in(hidden: Hidden, behaviour: Path, tmp_path: Path) -> None:
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "click.py").write_text("raise SystemExit('the caller PYTHONPATH leaked in')\n")
    env = {"PYTHONPATH": str(evil), "PYTHONHOME": "/nonexistent", "PYTHONNOUSERSITE": ""}
    info = _info(hidden, behaviour, env)
    assert info["leaked"] == [] and str(evil) not in info["path"]
    assert hidden.run([str(behaviour), "child"], env).stdout.startswith("child imports click")


def test_runtime_modules_load_the_libraries_bundled_with_it(hidden: Hidden, behaviour: Path) -> None:
    result = hidden.run([str(behaviour), "native"], {"TERM": "xterm"})
    assert result.returncode == 0, result.stderr
    mapped = json.loads(result.stdout)
    bundled = [path for path in mapped if path.startswith(str(hidden.cache / "runtime"))]
    for library in ("libssl.so", "libcrypto.so", "libsqlite3.so", "libffi.so", "liblzma.so"):
        outside = [p for p in mapped if os.path.basename(p).startswith(library) and p not in bundled]
        assert not outside, f"{library} loaded from the build machine's copy: {outside}"
    assert any("libssl.so" in path for path in bundled), mapped


def test_runtime_has_no_run_path_back_to_the_build_machine(hidden: Hidden, behaviour: Path) -> None:
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    _info(hidden, behaviour)
    checked = 0
    for path in (hidden.cache / "runtime").rglob("*"):
        if path.is_symlink() or not path.is_file() or path.read_bytes()[:4] != b"\x7fELF":
            continue
        with path.open("rb") as f:
            for section in ELFFile(f).iter_sections():
                if isinstance(section, DynamicSection):
                    for tag in section.iter_tags():
                        if tag.entry.d_tag in ("DT_RPATH", "DT_RUNPATH"):
                            value = tag.rpath if tag.entry.d_tag == "DT_RPATH" else tag.runpath
                            runtime = next(p for p in path.parents if p.parent.name == "runtime")
                            if path.relative_to(runtime) == Path("bin/python3"):  # a patch site
                                assert value == f"{runtime}/lib", (path, value)
                            elif path.relative_to(runtime) == Path("libc/bin/python3"):  # the bundled glibc first
                                assert value == f"{runtime}/libc/lib:{runtime}/lib", (path, value)
                            else:
                                assert value.startswith("$ORIGIN"), (path, value)
                            checked += 1
    assert checked > 10


def test_without_proc_the_interpreter_loads_its_own_libpython(hidden: Hidden, behaviour: Path) -> None:
    # glibc resolves a program's $ORIGIN through /proc/self/exe and drops a run path that
    # uses it when /proc isn't mounted: the interpreter then loaded this machine's
    # libpython3.X.so (Debian's 3.11.2 here) with the binary's stdlib. Its run path is an
    # absolute path now, written at unpack (docs/format.md, Patch sites).
    without_proc = ["/bin/sh", "-c", '/bin/umount -l /proc && test ! -e /proc/self && exec "$@"', "sh"]
    for start in ("cold", "warm"):
        result = hidden.run([*without_proc, str(behaviour), "info"])
        assert result.returncode == 0, (start, result.stderr)
        assert json.loads(result.stdout)["version"] == sys.version, start
    verify = hidden.run([str(behaviour)], {"ONEFILE": "verify"})
    assert verify.returncode == 0 and verify.stdout.count("entries match") == 2, verify.stdout


def test_verify_expands_patch_sites_and_sees_one_left_unpatched(hidden: Hidden, behaviour: Path) -> None:
    _info(hidden, behaviour)
    (python,) = (hidden.cache / "runtime").glob("*/bin/python3")
    data = python.read_bytes()
    patched = str(python.parent.parent / "lib").encode() + b"\0"
    assert data.count(patched) == 1
    python.write_bytes(data.replace(patched, b"@RUNTIME@/lib".ljust(len(patched), b"\0")))
    verify = hidden.run([str(behaviour)], {"ONEFILE": "verify"})
    assert verify.returncode == 1 and "changed (content): bin/python3" in verify.stdout, verify.stdout


def test_exit_status_passes_through(hidden: Hidden, behaviour: Path) -> None:
    assert hidden.run([str(behaviour), "exit", "3"]).returncode == 3


def test_stdin_passes_through(hidden: Hidden, behaviour: Path) -> None:
    assert hidden.run([str(behaviour), "stdin"], input="ping\n").stdout == "PING\n"


def test_sigterm_reaches_the_handler_of_the_started_pid(hidden: Hidden, behaviour: Path) -> None:
    process = hidden.popen([str(behaviour), "wait-term"])
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    process.send_signal(signal.SIGTERM)  # the PID we started is the Python process itself
    out, err = process.communicate(timeout=30)
    assert (process.returncode, out) == (0, "got SIGTERM\n"), err


def test_children_of_sys_executable_import_bundled_packages(hidden: Hidden, behaviour: Path) -> None:
    result = hidden.run([str(behaviour), "child"])
    assert (result.returncode, result.stdout) == (0, "child imports click click\n")


def test_second_run_unpacks_nothing(hidden: Hidden, behaviour: Path) -> None:
    _info(hidden, behaviour)
    before = _layer_dirs(hidden.cache)
    assert [len(v) for v in before.values()] == [1, 1]  # no temporary directories left either
    _info(hidden, behaviour)
    assert _layer_dirs(hidden.cache) == before


def test_rebuild_after_app_change_unpacks_only_the_app_layer(hidden: Hidden, tmp_path: Path) -> None:
    project = copy_project("behaviour", tmp_path)
    first = build_binary(project, tmp_path / "dist1")
    assert _info(hidden, first)["revision"] == 1
    before = _layer_dirs(hidden.cache)
    cli = project / "src" / "behaviour" / "cli.py"
    cli.write_text(cli.read_text().replace("APP_CODE_REVISION = 1", "APP_CODE_REVISION = 2"))
    second = build_binary(project, tmp_path / "dist2")
    assert _info(hidden, second)["revision"] == 2
    after = _layer_dirs(hidden.cache)
    assert after["runtime"] == before["runtime"]
    assert len(after["app"]) == 2 and before["app"][0] in after["app"]


def test_rebuild_after_app_change_reuses_the_dependencies_and_gives_the_same_bytes(
    hidden: Hidden, tmp_path: Path
) -> None:
    project = copy_project("behaviour", tmp_path)
    env = {"SOURCE_DATE_EPOCH": "1700000000", "ONEFILE_BUILD_CACHE": str(tmp_path / "build-cache")}
    build_binary(project, tmp_path / "dist1", env=env)
    cli = project / "src" / "behaviour" / "cli.py"
    cli.write_text(cli.read_text().replace("APP_CODE_REVISION = 1", "APP_CODE_REVISION = 2"))
    # No network and no uv cache: only the project itself may be installed now. (The index
    # settings stay the same: dependencies from another index are other files, rebuilt.)
    offline = {**env, "UV_NO_CACHE": "1", "UV_OFFLINE": "1"}
    rebuilt = build_binary(project, tmp_path / "dist2", env=offline)
    assert _info(hidden, rebuilt)["revision"] == 2  # click, a dependency, prints it
    fresh = build_binary(project, tmp_path / "dist3", env={**env, "ONEFILE_BUILD_CACHE": str(tmp_path / "fresh")})
    assert rebuilt.read_bytes() == fresh.read_bytes()


def _require_python(version: str) -> None:
    """A Python ``version`` found as the build finds one (pyenv, uv-managed, PATH), else
    installed with ``uv python install``; a skip when that can't fetch one either (Debian 12
    has only 3.11, and uv downloads from GitHub)."""
    from uv import find_uv_bin

    from onefile_backend._errors import InterpreterNotFound
    from onefile_backend.runtime.interpreters import find_interpreter

    try:
        find_interpreter(version)
        return
    except InterpreterNotFound:
        pass
    result = subprocess.run([find_uv_bin(), "python", "install", version], capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        pytest.skip(f"no Python {version} here, and `uv python install {version}` failed: {lines[-1] if lines else ''}")


@pytest.mark.parametrize("version", ["3.10", "3.12", "3.13"])
def test_runtime_python_differs_from_the_build_python(hidden: Hidden, tmp_path: Path, version: str) -> None:
    if sys.version_info[:2] == tuple(map(int, version.split("."))):
        pytest.skip(f"the build itself runs on Python {version}")
    _require_python(version)
    binary = build_binary(PROJECTS / "behaviour", tmp_path / "dist", "-C", f"python={version}")
    info = _info(hidden, binary)
    assert info["version"].startswith(version + ".")
    assert hidden.run([str(binary), "child"]).returncode == 0


@pytest.mark.parametrize(
    ("project", "settings", "message"),
    [
        ("noscript", [], "noscript declares no console script"),
        ("twoscripts", [], "twoscripts has several console scripts (twoscripts, twoscripts-admin)"),
        (
            "unknownkey",
            [],
            "tool.onefile.entry-piont: unknown key (allowed: entry-point, entry-points, python, output, extras, lock, exclude, keep-tests, min-glibc, target, libc, stdlib-sources)",
        ),
        ("twoscripts", ["-C", "python=3.99"], "tool.onefile.python: no Python 3.99 found on this machine"),
        ("twoscripts", ["-C", "entry-point=nope"], "'nope' is not a console script of twoscripts"),
    ],
)
def test_user_errors_are_one_line_and_write_nothing(
    tmp_path: Path, project: str, settings: list[str], message: str
) -> None:
    outdir = tmp_path / "dist"
    result = onefile("build", "--binary", "-n", str(PROJECTS / project), "-o", str(outdir), *settings)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not outdir.exists() or list(outdir.iterdir()) == []


def test_binary_lists_its_contents_as_a_zip(hello: Path) -> None:
    listing = subprocess.run([require("unzip"), "-l", str(hello)], capture_output=True, text=True)
    assert listing.returncode == 0, listing.stderr
    for name in ("runtime/bin/python3", "app/bin/onefile-main", "app/onefile.json", "__main__.py"):
        assert name in listing.stdout
    assert "site-packages/click/__init__.py" in listing.stdout


def test_python_running_the_binary_as_a_zipapp_reexecutes_it(hidden: Hidden, behaviour: Path) -> None:
    # What reloaders do: os.execv(sys.executable, [sys.executable] + sys.argv).
    info = _info(hidden, behaviour)
    result = hidden.run([info["executable"], str(behaviour), "exit", "4"])
    assert result.returncode == 4, result.stderr
    result = hidden.run([info["executable"], str(behaviour), "info"])
    assert json.loads(result.stdout)["argv"] == [str(behaviour), "info"]


def test_same_inputs_give_identical_bytes(tmp_path: Path) -> None:
    """Different directories, times and build caches (so the runtime is rebuilt too)."""
    built = []
    for name in ("one", "two"):
        project = copy_project("behaviour", tmp_path / name)
        env = {"SOURCE_DATE_EPOCH": "1700000000"}
        if name == "two":
            env["ONEFILE_BUILD_CACHE"] = str(tmp_path / "fresh-build-cache")
        built.append(build_binary(project, tmp_path / name / "dist", env=env).read_bytes())
    assert built[0] == built[1]


_STDLIB_DIR = f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/"
_STDLIB = "runtime/" + _STDLIB_DIR
# A traceback through a stdlib function into the project's own code.
_RAISE_IN_THE_PROJECT = "import json, behaviour.cli as c; json.dumps(object(), default=c.square)"
_GETSOURCE = "import inspect, json; print(inspect.getsource(json.dumps).splitlines()[0])"


def _python(hidden: Hidden, binary: Path, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return hidden.run([str(binary), *args], {"ONEFILE": "python"}, **kwargs)


def test_the_stdlib_is_bytecode_alone_and_the_projects_code_keeps_its_sources(hidden: Hidden, behaviour: Path) -> None:
    names = [info.filename for info in zipfile.ZipFile(behaviour).infolist()]
    stdlib = [name for name in names if name.startswith(_STDLIB)]
    # 2to3 lists its fixers' sources to find them: they stay (runtime/layer.py _KEEP_SOURCES)
    sources = [name for name in stdlib if name.endswith(".py") and "/lib2to3/fixes/" not in name]
    assert sources == [] and _STDLIB + "json/__init__.pyc" in stdlib and _STDLIB + "os.pyc" in stdlib
    assert [name for name in stdlib if "__pycache__/" in name and "/lib2to3/fixes/" not in name] == []
    assert any(name.endswith("site-packages/behaviour/cli.py") for name in names)  # the app layer keeps them
    said = "left out      the stdlib's .py sources (bytecode kept); `stdlib-sources = true` keeps them"
    assert said in onefile("inspect", str(behaviour)).stdout.splitlines()
    info = hidden.run([str(behaviour)], {"ONEFILE": "info"}).stdout  # the launcher prints the manifest
    assert '"left_out": [\n    "the stdlib\'s .py sources (bytecode kept); `stdlib-sources = true` keeps them"' in info

    failed = _python(hidden, behaviour, "-c", _RAISE_IN_THE_PROJECT)
    lines = failed.stderr.splitlines()
    assert failed.returncode == 1 and lines[-1].startswith("TypeError: unsupported operand"), failed.stderr
    frame = next(n for n, line in enumerate(lines) if line.endswith('/behaviour/cli.py", line 15, in square'))
    assert lines[frame + 1] == "    return n * n", failed.stderr  # the project's own line
    # A stdlib frame: the name compiled in (relative to the runtime), and no line to show.
    stdlib = next(n for n, line in enumerate(lines) if line.startswith(f'  File "{_STDLIB_DIR}json/__init__.py", '))
    assert lines[stdlib + 1].startswith("  File "), failed.stderr
    nothing = _python(hidden, behaviour, "-c", _GETSOURCE)
    assert nothing.returncode == 1 and nothing.stderr.splitlines()[-1] == "OSError: could not get source code"
    tool = _python(hidden, behaviour, "-m", "json.tool", "--compact", input='{"a": [1, 2]}')
    assert (tool.returncode, tool.stdout) == (0, '{"a":[1,2]}\n'), tool.stderr


def test_stdlib_sources_true_keeps_them(hidden: Hidden, tmp_path: Path) -> None:
    binary = build_binary(PROJECTS / "behaviour", tmp_path, "-C", "stdlib-sources=true")
    names = {info.filename for info in zipfile.ZipFile(binary).infolist()}
    assert {
        _STDLIB + "json/__init__.py",
        _STDLIB + f"json/__pycache__/__init__.{sys.implementation.cache_tag}.pyc",
    } <= names
    assert _STDLIB + "json/__init__.pyc" not in names
    assert "left out" not in onefile("inspect", str(binary)).stdout
    source = _python(hidden, binary, "-c", _GETSOURCE)
    assert (source.returncode, source.stdout) == (
        0,
        "def dumps(obj, *, skipkeys=False, ensure_ascii=True, check_circular=True,\n",
    )
