#!/usr/bin/env python3
"""Warm start of examples/hello's binary against the same console script in a venv.

Also a multi-command binary of it (``entry-points = ["hello", "-m hello.cli"]``) started
through a link named ``hello``: choosing the command by name must cost nothing.

Both use the interpreter running this script. Runs alternate (binary, venv, binary, ...)
so drift on the machine hits both alike; prints medians and their ratio.

PYTHONDONTWRITEBYTECODE is left as the environment has it, for both: the binary ships
its .pyc files and pip compiled the venv's, so neither writes bytecode at run time.

    python benchmarks/startup.py [--runs 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HELLO = REPO / "examples" / "hello"


def _time(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="onefile-bench-") as work:
        work_dir = Path(work)
        env = {**os.environ, "PYTHONPATH": str(REPO), "ONEFILE_CACHE_DIR": str(work_dir / "cache")}
        dist = work_dir / "dist"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "onefile_backend",
                "build",
                "--wheel",
                "--binary",
                "-n",
                "-q",
                str(HELLO),
                "-o",
                str(dist),
            ],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        binary = str(dist / "hello")
        several = ["-C", "output=hello-tools", "-C", "entry-points=hello,-m hello.cli"]
        subprocess.run(
            [sys.executable, "-m", "onefile_backend", "build", "--binary", "-n", "-q", *several, str(HELLO),
             "-o", str(dist)],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        (work_dir / "links").mkdir()
        link = work_dir / "links" / "hello"
        link.symlink_to(dist / "hello-tools")
        venv = work_dir / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        (wheel,) = dist.glob("*.whl")  # the same app code, installed the usual way
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True, stdout=subprocess.DEVNULL)
        script = str(venv / "bin" / "hello")
        compiled = len(list(venv.glob("lib/python*/site-packages/click/__pycache__/*.pyc")))
        run_env = {k: v for k, v in env.items() if k != "PYTHONPATH"}
        commands = {
            "onefile binary": [binary, "--version"],
            "venv console script": [script, "--version"],
            "multi-command binary, through a link": [str(link), "--version"],
        }
        for command in commands.values():  # warm: unpack once, fill the page cache
            for _ in range(3):
                _time(command, run_env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                times[name].append(_time(command, run_env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["onefile binary"] / medians["venv console script"]
    python = ".".join(map(str, sys.version_info[:3]))
    print(
        f"warm start, `hello --version`, Python {python}, {args.runs} runs each, "
        f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '(unset)')}"
    )
    print("| what | median ms | min ms |")
    print("| --- | --- | --- |")
    for name, values in times.items():
        print(f"| {name} | {medians[name] * 1000:.1f} | {min(values) * 1000:.1f} |")
    print(f"ratio binary / venv: {ratio:.3f} (target <= 1.05); the venv's click has {compiled} .pyc files")
    several_ratio = medians["multi-command binary, through a link"] / medians["venv console script"]
    print(f"ratio multi-command binary through a link / venv: {several_ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
