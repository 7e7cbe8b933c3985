"""Every kind of thing the build cache keeps, with the version that is part of its keys.

Bump a kind's version when the code that makes its entries changes what they hold: old
entries are then never found again (the store drops them after MAX_AGE_SECONDS unused).
The per-user run-time cache of unpacked layers is the launcher's; its layout is in
docs/format.md and its names are content hashes, so it has no versions of its own.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Literal

Where = Literal["blobs", "files"]


@dataclass(frozen=True)
class CacheKind:
    name: str
    version: int
    where: Where  # "blobs": cache.store.BlobStore; "files": a path under build_cache_dir()
    holds: str  # what an entry is, and what its key is made of

    @property
    def tag(self) -> str:
        """``name-version``: the first part of every key of this kind."""
        return f"{self.name}-{self.version}"

    def key(self, *facts: object) -> bytes:
        """A key from JSON-able facts: the tag first, so another kind or version never matches."""
        return hashlib.sha256(json.dumps([self.tag, *facts]).encode()).digest()

    def prefixed(self, data: bytes, *facts: object) -> bytes:
        """A key of content: the tag and ``facts`` (as JSON, so no fact can pass for the
        start of the content), then the bytes themselves."""
        return hashlib.sha256(json.dumps([self.tag, *facts]).encode() + b"\n" + data).digest()


INTERPRETER = CacheKind("interpreter", 1, "blobs", "what an interpreter said about itself; key: its path, size, mtime")
PINS = CacheKind(
    "pins", 2, "blobs", "uv's resolution of a project's requirements; key: interpreter, requirements, indexes"
)
DEPENDENCIES = CacheKind(
    "dependencies", 19, "blobs", "the dependencies' encoded part of an app layer; key: interpreter, pins, indexes, ..."
)
ELF_FACTS = CacheKind("elf-facts", 2, "blobs", "an ELF file's needed libraries, run path, glibc needs; key: its bytes")
COMPRESSED = CacheKind("zstd", 3, "blobs", "a file's zstd frame; key: level and the file's bytes")
BYTECODE = CacheKind("bytecode", 1, "blobs", "a module's .pyc; key: magic number, path in the layer, source")
RUNTIME_LAYER = CacheKind("runtime-layer", 18, "files", "runtime-<identity>.layer(.json): an encoded runtime layer")
ARCHIVES = CacheKind("runtimes", 1, "files", "runtimes/<sha256>: unpacked archives, downloads, uv's Pythons")
UV_SETTINGS = CacheKind("uv", 1, "files", "uv/no-index.toml: pip's no-index for uv, which has no variable for it")

KINDS = (INTERPRETER, PINS, DEPENDENCIES, ELF_FACTS, COMPRESSED, BYTECODE, RUNTIME_LAYER, ARCHIVES, UV_SETTINGS)
