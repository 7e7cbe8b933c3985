"""How compare.py measures a start: wall time, peak memory, time to first HTTP 200.

Wall times of command-line starts come from hyperfine (``-N``: no shell in between)
when it is installed, else from a plain loop around fork/exec that does the same thing
less precisely. Peak memory is the ``ru_maxrss`` that ``wait4`` reports for the started
process: the largest resident set of it *or* of any descendant it waited for (not a sum,
so a launcher that keeps a parent alive next to its child, as PyInstaller's does, shows
only the larger of the two).
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Mapping, Optional, Sequence, Union

HYPERFINE = shutil.which("hyperfine")


class StartFailed(Exception):
    """The measured command did not start (or serve) as it should."""


# Cold starts move the cache aside (a rename) instead of deleting it right before the
# start: on an ext4 without a journal (this VM's disk) a file created within a minute of
# thousands of deletions first scans past every recently deleted inode (fs/ext4/ialloc.c,
# recently_deleted()), which doubled onefile's measured cold start and no user's first
# start pays. The moved copies are removed later with remove_moved_aside().
# Then the disk is left to settle (sync): a start that unpacks leaves ~40-130 MB of dirty
# pages whose writeback would otherwise run during, and throttle, the next measured start
# (PyInstaller removes its files before they are written back); a user's first start
# doesn't follow a hundred others. Every tool's cold starts get the same.
_PREPARE_COLD = (
    "import os, sys, uuid; cache, aside = sys.argv[1:]; "
    "cache and os.path.lexists(cache) and (os.makedirs(aside, exist_ok=True), "
    "os.rename(cache, os.path.join(aside, uuid.uuid4().hex))); os.sync()"
)


# The same inode scan makes a first start slow for a minute after *any* big deletion near
# its cache: the builds just before an app's starts delete thousands of files (pip's and
# PyInstaller's temp trees), and numbers' cold starts measured 0.69x PyInstaller right
# after them against 0.46x a minute later (docs/performance.md, session 9). ext4 skips an
# inode deleted less than 60 s ago (300 s more while its inode table block is dirty, hence
# the sync first).
SETTLE_SECONDS = 61


def settle_deletions(file_system: str) -> bool:
    """Before an app's timed starts on a disk: sync, then wait until the inodes the builds
    deleted no longer count as recently deleted. False (no wait) on tmpfs."""
    if file_system == "tmpfs":
        return False
    os.sync()
    time.sleep(SETTLE_SECONDS)
    return True


def moved_aside_dir(cache: Path) -> Path:
    return cache.with_name(cache.name + ".moved-aside")


def _prepare_cold_argv(cache: Optional[Path]) -> list[str]:
    aside = [str(cache), str(moved_aside_dir(cache))] if cache is not None else ["", ""]
    return [sys.executable, "-c", _PREPARE_COLD] + aside


def prepare_cold(cache: Optional[Path]) -> None:
    """Before a cold start: move the run-time cache (if any) aside and let the disk settle."""
    subprocess.run(_prepare_cold_argv(cache), check=True)


def remove_moved_aside(cache: Optional[Path]) -> None:
    if cache is not None:
        remove_tree(moved_aside_dir(cache))


# Trees removed while a run measures (build dirs, moved-aside caches) are renamed into a
# trash directory on the same file system and deleted when the run ends: a precaution
# for the reason given above _PREPARE_COLD (deleting a cache right before a start slowed
# it), applied to every deletion of the run.
_trash: Optional[Path] = None


def use_trash(directory: Path) -> None:
    global _trash
    directory.mkdir(parents=True, exist_ok=True)
    _trash = directory


def remove_tree(path: Optional[Path]) -> None:
    if path is None or not os.path.lexists(path):
        return
    if _trash is not None:
        try:
            os.rename(path, _trash / uuid.uuid4().hex)
            return
        except OSError:  # another file system (--run-dir): delete it now
            pass
    shutil.rmtree(path, ignore_errors=True)


def empty_trash() -> None:
    if _trash is not None:
        shutil.rmtree(_trash, ignore_errors=True)


def time_starts(
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    runs: int,
    warmup: int,
    cold: bool = False,
    clear: Optional[Path] = None,
) -> list[float]:
    """Wall-clock seconds of ``runs`` starts; ``cold``: each after prepare_cold(clear)."""
    if HYPERFINE:
        return _hyperfine(HYPERFINE, command, env, runs=runs, warmup=warmup, cold=cold, clear=clear)
    for _ in range(warmup):
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    times = []
    for _ in range(runs):
        if cold:
            prepare_cold(clear)
        started = time.perf_counter()
        result = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - started)
        if result.returncode != 0:
            raise StartFailed(f"exit status {result.returncode}: {result.stderr.decode(errors='replace')[-500:]}")
    return times


def _hyperfine(
    hyperfine: str,
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    runs: int,
    warmup: int,
    cold: bool,
    clear: Optional[Path],
) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="compare-hyperfine-") as scratch:
        export = os.path.join(scratch, "result.json")
        argv = [hyperfine, "-N", "--style", "none", "--runs", str(runs), "--warmup", str(warmup)]
        if cold:  # -N: hyperfine splits this like a shell would, and runs no shell
            argv += ["--prepare", shlex.join(_prepare_cold_argv(clear))]
        argv += ["--export-json", export, "--", shlex.join(command)]
        result = subprocess.run(argv, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise StartFailed(result.stderr.strip()[-800:] or f"hyperfine exit status {result.returncode}")
        with open(export, encoding="utf-8") as f:
            return [float(t) for t in json.load(f)["results"][0]["times"]]


def measure_peak_rss(
    command: Sequence[str], env: Mapping[str, str], *, cold: bool = False, clear: Optional[Path] = None
) -> int:
    """Bytes: the peak resident set of one start of ``command``."""
    if cold:
        prepare_cold(clear)
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise StartFailed(f"exit status {process.returncode}")
    return usage.ru_maxrss * 1024


def find_free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Served:
    seconds: float  # from just before the fork to the first 200 response
    max_rss: int  # bytes, over the server's whole life (see the module docstring)
    path: str  # the URL path that answered 200


def _get(port: int, path: str) -> Optional[int]:
    """The status of GET http://127.0.0.1:port/path, or None when nothing answers yet."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except (TimeoutError, ConnectionError, http.client.HTTPException):
        return None
    except OSError as exc:
        if exc.errno in (errno.ECONNREFUSED, errno.ECONNRESET, errno.EPIPE):
            return None
        raise
    finally:
        connection.close()


def serve_once(
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    port: int,
    paths: Sequence[str],
    cold: bool = False,
    clear: Optional[Path] = None,
    timeout: float = 60.0,
    traced: bool = False,
) -> Served:
    """Start a server, wait for its first HTTP 200 on 127.0.0.1:port, then SIGTERM it.

    ``paths`` are asked in turn: the next one once the server has answered the current
    one with something other than 200 (to find a health URL; timed runs pass one path).
    ``traced``: ``command`` is strace running the server; the SIGTERM goes to the server,
    so that strace follows its shutdown and exits after it (strace itself would detach).
    Its output then goes to /dev/null, as a command-line start's does: kept in a file, it
    would count as written by the server.
    """
    if cold:
        prepare_cold(clear)
    asked = list(paths)
    statuses = []
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        sink: Union[int, IO[bytes]] = subprocess.DEVNULL if traced else log
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=sink, start_new_session=True)
        seconds, exited = None, False
        try:
            while asked and time.perf_counter() - started < timeout and process.poll() is None:
                status = _get(port, asked[0])
                if status == 200:
                    seconds = time.perf_counter() - started
                    break
                if status is None:
                    time.sleep(0.002)
                else:
                    statuses.append(f"{asked.pop(0)}: {status}")
            exited = process.poll() is not None
            if not exited:
                if traced:
                    os.kill(_find_child(process.pid), signal.SIGTERM)
                else:
                    process.send_signal(signal.SIGTERM)
            usage = _reap(process, grace=15.0)
        finally:
            if process.returncode is None:  # an exception above: leave nothing running
                _kill_group(process)
                process.wait()
        if seconds is None:
            log.seek(0)
            output = log.read().decode(errors="replace").strip()[-800:]
            if traced:
                output = "(its output is not kept under strace)"
            state = f"exited with status {process.returncode}" if exited else "still running"
            answers = f" (answers: {', '.join(statuses)})" if statuses else ""
            raise StartFailed(f"no HTTP 200 on 127.0.0.1:{port} within {timeout:.0f} s{answers} ({state}): {output}")
    return Served(seconds, usage.ru_maxrss * 1024, asked[0])


def _find_child(pid: int) -> int:
    """The process ``pid`` started (a tracer's tracee); ``pid`` itself if there is none.
    From /proc/*/stat: /proc/PID/task/PID/children needs CONFIG_PROC_CHILDREN."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as f:
                stat = f.read()
        except OSError:  # it exited meanwhile
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:  # after ")": state, ppid, ...
            return int(entry)
    return pid


def _reap(process: subprocess.Popen[bytes], grace: float) -> resource.struct_rusage:
    """wait4 the server, killing its whole process group if it outstays ``grace``."""
    deadline = time.monotonic() + grace
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            _kill_group(process)  # workers that outlived their master
            return usage
        if time.monotonic() > deadline:
            _kill_group(process)
        time.sleep(0.01)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
