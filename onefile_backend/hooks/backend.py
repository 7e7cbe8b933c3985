"""The PEP 517 hooks: setuptools' own, plus ``get_requires_for_build_binary`` and
``build_binary`` (contract in docs/build_binary.md)."""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Mapping, TypeVar

from setuptools import build_meta as _setuptools

from .._capture import captured_output
from .._errors import OnefileError
from ..pipeline.config import KNOWN_KEYS
from . import ENV_HOOK_RUNNER, console_log

T = TypeVar("T")
ConfigSettings = Mapping[str, Any]

_OUR_SETTINGS = ("binary", *KNOWN_KEYS)  # the rest of config_settings is setuptools'


def _build_binary(*args: Any, **kwargs: Any) -> str:
    # Imported on first use: sdist and wheel builds need nothing but setuptools.
    from ..pipeline.build import build_binary

    return build_binary(*args, **kwargs)




def _setuptools_settings(config_settings: ConfigSettings | None) -> dict[str, Any] | None:
    if config_settings is None:
        return None
    return {k: v for k, v in config_settings.items() if k not in _OUR_SETTINGS}


def _reporting_errors(action: Callable[[], T]) -> T:
    """Run ``action``; outside our own runner, a user error is one line and exit 1."""
    try:
        return action()
    except OnefileError as exc:
        if os.environ.get(ENV_HOOK_RUNNER):
            raise
        print(f"ERROR {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


def _wants_binary(config_settings: ConfigSettings | None) -> bool:
    value = (config_settings or {}).get("binary", "false")
    return str(value).lower() in ("1", "true", "yes", "on")


def get_requires_for_build_binary(config_settings: ConfigSettings | None = None) -> list[str]:
    """What ``build_binary`` needs beyond ``build-system.requires``: what a wheel needs."""
    with captured_output("setuptools' get_requires_for_build_wheel"):
        return list(_setuptools.get_requires_for_build_wheel(_setuptools_settings(config_settings)))


def build_binary(
    binary_directory: str,
    config_settings: ConfigSettings | None = None,
    metadata_directory: str | None = None,
) -> str:
    """Build the project's one-file executable into ``binary_directory``; return its basename."""
    del metadata_directory  # accepted for symmetry with build_wheel; the wheel is rebuilt
    return _reporting_errors(lambda: _build_binary(os.getcwd(), binary_directory, config_settings, log=console_log))


def build_wheel(
    wheel_directory: str,
    config_settings: ConfigSettings | None = None,
    metadata_directory: str | None = None,
) -> str:
    """setuptools' wheel; with ``-C binary=true`` the binary too, next to it."""
    name: str = _setuptools.build_wheel(wheel_directory, _setuptools_settings(config_settings), metadata_directory)
    if _wants_binary(config_settings):
        wheel = os.path.join(wheel_directory, name)
        _reporting_errors(
            lambda: _build_binary(os.getcwd(), wheel_directory, config_settings, wheel=wheel, log=console_log)
        )
    return name


def build_sdist(sdist_directory: str, config_settings: ConfigSettings | None = None) -> str:
    return str(_setuptools.build_sdist(sdist_directory, _setuptools_settings(config_settings)))


def get_requires_for_build_wheel(config_settings: ConfigSettings | None = None) -> list[str]:
    return list(_setuptools.get_requires_for_build_wheel(_setuptools_settings(config_settings)))


def get_requires_for_build_sdist(config_settings: ConfigSettings | None = None) -> list[str]:
    return list(_setuptools.get_requires_for_build_sdist(_setuptools_settings(config_settings)))


def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: ConfigSettings | None = None) -> str:
    return str(_setuptools.prepare_metadata_for_build_wheel(metadata_directory, _setuptools_settings(config_settings)))
