"""What a binary is built for: the CPU, the Python it carries, the oldest glibc asked for.

A runtime source (an interpreter installed here, asked; or a standalone runtime for
another CPU, read from its files: see ``_interpreters``) says what its Python is; the
project's settings add the CPU it must be for and the glibc floor. Everything that
depends on the target rather than on this machine (markers, uv's platform, the
launcher) reads it from here.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from .._errors import ConfigError
from .glibc import Version, uv_platform

#: The CPUs there are launchers for, and other names systems give them.
MACHINES = ("x86_64", "aarch64")
_MACHINE_ALIASES = {"amd64": "x86_64", "x86-64": "x86_64", "arm64": "aarch64", "armv8": "aarch64"}


def normalise_machine(machine: str) -> str:
    """``x86_64`` or ``aarch64`` for the names systems give those CPUs; others lower-cased."""
    machine = machine.lower()
    return _MACHINE_ALIASES.get(machine, machine)


def host_machine() -> str:
    """This machine's CPU, spelled as targets are (``x86_64``, ``aarch64``)."""
    return normalise_machine(os.uname().machine)


@dataclass(frozen=True)
class Target:
    """The CPU and Python a binary is for, and the glibc floor the project sets."""

    machine: str  # "x86_64", "aarch64"
    version: tuple[int, int, int]
    abiflags: str
    free_threaded: bool
    cache_tag: str  # "cpython-312": names the .pyc files
    magic: str  # the bytecode magic number, hex
    min_glibc: Version | None = None  # tool.onefile.min-glibc; None: whatever the files need

    @property
    def short_version(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"

    @property
    def foreign(self) -> bool:
        """True when the target is another CPU than this machine's."""
        return self.machine != host_machine()

    @property
    def platform(self) -> str | None:
        """uv's ``--python-platform`` for the dependencies: a manylinux floor when one is set
        or the target is another CPU (wheels only, then), else None (this machine's)."""
        if self.min_glibc is None and not self.foreign:
            return None
        return uv_platform(self.machine, self.min_glibc or (2, 17))

    def marker_environment(self) -> dict[str, str]:
        """PEP 508 marker values for the target (which may differ from the build's Python)."""
        version = ".".join(map(str, self.version))
        return {
            "implementation_name": "cpython", "implementation_version": version, "os_name": "posix",
            "platform_machine": self.machine, "platform_python_implementation": "CPython",
            "platform_system": "Linux", "python_full_version": version, "python_version": self.short_version,
            "sys_platform": "linux", "platform_release": "", "platform_version": "",
        }  # fmt: skip


def choose_target(runtime: Target, executable: str, wanted: str | None, min_glibc: Version | None) -> Target:
    """The runtime's target with the project's floor; ``wanted`` (``tool.onefile.target``)
    must be the runtime's CPU."""
    if wanted is not None and wanted != runtime.machine:
        raise ConfigError(
            "tool.onefile.target",
            f"{wanted!r}, but the runtime {executable} is for {runtime.machine} "
            f'(give one for {wanted}: an archive, or a uv download key such as "cpython-3.12-linux-{wanted}-gnu")',
        )
    return dataclasses.replace(runtime, min_glibc=min_glibc)
