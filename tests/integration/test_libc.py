"""The bundled glibc (issue 19, docs/portability.md): binaries built with the defaults run
in a Debian 11 root (glibc 2.31), a musl root, a NixOS-like root (glibc only under
/nix/store) and an empty root, cold and warm, with and without /proc, under ``env -i``
with every Python hidden; on this machine they use the system's glibc."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest
from conftest import EXAMPLES, Hidden, build_binary, copy_project, onefile
from roots import busybox_root, debian_root, run_in_root

from onefile_backend.cli.inspect import read_member
from onefile_backend.format.layers import read_trailer
from onefile_backend.format.spec import TRAILER_KERNEL_AT, TRAILER_SIZE

pytestmark = pytest.mark.integration

ROOTS = ["bullseye", "musl", "nixos", "empty"]
SYSTEM_LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"


def _root(name: str) -> Path:
    if name == "bullseye":
        return debian_root("bullseye", include=["python3", "python3-distutils"])
    return busybox_root(name)


@pytest.fixture(scope="session")
def numbers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_binary(EXAMPLES / "numbers", tmp_path_factory.mktemp("libc-numbers"))


@pytest.fixture(scope="session")
def checks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """libcchecks with a library of its own that loads libstdc++ (so the binary carries it)."""
    project = copy_project("libcchecks", tmp_path_factory.mktemp("libc-checks-project"))
    _runpath_library(project / "src" / "libcchecks")
    return build_binary(project, tmp_path_factory.mktemp("libc-checks"))


def _work(tmp_path: Path, *binaries: Path) -> Path:
    work = tmp_path / "work"
    (work / "cache").mkdir(parents=True)
    for binary in binaries:
        shutil.copy2(binary, work / binary.name)
    return work


@pytest.mark.parametrize("proc", [True, False], ids=["proc", "no-proc"])
@pytest.mark.parametrize("name", ROOTS)
def test_hello_and_numbers_run_cold_and_warm(name: str, proc: bool, hello: Path, numbers: Path, tmp_path: Path) -> None:
    root = _root(name)
    work = _work(tmp_path, hello, numbers)
    for start in ("cold", "warm"):
        result = run_in_root(root, work, ["/mnt/hello", "--name", "Ada"], proc=proc)
        assert (result.returncode, result.stdout, result.stderr) == (0, "Hello, Ada!\n", ""), start
        result = run_in_root(root, work, ["/mnt/numbers", "1000", "--seed", "7"], proc=proc, env={"COLUMNS": "80"})
        assert result.returncode == 0 and "1000 numbers" in result.stdout, (start, result.stderr)
    info = run_in_root(root, work, ["/mnt/hello"], proc=proc, env={"ONEFILE": "info"})
    floor = json.loads(read_member(str(hello), "app/onefile.json"))["min_glibc"]  # the runtime's
    expected = (
        f"the system's glibc 2.31 is older than the {floor} the binary needs)"
        if name == "bullseye"
        else "no glibc loader at /lib64/ld-linux-x86-64.so.2); LOCPATH set to its locales"
    )
    assert f"C library: the bundled glibc ({expected}\n" in info.stdout, info.stdout


def _runpath_library(directory: Path) -> None:
    """``directory/librunpath.so``: a library with DT_RUNPATH that needs libstdc++.so.6."""
    source = directory / "runpath.c"
    source.write_text("int runpath_answer(void) { return 42; }\n")
    library = directory / "librunpath.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    source.unlink()
    patchelf = shutil.which("patchelf") or pytest.skip("needs patchelf")
    subprocess.run([patchelf, "--add-needed", "libstdc++.so.6", "--set-rpath", "$ORIGIN", str(library)], check=True)


@pytest.mark.parametrize("proc", [True, False], ids=["proc", "no-proc"])
@pytest.mark.parametrize("name", ["musl", "empty"])
def test_the_process_tree_works_on_the_bundled_glibc(name: str, proc: bool, checks: Path, tmp_path: Path) -> None:
    work = _work(tmp_path, checks)
    for start in ("cold", "warm"):
        result = run_in_root(_root(name), work, ["/mnt/libcchecks"], proc=proc, dev=True)
        assert result.returncode == 0, (start, result.stderr)
        facts = json.loads(result.stdout)
        assert facts.pop("libc") == (None if not proc else [str(_runtime_dir(work)) + "/libc/lib/libc.so.6"])
        assert facts.pop("executable").endswith("/libc/bin/python"), facts
        assert facts == dict.fromkeys(facts, "ok") and len(facts) == 9, (start, facts)


def _runtime_dir(work: Path) -> Path:
    (runtime,) = (work / "cache" / "runtime").iterdir()
    return Path("/mnt/cache/runtime") / runtime.name


def test_on_this_machine_the_system_glibc_is_used(hidden: Hidden, checks: Path) -> None:
    result = hidden.run([str(checks)])
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["libc"] in ([SYSTEM_LIBC], ["/lib/x86_64-linux-gnu/libc.so.6"]), facts
    assert facts["executable"].endswith("/bin/python") and "/libc/" not in facts["executable"]
    info = hidden.run([str(checks)], {"ONEFILE": "info"})
    assert "C library: the system's glibc 2.36 (the system's glibc is new enough" in info.stdout, info.stdout
    # Nothing of the bundled glibc was written here, and that is no damage.
    (runtime,) = (p for p in (hidden.cache / "runtime").iterdir() if not p.name.startswith("."))
    assert not (runtime / "libc").exists() and "bundled glibc: not unpacked" in info.stdout, info.stdout
    verify = hidden.run([str(checks)], {"ONEFILE": "verify"})
    assert verify.returncode == 0 and "libc/ (the bundled glibc) is not unpacked" in verify.stdout, verify.stdout


def _here(hidden: Hidden, work: Path, *command: str) -> object:
    """Run with ``work`` at /mnt, as inside the roots: the same cache path on both sides."""
    script = '/bin/mount --bind "$0" /mnt && exec "$@"'
    return hidden.run(["/bin/sh", "-c", script, str(work), *command], {"ONEFILE_CACHE_DIR": "/mnt/cache"})


@pytest.mark.parametrize("first", ["debian-11", "here"])
def test_one_cache_serves_debian_11_and_this_machine_in_either_order(
    first: str, hidden: Hidden, hello: Path, tmp_path: Path
) -> None:
    root = _root("bullseye")
    work = _work(tmp_path, hello)
    there = lambda: run_in_root(root, work, ["/mnt/hello", "--name", "Ada"])  # noqa: E731
    here = lambda: _here(hidden, work, "/mnt/hello", "--name", "Ada")  # noqa: E731
    for run in (there, here) if first == "debian-11" else (here, there):
        result = run()
        assert (result.returncode, result.stdout, result.stderr) == (0, "Hello, Ada!\n", "")  # type: ignore[attr-defined]
        (runtime,) = (p for p in (work / "cache" / "runtime").iterdir() if not p.name.startswith("."))
        # A first start here leaves the bundled glibc out; Debian 11's start adds it.
        assert (runtime / "libc").exists() == (run is there or first == "debian-11"), run
    assert (runtime / "libc" / "bin" / "python3").is_file() and not any((work / "cache" / "runtime").glob(".tmp-*"))
    verify = hidden.run(
        ["/bin/sh", "-c", '/bin/mount --bind "$0" /mnt && exec /mnt/hello', str(work)],
        {"ONEFILE_CACHE_DIR": "/mnt/cache", "ONEFILE": "verify"},
    )
    assert verify.returncode == 0 and verify.stdout.count("entries match") == 2, verify.stdout


def test_libc_system_gives_todays_refusal_in_the_musl_root(tmp_path: Path) -> None:
    binary = build_binary(EXAMPLES / "hello", tmp_path / "out", "-C", "libc=system")
    work = _work(tmp_path, binary)
    result = run_in_root(busybox_root("musl"), work, ["/mnt/hello", "--name", "Ada"])
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.strip() == "hello: onefile: needs glibc; this system's C library is musl"
    assert list((work / "cache").iterdir()) == []
    assert onefile("inspect", str(binary)).stdout.count("C library     none bundled") == 1


def test_the_build_says_what_it_bundled(hello: Path) -> None:
    text = onefile("inspect", str(hello)).stdout
    assert re.search(
        r"C library +glibc 2\.\d+ from /: \d+ files, [\d.]+ MB unpacked, [\d.]+ MB in the binary, "
        r"runs on Linux 3\.2 or newer",  # Debian 12's x86_64 glibc is built for 3.2 (its ABI tag)
        text,
    ), text
    assert read_trailer(str(hello)).kernel == (3, 2)


def test_libstdcxx_is_carried_only_by_a_binary_that_loads_it(hello: Path, numbers: Path) -> None:
    """numpy's extensions load libstdc++ (the system's, where its glibc serves; the bundled
    one where it doesn't: the bundled-glibc runs above prove it loads); hello loads none."""
    carried = {
        binary.name: {name for name in zipfile.ZipFile(binary).namelist() if name.startswith("runtime/libc/lib/")}
        for binary in (hello, numbers)
    }
    assert "runtime/libc/lib/libstdc++.so.6" in carried["numbers"]
    assert carried["hello"] == carried["numbers"] - {"runtime/libc/lib/libstdc++.so.6"}
    assert "with libstdc++" in onefile("inspect", str(numbers)).stdout
    assert "with libstdc++" not in onefile("inspect", str(hello)).stdout


def _with_kernel(binary: Path, destination: Path, kernel: tuple[int, int]) -> Path:
    """A copy of ``binary`` whose trailer says its bundled glibc needs Linux ``kernel``
    (no hash covers that field), as if it had been built with such a glibc."""
    data = bytearray(binary.read_bytes())
    struct.pack_into("<HH", data, len(data) - TRAILER_SIZE + TRAILER_KERNEL_AT, *kernel)
    destination.write_bytes(data)
    destination.chmod(0o755)
    return destination


def test_a_kernel_older_than_the_bundled_glibc_needs_is_one_line_before_anything_is_written(
    hello: Path, hidden: Hidden, tmp_path: Path
) -> None:
    work = _work(tmp_path)
    future = _with_kernel(hello, work / "hello", (99, 0))
    result = run_in_root(busybox_root("musl"), work, ["/mnt/hello", "--name", "Ada"])
    assert (result.returncode, result.stdout) == (1, "")
    release = os.uname().release
    assert result.stderr.strip() == (
        f"hello: onefile: needs Linux 99.0 or newer (for the glibc it carries); this system runs Linux {release}"
    )
    assert list((work / "cache").iterdir()) == []
    # Where the system's glibc serves, the bundled one is not used and its kernel not asked for.
    here = hidden.run([str(future), "--name", "Ada"])
    assert (here.returncode, here.stdout) == (0, "Hello, Ada!\n"), here.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("bogus", "is not 'bundle', 'system' or a directory"),
        ("EMPTY", "has no glibc loader (ld-linux-*.so.*): not a glibc sysroot"),
        ("ARM64", "no ld-linux-x86-64.so.2 for x86_64 in this sysroot"),
    ],
)
def test_bad_libc_values_are_one_line_and_write_nothing(value: str, message: str, tmp_path: Path) -> None:
    if value == "EMPTY":
        value = str(tmp_path / "empty")
        Path(value).mkdir()
    elif value == "ARM64":  # a Debian arm64 system: a glibc sysroot, of another CPU
        value = str(debian_root("bookworm", arch="arm64", include=["python3"]))
    out = tmp_path / "out"
    result = onefile("build", "--binary", "-n", str(EXAMPLES / "hello"), "-o", str(out), "-C", f"libc={value}")
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert result.returncode == 1 and len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert errors[0].startswith("ERROR tool.onefile.libc: ") and message in errors[0], errors[0]
    assert not out.exists() or list(out.iterdir()) == []
