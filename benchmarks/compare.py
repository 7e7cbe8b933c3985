#!/usr/bin/env python3
"""Build the example apps with onefile-backend and its peers; compare starts, size, builds.

    python benchmarks/compare.py [--apps hello,numbers,server]
        [--tools onefile,pyinstaller,shiv,pex,pex-venv,venv] [--runs 10] [--json out.json]

Per app and tool, in one run on one machine, with the interpreter running this script:

- warm start: median wall time with the tool's run-time cache populated (hyperfine);
- cold start: the same with that cache moved aside before each run (onefile's
  ONEFILE_CACHE_DIR, shiv's SHIV_ROOT, pex's PEX_ROOT; PyInstaller unpacks on every run
  anyway and a venv has nothing to unpack, so theirs is just another set of starts;
  every cold start, of every tool, after a sync);
- for a server app, a start lasts until the first HTTP 200 on 127.0.0.1 (then SIGTERM);
- size of what the user ships (for a venv: the venv directory, without the interpreter);
- build time from a clean tree with warm and with cold build caches, and the rebuild
  time after adding one line to the app's entry module;
- peak memory (max RSS) of a warm and of a cold start;
- bytes and files a cold start writes, from one more cold start under strace (_writes.py);

and every number as a ratio to the venv baseline and to PyInstaller --onefile.
Prints one markdown table (and writes JSON with every sample when asked).

pyinstaller, shiv and pex are pip-installed into a throwaway venv under the work dir
(never into the running Python); a tool that does not install or build is skipped with
the reason. Every PYTHON* variable (PYTHONDONTWRITEBYTECODE among them) is removed for
all builds and runs alike, so each tool may write bytecode as on a user's machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Optional

from _peers import PIP_TOOLS, REPO, TOOLS, App, Context, Tool, change_one_line, copy_clean_tree, load_app, run_checked
from _timing import (
    HYPERFINE,
    SETTLE_SECONDS,
    Served,
    StartFailed,
    empty_trash,
    find_free_port,
    measure_peak_rss,
    remove_moved_aside,
    remove_tree,
    serve_once,
    settle_deletions,
    time_starts,
    use_trash,
)
from _writes import count_writes, find_strace, run_cold

DEFAULT_APPS = "hello,numbers,server"
DEFAULT_TOOLS = "onefile,pyinstaller,shiv,pex,pex-venv,venv"
BASELINE, PEER = "venv", "pyinstaller"
WARMUP = 3
MAX_ROUNDS = 5  # starts are taken in rounds that cycle through the tools (see split_runs())
RSS_RUNS = 5


def log(message: str) -> None:
    print(f"[compare] {message}", file=sys.stderr, flush=True)


@dataclass
class Result:
    app: str
    tool: str
    build_cold_s: Optional[float] = None
    build_s: Optional[float] = None
    rebuild_s: Optional[float] = None
    size_bytes: Optional[int] = None
    warm_s: Optional[float] = None
    cold_s: Optional[float] = None
    rss_warm_bytes: Optional[int] = None
    rss_cold_bytes: Optional[int] = None
    written_bytes: Optional[int] = None  # by one cold start (see _writes.py)
    files_written: Optional[int] = None
    warm_samples: list[float] = field(default_factory=list)
    cold_samples: list[float] = field(default_factory=list)
    error: Optional[str] = None
    details: dict[str, Any] = field(default_factory=dict)


def clean_environment() -> dict[str, str]:
    """The caller's environment without PYTHON*, ONEFILE_* and the tools' cache variables."""
    dropped = ("PYTHON", "ONEFILE_", "UV_CACHE_DIR", "PIP_CACHE_DIR", "SHIV_ROOT", "PEX_ROOT", "PYINSTALLER_")
    return {key: value for key, value in os.environ.items() if not key.startswith(dropped)}


def describe_machine() -> dict[str, object]:
    def first(path: str, key: str) -> str:
        try:
            with open(path, encoding="utf-8") as f:
                return next((line.split(":", 1)[1].strip() for line in f if line.startswith(key)), "?")
        except OSError:
            return "?"

    hyperfine = subprocess.run([HYPERFINE, "--version"], capture_output=True, text=True).stdout if HYPERFINE else ""
    return {
        "nproc": os.cpu_count(),
        "memory": f"{int(first('/proc/meminfo', 'MemTotal').split()[0]) / 2**20:.1f} GiB",
        "cpu": first("/proc/cpuinfo", "model name"),
        "kernel": platform.release(),
        "python": f"{platform.python_version()} ({sys.executable})",
        "hyperfine": hyperfine.strip() or "not installed: a plain fork/exec loop measures starts",
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def snapshot_onefile_backend(work: Path) -> Path:
    """Copy onefile_backend (with its built launcher) so edits made meanwhile don't mix in."""
    root = work / "onefile-backend"
    remove_tree(root)
    shutil.copytree(REPO / "onefile_backend", root / "onefile_backend", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def describe_checkout() -> str:
    """The commit the run builds with, and whether onefile_backend/ or stub/ differ from it."""

    def git(*args: str) -> str:
        result = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    changed = git("status", "--porcelain", "--", "onefile_backend", "stub")
    return f"{commit}{' + uncommitted changes in onefile_backend/ or stub/' if changed else ''}"


def install_peer_tools(context: Context, wanted: set[str], env: dict[str, str]) -> dict[str, str]:
    """pip-install the peers into a throwaway venv; return {package: reason} for failures."""
    packages = sorted({"pex" if name.startswith("pex") else name for name in wanted} & set(PIP_TOOLS))
    if not packages:
        return {}
    venv = context.work / "venvs" / "tools"
    failed = {}
    try:
        run_checked([context.python, "-m", "venv", str(venv)], env, "creating the tools venv")
    except RuntimeError as exc:
        return {package: str(exc) for package in packages}
    context.tools_bin = venv / "bin"
    for package in packages:
        log(f"installing {package} into {venv}")
        try:
            run_checked([str(venv / "bin" / "pip"), "install", "-q", package], env, f"pip install {package}")
            version = subprocess.run(
                [str(venv / "bin" / "python"), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            context.versions[package] = version
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            failed[package] = str(exc)
    return failed


def read_onefile_layers(binary: Path) -> dict[str, dict[str, int]]:
    """The layer sizes from the binary's trailer (docs/format.md)."""
    with open(binary, "rb") as f:
        f.seek(-192, os.SEEK_END)
        trailer = f.read(192)
    if trailer[184:192] != b"OneFile\x1a":
        return {}
    layers = {}
    for index, name in enumerate(("runtime", "app")):
        offset, size, count, unpacked = struct.unpack_from("<4Q", trailer, 8 + 64 * index)
        layers[name] = {"bytes": size, "entries": count, "unpacked_bytes": unpacked}
    return layers


def timed_build(
    tool: Tool, app: App, tree: Path, out: Path, env: dict[str, str], rebuild: bool, details: dict[str, Any]
) -> float:
    out.mkdir(parents=True, exist_ok=True)
    output = []
    started = time.perf_counter()
    for command in tool.build_commands(app, tree, out, rebuild):
        output.append(run_checked(command, env, f"{tool.name} build ({shlex.join(command)[:200]})"))
    seconds = time.perf_counter() - started
    # onefile says where its build time went ("* stages: wheel 0.3 s, ...") and what it wrote.
    summary = [line for text in output for line in text.splitlines() if line.startswith(("* stages:", str(out)))]
    if summary:
        details.setdefault("build_summaries", []).append(summary)
    return seconds


def build_app(tool: Tool, app: App, env: dict[str, str]) -> tuple[Result, Optional[Path]]:
    """Cold-cache build, clean-tree build, one-line rebuild; return the result and artifact."""
    result = Result(app.name, tool.name)
    base = tool.context.work / app.name / tool.name
    tree, caches = base / "src", base / "build-caches"
    build_env = {**env, **tool.cache_env(caches)}
    remove_tree(base)  # a reused --work dir: start clean
    try:
        copy_clean_tree(app, tree, setuptools=tool.setuptools_tree)
        tool.prepare(app, tree, env)
        log(f"{app.name}/{tool.name}: build with cold caches")  # `caches` starts empty: this fills it
        result.build_cold_s = timed_build(tool, app, tree, base / "out-cold", build_env, False, result.details)
        remove_tree(base / "out-cold")
        remove_tree(base / "out-cold-pyinstaller")  # PyInstaller's work dir for that build
        remove_tree(tree)
        copy_clean_tree(app, tree, setuptools=tool.setuptools_tree)
        log(f"{app.name}/{tool.name}: build from a clean tree with warm caches")
        result.build_s = timed_build(tool, app, tree, base / "out", build_env, False, result.details)
        change_one_line(app, tree, 1)
        log(f"{app.name}/{tool.name}: rebuild after a one-line change")
        result.rebuild_s = timed_build(tool, app, tree, base / "out", build_env, True, result.details)
        artifact = tool.artifact(app, base / "out")
        result.size_bytes = tool.size(artifact)
        if tool.name == "onefile":
            result.details["layers"] = read_onefile_layers(artifact)
        return result, artifact
    except (RuntimeError, OSError, LookupError) as exc:
        result.error = f"build failed: {exc}"
        log(f"{app.name}/{tool.name}: {result.error}")
        return result, None


def run_dir(tool: Tool) -> Path:
    return tool.context.run_dir or tool.context.work / "run-caches"


def run_cache_dir(tool: Tool, app: App) -> Optional[Path]:
    if tool.run_cache_variable is None:
        return None
    return run_dir(tool) / f"{tool.name}-{app.name}"


def start_env(tool: Tool, app: App, env: dict[str, str]) -> dict[str, str]:
    """The environment of a start: the tool's run-time cache, and a TMPDIR (where
    PyInstaller unpacks) on the same file system."""
    temporary = run_dir(tool) / "tmp"
    temporary.mkdir(parents=True, exist_ok=True)
    cache = run_cache_dir(tool, app)
    extra = {tool.run_cache_variable: str(cache)} if tool.run_cache_variable and cache else {}
    return {**env, "TMPDIR": str(temporary), **extra}


def split_runs(runs: int) -> list[int]:
    """Split ``runs`` into rounds that cycle through the tools, so drift hits all alike."""
    count = min(runs, MAX_ROUNDS)
    return [runs // count + (1 if i < runs % count else 0) for i in range(count)]


def start_of(
    tool: Tool, app: App, artifact: Path, env: dict[str, str]
) -> tuple[list[str], dict[str, str], Optional[Path]]:
    """How to start ``artifact``: its command, environment and run-time cache (or None)."""
    return tool.start_command(app, artifact) + list(app.args), start_env(tool, app, env), run_cache_dir(tool, app)


def record_writes(app: App, tool: Tool, result: Result, strace: str, start: Callable[[list[str]], object]) -> None:
    """What one more cold start writes, traced apart from the timed ones (strace slows it)."""
    log(f"{app.name}/{tool.name}: bytes written by a cold start (strace)")
    try:
        writes = count_writes(strace, start)
    except (StartFailed, OSError) as exc:
        result.details["writes_error"] = str(exc)
        return
    result.written_bytes, result.files_written = writes.bytes, writes.files
    result.details["writes"] = writes.as_details()


def measure_cli_starts(
    app: App, built: list[tuple[Tool, Result, Path]], env: dict[str, str], runs: int, strace: Optional[str]
) -> None:
    """Warm and cold starts, each in rounds across the tools; then peak memory and writes."""
    for kind in ("warm", "cold"):
        for number, count in enumerate(split_runs(runs), 1):
            for tool, result, artifact in built:
                if result.error:
                    continue
                log(f"{app.name}/{tool.name}: {kind} starts, round {number}")
                command, tool_env, cache = start_of(tool, app, artifact, env)
                try:
                    if kind == "warm":
                        result.warm_samples += time_starts(command, tool_env, runs=count, warmup=WARMUP)
                    else:
                        samples = time_starts(command, tool_env, runs=count, warmup=0, cold=True, clear=cache)
                        result.cold_samples += samples
                except StartFailed as exc:
                    result.error = f"does not start: {exc}"
    for tool, result, artifact in built:
        if result.error:
            continue
        log(f"{app.name}/{tool.name}: peak memory")
        command, tool_env, cache = start_of(tool, app, artifact, env)
        try:
            cold = [measure_peak_rss(command, tool_env, cold=True, clear=cache) for _ in range(RSS_RUNS)]
            measure_peak_rss(command, tool_env)  # populate the cache again
            warm = [measure_peak_rss(command, tool_env) for _ in range(RSS_RUNS)]
            result.rss_cold_bytes, result.rss_warm_bytes = int(statistics.median(cold)), int(statistics.median(warm))
        except StartFailed as exc:
            result.error = f"does not start: {exc}"
    for tool, result, artifact in built:
        if strace and not result.error:
            command, tool_env, cache = start_of(tool, app, artifact, env)
            record_writes(app, tool, result, strace, partial(run_cold, command=command, env=tool_env, cache=cache))


def plan_server(app: App, probe: list[str], env: dict[str, str]) -> tuple[list[str], list[str]]:
    """How to start the server on a port of ours: (args with "{port}", URL paths to try).

    The server examples are another engineer's: read their ``--help`` for --bind, --port
    and --host, and their README for a URL; the port also goes into the usual variables
    (see server_env). The paths are tried in turn until one answers 200.
    """
    readme = app.source / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    urls = re.findall(r"https?://(?:127\.0\.0\.1|localhost|0\.0\.0\.0|\[::1\]):\d+(/[^\s`'\")<>]*)", text)
    paths = list(dict.fromkeys(urls + ["/", "/health", "/healthz"]))
    try:
        help_text = subprocess.run(
            probe + ["--help"], env=env, capture_output=True, text=True, timeout=30, start_new_session=True
        ).stdout
    except subprocess.TimeoutExpired:  # it started serving instead: no options to find
        help_text = ""
    if "--bind" in help_text:
        return ["--bind", "127.0.0.1:{port}"], paths
    if "--port" in help_text:
        return ["--port", "{port}"] + (["--host", "127.0.0.1"] if "--host" in help_text else []), paths
    return [], paths


def server_env(env: dict[str, str], port: int) -> dict[str, str]:
    return {
        **env,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port}",
        "UVICORN_HOST": "127.0.0.1",
        "UVICORN_PORT": str(port),
    }


def measure_server_starts(
    app: App, built: list[tuple[Tool, Result, Path]], env: dict[str, str], runs: int, strace: Optional[str]
) -> None:
    """Starts until the first HTTP 200; warm in rounds across the tools, then cold; then writes."""
    live = sorted(built, key=lambda item: item[0].name != BASELINE)  # the baseline probes first
    if not live:
        return
    probe_tool, _, probe_artifact = live[0]
    args, paths = plan_server(app, probe_tool.start_command(app, probe_artifact), start_env(probe_tool, app, env))

    def serve(tool: Tool, artifact: Path, paths: list[str], cold: bool, prefix: Optional[list[str]] = None) -> Served:
        """``prefix``: strace and its options, to trace the start (record_writes)."""
        port = find_free_port()
        command = (prefix or []) + tool.start_command(app, artifact) + [a.replace("{port}", str(port)) for a in args]
        tool_env = server_env(start_env(tool, app, env), port)
        clear = run_cache_dir(tool, app)
        return serve_once(command, tool_env, port=port, paths=paths, cold=cold, clear=clear, traced=bool(prefix))

    for tool, result, artifact in live:  # fill the caches; the first that serves picks the path
        try:
            paths = [serve(tool, artifact, paths, False).path]
        except StartFailed as exc:
            result.error = f"does not serve: {exc}"
    log(f"{app.name}: started with {' '.join(args) or '(no arguments)'}, timed to the first 200 on {paths[0]}")
    rss: dict[tuple[str, str], list[int]] = {}  # (tool, kind) -> samples
    for kind in ("warm", "cold"):
        for number, count in enumerate(split_runs(runs), 1):
            for tool, result, artifact in live:
                if result.error:
                    continue
                log(f"{app.name}/{tool.name}: {kind} server starts, round {number}")
                try:
                    for _ in range(count):
                        served = serve(tool, artifact, paths, kind == "cold")
                        (result.warm_samples if kind == "warm" else result.cold_samples).append(served.seconds)
                        rss.setdefault((tool.name, kind), []).append(served.max_rss)
                except StartFailed as exc:
                    result.error = f"does not serve: {exc}"
    for tool, result, _ in live:
        if not result.error:
            result.rss_warm_bytes = int(statistics.median(rss[(tool.name, "warm")]))
            result.rss_cold_bytes = int(statistics.median(rss[(tool.name, "cold")]))
            result.details["url_path"] = paths[0]
    for tool, result, artifact in live:
        if strace and not result.error:
            record_writes(app, tool, result, strace, partial(serve, tool, artifact, paths, True))


# --- the report -----------------------------------------------------------------------

Metric = tuple[str, str, Callable[[float], str]]
METRICS: list[Metric] = [
    ("warm_s", "warm start, ms", lambda v: f"{v * 1000:.1f}"),
    ("cold_s", "cold start, ms", lambda v: f"{v * 1000:.1f}"),
    ("written_bytes", "written, MB", lambda v: f"{v / 1e6:.1f}"),
    ("files_written", "files written", lambda v: f"{v:.0f}"),
    ("size_bytes", "size, MB", lambda v: f"{v / 1e6:.1f}"),
    ("build_s", "build, clean tree, warm caches, s", lambda v: f"{v:.1f}"),
    ("build_cold_s", "build, cold caches, s", lambda v: f"{v:.1f}"),
    ("rebuild_s", "rebuild after 1-line change, s", lambda v: f"{v:.2f}"),
    ("rss_warm_bytes", "peak RSS warm, MB", lambda v: f"{v / 1e6:.1f}"),
    ("rss_cold_bytes", "peak RSS cold, MB", lambda v: f"{v / 1e6:.1f}"),
]


# No ×venv for these: a venv unpacks nothing, so it writes nothing or next to nothing (a
# gunicorn probes its temp dir with 4 bytes), and a ratio to that says nothing.
NO_BASELINE_RATIO = {"written_bytes", "files_written"}


def _ratio(value: Optional[float], reference: Optional[float]) -> str:
    return f"{value / reference:.2f}" if value is not None and reference else "–"


def render_table(results: list[Result]) -> str:
    by_key = {(r.app, r.tool): r for r in results}
    lines = [
        "| app | tool | " + " | ".join(header for _, header, _ in METRICS) + " |",
        "| --- | --- |" + " ---: |" * len(METRICS),
    ]
    for r in results:
        cells = []
        for key, _, show in METRICS:
            value = getattr(r, key)
            if value is None:
                cells.append("—")
                continue
            base, peer = by_key.get((r.app, BASELINE)), by_key.get((r.app, PEER))
            if key in NO_BASELINE_RATIO:
                base = None
            ratios = [_ratio(value, getattr(ref, key) if ref else None) for ref in (base, peer)]
            cells.append(f"{show(value)} ({ratios[0]}, {ratios[1]})")
        lines.append(f"| {r.app} | {r.tool} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# (metric, compared with, highest allowed ratio or absolute seconds, wording)
TARGETS = [
    ("warm_s", BASELINE, 1.05, "warm start ≤ 1.05× venv"),
    ("cold_s", PEER, 0.5, "cold start ≤ 0.5× PyInstaller"),
    ("written_bytes", PEER, 1.5, "bytes written by a cold start ≤ 1.5× PyInstaller"),
    ("size_bytes", PEER, 1.25, "size ≤ 1.25× PyInstaller"),
    ("build_s", PEER, 0.5, "build (clean tree, warm caches) ≤ 0.5× PyInstaller"),
    ("build_cold_s", PEER, 0.5, "build (cold caches) ≤ 0.5× PyInstaller"),
    ("rebuild_s", None, 2.0, "rebuild after an app-code change < 2 s"),
]


def check_targets(results: list[Result]) -> list[str]:
    by_key = {(r.app, r.tool): r for r in results}
    lines = []
    for r in results:
        if r.tool != "onefile" or r.error:
            continue
        checks = []
        for key, against, limit, wording in TARGETS:
            value = getattr(r, key)
            if value is None:
                continue
            if against is None:
                measured, shown = value, f"{value:.2f} s"
            else:
                other = by_key.get((r.app, against))
                reference = getattr(other, key) if other else None
                if not reference:
                    continue
                measured = value / reference
                shown = f"{measured:.2f}×"
            checks.append(f"{'PASS' if measured <= limit else 'FAIL'} {wording} ({shown})")
        lines.append(f"- {r.app}: " + "; ".join(checks))
    return lines


def render_report(results: list[Result], skipped: list[str], info: dict[str, object], runs: int) -> str:
    cold_note = (
        "cold = run-time cache (onefile ONEFILE_CACHE_DIR, shiv SHIV_ROOT, pex PEX_ROOT) moved aside before "
        "each start and deleted only when the run ends (see _timing.py: deleting it right before a start "
        "slows file creation on this VM's journal-less ext4; for the same reason, on a disk, each app's "
        f"starts begin {SETTLE_SECONDS} s after its builds, after a sync); "
        "PyInstaller unpacks to a new temp dir on every start and a venv unpacks nothing, so for them "
        "cold is just another set of starts; every tool's cold start follows a sync (untimed), so none runs "
        "while the files of the one before are written back"
    )
    parts = [
        render_table(results),
        "",
        f"Each cell: value (×{BASELINE}, ×PyInstaller --onefile), ratios from this same run. "
        f"Starts: median of {runs} ({'hyperfine -N' if HYPERFINE else 'fork/exec loop'}; servers: "
        "from fork to the first HTTP 200 on 127.0.0.1); warm after "
        f"{WARMUP} warm-up runs; warm and cold starts are taken in up to {MAX_ROUNDS} rounds that cycle "
        f"through the tools; {cold_note}. "
        "Peak RSS: ru_maxrss from wait4, median of several starts (the larger process, not a sum, "
        "for PyInstaller's parent+child and a server's workers). "
        "Written: what one more cold start (untimed, under strace -f, the whole process tree) writes to "
        "files on a file system, not to pipes, ttys or /dev/null: bytes returned by write, pwrite64, writev, "
        "pwritev(2), copy_file_range, sendfile and splice; files: regular files created or written, each "
        "path once (a server: to the end of the shutdown that follows its first 200); no ×venv for these "
        "two, as a venv writes nothing or next to nothing.",
        "Builds: one timed run each, from a fresh copy of the example (no build/, dist/, egg-info). "
        "Warm caches: the tool's caches as its cold build left them (onefile: runtime layer in "
        "ONEFILE_BUILD_CACHE and uv's cache; PyInstaller: PYINSTALLER_CONFIG_DIR; pip-based tools: "
        "PIP_CACHE_DIR, PEX_ROOT); cold caches: all of them empty (uv, pip and pex then download "
        "from PyPI). onefile builds with `-n` (no isolated build env); the peers build the same "
        "project with setuptools as its backend through pip. PyInstaller: the app is installed "
        "editable in PyInstaller's own venv beforehand (untimed), so its build times PyInstaller only. "
        "Sizes of shiv, pex and venv exclude the Python they need on the target.",
        f"Environment: every PYTHON* variable removed for all builds and runs (the caller had "
        f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '(unset)')}), so every tool may "
        "write bytecode as on a user's machine.",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()),
    ]
    targets = check_targets(results)
    if targets:
        parts += ["", "onefile against its targets:", *targets]
    failures = [f"- {r.app}/{r.tool}: {r.error}" for r in results if r.error] + [f"- {s}" for s in skipped]
    failures += [
        f"- {r.app}/{r.tool}: bytes written not measured: {r.details['writes_error']}"
        for r in results
        if "writes_error" in r.details
    ]
    if failures:
        parts += ["", "Skipped or failed:", *failures]
    return "\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", default=DEFAULT_APPS, help=f"comma-separated (default {DEFAULT_APPS})")
    parser.add_argument("--tools", default=DEFAULT_TOOLS, help=f"comma-separated (default {DEFAULT_TOOLS})")
    parser.add_argument("--runs", type=int, default=10, help="starts per measurement (default 10)")
    parser.add_argument("--json", type=Path, help="also write every number and sample here")
    parser.add_argument("--work", type=Path, help="work here and keep it (default: a temp dir, removed)")
    parser.add_argument(
        "--run-dir",
        type=Path,
        help="put run-time caches and the starts' TMPDIR here, e.g. on tmpfs (default: WORK/run-caches)",
    )
    args = parser.parse_args()
    tool_names = [t for t in args.tools.split(",") if t]
    unknown = [t for t in tool_names if t not in TOOLS]
    if unknown:
        parser.error(f"unknown tool(s) {', '.join(unknown)}; known: {', '.join(TOOLS)}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    env = clean_environment()
    info = describe_machine()
    skipped: list[str] = []
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="onefile-compare-") as temporary:
        work = (args.work or Path(temporary)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        use_trash(work / "trash")
        context = Context(python=sys.executable, work=work, tools_bin=None)
        if args.run_dir is not None:
            context.run_dir = args.run_dir.resolve()
            context.run_dir.mkdir(parents=True, exist_ok=True)
        where = context.run_dir or work
        info["run-time caches on"] = subprocess.run(
            ["stat", "-f", "-c", "%T", str(where)], capture_output=True, text=True
        ).stdout.strip()
        context.onefile_path = snapshot_onefile_backend(work)
        info["onefile-backend"] = describe_checkout()
        strace, no_strace = find_strace(log)
        if strace is None:
            skipped.append(f"bytes and files written (all tools): {no_strace}")
        failed = install_peer_tools(context, set(tool_names), env)
        for package, reason in failed.items():
            skipped.append(f"{package}: does not install here: {reason[-300:]}")
        tools = [
            TOOLS[name](context) for name in tool_names if ("pex" if name.startswith("pex") else name) not in failed
        ]
        apps = []
        for name in (a for a in args.apps.split(",") if a):
            try:
                apps.append(load_app(name))
            except LookupError as exc:
                skipped.append(f"app {name}: {exc}")
                log(f"skipping app {name}: {exc}")
        for app in apps:
            built = []
            for tool in tools:
                result, artifact = build_app(tool, app, env)
                results.append(result)
                if artifact is not None:
                    built.append((tool, result, artifact))
            if settle_deletions(str(info["run-time caches on"])):
                log(f"{app.name}: waited {SETTLE_SECONDS} s after a sync for the builds' deletions to settle")
            if app.server:
                measure_server_starts(app, built, env, args.runs, strace)
            else:
                measure_cli_starts(app, built, env, args.runs, strace)
            for tool, _, _ in built:
                remove_moved_aside(run_cache_dir(tool, app))
            for _, result, _ in built:
                if not result.error:
                    result.warm_s = statistics.median(result.warm_samples)
                    result.cold_s = statistics.median(result.cold_samples)
        info["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        empty_trash()
        info["tools"] = ", ".join(f"{k} {v}" for k, v in sorted(context.versions.items())) or "none"
    text = render_report(results, skipped, info, args.runs)
    print(text)
    if args.json:
        payload = {
            "command": shlex.join([os.path.relpath(sys.argv[0])] + sys.argv[1:]),
            "machine": info,
            "runs": args.runs,
            "environment": "PYTHON* variables removed for every build and run",
            "skipped": skipped,
            "results": [asdict(r) for r in results],
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
