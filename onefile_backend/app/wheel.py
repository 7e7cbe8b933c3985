"""The project's wheel: build it with setuptools, read its metadata, and check the
extras asked for and a lock file's pins against what it requires."""

from __future__ import annotations

import email.message
import email.parser
import os
import zipfile
from typing import Any, Mapping

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .._capture import captured_output
from .._errors import ConfigError, ResolveError
from ..platform.target import Target


def build_project_wheel(wheel_dir: str, config_settings: Mapping[str, Any] | None) -> str:
    """Build the project in the current directory into a wheel with setuptools."""
    from setuptools import build_meta

    try:
        with captured_output("setuptools' build_wheel"):
            name = build_meta.build_wheel(wheel_dir, dict(config_settings or {}))
    except SystemExit as exc:  # setuptools exits on bad setup.py/setup.cfg input
        raise ResolveError(f"setuptools could not build the project's wheel (exit status {exc.code})") from None
    except Exception as exc:
        raise ResolveError(f"setuptools could not build the project's wheel: {exc}") from None
    return os.path.join(wheel_dir, name)


def wheel_metadata(wheel: str) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        return email.parser.BytesParser().parsebytes(archive.read(name))


def check_lock_covers(
    wheel: str, extras: tuple[str, ...], distributions: dict[str, str], lock: str, target: Target
) -> None:
    """Every requirement of the project must be met by what the lock installed."""
    headers = wheel_metadata(wheel)
    installed = {canonicalize_name(name): version for name, version in distributions.items()}
    environment = target.marker_environment()
    unmet = []
    for text in headers.get_all("Requires-Dist") or []:
        requirement = Requirement(text)
        wanted = requirement.marker is None or any(
            requirement.marker.evaluate({**environment, "extra": extra}) for extra in ("", *extras)
        )
        if not wanted:
            continue
        version = installed.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            unmet.append(str(requirement) + (f" (it pins {version})" if version else ""))
    if unmet:
        raise ResolveError(
            f"tool.onefile.lock: {os.path.basename(lock)} does not satisfy {headers['Name']}'s requirements: "
            f"{', '.join(unmet)}; update the lock file"
        )


def check_extras(wheel: str, extras: tuple[str, ...]) -> None:
    if not extras:
        return
    headers = wheel_metadata(wheel)
    provided = {canonicalize_name(extra) for extra in headers.get_all("Provides-Extra") or []}
    for extra in extras:
        if canonicalize_name(extra) not in provided:
            raise ConfigError(
                "tool.onefile.extras",
                f"{extra!r} is not an extra of {headers['Name']} (it has: {', '.join(sorted(provided)) or 'none'})",
            )
