"""The ELF files of an installed tree: their facts (remembered by content), and the
libraries they load from this machine, copied in beside them the way auditwheel does."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

from .._report import Log
from ..cache.kinds import ELF_FACTS
from ..cache.store import BlobStore
from ..format.tree import unshare_file, walk_files
from ..platform.elf import SYSTEM_LIBRARIES, ElfFacts, is_elf, read_elf, resolve_libraries, set_rpath

#: Where libraries that the app's extension modules load from this machine are copied.
FOREIGN_LIBRARIES = "lib/onefile.libs"


def read_elves(stage: str, store: BlobStore) -> dict[str, ElfFacts]:
    """Each ELF file under ``stage`` and its facts, remembered by content in ``store``."""
    files = walk_files(stage)
    elves = [path for path in files if (".so" in os.path.basename(path) or os.access(path, os.X_OK)) and is_elf(path)]
    keys = {}
    for path in elves:
        with open(path, "rb") as f:
            keys[path] = ELF_FACTS.prefixed(f.read())
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
    # shipped in the app (wheels vendor theirs) need a full resolution.
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
