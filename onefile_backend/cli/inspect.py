"""``onefile inspect BINARY``: what a built binary holds, read without running it."""

from __future__ import annotations

import os
import struct
import zipfile
from typing import Any

import zstandard

from .._errors import OnefileError
from ..format.layers import METHOD_STORED, METHOD_ZSTD, PREFIX_APP, read_trailer, undo_filter
from ..format.manifest import MANIFEST_NAME, Manifest
from ..format.spec import ZIP_EXTRA_FILTER_ID, ZIP_EXTRA_FILTER_SIZE


def read_member(path: str, name: str) -> bytes:
    """The uncompressed content of one entry of the binary's zip directory."""
    with zipfile.ZipFile(path) as archive, open(path, "rb") as f:
        info = archive.getinfo(name)
        f.seek(info.header_offset + 26)
        name_length, extra_length = struct.unpack("<HH", f.read(4))
        f.seek(info.header_offset + 30 + name_length)
        extra = f.read(extra_length)
        payload = f.read(info.compress_size)
    if info.compress_type == METHOD_STORED:
        return payload
    if info.compress_type == METHOD_ZSTD:
        data = zstandard.ZstdDecompressor().decompress(payload, max_output_size=info.file_size)
        return undo_filter(_filter_of(extra), data)
    raise OnefileError(f"{path}: {name} uses compression method {info.compress_type}, which is not readable by itself")


def _filter_of(extra: bytes) -> int:
    """The filter a local entry's extra fields name (docs/format.md "Filters"), or 0."""
    at = 0
    while at + 4 <= len(extra):
        field, size = struct.unpack_from("<HH", extra, at)
        if field == ZIP_EXTRA_FILTER_ID and size == ZIP_EXTRA_FILTER_SIZE:
            return int(struct.unpack_from("<I", extra, at + 4)[0])
        at += 4 + size
    return 0


def describe(path: str) -> dict[str, Any]:
    """The trailer's layers and the app's manifest, as one dictionary."""
    try:
        trailer = read_trailer(path)
        data = read_member(path, PREFIX_APP + MANIFEST_NAME)
    except FileNotFoundError:
        raise OnefileError(f"{path}: no such file") from None
    except ValueError as exc:  # from read_trailer: names the file and the problem
        raise OnefileError(str(exc)) from None
    except (KeyError, zipfile.BadZipFile, zstandard.ZstdError) as exc:
        raise OnefileError(f"{path}: not a readable onefile binary ({exc})") from None
    try:
        manifest = Manifest.from_json(data)
    except ValueError as exc:
        raise OnefileError(f"{path}: {MANIFEST_NAME}: {exc}") from None
    layers = {
        name: {
            "offset": layer.offset,
            "size": layer.size,
            "entries": layer.entry_count,
            "unpacked_size": layer.unpacked_size,
            "sha256": layer.sha256.hex(),
            "cache_key": (layer.sha256 if name == "runtime" else trailer.app_key).hex()[:32],
        }
        for name, layer in (("runtime", trailer.runtime), ("app", trailer.app))
    }
    return {
        "file": path,
        "size": os.path.getsize(path),
        "format_version": trailer.version,
        "layers": layers,
        **manifest.facts(),
    }


def render(facts: dict[str, Any]) -> str:
    commands = facts.get("commands") or [facts.get("entry_point", {})]  # older binaries: one entry point
    lines = [f"{facts['file']}: onefile binary, format {facts['format_version']}, {facts['size'] / 1e6:.1f} MB"]
    for number, entry in enumerate(commands):
        label = ("entry point" if len(commands) == 1 else f"commands ({len(commands)})") if number == 0 else ""
        lines.append(f"{label:<13} {entry.get('name')} = {entry.get('value')} ({entry.get('kind')})")
    lines += [
        f"python        {facts.get('python')}"
        + (f" (runtime from the {facts['runtime_origin']})" if facts.get("runtime_origin") else ""),
        f"target        {facts.get('target', 'x86_64')}",
        f"needs glibc   {facts.get('min_glibc')} or newer"
        + (f" (set by {facts['min_glibc_set_by']})" if facts.get("min_glibc_set_by") else ""),
        f"C library     {facts.get('libc') or 'none bundled: the system glibc'}",
        f"built with    {facts.get('built_with')}",
    ]
    indexes = facts.get("indexes") or {}
    for number, setting in enumerate(indexes.get("settings", ())):  # written without credentials
        label = "indexes" if number == 0 else ""
        lines.append(f"{label:<13} {setting['setting']} {setting['value']} (from {setting['from']})")
    for number, what in enumerate(facts.get("left_out", ())):
        lines.append(f"{'left out' if number == 0 else '':<13} {what}")
    for name, layer in facts["layers"].items():
        lines.append(
            f"{name + ' layer':<13} {layer['size'] / 1e6:.1f} MB, {layer['entries']} entries, "
            f"{layer['unpacked_size'] / 1e6:.1f} MB unpacked, sha256 {layer['sha256']}"
        )
    distributions = facts.get("distributions", {})
    lines.append(f"distributions ({len(distributions)}):")
    lines += [f"  {name} {version}" for name, version in sorted(distributions.items(), key=lambda i: i[0].lower())]
    return "\n".join(lines)
