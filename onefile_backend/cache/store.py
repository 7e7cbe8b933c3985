"""The build machine's caches: encoded runtime layers, and a content-addressed store of
build products (bytecode, compressed entries) so that a rebuild redoes only what changed.

The store is one SQLite file: atomic writes, safe for parallel builds, no small files.
"""

from __future__ import annotations

import os
import sqlite3
import time
from typing import Iterable, Mapping

_SCHEMA = "CREATE TABLE IF NOT EXISTS blobs (key BLOB PRIMARY KEY, value BLOB NOT NULL, used REAL NOT NULL)"
# Without it, finding old entries reads every row, big values and all.
_USED_INDEX = "CREATE INDEX IF NOT EXISTS blobs_used ON blobs (used)"
#: Entries not used for this long are dropped when the store is opened.
MAX_AGE_SECONDS = 30 * 24 * 3600
#: An entry's last use is written at most this often: SQLite rewrites the whole row,
#: which for an encoded layer is megabytes.
USED_RESOLUTION_SECONDS = 24 * 3600


def build_cache_dir() -> str:
    """``$ONEFILE_BUILD_CACHE``, else ``$XDG_CACHE_HOME/onefile-build``, else ``~/.cache/onefile-build``."""
    explicit = os.environ.get("ONEFILE_BUILD_CACHE")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "onefile-build")


class BlobStore:
    """Bytes by key. Without a usable file it stores nothing and finds nothing."""

    def __init__(self, path: str | None) -> None:
        self._db: sqlite3.Connection | None = None
        if path is None:
            return
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self._db = sqlite3.connect(path, timeout=60, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # a lost entry is only recomputed
            self._db.execute(_SCHEMA)
            self._db.execute(_USED_INDEX)
            self._db.execute("DELETE FROM blobs WHERE used < ?", (time.time() - MAX_AGE_SECONDS,))
        except (OSError, sqlite3.Error):
            self._db = None  # a cache that can't be opened only makes the build slower

    @classmethod
    def default(cls) -> BlobStore:
        return cls(os.path.join(build_cache_dir(), "blobs.sqlite3"))

    def get_many(self, keys: Iterable[bytes]) -> dict[bytes, bytes]:
        found: dict[bytes, bytes] = {}
        if self._db is None:
            return found
        wanted = list(keys)
        try:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT key, value FROM blobs WHERE key IN ({marks})", chunk)
                found.update((bytes(key), bytes(value)) for key, value in rows)
            if found:
                now = time.time()
                self._db.execute("BEGIN")
                self._db.executemany(
                    "UPDATE blobs SET used = ? WHERE key = ? AND used < ?",
                    ((now, key, now - USED_RESOLUTION_SECONDS) for key in found),
                )
                self._db.execute("COMMIT")
        except sqlite3.Error:
            return {}
        return found

    def put_many(self, items: Mapping[bytes, bytes]) -> None:
        if self._db is None or not items:
            return
        now = time.time()
        try:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO blobs (key, value, used) VALUES (?, ?, ?)",
                ((key, value, now) for key, value in items.items()),
            )
            self._db.execute("COMMIT")
        except sqlite3.Error:
            pass

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
