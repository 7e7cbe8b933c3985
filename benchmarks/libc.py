#!/usr/bin/env python3
"""Cold and warm starts of examples/hello with the bundled glibc, on this machine and in a
Debian 11 root (glibc 2.31, where the binary's launcher chooses the glibc it carries),
each against the same app run by that system's own Python, in one run.

The binary is built once (``libc = "bundle"``, the default) with the interpreter running
this script; here it runs on this machine's glibc, in the root on its own. The baseline is
the app installed with ``pip install --target`` (hello and click, pure Python, compiled to
.pyc) run by each system's own interpreter (this one here; the root's python3 3.9 there:
Debian's minbase root has no venv module, so a ``--target`` directory stands in for a
venv). Runs alternate binary / baseline so drift hits both; the timer runs inside the
system measured (the root's own python3 in the chroot) so chroot and namespace set-up are
not timed. Cold: the binary's cache directory removed before each start (tmpfs, so no
disk write-back is timed). Also prints what bundling adds to the binary.

Needs root (chroot, mount), the Debian 11 root the tests make (tests/roots.py caches it),
and ``PYTHONDONTWRITEBYTECODE`` as the environment has it for both sides.

    python benchmarks/libc.py [--runs 30]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HELLO = REPO / "examples" / "hello"
sys.path.insert(0, str(REPO / "tests"))

# What pip's console script for hello runs.
_CONSOLE_SCRIPT = "import sys; from hello.cli import main; sys.argv[0] = 'hello'; sys.exit(main())"

# Run by the measured system's Python: alternate the commands, time each start.
_TIMER = r"""
import json, os, shutil, statistics, subprocess, sys, time
spec = json.loads(sys.argv[1])
env = dict(spec["env"])
import compileall
compileall.compile_dir(env["PYTHONPATH"], quiet=1)  # this Python's .pyc, as a venv has them
def start(command, cold):
    if cold:
        shutil.rmtree(env["ONEFILE_CACHE_DIR"], ignore_errors=True)
    begun = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - begun
for command in list(spec["commands"].values()):
    start(command, False)
    start(command, False)
import glob
# The binary's own app directory is a virtual environment: its console script, run
# directly, is the same interpreter and app without the launcher.
(script,) = glob.glob(spec["venv_script"])
spec["commands"]["its venv's script"] = [script] + spec["commands"]["binary, warm"][1:]
times = {name: [] for name in spec["commands"]}
times["binary, cold"] = []
for _ in range(spec["runs"]):
    for name, command in spec["commands"].items():
        times[name].append(start(command, False))
    times["binary, cold"].append(start(spec["commands"]["binary, warm"], True))
start(spec["commands"]["binary, warm"], False)
print(json.dumps({name: [statistics.median(v), min(v)] for name, v in times.items()}))
"""


def _build(env: dict[str, str], out: Path, *settings: str) -> Path:
    command = [sys.executable, "-m", "onefile_backend", "build", "--binary", "-n", "-q", *settings, str(HELLO)]
    subprocess.run([*command, "-o", str(out)], env=env, check=True, stdout=subprocess.DEVNULL)
    return out / "hello"


def _measure_here(work: Path, binary: Path, site: Path, runs: int) -> dict[str, list[float]]:
    spec = {
        "runs": runs,
        "env": {"PATH": "/usr/bin:/bin", "ONEFILE_CACHE_DIR": str(work / "cache-here"), "PYTHONPATH": str(site)},
        "venv_script": str(work / "cache-here" / "app" / "*" / "bin" / "hello"),
        "commands": {
            "binary, warm": [str(binary), "--name", "x"],
            "own Python": [sys.executable, "-c", _CONSOLE_SCRIPT, "--name", "x"],
        },
    }
    if "PYTHONDONTWRITEBYTECODE" in os.environ:
        spec["env"]["PYTHONDONTWRITEBYTECODE"] = os.environ["PYTHONDONTWRITEBYTECODE"]
    command = [sys.executable, "-c", _TIMER, json.dumps(spec)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return dict(json.loads(result.stdout))


def _measure_in_root(root: Path, work: Path, runs: int) -> dict[str, list[float]]:
    spec = {
        "runs": runs,
        "env": {"PATH": "/usr/bin:/bin", "ONEFILE_CACHE_DIR": "/mnt/cache-root", "PYTHONPATH": "/mnt/site39"},
        "venv_script": "/mnt/cache-root/app/*/libc/bin/hello",  # the twin venv: the bundled glibc
        "commands": {
            "binary, warm": ["/mnt/dist/hello", "--name", "x"],
            "own Python": ["/usr/bin/python3", "-c", _CONSOLE_SCRIPT, "--name", "x"],
        },
    }
    if "PYTHONDONTWRITEBYTECODE" in os.environ:
        spec["env"]["PYTHONDONTWRITEBYTECODE"] = os.environ["PYTHONDONTWRITEBYTECODE"]
    script = (
        'set -e; mount --make-rprivate /; mount --bind "$1" "$2/mnt"; mount -t proc proc "$2/proc"; '
        'shift 2; exec chroot "$@"'
    )
    command = ["unshare", "-m", "--", "sh", "-c", script, "sh", str(work), str(root), str(root)]
    command += ["/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "/usr/bin/python3", "-c", _TIMER, json.dumps(spec)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"in the Debian 11 root: {result.stderr.strip()[-2000:]}")
    return dict(json.loads(result.stdout))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    from roots import debian_root  # tests/roots.py: the tests' cached Debian roots

    root = debian_root("bullseye", include=["python3"])
    with tempfile.TemporaryDirectory(prefix="onefile-libc-bench-", dir="/dev/shm") as work_name:
        work = Path(work_name)
        os.chmod(work, 0o755)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        binary = _build(env, work / "dist")
        system = _build(env, work / "dist-system", "-C", "libc=system")
        # Each side's click (the newest for its Python) and hello's own package, as pip
        # would install them (hello's build backend is onefile-backend, not on an index).
        pip = [sys.executable, "-m", "pip", "install", "-q", "--no-warn-script-location", "--only-binary", ":all:"]
        # (click 8.2 and newer need Python 3.10; not every index says so.)
        for site, version, click in (("site", None, "click"), ("site39", "3.9", "click<8.2")):
            where = ["--target", str(work / site), *(["--python-version", version] if version else [])]
            subprocess.run([*pip, *where, click], check=True, stdout=subprocess.DEVNULL)
            skip = shutil.ignore_patterns("__pycache__")
            shutil.copytree(HELLO / "src" / "hello", work / site / "hello", ignore=skip)
        here = _measure_here(work, binary, work / "site", args.runs)
        there = _measure_in_root(root, work, args.runs)
        size, added = binary.stat().st_size, binary.stat().st_size - system.stat().st_size
    python = ".".join(map(str, sys.version_info[:3]))
    print(f"hello --name x, {args.runs} runs each; the binary carries Python {python} and glibc (libc = bundle)")
    print(
        "| system | C library the binary used | binary warm ms | its venv's script ms | ratio "
        "| system's own Python ms | binary cold ms |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, facts, used, own in (
        ("this machine (Debian 12, glibc 2.36)", here, "the system's", f"Python {python}"),
        ("Debian 11 root (glibc 2.31)", there, "the bundled one", "Python 3.9"),
    ):
        warm, venv, cold = facts["binary, warm"][0], facts["its venv's script"][0], facts["binary, cold"][0]
        print(
            f"| {name} | {used} | {warm * 1000:.1f} | {venv * 1000:.1f} | {warm / venv:.2f} "
            f"| {facts['own Python'][0] * 1000:.1f} ({own}) | {cold * 1000:.1f} |"
        )
    print(f"bundling glibc adds {added / 1e6:.1f} MB to the binary ({size / 1e6:.1f} MB in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
