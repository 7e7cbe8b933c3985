"""The entry point: pick the console script the binary runs.

It is read from the built wheel's ``entry_points.txt``, so ``setup.cfg``, ``setup.py``
and dynamic metadata work the same as ``[project.scripts]``.
"""

from __future__ import annotations

import configparser
import re
import zipfile
from dataclasses import dataclass
from typing import Literal

from .._errors import ConfigError, EntryPointError

ScriptKind = Literal["console_scripts", "gui_scripts"]

# https://packaging.python.org/en/latest/specifications/entry-points/#data-model
_OBJECT_REFERENCE = re.compile(r"^(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+))?\s*(\[.*\])?\s*$")


@dataclass(frozen=True)
class EntryPoint:
    name: str
    module: str
    attr: str | None
    kind: ScriptKind

    @property
    def value(self) -> str:
        return f"{self.module}:{self.attr}" if self.attr else self.module


def read_scripts(wheel_path: str) -> list[EntryPoint]:
    """Return the console and GUI scripts declared in a wheel, sorted by name."""
    with zipfile.ZipFile(wheel_path) as wheel:
        names = [n for n in wheel.namelist() if n.count("/") == 1 and n.endswith(".dist-info/entry_points.txt")]
        text = wheel.read(names[0]).decode("utf-8") if names else ""
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = lambda option: option  # type: ignore[method-assign,assignment]  # keep case
    parser.read_string(text)
    scripts = []
    kinds: tuple[ScriptKind, ...] = ("console_scripts", "gui_scripts")
    for kind in kinds:
        if not parser.has_section(kind):
            continue
        for name, value in parser.items(kind):
            match = _OBJECT_REFERENCE.match(value)
            if not match:
                raise EntryPointError(f"entry point {name!r} = {value!r} is not a valid object reference")
            scripts.append(EntryPoint(name, match["module"], match["attr"], kind))
    return sorted(scripts, key=lambda script: script.name)


def choose_entry_point(scripts: list[EntryPoint], wanted: str | None, project: str) -> EntryPoint:
    """The one script, or the one named by ``tool.onefile.entry-point``."""
    names = ", ".join(script.name for script in scripts)
    if wanted is not None:
        for script in scripts:
            if script.name == wanted:
                return script
        raise ConfigError(
            "tool.onefile.entry-point",
            f"{wanted!r} is not a console script of {project} (it has: {names or 'none'})",
        )
    if not scripts:
        raise EntryPointError(
            f'{project} declares no console script: add one under [project.scripts], e.g. mytool = "mytool.cli:main"'
        )
    if len(scripts) > 1:
        raise EntryPointError(
            f'{project} has several console scripts ({names}): choose one with [tool.onefile] entry-point = "NAME"'
        )
    return scripts[0]
