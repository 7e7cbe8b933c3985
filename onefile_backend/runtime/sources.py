"""Where a binary's runtime comes from, as ``tool.onefile.python`` names it.

Three kinds, each a frozen value that knows its origin and how to make its interpreter
available on this machine (:func:`find_runtime`):

- :class:`InstalledPython`: an interpreter installed here (the default: the one running
  the build), found by version or path. It carries this machine's glibc floor.
- :class:`ArchiveRuntime`: a python-build-standalone style archive, a path or a URL with
  its SHA-256, unpacked once into the build cache; its identity is the archive's hash.
- :class:`ManagedRuntime`: a python-build-standalone build fetched through uv's Python
  downloads (mirrors, checksums), named by a download key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, Union

from .._report import Log

if TYPE_CHECKING:
    from ..cache.store import BlobStore
    from .interpreters import Interpreter

#: Said in the manifest (``runtime_origin``) and by ``inspect``.
Origin = Literal["build machine", "archive", "uv download"]


@dataclass(frozen=True)
class InstalledPython:
    """An interpreter on this machine: ``None`` (the one running the build), a version such
    as ``"3.12"`` (``"3.13t"`` free-threaded), or a path."""

    request: str | None = None
    origin: ClassVar[Origin] = "build machine"


@dataclass(frozen=True)
class ArchiveRuntime:
    """A python-build-standalone style archive: a local path, or a URL with its SHA-256."""

    location: str
    sha256: str | None  # required for URLs
    origin: ClassVar[Origin] = "archive"


@dataclass(frozen=True)
class ManagedRuntime:
    """A python-build-standalone build fetched through uv's Python downloads, named by a
    uv download request such as ``cpython-3.12-linux-x86_64-gnu``."""

    request: str
    origin: ClassVar[Origin] = "uv download"


RuntimeSource = Union[InstalledPython, ArchiveRuntime, ManagedRuntime]


def is_portable(source: RuntimeSource) -> bool:
    """True for a python-build-standalone runtime (glibc 2.17), not this machine's own."""
    return not isinstance(source, InstalledPython)


def find_runtime(source: RuntimeSource, store: BlobStore, log: Log) -> Interpreter:
    """Make ``source``'s interpreter available here (fetch, unpack, find) and say what it is."""
    # Imported here: archives need zstandard, and only archive builds should pay for it.
    from .archives import interpreter_from_archive, interpreter_from_download
    from .interpreters import find_interpreter

    path: str | None
    identity = None
    if isinstance(source, ArchiveRuntime):
        path, identity = interpreter_from_archive(source, log)
    elif isinstance(source, ManagedRuntime):
        path = interpreter_from_download(source, log)
    else:
        path = source.request
    return dataclasses.replace(find_interpreter(path, store), source=source, identity=identity)
