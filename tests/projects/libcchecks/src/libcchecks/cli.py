"""Runs the checks of issue 19 on whatever C library the launcher chose; prints JSON:
each check's name -> "ok" or what went wrong, and which libc.so.6 is mapped."""

import json
import os
import subprocess
import sys


def square(n):
    return n * n


def _spawn():
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        assert pool.map(square, [1, 2, 3]) == [1, 4, 9]


def _subprocess():
    out = subprocess.run([sys.executable, "-c", "import sys; print(sys.version)"], capture_output=True, text=True)
    assert out.stdout.strip() == sys.version, (out.stdout, out.stderr)


def _ssl():
    import ssl

    ssl.create_default_context()


def _sqlite3():
    import sqlite3

    assert sqlite3.connect(":memory:").execute("select 1").fetchone() == (1,)


def _pwd():
    import pwd

    pwd.getpwuid(os.getuid())


def _getaddrinfo():
    import socket

    assert socket.getaddrinfo("localhost", 80)


def _locale():
    import locale

    locale.setlocale(locale.LC_ALL, "C.UTF-8")


def _child_env():
    out = subprocess.run(["/bin/sh", "-c", "echo \"[$LD_LIBRARY_PATH$LD_PRELOAD]\""], capture_output=True, text=True)
    assert out.stdout == "[]\n", out.stdout


def _runpath_cxx():
    # A library of the app with its own DT_RUNPATH needing libstdc++ (as C++ extensions of
    # wheels do): it doesn't see the interpreter's DT_RPATH, so libstdc++ must be loaded
    # already. The tests build it into the package (librunpath.so) before the binary.
    import ctypes

    path = os.path.join(os.path.dirname(__file__), "librunpath.so")
    if os.path.exists(path):
        ctypes.CDLL(path)


def _libc_mapped():
    try:
        with open("/proc/self/maps") as maps:
            found = {line.split()[-1] for line in maps if line.rstrip().endswith("/libc.so.6")}
    except OSError:
        return None  # no /proc
    return sorted(found)


def main():
    results = {}
    for name, check in [
        ("spawn", _spawn), ("subprocess", _subprocess), ("ssl", _ssl), ("sqlite3", _sqlite3), ("pwd", _pwd),
        ("getaddrinfo", _getaddrinfo), ("locale", _locale), ("child_env", _child_env), ("runpath_cxx", _runpath_cxx),
    ]:
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # reported, not raised: the test shows every check's outcome
            results[name] = f"{type(exc).__name__}: {exc}"
    results["libc"] = _libc_mapped()
    results["executable"] = sys.executable
    print(json.dumps(results))


if __name__ == "__main__":
    main()
