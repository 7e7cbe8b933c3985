"""The runtime stage: a relocatable copy of an installed CPython, encoded as a layer.

Layout (inside the runtime layer, and so in the cache)::

    bin/python3              the interpreter, run path <runtime dir>/lib (a patch site:
                             written by the launcher at unpack, see format/sites.py)
    bin/python -> python3
    lib/libpython3.X.so.1.0  when the interpreter is a shared build
    lib/lib*.so*             libraries the modules load that aren't part of glibc
    lib/python3.X/           the stdlib as unchecked-hash bytecode, lib-dynload/: by
                             default X.pyc for each X.py, which is left out (see
                             _KEEP_SOURCES); with ``stdlib_sources`` X.py and
                             __pycache__/X.cpython-3Y.pyc

The encoded layer is cached per user (see :func:`build_cache_dir`), keyed by the
interpreter's identity, so only the first build with an interpreter pays for it.
"""

from __future__ import annotations

import dataclasses
import errno
import fnmatch
import hashlib
import json
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .. import __version__
from .._errors import RuntimeBuildError
from .._report import Log
from .._subprocess import run_tool
from ..cache.kinds import RUNTIME_LAYER
from ..cache.store import BlobStore, build_cache_dir
from ..format.layers import PREFIX_RUNTIME, RUNTIME_PYTHON, Block, FileEntry, encode_block
from ..format.sites import Site, expand_sites, placeholder, template_site
from ..format.spec import RUNTIME_LIBC_DIR, RUNTIME_LIBC_PYTHON
from ..format.tree import entries_from_tree, merge_entries, walk_files
from ..platform.elf import (
    CXX_LIBRARY,
    is_elf,
    program_interpreter,
    read_elf,
    resolve_libraries,
    set_interpreter,
    set_rpath,
    strip,
)
from ..platform.glibc import GlibcNeeds
from .bytecode import compile_bytecode, source_of_sourceless
from .interpreters import Interpreter
from .libc import LOADERS, BundledLibc, LibcRequest, copy_glibc, find_in_sysroot

# The interpreter's run path: an absolute path written at unpack (glibc drops a main
# program's $ORIGIN run path when /proc isn't mounted, and the interpreter would then load
# the system's libpython, or none). 1024 bytes: room for two paths of a long cache dir.
RUN_PATH_SITE_SIZE = 1024
RUN_PATH_TEMPLATE = "@RUNTIME@/lib"
# The bundled-glibc interpreter: PT_INTERP names the bundled loader (the kernel reads at
# most PATH_MAX of it), its run path the bundled glibc first.
# The bundled glibc's directory: the launcher leaves it out where the system's glibc
# serves, and adds it on the first start that needs it, so its files share zstd frames
# only with each other.
LIBC_DIR = RUNTIME_LIBC_DIR
BUNDLED_PYTHON = RUNTIME_LIBC_PYTHON
INTERP_SITE_SIZE = 512
BUNDLED_RUN_PATH_TEMPLATE = "@RUNTIME@/libc/lib:@RUNTIME@/lib"

# 19: the layer is built once per interpreter and recipe and then comes from the build
# cache; with its small files in groups, 19 makes it 10 % smaller than 9 did (examples/hello:
# 11.0 MB instead of 12.2) for ~6 s more CPU on that first build (docs/performance.md).
# Decoding is as fast.
COMPRESSION_LEVEL = 19

# Parts of the stdlib no app needs at run time: tests, the IDE, pip's bootstrapper,
# Tk (its libraries would need an X server's), and the build's static library.
_PRUNED_DIRECTORIES = {
    "test",
    "tests",
    "idlelib",
    "ensurepip",
    "site-packages",
    "dist-packages",
    "tkinter",
    "turtledemo",
    "__pycache__",
    "lib-dynload",
    "lib2to3/tests",
    "unittest/test",
    "ctypes/test",
    "sqlite3/test",
    "distutils/tests",
    "tkinter/test",
}
_PRUNED_FILES = ("turtle.py", "*.exe", "*.pyo")
# Where the stdlib finds modules by listing its own .py files, which therefore stay when
# the others go: lib2to3.refactor.get_all_fix_names (2to3's fixers).
_KEEP_SOURCES = ("lib2to3/fixes/",)

#: What the manifest says a default runtime layer leaves out, and how to keep it.
STDLIB_SOURCES_LEFT_OUT = "the stdlib's .py sources (bytecode kept); `stdlib-sources = true` keeps them"
# ... and when the runtime's own stdlib has none to keep (a onefile binary's runtime).
STDLIB_SOURCES_MISSING = "the stdlib's .py sources (bytecode kept): the runtime's stdlib has none"
# nis (deprecated by PEP 594, gone in 3.13) alone pulls in Kerberos and 7 more libraries.
_PRUNED_MODULES = ("_test*", "_ctypes_test*", "xxlimited*", "xxsubtype*", "_xxtestfuzz*", "_tkinter*", "xx*", "nis.*")


@dataclass(frozen=True)
class Sourceless:
    """The stdlib's modules a runtime layer carries as bytecode alone."""

    modules: int = 0
    sources: int = 0  # the .py files the build left out for them (0: the runtime's stdlib had none)
    size: int = 0  # their bytes


@dataclass(frozen=True)
class Runtime:
    """A runtime layer ready to be written, and what the build reports about it."""

    block: Block
    interpreter: Interpreter
    glibc: GlibcNeeds  # of each file, by its path in the layer
    libraries: tuple[str, ...]  # sonames bundled from outside the interpreter's own files
    cached: bool
    libc: BundledLibc | None = None  # the glibc in libc/, when the build carries one
    stdlib_sources: bool = False  # asked to carry the stdlib's .py sources
    sourceless: Sourceless = Sourceless()

    @property
    def libc_compressed_size(self) -> int:
        """Bytes the bundled glibc (libc/) adds to the binary."""
        prefix = f"{PREFIX_RUNTIME}libc/".encode()
        return sum(m.compressed_size for m in self.block.members if m.name.startswith(prefix))

    @property
    def left_out(self) -> tuple[str, ...]:
        """What the layer leaves out that a program might read, as the manifest says it."""
        if not self.sourceless.modules:
            return ()
        return (STDLIB_SOURCES_LEFT_OUT if self.sourceless.sources else STDLIB_SOURCES_MISSING,)


def _identity(
    interpreter: Interpreter, epoch: int, libc: LibcRequest | None = None, stdlib_sources: bool = False
) -> str:
    def fingerprint(path: str | None) -> list[object]:
        if path is None:
            return []
        info = os.stat(path)
        return [path, info.st_size, info.st_mtime_ns]

    facts: dict[str, object] = {
        "backend": __version__,
        "recipe": RUNTIME_LAYER.version,  # bump it when the recipe below changes what goes in
        "level": COMPRESSION_LEVEL,
        "epoch": epoch,
        "stdlib_sources": stdlib_sources,
    }
    if libc is not None:  # the bundled glibc: where from, what its libc.so.6 is now, libstdc++ or not
        found = find_in_sysroot(libc.sysroot, interpreter.target.machine, "libc.so.6")
        facts["libc"] = [libc.sysroot, fingerprint(os.path.realpath(found) if found else None)]
        facts["cxx"] = libc.cxx
    if interpreter.identity is not None:  # from an archive: its SHA-256 says what it holds
        facts["archive"] = interpreter.identity
    else:  # installed here: what its files are now
        facts["executable"] = fingerprint(interpreter.executable)
        facts["libpython"] = fingerprint(interpreter.libpython)
        landmark = os.path.join(interpreter.stdlib, "os.py")  # os.pyc in a stdlib of bytecode alone
        facts["stdlib"] = fingerprint(landmark if os.path.exists(landmark) else landmark + "c")
        facts["dynload"] = sorted(os.listdir(interpreter.dynload)) if os.path.isdir(interpreter.dynload) else []
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:32]


def _ignore_stdlib(root: str):  # type: ignore[no-untyped-def]
    def ignore(directory: str, names: list[str]) -> set[str]:
        relative = os.path.relpath(directory, root)
        skipped = set()
        present = set(names)
        for name in names:
            path = name if relative == "." else f"{relative}/{name}"
            if name in _PRUNED_DIRECTORIES or path in _PRUNED_DIRECTORIES or name.startswith("config-"):
                skipped.add(name)
            elif any(fnmatch.fnmatch(name, pattern) for pattern in _PRUNED_FILES):
                skipped.add(name)
            elif name.endswith(".pyc") and name[:-1] in present:
                skipped.add(name)  # stale bytecode beside its source, which is compiled afresh
        # A .pyc without its source stays: the module itself in a stdlib of bytecode alone
        # (a onefile binary's runtime, building another binary).
        return skipped

    return ignore


def _make_sites(path: str, stage: str, templates: dict[str, str]) -> tuple[bytes, tuple[Site, ...]]:
    """``path`` holds each placeholder of ``templates`` (placeholder -> template): replace
    each by its template, write the file with the templates expanded for ``stage`` (so that
    it runs here), and return the templated bytes (what the layer holds) and the sites."""
    with open(path, "rb") as f:
        data = f.read()
    sites = []
    for text, template in templates.items():
        data, site = template_site(data, text, template)
        sites.append(site)
    with open(path, "wb") as f:
        f.write(expand_sites(data, tuple(sorted(sites)), stage))
    return data, tuple(sorted(sites))


def _bundled_python(python: str, stage: str, needed: tuple[str, ...]) -> str:
    """``libc/bin/python3``: a copy of ``python`` that runs on the bundled glibc, its loader
    and run path patch sites (docs/libc-design.md)."""
    copy = os.path.join(stage, BUNDLED_PYTHON)
    os.makedirs(os.path.dirname(copy))
    shutil.copy(python, copy)
    os.symlink("python3", os.path.join(os.path.dirname(copy), "python"))
    interp, rpath = placeholder("interp", INTERP_SITE_SIZE), placeholder("rpath", RUN_PATH_SITE_SIZE)
    set_interpreter(copy, interp, rpath, needed)
    return copy


def _stage(
    interpreter: Interpreter, stage: str, store: BlobStore, log: Log, request: LibcRequest | None, stdlib_sources: bool
) -> tuple[GlibcNeeds, tuple[str, ...], list[FileEntry], dict[str, tuple[Site, ...]], BundledLibc | None]:
    """Copy the interpreter into ``stage``, make it relocatable, and with a ``request`` add
    a glibc (with libstdc++ when the request or a file of the runtime needs it); return
    (its glibc needs, libraries, the stdlib's bytecode: sourceless unless
    ``stdlib_sources``, the patch sites by path in the layer, the bundled glibc)."""
    bin_dir = os.path.join(stage, "bin")
    lib_dir = os.path.join(stage, "lib")
    stdlib_dir = os.path.join(lib_dir, interpreter.stdlib_name)
    dynload_dir = os.path.join(stdlib_dir, "lib-dynload")
    os.makedirs(bin_dir)
    os.makedirs(lib_dir)
    python = os.path.join(bin_dir, "python3")
    shutil.copy(interpreter.executable, python)
    os.symlink("python3", os.path.join(bin_dir, "python"))
    shutil.copytree(interpreter.stdlib, stdlib_dir, ignore=_ignore_stdlib(interpreter.stdlib))
    os.makedirs(dynload_dir)
    if not os.path.isdir(interpreter.dynload):
        raise RuntimeBuildError(f"{interpreter.executable}: its extension modules ({interpreter.dynload}) are missing")
    for name in sorted(os.listdir(interpreter.dynload)):
        source = os.path.join(interpreter.dynload, name)
        if os.path.isfile(source) and not any(fnmatch.fnmatch(name, p) for p in _PRUNED_MODULES):
            shutil.copy(source, dynload_dir)

    # Resolve from the originals: their run paths still point where their libraries are.
    originals = [interpreter.executable]
    if interpreter.libpython:
        originals.append(interpreter.libpython)
    originals += [os.path.join(interpreter.dynload, name) for name in sorted(os.listdir(dynload_dir))]
    # The interpreter's own lib/ before this machine's: a runtime whose files have no
    # run path to it (a Debian or conda build moved elsewhere) must not pick up the build
    # machine's libraries, nor the glibc floor they bring.
    libraries, missing = resolve_libraries(originals, first=[os.path.join(interpreter.base_prefix, "lib")])
    # libpython too comes from where the loader finds it for the interpreter (sysconfig's
    # LIBDIR is where it was built for, which need not be where it is now).
    for soname, source in sorted(libraries.items()):
        shutil.copy(source, os.path.join(lib_dir, soname))
    if missing:
        log(f"some runtime modules need libraries this machine lacks: {', '.join(missing)}", kind="warning")

    elves = [path for path in walk_files(stage) if is_elf(path)]
    facts = {path: read_elf(path) for path in elves}
    # A file patchelf has already changed (a relocated PBS-style or conda tree) is left
    # unstripped: strip would break it (see _elf.ElfFacts.strippable).
    stripped = strip([path for path in elves if facts[path].strippable]) if not interpreter.target.foreign else True
    if not stripped:
        log("strip not found: the runtime keeps its debug symbols (install binutils)", kind="warning")

    def point_at_lib_dir(path: str) -> None:
        directory = os.path.dirname(path)
        set_rpath(path, "$ORIGIN/" + os.path.relpath(lib_dir, directory) if directory != lib_dir else "$ORIGIN")

    with ThreadPoolExecutor() as pool:
        list(pool.map(point_at_lib_dir, [path for path in elves if path != python]))  # one patchelf each
    machine = interpreter.target.machine
    templated: dict[str, tuple[bytes, tuple[Site, ...]]] = {}
    libc = None
    if request is not None:  # after `elves`: the floor leaves the bundled glibc out
        cxx = request.cxx or any(CXX_LIBRARY in facts[path].needed for path in elves)
        libc = copy_glibc(request.sysroot, machine, os.path.join(stage, "libc"), cxx=cxx)
        templated[BUNDLED_PYTHON] = _make_sites(
            _bundled_python(python, stage, libc.needed), stage,
            {
                placeholder("interp", INTERP_SITE_SIZE): f"@RUNTIME@/libc/lib/{LOADERS[machine]}",
                placeholder("rpath", RUN_PATH_SITE_SIZE): BUNDLED_RUN_PATH_TEMPLATE,
            },
        )  # fmt: skip
    rpath = placeholder("rpath", RUN_PATH_SITE_SIZE)
    set_rpath(python, rpath)
    templated[RUNTIME_PYTHON] = _make_sites(python, stage, {rpath: RUN_PATH_TEMPLATE})
    _check_self_contained(python, lib_dir, interpreter)
    _smoke_test(python, dynload_dir, interpreter, log)
    if request is not None:
        _smoke_test(os.path.join(stage, BUNDLED_PYTHON), dynload_dir, interpreter, log)
    for path, (data, _) in templated.items():  # the layer holds the templates
        with open(os.path.join(stage, path), "wb") as f:
            f.write(data)
    sites = {path: found for path, (_, found) in templated.items()}
    stdlib = os.path.relpath(stdlib_dir, stage) + "/"

    def sourceless(path: str) -> bool:
        return not stdlib_sources and not path[len(stdlib) :].startswith(_KEEP_SOURCES)

    bytecode = compile_bytecode(interpreter, stage, stdlib, store, sourceless=sourceless)
    glibc = GlibcNeeds.of({os.path.relpath(path, stage): facts[path].glibc for path in elves})
    bundled = tuple(sorted(name for name in libraries if not name.startswith("libpython")))
    return glibc, bundled, bytecode, sites, libc


def _check_self_contained(python: str, lib_dir: str, interpreter: Interpreter) -> None:
    """The copy must load its libraries from itself, not from the build machine."""
    found, missing = resolve_libraries([python])
    outside = [
        f"{name} ({path})" for name, path in found.items() if not path.startswith(os.path.realpath(lib_dir) + os.sep)
    ]
    if missing or outside:
        raise RuntimeBuildError(
            f"cannot make {interpreter.executable} relocatable: its copy would load "
            f"{', '.join(outside + missing)} from outside the runtime"
        )


_IMPORT_EACH = """
import importlib, sys
failed = []
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{name} ({exc})")
print(sys.version.split()[0])
print("; ".join(failed))
"""


def _smoke_test(python: str, dynload_dir: str, interpreter: Interpreter, log: Log) -> None:
    """Run the copy with no environment to lean on and import each of its extension modules."""
    modules = sorted({name.split(".")[0] for name in os.listdir(dynload_dir) if name.endswith(".so")})
    loader = program_interpreter(python) if interpreter.target.foreign else ""
    if loader and not os.path.exists(loader):
        log(
            f"runtime: the smoke test was skipped: this machine can't run {interpreter.target.machine} programs "
            f"(it has no {loader}; with qemu-user and that loader, e.g. libc6:arm64, it would run)",
            kind="warning",
        )
        return
    try:
        result = run_tool(
            [python, "-I", "-B", "-c", _IMPORT_EACH, *modules],
            what=f"the relocatable copy of {interpreter.executable} does not run",
            env={"PATH": "/usr/bin:/bin"},
        )
    except OSError as exc:
        if not interpreter.target.foreign or exc.errno != errno.ENOEXEC:
            raise
        # Another CPU and no emulator registered with binfmt_misc: nothing can run it here.
        log(
            f"runtime: the smoke test was skipped: this machine can't run {interpreter.target.machine} programs "
            "(qemu-user registered with binfmt_misc would run it)",
            kind="warning",
        )
        return
    version, _, failed = result.stdout.partition("\n")
    expected = ".".join(map(str, interpreter.target.version))
    if version != expected:
        raise RuntimeBuildError(
            f"the relocatable copy of {interpreter.executable} does not run: it reports Python {version}"
        )
    if failed.strip():
        log(f"runtime modules that fail to import in the copy: {failed.strip()}", kind="warning")


def _load_cached(path: str, interpreter: Interpreter, stdlib_sources: bool) -> Runtime | None:
    try:
        with open(path + ".json", encoding="utf-8") as f:
            facts = json.load(f)
        with open(path, "rb") as f:
            data = f.read()
    except (OSError, ValueError):
        return None
    block = Block.from_json(facts["block"], data)
    if block is None or block.sha256.hex() != facts["sha256"]:
        return None
    libc = BundledLibc.from_json(facts["libc"]) if facts.get("libc") else None
    glibc, libraries = GlibcNeeds.from_json(facts["glibc"]), tuple(facts["libraries"])
    sourceless = Sourceless(*facts["sourceless"])
    return Runtime(block, interpreter, glibc, libraries, True, libc, stdlib_sources, sourceless)


def _store_cached(path: str, runtime: Runtime) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    facts = {
        "block": runtime.block.to_json(),
        "sha256": runtime.block.sha256.hex(),
        "glibc": runtime.glibc.to_json(),
        "libraries": list(runtime.libraries),
        "libc": runtime.libc.to_json() if runtime.libc else None,
        "sourceless": dataclasses.astuple(runtime.sourceless),
    }
    # Data first, then the index that vouches for it: a reader never sees half of one.
    for suffix, payload in (("", runtime.block.data), (".json", json.dumps(facts).encode())):
        fd, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(temporary, path + suffix)


def _without_sources(entries: list[FileEntry], bytecode: list[FileEntry]) -> tuple[list[FileEntry], Sourceless]:
    """``entries`` with ``bytecode`` and without the sources of its sourceless ``.pyc``;
    and what is bytecode alone then."""
    dropped = {source_of_sourceless(entry.path) for entry in bytecode} - {None}
    left_out = [entry for entry in entries if entry.path in dropped]
    kept = merge_entries([entry for entry in entries if entry.path not in dropped], bytecode)
    # Counted in the result: a stdlib that was bytecode alone already has no source to drop.
    modules = sum(1 for entry in kept if source_of_sourceless(entry.path) and entry.path.startswith("lib/"))
    return kept, Sourceless(modules, len(left_out), sum(len(entry.data) for entry in left_out))


def _report_sources(runtime: Runtime, log: Log) -> None:
    """Say what the build left out of the stdlib, or that it kept what was asked for."""
    sourceless = runtime.sourceless
    if sourceless.sources:
        log(
            f"runtime: the stdlib as bytecode: its .py sources ({sourceless.sources} files, "
            f"{sourceless.size / 1e6:.1f} MB) left out; stdlib-sources = true keeps them"
        )
    elif sourceless.modules:  # a onefile binary's own runtime, building another binary
        log(
            f"runtime: {runtime.interpreter.executable}'s stdlib is bytecode alone ({sourceless.modules} modules "
            "without their .py sources)"
            + (": stdlib-sources = true can't keep them" if runtime.stdlib_sources else ""),
            kind="warning" if runtime.stdlib_sources else "info",
        )
    elif runtime.stdlib_sources:
        log("runtime: the stdlib with its .py sources (stdlib-sources = true)")


def build_runtime(
    interpreter: Interpreter,
    *,
    epoch: int,
    store: BlobStore,
    log: Log,
    libc: LibcRequest | None = None,
    stdlib_sources: bool = False,
) -> Runtime:
    """The runtime layer of ``interpreter``, from the build cache when it is there; with the
    glibc ``libc`` asks for in ``libc/`` when it is given; with the stdlib's ``.py`` sources
    only when ``stdlib_sources`` (a program reads them only for tracebacks, ``inspect``
    and warnings: the bytecode alone imports)."""
    identity = _identity(interpreter, epoch, libc, stdlib_sources)
    cache_path = os.path.join(build_cache_dir(), f"runtime-{identity}.layer")
    cached = _load_cached(cache_path, interpreter, stdlib_sources)
    if cached is not None:
        log(f"runtime: Python {interpreter.short_version} from {interpreter.executable} (cached)")
        _report_sources(cached, log)
        return cached
    log(f"runtime: copying Python {interpreter.short_version} from {interpreter.executable}")
    with tempfile.TemporaryDirectory(prefix="onefile-runtime-") as stage:
        try:
            glibc, libraries, bytecode, sites, bundled = _stage(interpreter, stage, store, log, libc, stdlib_sources)
        except OSError as exc:
            raise RuntimeBuildError(f"cannot copy the interpreter {interpreter.executable}: {exc}") from None
        entries = [dataclasses.replace(entry, sites=sites.get(entry.path, ())) for entry in entries_from_tree(stage)]
        entries, sourceless = _without_sources(entries, bytecode)
    block = encode_block(
        entries,
        PREFIX_RUNTIME,
        level=COMPRESSION_LEVEL,
        epoch=epoch,
        store=store,
        progress=lambda done, total: log(f"runtime: compressed {done} of {total} files", kind="progress"),
        apart=(LIBC_DIR,),
    )
    runtime = Runtime(block, interpreter, glibc, libraries, False, bundled, stdlib_sources, sourceless)
    _report_sources(runtime, log)
    try:
        _store_cached(cache_path, runtime)
    except OSError as exc:
        log(f"cannot cache the runtime layer in {os.path.dirname(cache_path)}: {exc.strerror}", kind="warning")
    return runtime
