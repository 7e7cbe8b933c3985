"""Patch sites: paths the launcher writes into a file at unpack time (docs/format.md).

A file that must name an absolute path inside the cache (the interpreter's run path: the
loader resolves ``$ORIGIN`` of a program through ``/proc/self/exe``, and drops the entry
when ``/proc`` isn't mounted) is built with a unique placeholder there, which is then
replaced by a *template* (``@RUNTIME@/lib``, NUL-padded to the placeholder's size). The
layer stores the template, so its bytes and hash don't depend on where it is unpacked;
the entry lists the site, and the launcher expands it with the runtime layer's directory
(``stub/of_interp.c``: ``of_interp_patch_fd``). :func:`expand_sites` is the same expansion,
for running a staged file here and for tests.
"""

from __future__ import annotations

from .spec import SITE_MAX_SIZE, SITE_MIN_SIZE, SITE_TOKEN

Site = tuple[int, int]  # (offset, size) in the file's bytes


def placeholder(kind: str, size: int) -> str:
    """A path of ``size - 1`` characters that no real file holds (the site's last byte is its NUL)."""
    if not SITE_MIN_SIZE <= size <= SITE_MAX_SIZE:
        raise ValueError(f"a patch site of {size} bytes (allowed: {SITE_MIN_SIZE} to {SITE_MAX_SIZE})")
    start = f"/onefile-placeholder-{kind}-"
    return start + "X" * (size - 1 - len(start))


def template_site(data: bytes, placeholder_text: str, template: str) -> tuple[bytes, Site]:
    """``data`` with the one occurrence of ``placeholder_text`` (and its NUL) replaced by
    ``template`` padded with NULs to the same size; and that site."""
    needle = placeholder_text.encode() + b"\0"
    offset = data.find(needle)
    if offset < 0 or data.find(needle, offset + 1) >= 0:
        raise ValueError(f"the placeholder {placeholder_text[:40]}... is not in the file exactly once")
    size = len(needle)
    raw = template.encode()
    if not template.startswith(SITE_TOKEN) or len(raw) >= size:
        raise ValueError(f"the template {template!r} must start with {SITE_TOKEN} and fit in {size - 1} bytes")
    return data[:offset] + raw.ljust(size, b"\0") + data[offset + size :], (offset, size)


def expand(template: bytes, runtime_dir: str) -> bytes:
    """One site's bytes (a NUL-padded template) with ``runtime_dir`` in: what the launcher writes."""
    text = template.split(b"\0", 1)[0]
    if not text.startswith(SITE_TOKEN.encode()) or b"\0" not in template:
        raise ValueError("a patch site holds no NUL-terminated template")
    if b":" in text and ":" in runtime_dir:
        raise ValueError(f"{runtime_dir}: a run path can't hold a ':'")
    expanded = text.replace(SITE_TOKEN.encode(), runtime_dir.encode())
    if len(expanded) >= len(template):
        raise ValueError(f"{runtime_dir}: too long for a patch site of {len(template)} bytes")
    return expanded.ljust(len(template), b"\0")


def expand_sites(data: bytes, sites: tuple[Site, ...], runtime_dir: str) -> bytes:
    """``data`` with every site expanded for a runtime layer unpacked at ``runtime_dir``."""
    out = bytearray(data)
    for offset, size in sites:
        out[offset : offset + size] = expand(data[offset : offset + size], runtime_dir)
    return bytes(out)
