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
link per command. Those rare paths live in ``bin/onefile-commands``, run only for them, so
the script every start compiles stays small.
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
# Started by the onefile stub: runs one of COMMANDS (name: how, what, attr), chosen by the
# name it was started by, else by its first argument (format/bootstrap.py). Kept short:
# Python compiles this file at every start; bin/onefile-commands has the rest.
import os
import sys

COMMANDS = @COMMANDS@

if __name__ == "__main__":
    argv0 = os.environ.pop("@ARGV0@", sys.argv[0])
    name = os.path.basename(argv0)
    if "@MODE@" in os.environ:  # ONEFILE=install, which the stub leaves set for this script
        command = None
    elif len(COMMANDS) == 1:  # a bare name is a link found in PATH: the binary's path, as before
        command = next(iter(COMMANDS.values()))
        sys.argv[0] = argv0 if "/" in argv0 else os.environ.get("@BINARY@", argv0)
    elif name in COMMANDS and name != os.path.basename(os.environ.get("@BINARY@", "")):
        command = COMMANDS[name]  # a link named like a command
        sys.argv[0] = argv0
    elif len(sys.argv) > 1 and sys.argv[1] in COMMANDS:  # its own name: the first argument says
        del sys.argv[0]
        command = COMMANDS[sys.argv[0]]
    elif name in COMMANDS:  # its own name is a command's, and no argument names another
        command = COMMANDS[name]
        sys.argv[0] = argv0
    else:
        command = None
    here = os.path.dirname(__file__)
    if command is None:
        import runpy

        helper = os.path.join(here, "onefile-commands")
        runpy.run_path(helper, {"COMMANDS": COMMANDS, "PROGRAM": name}, "__main__")
    how, what, attr = command
    if how == "call":
        __import__(what)
        target = sys.modules[what]
        for part in attr.split("."):
            target = getattr(target, part)
        sys.exit(target())
    if how == "module":  # as python -m: sys.argv[0] becomes the module's file
        import runpy

        runpy.run_module(what, run_name="__main__", alter_sys=True)
    else:  # a Python data script next to this file, as `python SCRIPT` runs it, argv[0] kept
        path = os.path.join(here, what)
        with open(path, "rb") as f:
            code = compile(f.read(), path, "exec", dont_inherit=True)
        main = sys.modules["__main__"] = type(sys)("__main__")
        main.__file__ = path
        exec(code, vars(main))
"""

#: ``bin/onefile-commands``: what ``bin/onefile-main`` does when it runs no command (run
#: with its COMMANDS and PROGRAM): ONEFILE=install's links, or the list of commands.
_COMMANDS_HELPER = """\
# Run by bin/onefile-main with COMMANDS and PROGRAM when it starts no command.
import os
import sys


def install(program, binary, args):
    \"\"\"ONEFILE=install BINARY DIR: a symlink to the binary per command in DIR.\"\"\"
    if len(args) != 1 or not os.path.isdir(args[0]):
        shown = repr(args[0]) + " is not a directory; " if len(args) == 1 else ""
        usage = f"usage: @MODE@=install {program} DIR (writes a link per command into DIR)"
        sys.stderr.write(f"{program}: {shown}{usage}\\n")
        return 2
    links = [os.path.join(args[0], name) for name in sorted(COMMANDS)]
    for link in links:  # all checked before any is written
        if os.path.lexists(link) and os.path.realpath(link) != os.path.realpath(binary):
            kind = "a link to " + os.readlink(link) if os.path.islink(link) else "a file"
            why = f"{link} is {kind}, not a link to {binary}: not overwritten (nothing written)"
            sys.stderr.write(f"{program}: {why}\\n")
            return 1
    for link in links:
        if os.path.lexists(link):
            print(f"{link} -> {binary} (already there)")
        else:
            os.symlink(binary, link)
            print(f"{link} -> {binary}")
    return 0


def usage(program, args):
    \"\"\"No command named: say so on stderr, list them on stdout, exit 2.\"\"\"
    unknown = f"{args[0]!r} is not one of its commands; " if args else ""
    sys.stderr.write(f"{program}: {unknown}run one as `{program} COMMAND [ARGS]` or through a link named COMMAND:\\n")
    sys.stderr.flush()
    print("\\n".join(sorted(COMMANDS)))
    return 2


if os.environ.pop("@MODE@", None) == "install":
    sys.exit(install(PROGRAM, os.environ.get("@BINARY@", sys.argv[0]), sys.argv[1:]))
sys.exit(usage(PROGRAM, sys.argv[1:]))
"""

_ZIPAPP_MAIN = """\
# `python <binary> ARGS` (what reloaders do with sys.executable and sys.argv) runs the
# binary itself, so it starts exactly as `<binary> ARGS` would.
import os
import sys

binary = os.path.abspath(os.path.dirname(__file__))
os.execv(binary, [sys.argv[0]] + sys.argv[1:])
"""


#: Where :func:`render_commands_helper`'s script goes in the app layer (next to APP_MAIN).
COMMANDS_HELPER = "bin/onefile-commands"


def _spell(text: str) -> str:
    return text.replace("@ARGV0@", ENV_ARGV0).replace("@BINARY@", ENV_BINARY).replace("@MODE@", ENV_MODE)


def render_launcher(commands: Sequence[Command]) -> str:
    """``bin/onefile-main``: picks the command, sets ``sys.argv[0]`` and runs it."""
    table = "{\n" + "".join(f"    {name!r}: {(how, what, attr)!r},\n" for name, how, what, attr in commands) + "}"
    return _spell(_LAUNCHER.replace("@COMMANDS@", table))


def render_commands_helper() -> str:
    """``bin/onefile-commands``: ONEFILE=install's links and the list of commands."""
    return _spell(_COMMANDS_HELPER)


def render_zipapp_main() -> str:
    """The zip's ``__main__.py``."""
    return _ZIPAPP_MAIN
