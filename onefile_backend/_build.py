"""The pipeline: config -> entry point -> resolve -> runtime -> assemble."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from typing import Any, Iterator, Mapping

from . import __version__
from ._archives import interpreter_from_archive
from ._assemble import write_atomically
from ._buildcache import BlobStore
from ._config import ArchiveRuntime, load_config
from ._entrypoints import choose_entry_point, read_scripts
from ._errors import AssembleError, ConfigError
from ._format import PREFIX_APP, encode_block, join_blocks
from ._interpreters import find_interpreter
from ._resolve import build_project_wheel, manifest_entry, stage_app
from ._runtime import build_runtime
from ._shared import display_path
from ._tree import Log

APP_COMPRESSION_LEVEL = 10
_EPOCH_1980 = 315532800  # the earliest time a zip entry can carry


class _Stages:
    """How long each stage took, for the build's summary."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = time.monotonic() - started

    def __str__(self) -> str:
        return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.seconds.items())


def source_date_epoch() -> int:
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if not value:
        return _EPOCH_1980
    try:
        return max(int(value), _EPOCH_1980)
    except ValueError:
        raise ConfigError("SOURCE_DATE_EPOCH", f"{value!r} is not a whole number of seconds") from None


def _glibc(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version)) if version else "any"


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def build_binary(
    project_dir: str,
    output_dir: str,
    config_settings: Mapping[str, Any] | None = None,
    *,
    wheel: str | None = None,
    log: Log,
) -> str:
    """Build ``<output_dir>/<name>`` from the project; return the file's basename.

    ``wheel`` is the project's wheel when the caller has just built it.
    """
    started = time.monotonic()
    stages = _Stages()
    config = load_config(project_dir, config_settings)
    epoch = source_date_epoch()
    python = config.python
    if isinstance(python, ArchiveRuntime):
        python = interpreter_from_archive(python, log)
    store = BlobStore.default()
    with tempfile.TemporaryDirectory(prefix="onefile-build-") as work, contextlib.closing(store):
        interpreter = find_interpreter(python, store)
        log(f"python: {interpreter.version_string.split()[0]} from {interpreter.executable}")
        if wheel is None:
            log("wheel: building the project with setuptools")
            with stages.timed("wheel"):
                wheel = build_project_wheel(work, config_settings)
        entry_point = choose_entry_point(read_scripts(wheel), config.entry_point, config.name)
        with stages.timed("runtime"):
            runtime = build_runtime(interpreter, epoch=epoch, store=store, log=log)
        with stages.timed("resolve"):
            app = stage_app(
                wheel,
                entry_point,
                interpreter,
                work,
                store,
                log,
                level=APP_COMPRESSION_LEVEL,
                epoch=epoch,
                extras=config.extras,
                lock=config.lock,
                exclude=config.exclude,
                keep_tests=config.keep_tests,
            )
        min_glibc = max(runtime.min_glibc, app.min_glibc)
        manifest = manifest_entry(
            {
                "built_with": f"onefile-backend {__version__}",
                "entry_point": {"name": entry_point.name, "value": entry_point.value, "kind": entry_point.kind},
                "python": ".".join(map(str, interpreter.version)),
                "min_glibc": _glibc(min_glibc),
                "runtime_libraries": list(runtime.libraries),
                "distributions": app.distributions,
            }
        )
        with stages.timed("compress"):
            try:
                project = encode_block(
                    app.entries + [manifest], PREFIX_APP, level=APP_COMPRESSION_LEVEL, epoch=epoch, store=store
                )
                # The project's files win over a dependency's at the same path, as they
                # would installed in that order.
                app_block = join_blocks(
                    [app.dependencies.without({member.name for member in project.members}), project]
                )
            except ValueError as exc:  # a file name or link no launcher would unpack
                raise AssembleError(f"cannot put an installed file into the binary: {exc}") from None
    name = config.output or entry_point.name
    path = os.path.join(output_dir, name)
    with stages.timed("write"):
        size = write_atomically(path, runtime.block, app_block, epoch=epoch)
    log(f"needs glibc {_glibc(min_glibc)} or newer on the target")
    log(f"stages: {stages}")
    log(
        f"{display_path(path)}  {_megabytes(size)} (runtime {_megabytes(len(runtime.block.data))}, "
        f"app {_megabytes(len(app_block.data))}) in {time.monotonic() - started:.1f} s",
        kind="result",
    )
    return name
