"""The binary: launcher + layers + zip directory + trailer, written atomically."""

from __future__ import annotations

import os
import tempfile
from importlib import resources

from .._errors import AssembleError
from ..platform.target import host_machine, normalise_machine
from .bootstrap import render_zipapp_main
from .layers import MODE_FILE, Block, FileEntry, Needs, encode_block, write_binary

#: A launcher to use instead of the bundled one (for the stub's own tests and development).
ENV_STUB = "ONEFILE_STUB"


def stub_for(machine: str) -> bytes:
    """The launcher for ``machine`` built with onefile-backend's own wheel
    (``_stub/onefile-stub-<machine>``, made by setup.py)."""
    machine = normalise_machine(machine)
    try:
        return resources.files("onefile_backend").joinpath("_stub", f"onefile-stub-{machine}").read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise AssembleError(
            f"this installation of onefile-backend has no onefile launcher for {machine} "
            "(reinstall it: building it from source needs zig from PyPI, which pip installs for the build)"
        ) from None


def read_stub(machine: str | None = None) -> bytes:
    """The launcher for ``machine`` (default: this one) built with onefile-backend's own
    wheel, or ``$ONEFILE_STUB``."""
    override = os.environ.get(ENV_STUB)
    if override:
        try:
            with open(override, "rb") as f:
                return f.read()
        except OSError as exc:
            raise AssembleError(f"{ENV_STUB}={override}: cannot read it ({exc.strerror})") from None
    return stub_for(machine or host_machine())


def zipapp_block(epoch: int) -> Block:
    """The stored ``__main__.py`` that makes ``python <binary>`` run the binary."""
    main = FileEntry("__main__.py", MODE_FILE, render_zipapp_main().encode())
    return encode_block([main], "", level=None, epoch=epoch)


def write_atomically(
    path: str, runtime: Block, app: Block, *, epoch: int, needs: Needs | None = None, machine: str | None = None
) -> int:
    """Write the binary to ``path`` (mode 0755) via a temporary file; return its size."""
    stub = read_stub(machine)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    except OSError as exc:
        raise AssembleError(f"cannot write to {directory}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            write_binary(out, stub, runtime, app, zipapp_block(epoch), epoch=epoch, needs=needs or Needs())
            size = out.tell()
        os.chmod(temporary, 0o755)
        os.replace(temporary, path)
    except BaseException as exc:
        os.unlink(temporary)
        if isinstance(exc, OSError):
            raise AssembleError(f"cannot write {path}: {exc.strerror}") from None
        if isinstance(exc, ValueError):
            raise AssembleError(f"cannot write {path}: {exc}") from None
        raise
    return size
