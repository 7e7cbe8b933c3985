"""The stdlib's bytecode: sourceless (X.pyc beside where X.py was) or in __pycache__, the
same bytes either way, and what Python imports once the source is gone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from onefile_backend.cache.store import BlobStore
from onefile_backend.format.layers import MODE_FILE, FileEntry
from onefile_backend.runtime.bytecode import compile_bytecode, source_of_sourceless
from onefile_backend.runtime.interpreters import find_interpreter
from onefile_backend.runtime.layer import Sourceless, _without_sources

_CHECK = """
import inspect, sys, traceback
sys.path.insert(0, sys.argv[1])
import pkg, pkg.kept
print(pkg.__file__.rsplit("/", 2)[-2:], pkg.kept.__cached__.rsplit("/", 3)[-3:])
try:
    inspect.getsource(pkg.fail)
except OSError:
    print("no source")
try:
    pkg.fail()
except ValueError:
    print(traceback.format_exc().splitlines()[-2:])
"""


def test_sourceless_bytecode_sits_beside_its_source_and_imports_without_it(tmp_path: Path) -> None:
    interpreter = find_interpreter(None)  # the one running the tests
    tag = interpreter.target.cache_tag
    package = tmp_path / "stage" / "lib" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("def fail():\n    raise ValueError('in pkg')\n")
    (package / "kept.py").write_text("X = 1\n")
    (package / "broken.py").write_text("def (:\n")  # no bytecode: Python skips it too

    def sourceless(path: str) -> bool:
        return not path.endswith("kept.py")

    entries = compile_bytecode(interpreter, str(tmp_path / "stage"), "lib", BlobStore(None), sourceless=sourceless)
    assert [entry.path for entry in entries] == ["lib/pkg/__init__.pyc", f"lib/pkg/__pycache__/kept.{tag}.pyc"]
    assert [source_of_sourceless(entry.path) for entry in entries] == ["lib/pkg/__init__.py", None]
    again = compile_bytecode(interpreter, str(tmp_path / "stage"), "lib", BlobStore(None))
    assert [entry.data for entry in again] == [entry.data for entry in entries]  # the bytes are the same

    (package / "__init__.py").unlink()  # what the layer then leaves out
    for entry in entries:
        (tmp_path / "stage" / entry.path).parent.mkdir(exist_ok=True)
        (tmp_path / "stage" / entry.path).write_bytes(entry.data)
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-c", _CHECK, str(tmp_path / "stage" / "lib")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"['pkg', '__init__.pyc'] ['pkg', '__pycache__', 'kept.{tag}.pyc']",
        "no source",
        # The name compiled in, relative to the stage, and no line: there is no source to show.
        """['  File "lib/pkg/__init__.py", line 2, in fail', 'ValueError: in pkg']""",
    ]


def test_the_sources_of_sourceless_bytecode_are_left_out_and_counted() -> None:
    def entry(path: str, data: bytes = b"x") -> FileEntry:
        return FileEntry(path, MODE_FILE, data)

    tree = [entry("bin/python3"), entry("lib/python3.12/os.py", b"12345"), entry("lib/python3.12/a/fix.py", b"123")]
    bytecode = [entry("lib/python3.12/os.pyc"), entry("lib/python3.12/a/__pycache__/fix.cpython-312.pyc")]
    kept, sourceless = _without_sources(tree, bytecode)
    assert [e.path for e in kept] == [
        "bin/python3",
        "lib/python3.12/a/__pycache__/fix.cpython-312.pyc",
        "lib/python3.12/a/fix.py",
        "lib/python3.12/os.pyc",
    ]
    assert sourceless == Sourceless(modules=1, sources=1, size=5)
    # A stdlib that was bytecode alone: nothing to drop, every module counted.
    assert _without_sources([entry("lib/python3.12/os.pyc")], []) == ([entry("lib/python3.12/os.pyc")], Sourceless(1))
