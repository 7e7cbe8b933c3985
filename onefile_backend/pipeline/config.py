"""The configuration: read ``[project]`` and ``[tool.onefile]`` and check every value."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Mapping

from .._errors import ConfigError, OnefileError
from ..app.entrypoints import check_entry_point_form
from ..platform.glibc import Version, parse_floor
from ..platform.target import MACHINES, normalise_machine
from ..runtime.libc import find_loader
from ..runtime.sources import ArchiveRuntime, InstalledPython, ManagedRuntime, RuntimeSource

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

#: ``[tool.onefile]`` keys; ``config_settings`` (``-C key=value``) may override each.
KNOWN_KEYS = (
    "entry-point",
    "entry-points",
    "python",
    "output",
    "extras",
    "lock",
    "exclude",
    "keep-tests",
    "min-glibc",
    "target",
    "libc",
    "stdlib-sources",
)

#: ``libc``'s default: carry the build machine's glibc, which the launcher uses where the
#: system's can't serve (docs/portability.md).
DEFAULT_LIBC = "bundle"

#: Found next to pyproject.toml when ``lock`` is not given (PEP 751's default name).
DEFAULT_LOCK = "pylock.toml"
_EXTRA_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.zst", ".tar.xz", ".tar.bz2", ".tar")


# uv's download keys: cpython-3.12, cpython-3.12.8-linux-x86_64-gnu, ...
_DOWNLOAD_REQUEST = re.compile(r"^cpython-3\.\d+(\.\d+)?(-[a-z0-9_]+){0,3}$")


@dataclass(frozen=True)
class Config:
    project_dir: str
    name: str  # the project name, used in messages
    entry_point: str | None
    python: RuntimeSource  # by default the interpreter running the build
    output: str | None  # None: the entry point's name (the project's with several)
    extras: tuple[str, ...]
    lock: str | None  # absolute path of a pylock.toml or requirements file
    exclude: tuple[str, ...]  # glob patterns of paths in site-packages to leave out
    keep_tests: bool  # keep the dependencies' test suites (left out by default)
    min_glibc: Version | None = None  # the oldest glibc the binary must run on
    target: str | None = None  # "x86_64" or "aarch64"; None: the runtime's CPU
    # Several commands in one binary: script names, "*", "@DIST", "-m MODULE" (app/entrypoints.py)
    entry_points: tuple[str, ...] = ()
    libc: str = DEFAULT_LIBC  # "bundle", "system", or the absolute path of a glibc sysroot
    stdlib_sources: bool = False  # carry the stdlib's .py sources (by default its bytecode alone)


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


def _check_extras(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):  # from -C extras=a,b
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) and _EXTRA_NAME.match(v) for v in value):
        raise ConfigError("tool.onefile.extras", f"{value!r} is not allowed (expected a list of extra names)")
    return tuple(value)


def _check_exclude(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):  # from -C exclude=a,b
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(
        isinstance(v, str) and v.strip() and not v.startswith("/") and "\0" not in v for v in value
    ):
        raise ConfigError(
            "tool.onefile.exclude",
            f"{value!r} is not allowed (expected a list of glob patterns of paths in site-packages, "
            'such as "*/tests/*")',
        )
    return tuple(value)


def _check_entry_points(value: Any, entry_point: str | None) -> tuple[str, ...]:
    key = "tool.onefile.entry-points"
    if isinstance(value, str):  # from -C entry-points=a,b
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(key, f'{value!r} is not allowed (expected a list of script names, such as ["a", "b"])')
    if entry_point is not None:
        raise ConfigError(key, "give entry-point (one command) or entry-points (several), not both")
    return tuple(check_entry_point_form(key, item.strip()) for item in value)


def _check_bool(key: str, value: Any) -> bool:
    if isinstance(value, str) and value.lower() in ("true", "false"):  # from -C key=true
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise ConfigError(f"tool.onefile.{key}", f"{value!r} is not allowed (expected true or false)")
    return value


def _check_python(value: Any, project_dir: str) -> RuntimeSource:
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"url", "sha256"})
        if unknown or not isinstance(value.get("url"), str) or not isinstance(value.get("sha256"), str):
            raise ConfigError(
                "tool.onefile.python",
                f'{value!r} is not allowed (a table needs exactly url = "..." and sha256 = "...")',
            )
        if not re.fullmatch(r"[0-9a-fA-F]{64}", value["sha256"]):
            raise ConfigError("tool.onefile.python.sha256", f"{value['sha256']!r} is not a SHA-256 (64 hex digits)")
        return ArchiveRuntime(value["url"], value["sha256"].lower())
    text = _check_string("python", value)
    if text.startswith(("http://", "https://")):
        raise ConfigError(
            "tool.onefile.python", f'{text!r}: a URL needs its checksum: python = {{ url = "...", sha256 = "..." }}'
        )
    if text.endswith(ARCHIVE_SUFFIXES):
        return ArchiveRuntime(os.path.join(project_dir, os.path.expanduser(text)), None)
    if text.startswith("cpython-"):
        if not _DOWNLOAD_REQUEST.match(text):
            raise ConfigError(
                "tool.onefile.python",
                f'{text!r} is not a Python download key (expected one such as "cpython-3.12-linux-x86_64-gnu", '
                "as `uv python list` shows them)",
            )
        return ManagedRuntime(text)
    return InstalledPython(text)


def _check_target(value: Any) -> str:
    if not isinstance(value, str) or normalise_machine(value) not in MACHINES:
        raise ConfigError("tool.onefile.target", f"{value!r} is not allowed (expected x86_64 or aarch64)")
    return normalise_machine(value)


def _check_libc(value: Any, project_dir: str) -> str:
    """``bundle``, ``system``, or a glibc sysroot (a directory with a glibc loader in it:
    Debian's libc6 unpacked is one); its CPU is checked once the target is known."""
    if value in ("bundle", "system"):
        return str(value)
    if not isinstance(value, str) or not value or value.strip() != value:
        allowed = "expected 'bundle', 'system' or the path of a glibc sysroot"
        raise ConfigError("tool.onefile.libc", f"{value!r} is not allowed ({allowed})")
    path = os.path.join(project_dir, value)
    if not os.path.isdir(path):
        raise ConfigError(
            "tool.onefile.libc",
            f"{value!r} is not 'bundle', 'system' or a directory (a glibc sysroot, relative to {project_dir})",
        )
    if find_loader(path) is None:
        raise ConfigError("tool.onefile.libc", f"{value!r} has no glibc loader (ld-linux-*.so.*): not a glibc sysroot")
    return os.path.abspath(path)


def _find_lock(project_dir: str, value: Any) -> str | None:
    if value is None:
        default = os.path.join(project_dir, DEFAULT_LOCK)
        return default if os.path.isfile(default) else None
    path = os.path.join(project_dir, _check_string("lock", value))
    if not os.path.isfile(path):
        raise ConfigError("tool.onefile.lock", f"{value!r} does not exist (relative to {project_dir})")
    return path


def load_config(project_dir: str, config_settings: Mapping[str, Any] | None = None) -> Config:
    """Read the project's configuration, with ``config_settings`` taking precedence."""
    project_dir = os.path.abspath(project_dir)
    path = os.path.join(project_dir, "pyproject.toml")
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except FileNotFoundError:
        if not os.path.isfile(os.path.join(project_dir, "setup.py")):
            raise OnefileError(f"{path}: not found (onefile-backend needs a pyproject.toml)") from None
        document = {}  # a setup.py-only project (the front end built its wheel): the defaults
    except tomllib.TOMLDecodeError as exc:
        raise OnefileError(f"{path}: not valid TOML ({exc})") from None
    project = document.get("project", {})
    name = project.get("name") if isinstance(project, dict) else None
    table = document.get("tool", {}).get("onefile", {})
    if not isinstance(table, dict):
        raise ConfigError("tool.onefile", "must be a table")
    unknown = sorted(set(table) - set(KNOWN_KEYS))
    if unknown:
        raise ConfigError(f"tool.onefile.{unknown[0]}", f"unknown key (allowed: {', '.join(KNOWN_KEYS)})")
    values = dict(table)
    for key in KNOWN_KEYS:
        setting = (config_settings or {}).get(key)
        if setting is not None:
            values[key] = setting
    output = values.get("output")
    entry_point = _check_string("entry-point", values["entry-point"]) if "entry-point" in values else None
    return Config(
        project_dir=project_dir,
        name=name if isinstance(name, str) else os.path.basename(project_dir),
        entry_point=entry_point,
        python=_check_python(values["python"], project_dir) if "python" in values else InstalledPython(),
        output=_check_output(_check_string("output", output)) if output is not None else None,
        extras=_check_extras(values.get("extras", [])),
        lock=_find_lock(project_dir, values.get("lock")),
        exclude=_check_exclude(values.get("exclude", [])),
        keep_tests=_check_bool("keep-tests", values.get("keep-tests", False)),
        min_glibc=parse_floor(values["min-glibc"]) if "min-glibc" in values else None,
        target=_check_target(values["target"]) if "target" in values else None,
        entry_points=_check_entry_points(values["entry-points"], entry_point) if "entry-points" in values else (),
        libc=_check_libc(values["libc"], project_dir) if "libc" in values else DEFAULT_LIBC,
        stdlib_sources=_check_bool("stdlib-sources", values.get("stdlib-sources", False)),
    )
