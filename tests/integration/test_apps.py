"""Real applications from PyPI packages, each run from its binary with Python hidden."""

from __future__ import annotations

import json
import os
import pty
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
from conftest import EXAMPLES, PROJECTS, Hidden, build_binary, onefile
from needs import require

pytestmark = pytest.mark.integration
LOADGEN = Path(__file__).resolve().parent.parent / "loadgen.py"


@pytest.fixture(scope="module")
def shared(hidden_mounts: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Hidden:
    """One cache for the module: the runtime is unpacked once for all its binaries."""
    return Hidden(hidden_mounts, tmp_path_factory.mktemp("apps") / "cache")


def _build(name: str, tmp_path_factory: pytest.TempPathFactory, root: Path = PROJECTS) -> Path:
    return build_binary(root / name, tmp_path_factory.mktemp(name))


def _json(hidden: Hidden, command: list[str], env: dict[str, str] | None = None) -> dict:
    result = hidden.run(command, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_native_extensions_from_real_wheels(shared: Hidden, tmp_path_factory: pytest.TempPathFactory) -> None:
    binary = _build("natives", tmp_path_factory)
    names = zipfile.ZipFile(binary).namelist()
    site = f"app/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages/"
    assert site + "numpy/_core/tests/_locales.py" in names  # test modules and data go, other modules stay
    assert not [name for name in names if "/tests/" in name and name.rsplit("/", 1)[-1].startswith("test_")]
    assert not [name for name in names if "/tests/" in name and name.endswith((".csv", ".pyi", ".f90", ".npy"))]
    assert _json(shared, [str(binary)]) == {
        "black": "x = (1,)\n",
        "black_compiled": True,
        "cryptography": "secret",
        "lxml": "text",
        "numpy": 506.0,
        "pandas": {"a": 4, "b": 2},
        "pydantic": {"x": 1, "y": 2},
    }


def test_files_metadata_and_plugins(shared: Hidden, tmp_path_factory: pytest.TempPathFactory) -> None:
    results = _json(shared, [str(_build("datafiles", tmp_path_factory))])
    versions = results.pop("versions")
    assert set(versions) == {"django", "flask", "certifi"} and all(versions.values())
    assert results == {
        "certifi_cas": True,
        "django_template": "<h1>Hello Django</h1>",
        "django_translation": "Ce champ est obligatoire.",
        "file_next_to_code": "forty-two",
        "flask_static": "body { color: teal; }",
        "flask_template": "<h1>Hello Flask</h1>",
        "importlib_resources": "body { color: teal; }",
        "namespace_package": "namespace package part",
        "plugin_from_other_distribution": "django.core.management:execute_from_command_line",
        "pth_file_ran": True,
        "tzdata": "1:00:00",
    }


def test_extension_built_here_gets_this_machines_libraries_bundled(
    shared: Hidden, tmp_path_factory: pytest.TempPathFactory
) -> None:
    require("cc", "python-headers", "zstd-headers")  # the extension includes zstd.h and links libzstd
    outdir = tmp_path_factory.mktemp("cext")
    build = onefile("build", "--binary", "-n", str(PROJECTS / "cext"), "-o", str(outdir))
    assert build.returncode == 0, build.stderr
    assert "bundled libraries from this machine: libzstd.so.1" in build.stderr
    result = _json(shared, [str(outdir / "cext")])
    assert result["zstd"].count(".") == 2
    assert result["mapped"] and all(path.startswith(str(shared.cache / "app")) for path in result["mapped"])


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_multiprocessing_pools(shared: Hidden, behaviour: Path, method: str) -> None:
    result = shared.run([str(behaviour), "mp", method])
    assert (result.returncode, result.stdout) == (0, f"{method} [0, 1, 4, 9, 16]\n"), result.stderr


def test_children_run_bundled_modules_with_dash_m(shared: Hidden, behaviour: Path) -> None:
    assert shared.run([str(behaviour), "dash-m"]).stdout == "echo: from child\n"


def test_app_reexecuting_itself_like_a_reloader(shared: Hidden, behaviour: Path) -> None:
    result = shared.run([str(behaviour), "reexec", "a", "b"])
    assert (result.returncode, result.stdout) == (0, "re-executed with ['reexec', 'a', 'b']\n"), result.stderr


def test_sigint_becomes_keyboard_interrupt(shared: Hidden, behaviour: Path) -> None:
    # A handler here, so the child starts with SIGINT at its default even when this run
    # was started with it ignored (`cmd &` in a script): an ignored SIGINT is inherited,
    # and Python, like any program, then leaves it ignored.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = shared.popen([str(behaviour), "sigint"])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert (process.returncode, out) == (130, "KeyboardInterrupt\n"), err


def _run_on_pty(hidden: Hidden, command: list[str], typed: bytes = b"") -> bytes:
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        hidden.argv(command, {"TERM": "xterm"}),
        env={**os.environ, **hidden.mounts},
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        close_fds=True,
    )
    os.close(terminal)
    output = b""
    if typed:
        while b"? " not in output:
            output += os.read(controller, 1024)
        os.write(controller, typed)
    while True:
        try:
            chunk = os.read(controller, 1024)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert process.wait(timeout=30) == 0
    return output.replace(b"\r\n", b"\n")


def test_terminal_is_a_tty_and_prompts_show_before_input(shared: Hidden, behaviour: Path) -> None:
    assert _run_on_pty(shared, [str(behaviour), "tty"]) == b"[true, true, true]\n"
    assert _run_on_pty(shared, [str(behaviour), "prompt"], typed=b"Ada\n") == b"name? Ada\nhi Ada\n"


def test_utf8_arguments_and_output_without_a_locale(shared: Hidden, behaviour: Path) -> None:
    result = shared.run([str(behaviour), "utf8", "héllo wörld"])  # env -i: no LANG at all
    assert (result.returncode, result.stdout) == (0, "dlröw olléh \u2713 utf-8\n"), result.stderr


def test_gui_scripts_entry_point(shared: Hidden, tmp_path_factory: pytest.TempPathFactory) -> None:
    binary = _build("gui", tmp_path_factory)
    assert binary.name == "guiapp"
    assert shared.run([str(binary)]).stdout == "gui entry point ran\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_http(url: str, process: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@pytest.mark.parametrize(
    ("example", "arguments", "path", "stopped"),
    [
        ("flask-gunicorn", ["--bind", "127.0.0.1:{port}", "--workers", "2"], "/", "Shutting down: Master"),
        ("fastapi-uvicorn", ["--port", "{port}"], "/health", "Finished server process"),
    ],
)
def test_servers_answer_load_and_stop_on_sigterm(
    shared: Hidden,
    tmp_path_factory: pytest.TempPathFactory,
    example: str,
    arguments: list[str],
    path: str,
    stopped: str,
) -> None:
    binary = _build(example, tmp_path_factory, EXAMPLES)
    port = _free_port()
    url = f"http://127.0.0.1:{port}{path}"
    server = shared.popen([str(binary), *(a.format(port=port) for a in arguments)], {"HOME": str(shared.cache.parent)})
    try:
        _wait_for_http(url, server)
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read().decode()
        assert "flaskdemo" in body or '"status":"ok"' in body
        load = subprocess.run(
            [sys.executable, str(LOADGEN), url, "1000", "8"], capture_output=True, text=True, timeout=300
        )
        assert json.loads(load.stdout) == {"ok": 1000, "failed": 0, "errors": []}, load.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    # uvicorn re-raises SIGTERM after its graceful shutdown; gunicorn exits 0.
    assert server.returncode in (0, -signal.SIGTERM), err
    assert stopped in err


def test_import_of_a_left_out_module_is_a_build_warning(shared: Hidden, tmp_path: Path) -> None:
    build = onefile("build", "--binary", "-n", str(PROJECTS / "tkuser"), "-o", str(tmp_path))
    assert build.returncode == 0, build.stderr
    warnings = [line for line in build.stderr.splitlines() if line.startswith("WARNING")]
    assert warnings == [
        "WARNING tkuser: tkuser/__init__.py imports tkinter, which binaries do not include "
        "(Tk needs an X server's libraries); that code will raise ImportError"
    ]
    assert shared.run([str(tmp_path / "tkuser")]).stdout == "ImportError: No module named 'tkinter'\n"
