"""bin/onefile-main and bin/onefile-commands, rendered and run by this Python as the
launcher runs them: the command chosen by the name it was started by or the first
argument, the list of commands, ONEFILE=install's links."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from onefile_backend.format.bootstrap import COMMANDS_HELPER, render_commands_helper, render_launcher
from onefile_backend.format.spec import APP_MAIN

COMMANDS = [
    ("greet", "call", "tool.cli", "main"),
    ("shout", "call", "tool.cli", "loud.run"),
    ("tool", "module", "tool", None),
    ("data", "script", "data", None),
]


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """An app directory: bin/ with the two scripts and a data script, and a package."""
    (tmp_path / "bin").mkdir()
    (tmp_path / APP_MAIN).write_text(render_launcher(COMMANDS))
    (tmp_path / COMMANDS_HELPER).write_text(render_commands_helper())
    (tmp_path / "bin" / "data").write_text("import sys\nprint('data', __name__, sys.argv)\n")
    package = tmp_path / "site" / "tool"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text("import sys\nprint('module', __name__, sys.argv[0].endswith('__main__.py'))\n")
    (package / "cli.py").write_text(
        "import sys\n\ndef main():\n    print('greet', sys.argv)\n    return 3\n\n"
        "class loud:\n    @staticmethod\n    def run():\n        print('SHOUT', sys.argv)\n"
    )
    return tmp_path


def _run(
    app: Path, argv0: str | None, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    variables = {"PYTHONPATH": str(app / "site"), "ONEFILE_BINARY": "/opt/tools/tool", **(env or {})}
    if argv0 is not None:
        variables["ONEFILE_ARGV0"] = argv0
    command = [sys.executable, str(app / APP_MAIN), *args]
    return subprocess.run(command, env={**os.environ, **variables}, capture_output=True, text=True)


def test_a_link_named_like_a_command_runs_it(app: Path) -> None:
    result = _run(app, "/usr/local/bin/shout", "x")
    assert (result.returncode, result.stdout) == (0, "SHOUT ['/usr/local/bin/shout', 'x']\n")
    on_path = _run(app, "greet", "y")  # a bare name: found in PATH
    assert (on_path.returncode, on_path.stdout) == (3, "greet ['greet', 'y']\n")
    assert _run(app, "/x/data", "z").stdout == "data __main__ ['/x/data', 'z']\n"
    assert _run(app, "/x/tool").stdout == "module __main__ True\n"  # its own name, a command's


def test_under_its_own_name_the_first_argument_names_it(app: Path) -> None:
    result = _run(app, "/opt/tools/tool", "greet", "a")
    assert (result.returncode, result.stdout) == (3, "greet ['greet', 'a']\n")
    assert _run(app, "/opt/tools/tool", "tool").stdout == "module __main__ True\n"


def test_no_command_lists_them(app: Path) -> None:
    (app / "bin" / "tools").symlink_to(app / APP_MAIN)
    for args, said in [((), "tools: run one as"), (("nope",), "tools: 'nope' is not one of its commands; run one")]:
        result = _run(app, "/opt/tools/tools", *args, env={"ONEFILE_BINARY": "/opt/tools/tools"})
        assert (result.returncode, result.stdout) == (2, "data\ngreet\nshout\ntool\n")
        assert result.stderr.startswith(said), result.stderr


def test_one_command_runs_whatever_the_name_and_arguments(tmp_path: Path, app: Path) -> None:
    (app / APP_MAIN).write_text(render_launcher([COMMANDS[0]]))
    assert _run(app, "/a/whatever", "shout").stdout == "greet ['/a/whatever', 'shout']\n"
    assert _run(app, "whatever").stdout == "greet ['/opt/tools/tool']\n"  # a bare name: the binary, as before


def test_install_writes_links_and_overwrites_nothing(app: Path, tmp_path: Path) -> None:
    binary = tmp_path / "tool"
    binary.write_text("")
    links = tmp_path / "links"
    links.mkdir()
    env = {"ONEFILE": "install", "ONEFILE_BINARY": str(binary)}
    result = _run(app, str(binary), str(links), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{links}/{name} -> {binary}" for name in ("data", "greet", "shout", "tool")]
    assert all(os.readlink(links / name) == str(binary) for name in ("data", "greet", "shout", "tool"))
    (links / "greet").unlink()
    (links / "shout").unlink()
    (links / "shout").symlink_to("/elsewhere")
    refused = _run(app, str(binary), str(links), env=env)
    assert refused.returncode == 1 and not (links / "greet").exists()
    assert (
        refused.stderr
        == f"tool: {links}/shout is a link to /elsewhere, not a link to {binary}: not overwritten (nothing written)\n"
    )
    usage = _run(app, str(binary), str(tmp_path / "missing"), env=env)
    assert usage.returncode == 2 and "is not a directory; usage: ONEFILE=install tool DIR" in usage.stderr
