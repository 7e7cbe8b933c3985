"""The pipeline: config -> entry point -> resolve -> runtime -> assemble."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from typing import Any, Iterator, Mapping

from .. import __version__
from .._errors import AssembleError, ConfigError
from .._report import Log, display_path
from ..app.entrypoints import choose_entry_point, read_scripts
from ..app.layer import manifest_entry, stage_app
from ..app.wheel import build_project_wheel
from ..cache.store import BlobStore, build_cache_dir
from ..format.binary import write_atomically
from ..format.layers import PREFIX_APP, Needs, app_id, encode_block, join_blocks
from ..platform.glibc import GlibcNeeds, check_floor, format_version, trailer_bitmap
from ..platform.target import choose_target
from ..runtime.archives import interpreter_from_archive, interpreter_from_download
from ..runtime.interpreters import find_interpreter
from ..runtime.layer import build_runtime
from .config import ArchiveRuntime, ManagedRuntime, load_config
from .plan import BuildPlan

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


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _from_archive(executable: str) -> bool:
    """True for a runtime unpacked from an archive or a uv download (not this machine's own)."""
    return executable.startswith(os.path.join(build_cache_dir(), "runtimes") + os.sep)


def _report_floor(
    glibc: GlibcNeeds, runtime_source: str, floor: tuple[int, ...] | None, target: str, log: Log
) -> None:
    """Say which glibc the binary needs, which file sets that, and how to reach older systems."""
    needed = glibc.floor()
    set_by = f" (set by {glibc.set_by()})" if needed else ""
    log(f"needs glibc {format_version(needed)} or newer on the target{set_by}")
    portable = _from_archive(runtime_source)
    if floor is None and needed > (2, 17):
        # The build machine's own Python (a distribution's, or one compiled here) carries
        # this machine's glibc floor; python-build-standalone builds need only 2.17.
        mine = "" if portable else f"the runtime is this machine's own Python ({runtime_source}); "
        log(
            f"{mine}to run on systems older than glibc {format_version(needed)}, use a portable runtime "
            f'(python = "cpython-3.X-linux-{target}-gnu") or build on an older system; '
            f"set min-glibc to enforce a floor (docs/portability.md)"
        )


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
    elif isinstance(python, ManagedRuntime):
        python = interpreter_from_download(python, log)
    store = BlobStore.default()
    with tempfile.TemporaryDirectory(prefix="onefile-build-") as work, contextlib.closing(store):
        interpreter = find_interpreter(python, store)
        target = choose_target(interpreter.target, interpreter.executable, config.target, config.min_glibc)
        log(f"python: {interpreter.version_string.split()[0]} from {interpreter.executable}, target {target.machine}")
        plan = BuildPlan(
            config=config,
            interpreter=interpreter,
            target=target,
            epoch=epoch,
            level=APP_COMPRESSION_LEVEL,
            work=work,
            store=store,
            log=log,
        )
        if wheel is None:
            log("wheel: building the project with setuptools")
            with stages.timed("wheel"):
                wheel = build_project_wheel(work, config_settings)
        entry_point = choose_entry_point(read_scripts(wheel), config.entry_point, config.name)
        with stages.timed("runtime"):
            runtime = build_runtime(plan)
        with stages.timed("resolve"):
            app = stage_app(plan, wheel, entry_point)
        glibc = runtime.glibc.prefixed("runtime/") + app.glibc.prefixed("app/")
        if config.min_glibc is not None:
            check_floor(glibc, config.min_glibc)
        min_glibc = glibc.floor()
        manifest = manifest_entry(
            {
                "built_with": f"onefile-backend {__version__}",
                "entry_point": {"name": entry_point.name, "value": entry_point.value, "kind": entry_point.kind},
                "python": ".".join(map(str, target.version)),
                "target": target.machine,
                "runtime_origin": "archive" if _from_archive(interpreter.executable) else "build machine",
                "min_glibc": format_version(min_glibc),
                "min_glibc_set_by": glibc.set_by(),
                "glibc_versions": [format_version(version) for version in glibc.versions()],
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
    needs = Needs(trailer_bitmap(glibc.versions()), app_id(config.name, entry_point.name))
    with stages.timed("write"):
        size = write_atomically(path, runtime.block, app_block, epoch=epoch, needs=needs, machine=target.machine)
    _report_floor(glibc, interpreter.executable, config.min_glibc, target.machine, log)
    log(f"stages: {stages}")
    log(
        f"{display_path(path)}  {_megabytes(size)} (runtime {_megabytes(len(runtime.block.data))}, "
        f"app {_megabytes(len(app_block.data))}) in {time.monotonic() - started:.1f} s",
        kind="result",
    )
    return name
