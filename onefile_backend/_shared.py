"""What the front end and the backend's hooks both use, in a module that imports
nothing heavy: the front end starts without setuptools, zstandard or pyelftools."""

from __future__ import annotations

import os

#: Set by onefile's own hook runner, which reports errors itself.
ENV_HOOK_RUNNER = "ONEFILE_HOOK_RUNNER"
#: Set by the front end's -q/-v: below 0 only warnings and errors are shown.
ENV_VERBOSITY = "ONEFILE_VERBOSITY"


def display_path(path: str) -> str:
    """``path`` relative to the working directory when it is below it, else absolute."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative
