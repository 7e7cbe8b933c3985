"""The errors onefile-backend raises for things a user can fix.

Every one carries a message that names the thing, the value and what to do, so the
command line prints it as one line with no traceback.
"""

from __future__ import annotations


class OnefileError(Exception):
    """Base class: a build failed for a reason the user can act on."""

    #: Lets the stdlib-only hook runner (which can't import this module's classes
    #: by identity) tell a user error from a bug.
    user_error = True


class ConfigError(OnefileError):
    """A value in ``[tool.onefile]`` or ``config_settings`` is not allowed."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


class EntryPointError(OnefileError):
    """The project has no usable console script, or several and no choice."""


class InterpreterNotFound(OnefileError):
    """The interpreter asked for with ``python = ...`` is not on this machine."""

    def __init__(self, wanted: str, message: str) -> None:
        super().__init__(message)
        self.wanted = wanted


class ResolveError(OnefileError):
    """Building the project's wheel or installing its dependencies failed."""


class RuntimeBuildError(OnefileError):
    """The interpreter could not be turned into a relocatable runtime."""


class AssembleError(OnefileError):
    """The binary could not be written."""


class ToolError(OnefileError):
    """A program the build runs (uv, patchelf, strip, an interpreter) failed or hung."""

    def __init__(self, what: str, tool: str, status: int | None, output: str) -> None:
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        outcome = f"{tool} exited with status {status}" if status is not None else f"{tool} did not finish in time"
        super().__init__(f"{what}: {outcome}" + (f": {' '.join(lines[-6:])}" if lines else ""))
        self.tool = tool
        self.status = status
        self.output = output


class IndexSettingError(OnefileError):
    """A package index setting (uv's or pip's) is malformed, names a file that is not
    there, or points at an index that can't be reached; or a package is not available
    offline. ``setting`` is its name, ``origin`` where it is set."""

    def __init__(self, setting: str, origin: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting
        self.origin = origin
