"""Runtimes from archives: known by the archive's hash, and unpacked only inside the build
cache whatever the archive says (real tarballs, no interpreter run)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from onefile_backend._errors import InterpreterNotFound
from onefile_backend.runtime.archives import interpreter_from_archive
from onefile_backend.runtime.interpreters import find_interpreter
from onefile_backend.runtime.layer import _identity
from onefile_backend.runtime.sources import ArchiveRuntime


def _quiet(message: str, kind: str = "info") -> None:
    pass


def _archive(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


def _file(name: str, data: bytes = b"\x7fELF") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = 0o755
    return info, data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, b""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ONEFILE_BUILD_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_runtime_from_an_archive_is_known_by_the_archive_not_its_files(tmp_path: Path, cache: Path) -> None:
    archive = _archive(tmp_path / "cpython-3.12-install_only.tar.gz", [_file("python/bin/python3")])
    path, identity = interpreter_from_archive(ArchiveRuntime(str(archive), None), _quiet)
    assert identity == hashlib.sha256(archive.read_bytes()).hexdigest()[:32]
    assert path == str(cache / "runtimes" / identity / "python" / "bin" / "python3")
    here = find_interpreter(None)
    unpacked = dataclasses.replace(here, executable=path, libpython=None, identity=identity)
    first = _identity(unpacked, 0)
    os.utime(path, (1, 1))  # unpacked again: other times, same archive
    assert _identity(unpacked, 0) == first != _identity(here, 0)
    # The second time, the unpacked directory is used as it is.
    assert interpreter_from_archive(ArchiveRuntime(str(archive), None), _quiet) == (path, identity)


@pytest.mark.parametrize(
    "member, message",
    [
        (_file("../escaped"), "has an unsafe entry '../escaped'"),
        (_file("python/../../escaped"), "has an unsafe entry 'python/../../escaped'"),
        (_file("/tmp/escaped"), "has an unsafe entry '/tmp/escaped'"),
        (_link("python/lib/evil", "/etc/passwd"), "has a link leaving it: 'python/lib/evil'"),
        (_link("python/evil", "../../escaped"), "has a link leaving it: 'python/evil'"),
        (_link("python/hard", "../escaped", tarfile.LNKTYPE), "has a link leaving it: 'python/hard'"),
    ],
)
def test_an_archive_cannot_write_outside_its_directory(
    tmp_path: Path, cache: Path, member: tuple[tarfile.TarInfo, bytes], message: str
) -> None:
    archive = _archive(tmp_path / "hostile.tar.gz", [_file("python/bin/python3"), member])
    with pytest.raises(InterpreterNotFound, match=rf"^tool\.onefile\.python: .*hostile\.tar\.gz {message}"):
        interpreter_from_archive(ArchiveRuntime(str(archive), None), _quiet)
    runtimes = cache / "runtimes"
    assert not (tmp_path / "escaped").exists() and not Path("/tmp/escaped").exists()
    # Nothing half-unpacked is left under a final name, and no temporary either.
    assert [p.name for p in runtimes.iterdir()] == [] if runtimes.exists() else True


def test_devices_and_fifos_in_an_archive_are_left_out(tmp_path: Path, cache: Path) -> None:
    fifo = tarfile.TarInfo("python/fifo")
    fifo.type = tarfile.FIFOTYPE
    archive = _archive(tmp_path / "odd.tar.gz", [_file("python/bin/python3"), (fifo, b"")])
    path, _ = interpreter_from_archive(ArchiveRuntime(str(archive), None), _quiet)
    assert not os.path.lexists(os.path.join(os.path.dirname(os.path.dirname(path)), "fifo"))


def test_an_archive_without_an_interpreter_is_one_line(tmp_path: Path, cache: Path) -> None:
    archive = _archive(tmp_path / "empty.tar.gz", [_file("README", b"hi")])
    with pytest.raises(InterpreterNotFound, match=r"has no python/bin/python3 \(expected a python-build-standalone"):
        interpreter_from_archive(ArchiveRuntime(str(archive), None), _quiet)
