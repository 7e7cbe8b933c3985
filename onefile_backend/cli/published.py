"""Published tools: ``onefile build --binary --from REQ``, with no project directory.

A small generated project stands in for one. Its pyproject.toml holds, as
``[tool.onefile]``, what the command line said (``--script``, ``--python``, ``--output``,
``--lock``); its wheel holds nothing but metadata that requires REQ and each ``--with``
and declares REQ's chosen console script as its own. The usual pipeline then resolves,
bundles and assembles it like any project's wheel, so the binary's ``onefile.json`` (and
``inspect``) lists the versions resolved.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Mapping

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .._errors import EntryPointError, OnefileError, ResolveError
from .._report import Log, redact
from .._subprocess import run_tool
from ..app.entrypoints import describe_not_python, is_python_script
from ..app.indexes import IndexSettings, read_index_settings, report_index_settings
from ..pipeline.config import ARCHIVE_SUFFIXES

_SCRIPT_GROUPS = ("console_scripts", "gui_scripts")
_EPOCH_1980 = (1980, 1, 1, 0, 0, 0)


def _parse(flag: str, text: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:  # packaging's message points at the spot on more lines
        first = str(exc).splitlines()[0] if str(exc) else "invalid"
        raise OnefileError(f"{flag} {text!r}: not a requirement ({first})") from None


def _install_alone(
    requirement: Requirement, target: str, python: str | None, indexes: IndexSettings
) -> metadata.Distribution:
    """Install REQ without its dependencies to read its entry points (uv keeps the
    download: the build's own install of it costs nothing more); for the runtime's Python
    version when ``python`` names one, so the version picked is one the runtime can run."""
    from uv import find_uv_bin

    command = [str(find_uv_bin()), "pip", "install", "--quiet", "--no-deps", "--target", target]
    command += ["--python", sys.executable, str(requirement)]
    version = re.fullmatch(r"(3\.\d+)t?", python or "")
    if version:
        command += ["--python-version", version[1]]
    environment = {**os.environ, **indexes.uv_environment()}
    result = run_tool(command, what=f"--from '{requirement}': cannot be installed", env=environment, check=False)
    if result.returncode != 0:
        output = result.stderr or result.stdout
        lines = [line.strip(" ×╰─▶│") for line in output.splitlines()]
        detail = redact(" ".join(line for line in lines if line))
        raise indexes.explain(output) or ResolveError(f"--from '{requirement}': cannot be installed: {detail}")
    wanted = canonicalize_name(requirement.name)
    for found in metadata.distributions(path=[target]):
        if canonicalize_name(found.metadata["Name"] or "") == wanted:
            return found
    raise ResolveError(f"--from '{requirement}': uv installed no distribution named {requirement.name}")


@dataclass(frozen=True)
class _Script:
    """A command of the published distribution: an entry point, or a Python data script
    (``source`` its text, first line as the installer rewrote it)."""

    name: str
    group: str  # "console_scripts", "gui_scripts", "data_scripts"; "distribution": "@DIST" (name)
    value: str = ""  # the entry point's "module:attr"
    source: bytes = b""


def _data_scripts(found: metadata.Distribution, target: str) -> tuple[list[_Script], dict[str, str]]:
    """The distribution's data scripts (``scripts=``; uv installed them into bin/): the
    Python ones, and why each other one is no command."""
    scripts, not_python = [], {}
    for file in found.files or ():
        parts = file.parts
        if len(parts) != 2 or parts[0] != "bin":
            continue
        path = os.path.join(target, "bin", parts[1])
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            source = f.read()
        first_line = source.partition(b"\n")[0].rstrip(b"\r")
        if is_python_script(first_line):
            scripts.append(_Script(parts[1], "data_scripts", source=source))
        else:
            not_python[parts[1]] = describe_not_python(parts[1], first_line)
    return scripts, not_python


def _choose_scripts(found: metadata.Distribution, target: str, wanted: tuple[str, ...]) -> list[_Script]:
    """The commands ``--script`` names (``NAME``, ``*``, ``@DIST``), or the only one. ``@DIST``
    for another distribution than REQ stays as it is, for the pipeline to resolve."""
    label = f"{found.metadata['Name']} {found.version}"
    entry_points = [e for e in found.entry_points if e.group in _SCRIPT_GROUPS]
    data, not_python = _data_scripts(found, target)
    scripts = [_Script(e.name, e.group, e.value) for e in entry_points]
    scripts += [script for script in data if script.name not in {e.name for e in entry_points}]
    scripts.sort(key=lambda script: script.name)
    names = ", ".join(script.name for script in scripts)
    if not wanted:
        if not scripts:
            raise EntryPointError(f"{label} declares no console script: there is nothing for a binary to run")
        if len(scripts) > 1:
            raise EntryPointError(
                f"{label} has several console scripts ({names}): choose one with --script NAME, "
                "several with --script NAME --script NAME, or all with --script '*'"
            )
        return scripts
    chosen: list[_Script] = []
    own = canonicalize_name(found.metadata["Name"] or "")
    for item in wanted:
        if item == "*" or (item.startswith("@") and canonicalize_name(item[1:]) == own):
            if not scripts:
                raise EntryPointError(f"--script {item!r}: {label} declares no console script")
            picked = scripts
        elif item.startswith("@"):  # a dependency's: the pipeline knows them once it is installed
            chosen.append(_Script(item, "distribution"))
            continue
        else:
            picked = [script for script in scripts if script.name == item]
            if not picked:
                if item in not_python:
                    raise EntryPointError(f"--script {item!r}: {not_python[item]}")
                raise EntryPointError(
                    f"--script {item!r} is not a console script of {label} (it has: {names or 'none'})"
                )
        chosen += [script for script in picked if script.name not in {c.name for c in chosen}]
    return chosen


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _write_wheel(directory: str, name: str, version: str, requires: list[str], scripts: list[_Script]) -> str:
    """A wheel of metadata only: ``name`` requires ``requires`` and runs ``scripts`` (its
    Python data scripts copied in, so they are its own as the entry points are)."""
    stem = f"{name.replace('-', '_')}-{version}"
    dist_info = f"{stem}.dist-info"
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {requirement}" for requirement in requires]
    entry_points = ""
    for group in _SCRIPT_GROUPS:
        members = [script for script in scripts if script.group == group]
        if members:
            entry_points += f"[{group}]\n" + "".join(f"{s.name} = {s.value}\n" for s in members)
    files: dict[str, bytes | str] = {
        f"{dist_info}/METADATA": "\n".join(lines) + "\n",
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: onefile-backend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        f"{dist_info}/entry_points.txt": entry_points,
    }
    for script in scripts:
        if script.group == "data_scripts":  # as a wheel carries it: `#!python`, for the installer to rewrite
            files[f"{stem}.data/scripts/{script.name}"] = b"#!python\n" + script.source.partition(b"\n")[2]
    encoded = {path: text.encode() if isinstance(text, str) else text for path, text in files.items()}
    record = "".join(_record_line(path, data) + "\n" for path, data in encoded.items())
    encoded[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    path = os.path.join(directory, f"{stem}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for member, data in encoded.items():
            info = zipfile.ZipInfo(member, _EPOCH_1980)
            info.external_attr = (0o755 if ".data/scripts/" in member else 0o644) << 16
            wheel.writestr(info, data)
    return path


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a TOML basic string


def build_published(
    requirement: str,
    output_dir: str,
    *,
    script: tuple[str, ...],
    python: str | None,
    output: str | None,
    with_requirements: tuple[str, ...],
    lock: str | None,
    config_settings: Mapping[str, Any] | None = None,
    log: Log,
) -> str:
    """Build the binary of a published distribution's console scripts (``script``: the
    ``--script`` values, none for its only one); return its path.

    ``config_settings`` (``-C``) set the other ``[tool.onefile]`` keys (exclude, keep-tests, ...).
    """
    wanted = _parse("--from", requirement)
    extra = [str(_parse("--with", text)) for text in with_requirements]
    onefile: dict[str, str] = {}
    if output is not None:
        onefile["output"] = output
    if python is not None:  # a path is the caller's, relative to where they are
        is_path = "/" in python or python.endswith(ARCHIVE_SUFFIXES)
        onefile["python"] = os.path.abspath(os.path.expanduser(python)) if is_path else python
    if lock is not None:
        if not os.path.isfile(lock):
            raise OnefileError(f"--lock: {lock!r} does not exist")
        onefile["lock"] = os.path.abspath(lock)
    indexes = read_index_settings(os.getcwd())  # uv's project settings: where the command runs
    report_index_settings(indexes, log)
    with tempfile.TemporaryDirectory(prefix="onefile-from-") as work:
        found = _install_alone(wanted, os.path.join(work, "alone"), python, indexes)
        chosen = _choose_scripts(found, os.path.join(work, "alone"), script)
        try:
            version = str(Version(found.version))
        except InvalidVersion:
            version = "0"
        label = f"from: {found.metadata['Name']} {found.version}"
        if len(chosen) == 1 and chosen[0].group != "distribution":
            shown = chosen[0].value or f"data script {chosen[0].name}"
            log(f"{label}, console script {chosen[0].name} = {shown}")
        else:
            log(f"{label}, {len(chosen)} commands: {', '.join(c.name for c in chosen)}")
            onefile.setdefault("output", canonicalize_name(found.metadata["Name"] or wanted.name))
        name = f"onefile-from-{canonicalize_name(found.metadata['Name'] or wanted.name)}"
        project = os.path.join(work, "project")
        os.makedirs(project)
        with open(os.path.join(project, "pyproject.toml"), "w", encoding="utf-8") as f:
            f.write(f"[project]\nname = {_toml_string(name)}\nversion = {_toml_string(version)}\n\n[tool.onefile]\n")
            f.writelines(f"{key} = {_toml_string(value)}\n" for key, value in sorted(onefile.items()))
            f.write(f"entry-points = [{', '.join(_toml_string(c.name) for c in chosen)}]\n")
        wheel = _write_wheel(project, name, version, [str(wanted), *extra], chosen)
        from ..pipeline.build import build_binary  # the pipeline's heavy imports, once the input is known good

        os.makedirs(output_dir, exist_ok=True)
        name = build_binary(project, output_dir, config_settings, wheel=wheel, indexes=indexes, log=log)
        return os.path.join(output_dir, name)
