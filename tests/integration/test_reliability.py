"""The launcher and its cache under faults, load and hostile input (docs/reliability.md).

Real binaries of tests/projects/tinyapp, built by the front end, run with every Python
install hidden. Variants are made by taking a built binary apart and writing it again
with onefile_backend.format.layers's writer: another launcher (the fault-injection build
``make -C stub test-stub``, the ASan/UBSan build ``make -C stub asan-stub``), a damaged
layer or trailer, or hand-made malicious entries.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import signal
import stat
import struct
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping
from unittest import mock

import pytest
import zstandard
from conftest import HOST_MACHINE, PROJECTS, REPO, SETUP_PY, Hidden, build_binary, make, wait_for_cleanup, wait_stopped

from onefile_backend.cli.inspect import read_member
from onefile_backend.format import layers as _format
from onefile_backend.format.binary import zipapp_block
from onefile_backend.format.layers import (
    MODE_DIRECTORY,
    MODE_EXECUTABLE,
    MODE_FILE,
    MODE_SYMLINK,
    TRAILER_SIZE,
    Block,
    FileEntry,
    Needs,
    encode_block,
    read_trailer,
    write_binary,
)

pytestmark = pytest.mark.integration

STUB_DIR = REPO / "stub"
ERROR = re.compile(r"^[^:/]+: onefile: .+$")  # "<program name>: onefile: <message>"


# ---- taking binaries apart and putting them together again ----


def parse_block(data: bytes) -> Block:
    """The members of a run of local entries (what encode_block made)."""
    members = []
    pos = 0
    while pos < len(data):
        fields = _format._LOCAL_HEADER.unpack_from(data, pos)
        crc, compressed, size, name_len, extra_len = fields[6:]
        name = data[pos + 30 : pos + 30 + name_len]
        (mode,) = struct.unpack_from("<I", data, pos + 30 + name_len + 4)
        members.append(_format._Member(name, mode, fields[3], crc, compressed, size, pos))
        pos += 30 + name_len + extra_len + compressed
    return Block(data, tuple(members))


@dataclass(frozen=True)
class Parts:
    stub: bytes
    runtime: Block
    app: Block


def split(binary: Path) -> Parts:
    data = binary.read_bytes()
    trailer = read_trailer(str(binary))
    layers = [data[layer.offset : layer.offset + layer.size] for layer in (trailer.runtime, trailer.app)]
    return Parts(data[: trailer.runtime.offset], parse_block(layers[0]), parse_block(layers[1]))


def _carries_glibc(runtime: Block) -> bool:
    """Whether a runtime layer has a glibc in libc/ (the trailer says so for the launcher)."""
    return any(member.name.startswith(b"runtime/libc/lib/") for member in runtime.members)


def assemble(path: Path, stub: bytes, runtime: Block, app: Block) -> Path:
    out = io.BytesIO()
    write_binary(out, stub, runtime, app, zipapp_block(0), epoch=0, needs=Needs(bundled_glibc=_carries_glibc(runtime)))
    path.write_bytes(out.getvalue())
    path.chmod(0o755)
    return path


def with_app_entries(parts: Parts, *entries: FileEntry) -> Block:
    """The app layer plus ``entries`` (a different app key, the same runtime)."""
    extra = encode_block(list(entries), "app/", level=None, epoch=0, threads=1)
    shifted = tuple(
        _format._Member(
            m.name, m.mode, m.method, m.crc, m.compressed_size, m.size, m.offset_in_block + len(parts.app.data)
        )
        for m in extra.members
    )
    return Block(parts.app.data + extra.data, parts.app.members + shifted)


def patch(binary: Path, out: Path, at: int, data: bytes) -> Path:
    content = bytearray(binary.read_bytes())
    content[at : at + len(data)] = data
    out.write_bytes(bytes(content))
    out.chmod(0o755)
    return out


def make_stub(target: str) -> Path:
    """The launcher with its fault-injection hooks: ``test-stub`` built as the shipped one
    is (zig, musl, the pinned zstd.c), ``asan-stub`` with cc under ASan and UBSan."""
    variables = SETUP_PY.launcher_variables(HOST_MACHINE) if target == "test-stub" else {}
    result = make(STUB_DIR, target, variables=variables)
    assert result.returncode == 0, result.stdout + result.stderr
    return STUB_DIR / "build" / {"test-stub": "onefile-stub-test", "asan-stub": "onefile-stub-asan"}[target]


def cache_listing(cache: Path) -> dict[str, list[str]]:
    """What each kind directory holds (layer directories and any leftovers)."""
    return {
        kind: sorted(p.name for p in (cache / kind).iterdir()) if (cache / kind).is_dir() else []
        for kind in ("runtime", "app")
    }


def assert_one_of_each(cache: Path) -> None:
    listing = cache_listing(cache)
    assert [len(v) for v in listing.values()] == [1, 1], listing
    assert not any(name.startswith(".") for names in listing.values() for name in names), listing


def assert_ok(result: subprocess.CompletedProcess[str], *args: str) -> None:
    assert result.returncode == 0, result.stderr
    words = result.stdout.split()
    assert words[:2] == ["tinyapp", "ok"] and words[3:] == list(args), result.stdout
    assert result.stderr == ""


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode == 1, (result.returncode, result.stderr)  # an error, not a signal
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and ERROR.match(lines[0]), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Sanitizer" not in result.stderr and "runtime error" not in result.stderr
    return lines[0]


def cache_is_empty(cache: Path) -> bool:
    return not cache.exists() or all(not any(p.iterdir()) for p in cache.iterdir())


# ---- binaries ----


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_binary(PROJECTS / "tinyapp", tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def parts(tiny: Path) -> Parts:
    return split(tiny)


@pytest.fixture(scope="module")
def variants(parts: Parts, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two more binaries of the same app and runtime, each with its own app key."""
    out = tmp_path_factory.mktemp("variants")
    binaries = []
    for i in range(2):
        (out / str(i)).mkdir()
        app = with_app_entries(parts, FileEntry("variant", MODE_FILE, b"%d" % i))
        binaries.append(assemble(out / str(i) / "tinyapp", parts.stub, parts.runtime, app))
    return binaries


@pytest.fixture(scope="module")
def hooked(parts: Parts, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """tinyapp with the fault-injection launcher, and two variants with other app keys."""
    stub = make_stub("test-stub").read_bytes()
    out = tmp_path_factory.mktemp("hooked")
    binaries = []
    for i in range(3):
        (out / str(i)).mkdir()
        app = parts.app if i == 0 else with_app_entries(parts, FileEntry("variant", MODE_FILE, b"%d" % i))
        binaries.append(assemble(out / str(i) / "tinyapp", stub, parts.runtime, app))
    return binaries


@pytest.fixture(scope="module")
def fake_runtime() -> Block:
    """A runtime layer of three entries: enough for tests that stop before Python runs."""
    entries = [
        FileEntry("bin/python3", MODE_EXECUTABLE, b"#!/bin/sh\necho fake python\n"),
        FileEntry("bin/python", MODE_SYMLINK, b"python3"),
        FileEntry("lib/", MODE_DIRECTORY, b""),
    ]
    return encode_block(entries, "runtime/", level=None, epoch=0, threads=1)


def test_the_production_launcher_has_no_test_hooks(launcher: Path, parts: Parts) -> None:
    assert b"ONEFILE_TEST" not in launcher.read_bytes() and b"ONEFILE_TEST" not in parts.stub
    assert b"ONEFILE_TEST_KILL" in make_stub("test-stub").read_bytes()


# ---- concurrency ----


def test_sixteen_cold_starts_at_once_unpack_once(hidden: Hidden, tiny: Path) -> None:
    processes = [hidden.popen([str(tiny), "run", str(i)]) for i in range(16)]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in processes]
    for i, (out, err, status) in enumerate(results):
        assert (status, err) == (0, ""), err
        assert out.split()[:2] == ["tinyapp", "ok"] and out.split()[3:] == ["run", str(i)]
    assert_one_of_each(hidden.cache)
    assert len({out.split()[2] for out, _, _ in results}) == 16


def _tree(root: Path) -> dict[str, tuple[int, str]]:
    """Each path under ``root``: its mode and its content's hash (or a link's target)."""
    tree = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            what = os.readlink(path)
        elif stat.S_ISREG(info.st_mode):
            what = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            what = ""
        tree[str(path.relative_to(root))] = (info.st_mode, what)
    return tree


def test_one_cpu_or_all_unpack_the_same_tree(hidden: Hidden, tiny: Path, tmp_path: Path) -> None:
    trees = []
    for name, prefix in (("one", ["taskset", "-c", "0"]), ("all", [])):
        cache = tmp_path / name
        assert_ok(hidden.run([*prefix, str(tiny), name], {"ONEFILE_CACHE_DIR": str(cache)}), name)
        wait_for_cleanup(cache)  # flushed and marked: 0755, no onefile-pending
        trees.append(_tree(cache))
    assert trees[0].keys() == trees[1].keys()
    # The app's venv files and the interpreter's run path (a patch site) name the cache
    # directory; everything else is the same.
    differ = {p for p in trees[0] if trees[0][p] != trees[1][p]}
    assert all(p.endswith(("pyvenv.cfg", "bin/python", "bin/python3")) for p in differ), sorted(differ)
    assert len([p for p in trees[0] if "/lib/python3" in p]) > 500  # the runtime's stdlib (bytecode alone) is in there


# ---- crash safety ----


# Where the test launcher kills itself: "<point>:<n>", the n-th time it gets there
# (RT: the runtime layer's entries a start here writes, all but libc/). Points are
# OF_TEST_POINT()s in stub/*.c; a layer's "entry" points count its directories, then its
# files as threads finish them, then its links.
KILL_POINTS = [
    "locked:1",  # holding the runtime's lock, nothing made yet
    "tmpdir:1",  # an empty temporary directory
    "entry:1",  # one entry done
    "entry:2",
    "entry:RT/2",
    "entry:RT",  # the runtime's last entry done
    "filled:1",  # runtime complete, not renamed
    "renamed:1",  # runtime in place, its lock file not removed yet
    "entry:RT+1",  # the app layer's first entry
    "filled:2",  # app complete with pyvenv.cfg, not renamed
    "renamed:2",
]


def runtime_entries_here(binary: Path) -> int:
    """The runtime layer's entries a start on this machine writes: all but the bundled
    glibc's libc/, which only a start that needs it adds (docs/portability.md)."""
    with zipfile.ZipFile(binary) as z:
        return sum(1 for name in z.namelist() if name.startswith("runtime/") and not name.startswith("runtime/libc/"))


@pytest.mark.parametrize("where", KILL_POINTS)
def test_killed_unpacker_never_breaks_the_next_start(hidden: Hidden, hooked: list[Path], where: str) -> None:
    binary = hooked[0]
    point, count = where.split(":")
    rt = runtime_entries_here(binary)
    n = {"RT/2": rt // 2, "RT": rt, "RT+1": rt + 1}.get(count) or int(count)
    killed = hidden.run([str(binary), "first"], {"ONEFILE_TEST_KILL": f"{point}:{n}"})
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stdout, killed.stderr)
    assert_ok(hidden.run([str(binary), "second"]), "second")
    verify = hidden.run([str(binary)], {"ONEFILE": "verify"})
    assert verify.returncode == 0, verify.stdout
    leftovers = [n for names in cache_listing(hidden.cache).values() for n in names if n.startswith(".")]
    assert all(n.startswith(".lock-") for n in leftovers), leftovers  # temporary directories: swept
    if point != "renamed":
        assert leftovers == []
    # A lock file left by a kill between rename and unlock goes with the next cold start.
    assert_ok(hidden.run([str(hooked[1]), "third"]), "third")
    assert [len(v) for v in cache_listing(hidden.cache).values()] == [1, 2]
    assert not any(n.startswith(".") for names in cache_listing(hidden.cache).values() for n in names)


def test_killed_while_sweeping_a_leftover(hidden: Hidden, hooked: list[Path]) -> None:
    first = hidden.run([str(hooked[0])], {"ONEFILE_TEST_KILL": "entry:50"})
    assert first.returncode == -signal.SIGKILL
    second = hidden.run([str(hooked[0])], {"ONEFILE_TEST_KILL": "sweep:1"})
    assert second.returncode == -signal.SIGKILL
    assert_ok(hidden.run([str(hooked[0]), "x"]), "x")
    assert_one_of_each(hidden.cache)


def test_sweeping_spares_a_live_unpacker(hidden: Hidden, hooked: list[Path]) -> None:
    runtime_entries = runtime_entries_here(hooked[0])
    # A stops half-way through its app layer (the runtime done), holding its lock.
    live = hidden.popen([str(hooked[0]), "live"], {"ONEFILE_TEST_STOP": f"entry:{runtime_entries + 3}"})
    try:
        wait_stopped(live.pid)
        # B is killed half-way through its own app layer: a leftover.
        dead = hidden.run([str(hooked[1])], {"ONEFILE_TEST_KILL": "entry:3"})
        assert dead.returncode == -signal.SIGKILL
        temporary = [n for n in cache_listing(hidden.cache)["app"] if n.startswith(".tmp-")]
        assert len(temporary) == 2, temporary
        # C starts cold and sweeps: B's leftover goes, A's directory stays.
        assert_ok(hidden.run([str(hooked[2]), "sweeper"]), "sweeper")
        remaining = [n for n in cache_listing(hidden.cache)["app"] if n.startswith(".")]
        assert len(remaining) == 2 and {n.split("-")[1] for n in remaining} == {_app_key(hooked[0])}, remaining
    finally:
        live.send_signal(signal.SIGCONT)
    out, err = live.communicate(timeout=60)
    assert live.returncode == 0 and out.split()[3:] == ["live"], err
    listing = cache_listing(hidden.cache)
    assert len(listing["app"]) == 2 and not any(n.startswith(".") for n in listing["app"]), listing


def _app_key(binary: Path) -> str:
    return read_trailer(str(binary)).app_key.hex()[:32]


# ---- integrity ----


def _layer_positions(tiny: Path) -> list[tuple[str, int]]:
    t = read_trailer(str(tiny))
    return [
        ("runtime", t.runtime.offset),
        ("runtime", t.runtime.offset + t.runtime.size // 2),
        ("runtime", t.runtime.offset + t.runtime.size - 1),
        ("app", t.app.offset),
        ("app", t.app.offset + t.app.size // 2),
        ("app", t.app.offset + t.app.size - 1),
    ]


def test_a_flipped_byte_in_a_layer_is_refused_and_leaves_nothing(hidden: Hidden, tiny: Path, tmp_path: Path) -> None:
    data = tiny.read_bytes()
    for i, (layer, at) in enumerate(_layer_positions(tiny)):
        damaged = patch(tiny, tmp_path / f"damaged{i}", at, bytes([data[at] ^ 0x10]))
        result = hidden.run([str(damaged)])
        assert_one_line_error(result, str(damaged), f"the {layer} layer is damaged")
        assert cache_is_empty(hidden.cache), cache_listing(hidden.cache)


def test_the_warm_path_does_not_rehash_but_verify_does(hidden: Hidden, tiny: Path, tmp_path: Path) -> None:
    assert_ok(hidden.run([str(tiny), "warm"]), "warm")
    t = read_trailer(str(tiny))
    at = t.runtime.offset + 1000
    damaged = patch(tiny, tmp_path / "tinyapp", at, bytes([tiny.read_bytes()[at] ^ 1]))
    assert_ok(hidden.run([str(damaged), "still"]), "still")  # what it needs is in the cache already
    verify = hidden.run([str(damaged)], {"ONEFILE": "verify"})
    assert verify.returncode == 1 and "runtime layer in " + str(damaged) + ": DAMAGED" in verify.stdout, verify.stdout


def test_truncated_files_and_files_without_a_trailer(hidden: Hidden, tiny: Path, parts: Parts, tmp_path: Path) -> None:
    data = tiny.read_bytes()
    cases = {
        "cut-1": data[:-1],
        "cut-trailer": data[:-TRAILER_SIZE],
        "cut-half": data[: len(data) // 2],
        "stub-only": parts.stub,
    }
    # (Cut shorter than the stub, it is no executable at all: the kernel refuses it and
    # env(1) then runs it as a shell script, which the launcher never sees.)
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        path.chmod(0o755)
        result = hidden.run([str(path)])
        assert_one_line_error(result, str(path), "not a onefile binary")
        assert cache_is_empty(hidden.cache)


def _trailer_at(tiny: Path) -> int:
    return tiny.stat().st_size - TRAILER_SIZE


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("runtime.offset", 2**64 - 1, "runtime layer outside the file"),
        ("runtime.size", 2**64 - 1, "runtime layer outside the file"),
        ("runtime.offset", 2**63, "runtime layer outside the file"),
        ("app.offset", 0, "runtime layer overlaps the app layer"),
        ("app.size", 2**40, "app layer outside the file"),
        ("version", 7, "unsupported format version 7"),
        ("size", 2**32 - 1, "damaged trailer (size 4294967295"),
        ("app.entry_count", 2**64 - 1, "app layer is damaged"),
        ("app.entry_count", 1, "app layer is damaged"),
        ("app.unpacked_size", 1, "app layer is damaged"),
        ("app.unpacked_size", 2**63, "app layer is damaged"),
        ("runtime.entry_count", 0, "runtime layer is damaged"),
    ],
)
def test_absurd_trailers_are_refused(
    hidden: Hidden, tiny: Path, tmp_path: Path, field: str, value: int, message: str
) -> None:
    base = _trailer_at(tiny)
    offsets = {"version": (0, "<I"), "size": (4, "<I")}
    for i, layer in enumerate(("runtime", "app")):
        for j, name in enumerate(("offset", "size", "entry_count", "unpacked_size")):
            offsets[f"{layer}.{name}"] = (8 + 64 * i + 8 * j, "<Q")
    at, fmt = offsets[field]
    damaged = patch(tiny, tmp_path / "tinyapp", base + at, struct.pack(fmt, value))
    result = hidden.run([str(damaged)])
    assert_one_line_error(result, str(damaged), message)
    listing = cache_listing(hidden.cache)
    assert not any(n.startswith(".") for names in listing.values() for n in names), listing
    assert listing["app"] == [], listing  # the damaged layer left nothing


# ---- path safety ----


def _raw_app(entries: list[tuple[bytes, int, bytes]]) -> Block:
    """Local entries with any names at all (the writer's own checks are bypassed)."""
    with mock.patch.object(_format, "check_entry", lambda entry: None):
        blocks = [
            encode_block([FileEntry(name.decode("latin-1"), mode, data)], "", level=None, epoch=0, threads=1)
            for name, mode, data in entries
        ]
    data = b""
    members = []
    for block in blocks:
        raw = block.data
        member = block.members[0]
        # Put back the exact bytes of the name (encode_block encodes str as UTF-8).
        name = entries[len(members)][0]
        header = bytearray(raw[:30])
        struct.pack_into("<H", header, 26, len(name))
        raw = bytes(header) + name + raw[30 + len(member.name) :]
        members.append(
            _format._Member(
                name, member.mode, member.method, member.crc, member.compressed_size, member.size, len(data)
            )
        )
        data += raw
    return Block(data, tuple(members))


MALICIOUS = {
    "absolute name": [(b"/tmp/onefile-escaped", MODE_FILE, b"x")],
    "dot-dot name": [(b"app/../escaped", MODE_FILE, b"x")],
    "dot-dot deeper": [(b"app/lib/../../../escaped", MODE_FILE, b"x")],
    "into the runtime": [(b"app/../runtime/x", MODE_FILE, b"x")],
    "backslash": [(b"app/..\\escaped", MODE_FILE, b"x")],
    "empty component": [(b"app//escaped", MODE_FILE, b"x")],
    "absolute link": [(b"app/lib", MODE_SYMLINK, b"/etc")],
    "link up and out": [(b"app/a/b", MODE_SYMLINK, b"../../escaped")],
    "link out through another link": [
        (b"app/sub/up", MODE_SYMLINK, b".."),
        (b"app/sub/out", MODE_SYMLINK, b"up/../escaped"),
    ],
    "write through a link": [
        (b"app/dir/", MODE_DIRECTORY, b""),
        (b"app/link", MODE_SYMLINK, b"dir"),
        (b"app/link/escaped", MODE_FILE, b"x"),
    ],
    "replace a file by a link": [(b"app/f", MODE_FILE, b"x"), (b"app/f", MODE_SYMLINK, b".")],
    "NUL in a name": [(b"app/a\0b", MODE_FILE, b"x")],
    "device node": [(b"app/dev", 0o020644, b"")],
    "setuid": [(b"app/suid", 0o104755, b"x")],
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_entries_are_refused(
    hidden: Hidden, parts: Parts, fake_runtime: Block, tmp_path: Path, case: str
) -> None:
    binary = assemble(tmp_path / "tinyapp", parts.stub, fake_runtime, _raw_app(MALICIOUS[case]))
    result = hidden.run([str(binary)], {"ONEFILE_CACHE_DIR": str(hidden.cache / "deep" / "cache")})
    assert_one_line_error(result, str(binary), "app layer")
    assert not Path("/tmp/onefile-escaped").exists()
    for root in (hidden.cache, hidden.cache / "deep", hidden.cache / "deep" / "cache"):
        assert not (root / "escaped").exists() and not (root / "x").exists()
    listing = cache_listing(hidden.cache / "deep" / "cache")
    assert listing["app"] == [] and len(listing["runtime"]) == 1, listing


class _Forced:
    """A build store that hands every entry the same "compressed" payload."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def get_many(self, keys: Iterable[bytes]) -> dict[bytes, bytes]:
        return {key: self.payload for key in keys}

    def put_many(self, items: Mapping[bytes, bytes]) -> None:
        pass


def test_a_zstd_frame_with_a_window_over_8_mib_is_refused(
    hidden: Hidden, parts: Parts, fake_runtime: Block, tmp_path: Path
) -> None:
    data = os.urandom(1 << 16) * 32
    wide = zstandard.ZstdCompressionParameters.from_level(3, window_log=24)
    streaming = zstandard.ZstdCompressor(compression_params=wide).compressobj()  # size unknown: the window stays
    frame = streaming.compress(data) + streaming.flush()
    app = encode_block([FileEntry("big", MODE_FILE, data)], "app/", level=3, epoch=0, store=_Forced(frame))
    binary = assemble(tmp_path / "tinyapp", parts.stub, fake_runtime, app)
    result = hidden.run([str(binary)])
    assert_one_line_error(result, str(binary), "app layer", "'big': damaged zstd data")
    assert cache_listing(hidden.cache)["app"] == []


def _name_is_safe(name: str) -> bool:
    parts = name.split("/")
    return "\\" not in name and "\0" not in name and all(p not in ("", ".", "..") for p in parts)


def _link_is_safe(name: str, target: str) -> bool:
    depth = name.count("/")
    components = [c for c in target.split("/") if c not in ("", ".")]
    ups = 0
    while ups < len(components) and components[ups] == "..":
        ups += 1
    return not target.startswith("/") and ups <= depth and ".." not in components[ups:]


def test_the_builder_writes_only_entries_the_launcher_accepts(parts: Parts) -> None:
    checked = 0
    for layer, prefix in ((parts.runtime, "runtime/"), (parts.app, "app/")):
        for member in layer.members:
            name = member.name.decode()
            assert name.startswith(prefix) and _name_is_safe(name[len(prefix) :].rstrip("/")), name
            if member.mode == MODE_SYMLINK:
                start = layer.data.index(member.name, member.offset_in_block) + len(member.name) + 8
                target = layer.data[start : start + member.size].decode()
                assert _link_is_safe(name[len(prefix) :], target), (name, target)
                checked += 1
    assert checked > 0


def test_staging_a_tree_drops_or_resolves_links_that_leave_it(tmp_path: Path) -> None:
    from onefile_backend.format.tree import entries_from_tree

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    tree = tmp_path / "tree"
    (tree / "pkg" / "sub").mkdir(parents=True)
    (tree / "pkg" / "data.txt").write_text("d")
    (tree / "pkg" / "sub" / "up").symlink_to("..")
    (tree / "pkg" / "sub" / "through").symlink_to("up/data.txt")
    (tree / "pkg" / "abs").symlink_to(outside / "secret")
    (tree / "pkg" / "out").symlink_to("../../outside/secret")
    (tree / "pkg" / "outdir").symlink_to("../../outside")
    (tree / "pkg" / "dangling").symlink_to("nowhere")
    entries = entries_from_tree(str(tree))
    for entry in entries:
        assert _name_is_safe(entry.path), entry.path
        if entry.mode == MODE_SYMLINK:
            assert _link_is_safe(entry.path, entry.data.decode()), entry
    by_path = {e.path: e for e in entries}
    assert by_path["pkg/abs"].mode == MODE_FILE and by_path["pkg/abs"].data == b"s"  # copied in
    assert "pkg/outdir" not in by_path and "pkg/dangling" not in by_path


def test_the_builder_refuses_names_the_launcher_would_refuse(tmp_path: Path) -> None:
    from onefile_backend.format.tree import entries_from_tree

    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "back\\slash.py").write_text("")
    with pytest.raises(ValueError):
        encode_block(entries_from_tree(str(tree)), "app/", level=None, epoch=0)


# ---- where the cache is ----


def _cache_of(hidden: Hidden, binary: Path, env: dict[str, str]) -> str:
    result = hidden.run([str(binary)], {**env, "ONEFILE": "info"})
    assert result.returncode == 0, result.stderr
    return result.stdout.split("\ncache: ", 1)[1].split("\n", 1)[0]


def test_cache_location_follows_the_environment(hidden: Hidden, tiny: Path, tmp_path: Path) -> None:
    home, xdg, tmp = tmp_path / "home", tmp_path / "xdg", tmp_path / "tmp"
    for d in (home, xdg, tmp):
        d.mkdir()
    env = {"ONEFILE_CACHE_DIR": "", "HOME": str(home), "TMPDIR": str(tmp)}
    assert (
        _cache_of(hidden, tiny, {**env, "ONEFILE_CACHE_DIR": str(tmp_path / "c")})
        == f"{tmp_path / 'c'} (from $ONEFILE_CACHE_DIR)"
    )
    assert _cache_of(hidden, tiny, {**env, "XDG_CACHE_HOME": str(xdg)}) == f"{xdg / 'onefile'} (from $XDG_CACHE_HOME)"
    assert _cache_of(hidden, tiny, {**env, "XDG_CACHE_HOME": "relative"}) == f"{home / '.cache/onefile'} (from $HOME)"
    assert _cache_of(hidden, tiny, {"ONEFILE_CACHE_DIR": "", "TMPDIR": str(tmp)}).startswith(
        f"{tmp / 'onefile-0'} (from ${{TMPDIR:-/tmp}}, as $HOME is not set)"
    )
    assert not (tmp / "onefile-0").exists()  # info creates nothing
    assert_ok(hidden.run([str(tiny), "homeless"], {"ONEFILE_CACHE_DIR": "", "TMPDIR": str(tmp)}), "homeless")
    assert (tmp / "onefile-0").stat().st_mode & 0o777 == 0o700
    assert_one_of_each(tmp / "onefile-0")
    assert_ok(hidden.run([str(tiny), "home"], env), "home")
    assert_one_of_each(home / ".cache" / "onefile")


def test_read_only_home_falls_back_to_a_private_tmp_dir(hidden: Hidden, tiny: Path, tmp_path: Path) -> None:
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = {"ONEFILE_CACHE_DIR": "", "HOME": str(home), "TMPDIR": str(tmp)}
    script = f'mount --bind -o ro "{home}" "{home}" && "$0" "$@" && ONEFILE=info "$0"'
    result = hidden.run(["/bin/sh", "-c", script, str(tiny), "ro"], {**env, "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("tinyapp ok ") and first.endswith(" ro"), result.stdout
    assert (
        f"cache: {tmp / 'onefile-0'} (from ${{TMPDIR:-/tmp}}, as {home / '.cache/onefile'} from $HOME is not writable)"
        in result.stdout
    )
    assert_one_of_each(tmp / "onefile-0")
    assert list(home.iterdir()) == []


@pytest.mark.parametrize("problem", ["mode 0755", "symbolic link", "someone else's", "a file"])
def test_a_tmp_fallback_that_is_not_private_is_refused(
    hidden: Hidden, tiny: Path, tmp_path: Path, problem: str
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    fallback = tmp / "onefile-0"
    if problem == "symbolic link":
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        fallback.symlink_to(tmp_path / "elsewhere")
    elif problem == "a file":
        fallback.write_text("")
    else:
        fallback.mkdir()
        fallback.chmod(0o755 if problem == "mode 0755" else 0o700)
        if problem == "someone else's":
            os.chown(fallback, 12345, 12345)
    result = hidden.run([str(tiny)], {"ONEFILE_CACHE_DIR": "", "TMPDIR": str(tmp)})
    assert_one_line_error(result, str(fallback), "not a private directory owned by you", "ONEFILE_CACHE_DIR")
    assert not (tmp_path / "elsewhere" / "runtime").exists()


def test_a_noexec_cache_is_reported_with_the_variable_to_set(hidden: Hidden, tiny: Path, tmp_path: Path) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = (
        f'mount -t tmpfs -o noexec,size=200m tmpfs "{mnt}" || exit 99; '
        f'"$0" cold; echo "status=$? files=$(find "{mnt}" -mindepth 2 | wc -l)"; '
        f'mount -o remount,exec "{mnt}"; "$0" warm >/dev/null; echo "status=$?"; '
        f'mount -o remount,noexec "{mnt}"; "$0" warm; echo "status=$?"'
    )
    result = hidden.run(["/bin/sh", "-c", script, str(tiny)], {"ONEFILE_CACHE_DIR": str(mnt), "PATH": "/usr/bin:/bin"})
    assert result.stdout == "status=1 files=0\nstatus=0\nstatus=1\n", (result.stdout, result.stderr)
    cold, warm = result.stderr.splitlines()
    for line in (cold, warm):
        assert ERROR.match(line) and "mounted noexec" in line and "set ONEFILE_CACHE_DIR" in line, line
    assert f"the cache directory {mnt} is on a file system mounted noexec" in cold


def test_a_full_disk_leaves_no_partial_layer_and_recovers(hidden: Hidden, tiny: Path, tmp_path: Path) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = (
        f'mount -t tmpfs -o size=8m tmpfs "{mnt}" || exit 99; '
        f'"$0" full; echo "status=$? files=$(find "{mnt}" -mindepth 2 | wc -l)"; '
        f'mount -o remount,size=200m "{mnt}"; "$0" roomy; echo "status=$? layers=$(find "{mnt}/runtime" "{mnt}/app" -mindepth 1 -maxdepth 1 | wc -l)"'
    )
    result = hidden.run(["/bin/sh", "-c", script, str(tiny)], {"ONEFILE_CACHE_DIR": str(mnt), "PATH": "/usr/bin:/bin"})
    lines = result.stdout.splitlines()
    assert lines[0] == "status=1 files=0" and lines[2] == "status=0 layers=2", result.stdout
    assert lines[1].startswith("tinyapp ok ") and lines[1].endswith(" roomy")
    error = result.stderr.strip()
    assert len(result.stderr.splitlines()) == 1 and ERROR.match(error), result.stderr
    assert "No space left on device" in error and "unpacking the runtime layer needs" in error, error
    assert f"MB in {mnt}; free some space there or set ONEFILE_CACHE_DIR" in error, error


# ---- ONEFILE=info, verify, clean ----


def test_info_tells_what_is_inside_and_where_it_goes(hidden: Hidden, tiny: Path) -> None:
    t = read_trailer(str(tiny))
    before = hidden.run([str(tiny)], {"ONEFILE": "info"})
    assert before.returncode == 0 and before.stderr == "", before.stderr
    assert not hidden.cache.exists()  # looking changes nothing
    lines = before.stdout.splitlines()
    assert lines[0] == f"binary: {tiny}"
    assert lines[1] == f"format: version {t.version}, {tiny.stat().st_size} bytes"
    for line, layer, name in ((lines[2], t.runtime, "runtime"), (lines[3], t.app, "app")):
        assert line == (
            f"{name} layer: {layer.size} bytes at offset {layer.offset}, {layer.entry_count} entries, "
            f"{layer.unpacked_size} bytes unpacked, sha256 {layer.sha256.hex()}"
        )
    # It carries a glibc (the default), and this machine's serves.
    floor = json.loads(read_member(str(tiny), "app/onefile.json"))["min_glibc"]  # the runtime's: 2.35 for some
    assert lines[4] == f"C library: the system's glibc 2.36 (the system's glibc is new enough; the binary needs {floor})"
    assert lines[5] == f"cache: {hidden.cache} (from $ONEFILE_CACHE_DIR)"
    assert lines[6] == f"runtime directory: {hidden.cache}/runtime/{t.runtime.sha256.hex()[:32]} (not unpacked yet)"
    assert lines[7] == f"app directory: {hidden.cache}/app/{t.app_key.hex()[:32]} (not unpacked yet)"
    assert lines[8] == "manifest (app/onefile.json):"
    end = next(i for i, line in enumerate(lines) if line.startswith("cache size: "))
    manifest = json.loads("\n".join(lines[9:end]))
    assert lines[end:] == [  # then the cache's contents (tests/test_cache_life.py)
        "cache size: 0.0 MB in 0 runtime and 0 app directories",
        "next clean-up (on a cold start; older versions unused for 14 days, ONEFILE_CACHE_KEEP_DAYS) removes: nothing",
    ]
    assert manifest["python"] == ".".join(map(str, sys.version_info[:3]))
    assert manifest["entry_point"] == {"kind": "console_scripts", "name": "tinyapp", "value": "tinyapp.cli:main"}
    assert manifest["distributions"] == {"tinyapp": "2.5"}
    hidden.run([str(tiny)])
    wait_for_cleanup(hidden.cache)  # which flushed them: "(unpacked, being flushed to disk)" until then
    after = hidden.run([str(tiny)], {"ONEFILE": "info"}).stdout.splitlines()
    assert after[6].endswith("(unpacked)") and after[7].endswith("(unpacked)")
    assert "cache size: " in after[-4] and " 1 runtime and 1 app directories" in after[-4]
    assert after[-3].startswith(f"  runtime/{t.runtime.sha256.hex()[:32]}: ") and after[-3].endswith(
        ", used by 1 app directory"
    )
    assert after[-2].startswith(f"  app/{t.app_key.hex()[:32]}: ") and after[-2].endswith(", newest version")


def test_the_mode_variable_is_checked_and_never_reaches_the_app(hidden: Hidden, tiny: Path) -> None:
    assert_one_line_error(
        hidden.run([str(tiny)], {"ONEFILE": "inf"}), "ONEFILE=inf: unknown", "info, verify, clean, python or install"
    )
    result = hidden.run([str(tiny), "env"], {"ONEFILE": ""})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["ONEFILE_BINARY", "ONEFILE_CACHE_DIR"]


def test_verify_finds_changed_missing_and_extra_files(hidden: Hidden, tiny: Path) -> None:
    assert_ok(hidden.run([str(tiny), "x"]), "x")
    clean = hidden.run([str(tiny)], {"ONEFILE": "verify"})
    assert clean.returncode == 0, clean.stdout
    t = read_trailer(str(tiny))
    lazy = "  all entries match; libc/ (the bundled glibc) is not unpacked: the first start that needs it adds it"
    assert lazy in clean.stdout.splitlines(), clean.stdout  # this machine's glibc serves
    assert f"  all {t.app.entry_count} entries match" in clean.stdout.splitlines()
    runtime = hidden.cache / "runtime" / t.runtime.sha256.hex()[:32]
    app = hidden.cache / "app" / t.app_key.hex()[:32]
    py = f"lib/python{sys.version_info[0]}.{sys.version_info[1]}"
    cli = app / py / "site-packages/tinyapp/cli.py"
    cli.write_text(cli.read_text().replace("ok", "OK"))
    (runtime / py / "json" / "decoder.pyc").unlink()  # the stdlib is bytecode alone (no stdlib-sources)
    (app / py / "site-packages" / "evil.pth").write_text("import os\n")
    (runtime / py / "json" / "__pycache__").mkdir()  # what Python writes there is no problem
    (runtime / py / "json" / "__pycache__" / "extra.cpython-311.pyc").write_bytes(b"fine")
    (app / "bin" / "python").unlink()
    (app / "bin" / "python").symlink_to("/usr/bin/python3")
    result = hidden.run([str(tiny)], {"ONEFILE": "verify"})
    assert result.returncode == 1, result.stdout
    problems = sorted(line.strip() for line in result.stdout.splitlines() if line.startswith("  ") and ":" in line)
    assert problems == sorted(
        [
            f"missing: {py}/json/decoder.pyc",
            f"changed (content): {py}/site-packages/tinyapp/cli.py",
            f"extra: {py}/site-packages/evil.pth",
            "changed (link target): bin/python",
        ]
    ), result.stdout
    assert f"to repair: ONEFILE=clean {tiny}, then run it again" in result.stdout
    assert hidden.run([str(tiny)], {"ONEFILE": "clean"}).returncode == 0
    assert_ok(hidden.run([str(tiny), "y"]), "y")
    assert hidden.run([str(tiny)], {"ONEFILE": "verify"}).returncode == 0


def test_clean_removes_this_binarys_entries_and_keeps_a_shared_runtime(
    hidden: Hidden, tiny: Path, variants: list[Path]
) -> None:
    t = read_trailer(str(tiny))
    runtime = hidden.cache / "runtime" / t.runtime.sha256.hex()[:32]
    app = hidden.cache / "app" / t.app_key.hex()[:32]
    nothing = hidden.run([str(tiny)], {"ONEFILE": "clean"})
    assert (nothing.returncode, nothing.stdout) == (
        0,
        f"nothing to remove: {tiny} has nothing unpacked in {hidden.cache}\n",
    )
    assert_ok(hidden.run([str(tiny), "a"]), "a")
    assert_ok(hidden.run([str(variants[0]), "b"]), "b")
    shared = hidden.run([str(tiny)], {"ONEFILE": "clean"})
    assert shared.returncode == 0, shared.stderr
    assert shared.stdout == f"removed {app}\nkept {runtime}: 1 other app in this cache uses it\n"
    assert not app.exists() and runtime.is_dir()
    assert_ok(hidden.run([str(variants[0]), "c"]), "c")
    last = hidden.run([str(variants[0])], {"ONEFILE": "clean"})
    assert last.returncode == 0 and f"removed {runtime}\n" in last.stdout, last.stdout
    assert cache_listing(hidden.cache) == {"runtime": [], "app": []}
    assert_ok(hidden.run([str(tiny), "again"]), "again")


# ---- the launcher under ASan and UBSan ----


def test_the_launcher_is_clean_under_sanitizers(
    hidden: Hidden, parts: Parts, fake_runtime: Block, tmp_path: Path
) -> None:
    stub = make_stub("asan-stub").read_bytes()
    binary = assemble(tmp_path / "tinyapp", stub, parts.runtime, parts.app)
    env = {
        "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=86",
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
    }

    def run(path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        result = hidden.run([str(path), *args], {**env, **extra})
        assert "Sanitizer" not in result.stderr and "runtime error" not in result.stderr, result.stderr
        assert result.returncode != 86, result.stderr
        return result

    assert_ok(run(binary, "cold"), "cold")
    assert_ok(run(binary, "warm"), "warm")
    assert run(binary, ONEFILE="info").returncode == 0
    assert run(binary, ONEFILE="verify").returncode == 0
    assert run(binary, ONEFILE="clean").returncode == 0
    assert run(binary, ONEFILE="nonsense").returncode == 1
    t = read_trailer(str(binary))
    data = binary.read_bytes()
    damaged = [
        patch(binary, tmp_path / "flip", t.app.offset + 10, bytes([data[t.app.offset + 10] ^ 1])),
        patch(binary, tmp_path / "absurd", binary.stat().st_size - TRAILER_SIZE + 8, struct.pack("<Q", 2**64 - 1)),
        patch(binary, tmp_path / "count", binary.stat().st_size - TRAILER_SIZE + 72 + 16, struct.pack("<Q", 2**64 - 1)),
    ]
    (tmp_path / "short").write_bytes(stub + b"x" * 300)
    (tmp_path / "short").chmod(0o755)
    damaged.append(tmp_path / "short")
    for case in MALICIOUS.values():
        damaged.append(assemble(tmp_path / f"evil{len(damaged)}", stub, fake_runtime, _raw_app(case)))
    for path in damaged:
        assert_one_line_error(run(path), str(path))


# ---- load ----


_LOAD = r"""
binary="$1"; count="$2"; workers="$3"
one='out=$("$0" tinyapp ok load "$1") || { echo "FAIL $1"; exit; }
case "$out" in *" load $1") echo ok;; *) echo "FAIL $1";; esac'
seq "$count" | xargs -P "$workers" -I{} sh -c "$one" "$binary" {}
"""


def run_load(hidden: Hidden, binary: Path, count: int, workers: int) -> tuple[int, float]:
    """Start ``binary`` ``count`` times over ``workers`` parallel workers, all warm, with
    Python hidden; return (failures, seconds per start)."""
    started = time.perf_counter()
    result = hidden.run(
        ["/bin/sh", "-c", _LOAD, "load", str(binary), str(count), str(workers)], {"PATH": "/usr/bin:/bin"}
    )
    elapsed = time.perf_counter() - started
    lines = result.stdout.splitlines()
    failures = count - lines.count("ok")
    return failures, elapsed / count


def test_many_warm_starts_sequential_and_parallel(hidden: Hidden, tiny: Path) -> None:
    assert_ok(hidden.run([str(tiny), "warm-up"]), "warm-up")
    sequential = run_load(hidden, tiny, 100, 1)
    parallel = run_load(hidden, tiny, 50, 8)
    print(f"\n100 sequential warm starts: {sequential[0]} failed, {sequential[1] * 1000:.1f} ms per start")
    print(f"50 warm starts over 8 workers: {parallel[0]} failed, {parallel[1] * 1000:.1f} ms per start (wall clock)")
    assert sequential[0] == 0 and parallel[0] == 0
    assert_one_of_each(hidden.cache)


# ---- the fuzzing corpus ----


def test_fuzz_corpus_replays_clean_under_sanitizers() -> None:
    result = make(REPO / "fuzz", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    count = int(re.search(r"replayed (\d+) inputs", result.stdout).group(1))  # type: ignore[union-attr]
    assert count >= 20, result.stdout
