"""The writer side of the binary format, checked against zip tools and the spec."""

import ast
import io
import itertools
import json
import random
import re
import struct
import zipfile

import pytest
import zstandard
from conftest import REPO

from onefile_backend.format import layers as fmt
from onefile_backend.format import spec
from onefile_backend.format.layers import Block


def _binary(entries_runtime, entries_app):
    runtime = fmt.encode_block(entries_runtime, fmt.PREFIX_RUNTIME, level=3, epoch=0)
    app = fmt.encode_block(entries_app, fmt.PREFIX_APP, level=3, epoch=0)
    main = fmt.encode_block([fmt.FileEntry("__main__.py", fmt.MODE_FILE, b"print(1)\n" * 20)], "", level=None, epoch=0)
    out = io.BytesIO()
    fmt.write_binary(out, b"\x7fELF-stub", runtime, app, main, epoch=0)
    return out.getvalue(), runtime, app


def test_binary_is_a_zip_listing_every_entry_with_its_mode():
    data, _, _ = _binary(
        [fmt.FileEntry("bin/python3", fmt.MODE_EXECUTABLE, b"x" * 1000)],
        [
            fmt.FileEntry("lib/a.py", fmt.MODE_FILE, b"print('a')\n" * 50),
            fmt.FileEntry("lib/b", fmt.MODE_SYMLINK, b"a.py"),
        ],
    )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        assert list(infos) == ["runtime/bin/python3", "app/lib/a.py", "app/lib/b", "__main__.py"]
        assert infos["runtime/bin/python3"].external_attr >> 16 == fmt.MODE_EXECUTABLE
        assert infos["app/lib/b"].external_attr >> 16 == fmt.MODE_SYMLINK
        assert archive.read("__main__.py") == b"print(1)\n" * 20  # stored: zipimport can run it
        assert infos["runtime/bin/python3"].compress_type == fmt.METHOD_ZSTD


def test_trailer_points_at_each_layer_and_hashes_it(tmp_path):
    data, runtime, app = _binary(
        [fmt.FileEntry("bin/python3", fmt.MODE_EXECUTABLE, b"py")],
        [fmt.FileEntry("onefile.json", fmt.MODE_FILE, b"{}")],
    )
    path = tmp_path / "binary"
    path.write_bytes(data)
    trailer = fmt.read_trailer(str(path))
    assert data[-8:] == fmt.MAGIC and len(data) >= fmt.TRAILER_SIZE
    assert data[trailer.runtime.offset : trailer.runtime.offset + trailer.runtime.size] == runtime.data
    assert data[trailer.app.offset : trailer.app.offset + trailer.app.size] == app.data
    assert trailer.runtime.sha256 == runtime.sha256 and trailer.app.sha256 == app.sha256
    assert trailer.app_key == fmt.app_key(runtime, app)
    assert trailer.runtime.entry_count == 1 and trailer.app.unpacked_size == 2


def test_same_input_same_bytes():
    entries = [fmt.FileEntry(f"f{i}", fmt.MODE_FILE, bytes([i]) * 500) for i in range(20)]
    assert _binary(entries, entries)[0] == _binary(entries, entries)[0]


def test_layer_bytes_do_not_depend_on_position():
    entries = [fmt.FileEntry("x", fmt.MODE_FILE, b"same")]
    first = fmt.encode_block(entries, fmt.PREFIX_APP, level=3, epoch=0)
    second = fmt.encode_block(entries, fmt.PREFIX_APP, level=3, epoch=0)
    assert first.sha256 == second.sha256


def test_dos_datetime_clamps_before_1980():
    assert fmt.dos_datetime(0) == fmt.dos_datetime(315532800) == (0, (0 << 9) | (1 << 5) | 1)


def test_joined_blocks_and_a_block_less_some_members_encode_as_if_built_so():
    a, b, c = (fmt.FileEntry(name, fmt.MODE_FILE, name.encode() * 100) for name in ("a", "b", "c"))

    def block(*entries, level=3):
        return fmt.encode_block(list(entries), fmt.PREFIX_APP, level=level, epoch=0)

    assert fmt.join_blocks([block(a, level=None), block(b, c, level=None)]) == block(a, b, c, level=None)
    assert block(a, b, c).without({b"app/b"}, level=3, epoch=0) == block(a, c)  # the group made again
    assert block(a, b, c).without({b"app/a", b"app/c"}, level=3, epoch=0) == block(b)
    assert block(a, b).without({b"app/x"}, level=3, epoch=0) == block(a, b)
    big = fmt.FileEntry("big", fmt.MODE_FILE, bytes(range(256)) * (fmt.GROUP_MEMBER_MAX // 256 + 1))
    kept = block(a, b, big)  # the group (a, b) stays as it is when a file outside it goes
    assert kept.without({b"app/big"}, level=3, epoch=0) == block(a, b)


# ---- groups: small files sharing one zstd frame (format 4) ----


def _files(block):
    """name -> content of every member, groups decoded from their start."""
    files, group = {}, []
    for member in block.members:
        if member.group is None:
            payload = block.payload(member)
            files[member.name] = (
                fmt.undo_filter(
                    member.filter, zstandard.ZstdDecompressor().decompress(payload, max_output_size=member.size)
                )
                if member.method == fmt.METHOD_ZSTD
                else payload
            )
            continue
        group.append(member)
        if member.group[0] + 1 == member.group[1]:
            datas = fmt.decode_group([block.payload(m) for m in group], [m.size for m in group])
            files.update((m.name, fmt.undo_filter(m.filter, d)) for m, d in zip(group, datas, strict=True))
            group = []
    return files


def test_small_files_share_frames_and_decode_to_what_went_in():
    text = [fmt.FileEntry(f"m{i}.py", fmt.MODE_FILE, f"import os\nvalue = {i}\n".encode() * 20) for i in range(30)]
    sited = fmt.FileEntry(
        "bin/python3", fmt.MODE_EXECUTABLE, b"@RUNTIME@/lib".ljust(32, b"\0") + b"x" * 200, ((0, 32),)
    )
    big = fmt.FileEntry("lib.so", fmt.MODE_FILE, bytes(range(256)) * (fmt.GROUP_MEMBER_MAX // 256 + 1))
    link = fmt.FileEntry("link", fmt.MODE_SYMLINK, b"m0.py")
    manifest = fmt.FileEntry("onefile.json", fmt.MODE_FILE, b'{"python": "3"}' * 10)
    entries = [*text[:10], sited, link, big, manifest, *text[10:]]
    block = fmt.encode_block(entries, fmt.PREFIX_APP, level=3, epoch=0, alone={"onefile.json"})
    by_name = {m.name: m for m in block.members}
    grouped = [m for m in block.members if m.group is not None]
    assert [m.group for m in grouped] == [(i, 30) for i in range(30)]  # one group, its members in a row
    assert all(m.method == fmt.METHOD_ZSTD_GROUP for m in grouped)
    assert [m.name for m in block.members][:30] == [b"app/" + e.path.encode() for e in text]
    for name in (b"app/bin/python3", b"app/lib.so", b"app/link", b"app/onefile.json"):
        assert by_name[name].group is None, name
    assert _files(block) == {b"app/" + e.path.encode(): e.data for e in entries}
    assert sum(m.compressed_size for m in grouped) < sum(
        len(zstandard.ZstdCompressor(level=3).compress(e.data)) for e in text
    )
    assert Block.from_json(json.loads(json.dumps(block.to_json())), block.data) == block


def test_files_of_a_directory_apart_share_frames_only_with_each_other():
    """The launcher unpacks the runtime's libc/ alone, or all but it (docs/portability.md):
    neither part then decodes a frame of the other."""
    text = [f"import os\nvalue = {i}\n".encode() * 20 for i in range(8)]
    paths = ["a.py", "libc/lib/x.so", "b.py", "libc/locale/y", "libcx.py", "libc/z", "c.py", "d.py"]
    entries = [fmt.FileEntry(path, fmt.MODE_FILE, data) for path, data in zip(paths, text, strict=True)]
    block = fmt.encode_block(entries, fmt.PREFIX_APP, level=3, epoch=0, apart={"libc"})
    groups: dict[int, list[bytes]] = {}
    start = 0
    for index, member in enumerate(block.members):
        if member.group is not None:
            start = index if member.group[0] == 0 else start
            groups.setdefault(start, []).append(member.name)
    sides = [{name.startswith(b"app/libc/") for name in names} for names in groups.values()]
    assert sorted(map(len, groups.values())) == [3, 5] and all(len(side) == 1 for side in sides), groups
    assert _files(block) == {b"app/" + e.path.encode(): e.data for e in entries}
    mixed = fmt.encode_block(entries, fmt.PREFIX_APP, level=3, epoch=0)
    assert [m.group for m in mixed.members if m.group] == [(i, 8) for i in range(8)]  # one group without it


def test_frames_say_their_size_and_use_windows_of_at_most_2_mib():
    """The launcher's decoder allocates (and faults in, page by page) a buffer of a frame's
    window for every file it can't decode in one piece: a group (a few MiB) or a file over
    1 MiB. Frames give their size and use windows of at most 2 MiB, not the level's 8."""
    text = "".join(f"value_{j} = {j * j}\n" for j in range(400_000)).encode()
    files = [fmt.FileEntry(f"m{i}.py", fmt.MODE_FILE, text[i * 200_000 : (i + 1) * 200_000]) for i in range(10)]
    files.append(fmt.FileEntry("lib.so", fmt.MODE_FILE, text[:5_000_000]))
    block = fmt.encode_block(files, fmt.PREFIX_APP, level=19, epoch=0)
    group = zstandard.get_frame_parameters(block.payload(next(m for m in block.members if m.group == (0, 10))))
    assert group.content_size == 10 * 200_000 and group.window_size <= group.content_size
    alone = zstandard.get_frame_parameters(block.payload(next(m for m in block.members if m.name == b"app/lib.so")))
    assert alone.content_size == 5_000_000 and alone.window_size == 1 << fmt.WINDOW_LOG == 2 << 20
    assert _files(block) == {b"app/" + e.path.encode(): e.data for e in files}


def test_a_group_closes_once_it_holds_group_input_max():
    size = fmt.GROUP_MEMBER_MAX  # four of them fill a group
    assert fmt.GROUP_INPUT_MAX == 4 * size
    entries = [fmt.FileEntry(f"f{i}", fmt.MODE_FILE, bytes([i]) * size) for i in range(9)]
    block = fmt.encode_block(entries, fmt.PREFIX_APP, level=1, epoch=0)
    assert [m.group for m in block.members] == [(i, 4) for i in range(4)] * 2 + [None]
    assert _files(block) == {b"app/" + e.path.encode(): e.data for e in entries}


def test_a_modules_bytecode_follows_its_source_in_its_group():
    def module(path, size=2000):
        return fmt.FileEntry(path, fmt.MODE_FILE, (f'"""{path}: what it does."""\n'.encode() * size)[:size])

    paths = [  # sorted, as an install lists them: __pycache__/ before the sources beside it
        "pkg/__init__.py",
        "pkg/__pycache__/__init__.cpython-311.pyc",
        "pkg/__pycache__/big.cpython-311.pyc",
        "pkg/__pycache__/core.cpython-311.opt-1.pyc",
        "pkg/__pycache__/core.cpython-311.pyc",
        "pkg/__pycache__/gone.cpython-311.pyc",  # no source: stays where it is
        "pkg/core.py",
        "pkg/data.json",
        "pkg/util.py",  # no bytecode
    ]
    big = module("pkg/big.py", fmt.GROUP_MEMBER_MAX + 1)  # a frame of its own: its bytecode stays
    entries = [module(path) for path in paths[:6]] + [big] + [module(path) for path in paths[6:]]
    block = fmt.encode_block(entries, "", level=3, epoch=0)
    assert [m.name.decode() for m in block.members] == [
        "pkg/__init__.py",
        "pkg/__pycache__/__init__.cpython-311.pyc",
        "pkg/__pycache__/big.cpython-311.pyc",
        "pkg/__pycache__/gone.cpython-311.pyc",
        "pkg/core.py",
        "pkg/__pycache__/core.cpython-311.opt-1.pyc",
        "pkg/__pycache__/core.cpython-311.pyc",
        "pkg/data.json",
        "pkg/util.py",
        "pkg/big.py",  # after the group, which came together where its earliest member is
    ]
    assert [m.group for m in block.members] == [(i, 9) for i in range(9)] + [None]
    assert _files(block) == {e.path.encode(): e.data for e in entries}
    assert fmt.encode_block(entries, "", level=3, epoch=0) == block  # the same bytes every time


def test_a_group_whose_earliest_member_comes_late_in_its_frame_comes_together_there():
    entries = [
        fmt.FileEntry("a/__pycache__/m.cpython-311.pyc", fmt.MODE_FILE, b"bytecode of m " * 40),
        fmt.FileEntry("a/link", fmt.MODE_SYMLINK, b"m.py"),
        fmt.FileEntry("a/m.py", fmt.MODE_FILE, b"source of m " * 40),
        fmt.FileEntry("b.txt", fmt.MODE_FILE, b"b" * 10),  # too small to compress: stored, in its place
    ]
    block = fmt.encode_block(entries, "", level=3, epoch=0)
    names = [m.name.decode() for m in block.members]
    assert names == ["a/m.py", "a/__pycache__/m.cpython-311.pyc", "a/link", "b.txt"]
    assert _files(block) == {e.path.encode(): e.data for e in entries}


def test_the_zip_directory_lists_group_members_with_their_method(tmp_path):
    entries = [fmt.FileEntry(f"m{i}.py", fmt.MODE_FILE, b"print('same')\n" * 20) for i in range(3)]
    data, _, _ = _binary([fmt.FileEntry("bin/python3", fmt.MODE_EXECUTABLE, b"py")], entries)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        assert {infos[f"app/m{i}.py"].compress_type for i in range(3)} == {fmt.METHOD_ZSTD_GROUP}
        assert infos["app/m1.py"].file_size == len(entries[1].data)


# ---- the format's constants: spec.py and stub/of_format.h say the same ----

_DEFINE = re.compile(r"^#define (OF_[A-Z0-9_]+) (.+?)\s*(/\*.*)?$")


def _header_values() -> dict[str, object]:
    """Every ``#define OF_X value`` of stub/of_format.h, evaluated as C would."""
    values: dict[str, object] = {}
    for line in (REPO / "stub" / "of_format.h").read_text().splitlines():
        match = _DEFINE.match(line)
        if not match or match[1] == "OF_FORMAT_H":
            continue
        text = re.sub(r"\b(0x[0-9a-fA-F]+|\d+)u\b", r"\1", match[2])  # unsigned suffixes
        text = re.sub(r"\b0([0-7]+)\b", r"0o\1", text)  # C octal
        if text.startswith('"'):
            values[match[1]] = ast.literal_eval(text)
        else:
            values[match[1]] = eval(text, {"__builtins__": {}}, dict(values))  # our own header's arithmetic
    return values


def test_every_launcher_constant_is_the_writers() -> None:
    header = _header_values()
    python = {f"OF_{name}": value for name, value in vars(spec).items() if name.isupper()}
    python["OF_MAGIC"] = spec.MAGIC.decode("latin-1")  # a C string literal
    assert sorted(set(header) - set(python)) == [], "defined in of_format.h but not in format/spec.py"
    assert sorted(set(python) - set(header)) == [], "declared in format/spec.py but not in of_format.h"
    assert {name: python[name] for name in header} == header


def test_the_trailer_fields_tile_the_trailer() -> None:
    fields = [
        (spec.TRAILER_VERSION_AT, 4),
        (spec.TRAILER_SIZE_AT, 4),
        (spec.TRAILER_LAYERS_AT, spec.LAYER_COUNT * spec.LAYER_RECORD_SIZE),
        (spec.TRAILER_APP_KEY_AT, spec.SHA256_DIGEST_SIZE),
        (spec.TRAILER_LIBC_AT, 4),
        (spec.TRAILER_GLIBC_AT, spec.GLIBC_BITMAP_SIZE),
        (spec.TRAILER_APP_ID_AT, spec.SHA256_DIGEST_SIZE),
        (spec.TRAILER_KERNEL_AT, 4),
        (spec.TRAILER_RESERVED_AT, 28),
        (spec.TRAILER_MAGIC_AT, spec.MAGIC_SIZE),
    ]
    assert [at for at, _ in fields] == list(itertools.accumulate([0] + [size for _, size in fields[:-1]]))
    assert (
        fields[-1][0] + fields[-1][1] == spec.TRAILER_SIZE == len(fmt.encode_trailer(0, _EMPTY, 0, _EMPTY, fmt.Needs()))
    )
    record = [spec.LAYER_OFFSET_AT, spec.LAYER_SIZE_AT, spec.LAYER_ENTRY_COUNT_AT, spec.LAYER_UNPACKED_SIZE_AT]
    assert record == [0, 8, 16, 24] and spec.LAYER_SHA256_AT + spec.SHA256_DIGEST_SIZE == spec.LAYER_RECORD_SIZE


def test_the_writer_puts_each_field_where_the_launcher_reads_it() -> None:
    runtime = fmt.encode_block(
        [fmt.FileEntry("bin/python3", fmt.MODE_EXECUTABLE, b"r" * 300)], fmt.PREFIX_RUNTIME, level=3, epoch=0
    )
    app = fmt.encode_block([fmt.FileEntry("a.py", fmt.MODE_FILE, b"a" * 300)] * 1, fmt.PREFIX_APP, level=3, epoch=0)
    needs = fmt.Needs(bytes(range(1, 13)), bytes(range(32, 64)), kernel=(3, 2))
    raw = fmt.encode_trailer(1000, runtime, 5000, app, needs)
    u32 = lambda at: struct.unpack_from("<I", raw, at)[0]  # noqa: E731
    u64 = lambda at: struct.unpack_from("<Q", raw, at)[0]  # noqa: E731
    assert (u32(spec.TRAILER_VERSION_AT), u32(spec.TRAILER_SIZE_AT)) == (spec.FORMAT_VERSION, spec.TRAILER_SIZE)
    app_record = spec.TRAILER_LAYERS_AT + spec.LAYER_APP * spec.LAYER_RECORD_SIZE
    assert u64(app_record + spec.LAYER_OFFSET_AT) == 5000
    assert u64(app_record + spec.LAYER_SIZE_AT) == len(app.data)
    assert u64(app_record + spec.LAYER_ENTRY_COUNT_AT) == 1
    assert raw[app_record + spec.LAYER_SHA256_AT :][:32] == app.sha256
    assert u64(spec.TRAILER_LAYERS_AT + spec.LAYER_OFFSET_AT) == 1000
    assert struct.unpack_from("<H", raw, spec.TRAILER_LIBC_AT)[0] == spec.LIBC_GLIBC
    assert raw[spec.TRAILER_GLIBC_AT :][: spec.GLIBC_BITMAP_SIZE] == needs.glibc_bitmap
    assert raw[spec.TRAILER_APP_ID_AT :][:32] == needs.app_id
    assert struct.unpack_from("<HH", raw, spec.TRAILER_KERNEL_AT) == (3, 2)
    assert raw[spec.TRAILER_RESERVED_AT : spec.TRAILER_MAGIC_AT] == bytes(28)
    assert raw[spec.TRAILER_MAGIC_AT :] == spec.MAGIC


_EMPTY = fmt.Block(b"", ())


# ---- patch sites (docs/format.md, Patch sites) ----


def test_a_patch_site_is_recorded_after_the_mode_and_holds_the_template() -> None:
    from onefile_backend.format import sites

    text = sites.placeholder("rpath", 64)
    data, site = sites.template_site(b"head" + text.encode() + b"\0tail", text, "@RUNTIME@/lib")
    assert site == (4, 64) and data[4:17] == b"@RUNTIME@/lib" and data[17:68] == bytes(51)
    block = fmt.encode_block(
        [fmt.FileEntry("bin/python3", fmt.MODE_EXECUTABLE, data, (site,))], "runtime/", level=3, epoch=0
    )
    name_length, extra_length = struct.unpack_from("<HH", block.data, spec.ZIP_LOCAL_NAME_LENGTH_AT)
    extra = block.data[spec.ZIP_LOCAL_HEADER_SIZE + name_length :][:extra_length]
    assert struct.unpack("<HHI", extra[: spec.ZIP_EXTRA_SIZE]) == (spec.ZIP_EXTRA_MODE_ID, 4, fmt.MODE_EXECUTABLE)
    assert struct.unpack("<HHII", extra[spec.ZIP_EXTRA_SIZE :]) == (spec.ZIP_EXTRA_SITES_ID, 8, 4, 64)
    assert fmt.Block.from_json(block.to_json(), block.data) == block  # the build cache keeps the sites
    assert sites.expand_sites(data, (site,), "/c/runtime/k")[4:68] == b"/c/runtime/k/lib".ljust(64, b"\0")


def test_patch_sites_the_launcher_would_refuse_are_refused() -> None:
    data = b"@RUNTIME@/lib".ljust(32, b"\0")
    for sites in [((0, 8),), ((40, 32),), ((1, 16),), ((0, 16), (8, 16)), ((0, 16),) * 5]:
        entry = fmt.FileEntry("bin/python3", fmt.MODE_FILE, data * 2, sites)
        try:
            fmt.encode_block([entry], "runtime/", level=3, epoch=0)
        except ValueError:
            continue
        raise AssertionError(f"{sites} accepted")
    link = fmt.FileEntry("bin/python", fmt.MODE_SYMLINK, b"python3", ((0, 16),))
    try:
        fmt.encode_block([link], "runtime/", level=3, epoch=0)
    except ValueError:
        return
    raise AssertionError("a site on a link accepted")


# ---- filters: x86-64 code compressed with its calls' targets made absolute (format 5) ----


def _code(size: int, seed: int, machine: int = 62) -> bytes:
    """An ELF header for ``machine`` and bytes like code: calls to a few functions from many places."""
    rng = random.Random(seed)
    out = bytearray(b"\x7fELF\x02\x01\x01".ljust(18, b"\0") + machine.to_bytes(2, "little"))
    targets = [rng.randrange(size) for _ in range(8)]
    while len(out) < size - 5:
        if rng.random() < 0.3:
            out += b"\xe8" + (rng.choice(targets) - (len(out) + 5)).to_bytes(4, "little", signed=True)
        else:
            out += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12)))
    return bytes(out[: size - 3]) + b"\xe8\x01\x02"  # an E8 in the last bytes: never converted


@pytest.mark.parametrize("size", [64, 65, 1000, 4096, 70_000])
def test_the_x86_filter_is_undone_exactly(size: int) -> None:
    data = _code(size, size)
    filtered = fmt.apply_filter(fmt.FILTER_X86_CALLS, data)
    assert len(filtered) == len(data) and filtered != data
    assert fmt.undo_filter(fmt.FILTER_X86_CALLS, filtered) == data
    noise = random.Random(size).randbytes(size)  # whatever the bytes
    assert fmt.undo_filter(fmt.FILTER_X86_CALLS, fmt.apply_filter(fmt.FILTER_X86_CALLS, noise)) == noise


def test_x86_64_elf_files_are_filtered_and_decode_to_what_went_in() -> None:
    lone = fmt.FileEntry("lib/big.so", fmt.MODE_EXECUTABLE, _code(fmt.GROUP_MEMBER_MAX + 1000, 1))
    small = [fmt.FileEntry(f"lib/m{i}.so", fmt.MODE_FILE, _code(5000, i)) for i in range(3)]
    arm = fmt.FileEntry("lib/arm.so", fmt.MODE_FILE, _code(5000, 9, machine=183))  # aarch64: not x86 code
    text = fmt.FileEntry("lib/x.py", fmt.MODE_FILE, b"print('\xe8')\n" * 50)
    entries = [lone, *small, arm, text]
    block = fmt.encode_block(entries, fmt.PREFIX_RUNTIME, level=9, epoch=0)
    by_name = {m.name.decode(): m for m in block.members}
    assert {name for name, m in by_name.items() if m.filter} == {"runtime/lib/big.so"} | {
        f"runtime/lib/m{i}.so" for i in range(3)
    }
    assert all(m.filter == fmt.FILTER_X86_CALLS for m in by_name.values() if m.filter)
    assert by_name["runtime/lib/m0.so"].method == fmt.METHOD_ZSTD_GROUP
    assert _files(block) == {f"runtime/{e.path}".encode(): e.data for e in entries}
    # Smaller than the same files compressed unfiltered.
    plain = sum(len(zstandard.ZstdCompressor(level=9).compress(e.data)) for e in [lone])
    assert by_name["runtime/lib/big.so"].compressed_size < plain
    # The filter survives the cache's index and a regrouping.
    assert fmt.Block.from_json(block.to_json(), block.data) == block
    fewer = block.without({b"runtime/lib/m1.so"}, level=9, epoch=0)
    assert _files(fewer) == {f"runtime/{e.path}".encode(): e.data for e in entries if e.path != "lib/m1.so"}


def test_unknown_filters_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown filter 7"):
        fmt.undo_filter(7, b"data")
