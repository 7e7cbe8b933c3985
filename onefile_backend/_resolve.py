"""Stage 3, resolve: the project's wheel and its dependencies, installed for the runtime.

The install is made by uv for the *runtime's* interpreter (its version and platform,
not the build interpreter's) into a prefix laid out like a virtual environment::

    bin/onefile-main                  the launcher (see _bootstrap)
    bin/<scripts of the dependencies> with relocatable ``#!/bin/sh`` trampolines
    lib/python3.X/site-packages/      the wheel and its dependencies, with .pyc
    onefile.json                      what the binary holds, for ``inspect``
"""

from __future__ import annotations

import dataclasses
import email.message
import email.parser
import fnmatch
import glob
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from typing import Any, Mapping

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from . import __version__
from ._bootstrap import render_launcher
from ._buildcache import BlobStore
from ._capture import captured_output
from ._elf import SYSTEM_LIBRARIES, ElfFacts, is_elf, read_elf, resolve_libraries, set_rpath
from ._entrypoints import EntryPoint
from ._errors import ConfigError, ResolveError, ToolError
from ._format import APP_MAIN, MODE_EXECUTABLE, MODE_FILE, PREFIX_APP, Block, FileEntry, encode_block
from ._glibc import GlibcNeeds
from ._interpreters import Interpreter
from ._subprocess import run_tool
from ._tree import Log, compile_bytecode, entries_from_tree, merge_entries, unshare_file, walk_files, write_new_file

# A script made relocatable: sh runs the `python` next to it, which then reads the file
# as Python, where the second and third lines are one string (pip's distlib does this).
_TRAMPOLINE = b"#!/bin/sh\n'''exec' \"$(dirname -- \"$0\")/python\" \"$0\" \"$@\"\n' '''\n"


@dataclass(frozen=True)
class AppTree:
    dependencies: Block  # the dependencies' part of the app layer, encoded (often from the build cache)
    entries: list[FileEntry]  # the project's own files and the launcher, to encode after it
    distributions: dict[str, str]  # name -> version, of everything installed
    glibc: GlibcNeeds  # what its native extensions need, by path in the layer


def build_project_wheel(wheel_dir: str, config_settings: Mapping[str, Any] | None) -> str:
    """Build the project in the current directory into a wheel with setuptools."""
    from setuptools import build_meta

    try:
        with captured_output("setuptools' build_wheel"):
            name = build_meta.build_wheel(wheel_dir, dict(config_settings or {}))
    except SystemExit as exc:  # setuptools exits on bad setup.py/setup.cfg input
        raise ResolveError(f"setuptools could not build the project's wheel (exit status {exc.code})") from None
    except Exception as exc:
        raise ResolveError(f"setuptools could not build the project's wheel: {exc}") from None
    return os.path.join(wheel_dir, name)


def _uv(interpreter: Interpreter, *arguments: str) -> str:
    """Run uv for the runtime's interpreter; its output, or ResolveError with its complaint."""
    from uv import find_uv_bin

    command = [str(find_uv_bin()), *arguments, "--quiet", "--no-python-downloads", "--python", interpreter.host]
    if interpreter.foreign and arguments[:1] == ("pip",) and "--python-platform" in arguments:
        # An sdist would be built for this machine's CPU, not the target's (uv #16019).
        command += ["--only-binary", ":all:"]
    what = f"cannot install the project's dependencies for Python {interpreter.short_version}"
    try:
        return run_tool(command, what=what).stdout
    except ToolError as exc:  # the resolve stage's error, as callers expect
        raise ResolveError(str(exc)) from None


def _marker_environment(interpreter: Interpreter) -> dict[str, str]:
    """PEP 508 marker values for the runtime (which may differ from the build's Python)."""
    version = ".".join(map(str, interpreter.version))
    machine = interpreter.machine or os.uname().machine
    return {
        "implementation_name": "cpython", "implementation_version": version, "os_name": "posix",
        "platform_machine": machine, "platform_python_implementation": "CPython", "platform_system": "Linux",
        "python_full_version": version, "python_version": interpreter.short_version, "sys_platform": "linux",
        "platform_release": "", "platform_version": "",
    }  # fmt: skip


def _wheel_metadata(wheel: str) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        return email.parser.BytesParser().parsebytes(archive.read(name))


def _check_lock_covers(
    wheel: str, extras: tuple[str, ...], distributions: dict[str, str], lock: str, interpreter: Interpreter
) -> None:
    """Every requirement of the project must be met by what the lock installed."""
    headers = _wheel_metadata(wheel)
    installed = {canonicalize_name(name): version for name, version in distributions.items()}
    environment = _marker_environment(interpreter)
    unmet = []
    for text in headers.get_all("Requires-Dist") or []:
        requirement = Requirement(text)
        wanted = requirement.marker is None or any(
            requirement.marker.evaluate({**environment, "extra": extra}) for extra in ("", *extras)
        )
        if not wanted:
            continue
        version = installed.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            unmet.append(str(requirement) + (f" (it pins {version})" if version else ""))
    if unmet:
        raise ResolveError(
            f"tool.onefile.lock: {os.path.basename(lock)} does not satisfy {headers['Name']}'s requirements: "
            f"{', '.join(unmet)}; update the lock file"
        )


def _check_extras(wheel: str, extras: tuple[str, ...]) -> None:
    if not extras:
        return
    headers = _wheel_metadata(wheel)
    provided = {canonicalize_name(extra) for extra in headers.get_all("Provides-Extra") or []}
    for extra in extras:
        if canonicalize_name(extra) not in provided:
            raise ConfigError(
                "tool.onefile.extras",
                f"{extra!r} is not an extra of {headers['Name']} (it has: {', '.join(sorted(provided)) or 'none'})",
            )


#: How long a resolution of unchanged requirements is reused without asking the index
#: again: as long as PyPI tells clients to cache its pages.
PINS_FRESH_SECONDS = 600


def _interpreter_facts(interpreter: Interpreter) -> list[object]:
    facts: list[object] = [interpreter.executable, interpreter.version_string, interpreter.magic, interpreter.cache_tag]
    return facts + ([interpreter.machine] if interpreter.foreign else [])


def _platform_options(platform: str | None) -> tuple[str, ...]:
    """uv's options for wheels of a manylinux floor (``x86_64-manylinux_2_28``), if one is set."""
    return ("--python-platform", platform) if platform else ()


def _pin_dependencies(
    wheel: str, extras: tuple[str, ...], interpreter: Interpreter, store: BlobStore, platform: str | None = None
) -> str:
    """requirements.txt lines pinning every dependency of the project (not the project).

    A rebuild with the same requirements reuses the last answer for PINS_FRESH_SECONDS.
    """
    headers = _wheel_metadata(wheel)
    requirements = sorted(headers.get_all("Requires-Dist") or [])
    if not requirements:
        return ""
    facts = ["pins-1", _interpreter_facts(interpreter), requirements, sorted(extras)]
    facts += [platform] if platform else []
    key = hashlib.sha256(json.dumps(facts).encode()).digest()
    remembered = store.get_many([key]).get(key)
    if remembered is not None:
        made, pins = json.loads(remembered)
        if 0 <= time.time() - made < PINS_FRESH_SECONDS:
            return str(pins)
    with tempfile.TemporaryDirectory(prefix="onefile-pins-") as scratch:
        wanted = os.path.join(scratch, "requirements.in")
        with open(wanted, "w", encoding="utf-8") as f:
            f.write(wheel + (f"[{','.join(extras)}]" if extras else "") + "\n")
        pins = _uv(
            interpreter, "pip", "compile", "--no-header", "--no-annotate",
            "--no-emit-package", str(headers["Name"]), wanted, *_platform_options(platform),
        )  # fmt: skip
    store.put_many({key: json.dumps([time.time(), pins]).encode()})
    return pins


# A pin of a local path or URL: requirements lines "./x", "/x.whl", "-e ...", "x @ URL",
# "file:..."; pylock.toml's `path = ...` (directories, archives, wheels on disk).
_LOCAL_SOURCE = re.compile(r"^\s*(?:[./]|-e\s)| @ |file:|\bpath\s*=", re.MULTILINE)


def _dependencies_key(
    interpreter: Interpreter, pins: str, exclude: tuple[str, ...], keep_tests: bool, level: int, epoch: int,
    platform: str | None = None,
) -> bytes | None:
    """What identifies the encoded dependencies, or None when the pins can't say (a local
    path or URL may change behind the same line)."""
    if _LOCAL_SOURCE.search(pins):
        return None
    # Bump the first item when _process changes what it makes of an install.
    facts = ["dependencies-5", __version__, _interpreter_facts(interpreter), pins, sorted(exclude), keep_tests]
    facts += [level, epoch] + ([platform] if platform else [])
    return hashlib.sha256(json.dumps(facts).encode()).digest()


# Written by the installer about this machine: the temporary wheel's path, the time.
_INSTALL_RECORDS = ("direct_url.json", "uv_cache.json")


def _drop_install_records(dist_info: str) -> None:
    """Remove what would make the binary depend on where and when it was built."""
    dropped = [name for name in _INSTALL_RECORDS if os.path.exists(os.path.join(dist_info, name))]
    for name in dropped:
        os.unlink(os.path.join(dist_info, name))
    record = os.path.join(dist_info, "RECORD")
    if dropped and os.path.exists(record):
        prefix = os.path.basename(dist_info) + "/"
        with open(record, encoding="utf-8") as f:
            lines = [line for line in f if not any(line.startswith(prefix + name + ",") for name in dropped)]
        write_new_file(record, "".join(lines).encode("utf-8"))


#: Where libraries that the app's extension modules load from this machine are copied.
FOREIGN_LIBRARIES = "lib/onefile.libs"


def read_elves(stage: str, store: BlobStore) -> dict[str, ElfFacts]:
    """Each ELF file under ``stage`` and its facts, remembered by content in ``store``."""
    files = walk_files(stage)
    elves = [path for path in files if (".so" in os.path.basename(path) or os.access(path, os.X_OK)) and is_elf(path)]
    keys = {}
    for path in elves:
        with open(path, "rb") as f:
            keys[path] = hashlib.sha256(b"elf-facts-2:" + f.read()).digest()
    known = store.get_many(keys.values())
    facts: dict[str, ElfFacts] = {}
    fresh: dict[bytes, bytes] = {}
    for path in elves:
        if keys[path] in known:
            needed, rpath, glibc, *rest = json.loads(known[keys[path]])
            facts[path] = ElfFacts(tuple(needed), rpath, tuple(tuple(v) for v in glibc), *rest)
        else:
            facts[path] = read_elf(path)
            fresh[keys[path]] = json.dumps(dataclasses.astuple(facts[path])).encode()
    store.put_many(fresh)
    return facts


def bundle_foreign_libraries(stage: str, elves: dict[str, ElfFacts], log: Log) -> list[str]:
    """Copy in the shared libraries the app's extensions load from outside the app.

    Wheels from PyPI vendor theirs (``numpy.libs/``); an extension built here from an
    sdist may link against this machine's libraries, which the target may lack. Like
    auditwheel, copy them next to the app and point the extensions' run paths at them.
    Returns the copied sonames.
    """
    real_stage = os.path.realpath(stage)
    present = {name for _, _, names in os.walk(stage) for name in names}
    # Only extensions asking for a library that is neither part of the base system nor
    # shipped in the app (wheels vendor theirs) need ldd's full answer.
    unsatisfied = [
        path
        for path, facts in elves.items()
        if any(n not in SYSTEM_LIBRARIES and n not in present and not n.startswith("libpython") for n in facts.needed)
    ]
    found, missing = resolve_libraries(unsatisfied)
    for soname in missing:
        log(f"an extension module needs {soname}, which this machine lacks: it will fail to load", kind="warning")
    foreign = {
        soname: path
        for soname, path in found.items()
        if not path.startswith(real_stage + os.sep) and not soname.startswith("libpython")
    }
    if not foreign:
        return []
    libs_dir = os.path.join(stage, FOREIGN_LIBRARIES)
    os.makedirs(libs_dir, exist_ok=True)
    for soname, source in sorted(foreign.items()):
        shutil.copyfile(source, os.path.join(libs_dir, soname))
        set_rpath(os.path.join(libs_dir, soname), "$ORIGIN")
    pointed_at_libs_dir = False
    for path, facts in sorted(elves.items()):
        needs = sorted(set(facts.needed) & set(foreign))
        if not needs:
            continue
        home = _run_path_directory(path, facts.run_path, real_stage)
        if home is not None:
            # Next to the libraries its run path already finds (a wheel's vendored ones):
            # a longer run path would make patchelf add a load segment, which it aligns
            # like the others (2 MiB in many manylinux builds): 1.4 MB of zeros in
            # numpy's libgfortran, written on every cold start.
            for soname in _with_dependencies(needs, libs_dir, set(foreign)):
                if not os.path.lexists(os.path.join(home, soname)):
                    shutil.copyfile(os.path.join(libs_dir, soname), os.path.join(home, soname))
        else:
            unshare_file(path)
            ours = "$ORIGIN/" + os.path.relpath(libs_dir, os.path.dirname(path))
            set_rpath(path, ":".join(filter(None, [facts.run_path, ours])))
            pointed_at_libs_dir = True
    if not pointed_at_libs_dir:
        shutil.rmtree(libs_dir)
    log(f"resolve: bundled libraries from this machine: {', '.join(sorted(foreign))}")
    return sorted(foreign)


def _with_dependencies(sonames: list[str], libs_dir: str, foreign: set[str]) -> list[str]:
    """``sonames`` and the libraries of ``foreign`` they load, directly or not."""
    found: set[str] = set()
    todo = list(sonames)
    while todo:
        soname = todo.pop()
        if soname not in found:
            found.add(soname)
            todo += [name for name in read_elf(os.path.join(libs_dir, soname)).needed if name in foreign]
    return sorted(found)


def _run_path_directory(path: str, run_path: str, real_stage: str) -> str | None:
    """The first directory of ``path``'s run path that is an ``$ORIGIN``-relative one
    inside the stage, or None."""
    for entry in run_path.split(":"):
        for origin in ("$ORIGIN", "${ORIGIN}"):
            if entry == origin or entry.startswith(origin + "/"):
                directory = os.path.realpath(os.path.join(os.path.dirname(path), entry[len(origin) :].lstrip("/")))
                if directory.startswith(real_stage + os.sep) and os.path.isdir(directory):
                    return directory
    return None


def _make_scripts_relocatable(bin_dir: str) -> None:
    for name in sorted(os.listdir(bin_dir)) if os.path.isdir(bin_dir) else ():
        path = os.path.join(bin_dir, name)
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            content = f.read()
        first, _, rest = content.partition(b"\n")
        if first.startswith(b"#!") and b"python" in first:
            write_new_file(path, _TRAMPOLINE + rest)
            os.chmod(path, 0o755)


# Modules the runtime leaves out (see _runtime._PRUNED_*): importing them fails at run time.
_LEFT_OUT_HINT = re.compile(rb"tkinter|turtle|idlelib|nis")  # a fast first pass over every source
_LEFT_OUT_MODULES = re.compile(rb"^\s*(?:import|from)\s+(_?tkinter|turtle|idlelib|nis)\b", re.MULTILINE)
_WHY_LEFT_OUT = {
    "nis": "deprecated (PEP 594) and it would bring Kerberos' libraries along",
}


def _owners(site_packages: str) -> dict[str, str]:
    """Map each installed file (relative to site-packages) to its distribution's name."""
    owners = {}
    for record in glob.glob(os.path.join(site_packages, "*.dist-info", "RECORD")):
        name = os.path.basename(os.path.dirname(record)).split("-")[0]
        with open(record, encoding="utf-8") as f:
            for line in f:
                owners[line.split(",", 1)[0]] = name
    return owners


def warn_left_out_modules(entries: list[FileEntry], site_packages: str, stage: str, log: Log) -> None:
    """Name each distribution that imports a stdlib module the runtime does not carry."""
    prefix = os.path.relpath(site_packages, stage) + "/"
    owners: dict[str, str] | None = None
    warned: set[str] = set()
    for entry in entries:
        if not entry.path.endswith(".py") or not entry.path.startswith(prefix):
            continue
        match = _LEFT_OUT_MODULES.search(entry.data) if _LEFT_OUT_HINT.search(entry.data) else None
        if match is None:
            continue
        owners = owners if owners is not None else _owners(site_packages)
        relative = entry.path[len(prefix) :]
        owner = owners.get(relative, relative.split("/")[0])
        if owner not in warned:
            warned.add(owner)
            module = match.group(1).decode()
            why = _WHY_LEFT_OUT.get(module, "Tk needs an X server's libraries")
            log(
                f"{owner}: {relative} imports {module}, which binaries do not include "
                f"({why}); that code will raise ImportError",
                kind="warning",
            )


def _installed_distributions(site_packages: str) -> dict[str, str]:
    distributions = {}
    for metadata in sorted(glob.glob(os.path.join(site_packages, "*.dist-info", "METADATA"))):
        with open(metadata, "rb") as f:
            headers = email.parser.BytesHeaderParser().parse(f)
        distributions[str(headers["Name"])] = str(headers["Version"])
    return distributions


_PYC = re.compile(r"^(?P<directory>(?:.*/)?)__pycache__/(?P<name>[^/.]+)\.[^/]+\.pyc$")
# What only a test runner imports: pytest's test modules and conftest files, in a package's
# tests/ directory. Other modules there stay: runtime code may import them (astropy's
# __init__ imports astropy.tests.runner).
_TEST_MODULE = re.compile(r"^(?:.*/)?tests/(?:.*/)?(?:test_[^/]*|[^/]*_test|conftest)\.py$")


def _without_excluded(
    entries: list[FileEntry], stage: str, site_packages: str, exclude: tuple[str, ...], drop_tests: bool, log: Log
) -> list[FileEntry]:
    """``entries`` less the files in site-packages that match ``exclude`` (``tool.onefile.exclude``)
    and, with ``drop_tests``, the test modules; a ``.pyc`` goes with its source."""
    if not exclude and not drop_tests:
        return entries
    prefix = os.path.relpath(site_packages, stage) + "/"
    kept: list[FileEntry] = []
    excluded = tests = 0
    for entry in entries:
        if entry.path.startswith(prefix):
            relative = entry.path[len(prefix) :]
            compiled = _PYC.match(relative)
            source = f"{compiled['directory']}{compiled['name']}.py" if compiled else relative
            if any(fnmatch.fnmatchcase(name, pattern) for name in {relative, source} for pattern in exclude):
                excluded += 1
                continue
            if drop_tests and _TEST_MODULE.match(source):
                tests += 1
                continue
        kept.append(entry)
    if excluded:
        log(f"resolve: left out {excluded} files matching tool.onefile.exclude")
    if tests:
        log(f"resolve: left out {tests} files of the dependencies' test suites (keep-tests = true keeps them)")
    return kept


def _process(
    stage: str, interpreter: Interpreter, store: BlobStore, log: Log, exclude: tuple[str, ...], drop_tests: bool
) -> tuple[list[FileEntry], dict[str, str], GlibcNeeds]:
    """Make what uv installed into ``stage`` relocatable; return its entries (less what
    ``exclude`` and ``drop_tests`` leave out), distributions and the glibc its extensions need."""
    site_packages = os.path.join(stage, "lib", interpreter.stdlib_name, "site-packages")
    if not os.path.isdir(site_packages):
        raise ResolveError(f"uv installed nothing into {site_packages}")
    if os.path.isfile(os.path.join(stage, ".lock")):
        os.unlink(os.path.join(stage, ".lock"))  # uv's lock on the environment, not part of it
    for dist_info in glob.glob(os.path.join(site_packages, "*.dist-info")):
        _drop_install_records(dist_info)
    bin_dir = os.path.join(stage, "bin")
    _make_scripts_relocatable(bin_dir)
    for name in ("python", "python3", f"python{interpreter.short_version}"):
        if os.path.lexists(os.path.join(bin_dir, name)):
            os.unlink(os.path.join(bin_dir, name))  # the stub links bin/python to the runtime
    elves = read_elves(stage, store)
    bundled = set(bundle_foreign_libraries(stage, elves, log))
    needs = {path: facts.glibc for path, facts in elves.items()}
    # The machine libraries just copied in need a glibc too (often the newest).
    needs.update({path: read_elf(path).glibc for path in walk_files(stage) if os.path.basename(path) in bundled})
    bytecode = compile_bytecode(interpreter, stage, os.path.relpath(site_packages, stage), store)
    entries = merge_entries(entries_from_tree(stage), bytecode)
    entries = _without_excluded(entries, stage, site_packages, exclude, drop_tests, log)
    warn_left_out_modules(entries, site_packages, stage, log)
    kept = {entry.path for entry in entries}
    glibc = GlibcNeeds.of({os.path.relpath(p, stage): v for p, v in needs.items() if os.path.relpath(p, stage) in kept})
    return entries, _installed_distributions(site_packages), glibc


def _stage_dependencies(
    wheel: str, extras: tuple[str, ...], lock: str | None, exclude: tuple[str, ...], keep_tests: bool,
    interpreter: Interpreter, work: str, store: BlobStore, log: Log, *, level: int, epoch: int,
    platform: str | None = None,
) -> tuple[Block, dict[str, str], GlibcNeeds]:  # fmt: skip
    """The dependencies, installed, made relocatable and encoded: from the build cache
    when the same pins (or lock file) were staged before for this runtime."""
    if lock is not None:
        with open(lock, encoding="utf-8", errors="replace") as lock_file:
            pins = lock_file.read()
    else:
        pins = _pin_dependencies(wheel, extras, interpreter, store, platform)
    key = _dependencies_key(interpreter, pins, exclude, keep_tests, level, epoch, platform)
    if key is not None:
        found = store.get_many([key, key + b"-data"])
        if len(found) == 2:
            facts = json.loads(found[key])
            block = Block.from_json(facts["block"], found[key + b"-data"])
            if block is not None:
                for warning in facts["warnings"]:
                    log(warning, kind="warning")
                return block, facts["distributions"], GlibcNeeds.from_json(facts["glibc"])
    if not pins.strip():
        return Block(b"", ()), {}, GlibcNeeds()
    stage = os.path.join(work, "dependencies")
    if lock is not None:
        _uv(interpreter, "pip", "install", "--prefix", stage, "-r", lock, *_platform_options(platform))
    else:
        pinned = os.path.join(work, "pins.txt")
        with open(pinned, "w", encoding="utf-8") as f:
            f.write(pins)
        _uv(interpreter, "pip", "install", "--prefix", stage, "--no-deps", "-r", pinned, *_platform_options(platform))
    warnings: list[str] = []

    def recording(message: str, kind: str = "info") -> None:
        if kind == "warning":
            warnings.append(message)
        log(message, kind=kind)

    entries, distributions, glibc = _process(stage, interpreter, store, recording, exclude, not keep_tests)
    try:
        block = encode_block(entries, PREFIX_APP, level=level, epoch=epoch, store=store)
    except ValueError as exc:  # a file name or link no launcher would unpack
        raise ResolveError(f"cannot put an installed file into the binary: {exc}") from None
    if key is not None:
        facts = {
            "block": block.to_json(),
            "distributions": distributions,
            "glibc": glibc.to_json(),
            "warnings": warnings,
        }
        store.put_many({key + b"-data": block.data, key: json.dumps(facts).encode()})
    return block, distributions, glibc


def stage_app(
    wheel: str,
    entry_point: EntryPoint,
    interpreter: Interpreter,
    work: str,
    store: BlobStore,
    log: Log,
    *,
    level: int,
    epoch: int,
    extras: tuple[str, ...] = (),
    lock: str | None = None,
    exclude: tuple[str, ...] = (),
    keep_tests: bool = False,
    platform: str | None = None,
) -> AppTree:
    """Install the app for ``interpreter``: its dependencies (encoded, often from the
    build cache), then the project itself without them (entries, without the manifest).

    With a lock file (PEP 751 ``pylock.toml``, or a requirements file, with hashes when it
    has them) exactly what it pins is installed; else what uv resolves now, remembered for
    PINS_FRESH_SECONDS. Files in site-packages matching ``exclude`` are left out, and so are
    the dependencies' test modules unless ``keep_tests``: the project's own files are kept.
    ``platform`` (uv's ``--python-platform``) picks wheels for an older glibc than this
    machine's.
    """
    pins = f" pinned by {os.path.basename(lock)}" if lock else ""
    version = interpreter.short_version
    log(f"resolve: installing {os.path.basename(wheel)} and its dependencies{pins} for Python {version}")
    _check_extras(wheel, extras)
    dependencies, distributions, deps_glibc = _stage_dependencies(
        wheel, extras, lock, exclude, keep_tests, interpreter, work, store, log, level=level, epoch=epoch,
        platform=platform,
    )  # fmt: skip
    stage = os.path.join(work, "project")
    _uv(interpreter, "pip", "install", "--prefix", stage, "--no-deps", wheel)
    entries, own, glibc = _process(stage, interpreter, store, log, exclude, False)
    if lock is not None:
        _check_lock_covers(wheel, extras, distributions, lock, interpreter)
    launcher = render_launcher(entry_point.name, entry_point.module, entry_point.attr)
    entries = [e for e in entries if e.path != APP_MAIN] + [FileEntry(APP_MAIN, MODE_EXECUTABLE, launcher.encode())]
    return AppTree(
        dependencies, sorted(entries, key=lambda e: e.path), {**distributions, **own}, deps_glibc + glibc
    )


def manifest_entry(facts: dict[str, Any]) -> FileEntry:
    """``onefile.json``: what the binary holds, for ``inspect`` and ``ONEFILE=info``."""
    return FileEntry("onefile.json", MODE_FILE, json.dumps(facts, indent=2, sort_keys=True).encode() + b"\n")
