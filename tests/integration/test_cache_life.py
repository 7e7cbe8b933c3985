"""The run-time cache over a binary's life (docs/reliability.md "Clean-up", "Self-repair",
"Power cuts"): old versions go away on their own, a damaged layer repairs itself, a layer
is on disk before it is trusted after a reboot.

Versions of one app are tests/projects/tinyapp's binary with a file added to its app
layer (a new app key, the same app id); another app is the same with another app id;
another runtime is the runtime layer with a file added. Every variant also carries a
``.pth`` file that makes the app sleep when ``TINYAPP_SLEEP`` is set.
"""

from __future__ import annotations

import io
import os
import random
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import PROJECTS, Hidden, build_binary, wait_for_cleanup, wait_stopped
from needs import require
from test_reliability import ERROR, make_stub, split

from onefile_backend.format.binary import zipapp_block
from onefile_backend.format.layers import (
    LIBC_GLIBC_BUNDLED,
    MODE_EXECUTABLE,
    MODE_FILE,
    Block,
    FileEntry,
    Needs,
    app_id,
    encode_block,
    join_blocks,
    read_trailer,
    write_binary,
)
from onefile_backend.format.spec import CACHE_BOOT_ID, CACHE_PENDING_FILE

pytestmark = pytest.mark.integration

DAY = 24 * 60 * 60
# A .pth file's import line, not a sitecustomize.py: a runtime made from Debian's python3
# has Debian's sitecustomize.py in its standard library, which comes first on sys.path.
SLEEPER_PTH = (
    b"import os, time; os.environ.get('TINYAPP_SLEEP') and (print('sleeping', os.getpid(), flush=True), "
    b"time.sleep(float(os.environ['TINYAPP_SLEEP'])))\n"
)
REPAIR_NOTE = re.compile(r"^[^:/]+: onefile: .*the cache entry was damaged; unpacking it again$")


def _extend(block: Block, prefix: str, *entries: FileEntry) -> Block:
    return join_blocks([block, encode_block(list(entries), prefix, level=None, epoch=0, threads=1)])


class Maker:
    """Writes variants of tinyapp's binary: (app name, version, runtime number)."""

    def __init__(self, tiny: Path, out: Path, stub: bytes | None = None) -> None:
        self.parts = split(tiny)
        self.trailer = read_trailer(str(tiny))
        self.out = out
        self.stub = stub if stub is not None else self.parts.stub
        self.site_packages = next(
            m.name.decode()[len("app/") : -len("/tinyapp/cli.py")]
            for m in self.parts.app.members
            if m.name.endswith(b"site-packages/tinyapp/cli.py")
        )
        self.runtimes = {1: self.parts.runtime}

    def runtime(self, number: int) -> Block:
        if number not in self.runtimes:
            self.runtimes[number] = _extend(
                self.parts.runtime, "runtime/", FileEntry("onefile-test-runtime", MODE_FILE, b"%d" % number)
            )
        return self.runtimes[number]

    def binary(self, app: str = "tinyapp", version: int = 0, runtime: int = 1) -> Path:
        path = self.out / f"{app}-{version}-r{runtime}" / "tinyapp"
        if path.exists():
            return path
        path.parent.mkdir(parents=True)
        layer = _extend(
            self.parts.app,
            "app/",
            FileEntry("onefile-test-version", MODE_FILE, f"{app} {version}".encode()),
            FileEntry(f"{self.site_packages}/tinyapp-sleeper.pth", MODE_FILE, SLEEPER_PTH),
        )
        needs = Needs(self.trailer.glibc_bitmap, app_id(app, app), self.trailer.libc == LIBC_GLIBC_BUNDLED)
        buf = io.BytesIO()
        write_binary(buf, self.stub, self.runtime(runtime), layer, zipapp_block(0), epoch=0, needs=needs)
        path.write_bytes(buf.getvalue())
        path.chmod(0o755)
        return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_binary(PROJECTS / "tinyapp", tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def maker(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Maker:
    return Maker(tiny, tmp_path_factory.mktemp("versions"))


@pytest.fixture(scope="module")
def hooked_maker(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Maker:
    """Variants with the fault-injection launcher (make -C stub test-stub)."""
    return Maker(tiny, tmp_path_factory.mktemp("hooked"), make_stub("test-stub").read_bytes())


def keys(binary: Path) -> tuple[str, str]:
    """(runtime key, app key): the directory names of its layers."""
    t = read_trailer(str(binary))
    return t.runtime.sha256.hex()[:32], t.app_key.hex()[:32]


def layers(cache: Path) -> dict[str, set[str]]:
    return {kind: set(os.listdir(cache / kind)) if (cache / kind).is_dir() else set() for kind in ("runtime", "app")}


def leftovers(cache: Path) -> list[str]:
    return sorted(f"{kind}/{n}" for kind in ("runtime", "app", "apps") if (cache / kind).is_dir()
                  for n in os.listdir(cache / kind) if n.startswith("."))


def age(cache: Path, days: float) -> None:
    """Make every layer look last used `days` ago (the launcher's record of last use is
    the layer directory's mtime)."""
    when = time.time() - days * DAY
    for kind in ("runtime", "app"):
        for name in os.listdir(cache / kind):
            if not name.startswith("."):
                os.utime(cache / kind / name, (when, when))


def run_ok(hidden: Hidden, binary: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = hidden.run([str(binary), *args], env)
    assert result.returncode == 0, result.stderr
    words = result.stdout.split()
    assert words[:2] == ["tinyapp", "ok"] and words[3:] == list(args), result.stdout
    return result.stderr


def verify(hidden: Hidden, binary: Path) -> None:
    result = hidden.run([str(binary)], {"ONEFILE": "verify"})
    assert result.returncode == 0, result.stdout


# ---- clean-up ----


def test_old_versions_go_the_newest_and_other_apps_stay(hidden: Hidden, maker: Maker) -> None:
    cache = hidden.cache
    # Five versions of tinyapp, the first on another runtime; another app; all started in turn.
    versions = [maker.binary("tinyapp", i, runtime=2 if i == 0 else 1) for i in range(5)]
    other = maker.binary("otherapp", 0, runtime=3)
    for binary in [other, *versions]:
        assert run_ok(hidden, binary, "first") == ""
        wait_for_cleanup(cache)
    assert len(layers(cache)["app"]) == 6 and len(layers(cache)["runtime"]) == 3
    # Version 1 is running; nothing is due yet (all used today).
    sleeper = hidden.popen([str(versions[1]), "sleeper"], {"TINYAPP_SLEEP": "120"})
    try:
        assert sleeper.stdout is not None and sleeper.stdout.readline().startswith("sleeping")
        info = hidden.run([str(versions[4])], {"ONEFILE": "info"})
        assert info.returncode == 0, info.stderr
        assert "removes: nothing\n" in info.stdout
        assert f"  app/{keys(versions[4])[1]}: " in info.stdout and "newest version" in info.stdout
        # 15 days later, another app starts cold.
        age(cache, 15)
        info = hidden.run([str(versions[4])], {"ONEFILE": "info"}).stdout
        planned = info.split("removes:", 1)[1].split()
        assert set(planned) >= {f"app/{keys(v)[1]}" for v in versions[:4]} | {f"runtime/{keys(versions[0])[0]}"}
        assert re.search(r"^cache size: [\d.]+ MB in 3 runtime and 6 app directories$", info, re.M), info
        assert "(15 days ago)" in info
        assert run_ok(hidden, maker.binary("thirdapp", 0), "cold") == ""
        wait_for_cleanup(cache)
        third = keys(maker.binary("thirdapp", 0))[1]
        assert layers(cache) == {
            "runtime": {keys(versions[4])[0], keys(other)[0]},
            "app": {keys(versions[4])[1], keys(versions[1])[1], keys(other)[1], third},  # [1]: running
        }
    finally:
        sleeper.terminate()
        sleeper.communicate(timeout=60)
    # Once it has stopped, the running one goes with the next clean-up.
    age(cache, 15)
    assert run_ok(hidden, maker.binary("fourthapp", 0), "cold") == ""
    wait_for_cleanup(cache)
    assert keys(versions[1])[1] not in layers(cache)["app"]
    assert leftovers(cache) == []
    for binary in (versions[4], other):
        assert run_ok(hidden, binary, "after") == ""
        verify(hidden, binary)
    # An old version still starts (unpacking again) and becomes the newest.
    assert run_ok(hidden, versions[0], "again") == ""
    verify(hidden, versions[0])


def test_a_layer_being_unpacked_survives_a_cleanup(hidden: Hidden, hooked_maker: Maker) -> None:
    cache = hidden.cache
    old, new = hooked_maker.binary("tinyapp", 0), hooked_maker.binary("tinyapp", 1, runtime=2)
    assert run_ok(hidden, old, "old") == ""
    wait_for_cleanup(cache)
    age(cache, 15)
    # `new` stops half-way through its runtime layer, holding that layer's lock.
    stopped = hidden.popen([str(new), "stopped"], {"ONEFILE_TEST_STOP": "entry:100"})
    try:
        wait_stopped(stopped.pid)
        assert any(n.startswith(".tmp-") for n in os.listdir(cache / "runtime"))
        assert run_ok(hidden, hooked_maker.binary("otherapp", 0), "cold") == ""
        wait_for_cleanup(cache)
        assert any(n.startswith(".tmp-") for n in os.listdir(cache / "runtime"))
        assert keys(old)[1] in layers(cache)["app"]  # still its app's newest: `new` has not got there
    finally:
        stopped.send_signal(signal.SIGCONT)
    out, err = stopped.communicate(timeout=120)
    assert stopped.returncode == 0 and out.split()[3:] == ["stopped"], err
    wait_for_cleanup(cache)
    # Its own clean-up took the old version away.
    assert layers(cache)["app"] == {keys(new)[1], keys(hooked_maker.binary("otherapp", 0))[1]}
    assert leftovers(cache) == []
    verify(hidden, new)


def test_keep_days_zero_keeps_only_the_newest_and_bad_values_are_refused(hidden: Hidden, maker: Maker) -> None:
    cache = hidden.cache
    for i in range(3):
        assert run_ok(hidden, maker.binary("tinyapp", i), "v", env={"ONEFILE_CACHE_KEEP_DAYS": "0"}) == ""
        wait_for_cleanup(cache)
    assert layers(cache)["app"] == {keys(maker.binary("tinyapp", 2))[1]}
    for bad in ("x", "-1", "1.5", "36501", " 3"):
        result = hidden.run([str(maker.binary("tinyapp", 2))], {"ONEFILE_CACHE_KEEP_DAYS": bad})
        assert result.returncode == 1 and result.stdout == "", result.stdout
        (line,) = result.stderr.splitlines()
        assert ERROR.match(line) and f"ONEFILE_CACHE_KEEP_DAYS={bad}: not a number of days" in line, line


def test_concurrent_starts_while_cleanups_are_due(hidden: Hidden, maker: Maker) -> None:
    cache = hidden.cache
    old = [maker.binary("tinyapp", i, runtime=1 + i % 2) for i in range(4)]
    new = [maker.binary("tinyapp", 10 + i, runtime=1 + i % 2) for i in range(4)]
    for binary in old:
        assert run_ok(hidden, binary, "setup") == ""
        wait_for_cleanup(cache)
    age(cache, 15)
    # 16 at once: each new version twice (cold, each starting a clean-up), each old one twice (warm, due).
    order = [*new, *new, *old, *old]
    processes = [hidden.popen([str(b), "run", str(i)]) for i, b in enumerate(order)]
    for i, p in enumerate(processes):
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert out.split()[:2] == ["tinyapp", "ok"] and out.split()[3:] == ["run", str(i)], out
        assert all(REPAIR_NOTE.match(line) for line in err.splitlines()), err
    wait_for_cleanup(cache)
    assert leftovers(cache) == []
    present = layers(cache)
    for binary in [*old, *new]:
        runtime, app = keys(binary)
        if app in present["app"]:
            assert runtime in present["runtime"]
            verify(hidden, binary)  # nothing half-removed
    for runtime in present["runtime"]:
        verify(hidden, next(b for b in [*old, *new] if keys(b)[0] == runtime))
    for binary in [*old, *new]:
        stderr = run_ok(hidden, binary, "after")
        assert all(REPAIR_NOTE.match(line) for line in stderr.splitlines()), stderr


def test_killed_cleanups_never_break_a_later_start(hidden: Hidden, hooked_maker: Maker) -> None:
    cache = hidden.cache
    rng = random.Random(15)
    binaries = [hooked_maker.binary("tinyapp", i, runtime=1 + i % 2) for i in range(20)]
    killed_mid_way = 0
    for i, binary in enumerate(binaries):
        if i > 0:
            age(cache, 15)
        point = rng.choice(["cleaner:1", "clean:1", "clean:2", "moved:1", "moved:2", f"remove:{rng.randint(1, 150)}"])
        result = hidden.run([str(binary), "trial"], {"ONEFILE_TEST_KILL": point})
        wait_for_cleanup(cache)
        if result.returncode != 0:  # the launcher itself met the point (sweeping), before the app ran
            assert result.returncode == -signal.SIGKILL, result.stderr
        killed_mid_way += bool(leftovers(cache))
        # Every later start works: this version, and the one before (maybe half-removed just now).
        for later in (binary, binaries[i - 1]):
            stderr = run_ok(hidden, later, "later")
            assert all(REPAIR_NOTE.match(line) for line in stderr.splitlines()), stderr
            wait_for_cleanup(cache)
    print(f"\n{killed_mid_way} of {len(binaries)} clean-ups were killed with something half-removed")
    assert killed_mid_way >= 3
    age(cache, 15)
    run_ok(hidden, hooked_maker.binary("otherapp", 0), "final")
    wait_for_cleanup(cache)
    assert leftovers(cache) == []
    for binary in binaries[-2:]:
        run_ok(hidden, binary, "end")
        verify(hidden, binary)


# ---- self-repair ----


@pytest.mark.parametrize("damage", ["app bin/python removed", "runtime python emptied", "runtime python not executable"])
def test_a_layer_that_cannot_exec_repairs_itself(hidden: Hidden, maker: Maker, damage: str) -> None:
    binary = maker.binary()
    assert run_ok(hidden, binary, "first") == ""
    runtime, app = keys(binary)
    python3 = hidden.cache / "runtime" / runtime / "bin" / "python3"
    if damage == "app bin/python removed":
        (hidden.cache / "app" / app / "bin" / "python").unlink()
    elif damage == "runtime python emptied":
        python3.write_bytes(b"")
    else:
        python3.chmod(0o644)
    stderr = run_ok(hidden, binary, "repaired")
    assert REPAIR_NOTE.match(stderr.strip()), stderr
    verify(hidden, binary)
    assert run_ok(hidden, binary, "warm") == ""


def test_damage_that_does_not_stop_exec_is_left_to_verify(hidden: Hidden, maker: Maker) -> None:
    binary = maker.binary()
    assert run_ok(hidden, binary, "first") == ""
    cli = next((hidden.cache / "app" / keys(binary)[1]).rglob("tinyapp/cli.py"))
    cli.write_text(cli.read_text().replace('"tinyapp ok"', '"tinyapp ok"  # edited'))
    assert run_ok(hidden, binary, "edited") == ""  # the warm path hashes nothing
    result = hidden.run([str(binary)], {"ONEFILE": "verify"})
    assert result.returncode == 1 and re.search(r"changed \((content|size)\): \S+/tinyapp/cli.py", result.stdout)


def test_an_exec_failure_that_is_not_damage_is_reported_once(hidden: Hidden, maker: Maker, tmp_path: Path) -> None:
    # A runtime whose interpreter is an empty executable: exec fails with ENOEXEC, but the
    # directory matches its layer, so there is nothing to repair.
    runtime = maker.parts.runtime.without({b"runtime/bin/python3"}, level=9, epoch=0)
    runtime = _extend(runtime, "runtime/", FileEntry("bin/python3", MODE_EXECUTABLE, b""))
    buf = io.BytesIO()
    needs = Needs(maker.trailer.glibc_bitmap, app_id("a", "a"), maker.trailer.libc == LIBC_GLIBC_BUNDLED)
    write_binary(buf, maker.stub, runtime, maker.parts.app, zipapp_block(0), epoch=0, needs=needs)
    binary = tmp_path / "tinyapp"
    binary.write_bytes(buf.getvalue())
    binary.chmod(0o755)
    for _ in range(2):
        result = hidden.run([str(binary), "x"])
        assert result.returncode == 1
        (line,) = result.stderr.splitlines()
        assert ERROR.match(line) and "cannot execute" in line and "Exec format error" in line, line
        assert "ONEFILE=verify" in line
    verify(hidden, binary)


# ---- durability and the warm path ----


def _trace(hidden: Hidden, binary: Path, out: Path, calls: str) -> list[str]:
    """strace of a start (-y: fds shown with their paths)."""
    result = hidden.run([require("strace"), "-f", "-qq", "-y", "-o", str(out), "-e", f"trace={calls}", str(binary), "traced"])
    assert result.returncode == 0, result.stderr
    return out.read_text().splitlines()


def _published(lines: list[str], binary: Path) -> dict[str, tuple[int, str, str]]:
    """Per layer kind: (line, temporary directory, final directory) of its publishing rename."""
    found = {}
    for key, kind in zip(keys(binary), ("runtime", "app"), strict=True):
        renames = [(i, m) for i, line in enumerate(lines) if (m := re.search(rf'rename\w*\(.*"(\S+/{kind}/\.tmp-{key}-\w+)", .*"(\S+/{kind}/{key})"', line))]
        assert len(renames) == 1, lines
        found[kind] = (renames[0][0], renames[0][1].group(1), renames[0][1].group(2))
    return found


def _pending(directory: Path) -> bool:
    return (directory.stat().st_mode & 0o777) == 0o700 and (directory / CACHE_PENDING_FILE).is_file()


def test_a_layer_is_published_first_and_flushed_then_marked_by_the_cleanup(hidden: Hidden, maker: Maker, tmp_path: Path) -> None:
    binary = maker.binary()
    # strace -f follows the detached clean-up too, and ends when it does.
    lines = _trace(hidden, binary, tmp_path / "trace", "syncfs,rename,renameat,renameat2,fchmod,unlinkat")
    boot = Path(CACHE_BOOT_ID).read_text()
    for published, tmp, final in _published(lines, binary).values():
        assert not any(re.search(rf"syncfs\(\d+<{re.escape(tmp)}>\)", line) for line in lines[:published]), lines
        # In the clean-up: one flush of the file system the layer is on, then the mark.
        after = [line for line in lines[published:] if f"<{final}>" in line]
        calls = [line.split()[1].split("(")[0] for line in after]
        assert calls[-2:] == ["fchmod", "unlinkat"], after
        assert re.search(r"fchmod\(\d+<[^>]+>, 0755\) += 0$", after[-2]), after
        assert CACHE_PENDING_FILE in after[-1] and after[-1].split()[-1] == "0", after
        flushes = [i for i, line in enumerate(lines[published:]) if line.split()[1].startswith("syncfs(") and line.split()[-1] == "0"]
        assert flushes and lines[published + flushes[0]].split()[0] == after[-2].split()[0], lines[published:]  # same process
        directory = Path(final)
        assert (directory.stat().st_mode & 0o777) == 0o755 and not (directory / CACHE_PENDING_FILE).exists()
    assert len(boot) == 37  # the id a pending layer names


# The app's Python (ONEFILE=python): says it runs (argv[1]), then waits for argv[2] to
# exist or, with argv[3], for that directory to be flushed (mode 0755); 60 s at most.
_WAITER = """import os, sys, time
open(sys.argv[1], "w").close()
end = time.monotonic() + 60
while time.monotonic() < end and not (
    os.path.exists(sys.argv[2]) if len(sys.argv) == 3 else os.stat(sys.argv[3]).st_mode & 0o777 == 0o755
):
    time.sleep(0.02)
sys.exit(time.monotonic() >= end)
"""


def _until(path: Path, running: subprocess.Popen[str]) -> None:
    for _ in range(3000):
        if path.exists():
            return
        assert running.poll() is None, running.communicate()
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


def test_the_cleanup_flushes_once_the_app_has_exited_or_after_a_few_seconds(
    hidden: Hidden, maker: Maker, tmp_path: Path
) -> None:
    """The flush waits for the app it was started for, so it doesn't compete with the
    app's start (docs/reliability.md "Power cuts"); an app that runs on gets its layers
    flushed while it runs, a few seconds in."""
    binary = maker.binary()
    runtime, app = (hidden.cache / kind / key for kind, key in zip(("runtime", "app"), keys(binary), strict=True))
    started, stop = tmp_path / "started", tmp_path / "stop"
    running = hidden.popen([str(binary), "-c", _WAITER, str(started), str(stop)], {"ONEFILE": "python"})
    _until(started, running)
    time.sleep(0.5)  # the clean-up runs by now, waiting for the app (3 s at most)
    assert _pending(runtime) and _pending(app)
    stop.touch()
    assert running.wait(timeout=60) == 0, running.communicate()
    wait_for_cleanup(hidden.cache)
    assert not _pending(runtime) and not _pending(app) and (app.stat().st_mode & 0o777) == 0o755
    # Another app (same runtime) that waits for its own layer to be flushed, and gets it.
    other = maker.binary("otherapp", 0)
    flushed = hidden.cache / "app" / keys(other)[1]
    started.unlink()
    running = hidden.popen([str(other), "-c", _WAITER, str(started), "-", str(flushed)], {"ONEFILE": "python"})
    assert running.wait(timeout=120) == 0, running.communicate()
    assert not _pending(flushed)


def test_without_a_boot_id_a_layer_is_flushed_before_it_is_published(hidden: Hidden, maker: Maker, tmp_path: Path) -> None:
    binary = maker.binary()
    # No boot id to tell a later boot by (no /proc): flush first, publish flushed.
    mask = f"{shutil.which('mount')} --bind /dev/null {CACHE_BOOT_ID} && exec \"$@\""
    out = tmp_path / "trace"
    strace = [require("strace"), "-f", "-qq", "-y", "-o", str(out), "-e", "trace=syncfs,rename,renameat,renameat2"]
    result = hidden.run(["/bin/sh", "-c", mask, "sh", *strace, str(binary), "traced"])
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    for published, tmp, final in _published(lines, binary).values():
        flushed = [line for line in lines[:published] if line.split()[-1] == "0" and re.search(rf"syncfs\(\d+<{re.escape(tmp)}>\)", line)]
        assert len(flushed) == 1, lines[: published + 1]
        assert (Path(final).stat().st_mode & 0o777) == 0o755 and not (Path(final) / CACHE_PENDING_FILE).exists()


def test_a_layer_left_unflushed_by_an_earlier_boot_is_unpacked_again(hidden: Hidden, maker: Maker) -> None:
    binary = maker.binary()
    assert run_ok(hidden, binary, "first") == ""
    wait_for_cleanup(hidden.cache)
    app = hidden.cache / "app" / keys(binary)[1]
    cli = next(app.rglob("tinyapp/cli.py"))

    def leave_pending(boot: str) -> None:
        """As a start of boot `boot` leaves it when the machine stops before its clean-up
        flushed it (an edit stands for what a power cut may lose)."""
        cli.write_text(cli.read_text().replace('"tinyapp ok"', '"tinyapp ok"  # lost'))
        (app / CACHE_PENDING_FILE).write_text(boot + "\n")
        app.chmod(0o700)

    # Pending since this boot: the page cache holds what was written, so it is used as it is.
    leave_pending(Path(CACHE_BOOT_ID).read_text().strip())
    assert run_ok(hidden, binary, "same-boot") == ""
    wait_for_cleanup(hidden.cache)
    assert "# lost" in cli.read_text() and not _pending(app)  # and flushed and marked since
    # Pending since another boot: it may have lost data, so it is unpacked again.
    leave_pending("0123abcd-0000-4000-8000-0123456789ab")
    assert run_ok(hidden, binary, "next-boot") == ""
    assert "# lost" not in cli.read_text()
    wait_for_cleanup(hidden.cache)
    assert not _pending(app)
    verify(hidden, binary)
    info = hidden.run([str(binary)], {"ONEFILE": "info"})
    assert f"app directory: {app} (unpacked)" in info.stdout, info.stdout


def test_a_cleanup_killed_before_it_marks_is_finished_by_a_later_start(hidden: Hidden, hooked_maker: Maker) -> None:
    binary = hooked_maker.binary()
    run_ok(hidden, binary, "first", env={"ONEFILE_TEST_KILL": "flushed:1"})  # the clean-up dies after its syncfs
    wait_for_cleanup(hidden.cache)
    runtime, app = (hidden.cache / kind / key for kind, key in zip(("runtime", "app"), keys(binary), strict=True))
    assert _pending(runtime) and _pending(app)
    info = hidden.run([str(binary)], {"ONEFILE": "info"})
    assert f"app directory: {app} (unpacked, being flushed to disk)" in info.stdout, info.stdout
    assert run_ok(hidden, binary, "warm") == ""  # a warm start that finds them pending starts a clean-up
    wait_for_cleanup(hidden.cache)
    assert not _pending(runtime) and not _pending(app)
    verify(hidden, binary)


def test_the_warm_path_costs_no_extra_system_call(hidden: Hidden, maker: Maker, tmp_path: Path) -> None:
    binary = maker.binary()
    assert run_ok(hidden, binary, "cold") == ""
    wait_for_cleanup(hidden.cache)
    runtime, app = keys(binary)

    def launcher_calls(name: str) -> list[str]:
        lines = _trace(hidden, binary, tmp_path / name, "all")
        mapped = next(i for i, line in enumerate(lines) if re.search(r"mmap\(NULL, \d+, PROT_READ, MAP_PRIVATE, 3<", line))
        execs = [i for i, line in enumerate(lines) if "execve(" in line and f"/app/{app}/bin/python" in line]
        return [line.split("(", 1)[0].split()[-1] for line in lines[mapped + 1 : execs[0]]]

    # The launcher is built with zig against musl, which spells them open and fstat on
    # x86_64. No mmap/munmap: the warm path allocates nothing (zig's malloc maps memory for
    # the first allocation of each size).
    # The choice of C library, on every start (the binary carries a glibc): the loader is
    # there (access), libc.so.6 defines a new enough GLIBC_2.y (open, 4 preads, close).
    choice = ["access", "open", "pread64", "pread64", "pread64", "pread64", "close"]
    warm = [*choice, "open", "fstat", "flock", "open", "fstat", "flock", "umask"]
    assert launcher_calls("warm") == warm
    # A day after the last recorded use: one more, to record this one.
    when = time.time() - 2 * DAY
    os.utime(hidden.cache / "app" / app, (when, when))
    assert launcher_calls("day") == [*warm[:-1], "utimensat", "umask"]
    assert time.time() - (hidden.cache / "app" / app).stat().st_mtime < 600
    assert launcher_calls("again") == warm
