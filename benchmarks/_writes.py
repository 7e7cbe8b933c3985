"""How compare.py counts what a cold start writes: one start under strace, parsed.

A cold start is traced once per tool and app, apart from the timed starts (strace slows
a start down; the count does not depend on timing). strace follows the whole process
tree (``-f``: PyInstaller's parent and child, onefile's launcher threads, gunicorn's
workers) and shows every file descriptor as what it points to (``-yy``), so only writes
to files on a file system count: not to a pipe, a socket, a tty, /dev/null, an anonymous
inode, a memfd, /proc or /sys. The trace, not the cache directory after the start,
because PyInstaller removes its unpack directory when it exits.

- bytes: the sum of the return values of successful write, pwrite64, writev, pwritev,
  pwritev2, copy_file_range, sendfile and splice calls on such files (what reached the
  file, not what was asked for);
- files: the regular files created (open, openat, openat2 with O_CREAT; creat) or
  written to, each path once;
- in the details only: symbolic links, hard links and directories created.

Not seen: bytes written through a shared mapping (mmap) or io_uring; none of the tools
compared writes its files that way.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from _peers import REPO
from _timing import StartFailed, prepare_cold

# The calls that move bytes into a file, and the position of the file written among
# their descriptor arguments (copy_file_range and splice: fd_in, off_in, fd_out, ...).
_WRITING = {"write": 0, "pwrite64": 0, "writev": 0, "pwritev": 0, "pwritev2": 0, "sendfile": 0}
_WRITING |= {"copy_file_range": 1, "splice": 1}
_OPENING = ("open", "openat", "openat2", "creat")
_LINKING = {"symlink": "symlinks", "symlinkat": "symlinks", "link": "hard_links", "linkat": "hard_links"}
_LINKING |= {"mkdir": "directories", "mkdirat": "directories"}
# "?": no error on an architecture without the call (aarch64 has no open, creat, mkdir...).
_TRACE = ",".join(f"?{name}" for name in [*_WRITING, *_OPENING, *_LINKING])

# pid, call, arguments, return value and, for a returned descriptor, what it points to.
_LINE = re.compile(r"^(?:\d+ +)?(?P<call>\w+)\((?P<args>.*)\) += (?P<ret>\d+)(?:<(?P<fd>.*)>)?$")
_FD = re.compile(r"(?:^|, )\d+<")
_DEVICE = re.compile(r"<(?:char|block) \d+:\d+>$")  # -yy marks a device file's path
_O_CREAT = re.compile(r"(?<![A-Z_])O_CREAT(?![A-Z_])")


@dataclass
class Writes:
    """What one start wrote to files."""

    bytes: int = 0
    files: int = 0
    symlinks: int = 0
    hard_links: int = 0
    directories: int = 0
    bytes_by_call: dict[str, int] = field(default_factory=dict)

    def as_details(self) -> dict[str, Any]:
        return asdict(self)


def strace_argv(strace: str, trace_file: Path) -> list[str]:
    """strace's part of a traced command line; the start's command follows it."""
    return [strace, "-f", "-qq", "-yy", "-e", f"trace={_TRACE}", "-e", "status=successful", "-o", str(trace_file), "--"]


def _descriptors(args: str) -> list[str]:
    """What each descriptor among ``args`` points to (-yy: ``3</path>``, ``1</dev/null<char 1:3>>``)."""
    found = []
    for match in _FD.finditer(args):
        depth, start = 1, match.end()
        for end in range(start, len(args)):
            depth += {"<": 1, ">": -1}.get(args[end], 0)
            if depth == 0:
                found.append(args[start:end])
                break
    return found


def _file(described: str) -> Optional[str]:
    """The path of a file on a file system, or None (pipe, socket, device, /proc...)."""
    if _DEVICE.search(described) or not described.startswith("/"):
        return None
    if described.startswith(("/proc/", "/sys/", "/memfd:")):
        return None
    return described[: -len(" (deleted)")] if described.endswith(" (deleted)") else described


def parse_trace(lines: Iterable[str]) -> Writes:
    """Count the writes of a trace made with strace_argv()."""
    writes = Writes()
    created: set[str] = set()
    written: set[str] = set()
    for line in lines:
        match = _LINE.match(line.rstrip("\n"))
        if match is None:  # signals, and calls that did not return a count
            continue
        call, args, returned = match["call"], match["args"], int(match["ret"])
        if call in _WRITING:
            descriptors = _descriptors(args)
            index = _WRITING[call]
            path = _file(descriptors[index]) if index < len(descriptors) else None
            if path is not None and returned > 0:
                writes.bytes += returned
                writes.bytes_by_call[call] = writes.bytes_by_call.get(call, 0) + returned
                written.add(path)
        elif call in _OPENING:
            path = _file(match["fd"] or "")
            # The flags follow the file name: look only after its closing quote.
            if path is not None and (call == "creat" or _O_CREAT.search(args.rsplit('"', 1)[-1])):
                created.add(path)
        elif call in _LINKING:
            kind = _LINKING[call]
            setattr(writes, kind, getattr(writes, kind) + 1)
    writes.files = len(created | written)
    return writes


def count_writes(strace: str, start: Callable[[list[str]], object]) -> Writes:
    """What one traced cold start wrote. ``start(prefix)`` makes the start, with ``prefix``
    (strace and its options) in front of its command: run_cold() or, for a server,
    serve_once(..., traced=True)."""
    with tempfile.TemporaryDirectory(prefix="compare-strace-") as scratch:
        trace_file = Path(scratch) / "trace"
        start(strace_argv(strace, trace_file))
        with open(trace_file, encoding="utf-8", errors="replace") as f:
            return parse_trace(f)


def run_cold(prefix: Sequence[str], command: Sequence[str], env: Mapping[str, str], cache: Optional[Path]) -> None:
    """One start of ``prefix + command`` after prepare_cold(cache); it must exit 0."""
    prepare_cold(cache)
    result = subprocess.run([*prefix, *command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if result.returncode != 0:
        raise StartFailed(f"exit status {result.returncode}: {result.stderr.decode(errors='replace')[-500:]}")


def find_strace(log: Callable[[str], None]) -> tuple[Optional[str], str]:
    """strace's path, installed the way the tests get it (tests/needs.py) when missing;
    or None and why not."""
    spec = importlib.util.spec_from_file_location("_compare_needs", REPO / "tests" / "needs.py")
    if spec is None or spec.loader is None:
        return None, "tests/needs.py is missing"
    needs = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = needs  # its dataclass looks itself up there
    spec.loader.exec_module(needs)
    found: Optional[str] = needs.find("strace")
    if found is not None:
        return found, ""
    packages = list(needs.NEEDS["strace"].packages)
    log(f"strace is not installed: installing Debian's {' '.join(packages)} (tests/needs.py)")
    problem = needs.install(packages)
    found = needs.find("strace")
    if found is not None:
        return found, ""
    return None, f"no strace, and Debian's {' '.join(packages)} did not install: {problem or 'no strace after'}"
