"""What a build decided before its stages run, handed to each of them in one piece."""

from __future__ import annotations

from dataclasses import dataclass

from ._buildcache import BlobStore
from ._config import Config
from ._interpreters import Interpreter
from ._tree import Log


@dataclass(frozen=True)
class BuildPlan:
    """The project's settings, the runtime and what to build for, and where to work.

    Made once by ``_build.build_binary``; the stages read it and never change it.
    """

    config: Config
    interpreter: Interpreter  # the runtime the binary carries
    target: str  # the CPU the binary is for ("x86_64", "aarch64")
    platform: str | None  # uv's --python-platform for the dependencies; None: this machine's
    epoch: int  # SOURCE_DATE_EPOCH, for every timestamp written
    level: int  # the zstd level of the app layer
    work: str  # a scratch directory, removed after the build
    store: BlobStore  # the build cache
    log: Log
