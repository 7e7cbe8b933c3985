"""Entry points: read from a wheel, and the choice among them."""

import zipfile

import pytest

from onefile_backend._errors import ConfigError, EntryPointError
from onefile_backend.app.entrypoints import EntryPoint, choose_entry_point, read_scripts


def test_scripts_come_from_the_wheel(tmp_path):
    wheel = tmp_path / "demo-1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(
            "demo-1.dist-info/entry_points.txt",
            "[console_scripts]\nDemo = demo.cli:main\n[gui_scripts]\ndemo-gui = demo.gui:run.app [extra]\n",
        )
    assert read_scripts(str(wheel)) == [
        EntryPoint("Demo", "demo.cli", "main", "console_scripts"),
        EntryPoint("demo-gui", "demo.gui", "run.app", "gui_scripts"),
    ]


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
