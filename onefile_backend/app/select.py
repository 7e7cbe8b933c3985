"""What of an install goes into the binary: files matched by ``tool.onefile.exclude``
and the dependencies' test suites are left out; imports of stdlib modules the runtime
leaves out are warned about."""

from __future__ import annotations

import fnmatch
import glob
import os
import re

from .._report import Log
from ..format.layers import FileEntry

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


_PYC = re.compile(r"^(?P<directory>(?:.*/)?)__pycache__/(?P<name>[^/.]+)\.[^/]+\.pyc$")
# Where a package keeps its test suite.
_IN_TESTS = re.compile(r"^(?:.*/)?tests/")
# What only a test runner imports: pytest's test modules and conftest files, in a package's
# tests/ directory. Other modules there stay: runtime code may import them (astropy's
# __init__ imports astropy.tests.runner).
_TEST_MODULE = re.compile(r"^(?:.*/)?tests/(?:.*/)?(?:test_[^/]*|[^/]*_test|conftest)\.py$")


def describe_left_out_tests(count: int) -> str:
    """What the manifest says of the dependencies' test files a build left out."""
    return (
        f"{count} files of the dependencies' test suites (in tests/ directories: all but the modules "
        "that are not tests); `keep-tests = true` keeps them"
    )


def _is_test_file(relative: str, source: str) -> bool:
    """A file of a test suite (``source``: the module a .pyc is the bytecode of, else the
    file itself): a test module, or anything but a module in a tests/ directory (data,
    stubs, sources of extensions to build)."""
    if not _IN_TESTS.match(source):
        return False
    return bool(_TEST_MODULE.match(source)) or not (source.endswith(".py") or relative.endswith(".pyc"))


def without_excluded(
    entries: list[FileEntry], stage: str, site_packages: str, exclude: tuple[str, ...], drop_tests: bool, log: Log
) -> tuple[list[FileEntry], int]:
    """``entries`` less the files in site-packages that match ``exclude`` (``tool.onefile.exclude``)
    and, with ``drop_tests``, the files of test suites; a ``.pyc`` goes with its source.
    Also how many files of test suites were left out."""
    if not exclude and not drop_tests:
        return entries, 0
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
            if drop_tests and _is_test_file(relative, source):
                tests += 1
                continue
        kept.append(entry)
    if excluded:
        log(f"resolve: left out {excluded} files matching tool.onefile.exclude")
    if tests:
        log(f"resolve: left out {tests} files of the dependencies' test suites (keep-tests = true keeps them)")
    return kept, tests
