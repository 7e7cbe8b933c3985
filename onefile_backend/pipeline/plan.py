"""What a build decided before its stages run, handed to each of them in one piece."""

from __future__ import annotations

from dataclasses import dataclass

from .._report import Log
from ..cache.store import BlobStore
from ..platform.target import Target
from ..runtime.interpreters import Interpreter
from .config import Config


@dataclass(frozen=True)
class BuildPlan:
    """The project's settings, the runtime source and the target, and where to work.

    Made once by ``_build.build_binary``; the stages read it and never change it.
    """

    config: Config
    interpreter: Interpreter  # the runtime the binary carries
    target: Target  # the CPU and Python the binary is for, and its glibc floor
    epoch: int  # SOURCE_DATE_EPOCH, for every timestamp written
    level: int  # the zstd level of the app layer
    work: str  # a scratch directory, removed after the build
    store: BlobStore  # the build cache
    log: Log
