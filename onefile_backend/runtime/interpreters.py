"""Find the interpreter the binary will carry, and ask it what it is made of."""

from __future__ import annotations

import ast
import glob
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from typing import Any

from .._errors import InterpreterNotFound, ToolError
from .._subprocess import run_tool
from ..cache.kinds import INTERPRETER
from ..cache.store import BlobStore
from ..platform.target import Target, host_machine
from .sources import InstalledPython, RuntimeSource

_VERSION = re.compile(r"^(3)\.(\d+)(t?)$")

# Run by the candidate interpreter: everything the runtime stage needs to copy it.
_INTROSPECT = r"""
import importlib.util, json, os, sys, sysconfig
v = sysconfig.get_config_var
base = getattr(sys, "_base_executable", None) or sys.executable
print(json.dumps({
    "implementation": sys.implementation.name,
    "version": list(sys.version_info[:3]),
    "version_string": sys.version,
    "abiflags": getattr(sys, "abiflags", ""),
    "executable": os.path.realpath(base),
    "base_prefix": sys.base_prefix,
    "stdlib": os.path.dirname(os.__file__),
    "platstdlib": sysconfig.get_paths()["platstdlib"],
    # Where it is now, not where it was built for (DESTSHARED), which may be elsewhere.
    "dynload": ([p for p in sys.path if p.endswith("lib-dynload")] or [v("DESTSHARED") or ""])[0],
    "shared": bool(v("Py_ENABLE_SHARED")),
    "libdir": v("LIBDIR") or "",
    "ldlibrary": v("LDLIBRARY") or "",
    "instsoname": v("INSTSONAME") or "",
    "free_threaded": bool(v("Py_GIL_DISABLED")),
    "cache_tag": sys.implementation.cache_tag,
    "magic": importlib.util.MAGIC_NUMBER.hex(),
}))
"""


@dataclass(frozen=True)
class Interpreter:
    """A runtime: where a CPython sits on this machine, what it is (``target``), and
    where it came from (``source``).

    Two kinds: an interpreter that runs here, whose facts come from asking it
    (:func:`inspect_interpreter`), and a standalone runtime for another CPU, whose facts
    are read from its files (:func:`inspect_standalone`) and whose ``runner`` is an
    interpreter of the same version that runs here.
    """

    executable: str
    version_string: str
    base_prefix: str
    stdlib: str
    dynload: str
    shared: bool
    libpython: str | None  # absolute path of the shared libpython, when shared
    target: Target  # its CPU and Python (version, ABI, bytecode); no glibc floor set
    runner: str = ""  # an interpreter of the same version that runs here, when this one can't
    source: RuntimeSource = InstalledPython()  # where it came from (tool.onefile.python)
    identity: str | None = None  # what its files are, when its source says (an archive's hash)

    @property
    def host(self) -> str:
        """What to run for this runtime's version on this machine (compiling bytecode, uv's
        ``--python``): the interpreter itself, or its ``runner`` when it is for another CPU."""
        return self.runner or self.executable

    @property
    def short_version(self) -> str:
        return self.target.short_version

    @property
    def stdlib_name(self) -> str:
        """``python3.12`` (``python3.13t`` when free-threaded): the stdlib's dir name."""
        return os.path.basename(self.stdlib.rstrip("/"))


def _introspect(executable: str, store: BlobStore | None) -> dict[str, Any]:
    """What ``executable`` says about itself; remembered in ``store`` while its file is the same."""
    key = None
    if store is not None:
        try:
            info = os.stat(executable)
        except OSError:
            pass
        else:
            facts = [
                executable,
                os.path.realpath(executable),
                info.st_size,
                info.st_mtime_ns,
                info.st_ino,
            ]
            key = INTERPRETER.key(*facts)
            known = store.get_many([key]).get(key)
            if known is not None:
                return dict(json.loads(known))
    what = f"python: {executable!r} is not a working Python interpreter"
    try:
        result = run_tool([executable, "-I", "-c", _INTROSPECT], what=what, timeout=60)
    except OSError as exc:
        raise InterpreterNotFound(executable, f"python: cannot run {executable!r} ({exc.strerror})") from None
    except ToolError as exc:  # one candidate of several may be broken: the caller moves on
        raise InterpreterNotFound(executable, str(exc)) from None
    if store is not None and key is not None:
        store.put_many({key: result.stdout.encode()})
    return dict(json.loads(result.stdout))


_ELF_MACHINES = {"EM_X86_64": "x86_64", "EM_AARCH64": "aarch64"}


def elf_machine(path: str) -> str:
    """The CPU an executable is for (``x86_64``, ``aarch64``, ...), read from its header."""
    from ..platform.elf import read_elf

    machine = read_elf(path).machine
    return _ELF_MACHINES.get(machine, machine.removeprefix("EM_").lower())


def _build_time_vars(stdlib: str) -> dict[str, Any]:
    """``_sysconfigdata_*.py``'s ``build_time_vars``, read without running it."""
    for path in sorted(glob.glob(os.path.join(stdlib, "_sysconfigdata_*.py"))):
        try:
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read())
        except (OSError, SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "build_time_vars" for t in node.targets
            ):
                try:
                    return dict(ast.literal_eval(node.value))
                except ValueError:
                    continue
    return {}


def _patch_version(prefix: str, stdlib_name: str, binaries: list[str], minor: int) -> int | None:
    """The micro version of a runtime from its files: patchlevel.h, PBS's PYTHON.json, or
    the PY_VERSION string compiled into the interpreter or libpython."""
    short = stdlib_name.removeprefix("python").rstrip("t")
    header = os.path.join(prefix, "include", stdlib_name, "patchlevel.h")
    candidates: list[tuple[str, bytes]] = [(header, rb'#define PY_VERSION\s+"3\.\d+\.(\d+)')]
    candidates.append((os.path.join(os.path.dirname(prefix), "PYTHON.json"), rb'"python_version":\s*"3\.\d+\.(\d+)'))
    candidates += [(path, rb"\x00" + re.escape(short.encode()) + rb"\.(\d+)\x00") for path in binaries]
    for path, pattern in candidates:
        try:
            with open(path, "rb") as f:
                match = re.search(pattern, f.read())
        except OSError:
            continue
        if match:
            return int(match[1])
    return None


def inspect_standalone(executable: str, store: BlobStore | None = None) -> Interpreter:
    """Describe a runtime for another CPU from its files (it can't be asked), in the
    python-build-standalone layout: ``bin/python3.X``, ``lib/python3.X/``, its libraries
    in ``lib/``. Bytecode is compiled, and uv resolves, with an interpreter of the same
    version found on this machine (its ``runner``)."""
    from ..platform.elf import read_elf

    executable = os.path.realpath(executable)
    machine = elf_machine(executable)
    prefix = os.path.dirname(os.path.dirname(executable))
    lib = os.path.join(prefix, "lib")
    stdlibs = sorted(
        name for name in (os.listdir(lib) if os.path.isdir(lib) else [])
        if _VERSION.match(name.removeprefix("python")) and os.path.isfile(os.path.join(lib, name, "os.py"))
    )  # fmt: skip
    if len(stdlibs) != 1:
        raise InterpreterNotFound(
            executable, f"python: {executable!r} is for {machine} and has no lib/python3.X/ beside it to read"
        )
    stdlib_name = stdlibs[0]
    stdlib = os.path.join(lib, stdlib_name)
    free_threaded = stdlib_name.endswith("t")
    minor = int(stdlib_name.removeprefix("python3.").rstrip("t"))
    variables = _build_time_vars(stdlib)
    needed = read_elf(executable).needed
    sonames = [name for name in needed if name.startswith("libpython")]
    libpython = os.path.join(lib, sonames[0]) if sonames and os.path.isfile(os.path.join(lib, sonames[0])) else None
    wanted = f"3.{minor}{'t' if free_threaded else ''}"
    try:
        runner = find_interpreter(wanted, store)
    except InterpreterNotFound:
        raise InterpreterNotFound(
            wanted,
            f"python: the runtime {executable} is Python {wanted} for {machine}; its bytecode is compiled by a "
            f"Python {wanted} on this machine, and none was found (install one, e.g. `uv python install {wanted}`)",
        ) from None
    patch = _patch_version(prefix, stdlib_name, [executable] + ([libpython] if libpython else []), minor)
    version = (3, minor, patch if patch is not None else 0)
    return Interpreter(
        executable=executable,
        version_string=f"{'.'.join(map(str, version))} (for {machine}, read from its files)",
        base_prefix=prefix,
        stdlib=stdlib,
        dynload=os.path.join(stdlib, "lib-dynload"),
        shared=libpython is not None,
        libpython=os.path.realpath(libpython) if libpython else None,
        target=Target(
            machine=machine,
            version=version,
            abiflags=str(variables.get("ABIFLAGS", runner.target.abiflags)),
            free_threaded=free_threaded,
            # Its bytecode is the runner's: the same version's magic and tag.
            cache_tag=runner.target.cache_tag,
            magic=runner.target.magic,
        ),
        runner=runner.executable,
    )


def inspect_interpreter(executable: str, store: BlobStore | None = None) -> Interpreter:
    """Describe ``executable`` (asking it, or ``store``); raise if it is not a usable CPython 3."""
    facts = _introspect(executable, store)
    if facts["implementation"] != "cpython" or facts["version"][0] != 3 or facts["version"][1] < 8:
        raise InterpreterNotFound(
            executable, f"python: {executable!r} is not CPython 3.8 or newer (only those can be bundled)"
        )
    libpython = None
    if facts["shared"]:
        candidate = os.path.join(facts["libdir"], facts["instsoname"] or facts["ldlibrary"])
        libpython = os.path.realpath(candidate) if os.path.exists(candidate) else None
    return Interpreter(
        executable=facts["executable"],
        version_string=facts["version_string"],
        base_prefix=facts["base_prefix"],
        stdlib=facts["stdlib"],
        dynload=facts["dynload"],
        shared=facts["shared"],
        libpython=libpython,
        target=Target(
            machine=host_machine(),
            version=(facts["version"][0], facts["version"][1], facts["version"][2]),
            abiflags=facts["abiflags"],
            free_threaded=facts["free_threaded"],
            cache_tag=facts["cache_tag"],
            magic=facts["magic"],
        ),
    )


def _version_key(path: str) -> tuple[int, ...]:
    match = re.search(r"/versions/(\d+)\.(\d+)\.(\d+)", path)
    return tuple(int(part) for part in match.groups()) if match else (0,)


def _candidates(version: str) -> list[str]:
    """Places a ``3.X`` interpreter may be, best first: pyenv, uv-managed, PATH."""
    found: list[str] = []
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    pattern = os.path.join(pyenv_root, "versions", f"{version.rstrip('t')}.*", "bin", f"python{version}")
    found += sorted(glob.glob(pattern), key=_version_key, reverse=True)
    try:
        from uv import find_uv_bin

        uv = run_tool(
            [find_uv_bin(), "python", "find", "--no-python-downloads", "--no-project", version],
            what=f"cannot look for Python {version}",
            timeout=60,
            check=False,
        )
        if uv.returncode == 0 and uv.stdout.strip():
            found.append(uv.stdout.strip())
    except (ImportError, OSError, ToolError):
        pass
    on_path = shutil.which(f"python{version}")
    if on_path and "/shims/" not in on_path:
        found.append(on_path)
    return found


def find_interpreter(wanted: str | None, store: BlobStore | None = None) -> Interpreter:
    """The interpreter named by ``tool.onefile.python``; by default the one running the build.

    ``wanted`` is a path to an interpreter, or a version such as ``"3.12"`` (``"3.13t"``
    for a free-threaded build).
    """
    if wanted is None:
        return inspect_interpreter(sys.executable, store)
    if "/" in wanted:
        path = os.path.abspath(os.path.expanduser(wanted))
        if not os.path.isfile(path):
            raise InterpreterNotFound(wanted, f"tool.onefile.python: {wanted!r} does not exist")
        # One for another CPU is read, not run (it may run here only under an emulator).
        if elf_machine(os.path.realpath(path)) not in ("", host_machine()):
            return inspect_standalone(path, store)
        return inspect_interpreter(path, store)
    match = _VERSION.match(wanted)
    if not match:
        raise InterpreterNotFound(
            wanted,
            f"tool.onefile.python: {wanted!r} is not allowed "
            '(expected a version such as "3.12" or a path to an interpreter)',
        )
    want = (int(match[1]), int(match[2]))
    for candidate in _candidates(wanted):
        try:
            interpreter = inspect_interpreter(candidate, store)
        except InterpreterNotFound:
            continue
        if interpreter.target.version[:2] == want and interpreter.target.free_threaded == bool(match[3]):
            return interpreter
    raise InterpreterNotFound(
        wanted,
        f"tool.onefile.python: no Python {wanted} found on this machine "
        "(looked in pyenv, uv-managed interpreters and PATH); install one or give a path",
    )
