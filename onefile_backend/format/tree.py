"""Staging trees: read a directory into layer entries."""

from __future__ import annotations

import os
import stat

from .layers import MODE_EXECUTABLE, MODE_FILE, MODE_SYMLINK, FileEntry


def walk_files(root: str) -> list[str]:
    """Every file (and link) below ``root``, sorted."""
    return sorted(os.path.join(directory, name) for directory, _, names in os.walk(root) for name in names)


def write_new_file(path: str, data: bytes) -> None:
    """Write ``path`` as a new file: an installed file may be a hard link into uv's cache."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.lexists(path):
        os.unlink(path)
    with open(path, "wb") as f:
        f.write(data)


def unshare_file(path: str) -> None:
    """Make ``path`` a file of its own before it is changed in place (patchelf does that)."""
    if os.stat(path).st_nlink > 1:
        with open(path, "rb") as f:
            data = f.read()
        mode = os.stat(path).st_mode
        write_new_file(path, data)
        os.chmod(path, stat.S_IMODE(mode))


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


def merge_entries(entries: list[FileEntry], more: list[FileEntry]) -> list[FileEntry]:
    """``entries`` and ``more``, sorted; ``more`` wins where both have a path."""
    by_path = {entry.path: entry for entry in entries}
    by_path.update((entry.path, entry) for entry in more)
    return [by_path[path] for path in sorted(by_path)]


# Run by the runtime's interpreter: compile (source, display name, output) triples from stdin.
