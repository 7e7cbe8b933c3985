"""The writer side of the binary format, checked against zip tools and the spec."""

import io
import zipfile

from onefile_backend.format import layers as fmt


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

    def block(*entries):
        return fmt.encode_block(list(entries), fmt.PREFIX_APP, level=3, epoch=0)

    assert fmt.join_blocks([block(a), block(b, c)]) == block(a, b, c)
    assert block(a, b, c).without({b"app/b"}) == block(a, c)
    assert block(a, b).without({b"app/x"}) == block(a, b)
