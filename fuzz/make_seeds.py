#!/usr/bin/env python3
"""Write small, valid onefile binaries (with a fake 16-byte stub) as fuzzing seeds.

They are made with the real writer, onefile_backend/format/layers.py, so they start the
fuzzer off with everything the launcher accepts: stored and zstd files, groups of files
sharing a frame, filtered x86-64 code, executables, directories, links (with leading
".."), a manifest, empty layers.

    python fuzz/make_seeds.py OUTDIR
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from onefile_backend.format.layers import (  # noqa: E402
    MODE_DIRECTORY,
    MODE_EXECUTABLE,
    MODE_FILE,
    MODE_SYMLINK,
    FileEntry,
    encode_block,
    write_binary,
)

STUB = b"\x7fELF fake stub.."
# An interpreter's bytes with two patch sites: at 8 (32 bytes) and at 48 (16 bytes).
SITED = b"\x7fELF...." + b"@RUNTIME@/lib".ljust(32, b"\0") + b"........" + b"@RUNTIME@/x:y".ljust(16, b"\0")
MANIFEST = json.dumps(
    {
        "python": "3.12.1",
        "entry_point": {"name": "t", "value": "t:main", "kind": "console_scripts"},
        "distributions": {"t": "1.0"},
    },
    indent=2,
).encode()


def _code(seed: int) -> bytes:
    """An x86-64 ELF header and 600 bytes like code: calls (E8) to a few places, near and far."""
    out = bytearray(b"\x7fELF\x02\x01\x01".ljust(18, b"\0") + (62).to_bytes(2, "little"))
    while len(out) < 620:
        target = (seed * 97 + len(out) * 31) % 700 - len(out) - 5 if len(out) % 3 else 0x7F000000
        out += b"\x90\x48\x89\xe5\xe8" + target.to_bytes(4, "little", signed=True)
    return bytes(out)


def _binary(runtime: list[FileEntry], app: list[FileEntry], level: int | None = 3) -> bytes:
    out = io.BytesIO()
    blocks = [
        encode_block(entries, prefix, level=level, epoch=0, threads=1, alone={"onefile.json"})
        for entries, prefix in ((runtime, "runtime/"), (app, "app/"))
    ]
    zipapp = encode_block([], "", level=None, epoch=0, threads=1)
    write_binary(out, STUB, blocks[0], blocks[1], zipapp, epoch=0)
    return out.getvalue()


def seeds() -> dict[str, bytes]:
    text = b"import sys\nprint('hello from a file that is long enough to be compressed by zstd')\n" * 3
    runtime = [
        FileEntry("bin/python3", MODE_EXECUTABLE, b"\x7fELF not really"),
        FileEntry("bin/python", MODE_SYMLINK, b"python3"),
        FileEntry("lib/python3.12/", MODE_DIRECTORY, b""),
        FileEntry("lib/python3.12/os.py", MODE_FILE, text),
        FileEntry("lib/libpython3.12.so", MODE_EXECUTABLE, b"so"),
        FileEntry("lib/python3.12/lib-dynload/x.so", MODE_SYMLINK, b"../../libpython3.12.so"),
    ]
    app = [
        FileEntry("bin/onefile-main", MODE_EXECUTABLE, b"import t\nt.main()\n"),
        FileEntry("lib/python3.12/site-packages/t/__init__.py", MODE_FILE, text),
        FileEntry("lib/python3.12/site-packages/t/__pycache__/__init__.cpython-312.pyc", MODE_FILE, b"pyc"),
        FileEntry("onefile.json", MODE_FILE, MANIFEST),
    ]
    return {
        "full": _binary(runtime, app),
        "stored": _binary(runtime[:3], app, level=None),
        "empty-layers": _binary([], []),
        "manifest-only": _binary([], [FileEntry("onefile.json", MODE_FILE, MANIFEST)]),
        # A runtime interpreter with two patch sites (format 3), as the builder writes them.
        "sites": _binary(
            [FileEntry("bin/python3", MODE_EXECUTABLE, SITED, ((8, 32), (48, 16)))], app[:1],
        ),
        # Small files sharing one zstd frame (format 4): a group in each layer.
        "groups": _binary(
            [FileEntry(f"lib/m{i}.py", MODE_FILE, text + bytes([48 + i])) for i in range(3)],
            [*(FileEntry(f"g/{i}.py", MODE_FILE, bytes([65 + i]) * 80 + text) for i in range(4)), app[3]],
        ),
        # x86-64 code compressed with its calls' targets made absolute (format 5): alone in
        # the runtime, a group of two in the app.
        "filters": _binary(
            [FileEntry("lib/libx.so", MODE_EXECUTABLE, _code(3))],
            [FileEntry("lib/a.so", MODE_FILE, _code(1)), FileEntry("lib/b.so", MODE_FILE, _code(2)), app[3]],
        ),
        "links": _binary(
            [FileEntry("a/b/c", MODE_SYMLINK, b"../../d"), FileEntry("d", MODE_FILE, b"d")],
            [FileEntry("x/y", MODE_SYMLINK, b"../z"), FileEntry("z/", MODE_DIRECTORY, b"")],
        ),
    }


def main() -> int:
    outdir = Path(sys.argv[1])
    outdir.mkdir(parents=True, exist_ok=True)
    for name, data in seeds().items():
        (outdir / f"seed-{name}").write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
