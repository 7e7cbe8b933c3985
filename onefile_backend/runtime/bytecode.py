"""Bytecode for a staged tree, compiled by the runtime's own interpreter (or, for another
CPU, one of the same version that runs here) and remembered in the build cache."""

from __future__ import annotations

import json
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from .._subprocess import run_tool
from ..cache.kinds import BYTECODE
from ..cache.store import BlobStore
from ..format.layers import MODE_FILE, FileEntry
from .interpreters import Interpreter

_COMPILE = """
import json, py_compile, sys
for source, display, output in json.load(sys.stdin):
    py_compile.compile(source, cfile=output, dfile=display, doraise=False, quiet=2,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
"""


def _pyc_path(source: str, cache_tag: str, sourceless: bool) -> str:
    if sourceless:  # PEP 3147's "sourceless imports": importlib's SourcelessFileLoader
        return source[:-3] + ".pyc"
    directory, name = os.path.split(source)
    return os.path.join(directory, "__pycache__", f"{name[:-3]}.{cache_tag}.pyc")


def source_of_sourceless(path: str) -> str | None:
    """The source ``X.py`` whose bytecode ``path`` is when it is a sourceless ``X.pyc``."""
    directory, name = os.path.split(path)
    if not name.endswith(".pyc") or os.path.basename(directory) == "__pycache__":
        return None
    return path[:-1]


def compile_bytecode(
    interpreter: Interpreter,
    stage: str,
    directory: str,
    store: BlobStore,
    *,
    sourceless: Callable[[str], bool] | None = None,
) -> list[FileEntry]:
    """Unchecked-hash ``.pyc`` entries for the sources in ``stage/directory``.

    Unchecked-hash pycs are used without looking at the source's mtime, which the stub
    can't preserve and ``PYTHONDONTWRITEBYTECODE`` would make us recompile on every run.
    The name compiled in is relative to the stage, so no build path ends up in the binary
    (importlib replaces it by the real path when it loads the module from its source; a
    sourceless module keeps it: ``lib/python3.X/json/__init__.py`` in a traceback).
    Results are kept in ``store``, keyed by interpreter, name and source, so a rebuild
    compiles only what changed; they are returned, not written into the stage (creating
    a thousand files costs seconds).

    A source for which ``sourceless`` (given its path relative to ``stage``) is true gets
    its ``.pyc`` beside it, ``X.pyc`` for ``X.py``: the one place Python imports bytecode
    from when the source is not there (``__pycache__`` is read only next to a source), so
    the caller can leave the source out. The bytes are the same either way.
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
        keys[source] = BYTECODE.prefixed(content, target.magic, display)
    bytecode = store.get_many(keys.values())
    missing = [source for source in sources if keys[source] not in bytecode]
    if missing:
        bytecode.update(_compile(interpreter, stage, {keys[source]: source for source in missing}, store))
    entries = []
    for source in sources:
        if keys[source] not in bytecode:
            continue  # a syntax error (test data, Python 2 leftovers): as Python skips it
        display = os.path.relpath(source, stage)
        path = _pyc_path(display, target.cache_tag, sourceless is not None and sourceless(display))
        entries.append(FileEntry(path, MODE_FILE, bytecode[keys[source]]))
    return entries


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
