"""Reports how the process it runs in looks, for the tests."""

import json
import os
import signal
import site
import subprocess
import sys
import time

APP_CODE_REVISION = 1  # the rebuild test changes this line


def square(n):
    return n * n


def _on_term(signum, frame):
    # os.write: the signal may land while print() is still flushing "ready".
    os.write(1, b"got SIGTERM\n")
    os._exit(0)


def main():
    command = sys.argv[1] if len(sys.argv) > 1 else "info"
    if command == "exit":
        sys.exit(int(sys.argv[2]))
    if command == "info":
        print(
            json.dumps(
                {
                    "argv": sys.argv,
                    "executable": sys.executable,
                    "prefix": sys.prefix,
                    "base_prefix": sys.base_prefix,
                    "version": sys.version,
                    "binary": os.environ.get("ONEFILE_BINARY"),
                    "leaked": sorted(k for k in os.environ if k in ("PYTHONPATH", "PYTHONHOME", "ONEFILE_ARGV0")),
                    "path": sys.path,
                    "user_site": site.ENABLE_USER_SITE,
                    "pid": os.getpid(),
                    "revision": APP_CODE_REVISION,
                }
            )
        )
    elif command == "native":
        import bz2  # noqa: E401, F401
        import sqlite3
        import ssl

        ssl.create_default_context()
        sqlite3.connect(":memory:").execute("select 1")
        with open("/proc/self/maps") as maps:
            mapped = sorted({line.split()[-1] for line in maps if ".so" in line.split()[-1]})
        print(json.dumps(mapped))
    elif command == "mp":
        import multiprocessing

        context = multiprocessing.get_context(sys.argv[2])
        with context.Pool(2) as pool:
            print(sys.argv[2], pool.map(square, range(5)))
    elif command == "dash-m":
        child = subprocess.run(
            [sys.executable, "-m", "behaviour.echo", "from", "child"], capture_output=True, text=True
        )
        sys.stdout.write(child.stdout + child.stderr)
    elif command == "reexec":
        if os.environ.get("BEHAVIOUR_REEXECED"):
            print("re-executed with", sys.argv[1:])
        else:
            os.environ["BEHAVIOUR_REEXECED"] = "1"
            os.execv(sys.executable, [sys.executable] + sys.argv)
    elif command == "sigint":
        try:
            print("ready", flush=True)
            # Short sleeps: a signal handled just before a long sleep begins would not
            # end it (the C handler already ran; the sleep sees no EINTR).
            for _ in range(600):
                time.sleep(0.1)
        except KeyboardInterrupt:
            print("KeyboardInterrupt", flush=True)
            sys.exit(130)
    elif command == "tty":
        print(json.dumps([sys.stdin.isatty(), sys.stdout.isatty(), sys.stderr.isatty()]))
    elif command == "prompt":
        name = input("name? ")
        print(f"hi {name}")
    elif command == "utf8":
        print(sys.argv[2][::-1], "\u2713", sys.stdout.encoding)
    elif command == "stdin":
        sys.stdout.write(sys.stdin.read().upper())
    elif command == "wait-term":
        signal.signal(signal.SIGTERM, _on_term)
        print("ready", flush=True)
        for _ in range(600):  # short sleeps, as for "sigint"
            time.sleep(0.1)
        sys.exit(1)
    elif command == "child":
        child = subprocess.run(
            [sys.executable, "-c", "import click, behaviour.cli; print('child imports click', click.__name__)"],
            capture_output=True,
            text=True,
        )
        sys.stdout.write(child.stdout + child.stderr)
        sys.exit(child.returncode)
    else:
        sys.exit(f"unknown command {command}")
