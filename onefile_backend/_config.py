"""Stage 1, config: read ``[project]`` and ``[tool.onefile]`` and check every value."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Mapping

from ._errors import ConfigError, OnefileError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

#: ``[tool.onefile]`` keys; ``config_settings`` (``-C key=value``) may override each.
KNOWN_KEYS = ("entry-point", "python", "output")


@dataclass(frozen=True)
class Config:
    project_dir: str
    name: str  # the project name, used in messages
    entry_point: str | None
    python: str | None  # None: the interpreter running the build
    output: str | None  # None: the entry point's name


def _check_string(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"tool.onefile.{key}", f"{value!r} is not allowed (expected a non-empty string)")
    return value


def _check_output(value: str) -> str:
    if "/" in value or value in (".", "..") or "\0" in value:
        raise ConfigError(
            "tool.onefile.output", f"{value!r} is not a file name (no '/'; it goes in the output directory)"
        )
    return value


def load_config(project_dir: str, config_settings: Mapping[str, Any] | None = None) -> Config:
    """Read the project's configuration, with ``config_settings`` taking precedence."""
    path = os.path.join(project_dir, "pyproject.toml")
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except FileNotFoundError:
        raise OnefileError(f"{path}: not found (onefile-backend needs a pyproject.toml)") from None
    except tomllib.TOMLDecodeError as exc:
        raise OnefileError(f"{path}: not valid TOML ({exc})") from None
    project = document.get("project", {})
    name = project.get("name") if isinstance(project, dict) else None
    table = document.get("tool", {}).get("onefile", {})
    if not isinstance(table, dict):
        raise ConfigError("tool.onefile", "must be a table")
    unknown = sorted(set(table) - set(KNOWN_KEYS))
    if unknown:
        raise ConfigError(
            f"tool.onefile.{unknown[0]}",
            f"unknown key (allowed: {', '.join(KNOWN_KEYS)})",
        )
    values = {key: _check_string(key, table[key]) for key in KNOWN_KEYS if key in table}
    for key in KNOWN_KEYS:
        setting = (config_settings or {}).get(key)
        if setting is not None:
            values[key] = _check_string(key, setting)
    output = values.get("output")
    return Config(
        project_dir=os.path.abspath(project_dir),
        name=name if isinstance(name, str) else os.path.basename(os.path.abspath(project_dir)),
        entry_point=values.get("entry-point"),
        python=values.get("python"),
        output=_check_output(output) if output else None,
    )
