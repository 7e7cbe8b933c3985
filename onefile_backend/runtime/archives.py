"""Runtimes from python-build-standalone style archives (``cpython-...-install_only``).

An archive is a tarball holding ``python/bin/python3``, ``python/lib/...``: a relocatable
CPython. It is fetched once (a URL must come with its SHA-256), unpacked once into the
build cache, and from there treated like any installed interpreter.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from typing import IO, Iterator

import zstandard

from .._errors import InterpreterNotFound, ToolError
from .._report import Log
from .._subprocess import run_tool
from ..cache.kinds import ARCHIVES
from ..cache.store import build_cache_dir
from .sources import ArchiveRuntime, ManagedRuntime


def _sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(url: str, sha256: str, destination: str, log: Log) -> None:
    """Fetch ``url`` to ``destination`` if not there yet, checking its SHA-256."""
    if os.path.isfile(destination):
        return
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    log(f"runtime: downloading {url}")
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(destination), prefix=".download-")
    try:
        digest = hashlib.sha256()
        import urllib.request  # only archives given by URL need it (and ssl, http.client)

        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0)
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
                of_total = f" of {total / 1e6:.1f}" if total else ""
                log(f"runtime: downloaded {out.tell() / 1e6:.1f}{of_total} MB", kind="progress")
        if digest.hexdigest() != sha256:
            raise InterpreterNotFound(
                url, f"tool.onefile.python: {url} has sha256 {digest.hexdigest()}, but {sha256} was expected"
            )
        os.replace(temporary, destination)
    except OSError as exc:  # urllib.error.URLError is one
        raise InterpreterNotFound(url, f"tool.onefile.python: cannot download {url} ({exc})") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _open_tar(path: str, raw: IO[bytes]) -> tarfile.TarFile:
    if path.endswith(".tar.zst"):
        return tarfile.open(fileobj=zstandard.ZstdDecompressor().stream_reader(raw), mode="r|")
    return tarfile.open(fileobj=raw, mode="r|*")


def _safe_members(archive: tarfile.TarFile, label: str) -> Iterator[tarfile.TarInfo]:
    """Refuse members that would land outside the directory, and anything but files and links."""
    for member in archive:
        parts = member.name.split("/")
        if member.name.startswith("/") or ".." in parts:
            raise InterpreterNotFound(label, f"tool.onefile.python: {label} has an unsafe entry {member.name!r}")
        if member.islnk() or member.issym():
            target = member.linkname if member.islnk() else os.path.join(os.path.dirname(member.name), member.linkname)
            if target.startswith("/") or os.path.normpath(target).startswith(".."):
                raise InterpreterNotFound(label, f"tool.onefile.python: {label} has a link leaving it: {member.name!r}")
        elif not (member.isfile() or member.isdir()):
            continue
        yield member


def _unpack(archive_path: str, destination: str, label: str) -> None:
    if os.path.isdir(destination):
        return
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    temporary = tempfile.mkdtemp(dir=os.path.dirname(destination), prefix=".unpack-")
    try:
        with open(archive_path, "rb") as raw, _open_tar(archive_path, raw) as archive:
            # Python's own extraction filter where it has one, on top of the checks above.
            safety = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            for member in _safe_members(archive, label):
                archive.extract(member, temporary, **safety)  # type: ignore[arg-type]
        os.rename(temporary, destination)
    except (tarfile.TarError, zstandard.ZstdError, EOFError) as exc:
        raise InterpreterNotFound(label, f"tool.onefile.python: {label} is not a readable archive ({exc})") from None
    except OSError as exc:
        if not os.path.isdir(destination):  # not a lost race with a parallel build
            raise InterpreterNotFound(label, f"tool.onefile.python: cannot unpack {label} ({exc})") from None
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def interpreter_from_archive(archive: ArchiveRuntime, log: Log) -> tuple[str, str]:
    """Make the archive's interpreter available on disk; return its path and the
    archive's identity (its SHA-256, shortened: the name of its unpacked directory)."""
    cache = os.path.join(build_cache_dir(), ARCHIVES.name)
    if archive.sha256 is not None:  # a URL
        name = archive.location.rstrip("/").rsplit("/", 1)[-1] or "runtime.tar.gz"
        path = os.path.join(cache, "downloads", archive.sha256, name)
        _download(archive.location, archive.sha256, path, log)
        key = archive.sha256
    else:
        path = archive.location
        if not os.path.isfile(path):
            raise InterpreterNotFound(path, f"tool.onefile.python: {path} does not exist")
        key = _sha256_of(path)
    destination = os.path.join(cache, key[:32])
    _unpack(path, destination, archive.location)
    for candidate in ("python/bin/python3", "bin/python3"):
        if os.path.isfile(os.path.join(destination, candidate)):
            log(f"runtime: from the archive {archive.location}")
            return os.path.join(destination, candidate), key[:32]
    raise InterpreterNotFound(
        archive.location,
        f"tool.onefile.python: {archive.location} has no python/bin/python3 "
        "(expected a python-build-standalone install_only archive)",
    )


def _installed_for_another_cpu(environment: dict[str, str], runtime: ManagedRuntime) -> str:
    """``uv python find`` runs what it finds, so it can't find one for another CPU: look
    for its directory (``cpython-3.12.8-linux-aarch64-gnu``) in uv's install dir instead."""
    version, _, platform = runtime.request.removeprefix("cpython-").partition("-")
    root = environment["UV_PYTHON_INSTALL_DIR"]
    names = sorted(os.listdir(root)) if os.path.isdir(root) else []
    for name in reversed(names):
        have_version, _, have_platform = name.removeprefix("cpython-").partition("-")
        if (have_version == version or have_version.startswith(version + ".")) and (
            not platform or have_platform == platform
        ):
            for candidate in ("bin/python3", "python/bin/python3"):
                if os.path.isfile(os.path.join(root, name, candidate)):
                    return os.path.join(root, name, candidate)
    return ""


def interpreter_from_download(runtime: ManagedRuntime, log: Log) -> str:
    """Install the python-build-standalone build that uv's Python downloads name
    ``runtime.request`` into the build cache (once); return its interpreter's path.

    uv verifies the download's checksum and honours its own settings, e.g.
    ``UV_PYTHON_INSTALL_MIRROR`` and ``UV_PYTHON_DOWNLOADS_JSON_URL`` (mirrors, air gaps).
    """
    from uv import find_uv_bin

    uv = str(find_uv_bin())
    environment = {**os.environ, "UV_PYTHON_INSTALL_DIR": os.path.join(build_cache_dir(), "runtimes", "uv")}
    environment.pop("UV_PYTHON_INSTALL_BIN", None)

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        try:
            return run_tool(
                [uv, *arguments], what=f"tool.onefile.python: uv cannot install {runtime.request!r}",
                env=environment, timeout=1800, check=False,
            )  # fmt: skip
        except ToolError as exc:  # it hung: the download, most likely
            raise InterpreterNotFound(runtime.request, str(exc)) from None

    find = ("python", "find", "--no-project", "--managed-python", "--no-python-downloads", runtime.request)
    found = run(*find)
    if found.returncode != 0:
        log(f"runtime: fetching {runtime.request} through uv's Python downloads")
        installed = run("python", "install", "--no-bin", runtime.request)
        if installed.returncode != 0:
            lines = [line.strip() for line in (installed.stderr or installed.stdout).splitlines() if line.strip()]
            detail = " ".join(line.removeprefix("error: ") for line in lines[-3:]) or f"exit {installed.returncode}"
            raise InterpreterNotFound(
                runtime.request, f"tool.onefile.python: uv cannot install {runtime.request!r}: {detail}"
            )
        found = run(*find)
    path = found.stdout.strip() if found.returncode == 0 else _installed_for_another_cpu(environment, runtime)
    if not os.path.isfile(path):
        raise InterpreterNotFound(
            runtime.request, f"tool.onefile.python: uv installed {runtime.request!r} but cannot find it"
        )
    log(f"runtime: {runtime.request} (python-build-standalone, through uv)")
    return path
