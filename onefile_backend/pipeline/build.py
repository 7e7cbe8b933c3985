"""The pipeline: config -> runtime -> wheel -> entry point -> runtime layer -> app layer
-> binary. :func:`build_binary` is the list of stages; each stage lives in its room and
returns a value (a plan, a layer) that the next one takes."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
import time
from typing import Any, Callable, Iterator, Mapping

from .. import __version__
from .._errors import ConfigError
from .._report import Log, display_path
from ..app.entrypoints import EntryPoint, Scripts, choose_entry_points, names_a_dependency, read_wheel_scripts
from ..app.indexes import IndexSettings, read_index_settings, report_index_settings
from ..app.layer import AppOptions, AppTree, Workspace, encode_app_layer, stage_app
from ..app.wheel import build_project_wheel
from ..cache.store import BlobStore
from ..format.binary import write_atomically
from ..format.layers import Needs, app_id
from ..format.manifest import Manifest, ManifestEntryPoint
from ..platform.elf import CXX_LIBRARY
from ..platform.glibc import GlibcNeeds, check_floor, format_version, trailer_bitmap
from ..platform.target import choose_target
from ..runtime.interpreters import Interpreter
from ..runtime.layer import Runtime, build_runtime
from ..runtime.libc import LibcRequest
from ..runtime.sources import find_runtime, is_portable
from .config import Config, load_config

_EPOCH_1980 = 315532800  # the earliest time a zip entry can carry


def build_binary(
    project_dir: str,
    output_dir: str,
    config_settings: Mapping[str, Any] | None = None,
    *,
    wheel: str | None = None,
    indexes: IndexSettings | None = None,
    log: Log,
) -> str:
    """Build ``<output_dir>/<name>`` from the project; return the file's basename.

    ``wheel`` is the project's wheel when the caller has just built it; ``indexes`` where
    packages come from when the caller has read that (else the settings found from here).
    """
    stages = _Stages()
    config = load_config(project_dir, config_settings)
    indexes = indexes or read_index_settings(config.project_dir)
    report_index_settings(indexes, log)
    epoch = source_date_epoch()
    with tempfile.TemporaryDirectory(prefix="onefile-build-") as work, contextlib.closing(BlobStore.default()) as store:
        interpreter = _choose_runtime(config, store, log)
        if wheel is None:
            log("wheel: building the project with setuptools")
            with stages.timed("wheel"):
                wheel = build_project_wheel(work, config_settings)
        choose = _command_chooser(config, wheel)
        with stages.timed("resolve"):
            options = AppOptions(config.extras, config.lock, config.exclude, config.keep_tests, indexes)
            app = stage_app(wheel, choose, interpreter, options, Workspace(work, store, epoch, log))
        with stages.timed("runtime"):  # after the app: its bundled glibc carries libstdc++ if the app loads it
            sysroot = _libc_sysroot(config, interpreter, log)
            runtime = build_runtime(
                interpreter,
                epoch=epoch,
                store=store,
                log=log,
                libc=LibcRequest(sysroot, cxx=bool(app.cxx)) if sysroot is not None else None,
                stdlib_sources=config.stdlib_sources,
            )
        entry_points = app.entry_points
        if len(entry_points) > 1:
            log(f"commands: {', '.join(e.name for e in entry_points)}")
        glibc = _glibc_needs(runtime, app, config)
        manifest = _manifest(interpreter, entry_points, runtime, app, glibc, indexes)
        with stages.timed("compress"):
            app_layer = encode_app_layer(app, manifest, epoch=epoch, store=store, twin=runtime.libc is not None)
    name = config.output or (entry_points[0].name if len(entry_points) == 1 else config.name)
    with stages.timed("write"):
        size = write_atomically(
            os.path.join(output_dir, name), runtime.block, app_layer, epoch=epoch,
            needs=_needs(config, entry_points, runtime, glibc), machine=interpreter.target.machine,
        )  # fmt: skip
    _report(os.path.join(output_dir, name), size, runtime, app_layer.data, glibc, interpreter, config, stages, log)
    return name


def _command_chooser(config: Config, wheel: str) -> Callable[[Mapping[str, Scripts]], list[EntryPoint]]:
    """How the app stage picks the binary's commands once it knows every installed
    distribution's scripts; a name the project's own wheel can't serve fails here, before
    the runtime and the install."""
    wanted = config.entry_points or ((config.entry_point,) if config.entry_point else ())
    key = "tool.onefile.entry-points" if config.entry_points else "tool.onefile.entry-point"
    scripts = read_wheel_scripts(wheel)

    def choose(installed: Mapping[str, Scripts]) -> list[EntryPoint]:
        return choose_entry_points(scripts, wanted, config.name, key, installed)

    if not any(names_a_dependency(item, config.name) for item in wanted):
        choose({})
    return choose


def _needs(config: Config, entry_points: list[EntryPoint], runtime: Runtime, glibc: GlibcNeeds) -> Needs:
    """What the trailer tells the launcher to check before it unpacks."""
    return Needs(
        trailer_bitmap(glibc.versions()),
        app_id(config.name, entry_points[0].name),
        runtime.libc is not None,
        runtime.libc.kernel if runtime.libc else (0, 0),
    )


class _Stages:
    """How long each stage took, for the build's summary."""

    def __init__(self) -> None:
        self.started = time.monotonic()
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


def _choose_runtime(config: Config, store: BlobStore, log: Log) -> Interpreter:
    """The runtime's interpreter, carrying the one target the stages build for."""
    interpreter = find_runtime(config.python, store, log)
    target = choose_target(interpreter.target, interpreter.executable, config.target, config.min_glibc)
    log(f"python: {interpreter.version_string.split()[0]} from {interpreter.executable}, target {target.machine}")
    return dataclasses.replace(interpreter, target=target)


def _libc_sysroot(config: Config, interpreter: Interpreter, log: Log) -> str | None:
    """Where the glibc the runtime carries comes from (None: it carries none)."""
    if config.libc == "system":
        return None
    if config.libc != "bundle":
        return config.libc
    if interpreter.target.foreign:
        machine = interpreter.target.machine
        log(
            f"libc: no glibc for {machine} to bundle; the binary needs the system's (set tool.onefile.libc to a "
            f"glibc sysroot for {machine}, e.g. Debian's libc6 package for that CPU unpacked)",
            kind="warning",
        )
        return None
    return "/"


def _describe_libc(runtime: Runtime) -> str | None:
    libc = runtime.libc
    if libc is None:
        return None
    return (
        f"glibc {libc.version} from {libc.sysroot}"
        + (" with libstdc++ (a file of the binary loads it)" if f"lib/{CXX_LIBRARY}" in libc.files else "")
        + f": {len(libc.files)} files, {_megabytes(libc.size)} unpacked, "
        f"{_megabytes(runtime.libc_compressed_size)} in the binary"
        + (f", runs on Linux {libc.kernel[0]}.{libc.kernel[1]} or newer" if any(libc.kernel) else "")
    )


def _glibc_needs(runtime: Runtime, app: AppTree, config: Config) -> GlibcNeeds:
    """What the binary's files need of glibc, by path in the binary; checked against the
    project's floor when it sets one."""
    glibc = runtime.glibc.prefixed("runtime/") + app.glibc.prefixed("app/")
    if config.min_glibc is not None:
        check_floor(glibc, config.min_glibc)
    return glibc


def _manifest(
    interpreter: Interpreter, entry_points: list[EntryPoint], runtime: Runtime, app: AppTree, glibc: GlibcNeeds,
    indexes: IndexSettings,
) -> Manifest:  # fmt: skip
    commands = tuple(ManifestEntryPoint(e.name, e.value, e.kind) for e in entry_points)
    return Manifest(
        built_with=f"onefile-backend {__version__}",
        entry_point=commands[0],
        commands=commands,
        python=".".join(map(str, interpreter.target.version)),
        target=interpreter.target.machine,
        runtime_origin=interpreter.source.origin,
        min_glibc=format_version(glibc.floor()),
        min_glibc_set_by=glibc.set_by(),
        glibc_versions=tuple(format_version(version) for version in glibc.versions()),
        runtime_libraries=tuple(runtime.libraries),
        libc=_describe_libc(runtime),
        distributions=app.distributions,
        indexes=indexes.to_json(),
        left_out=runtime.left_out + app.left_out,
    )


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _report(
    path: str, size: int, runtime: Runtime, app_layer: bytes, glibc: GlibcNeeds, interpreter: Interpreter,
    config: Config, stages: _Stages, log: Log,
) -> None:  # fmt: skip
    """Say which glibc the binary needs, which file sets that and how to reach older
    systems; how long each stage took; what was written."""
    needed = glibc.floor()
    set_by = f" (set by {glibc.set_by()})" if needed else ""
    log(f"needs glibc {format_version(needed)} or newer on the target{set_by}")
    portable = is_portable(interpreter.source)
    if config.min_glibc is None and needed > (2, 17):
        # The build machine's own Python (a distribution's, or one compiled here) carries
        # this machine's glibc floor; python-build-standalone builds need only 2.17.
        mine = "" if portable else f"the runtime is this machine's own Python ({interpreter.executable}); "
        log(
            f"{mine}to run on systems older than glibc {format_version(needed)}, use a portable runtime "
            f'(python = "cpython-3.X-linux-{interpreter.target.machine}-gnu") or build on an older system; '
            f"set min-glibc to enforce a floor (docs/portability.md)"
        )
    if runtime.libc is not None:
        log(f"bundled C library: {_describe_libc(runtime)}")
    log(f"stages: {stages}")
    log(
        f"{display_path(path)}  {_megabytes(size)} (runtime {_megabytes(len(runtime.block.data))}, "
        f"app {_megabytes(len(app_layer))}) in {time.monotonic() - stages.started:.1f} s",
        kind="result",
    )
