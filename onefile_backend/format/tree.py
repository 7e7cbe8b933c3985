"""Staging trees: read a directory into layer entries; compile its bytecode."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from concurrent.futures import ThreadPoolExecutor

from .._subprocess import run_tool
from ..cache.store import BlobStore
from ..runtime.interpreters import Interpreter
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
_COMPILE = """
import json, py_compile, sys
for source, display, output in json.load(sys.stdin):
    py_compile.compile(source, cfile=output, dfile=display, doraise=False, quiet=2,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
"""


def _pyc_path(source: str, cache_tag: str) -> str:
    directory, name = os.path.split(source)
    return os.path.join(directory, "__pycache__", f"{name[:-3]}.{cache_tag}.pyc")


def compile_bytecode(interpreter: Interpreter, stage: str, directory: str, store: BlobStore) -> list[FileEntry]:
    """Unchecked-hash ``.pyc`` entries for the sources in ``stage/directory``.

    Unchecked-hash pycs are used without looking at the source's mtime, which the stub
    can't preserve and ``PYTHONDONTWRITEBYTECODE`` would make us recompile on every run.
    The name compiled in is relative to the stage, so no build path ends up in the binary
    (and importlib shows the real path in tracebacks). Results are kept in ``store``,
    keyed by interpreter, name and source, so a rebuild compiles only what changed; they
    are returned, not written into the stage (creating a thousand files costs seconds).
    """
    target = interpreter.target  # what the bytecode is for (compiled with interpreter.host)
    root = os.path.join(stage, directory)
    sources = sorted(
        os.path.join(path, name) for path, _, names in os.walk(root) for name in names if name.endswith(".py")
    )
    keys = {}
    for source in sources:
        with open(source, "rb") as f:
            content = f.read()
        display = os.path.relpath(source, stage)
        keys[source] = hashlib.sha256(b"\0".join([target.magic.encode(), display.encode(), content])).digest()
    bytecode = store.get_many(keys.values())
    missing = [source for source in sources if keys[source] not in bytecode]
    if missing:
        bytecode.update(_compile(interpreter, stage, {keys[source]: source for source in missing}, store))
    return [
        FileEntry(os.path.relpath(_pyc_path(source, target.cache_tag), stage), MODE_FILE, bytecode[keys[source]])
        for source in sources
        if keys[source] in bytecode  # not there: a syntax error (test data, Python 2 leftovers), as Python skips it
    ]


def _compile(interpreter: Interpreter, stage: str, sources: dict[bytes, str], store: BlobStore) -> dict[bytes, bytes]:
    """Compile ``sources`` (by key) with the runtime's interpreter; remember them in ``store``."""
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONHASHSEED": "0"}
    with tempfile.TemporaryDirectory(prefix="onefile-pyc-") as output:
        jobs = [
            [source, os.path.relpath(source, stage), os.path.join(output, f"{n}.pyc")]
            for n, source in enumerate(sources.values())
        ]
        workers = min(os.cpu_count() or 1, max(1, len(jobs) // 50))

        def compile_share(index: int) -> None:
            # A source that doesn't compile is skipped (doraise=False), as Python skips it.
            run_tool(
                [interpreter.host, "-s", "-c", _COMPILE],
                what="cannot compile bytecode",
                env=environment,
                input=json.dumps(jobs[index::workers]),
            )

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(compile_share, range(workers)))  # one process per share
        compiled = {}
        for key, (_, _, pyc) in zip(sources, jobs, strict=True):
            try:
                with open(pyc, "rb") as f:
                    compiled[key] = f.read()
            except FileNotFoundError:
                pass
    store.put_many(compiled)
    return compiled
