"""The binary format, writer side.

The reader side is ``stub/of_format.h``; ``docs/format.md`` describes both. Change all
three together and bump :data:`FORMAT_VERSION`.

A layer is a run of zip local entries (zstd-compressed, mode in an extra field), so it
describes its content independently of where it sits; the central directory written
after the layers makes the whole binary a zip archive for ``unzip -l`` and zipimport.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import stat
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import BinaryIO, Callable, Collection, Iterable, Mapping, Protocol, Sequence

import zstandard

from ..cache.kinds import COMPRESSED
from .spec import (
    APP_MAIN,
    FILTER_X86_CALLS,
    FILTER_X86_SIZE_MAX,
    FORMAT_VERSION,
    GLIBC_BITMAP_SIZE,
    LAYER_COUNT,
    LAYER_RECORD_SIZE,
    LIBC_GLIBC,
    LIBC_GLIBC_BUNDLED,
    LIBC_NONE,
    MAGIC,
    MODE_DIRECTORY,
    MODE_EXECUTABLE,
    MODE_FILE,
    MODE_SYMLINK,
    PREFIX_APP,
    PREFIX_RUNTIME,
    RUNTIME_PYTHON,
    SHA256_DIGEST_SIZE,
    SITE_MAX_SIZE,
    SITE_MIN_SIZE,
    SITE_TOKEN,
    SITES_MAX,
    TRAILER_APP_ID_AT,
    TRAILER_APP_KEY_AT,
    TRAILER_GLIBC_AT,
    TRAILER_KERNEL_AT,
    TRAILER_LAYERS_AT,
    TRAILER_LIBC_AT,
    TRAILER_MAGIC_AT,
    TRAILER_SIZE,
    TRAILER_SIZE_AT,
    TRAILER_VERSION_AT,
    ZIP_EXTRA_FILTER_ID,
    ZIP_EXTRA_FILTER_SIZE,
    ZIP_EXTRA_GROUP_ID,
    ZIP_EXTRA_GROUP_SIZE,
    ZIP_EXTRA_MODE_ID,
    ZIP_EXTRA_SITE_SIZE,
    ZIP_EXTRA_SITES_ID,
    ZIP_FLAG_UTF8,
    ZIP_METHOD_STORED,
    ZIP_METHOD_ZSTD,
    ZIP_METHOD_ZSTD_GROUP,
    ZSTD_WINDOW_LOG_MAX,
)

__all__ = [  # the constants the writer's users take from here, as before spec.py held them
    "APP_MAIN", "FORMAT_VERSION", "LIBC_GLIBC", "LIBC_GLIBC_BUNDLED", "LIBC_NONE", "MAGIC", "MODE_DIRECTORY",
    "MODE_EXECUTABLE", "MODE_FILE", "MODE_SYMLINK", "PREFIX_APP", "PREFIX_RUNTIME", "RUNTIME_PYTHON", "TRAILER_SIZE",
]  # fmt: skip

#: Version 1 (192 bytes: no libc needs, no app id) is still read, by ``inspect``.
_V1_TRAILER_SIZE = 192
METHOD_STORED = ZIP_METHOD_STORED
METHOD_ZSTD = ZIP_METHOD_ZSTD
METHOD_ZSTD_GROUP = ZIP_METHOD_ZSTD_GROUP
#: Levels up to 19 (without long mode) keep zstd windows within the launcher's limit
#: (spec.ZSTD_WINDOW_LOG_MAX).
MAX_ZSTD_LEVEL = 19
#: The window the builder's frames use at most: 2 MiB, and 4 MiB for files over 16 MiB.
#: The launcher decodes a file bigger than its window (libpython, libcrypto) through a
#: buffer of the window's size, which each of its threads faults in page by page on a
#: first start; 2 MiB instead of up to 8 costs hello's runtime layer 0.1 % of its size and
#: saves ~1,500 page faults. A file over 16 MiB (OpenBLAS, 25 MiB) keeps 4 MiB: 2 would
#: cost it 3 %, 4 costs 0.3 % (performance.md, session 9). The launcher still reads windows
#: up to spec.ZSTD_WINDOW_LOG_MAX.
WINDOW_LOG = 21
WINDOW_LOG_BIG = 22
BIG_FILE = 16 << 20
EXTRA_MODE_ID = ZIP_EXTRA_MODE_ID
FLAG_UTF8 = ZIP_FLAG_UTF8
MADE_BY_UNIX = 0x033F  # Unix, zip spec 6.3
MAX_ENTRY_SIZE = 0xFFFFFFFF

_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
_CENTRAL_HEADER = struct.Struct("<IHHHHHHIIIHHHHHII")
_EOCD = struct.Struct("<IHHHHIIH")
_ZIP64_EOCD = struct.Struct("<IQHHIIQQQQ")
_ZIP64_LOCATOR = struct.Struct("<IIQI")
_EXTRA_MODE = struct.Struct("<HHI")
_EXTRA_HEADER = struct.Struct("<HH")
_SITE = struct.Struct("<II")
_GROUP = struct.Struct("<II")
_LAYER_RECORD = struct.Struct("<QQQQ32s")  # spec.LAYER_*_AT: offset, size, entries, unpacked size, SHA-256
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")


@dataclass(frozen=True)
class FileEntry:
    """One file, link or directory to put in a layer (``path`` without the prefix)."""

    path: str
    mode: int
    data: bytes  # file contents, or the target of a symbolic link
    sites: tuple[tuple[int, int], ...] = ()  # (offset, size) of each patch site (format.sites)


@dataclass(frozen=True)
class _Member:
    name: bytes
    mode: int
    method: int
    crc: int
    compressed_size: int
    size: int
    offset_in_block: int  # where its local header starts within its block
    sites: tuple[tuple[int, int], ...] = ()
    group: tuple[int, int] | None = None  # (index, count) of a group member
    filter: int = 0  # spec.FILTER_* applied to the data before compression, or 0


@dataclass(frozen=True)
class Block:
    """Encoded local entries: a layer, or the zipapp entries after the layers."""

    data: bytes
    members: tuple[_Member, ...]

    @property
    def sha256(self) -> bytes:
        return hashlib.sha256(self.data).digest()

    @property
    def unpacked_size(self) -> int:
        return sum(member.size for member in self.members)

    def to_json(self) -> list[list[object]]:
        """The member index, for caching an encoded block next to its bytes."""
        return [
            [m.name.decode("utf-8"), m.mode, m.method, m.crc, m.compressed_size, m.size, m.offset_in_block]
            + ([[list(site) for site in m.sites], list(m.group or ())] if m.sites or m.group or m.filter else [])
            + ([m.filter] if m.filter else [])
            for m in self.members
        ]

    def payload(self, member: _Member) -> bytes:
        """A member's data as it is in the block (compressed, or part of a group's frame)."""
        end = member.offset_in_block + self._total(member)
        return self.data[end - member.compressed_size : end]

    def without(self, names: Collection[bytes], *, level: int, epoch: int) -> Block:
        """This block less the members called ``names`` (full names, with the prefix). The
        other members of a group one of them was in are encoded again (``level``, ``epoch``)."""
        if not any(member.name in names for member in self.members):
            return self
        ends = [m.offset_in_block for m in self.members[1:]] + [len(self.data)]
        blocks: list[Block] = []
        group: list[_Member] = []
        for member, end in zip(self.members, ends, strict=True):
            if member.group is not None:
                group.append(member)
                if member.group[0] + 1 == member.group[1]:
                    blocks.append(self._regroup(group, names, level, epoch))
                    group = []
            elif member.name not in names:
                blocks.append(Block(self.data[member.offset_in_block : end], (replace(member, offset_in_block=0),)))
        return join_blocks(blocks)

    def _regroup(self, group: Sequence[_Member], names: Collection[bytes], level: int, epoch: int) -> Block:
        """A group's members, less those called ``names``: as they are if that is none."""
        if not any(member.name in names for member in group):
            start, last = group[0].offset_in_block, group[-1]
            end = last.offset_in_block + self._total(last)
            members = tuple(replace(m, offset_in_block=m.offset_in_block - start) for m in group)
            return Block(self.data[start:end], members)
        decoded = decode_group([self.payload(m) for m in group], [m.size for m in group])
        files = [undo_filter(m.filter, data) for m, data in zip(group, decoded, strict=True)]
        kept = [
            FileEntry(m.name.decode("utf-8"), m.mode, data)
            for m, data in zip(group, files, strict=True)
            if m.name not in names
        ]
        return encode_block(kept, "", level=level, epoch=epoch, threads=1)

    def _total(self, member: _Member) -> int:
        """Bytes the member takes: header, name, extra and data."""
        name_length: int
        extra_length: int
        *_, name_length, extra_length = _LOCAL_HEADER.unpack_from(self.data, member.offset_in_block)
        return _LOCAL_HEADER.size + name_length + extra_length + member.compressed_size

    @classmethod
    def from_json(cls, index: list[list[object]], data: bytes) -> Block | None:
        def member(name: object, *rest: object) -> _Member:
            numbers = [int(v) for v in rest[:6]]  # type: ignore[call-overload]
            sites = tuple((int(o), int(n)) for o, n in rest[6]) if len(rest) >= 8 else ()  # type: ignore[attr-defined]
            group = tuple(int(v) for v in rest[7]) if len(rest) >= 8 and rest[7] else None  # type: ignore[attr-defined]
            kind = int(rest[8]) if len(rest) == 9 else 0  # type: ignore[call-overload]
            if len(numbers) != 6 or len(rest) not in (6, 8, 9) or (group is not None and len(group) != 2):
                raise ValueError("not a member")
            mode, method, crc, compressed_size, size, offset = numbers
            pair = (group[0], group[1]) if group is not None else None
            return _Member(
                str(name).encode("utf-8"), mode, method, crc, compressed_size, size, offset, sites, pair, kind
            )

        try:
            members = tuple(member(*item) for item in index)
        except (TypeError, ValueError):
            return None
        return cls(data, members)


def join_blocks(blocks: Sequence[Block]) -> Block:
    """One block holding the members of ``blocks``, in order."""
    members: list[_Member] = []
    offset = 0
    for block in blocks:
        members += (replace(member, offset_in_block=member.offset_in_block + offset) for member in block.members)
        offset += len(block.data)
    return Block(b"".join(block.data for block in blocks), tuple(members))


def check_entry(entry: FileEntry) -> None:
    """Refuse what the stub would refuse (docs/format.md, Layers), naming the path."""
    parts = entry.path.rstrip("/").split("/") if stat.S_ISDIR(entry.mode) else entry.path.split("/")
    if not entry.path or "\\" in entry.path or "\0" in entry.path or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"{entry.path!r}: a name the launcher would refuse (empty, '.', '..', '\\' or NUL)")
    if stat.S_ISLNK(entry.mode):
        target = entry.data.decode("utf-8", "replace").split("/")
        leading = len(target) - len(list(itertools.dropwhile(lambda part: part == "..", target)))
        rest = target[leading:]
        if not rest or target[0] == "" or any(p in ("", ".", "..") for p in rest) or leading >= len(parts):
            raise ValueError(f"{entry.path!r}: a link to {entry.data!r} would leave the layer or is not plain")


def check_sites(entry: FileEntry) -> None:
    """Refuse patch sites the launcher would refuse (docs/format.md, Patch sites)."""
    if not entry.sites:
        return
    if not stat.S_ISREG(entry.mode) or len(entry.sites) > SITES_MAX:
        raise ValueError(f"{entry.path!r}: patch sites only on a regular file, {SITES_MAX} at most")
    ends = 0
    for offset, size in sorted(entry.sites):
        if offset < ends or not SITE_MIN_SIZE <= size <= SITE_MAX_SIZE or offset + size > len(entry.data):
            raise ValueError(f"{entry.path!r}: a patch site ({offset}, {size}) overlaps, is outside or badly sized")
        if not entry.data[offset:].startswith(SITE_TOKEN.encode()) or 0 not in entry.data[offset : offset + size]:
            raise ValueError(f"{entry.path!r}: the patch site at {offset} holds no NUL-terminated template")
        ends = offset + size


def dos_datetime(epoch: int) -> tuple[int, int]:
    """Return zip's (time, date) fields for a Unix time, clamped to 1980..2107."""
    year, month, day, hour, minute, second = time.gmtime(max(epoch, 315532800))[:6]
    year = min(year, 2107)
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day


class Store(Protocol):
    """Where compressed entries are remembered between builds (see _buildcache.BlobStore)."""

    def get_many(self, keys: Iterable[bytes]) -> dict[bytes, bytes]: ...
    def put_many(self, items: Mapping[bytes, bytes]) -> None: ...


#: Files of at most this size share zstd frames with their neighbours (groups); a bigger
#: one gains little from them and keeps a frame of its own (and its place in the build
#: cache of compressed files).
GROUP_MEMBER_MAX = 1 << 20
#: A group is closed once its members hold this much: one launcher thread decodes a group
#: from its start, so this is the unit the unpacking is shared out in.
GROUP_INPUT_MAX = 4 << 20


Progress = Callable[[int, int], None]  # (entries done, entries to do)


_ELF_X86_64 = b"\x7fELF\x02\x01"  # 64-bit, little-endian; then e_machine at 18
_EM_X86_64 = 62


def _filter_for(entry: FileEntry) -> int:
    """The filter that makes an entry's data compress better: x86 calls for x86-64 ELF files."""
    data = entry.data
    if not stat.S_ISREG(entry.mode) or len(data) < 64 or len(data) > FILTER_X86_SIZE_MAX:
        return 0
    if data.startswith(_ELF_X86_64) and _U16.unpack_from(data, 18)[0] == _EM_X86_64:
        return FILTER_X86_CALLS
    return 0


def _x86_calls(data: bytes, forward: bool) -> bytes:
    """spec.FILTER_X86_CALLS (``forward``) or its inverse: the value after each E8 byte, when
    in [-p, n), rotated by p (p: the offset after it, n: the size), so that calls to one
    function from many places carry one value."""
    out = bytearray(data)
    size = len(out)
    at = out.find(0xE8)
    while 0 <= at and at + 5 <= size:
        value = int.from_bytes(out[at + 1 : at + 5], "little", signed=True)
        after = at + 5
        if -after <= value < size:
            if forward:
                value = value + after if value < size - after else value - size
            else:
                value = value - after if value >= 0 else value + size
            out[at + 1 : at + 5] = value.to_bytes(4, "little", signed=True)
        at = out.find(0xE8, at + 5)
    return bytes(out)


def apply_filter(kind: int, data: bytes) -> bytes:
    """``data`` as the builder compresses it under filter ``kind`` (0: as it is)."""
    return _x86_calls(data, True) if kind == FILTER_X86_CALLS else data


def undo_filter(kind: int, data: bytes) -> bytes:
    """The file's bytes from its decoded data under filter ``kind`` (0: as they are)."""
    if kind == 0:
        return data
    if kind != FILTER_X86_CALLS:
        raise ValueError(f"unknown filter {kind}")
    return _x86_calls(data, False)


def _compressible(entry: FileEntry, level: int | None) -> bool:
    return level is not None and stat.S_ISREG(entry.mode) and len(entry.data) > 64


# A module's bytecode next to its source: X/__pycache__/Y.<tag>.pyc is X/Y.py compiled.
_CACHED_BYTECODE = re.compile(r"^(?P<directory>(?:.*/)?)__pycache__/(?P<name>[^/.]+)\.[^/]+\.pyc$")


def _grouping_order(entries: Sequence[FileEntry], candidates: Sequence[int]) -> list[list[int]]:
    """``candidates`` (indexes of entries) in runs that stay in one group: each alone, but
    a module's source with its ``__pycache__`` bytecode right after it, since the bytecode
    repeats the source's names and docstrings (numpy's .py and .pyc at level 10: -10 %
    together, docs/performance.md). A run is where its source is in ``candidates``."""
    sources = {entries[index].path: index for index in candidates if entries[index].path.endswith(".py")}
    compiled: dict[int, list[int]] = {}
    paired: set[int] = set()
    for index in candidates:
        match = _CACHED_BYTECODE.match(entries[index].path)
        source = sources.get(f"{match['directory']}{match['name']}.py") if match else None
        if source is not None:
            compiled.setdefault(source, []).append(index)
            paired.add(index)
    return [[index, *compiled.get(index, ())] for index in candidates if index not in paired]


def _groups(
    entries: Sequence[FileEntry], level: int | None, alone: Collection[str], apart: Collection[str] = ()
) -> list[list[int]]:
    """Indexes of the entries that share a frame, group by group, each in the order its
    frame holds them: regular files up to GROUP_MEMBER_MAX without patch sites, not named
    in ``alone``, in the order given except that a module's bytecode follows its source.
    The files in each directory of ``apart`` share frames only with each other."""
    candidates = [
        index
        for index, entry in enumerate(entries)
        if _compressible(entry, level)
        and not entry.sites
        and len(entry.data) <= GROUP_MEMBER_MAX
        and entry.path not in alone
    ]

    def side(index: int) -> str:
        return next((directory for directory in apart if entries[index].path.startswith(directory + "/")), "")

    groups: list[list[int]] = []
    for key in dict.fromkeys(map(side, candidates)):
        current: list[int] = []
        held = 0
        for run in _grouping_order(entries, [index for index in candidates if side(index) == key]):
            current += run
            held += sum(len(entries[index].data) for index in run)
            if held >= GROUP_INPUT_MAX:
                groups.append(current)
                current, held = [], 0
        groups.append(current)
    return [group for group in groups if len(group) > 1]


def _compressor(level: int, size: int) -> zstandard.ZstdCompressor:
    """A compressor for ``size`` bytes at ``level``, its window as WINDOW_LOG says."""
    if size <= 1 << WINDOW_LOG:  # the window fits the data anyway (and small data has its own tables)
        return zstandard.ZstdCompressor(level=level)
    window_log = WINDOW_LOG_BIG if size > BIG_FILE else WINDOW_LOG
    params = zstandard.ZstdCompressionParameters.from_level(level)
    return zstandard.ZstdCompressor(
        compression_params=zstandard.ZstdCompressionParameters.from_level(
            level, window_log=min(params.window_log, window_log, ZSTD_WINDOW_LOG_MAX)
        )
    )


def _compress_group(datas: Sequence[bytes], level: int) -> list[bytes]:
    """One zstd frame for all of ``datas``, cut after each: the blocks of each one."""
    # The frame says its size, as a single file's does: a group smaller than the window
    # gets a window (and a decoding buffer) of its own size.
    frame = _compressor(level, sum(map(len, datas))).compressobj(size=sum(map(len, datas)))
    parts = []
    for index, data in enumerate(datas):
        last = index == len(datas) - 1
        flush = zstandard.COMPRESSOBJ_FLUSH_FINISH if last else zstandard.COMPRESSOBJ_FLUSH_BLOCK
        parts.append(frame.compress(data) + frame.flush(flush))
    return parts


def decode_group(parts: Sequence[bytes], sizes: Sequence[int]) -> list[bytes]:
    """The files of a group, from its members' data (in order) and sizes."""
    frame = zstandard.ZstdDecompressor().decompressobj()
    files = [frame.decompress(part) for part in parts]
    if [len(data) for data in files] != list(sizes) or not frame.eof:
        raise ValueError("a damaged group of entries")
    return files


# An entry's encoding: zip method, data, (index, count) in its group (a group member), filter.
_Packed = tuple[int, bytes, "tuple[int, int] | None", int]


def _pack(
    entries: Sequence[FileEntry],
    groups: Sequence[list[int]],
    level: int | None,
    store: Store | None,
    threads: int,
    progress: Progress | None,
) -> list[_Packed]:
    """How each entry is encoded: in a group of small files sharing a zstd frame (``groups``,
    from _groups), else one zstd frame per entry when it saves space, else stored. Frames
    of single entries are looked up in, and added to, ``store``."""
    grouped = {index for group in groups for index in group}
    filters = {index: kind for index, entry in enumerate(entries) if level is not None and (kind := _filter_for(entry))}
    sources = {index: apply_filter(kind, entries[index].data) for index, kind in filters.items()}

    def source(index: int) -> bytes:
        """What is compressed for entry ``index``: its data, filtered where that helps."""
        return sources.get(index, entries[index].data)

    keys = {
        index: COMPRESSED.prefixed(source(index), level)
        for index, entry in enumerate(entries)
        if _compressible(entry, level) and index not in grouped
    }
    known = store.get_many(keys.values()) if store is not None else {}
    todo: list[list[int]] = [[index] for index, key in keys.items() if key not in known] + list(groups)
    effective = min(level or 3, MAX_ZSTD_LEVEL)

    def compress(indexes: list[int]) -> list[bytes]:
        if len(indexes) == 1:
            data = source(indexes[0])
            return [_compressor(effective, len(data)).compress(data)]
        return _compress_group([source(index) for index in indexes], effective)

    fresh: dict[int, bytes] = {}
    packed: dict[int, _Packed] = {}
    total = sum(len(indexes) for indexes in todo)
    done = 0
    with ThreadPoolExecutor(max_workers=threads or None) as pool:
        for indexes, payloads in zip(todo, pool.map(compress, todo), strict=True):
            if len(indexes) == 1 and indexes[0] not in grouped:
                fresh[indexes[0]] = payloads[0]
            elif sum(map(len, payloads)) < sum(len(entries[index].data) for index in indexes):
                for place, (index, payload) in enumerate(zip(indexes, payloads, strict=True)):
                    packed[index] = (METHOD_ZSTD_GROUP, payload, (place, len(indexes)), filters.get(index, 0))
            else:  # nothing to gain: these entries are stored
                grouped.difference_update(indexes)
            previous, done = done, done + len(indexes)
            if progress is not None and (done // 100 > previous // 100 or done == total):
                progress(done, total)
    if store is not None:
        store.put_many({keys[index]: payload for index, payload in fresh.items()})
    for index, entry in enumerate(entries):
        if index in packed:
            continue
        compressed = fresh.get(index) or (known.get(keys[index]) if index in keys else None)
        if compressed is not None and len(compressed) < len(entry.data):
            packed[index] = (METHOD_ZSTD, compressed, None, filters.get(index, 0))
        else:  # stored as it is, unfiltered
            packed[index] = (METHOD_STORED, entry.data, None, 0)
    return [packed[index] for index in range(len(entries))]


def _layer_order(packed: Sequence[_Packed], groups: Sequence[Sequence[int]]) -> list[int]:
    """Entries in the order given, except that a group's members come together, in the
    order of its frame, where the earliest of them is (a group whose files were stored
    instead, _pack's choice, is no group)."""
    first = {min(group): group for group in groups if packed[group[0]][2] is not None}
    order: list[int] = []
    for index, (_, _, place, _) in enumerate(packed):
        if place is None:
            order.append(index)
        elif index in first:
            order += first[index]
    return order


def encode_block(
    entries: Sequence[FileEntry],
    prefix: str,
    *,
    level: int | None,
    epoch: int,
    threads: int = 0,
    store: Store | None = None,
    progress: Progress | None = None,
    alone: Collection[str] = (),
    apart: Collection[str] = (),
) -> Block:
    """Encode ``entries`` as zip local entries named ``prefix + path``, in the order given
    except that the members of a group (small files sharing a zstd frame) come together,
    where the earliest of them is; a module's ``__pycache__`` bytecode follows its source
    in a group.

    ``level`` is the zstd level; ``None`` stores every entry (zipimport reads only those).
    Entries whose path is in ``alone`` get a frame of their own (the launcher reads them
    by themselves: the manifest); the files under a directory in ``apart`` share frames
    only with each other (the launcher may unpack that directory, or all but it, alone).
    Compressed payloads of single entries are looked up in, and added to, ``store``;
    ``progress`` hears how far compression has come.
    """
    dos_time, dos_date = dos_datetime(epoch)
    for entry in entries:
        check_entry(entry)
        check_sites(entry)
        if len(entry.data) > MAX_ENTRY_SIZE:
            raise ValueError(f"{entry.path}: files of 4 GiB or more are not supported")
    groups = _groups(entries, level, alone, apart)
    packed = _pack(entries, groups, level, store, threads, progress)
    chunks: list[bytes] = []
    members: list[_Member] = []
    offset = 0
    for index in _layer_order(packed, groups):
        entry, (method, payload, group, kind) = entries[index], packed[index]
        path = entry.path + "/" if stat.S_ISDIR(entry.mode) and not entry.path.endswith("/") else entry.path
        name = (prefix + path).encode("utf-8")
        flags = FLAG_UTF8 if not name.isascii() else 0
        crc = zlib.crc32(entry.data)
        extra = _EXTRA_MODE.pack(EXTRA_MODE_ID, 4, entry.mode)
        if entry.sites:
            extra += _EXTRA_HEADER.pack(ZIP_EXTRA_SITES_ID, ZIP_EXTRA_SITE_SIZE * len(entry.sites))
            extra += b"".join(_SITE.pack(*site) for site in entry.sites)
        if group is not None:
            extra += _EXTRA_HEADER.pack(ZIP_EXTRA_GROUP_ID, ZIP_EXTRA_GROUP_SIZE) + _GROUP.pack(*group)
        if kind:
            extra += _EXTRA_HEADER.pack(ZIP_EXTRA_FILTER_ID, ZIP_EXTRA_FILTER_SIZE) + _U32.pack(kind)
        header = _LOCAL_HEADER.pack(
            0x04034B50,
            20 if method == METHOD_STORED else 63,
            flags,
            method,
            dos_time,
            dos_date,
            crc,
            len(payload),
            len(entry.data),
            len(name),
            len(extra),
        )
        members.append(
            _Member(name, entry.mode, method, crc, len(payload), len(entry.data), offset, entry.sites, group, kind)
        )
        chunks += (header, name, extra, payload)
        offset += len(header) + len(name) + len(extra) + len(payload)
    return Block(b"".join(chunks), tuple(members))


def _central_directory(blocks: Iterable[tuple[int, Block]], epoch: int) -> tuple[bytes, int]:
    dos_time, dos_date = dos_datetime(epoch)
    records: list[bytes] = []
    count = 0
    for block_offset, block in blocks:
        for member in block.members:
            offset = block_offset + member.offset_in_block
            if offset > MAX_ENTRY_SIZE:
                raise ValueError("binaries of 4 GiB or more are not supported")
            flags = FLAG_UTF8 if not member.name.isascii() else 0
            extra = _EXTRA_MODE.pack(EXTRA_MODE_ID, 4, member.mode)
            records += (
                _CENTRAL_HEADER.pack(
                    0x02014B50,
                    MADE_BY_UNIX,
                    20 if member.method == METHOD_STORED else 63,
                    flags,
                    member.method,
                    dos_time,
                    dos_date,
                    member.crc,
                    member.compressed_size,
                    member.size,
                    len(member.name),
                    len(extra),
                    0,
                    0,
                    0,
                    member.mode << 16,
                    offset,
                ),
                member.name,
                extra,
            )
            count += 1
    return b"".join(records), count


def app_key(runtime: Block, app: Block) -> bytes:
    """The app directory's identity: it depends on the runtime it points at, too."""
    return hashlib.sha256(runtime.sha256 + app.sha256).digest()


def app_id(project: str, entry_point: str) -> bytes:
    """The same for every version of one app (project and entry point), unlike the app key."""
    return hashlib.sha256(f"{project}\0{entry_point}".encode()).digest()


@dataclass(frozen=True)
class Needs:
    """What the target must have, for the launcher to check before it unpacks."""

    glibc_bitmap: bytes = bytes(GLIBC_BITMAP_SIZE)  # bit y: GLIBC_2.y is asked for (glibc.trailer_bitmap)
    app_id: bytes = bytes(SHA256_DIGEST_SIZE)  # see app_id()
    bundled_glibc: bool = False  # the runtime layer carries a glibc in libc/
    kernel: tuple[int, int] = (0, 0)  # the oldest Linux that glibc runs on; (0, 0): no check

    @property
    def libc(self) -> int:
        if self.bundled_glibc:
            return LIBC_GLIBC_BUNDLED
        return LIBC_GLIBC if any(self.glibc_bitmap) else LIBC_NONE


def encode_trailer(runtime_offset: int, runtime: Block, app_offset: int, app: Block, needs: Needs) -> bytes:
    """The trailer, field by field at spec's offsets (what is not written stays zero)."""
    trailer = bytearray(TRAILER_SIZE)
    _U32.pack_into(trailer, TRAILER_VERSION_AT, FORMAT_VERSION)
    _U32.pack_into(trailer, TRAILER_SIZE_AT, TRAILER_SIZE)
    for index, (offset, block) in enumerate(((runtime_offset, runtime), (app_offset, app))):
        record = (offset, len(block.data), len(block.members), block.unpacked_size, block.sha256)
        _LAYER_RECORD.pack_into(trailer, TRAILER_LAYERS_AT + index * LAYER_RECORD_SIZE, *record)
    trailer[TRAILER_APP_KEY_AT : TRAILER_APP_KEY_AT + SHA256_DIGEST_SIZE] = app_key(runtime, app)
    _U16.pack_into(trailer, TRAILER_LIBC_AT, needs.libc)
    trailer[TRAILER_GLIBC_AT : TRAILER_GLIBC_AT + GLIBC_BITMAP_SIZE] = needs.glibc_bitmap
    trailer[TRAILER_APP_ID_AT : TRAILER_APP_ID_AT + SHA256_DIGEST_SIZE] = needs.app_id
    _U16.pack_into(trailer, TRAILER_KERNEL_AT, needs.kernel[0])
    _U16.pack_into(trailer, TRAILER_KERNEL_AT + 2, needs.kernel[1])
    trailer[TRAILER_MAGIC_AT:] = MAGIC
    return bytes(trailer)


def write_binary(
    out: BinaryIO, stub: bytes, runtime: Block, app: Block, zipapp: Block, *, epoch: int, needs: Needs = Needs()
) -> None:
    """Write ``[stub][runtime][app][zipapp entries][central directory][EOCD + trailer]``."""
    runtime_offset = len(stub)
    app_offset = runtime_offset + len(runtime.data)
    zipapp_offset = app_offset + len(app.data)
    directory_offset = zipapp_offset + len(zipapp.data)
    directory, count = _central_directory(
        ((runtime_offset, runtime), (app_offset, app), (zipapp_offset, zipapp)), epoch
    )
    for part in (stub, runtime.data, app.data, zipapp.data, directory):
        out.write(part)
    if count > 0xFFFF:
        zip64_offset = directory_offset + len(directory)
        out.write(_ZIP64_EOCD.pack(0x06064B50, 44, 45, 45, 0, 0, count, count, len(directory), directory_offset))
        out.write(_ZIP64_LOCATOR.pack(0x07064B50, 0, zip64_offset, 1))
    out.write(
        _EOCD.pack(
            0x06054B50,
            0,
            0,
            min(count, 0xFFFF),
            min(count, 0xFFFF),
            len(directory),
            directory_offset,
            TRAILER_SIZE,
        )
    )
    out.write(encode_trailer(runtime_offset, runtime, app_offset, app, needs))


@dataclass(frozen=True)
class LayerInfo:
    offset: int
    size: int
    entry_count: int
    unpacked_size: int
    sha256: bytes


@dataclass(frozen=True)
class Trailer:
    version: int
    runtime: LayerInfo
    app: LayerInfo
    app_key: bytes
    libc: int = LIBC_NONE
    glibc_bitmap: bytes = bytes(GLIBC_BITMAP_SIZE)
    app_id: bytes = bytes(SHA256_DIGEST_SIZE)
    kernel: tuple[int, int] = (0, 0)


def read_trailer(path: str) -> Trailer:
    """Read and check the trailer of a built binary (for ``inspect`` and tests)."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        if size < _V1_TRAILER_SIZE:
            raise ValueError(f"{path}: too small to be a onefile binary")
        f.seek(size - min(size, TRAILER_SIZE))
        tail = f.read(TRAILER_SIZE)
    if tail[-8:] != MAGIC:
        raise ValueError(f"{path}: not a onefile binary (no trailer)")
    # The version and size sit at the trailer's start, which depends on the version.
    # Versions 2 to 4 have version 5's trailer (3 added patch sites to the entries, 4 groups,
    # 5 filters).
    versions = (
        (FORMAT_VERSION, TRAILER_SIZE), (4, TRAILER_SIZE), (3, TRAILER_SIZE), (2, TRAILER_SIZE), (1, _V1_TRAILER_SIZE)
    )  # fmt: skip
    for version, trailer_size in versions:
        raw = tail[-trailer_size:]
        if len(raw) == trailer_size and (
            _U32.unpack_from(raw, TRAILER_VERSION_AT)[0],
            _U32.unpack_from(raw, TRAILER_SIZE_AT)[0],
        ) == (version, trailer_size):
            break
    else:
        raise ValueError(f"{path}: this format version is not supported (onefile-backend reads 1 to 4)")
    at = [TRAILER_LAYERS_AT + LAYER_RECORD_SIZE * index for index in range(LAYER_COUNT)]
    runtime, app = (LayerInfo(*_LAYER_RECORD.unpack_from(raw, offset)) for offset in at)
    key = raw[TRAILER_APP_KEY_AT : TRAILER_APP_KEY_AT + SHA256_DIGEST_SIZE]
    if version == 1:
        return Trailer(version, runtime, app, key)
    libc = _U16.unpack_from(raw, TRAILER_LIBC_AT)[0]
    bitmap = raw[TRAILER_GLIBC_AT : TRAILER_GLIBC_AT + GLIBC_BITMAP_SIZE]
    identity = raw[TRAILER_APP_ID_AT : TRAILER_APP_ID_AT + SHA256_DIGEST_SIZE]
    kernel = (_U16.unpack_from(raw, TRAILER_KERNEL_AT)[0], _U16.unpack_from(raw, TRAILER_KERNEL_AT + 2)[0])
    return Trailer(version, runtime, app, key, libc, bitmap, identity, kernel)
