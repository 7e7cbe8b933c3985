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
from importlib import metadata
from typing import Any, Mapping

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .._errors import EntryPointError, OnefileError, ResolveError
from .._report import Log, redact
from .._subprocess import run_tool
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


def _choose_script(found: metadata.Distribution, wanted: str | None) -> metadata.EntryPoint:
    label = f"{found.metadata['Name']} {found.version}"
    scripts = sorted((e for e in found.entry_points if e.group in _SCRIPT_GROUPS), key=lambda e: e.name)
    names = ", ".join(script.name for script in scripts)
    if wanted is not None:
        for script in scripts:
            if script.name == wanted:
                return script
        raise EntryPointError(f"--script {wanted!r} is not a console script of {label} (it has: {names or 'none'})")
    if not scripts:
        raise EntryPointError(f"{label} declares no console script: there is nothing for a binary to run")
    if len(scripts) > 1:
        raise EntryPointError(f"{label} has several console scripts ({names}): choose one with --script NAME")
    return scripts[0]


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _write_wheel(directory: str, name: str, version: str, requires: list[str], script: metadata.EntryPoint) -> str:
    """A wheel of metadata only: ``name`` requires ``requires`` and runs ``script``."""
    stem = f"{name.replace('-', '_')}-{version}"
    dist_info = f"{stem}.dist-info"
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {requirement}" for requirement in requires]
    files = {
        f"{dist_info}/METADATA": "\n".join(lines) + "\n",
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: onefile-backend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        f"{dist_info}/entry_points.txt": f"[{script.group}]\n{script.name} = {script.value}\n",
    }
    record = "".join(_record_line(path, text.encode()) + "\n" for path, text in files.items())
    files[f"{dist_info}/RECORD"] = record + f"{dist_info}/RECORD,,\n"
    path = os.path.join(directory, f"{stem}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for member, text in files.items():
            wheel.writestr(zipfile.ZipInfo(member, _EPOCH_1980), text)
    return path


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a TOML basic string


def build_published(
    requirement: str,
    output_dir: str,
    *,
    script: str | None,
    python: str | None,
    output: str | None,
    with_requirements: tuple[str, ...],
    lock: str | None,
    config_settings: Mapping[str, Any] | None = None,
    log: Log,
) -> str:
    """Build the binary of a published distribution's console script; return its path.

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
        chosen = _choose_script(found, script)
        try:
            version = str(Version(found.version))
        except InvalidVersion:
            version = "0"
        log(f"from: {found.metadata['Name']} {found.version}, console script {chosen.name} = {chosen.value}")
        name = f"onefile-from-{canonicalize_name(found.metadata['Name'] or wanted.name)}"
        onefile["entry-point"] = chosen.name
        project = os.path.join(work, "project")
        os.makedirs(project)
        with open(os.path.join(project, "pyproject.toml"), "w", encoding="utf-8") as f:
            f.write(f"[project]\nname = {_toml_string(name)}\nversion = {_toml_string(version)}\n\n[tool.onefile]\n")
            f.writelines(f"{key} = {_toml_string(value)}\n" for key, value in sorted(onefile.items()))
        wheel = _write_wheel(project, name, version, [str(wanted), *extra], chosen)
        from ..pipeline.build import build_binary  # the pipeline's heavy imports, once the input is known good

        os.makedirs(output_dir, exist_ok=True)
        name = build_binary(project, output_dir, config_settings, wheel=wheel, indexes=indexes, log=log)
        return os.path.join(output_dir, name)
