"""Every way a Python program starts (issue 21): several commands in one binary, chosen by
the name it is started by or its first argument; data scripts; ``python -m``; the binary's
own interpreter (``ONEFILE=python``); links on PATH (``ONEFILE=install``). Real PyPI
distributions, run with Python hidden."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECTS, Hidden, build_binary, onefile

pytestmark = pytest.mark.integration

CSV = "name,amount,city\nAda,3,London\nGrace,5,Arlington\n"
CSVKIT_COMMANDS = [
    "csvclean", "csvcut", "csvformat", "csvgrep", "csvjoin", "csvjson", "csvlook",
    "csvpy", "csvsort", "csvsql", "csvstack", "csvstat", "in2csv", "sql2csv",
]  # fmt: skip


def _one_line_error(result: subprocess.CompletedProcess[str], expected: str) -> None:
    lines = result.stderr.rstrip("\n").splitlines()
    assert result.returncode != 0, result.stderr
    assert lines and lines[-1].startswith("ERROR ") and expected in lines[-1], result.stderr
    assert [line for line in lines if line.startswith("ERROR")] == [lines[-1]], result.stderr
    assert "Traceback" not in result.stderr


def _built(result: subprocess.CompletedProcess[str], path: Path) -> Path:
    assert result.returncode == 0, result.stdout + result.stderr
    assert path.is_file(), sorted(p.name for p in path.parent.iterdir())
    return path


@pytest.fixture(scope="module")
def csvkit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``--from csvkit==2.2.0 --script '*'``: one binary named csvkit with its 14 commands."""
    out = tmp_path_factory.mktemp("csvkit")
    return _built(
        onefile("build", "--binary", "--from", "csvkit==2.2.0", "--script", "*", "-o", str(out)), out / "csvkit"
    )


def test_csvkit_commands_through_links_and_first_argument(csvkit: Path, hidden: Hidden, tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text(CSV)
    links = tmp_path / "bin"
    links.mkdir()
    for name in ("csvlook", "csvcut", "in2csv"):
        (links / name).symlink_to(csvkit)
    os.link(csvkit, links / "csvstat")  # a hard link works as a symlink does
    data = str(tmp_path / "data.csv")
    look = hidden.run([str(links / "csvlook"), data])
    assert (look.returncode, look.stdout.splitlines()[2]) == (0, "| Ada   |      3 | London    |"), look.stderr
    cut = hidden.run([str(links / "csvcut"), "-c", "name,city", data])
    assert (cut.returncode, cut.stdout) == (0, "name,city\nAda,London\nGrace,Arlington\n"), cut.stderr
    converted = hidden.run([str(links / "in2csv"), "-f", "csv", data])
    assert (converted.returncode, converted.stdout.replace("\r\n", "\n")) == (0, CSV), converted.stderr
    stat = hidden.run([str(links / "csvstat"), "-c", "amount", "--sum", data])
    assert (stat.returncode, stat.stdout.strip()) == (0, "8"), stat.stderr
    # Found in PATH under a command's name (argv[0] is a bare name), and sys.argv[0] is it.
    on_path = hidden.run(["csvcut", "-c", "1", data], env={"PATH": f"{links}:/usr/bin:/bin"})
    assert (on_path.returncode, on_path.stdout) == (0, "name\nAda\nGrace\n"), on_path.stderr
    usage = hidden.run(["csvcut", "--nope"], env={"PATH": f"{links}:/usr/bin:/bin"})
    assert usage.returncode == 2 and usage.stderr.startswith("usage: csvcut "), usage.stderr
    # Under its own name, the first argument names the command.
    first = hidden.run([str(csvkit), "csvcut", "-c", "name,city", data])
    assert (first.returncode, first.stdout) == (0, cut.stdout), first.stderr
    alone = hidden.run([str(csvkit)])
    assert (alone.returncode, alone.stdout.splitlines()) == (2, CSVKIT_COMMANDS), alone.stderr
    nope = hidden.run([str(csvkit), "nope"])
    assert (nope.returncode, nope.stdout.splitlines()) == (2, CSVKIT_COMMANDS)
    assert nope.stderr.startswith("csvkit: 'nope' is not one of its commands"), nope.stderr


def test_csvkit_lists_its_commands_and_costs_no_more_than_one(csvkit: Path, hidden: Hidden, tmp_path: Path) -> None:
    facts = json.loads(onefile("inspect", "--json", str(csvkit)).stdout)
    assert [command["name"] for command in facts["commands"]] == CSVKIT_COMMANDS
    assert facts["entry_point"]["name"] == "csvclean"  # the first, for readers older than `commands`
    assert facts["commands"][1] == {
        "name": "csvcut", "value": "csvkit.utilities.csvcut:launch_new_instance", "kind": "console_scripts"
    }  # fmt: skip
    text = onefile("inspect", str(csvkit)).stdout
    assert "commands (14) csvclean = csvkit.utilities.csvclean:launch_new_instance" in text
    info = hidden.run([str(csvkit)], env={"ONEFILE": "info"})
    assert info.returncode == 0 and '"name": "sql2csv"' in info.stdout, info.stderr
    out = tmp_path / "single"
    single = onefile("build", "--binary", "--from", "csvkit==2.2.0", "--script", "csvlook", "-o", str(out))
    one = _built(single, out / "csvlook")
    assert abs(csvkit.stat().st_size - one.stat().st_size) <= 0.05 * one.stat().st_size


def test_install_writes_links_and_overwrites_nothing(csvkit: Path, hidden: Hidden, tmp_path: Path) -> None:
    directory = tmp_path / "bin"
    directory.mkdir()
    installed = hidden.run([str(csvkit), str(directory)], env={"ONEFILE": "install"})
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.splitlines() == [f"{directory}/{name} -> {csvkit}" for name in CSVKIT_COMMANDS]
    assert sorted(p.name for p in directory.iterdir()) == CSVKIT_COMMANDS
    assert all(os.readlink(directory / name) == str(csvkit) for name in CSVKIT_COMMANDS)
    (tmp_path / "data.csv").write_text(CSV)
    looked = hidden.run([str(directory / "csvjson"), str(tmp_path / "data.csv")])
    assert looked.returncode == 0 and json.loads(looked.stdout)[1]["city"] == "Arlington", looked.stderr
    again = hidden.run([str(csvkit), str(directory)], env={"ONEFILE": "install"})
    assert again.returncode == 0 and "(already there)" in again.stdout, again.stderr
    (directory / "csvlook").unlink()
    (directory / "csvlook").write_text("mine\n")
    (directory / "csvcut").unlink()
    refused = hidden.run([str(csvkit), str(directory)], env={"ONEFILE": "install"})
    assert refused.returncode == 1
    assert (
        refused.stderr
        == f"csvkit: {directory}/csvlook is a file, not a link to {csvkit}: not overwritten (nothing written)\n"
    )
    assert (directory / "csvlook").read_text() == "mine\n" and not (directory / "csvcut").exists()
    usage = hidden.run([str(csvkit)], env={"ONEFILE": "install"})
    assert usage.returncode == 2 and "usage: ONEFILE=install csvkit DIR" in usage.stderr


def test_awscli_data_scripts(hidden: Hidden, tmp_path: Path) -> None:
    """awscli's commands are data scripts (`scripts=`, `#!python`), not console scripts."""
    out = tmp_path / "dist"
    aws = _built(
        onefile("build", "--binary", "--from", "awscli==1.46.2", "--script", "aws", "-o", str(out)), out / "aws"
    )
    home = {"HOME": str(tmp_path / "home")}
    skeleton = hidden.run([str(aws), "ec2", "describe-instances", "--generate-cli-skeleton"], env=home)
    assert skeleton.returncode == 0, skeleton.stderr
    assert json.loads(skeleton.stdout)["InstanceIds"] == [""]
    facts = json.loads(onefile("inspect", "--json", str(aws)).stdout)
    assert facts["entry_point"] == {"name": "aws", "value": "scripts/aws", "kind": "data_scripts"}
    completer_build = onefile(
        "build", "--binary", "--from", "awscli==1.46.2", "--script", "aws_completer", "-o", str(out)
    )
    completer = _built(completer_build, out / "aws_completer")
    line = "aws ec2 describe-instance-typ"
    completed = hidden.run([str(completer)], env={**home, "COMP_LINE": line, "COMP_POINT": str(len(line))})
    assert (completed.returncode, completed.stdout.split()) == (
        0,
        ["describe-instance-type-offerings", "describe-instance-types"],
    ), completed.stderr
    cmd = onefile("build", "--binary", "--from", "awscli==1.46.2", "--script", "aws.cmd", "-o", str(out))
    _one_line_error(
        cmd, "ERROR --script 'aws.cmd': 'aws.cmd' is a data script that is not Python (its first line is '@echo OFF')"
    )
    assert sorted(p.name for p in out.iterdir()) == ["aws", "aws_completer"]


def test_a_module_runs_as_python_m_does(hidden: Hidden, tmp_path: Path) -> None:
    hint = onefile("build", "--binary", "-n", str(PROJECTS / "runasmodule"), "-o", str(tmp_path / "none"))
    _one_line_error(hint, 'runasmodule declares no console script: add one under [project.scripts], e.g. mytool = "mytool.cli:main", or run its package as python -m does: [tool.onefile] entry-points = ["-m runasmodule"]')  # fmt: skip
    assert not (tmp_path / "none").exists() or list((tmp_path / "none").iterdir()) == []
    binary = build_binary(PROJECTS / "runasmodule", tmp_path / "dist", "-C", "entry-points=-m runasmodule")
    assert binary.name == "runasmodule"
    ran = hidden.run([str(binary), "a", "b c"])
    assert (ran.returncode, ran.stdout) == (0, "__main__ runasmodule/__main__.py a b c\n"), ran.stderr
    facts = json.loads(onefile("inspect", "--json", str(binary)).stdout)
    assert facts["commands"] == [{"name": "runasmodule", "value": "-m runasmodule", "kind": "module"}]


def test_two_commands_of_a_project(hidden: Hidden, tmp_path: Path) -> None:
    """`entry-points` in a project; the output defaults to the project's name, which is also
    one of its commands: under that name the first argument may name another command, else
    it runs that one."""
    binary = build_binary(PROJECTS / "twoscripts", tmp_path / "dist", "-C", "entry-points=twoscripts-admin,twoscripts")
    assert binary.name == "twoscripts"
    assert hidden.run([str(binary)]).stdout == "hi\n"
    assert hidden.run([str(binary), "twoscripts-admin"]).stdout == "admin\n"
    (tmp_path / "twoscripts-admin").symlink_to(binary)
    assert hidden.run([str(tmp_path / "twoscripts-admin")]).stdout == "admin\n"
    assert hidden.run([str(tmp_path / "twoscripts-admin"), "twoscripts"]).stdout == "admin\n"
    renamed = tmp_path / "tools"
    os.link(binary, renamed)
    assert hidden.run([str(renamed), "twoscripts-admin"]).stdout == "admin\n"
    listed = hidden.run([str(renamed)])
    assert (listed.returncode, listed.stdout) == (2, "twoscripts\ntwoscripts-admin\n")


def test_a_dependencys_commands(hidden: Hidden, tmp_path: Path) -> None:
    """`"@DIST"` names every command of a dependency (here csvkit's 14, next to the
    project's own)."""
    binary = build_binary(PROJECTS / "depscripts", tmp_path / "dist")
    facts = json.loads(onefile("inspect", "--json", str(binary)).stdout)
    assert [command["name"] for command in facts["commands"]] == ["depscripts", *CSVKIT_COMMANDS]
    (tmp_path / "data.csv").write_text(CSV)
    cut = hidden.run([str(binary), "csvcut", "-c", "city", str(tmp_path / "data.csv")])
    assert (cut.returncode, cut.stdout) == (0, "city\nLondon\nArlington\n"), cut.stderr
    assert hidden.run([str(binary)]).stdout == "depscripts\n"
    project = PROJECTS / "depscripts"
    for value, message in [
        ("@agate", "tool.onefile.entry-points: '@agate': agate declares no console script"),
        ("@nope", "tool.onefile.entry-points: '@nope': no distribution of that name is installed (installed: agate, "),
    ]:
        out = tmp_path / value[1:]
        failed = onefile("build", "--binary", "-n", str(project), "-o", str(out), "-C", f"entry-points={value}")
        _one_line_error(failed, message)
        assert not out.exists() or list(out.iterdir()) == []


def test_the_binarys_own_interpreter(hello: Path, hidden: Hidden, tmp_path: Path) -> None:
    """ONEFILE=python: the interpreter sys.executable is, with the app's packages."""
    code = "import click, sys; print(click.__version__, sys.executable)"
    ran = hidden.run([str(hello), "-c", code], env={"ONEFILE": "python"})
    assert ran.returncode == 0, ran.stderr
    version, executable = ran.stdout.split()
    assert version == json.loads(onefile("inspect", "--json", str(hello)).stdout)["distributions"]["click"]
    assert executable.startswith(str(hidden.cache) + "/app/") and executable.endswith("/bin/python")
    app = hidden.run([str(hello), "--help"])  # the app's own sys.executable is the same one
    assert app.returncode == 0
    script = tmp_path / "script.py"
    script.write_text(
        "import os, sys, hello\nprint(sys.argv, 'ONEFILE' in os.environ, 'ONEFILE_ARGV0' in os.environ)\n"
    )
    scripted = hidden.run([str(hello), str(script), "x"], env={"ONEFILE": "python"})
    assert (scripted.returncode, scripted.stdout) == (0, f"[{str(script)!r}, 'x'] False False\n"), scripted.stderr
    repl = hidden.run([str(hello)], env={"ONEFILE": "python"}, input="import click\nprint(click.echo)\n")
    assert repl.returncode == 0 and "<function echo at" in repl.stdout, repl.stderr
    code = "from hello.cli import main; main(['--name', 'M'], standalone_mode=False)"
    module = hidden.run([str(hello), "-m", "timeit", "-n", "1", code], env={"ONEFILE": "python"})
    assert module.returncode == 0 and module.stdout.startswith("Hello, M!\n"), module.stderr


PLAYBOOK = """\
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{python}"
  tasks:
    - command: echo hello from a task
      register: out
    - debug:
        var: out.stdout
"""


# The runtime is the Python running the build; ansible-core 2.18 and later need 3.11.
ANSIBLE_CORE = "2.19.14" if sys.version_info >= (3, 11) else "2.17.14"


def test_ansible_playbook_runs_a_local_command(hidden: Hidden, tmp_path: Path) -> None:
    """ansible-core: two of its commands in one binary; the playbook's modules run in the
    binary's own interpreter (what ONEFILE=python gives)."""
    out = tmp_path / "dist"
    built = onefile(
        "build", "--binary", "--from", f"ansible-core=={ANSIBLE_CORE}", "--script", "ansible", "--script", "ansible-playbook",
        "-o", str(out),
    )  # fmt: skip
    binary = _built(built, out / "ansible-core")
    (tmp_path / "ansible-playbook").symlink_to(binary)
    home = {"HOME": str(tmp_path / "home")}
    python = hidden.run([str(binary), "-c", "import sys; print(sys.executable)"], env={**home, "ONEFILE": "python"})
    assert python.returncode == 0, python.stderr
    (tmp_path / "play.yml").write_text(PLAYBOOK.format(python=python.stdout.strip()))
    play = hidden.run([str(tmp_path / "ansible-playbook"), "-i", "localhost,", str(tmp_path / "play.yml")], env=home)
    assert play.returncode == 0, play.stdout + play.stderr
    assert '"out.stdout": "hello from a task"' in play.stdout and "changed=1" in play.stdout, play.stdout
    version = hidden.run([str(binary), "ansible", "--version"], env=home)
    assert version.returncode == 0 and version.stdout.startswith(f"ansible [core {ANSIBLE_CORE}]"), version.stderr


def test_from_with_a_dependencys_commands(hidden: Hidden, tmp_path: Path) -> None:
    """--script '@DIST' with --from: the commands of one of REQ's dependencies."""
    out = tmp_path / "dist"
    built = onefile(
        "build", "--binary", "--from", "httpie==3.2.4", "--script", "http", "--script", "@Pygments", "-o", str(out)
    )
    binary = _built(built, out / "httpie")
    listed = hidden.run([str(binary)])
    assert (listed.returncode, listed.stdout) == (2, "http\npygmentize\n"), listed.stderr
    coloured = hidden.run([str(binary), "pygmentize", "-l", "python", "-f", "html"], input="x = 1\n")
    assert coloured.returncode == 0 and '<span class="mi">1</span>' in coloured.stdout, coloured.stderr
