"""The entry points: pick the commands the binary runs.

They are read from the built wheel: its ``entry_points.txt`` (so ``setup.cfg``,
``setup.py`` and dynamic metadata work the same as ``[project.scripts]``) and its Python
data scripts (``<name>.data/scripts/NAME``, setuptools' ``scripts=``). A binary runs one
command, or several chosen at start by the name it is called by or its first argument
(format/bootstrap.py).
"""

from __future__ import annotations

import configparser
import csv
import email.parser
import glob
import os
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from packaging.utils import canonicalize_name

from .._errors import ConfigError, EntryPointError

#: console and GUI scripts (entry_points.txt), Python data scripts, ``python -m`` modules.
ScriptKind = Literal["console_scripts", "gui_scripts", "data_scripts", "module"]

# https://packaging.python.org/en/latest/specifications/entry-points/#data-model
_OBJECT_REFERENCE = re.compile(r"^(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+))?\s*(\[.*\])?\s*$")
# A data script is Python when its first line says so as installers rewrite it: `#!python`
# (pip, uv, installer), `#!/usr/bin/env python3`, or a path to a `pythonX.Y`.
_PYTHON_SHEBANG = re.compile(rb"^#!\s*(\S*/)?(env\s+(-S\s+)?)?python[\d.]*w?(\s|$)")
_DATA_SCRIPT = re.compile(r"^[^/]+\.data/scripts/(?P<name>[^/]+)$")
_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_SCRIPT_NAME = re.compile(r"^[^\s/@=-][^\s/=]*$")
_DIST_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")


@dataclass(frozen=True)
class EntryPoint:
    name: str
    module: str  # the module to import or run; for a data script, its file name in bin/
    attr: str | None  # the object to call; None: run ``module`` as ``python -m`` does
    kind: ScriptKind

    @property
    def value(self) -> str:
        """What it runs, as the manifest and the build say it."""
        if self.kind == "data_scripts":
            return f"scripts/{self.module}"
        if self.kind == "module":
            return f"-m {self.module}"
        return f"{self.module}:{self.attr}" if self.attr else self.module


@dataclass(frozen=True)
class Scripts:
    """What a wheel declares: the commands it can run, the data scripts it can't (name ->
    why) and its top-level packages with a ``__main__.py`` (for a hint)."""

    commands: list[EntryPoint]
    not_python: dict[str, str]
    main_packages: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        commands = [[c.name, c.module, c.attr, c.kind] for c in self.commands]
        return {"commands": commands, "not_python": self.not_python}

    @classmethod
    def from_json(cls, facts: Mapping[str, Any]) -> Scripts:
        return cls([EntryPoint(*command) for command in facts["commands"]], dict(facts["not_python"]))


def is_python_script(first_line: bytes) -> bool:
    """Whether a data script whose first line is ``first_line`` is run by Python."""
    return bool(_PYTHON_SHEBANG.match(first_line))


def read_scripts(wheel_path: str) -> list[EntryPoint]:
    """Return the console and GUI scripts and the Python data scripts a wheel declares,
    sorted by name."""
    return read_wheel_scripts(wheel_path).commands


def read_wheel_scripts(wheel_path: str) -> Scripts:
    """Everything a wheel declares that could start it (see :class:`Scripts`)."""
    with zipfile.ZipFile(wheel_path) as wheel:
        names = wheel.namelist()
        found = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/entry_points.txt")]
        text = wheel.read(found[0]).decode("utf-8") if found else ""
        data_scripts = {}
        for member in names:
            match = _DATA_SCRIPT.match(member)
            if match:
                with wheel.open(member) as f:
                    data_scripts[match["name"]] = f.readline().rstrip(b"\r\n")
    main_packages = sorted(n.split("/")[0] for n in names if n.count("/") == 1 and n.endswith("/__main__.py"))
    return _scripts(text, data_scripts, main_packages)


def _scripts(entry_points: str, data_scripts: Mapping[str, bytes], main_packages: list[str]) -> Scripts:
    """Scripts from an ``entry_points.txt`` and data scripts' first lines (by name)."""
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = lambda option: option  # type: ignore[method-assign,assignment]  # keep case
    parser.read_string(entry_points)
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
    not_python = {}
    declared = {script.name for script in scripts}
    for name, first_line in sorted(data_scripts.items()):
        if name in declared:  # the installer's file for an entry point
            continue
        if is_python_script(first_line):
            scripts.append(EntryPoint(name, name, None, "data_scripts"))
        else:
            not_python[name] = describe_not_python(name, first_line)
    return Scripts(sorted(scripts, key=lambda script: script.name), not_python, main_packages)


def read_installed_scripts(stage: str, site_packages: str) -> dict[str, Scripts]:
    """The scripts of each distribution installed into the prefix ``stage``, by normalised
    name (for ``"@DIST"``): its entry points, and the files its RECORD puts into bin/
    (read before they are made relocatable: their first lines are the installer's)."""
    found: dict[str, Scripts] = {}
    bin_dir = os.path.join(stage, "bin")
    for dist_info in sorted(glob.glob(os.path.join(site_packages, "*.dist-info"))):
        with open(os.path.join(dist_info, "METADATA"), "rb") as f:
            name = canonicalize_name(str(email.parser.BytesHeaderParser().parse(f)["Name"]))
        entry_points = os.path.join(dist_info, "entry_points.txt")
        text = ""
        if os.path.isfile(entry_points):
            with open(entry_points, encoding="utf-8") as f:
                text = f.read()
        data_scripts = {}
        rows: list[list[str]] = []
        if os.path.isfile(os.path.join(dist_info, "RECORD")):
            with open(os.path.join(dist_info, "RECORD"), encoding="utf-8", newline="") as f:
                rows = list(csv.reader(f))
        for row in rows:
            path = os.path.normpath(os.path.join(site_packages, row[0])) if row else ""
            if os.path.dirname(path) == bin_dir and os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as script:
                    data_scripts[os.path.basename(path)] = script.readline().rstrip(b"\r\n")
        found[name] = _scripts(text, data_scripts, [])
    return found


def describe_not_python(name: str, first_line: bytes) -> str:
    """Why the data script ``name`` is no command (its first line is not a Python one)."""
    shown = first_line[:60].decode("utf-8", "replace")
    return f"{name!r} is a data script that is not Python (its first line is {shown!r}), so the binary cannot run it"


def check_entry_point_form(key: str, value: str) -> str:
    """One ``entry-points`` item: ``NAME``, ``*``, ``@DIST`` or ``-m MODULE``."""
    if value == "*":
        return value
    if value.startswith("@") and _DIST_NAME.match(value[1:]):
        return value
    if value.startswith("-m"):
        module = value[2:].strip()
        if _MODULE.match(module):
            return f"-m {module}"
    elif _SCRIPT_NAME.match(value):
        return value
    raise ConfigError(
        key,
        f'{value!r} is not allowed (expected a script name, "*" for all of the project\'s, '
        '"@DIST" for those of one distribution, or "-m MODULE")',
    )


def choose_entry_point(scripts: list[EntryPoint], wanted: str | None, project: str) -> EntryPoint:
    """The one script, or the one named by ``tool.onefile.entry-point``."""
    return choose_entry_points(Scripts(scripts, {}, []), (wanted,) if wanted else (), project)[0]


def names_a_dependency(item: str, project: str) -> bool:
    """Whether the ``entry-points`` item ``item`` is ``"@DIST"`` for a distribution other
    than the project: its scripts are known once the dependencies are installed."""
    return item.startswith("@") and canonicalize_name(item[1:]) != canonicalize_name(project)


def choose_entry_points(
    scripts: Scripts,
    wanted: tuple[str, ...],
    project: str,
    key: str = "tool.onefile.entry-point",
    dependencies: Mapping[str, Scripts] | None = None,
) -> list[EntryPoint]:
    """The commands the binary runs: the project's only one when ``wanted`` is empty, else
    those ``wanted`` names (forms as :func:`check_entry_point_form`), in that order.
    ``dependencies`` are the installed distributions' scripts, for ``"@DIST"``."""
    commands = scripts.commands
    names = ", ".join(script.name for script in commands)
    if not wanted:
        if not commands:
            hint = ""
            if scripts.main_packages:
                package = scripts.main_packages[0]
                hint = f', or run its package as python -m does: [tool.onefile] entry-points = ["-m {package}"]'
            raise EntryPointError(
                f"{project} declares no console script: add one under [project.scripts], "
                f'e.g. mytool = "mytool.cli:main"{hint}'
            )
        if len(commands) > 1:
            raise EntryPointError(
                f"{project} has several console scripts ({names}): choose one with [tool.onefile] "
                f'entry-point = "NAME", or several with entry-points = ["NAME", ...] or ["*"]'
            )
        return [commands[0]]
    chosen: list[EntryPoint] = []
    for item in wanted:
        if item == "*" or (item.startswith("@") and canonicalize_name(item[1:]) == canonicalize_name(project)):
            if not commands:
                raise ConfigError(key, f"{item!r}: {project} declares no console script")
            found = commands
        elif item.startswith("@"):
            installed = dependencies or {}
            if canonicalize_name(item[1:]) not in installed:
                names = ", ".join(sorted(installed))
                raise ConfigError(key, f"{item!r}: no distribution of that name is installed (installed: {names})")
            found = installed[canonicalize_name(item[1:])].commands
            if not found:
                raise ConfigError(key, f"{item!r}: {item[1:]} declares no console script")
        elif item.startswith("-m "):
            module = item[3:]
            found = [EntryPoint(module, module, None, "module")]
        else:
            found = [script for script in commands if script.name == item]
            if not found:
                if item in scripts.not_python:
                    raise ConfigError(key, scripts.not_python[item])
                raise ConfigError(key, f"{item!r} is not a console script of {project} (it has: {names or 'none'})")
        chosen += [script for script in found if script.name not in {c.name for c in chosen}]
    return chosen
