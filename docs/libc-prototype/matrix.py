"""Run checks.py and the apps with the interpreter each root would get, in every root,
with and without /proc; print a Markdown table and write matrix.json next to WORK.

    WORK=/work/scratch-19/x python3 matrix.py [CHOOSER]

CHOOSER (optional): a static program (of_interp_demo) that picks the interpreter the way
the launcher would; without it the expected one is used (system glibc on this machine,
the bundled one elsewhere)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = Path(os.environ.get("WORK", "/work/scratch-19/x"))
ROOTS = {
    "this machine (Debian 12)": "/",
    "Debian 11": os.path.expanduser("~/.cache/onefile-tests/roots/bullseye-amd64-74a8a81b2922d18f"),
    "musl": "/work/scratch-19/roots/musl",
    "NixOS-like": "/work/scratch-19/roots/nixos",
    "empty": "/work/scratch-19/roots/empty",
}
HELLO_CHECKS = "spawn,forkserver,subprocess,ssl,sqlite3,pwd,getaddrinfo,locale,ctypes,child_env,ls,script"


def app_dir(name: str) -> Path:
    for app in sorted((WORK / "cache" / "app").iterdir()):
        if f'"{name}"' in (app / "onefile.json").read_text():
            return app
    raise LookupError(name)


def run(root: str, proc: bool, command: list[str], etc: bool, extra: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WORK": str(WORK), "ETC": "1" if etc else "0", "ENV": extra}
    return subprocess.run([str(HERE / "inroot.sh"), root, "1" if proc else "0", *command],
                          capture_output=True, text=True, env=env, timeout=300)  # fmt: skip


def interpreter(root: str, proc: bool, app: Path, chooser: str | None, etc: bool) -> tuple[str, str]:
    if chooser:
        out = run(root, proc, [chooser, "choose", str(app)], etc)
        return out.stdout.strip(), out.stderr.strip()
    twin = "bin/python" if root == "/" else "libc/bin/python"
    return str(app / twin), "expected"


def main() -> None:
    chooser = sys.argv[1] if len(sys.argv) > 1 else None
    results = []
    hello, numbers = app_dir("hello"), app_dir("numbers-cli")
    for label, root in ROOTS.items():
        for etc in (False, True) if root != "/" else (False,):
            for proc in (True, False):
                row = {"root": label, "proc": proc, "etc": etc}
                python, why = interpreter(root, proc, hello, chooser, etc)
                row["chosen"] = python
                row["why"] = why
                # The launcher's locale rule: where there is no glibc loader at all (and no
                # LOCALE_ARCHIVE, NixOS's), LOCPATH names the bundled C.UTF-8.
                extra = ""
                if why.startswith("no glibc loader") and not os.environ.get("NO_LOCPATH"):
                    runtime = Path(os.readlink(hello / "bin" / "python")).parent.parent
                    extra = f"LOCPATH={runtime}/libc/locale"
                row["env"] = extra
                out = run(root, proc, [python, str(WORK / "checks.py"), HELLO_CHECKS], etc, extra)
                try:
                    row.update(json.loads(out.stdout))
                except ValueError:
                    row["error"] = (out.stdout + out.stderr)[-500:]
                main_out = run(root, proc, [python, str(hello / "bin/onefile-main"), "--name", "libc"], etc, extra)
                row["hello"] = "ok " + main_out.stdout.strip() if main_out.returncode == 0 else f"FAIL {main_out.stderr[-300:]}"
                npy = str(numbers / python.split("/app/")[1].split("/", 1)[1])
                out = run(root, proc, [npy, str(WORK / "checks.py"), "numpy"], etc, extra)
                try:
                    row["numpy"] = json.loads(out.stdout)["numpy"]
                except ValueError:
                    row["numpy"] = "FAIL " + (out.stdout + out.stderr)[-300:]
                main_out = run(root, proc, [npy, str(numbers / "bin/onefile-main")], etc, extra)
                row["numbers"] = "ok" if main_out.returncode == 0 else f"FAIL {main_out.stderr[-300:]}"
                results.append(row)
                print(json.dumps(row), flush=True)
    (WORK / "matrix.json").write_text(json.dumps(results, indent=1))
    columns = ["hello", "numbers", "numpy"] + HELLO_CHECKS.split(",")
    print("| root | /proc | /etc files | chosen (why) | libc | " + " | ".join(columns) + " |")
    print("|" + " --- |" * (5 + len(columns)))
    for row in results:
        cells = [row["root"], "yes" if row["proc"] else "no", "yes" if row["etc"] else "as made",
                 ("bundled" if "/libc/bin/" in row["chosen"] else "system") + f" ({row['why']})", row.get("libc", "?")]
        cells += ["ok" if str(row.get(c, "")).startswith("ok") else "**" + str(row.get(c, "missing"))[:60] + "**" for c in columns]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
