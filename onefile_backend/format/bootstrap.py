"""The Python code that runs inside a finished binary, as text to write into it.

What is rendered here must use only the standard library and never import
onefile_backend: the names it shares with the launcher (spec.ENV_*) are written into
the text when it is rendered.

``bin/onefile-main`` holds the binary's command table. With one command it runs it, as
before; with several it picks one by the name the binary was started by (a symlink or
hard link named like a command: the launcher passes that name in ``ONEFILE_ARGV0``) or
else by its first argument, and lists them when neither names one. The table is in the
script the launcher runs anyway, so choosing costs no file-system work on the warm path.
``ONEFILE=install`` (kept in the environment by the launcher for this script) writes a
link per command.
"""

from __future__ import annotations

from typing import Literal, Sequence, Tuple

from .spec import ENV_ARGV0, ENV_BINARY, ENV_MODE

#: How a command starts: call ``module:attr``, run ``module`` as ``python -m`` does, or run
#: the Python data script ``bin/<module>``.
How = Literal["call", "module", "script"]
#: One command: (name, how, module or script file name, attr or None)
Command = Tuple[str, How, str, "str | None"]

_LAUNCHER = """\
# Started by the onefile stub: runs one of COMMANDS (name: how, what, attr), chosen by
# the name it was started by or its first argument when it has several.
import os
import sys

COMMANDS = @COMMANDS@


def run(how, what, attr):
    if how == "call":
        import importlib

        target = importlib.import_module(what)
        for part in attr.split("."):
            target = getattr(target, part)
        sys.exit(target())
    import runpy

    if how == "module":  # python -m: sys.argv[0] becomes the module's file
        runpy.run_module(what, run_name="__main__", alter_sys=True)
    else:  # a Python data script, next to this file
        runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), what), run_name="__main__")


def install(program, binary, args):
    \"\"\"ONEFILE=install BINARY DIR: a symlink to the binary per command in DIR.\"\"\"
    if len(args) != 1 or not os.path.isdir(args[0]):
        shown = repr(args[0]) + " is not a directory; " if len(args) == 1 else ""
        usage = f"usage: @MODE@=install {program} DIR (writes a link per command into DIR)"
        sys.stderr.write(f"{program}: {shown}{usage}\\n")
        return 2
    links = [(os.path.join(args[0], name), name) for name in sorted(COMMANDS)]
    for link, name in links:
        if os.path.lexists(link) and os.path.realpath(link) != os.path.realpath(binary):
            kind = "a link to " + os.readlink(link) if os.path.islink(link) else "a file"
            why = f"{link} is {kind}, not a link to {binary}: not overwritten (nothing written)"
            sys.stderr.write(f"{program}: {why}\\n")
            return 1
    for link, name in links:
        if os.path.lexists(link):
            print(f"{link} -> {binary} (already there)")
            continue
        os.symlink(binary, link)
        print(f"{link} -> {binary}")
    return 0


if __name__ == "__main__":
    argv0 = os.environ.pop("@ARGV0@", sys.argv[0])
    binary = os.environ.get("@BINARY@", argv0)
    # The launcher passes a bare name (no "/") only when the binary was found in PATH
    # under a name that is not its own: a link named like a command.
    name = os.path.basename(argv0)
    if os.environ.pop("@MODE@", None) == "install":
        sys.exit(install(name, binary, sys.argv[1:]))
    if len(COMMANDS) == 1:
        sys.argv[0] = argv0 if "/" in argv0 else binary
        run(*next(iter(COMMANDS.values())))
    elif name in COMMANDS:
        sys.argv[0] = argv0
        run(*COMMANDS[name])
    elif len(sys.argv) > 1 and sys.argv[1] in COMMANDS:
        del sys.argv[0]
        run(*COMMANDS[sys.argv[0]])
    else:
        unknown = f"{sys.argv[1]!r} is not one of its commands; " if len(sys.argv) > 1 else ""
        sys.stderr.write(f"{name}: {unknown}run one as `{name} COMMAND [ARGS]` or through a link named COMMAND:\\n")
        sys.stderr.flush()
        print("\\n".join(sorted(COMMANDS)))
        sys.exit(2)
"""

_ZIPAPP_MAIN = """\
# `python <binary> ARGS` (what reloaders do with sys.executable and sys.argv) runs the
# binary itself, so it starts exactly as `<binary> ARGS` would.
import os
import sys

binary = os.path.abspath(os.path.dirname(__file__))
os.execv(binary, [sys.argv[0]] + sys.argv[1:])
"""


def render_launcher(commands: Sequence[Command]) -> str:
    """``bin/onefile-main``: sets ``sys.argv[0]`` and runs the chosen command."""
    table = "{\n" + "".join(f"    {name!r}: {(how, what, attr)!r},\n" for name, how, what, attr in commands) + "}"
    return (
        _LAUNCHER.replace("@COMMANDS@", table)
        .replace("@ARGV0@", ENV_ARGV0)
        .replace("@BINARY@", ENV_BINARY)
        .replace("@MODE@", ENV_MODE)
    )


def render_zipapp_main() -> str:
    """The zip's ``__main__.py``."""
    return _ZIPAPP_MAIN
