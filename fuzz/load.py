#!/usr/bin/env python3
"""Load test of the launcher: many warm starts, one after another and in parallel.

Builds tests/projects/tinyapp (or takes --binary), unpacks it once, then starts it
--sequential times in a row and --parallel times over --workers workers, every start
with all Python installs hidden (as the tests do: needs root and unshare). Each start
must exit 0 and print its own line. Prints the failure counts and the time per start,
next to the same app started by its cached interpreter without the launcher, and the
same shell loop running /bin/echo (the cost of the loop itself).

    python fuzz/load.py [--sequential 1000] [--parallel 200] [--workers 8]

The test suite runs a smaller version (tests/integration/test_reliability.py).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from conftest import PROJECTS, Hidden, build_binary  # noqa: E402

# $1: starts, $2: workers, then the command. One "ok" line per good start.
_LOOP = r"""
count="$1"; workers="$2"; shift 2
one='n=$1; shift; out=$("$@" tinyapp ok load "$n") || { echo "FAIL $n"; exit; }
case "$out" in *" load $n") echo ok;; *) echo "FAIL $n";; esac'
seq "$count" | xargs -P "$workers" -I{} sh -c "$one" sh {} "$@"
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(hidden: Hidden, command: list[str], count: int, workers: int) -> tuple[int, float, float]:
    """(failures, wall-clock seconds per start, CPU seconds per start)

    CPU time (user + system, of every process of the run) doesn't depend on what else
    the machine is doing; wall-clock time does."""
    started, cpu = time.perf_counter(), _children_cpu()
    result = hidden.run(["/bin/sh", "-c", _LOOP, "load", str(count), str(workers), *command], {"PATH": "/usr/bin:/bin"})
    elapsed, cpu = time.perf_counter() - started, _children_cpu() - cpu
    return count - result.stdout.splitlines().count("ok"), elapsed / count, cpu / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", type=Path, help="a tinyapp binary (default: build one)")
    parser.add_argument("--sequential", type=int, default=1000)
    parser.add_argument("--parallel", type=int, default=200)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="onefile-load-") as work:
        base = Path(work)
        (base / "empty").mkdir()
        (base / "empty-file").touch(mode=0o000)
        mounts = {"ONEFILE_TEST_EMPTY_DIR": str(base / "empty"), "ONEFILE_TEST_EMPTY_FILE": str(base / "empty-file")}
        hidden = Hidden(mounts, base / "cache")
        if args.binary is None:  # with this checkout's launcher, built now
            subprocess.run(["make", "-s", "-C", str(REPO / "stub")], check=True)
            stub = str(REPO / "stub" / "build" / "onefile-stub")
            binary = build_binary(PROJECTS / "tinyapp", base / "dist", env={"ONEFILE_STUB": stub})
        else:
            binary = args.binary
        warm_up = hidden.run([str(binary), "warm-up"])
        if warm_up.returncode != 0:
            sys.exit(f"the first start failed: {warm_up.stderr}")
        # The same app started by its cached interpreter directly, without the launcher.
        (app,) = (base / "cache" / "app").iterdir()
        direct = [str(app / "bin" / "python"), str(app / "bin" / "onefile-main")]
        for label, count, workers in (
            ("sequential", args.sequential, 1),
            (f"over {args.workers} workers", args.parallel, args.workers),
        ):
            print(f"{count} warm starts {label}:")
            for name, command in (
                ("binary", [str(binary)]),
                ("same app, no launcher", direct),
                ("/bin/echo", ["/bin/echo"]),
            ):
                failures, wall, cpu = run(hidden, command, count, workers)
                print(
                    f"  {name}: {failures} failed; {wall * 1000:.1f} ms wall clock, {cpu * 1000:.1f} ms CPU per start"
                )
                if failures and name == "binary":
                    return 1
        leftovers = [p.name for kind in ("runtime", "app") for p in (base / "cache" / kind).iterdir()]
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        print(f"cache afterwards: {sorted(leftovers)}; load average {load}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
