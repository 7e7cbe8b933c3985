"""Entry points: read from a wheel (console and GUI scripts, Python data scripts), and the
choice among them (one, several, every one, a module)."""

import zipfile

import pytest

from onefile_backend._errors import ConfigError, EntryPointError
from onefile_backend.app.entrypoints import (
    EntryPoint,
    Scripts,
    choose_entry_point,
    choose_entry_points,
    is_python_script,
    read_scripts,
    read_wheel_scripts,
)


def _wheel(tmp_path, entry_points="", files=None):
    wheel = tmp_path / "demo-1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("demo-1.dist-info/entry_points.txt", entry_points)
        for name, text in (files or {}).items():
            archive.writestr(name, text)
    return str(wheel)


def test_scripts_come_from_the_wheel(tmp_path):
    wheel = _wheel(
        tmp_path, "[console_scripts]\nDemo = demo.cli:main\n[gui_scripts]\ndemo-gui = demo.gui:run.app [extra]\n"
    )
    assert read_scripts(wheel) == [
        EntryPoint("Demo", "demo.cli", "main", "console_scripts"),
        EntryPoint("demo-gui", "demo.gui", "run.app", "gui_scripts"),
    ]


def test_python_data_scripts_are_commands_and_others_are_not(tmp_path):
    wheel = _wheel(
        tmp_path,
        "[console_scripts]\nzz = demo:main\n",
        {
            "demo-1.data/scripts/aws": "#!python\nimport demo\n",
            "demo-1.data/scripts/aws_completer": "#!/usr/bin/env python3\nimport demo\n",
            "demo-1.data/scripts/aws.cmd": "@echo OFF\r\nREM\r\n",
            "demo-1.data/scripts/aws_bash_completer": "# bash completion for aws\ncomplete -C aws_completer aws\n",
            "demo/__main__.py": "print('main')\n",
        },
    )
    scripts = read_wheel_scripts(wheel)
    assert scripts.commands == [
        EntryPoint("aws", "aws", None, "data_scripts"),
        EntryPoint("aws_completer", "aws_completer", None, "data_scripts"),
        EntryPoint("zz", "demo", "main", "console_scripts"),
    ]
    assert sorted(scripts.not_python) == ["aws.cmd", "aws_bash_completer"]
    assert scripts.main_packages == ["demo"]
    assert scripts.commands[0].value == "scripts/aws"
    with pytest.raises(
        ConfigError, match=r"'aws.cmd' is a data script that is not Python \(its first line is '@echo OFF'\)"
    ):
        choose_entry_points(scripts, ("aws.cmd",), "demo", "tool.onefile.entry-points")


@pytest.mark.parametrize(
    ("line", "python"),
    [
        (b"#!python", True),
        (b"#!pythonw", True),
        (b"#!/usr/bin/env python", True),
        (b"#!/usr/bin/env python3.12", True),
        (b"#!/opt/venv/bin/python3", True),
        (b"#!/bin/sh", False),
        (b"#!/usr/bin/env bash", False),
        (b"@echo OFF", False),
        (b"#!/usr/bin/pythonic-tool", False),
    ],
)
def test_which_data_scripts_are_python(line, python):
    assert is_python_script(line) is python


def test_entry_point_choice():
    one = EntryPoint("a", "m", "f", "console_scripts")
    two = EntryPoint("b", "m", "g", "console_scripts")
    assert choose_entry_point([one], None, "p") is one
    assert choose_entry_point([one, two], "b", "p") is two
    with pytest.raises(EntryPointError, match=r"several console scripts \(a, b\)"):
        choose_entry_point([one, two], None, "p")
    with pytest.raises(EntryPointError, match="declares no console script"):
        choose_entry_point([], None, "p")
    with pytest.raises(ConfigError, match=r"'c' is not a console script of p \(it has: a, b\)"):
        choose_entry_point([one, two], "c", "p")


def test_several_commands():
    one = EntryPoint("a", "m", "f", "console_scripts")
    two = EntryPoint("b", "m", "g", "console_scripts")
    data = EntryPoint("c", "c", None, "data_scripts")
    scripts = Scripts([one, two, data], {}, [])
    assert choose_entry_points(scripts, ("*",), "p") == [one, two, data]
    assert choose_entry_points(scripts, ("@P",), "p") == [one, two, data]  # the project's own, by its name
    assert choose_entry_points(scripts, ("b", "a", "b"), "p") == [two, one]  # in the order asked, once each
    module = EntryPoint("pkg.cli", "pkg.cli", None, "module")
    assert choose_entry_points(scripts, ("-m pkg.cli", "a"), "p") == [module, one]
    assert module.value == "-m pkg.cli"
    other = Scripts([EntryPoint("o", "other", "main", "console_scripts")], {})
    installed = {"other-dist": other, "plain": Scripts([], {})}
    assert choose_entry_points(scripts, ("a", "@Other_Dist"), "p", dependencies=installed) == [one, other.commands[0]]
    with pytest.raises(
        ConfigError, match=r"'@nope': no distribution of that name is installed \(installed: other-dist, plain\)"
    ):
        choose_entry_points(scripts, ("@nope",), "p", "tool.onefile.entry-points", installed)
    with pytest.raises(ConfigError, match=r"'@plain': plain declares no console script"):
        choose_entry_points(scripts, ("@plain",), "p", "tool.onefile.entry-points", installed)
    with pytest.raises(ConfigError, match=r"'\*': p declares no console script"):
        choose_entry_points(Scripts([], {}, []), ("*",), "p")


def test_a_package_with_main_gets_a_hint():
    with pytest.raises(EntryPointError, match=r'declares no console script: .* entry-points = \["-m mypkg"\]$'):
        choose_entry_points(Scripts([], {}, ["mypkg"]), (), "p")
