"""Staging trees: read a directory into layer entries; compile its bytecode."""

from __future__ import annotations

import os
import stat
import subprocess
from typing import Callable

from ._format import MODE_EXECUTABLE, MODE_FILE, MODE_SYMLINK, FileEntry

Log = Callable[..., None]


def entries_from_tree(root: str) -> list[FileEntry]:
    """Every file and link under ``root``, sorted, with normalised modes.

    Links that are absolute or lead outside ``root`` are replaced by a copy of what they
    point at, so the layer never holds an entry the stub would refuse.
    """
    entries: list[FileEntry] = []
    real_root = os.path.realpath(root)
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(directory, d))]):
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root)
            if os.path.islink(path):
                target = os.readlink(path)
                resolved = os.path.realpath(path)
                inside = resolved == real_root or resolved.startswith(real_root + os.sep)
                if not os.path.isabs(target) and inside and os.path.exists(path):
                    # Stored as the plain relative path to what it resolves to, which the
                    # stub's lexical check accepts whatever links the original went through.
                    target = os.path.relpath(resolved, os.path.realpath(directory))
                    entries.append(FileEntry(relative, MODE_SYMLINK, target.encode()))
                    continue
                if not os.path.isfile(resolved):
                    continue  # a dangling link, or one to a directory outside: leave it out
                path = resolved
            mode = os.stat(path).st_mode
            if not stat.S_ISREG(mode):
                continue
            with open(path, "rb") as f:
                data = f.read()
            entries.append(FileEntry(relative, MODE_EXECUTABLE if mode & 0o111 else MODE_FILE, data))
    entries.sort(key=lambda entry: entry.path)
    return entries


def compile_bytecode(python: str, stage: str, directory: str) -> None:
    """Write unchecked-hash ``.pyc`` files for ``stage/directory`` with the runtime's Python.

    Unchecked-hash pycs are used without looking at the source's mtime, which the stub
    can't preserve and ``PYTHONDONTWRITEBYTECODE`` would make us recompile on every run.
    Paths inside are relative (``-d``) so no build path ends up in the binary.
    """
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONHASHSEED": "0"}
    subprocess.run(
        [
            python,
            "-s",
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            "-d",
            directory,
            os.path.join(stage, directory),
        ],
        env=environment,
        capture_output=True,
        check=False,
    )
