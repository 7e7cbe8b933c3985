"""The app layer: the dependencies' part, encoded once per pins at their own zstd level,
then the project's files at the project's level."""

import zstandard

from onefile_backend.app import layer as _layer
from onefile_backend.app.layer import AppTree, encode_app_layer
from onefile_backend.cache.store import BlobStore
from onefile_backend.format import layers as fmt
from onefile_backend.format.manifest import Manifest, ManifestEntryPoint
from onefile_backend.platform.glibc import GlibcNeeds

_SITE = "lib/python3.11/site-packages/"
_MANIFEST = Manifest(built_with="onefile-backend 0", entry_point=ManifestEntryPoint("x", "x:main", "console_scripts"), python="3.11.7")  # fmt: skip


def _module(name: str, number: int) -> fmt.FileEntry:
    text = f'"""Module {number}: what it does."""\n\ndef f{number}(value):\n    return value * {number}\n' * 40
    return fmt.FileEntry(f"{_SITE}{name}", fmt.MODE_FILE, text.encode())


def _files(block: fmt.Block) -> dict[bytes, bytes]:
    """name -> content of every member (groups decoded from their start)."""
    files, group = {}, []
    for member in block.members:
        if member.group is None:
            payload = block.payload(member)
            zstd = member.method == fmt.METHOD_ZSTD
            files[member.name] = zstandard.ZstdDecompressor().decompress(payload) if zstd else payload
            continue
        group.append(member)
        if member.group[0] + 1 == member.group[1]:
            datas = fmt.decode_group([block.payload(m) for m in group], [m.size for m in group])
            files.update(zip((m.name for m in group), datas, strict=True))
            group = []
    return files


def _app(dependencies: list[fmt.FileEntry], project: list[fmt.FileEntry]) -> AppTree:
    block = fmt.encode_block(dependencies, fmt.PREFIX_APP, level=_layer.DEPENDENCIES_LEVEL, epoch=0)
    return AppTree(block, project, {}, GlibcNeeds(), [])


def test_the_dependencies_are_encoded_at_a_higher_level_than_the_projects_files() -> None:
    assert _layer.LEVEL < _layer.DEPENDENCIES_LEVEL <= fmt.MAX_ZSTD_LEVEL


def test_the_dependencies_part_is_carried_over_as_encoded() -> None:
    dependencies = [_module(f"dep/m{i}.py", i) for i in range(5)]
    app = _app(dependencies, [_module("own/cli.py", 99)])
    block = encode_app_layer(app, _MANIFEST, epoch=0, store=BlobStore(None))
    assert block.data.startswith(app.dependencies.data)  # its level-19 frames, not encoded again
    expected = {fmt.PREFIX_APP.encode() + e.path.encode(): e.data for e in [*dependencies, *app.entries]}
    assert {name: data for name, data in _files(block).items() if name != b"app/onefile.json"} == expected


def test_a_dependency_file_the_project_replaces_leaves_a_group_that_decodes() -> None:
    dependencies = [_module(f"dep/m{i}.py", i) for i in range(5)]
    replaced = fmt.FileEntry(f"{_SITE}dep/m2.py", fmt.MODE_FILE, b"VALUE = 'the project's own'\n" * 10)
    app = _app(dependencies, [replaced])
    block = encode_app_layer(app, _MANIFEST, epoch=0, store=BlobStore(None))
    files = _files(block)
    assert files[f"app/{_SITE}dep/m2.py".encode()] == replaced.data
    for entry in dependencies[:2] + dependencies[3:]:  # the rest of the group, encoded again (project's level)
        assert files[f"app/{entry.path}".encode()] == entry.data
    assert [m.name for m in block.members].count(f"app/{_SITE}dep/m2.py".encode()) == 1
