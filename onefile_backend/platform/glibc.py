"""The glibc a binary needs: each ELF file's ``GLIBC_x.y`` version needs, the floor they
make, and a project's ``min-glibc`` policy checked against them (as auditwheel checks a
wheel against a manylinux policy).

The launcher gets the exact set of versions through the trailer (a bitmap of ``x.y``
minors, see :func:`trailer_bitmap` and docs/format.md) and checks it against the target's
C library before it writes anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from .._errors import ConfigError

Version = tuple[int, ...]

#: The oldest glibc a floor can be set to: python-build-standalone's and manylinux2014's.
OLDEST_FLOOR = (2, 17)
#: Bits in the trailer's bitmap: GLIBC_2.0 to GLIBC_2.95.
BITMAP_BYTES = 12

_VERSION_TEXT = re.compile(r"^2\.(\d{1,2})$")
# The manylinux floors uv can resolve for (`uv pip compile --python-platform`), newest first.
_UV_MANYLINUX = tuple((2, minor) for minor in (40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 28, 17))


def format_version(version: Version) -> str:
    return ".".join(map(str, version)) if version else "any"


def parse_floor(value: object, key: str = "tool.onefile.min-glibc") -> Version:
    """``"2.28"`` -> ``(2, 28)``; a one-line error naming ``key`` for anything else."""
    match = _VERSION_TEXT.match(value) if isinstance(value, str) else None
    if match is None or (2, int(match[1])) < OLDEST_FLOOR:
        raise ConfigError(key, f"{value!r} is not allowed (expected a glibc version such as \"2.28\", 2.17 or newer)")
    return (2, int(match[1]))


def uv_platform(machine: str, floor: Version) -> str:
    """uv's ``--python-platform`` for wheels that run on glibc ``floor`` (the newest
    manylinux floor uv knows that is not above it)."""
    chosen = next(version for version in _UV_MANYLINUX if version <= floor)
    return f"{machine}-manylinux_{chosen[0]}_{chosen[1]}"


@dataclass(frozen=True)
class GlibcNeeds:
    """The ``GLIBC_x.y`` versions each ELF file of a layer asks for (paths as in the layer)."""

    files: tuple[tuple[str, tuple[Version, ...]], ...] = ()

    @classmethod
    def of(cls, needs: Mapping[str, Iterable[Version]]) -> GlibcNeeds:
        return cls(tuple(sorted((path, tuple(sorted(set(versions)))) for path, versions in needs.items() if versions)))

    def __add__(self, other: GlibcNeeds) -> GlibcNeeds:
        merged = dict(self.files)
        merged.update(other.files)
        return GlibcNeeds.of(merged)

    def prefixed(self, prefix: str) -> GlibcNeeds:
        return GlibcNeeds(tuple((prefix + path, versions) for path, versions in self.files))

    def versions(self) -> tuple[Version, ...]:
        """Every version some file asks for, oldest first."""
        return tuple(sorted({version for _, versions in self.files for version in versions}))

    def floor(self) -> Version:
        """The newest version asked for: the oldest glibc that can run every file."""
        return max((versions[-1] for _, versions in self.files), default=())

    def set_by(self) -> str | None:
        """The (first, by path) file that needs the floor."""
        floor = self.floor()
        return next((path for path, versions in self.files if versions[-1] == floor), None)

    def above(self, limit: Version) -> list[tuple[str, Version]]:
        """The files that need a newer glibc than ``limit``, with the version each needs."""
        return [(path, versions[-1]) for path, versions in self.files if versions[-1][:2] > limit]

    def to_json(self) -> list[Any]:
        return [[path, [list(version) for version in versions]] for path, versions in self.files]

    @classmethod
    def from_json(cls, data: Iterable[Any]) -> GlibcNeeds:
        return cls.of({str(path): [tuple(version) for version in versions] for path, versions in data})


def trailer_bitmap(versions: Iterable[Version]) -> bytes:
    """Bit ``y`` set for each ``GLIBC_2.y[.z]`` asked for (the launcher compares minors)."""
    bits = 0
    for version in versions:
        if version[0] != 2 or version[1] >= BITMAP_BYTES * 8:
            raise ValueError(f"glibc {format_version(version)} does not fit the trailer")
        bits |= 1 << version[1]
    return bits.to_bytes(BITMAP_BYTES, "little")


def bitmap_versions(bitmap: bytes) -> tuple[Version, ...]:
    bits = int.from_bytes(bitmap, "little")
    return tuple((2, minor) for minor in range(len(bitmap) * 8) if bits >> minor & 1)


def check_floor(needs: GlibcNeeds, floor: Version) -> None:
    """Raise naming each file that needs a newer glibc than the project's ``min-glibc``."""
    over = needs.above(floor)
    if not over:
        return
    over.sort(key=lambda item: (item[1], item[0]), reverse=True)
    shown = ", ".join(f"{path} needs {format_version(version)}" for path, version in over[:4])
    more = f" and {len(over) - 4} more files" if len(over) > 4 else ""
    raise ConfigError(
        "tool.onefile.min-glibc",
        f"the binary would need a newer glibc than {format_version(floor)}: {shown}{more} "
        "(use a runtime built for older systems, e.g. a python-build-standalone one, or raise min-glibc)",
    )
