"""onefile-backend: a PEP 517 build backend (setuptools underneath) whose extra hook,
``build_binary``, makes one executable that runs the project with no Python installed.
"""

from __future__ import annotations

from typing import Any

from ._errors import OnefileError

__version__ = "0.1.0"

_OURS = (
    "build_binary",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_binary",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_wheel",
)
# PEP 660 hooks exist in setuptools 64 and newer; passed through when present.
_SETUPTOOLS_ONLY = ("build_editable", "get_requires_for_build_editable", "prepare_metadata_for_build_editable")

__all__ = ["OnefileError", *_OURS, *_SETUPTOOLS_ONLY]


def __getattr__(name: str) -> Any:
    # The hooks are looked up on first use (PEP 562), so `python -m onefile_backend`
    # and `import onefile_backend` don't pay for importing setuptools.
    if name in _OURS:
        from .hooks import backend as _backend

        return getattr(_backend, name)
    if name in _SETUPTOOLS_ONLY:
        from setuptools import build_meta

        if hasattr(build_meta, name):
            return getattr(build_meta, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_OURS, *_SETUPTOOLS_ONLY])
