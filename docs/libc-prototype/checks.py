"""The checks of docs/libc-design.md, run by the app's interpreter inside a root.

Prints one JSON object: check name -> "ok ..." or the error. Stdlib only, plus numpy
when the interpreter's app has it."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def square(x: int) -> int:
    return x * x


def mapped_libc() -> str:
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "/libc.so" in line or "/libc-" in line}
        return ",".join(sorted(paths))
    except OSError as e:
        return f"no /proc ({e.strerror})"


def check_multiprocessing(method: str) -> str:
    import multiprocessing

    with multiprocessing.get_context(method).Pool(2) as pool:
        return f"ok {pool.map(square, range(4))}"


def check_subprocess() -> str:
    code = "import os, sys; print(os.confstr('CS_GNU_LIBC_VERSION'), sys.executable == sys.argv[1])"
    result = subprocess.run([sys.executable, "-c", code, sys.executable], capture_output=True, text=True)
    return f"ok {result.stdout.strip()}" if result.returncode == 0 else f"rc={result.returncode} {result.stderr[-300:]}"


def check_ssl() -> str:
    import ssl

    context = ssl.create_default_context()
    return f"ok {ssl.OPENSSL_VERSION} certs={context.cert_store_stats()['x509_ca']}"


def check_sqlite() -> str:
    import sqlite3

    return "ok " + sqlite3.connect(":memory:").execute("select sqlite_version()").fetchone()[0]


def check_pwd() -> str:
    import pwd

    return "ok " + pwd.getpwuid(os.getuid()).pw_name


def check_getaddrinfo() -> str:
    import socket

    return "ok " + ",".join(sorted({a[4][0] for a in socket.getaddrinfo("localhost", 80)}))


def check_locale() -> str:
    import locale

    return "ok " + locale.setlocale(locale.LC_ALL, "C.UTF-8")


def check_child_env() -> str:
    # A program that is not ours sees none of our loader settings.
    out = subprocess.run(["/bin/sh", "-c", 'echo "[$LD_LIBRARY_PATH][$LD_PRELOAD] LOCPATH=$LOCPATH"'],
                         capture_output=True, text=True)  # fmt: skip
    return ("ok " if out.stdout.startswith("[][]") else "LEAK ") + out.stdout.strip()


def check_ls() -> str:
    out = subprocess.run(["/bin/ls", "/"], capture_output=True, text=True)
    return f"ok {len(out.stdout.split())} entries" if out.returncode == 0 else f"rc={out.returncode} {out.stderr[-200:]}"


def check_script() -> str:
    # A console script of the app from sysconfig's scripts dir (its `$(dirname $0)/python`).
    import sysconfig

    script = os.path.join(sysconfig.get_path("scripts"), os.environ.get("CHECK_SCRIPT", "hello"))
    out = subprocess.run([script, "--help"], capture_output=True, text=True)
    return f"ok {out.stdout.splitlines()[0]}" if out.returncode == 0 else f"rc={out.returncode} {out.stderr[-200:]}"


def check_ctypes() -> str:
    import ctypes

    return "ok cos(0)=%s" % ctypes.CDLL("libm.so.6").cos.__class__.__name__


def check_numpy() -> str:
    import numpy

    a = numpy.arange(1, 7, dtype=float).reshape(2, 3)
    return f"ok {numpy.__version__} {float((a @ a.T).sum())} det={numpy.linalg.det(numpy.eye(3) * 2):.1f}"


CHECKS = {
    "spawn": lambda: check_multiprocessing("spawn"),
    "forkserver": lambda: check_multiprocessing("forkserver"),
    "subprocess": check_subprocess,
    "ssl": check_ssl,
    "sqlite3": check_sqlite,
    "pwd": check_pwd,
    "getaddrinfo": check_getaddrinfo,
    "locale": check_locale,
    "ctypes": check_ctypes,
    "child_env": check_child_env,
    "ls": check_ls,
    "script": check_script,
    "numpy": check_numpy,
}


def main() -> None:
    wanted = sys.argv[1].split(",") if len(sys.argv) > 1 else list(CHECKS)
    results = {"libc": os.confstr("CS_GNU_LIBC_VERSION"), "maps": mapped_libc(), "executable": sys.executable}
    for name in wanted:
        try:
            results[name] = CHECKS[name]()
        except BaseException as e:  # noqa: BLE001 - every failure is a result
            results[name] = f"FAIL {type(e).__name__}: {e}"[:300]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
