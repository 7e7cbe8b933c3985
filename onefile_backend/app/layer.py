"""The app stage: the project's wheel and its dependencies, installed for the runtime and
encoded as the app layer.

The install is made by uv for the *runtime's* interpreter (its version and platform,
not the build interpreter's) into a prefix laid out like a virtual environment::

    bin/onefile-main                  the launcher (see format/bootstrap.py)
    bin/<scripts of the dependencies> with relocatable ``#!/bin/sh`` trampolines
    lib/python3.X/site-packages/      the wheel and its dependencies, with .pyc
    onefile.json                      what the binary holds, for ``inspect``

This module ties the steps together; each lives in its own module of app/: ``wheel``
(the project's metadata), ``install`` (uv, pins), ``relocate``, ``bundle`` (ELF files and
the libraries they need), ``select`` (what is left out).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Callable, Mapping

from .._errors import AssembleError, ResolveError
from .._report import Kind, Log
from ..cache.store import BlobStore
from ..format.bootstrap import COMMANDS_HELPER, Command, render_commands_helper, render_launcher
from ..format.layers import (
    APP_MAIN,
    MODE_EXECUTABLE,
    MODE_FILE,
    MODE_SYMLINK,
    PREFIX_APP,
    Block,
    FileEntry,
    encode_block,
    join_blocks,
)
from ..format.manifest import Manifest
from ..format.spec import APP_LIBC_DIR
from ..format.tree import entries_from_tree, merge_entries, walk_files
from ..platform.elf import CXX_LIBRARY, read_elf
from ..platform.glibc import GlibcNeeds
from ..runtime.bytecode import compile_bytecode
from ..runtime.interpreters import Interpreter
from .bundle import bundle_foreign_libraries, read_elves
from .entrypoints import EntryPoint, Scripts, read_installed_scripts
from .indexes import IndexSettings
from .install import dependencies_key, install_dependencies, install_wheel, installed_distributions, pin_dependencies
from .relocate import make_relocatable
from .select import describe_left_out_tests, warn_left_out_modules, without_excluded
from .wheel import check_extras, check_lock_covers

#: The zstd level of the project's own files: they change with every app version, so
#: they are encoded on every rebuild.
LEVEL = 10
#: The zstd level of the dependencies' part of the app layer: it is encoded once per pins
#: (cached as DEPENDENCIES; its files over 1 MiB also as COMPRESSED, by content), so the
#: slower level is paid once: numbers' app layer 16.9 -> 15.3 MB for ~23 s more CPU on a
#: cold-cache build (docs/performance.md, "Size levers"). Level 19 decodes as fast as 10.
DEPENDENCIES_LEVEL = 19


@dataclass(frozen=True)
class AppOptions:
    """What the project asks of its app layer (``[tool.onefile]``)."""

    extras: tuple[str, ...] = ()
    lock: str | None = None  # a pylock.toml or hashed requirements file: exactly these pins
    exclude: tuple[str, ...] = ()  # glob patterns of site-packages paths to leave out
    keep_tests: bool = False  # keep the dependencies' test suites
    indexes: IndexSettings = IndexSettings("pypi")  # where packages come from (app/indexes.py)


@dataclass(frozen=True)
class Workspace:
    """Where a stage works and what it writes with: shared by the stages of one build."""

    work: str  # a scratch directory, removed after the build
    store: BlobStore  # the build cache
    epoch: int  # SOURCE_DATE_EPOCH, for every timestamp written
    log: Log


@dataclass(frozen=True)
class AppTree:
    dependencies: Block  # the dependencies' part of the app layer, encoded (often from the build cache)
    entries: list[FileEntry]  # the project's own files and the launcher, to encode after it
    distributions: dict[str, str]  # name -> version, of everything installed
    glibc: GlibcNeeds  # what its native extensions need, by path in the layer
    entry_points: list[EntryPoint]  # the commands bin/onefile-main runs
    cxx: tuple[str, ...] = ()  # its files that load libstdc++ (the bundled glibc then carries one)
    left_out: tuple[str, ...] = ()  # what the build left out that a program might read (the manifest's)


#: Chooses the commands once the scripts of every installed distribution are known.
ChooseCommands = Callable[[Mapping[str, Scripts]], "list[EntryPoint]"]


@dataclass(frozen=True)
class _Processed:
    entries: list[FileEntry]
    distributions: dict[str, str]
    glibc: GlibcNeeds
    scripts: dict[str, Scripts]  # each distribution's scripts, by normalised name
    cxx: tuple[str, ...]  # files (paths in the layer) that load libstdc++.so.6
    tests: int = 0  # files of the dependencies' test suites left out


def _process(
    stage: str, interpreter: Interpreter, exclude: tuple[str, ...], store: BlobStore, log: Log, drop_tests: bool
) -> _Processed:
    """Make what uv installed into ``stage`` relocatable; return its entries (less what
    ``tool.onefile.exclude`` and ``drop_tests`` leave out), distributions, the glibc its
    extensions need, each distribution's scripts and the files that load libstdc++."""
    site_packages = os.path.join(stage, "lib", interpreter.stdlib_name, "site-packages")
    if not os.path.isdir(site_packages):
        raise ResolveError(f"uv installed nothing into {site_packages}")
    scripts = read_installed_scripts(stage, site_packages)
    make_relocatable(stage, site_packages, interpreter.short_version)
    elves = read_elves(stage, store)
    bundled = set(bundle_foreign_libraries(stage, elves, log))
    # The machine libraries just copied in need a glibc too (often the newest).
    elves.update({path: read_elf(path) for path in walk_files(stage) if os.path.basename(path) in bundled})
    needs = {path: facts.glibc for path, facts in elves.items()}
    bytecode = compile_bytecode(interpreter, stage, os.path.relpath(site_packages, stage), store)
    entries = merge_entries(entries_from_tree(stage), bytecode)
    entries, tests = without_excluded(entries, stage, site_packages, exclude, drop_tests, log)
    warn_left_out_modules(entries, site_packages, stage, log)
    kept = {entry.path for entry in entries}
    glibc = GlibcNeeds.of({os.path.relpath(p, stage): v for p, v in needs.items() if os.path.relpath(p, stage) in kept})
    relative = {os.path.relpath(path, stage): facts for path, facts in elves.items()}
    cxx = tuple(sorted(path for path, facts in relative.items() if CXX_LIBRARY in facts.needed and path in kept))
    return _Processed(entries, installed_distributions(site_packages), glibc, scripts, cxx, tests)


def _stage_dependencies(
    wheel: str, interpreter: Interpreter, options: AppOptions, space: Workspace
) -> tuple[Block, _Processed]:
    """The dependencies, installed, made relocatable and encoded, and what _process says of
    them (without their entries, which the block holds): from the build cache when the
    same pins (or lock file) were staged before for this runtime."""
    store, log, lock, platform = space.store, space.log, options.lock, interpreter.target.platform
    if lock is not None:
        with open(lock, encoding="utf-8", errors="replace") as lock_file:
            pins = lock_file.read()
    else:
        pins = pin_dependencies(wheel, options.extras, interpreter, store, options.indexes, platform)
    key = dependencies_key(
        interpreter,
        pins,
        options.exclude,
        options.keep_tests,
        DEPENDENCIES_LEVEL,
        space.epoch,
        options.indexes,
        platform,
    )
    if key is not None:
        found = store.get_many([key, key + b"-data"])
        if len(found) == 2:
            facts = json.loads(found[key])
            block = Block.from_json(facts["block"], found[key + b"-data"])
            if block is not None:
                for warning in facts["warnings"]:
                    log(warning, kind="warning")
                scripts = {name: Scripts.from_json(value) for name, value in facts["scripts"].items()}
                glibc = GlibcNeeds.from_json(facts["glibc"])
                cxx, tests = tuple(facts["cxx"]), int(facts["tests"])
                return block, _Processed([], facts["distributions"], glibc, scripts, cxx, tests)
    if not pins.strip():
        return Block(b"", ()), _Processed([], {}, GlibcNeeds(), {}, ())
    stage = os.path.join(space.work, "dependencies")
    install_dependencies(
        interpreter, stage, space.work, lock=lock, pins=pins, platform=platform, indexes=options.indexes
    )
    warnings: list[str] = []

    def recording(message: str, kind: Kind = "info") -> None:
        if kind == "warning":
            warnings.append(message)
        log(message, kind=kind)

    drop_tests = not options.keep_tests
    processed = _process(stage, interpreter, options.exclude, store, recording, drop_tests)
    try:
        block = encode_block(processed.entries, PREFIX_APP, level=DEPENDENCIES_LEVEL, epoch=space.epoch, store=store)
    except ValueError as exc:  # a file name or link no launcher would unpack
        raise ResolveError(f"cannot put an installed file into the binary: {exc}") from None
    if key is not None:
        facts = {
            "block": block.to_json(),
            "distributions": processed.distributions,
            "glibc": processed.glibc.to_json(),
            "cxx": list(processed.cxx),
            "tests": processed.tests,
            "warnings": warnings,
            "scripts": {name: scripts.to_json() for name, scripts in processed.scripts.items()},
        }
        store.put_many({key + b"-data": block.data, key: json.dumps(facts).encode()})
    return block, processed


def _command(entry_point: EntryPoint) -> Command:
    if entry_point.kind == "data_scripts":
        return (entry_point.name, "script", entry_point.module, None)
    if entry_point.attr is None:  # "-m module", or an entry point naming a module alone
        return (entry_point.name, "module", entry_point.module, None)
    return (entry_point.name, "call", entry_point.module, entry_point.attr)


def stage_app(
    wheel: str, choose: ChooseCommands, interpreter: Interpreter, options: AppOptions, space: Workspace
) -> AppTree:
    """Install the app for the runtime's ``interpreter``: its dependencies (encoded, often from
    the build cache), then the project itself without them (entries, without the manifest).

    With a lock file (PEP 751 ``pylock.toml``, or a requirements file, with hashes when it
    has them) exactly what it pins is installed; else what uv resolves now, remembered for
    _install.PINS_FRESH_SECONDS. Files in site-packages matching ``tool.onefile.exclude``
    are left out, and so are the dependencies' test suites unless ``keep-tests``: the
    project's own files are kept. The target's ``platform`` (uv's ``--python-platform``)
    picks wheels for an older glibc than this machine's, or for another CPU.
    """
    lock, extras = options.lock, options.extras
    pins = f" pinned by {os.path.basename(lock)}" if lock else ""
    version = interpreter.short_version
    space.log(f"resolve: installing {os.path.basename(wheel)} and its dependencies{pins} for Python {version}")
    check_extras(wheel, extras)
    dependencies, deps = _stage_dependencies(wheel, interpreter, options, space)
    stage = os.path.join(space.work, "project")
    install_wheel(interpreter, stage, wheel, options.indexes)
    project = _process(stage, interpreter, options.exclude, space.store, space.log, False)
    entries = project.entries
    entry_points = choose({**deps.scripts, **project.scripts})
    installed = {entry.path for entry in entries} | {m.name.decode()[len(PREFIX_APP) :] for m in dependencies.members}
    for entry_point in entry_points:
        if entry_point.kind == "data_scripts" and f"bin/{entry_point.module}" not in installed:
            raise ResolveError(f"the data script {entry_point.name!r} was not installed into bin/ by uv")
    if lock is not None:
        check_lock_covers(wheel, extras, deps.distributions, lock, interpreter.target)
    launcher = render_launcher([_command(entry_point) for entry_point in entry_points])
    helper = render_commands_helper()
    entries = [e for e in entries if e.path not in (APP_MAIN, COMMANDS_HELPER)] + [
        FileEntry(APP_MAIN, MODE_EXECUTABLE, launcher.encode()),
        FileEntry(COMMANDS_HELPER, MODE_FILE, helper.encode()),
    ]
    return AppTree(
        dependencies,
        sorted(entries, key=lambda e: e.path),
        {**deps.distributions, **project.distributions},
        deps.glibc + project.glibc,
        entry_points,
        tuple(sorted({*deps.cxx, *project.cxx})),
        (describe_left_out_tests(deps.tests),) if deps.tests else (),
    )


def _twin_links(app: AppTree) -> list[FileEntry]:
    """The links of the twin virtual environment ``libc/`` (docs/libc-design.md): its
    ``lib`` is the app's, and each script of ``bin/`` is there too, so that a script's
    ``$(dirname $0)/python`` is the bundled-glibc interpreter when it was started from
    ``libc/bin`` (the launcher adds ``libc/pyvenv.cfg`` and ``libc/bin/python``)."""
    prefix = f"{PREFIX_APP}bin/".encode()
    names = {m.name[len(prefix) :].decode() for m in app.dependencies.members if m.name.startswith(prefix)}
    names |= {e.path[len("bin/") :] for e in app.entries if e.path.startswith("bin/")}
    links = [FileEntry(f"{APP_LIBC_DIR}/lib", MODE_SYMLINK, b"../lib")]
    links += [
        FileEntry(f"{APP_LIBC_DIR}/bin/{name}", MODE_SYMLINK, f"../../bin/{name}".encode())
        for name in sorted(names)
        if name and "/" not in name
    ]
    return links


def encode_app_layer(app: AppTree, manifest: Manifest, *, epoch: int, store: BlobStore, twin: bool = False) -> Block:
    """The app layer: the dependencies' encoded part, then the project's files, its
    launcher and the manifest (and with ``twin``, the links of the twin virtual
    environment for the bundled glibc). The project's files win over a dependency's at
    the same path, as they would installed in that order."""
    try:
        entries = [*app.entries, manifest.entry(), *(_twin_links(app) if twin else [])]
        manifest_path = entries[len(app.entries)].path  # the launcher reads it alone (ONEFILE=info)
        project = encode_block(entries, PREFIX_APP, level=LEVEL, epoch=epoch, store=store, alone={manifest_path})
        names = {member.name for member in project.members}
        # A dependency's group that held a file the project replaces is encoded again on
        # every build: at the project's level, so a rebuild stays fast.
        return join_blocks([app.dependencies.without(names, level=LEVEL, epoch=epoch), project])
    except ValueError as exc:  # a file name or link no launcher would unpack
        raise AssembleError(f"cannot put an installed file into the binary: {exc}") from None
