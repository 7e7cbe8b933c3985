"""The C library a runtime layer carries for systems whose own can't serve (docs/libc-design.md).

From a glibc *sysroot* (``/`` for the build machine's own, or a directory such as Debian's
``libc6:arm64`` unpacked): the loader, ``libc.so.6`` and the libraries glibc ships beside
it (the compatibility stubs, the NSS modules it ``dlopen``s), ``libgcc_s.so.1`` (glibc
``dlopen``s it for ``pthread_cancel``), ``libstdc++.so.6`` (extension modules of wheels
need it and the systems without glibc have none) and the ``C.utf8`` locale. They go in
the runtime layer's ``libc/lib`` and ``libc/locale``; the launcher uses them only where the
system's glibc can't serve.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass

from .._errors import ConfigError
from ..platform.elf import CXX_LIBRARY, minimum_kernel, read_elf

#: The loader's name per CPU (its PT_INTERP path on a glibc system is /lib64/... or /lib/...).
LOADERS = {"x86_64": "ld-linux-x86-64.so.2", "aarch64": "ld-linux-aarch64.so.1"}
_TRIPLETS = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}
#: glibc's own libraries an app may load; the debugging ones (libmemusage, libpcprofile,
#: libthread_db, libc_malloc_debug) and gconv modules (CPython's codecs don't use iconv)
#: are left out, and so are libmvec, libnsl and libBrokenLocale, which no file of a
#: runtime needs (the runtime layer is shared by apps, so it can't look at theirs).
GLIBC_LIBRARIES = (
    "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1", "libresolv.so.2",
    "libanl.so.1", "libnss_files.so.2", "libnss_dns.so.2", "libnss_compat.so.2", "libnss_hesiod.so.2",
)  # fmt: skip
#: Not part of glibc, needed by it (libgcc_s) or by wheels' extension modules (libstdc++,
#: carried only when a file of the binary loads it: see LibcRequest).
COMPILER_LIBRARIES = ("libgcc_s.so.1", CXX_LIBRARY)
#: What the bundled interpreter gets as DT_NEEDED, so that a library with its own
#: DT_RUNPATH (which doesn't see the interpreter's DT_RPATH) finds them loaded already
#: rather than the system's older copies (docs/libc-design.md, "Why DT_RPATH"); the
#: COMPILER_LIBRARIES that were bundled too (see BundledLibc.needed), since a system
#: without glibc has none.
COMPAT_NEEDED = (
    "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1", "libresolv.so.2", "libanl.so.1",
)  # fmt: skip
_E_MACHINES = {"x86_64": "EM_X86_64", "aarch64": "EM_AARCH64"}


@dataclass(frozen=True)
class LibcRequest:
    """The glibc a runtime layer is to carry: from ``sysroot`` (``/``: this machine's), with
    libstdc++ when ``cxx`` (a file of the app, or of the runtime, loads it; else 2.2 MB
    unpacked that nothing reads)."""

    sysroot: str
    cxx: bool = False


@dataclass(frozen=True)
class BundledLibc:
    """What :func:`copy_glibc` put in a runtime layer."""

    sysroot: str
    version: str  # "2.36"
    files: tuple[str, ...]  # relative to the runtime layer's libc/
    size: int  # bytes, unpacked
    kernel: tuple[int, int] = (0, 0)  # the oldest Linux it runs on (its ABI tag); (0, 0): unknown

    @property
    def needed(self) -> tuple[str, ...]:
        """The DT_NEEDED entries the bundled interpreter gets."""
        return COMPAT_NEEDED + tuple(name for name in COMPILER_LIBRARIES if f"lib/{name}" in self.files)

    def to_json(self) -> dict[str, object]:
        return {
            "sysroot": self.sysroot, "version": self.version, "files": list(self.files), "size": self.size,
            "kernel": list(self.kernel),
        }  # fmt: skip

    @classmethod
    def from_json(cls, facts: dict[str, object]) -> BundledLibc:
        found = facts.get("kernel")
        kernel = (int(found[0]), int(found[1])) if isinstance(found, list) and len(found) == 2 else (0, 0)
        return cls(str(facts["sysroot"]), str(facts["version"]), tuple(facts["files"]), int(facts["size"]), kernel)  # type: ignore[arg-type, call-overload]


def _library_dirs(sysroot: str, machine: str | None) -> list[str]:
    triplets = [_TRIPLETS[machine]] if machine else list(_TRIPLETS.values())
    dirs = [os.path.join(sysroot, base, t) for t in triplets for base in ("lib", "usr/lib")]
    return dirs + [os.path.join(sysroot, d) for d in ("lib64", "usr/lib64", "lib", "usr/lib")]


def find_loader(sysroot: str, machine: str | None = None) -> str | None:
    """The glibc loader in ``sysroot`` (for ``machine``, or any CPU we know), or None."""
    names = [LOADERS[machine]] if machine else list(LOADERS.values())
    for directory in _library_dirs(sysroot, machine):
        for name in names:
            if os.path.isfile(os.path.join(directory, name)):
                return os.path.join(directory, name)
    return None


def find_in_sysroot(sysroot: str, machine: str, name: str) -> str | None:
    return next(
        (os.path.join(d, name) for d in _library_dirs(sysroot, machine) if os.path.isfile(os.path.join(d, name))),
        None,
    )


def glibc_version(libc: str) -> str:
    """``2.36`` from the release banner in ``libc.so.6``."""
    with open(libc, "rb") as f:
        found = re.search(rb"release version (2\.\d+)", f.read())
    return found[1].decode() if found else "unknown"


def copy_glibc(sysroot: str, machine: str, libc_dir: str, *, cxx: bool) -> BundledLibc:
    """Copy glibc for ``machine`` from ``sysroot`` into ``libc_dir`` (``lib/``, ``locale/``),
    and libstdc++ with it when ``cxx``.

    A sysroot of another CPU, or without a loader or ``libc.so.6``, is a ConfigError
    naming ``tool.onefile.libc``.
    """
    loader = find_loader(sysroot, machine)
    libc = find_in_sysroot(sysroot, machine, "libc.so.6")
    if loader is None or libc is None:
        missing = LOADERS[machine] if loader is None else "libc.so.6"
        raise ConfigError("tool.onefile.libc", f"{sysroot}: no {missing} for {machine} in this sysroot")
    found_machine = read_elf(os.path.realpath(libc)).machine
    if found_machine != _E_MACHINES[machine]:
        raise ConfigError(
            "tool.onefile.libc", f"{sysroot}: its libc.so.6 is for {found_machine}, not {machine} (the target's CPU)"
        )
    lib_dir = os.path.join(libc_dir, "lib")
    os.makedirs(lib_dir)
    files = []
    for name in (LOADERS[machine], *GLIBC_LIBRARIES, *COMPILER_LIBRARIES):
        if name == CXX_LIBRARY and not cxx:
            continue
        source = loader if name == LOADERS[machine] else find_in_sysroot(sysroot, machine, name)
        if source is None:
            continue  # not every glibc has every stub (libnss_hesiod), nor every sysroot libstdc++
        shutil.copyfile(os.path.realpath(source), os.path.join(lib_dir, name))
        os.chmod(os.path.join(lib_dir, name), 0o755)
        files.append(f"lib/{name}")
    locale = os.path.join(sysroot, "usr/lib/locale/C.utf8")
    if os.path.isdir(locale):
        shutil.copytree(locale, os.path.join(libc_dir, "locale", "C.utf8"), symlinks=False)
        files.append("locale/C.utf8/")
    size = sum(os.path.getsize(os.path.join(d, n)) for d, _, names in os.walk(libc_dir) for n in names)
    kernel = minimum_kernel(os.path.realpath(libc)) or (0, 0)
    return BundledLibc(os.path.abspath(sysroot), glibc_version(libc), tuple(files), size, kernel)
