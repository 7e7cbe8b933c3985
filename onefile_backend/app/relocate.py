"""An install made to run from anywhere: scripts with relocatable trampolines, no
installer records of this machine, no links to the build's interpreter."""

from __future__ import annotations

import glob
import os

from ..format.tree import write_new_file

# A script made relocatable: sh runs the `python` next to it, which then reads the file
# as Python, where the second and third lines are one string (pip's distlib does this).
_TRAMPOLINE = b"#!/bin/sh\n'''exec' \"$(dirname -- \"$0\")/python\" \"$0\" \"$@\"\n' '''\n"


def make_relocatable(stage: str, site_packages: str, short_version: str) -> None:
    """Make what uv installed into the prefix ``stage`` work from anywhere, and forget
    where and when it was installed."""
    if os.path.isfile(os.path.join(stage, ".lock")):
        os.unlink(os.path.join(stage, ".lock"))  # uv's lock on the environment, not part of it
    for dist_info in glob.glob(os.path.join(site_packages, "*.dist-info")):
        _drop_install_records(dist_info)
    bin_dir = os.path.join(stage, "bin")
    _make_scripts_relocatable(bin_dir)
    for name in ("python", "python3", f"python{short_version}"):
        if os.path.lexists(os.path.join(bin_dir, name)):
            os.unlink(os.path.join(bin_dir, name))  # the stub links bin/python to the runtime


# Written by the installer about this machine: the temporary wheel's path, the time.
_INSTALL_RECORDS = ("direct_url.json", "uv_cache.json")


def _drop_install_records(dist_info: str) -> None:
    """Remove what would make the binary depend on where and when it was built."""
    dropped = [name for name in _INSTALL_RECORDS if os.path.exists(os.path.join(dist_info, name))]
    for name in dropped:
        os.unlink(os.path.join(dist_info, name))
    record = os.path.join(dist_info, "RECORD")
    if dropped and os.path.exists(record):
        prefix = os.path.basename(dist_info) + "/"
        with open(record, encoding="utf-8") as f:
            lines = [line for line in f if not any(line.startswith(prefix + name + ",") for name in dropped)]
        write_new_file(record, "".join(lines).encode("utf-8"))


def _make_scripts_relocatable(bin_dir: str) -> None:
    for name in sorted(os.listdir(bin_dir)) if os.path.isdir(bin_dir) else ():
        path = os.path.join(bin_dir, name)
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            content = f.read()
        first, _, rest = content.partition(b"\n")
        if first.startswith(b"#!") and b"python" in first:
            write_new_file(path, _TRAMPOLINE + rest)
            os.chmod(path, 0o755)
