"""The command line: ``python -m onefile_backend build`` (also ``onefile build``).

sdist and wheel go through pypa/build as a library, with its flags; ``--binary`` runs
``build_binary`` through our own hook runner in the same kind of isolated environment.
When the project's backend is someone else's (it has no ``build_binary``), its wheel is
built by that backend and the binary stage runs here, on that wheel. ``--from REQ``
builds a published tool with no project (see _published); ``wheelhouse`` writes this
copy's own wheel for front ends that look for onefile-backend on an index.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from typing import Any, Collection, Iterator, Literal, Mapping, Sequence

import build
import build.env
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .. import __version__
from .._errors import OnefileError
from .._report import ENV_VERBOSITY, display_path, redact
from ..app.indexes import (
    ENV_SITE_PREFIX,
    IndexSettings,
    read_index_settings,
    report_index_settings,
    uv_environment_applied,
)
from ..hooks import ENV_HOOK_RUNNER, console_log

Distribution = Literal["sdist", "wheel", "binary"]

SELF = "onefile-backend"
_RUNNER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "hooks", "in_process.py")


class _Output:
    def __init__(self, verbosity: int) -> None:
        self.verbosity = verbosity

    def step(self, message: str) -> None:
        if self.verbosity >= 0:
            print(f"* {message}", file=sys.stderr, flush=True)


class _HookRunner:
    """pyproject-hooks' subprocess runner with the backend's output captured: shown in
    full when the hook fails (its last line also goes into our one-line error), or with -v."""

    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self.last_line = ""

    def __call__(
        self, cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None
    ) -> None:
        environ = {**os.environ, **(extra_environ or {})}
        if self.verbose:
            subprocess.run(cmd, cwd=cwd, env=environ, check=True)
            return
        result = subprocess.run(cmd, cwd=cwd, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if result.returncode != 0:
            output = result.stdout.decode("utf-8", "replace").rstrip()
            lines = [line.strip() for line in output.splitlines() if line.strip()]
            self.last_line = lines[-1] if lines else ""
            if output:
                sys.stderr.write(f"{output}\n")
                sys.stderr.flush()
            raise subprocess.CalledProcessError(result.returncode, cmd, result.stdout)


class _IsolatedEnv(build.env.DefaultIsolatedEnv):
    """pypa/build's isolated environment, installing from the user's indexes."""

    def __init__(self, indexes: IndexSettings) -> None:
        super().__init__(installer="uv" if _has_uv() else "pip")
        self.indexes = indexes

    def install(self, requirements: Collection[str], constraints: Collection[str] = (), **kwargs: Any) -> None:
        with uv_environment_applied(self.indexes):  # pypa/build runs uv with our environment
            try:
                super().install(requirements, constraints, **kwargs)
            except subprocess.CalledProcessError as exc:
                output = exc.stderr or exc.stdout or b""
                text = output.decode("utf-8", "replace") if isinstance(output, bytes) else output
                explained = self.indexes.explain(text)
                if explained is None:
                    raise
                raise explained from None


class _NoBinaryHook(Exception):
    """The project's build backend has no ``build_binary``: the front end makes the binary."""


class _BackendUnavailable(Exception):
    """The project's build backend can't be imported where the hook runs."""


def _parse_config_settings(pairs: Sequence[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise OnefileError(f"-C {pair!r}: expected KEY=VALUE")
        if key in settings:
            previous = settings[key]
            settings[key] = (previous if isinstance(previous, list) else [previous]) + [value]
        else:
            settings[key] = value
    return settings


def _split_self(requires: Collection[str]) -> tuple[list[str], Requirement | None]:
    """Separate the requirement on onefile-backend (served by this copy) from the rest."""
    others: list[str] = []
    ours = None
    for text in requires:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            others.append(text)
            continue
        if canonicalize_name(requirement.name) == SELF:
            ours = requirement
        else:
            others.append(text)
    return others, ours


def _prepare_env(env: build.env.DefaultIsolatedEnv, requires: Collection[str], out: _Output) -> None:
    """Install ``build-system.requires``; a requirement on onefile-backend is met by this
    running copy's own wheel (the one ``onefile wheelhouse`` writes), as it is not on PyPI."""
    others, ours = _split_self(requires)
    out.step(f"Installing build dependencies: {', '.join(requires) or 'none'}")
    if ours is None:
        if others:
            env.install(others)
        return
    if ours.specifier and not ours.specifier.contains(__version__, prereleases=True):
        raise OnefileError(
            f"build-system.requires asks for {ours} but this is onefile-backend {__version__}; "
            "install a matching version"
        )
    from .wheelhouse import write_own_wheel

    out.step(f"Using this onefile-backend {__version__} for '{ours}' (not taken from an index)")
    with tempfile.TemporaryDirectory(prefix="onefile-self-") as wheelhouse:
        env.install([*others, write_own_wheel(wheelhouse)])


def _call_hook(
    python: str,
    srcdir: str,
    backend: str,
    backend_path: Sequence[str] | None,
    hook: str,
    kwargs: Mapping[str, Any],
    extra_environ: Mapping[str, str],
) -> Any:
    with tempfile.TemporaryDirectory(prefix="onefile-hook-") as control:
        with open(os.path.join(control, "input.json"), "w", encoding="utf-8") as f:
            json.dump({"build_backend": backend, "backend_path": backend_path, "kwargs": kwargs}, f)
        environ = {**os.environ, **extra_environ, ENV_HOOK_RUNNER: "1"}
        result = subprocess.run([python, _RUNNER, hook, control], cwd=srcdir, env=environ)
        output = os.path.join(control, "output.json")
        if result.returncode != 0 or not os.path.exists(output):
            raise OnefileError(f"the build backend failed in {hook} (see its output above)")
        with open(output, encoding="utf-8") as f:
            reply = json.load(f)
    if "user_error" in reply:
        raise OnefileError(reply["user_error"])
    if "backend_unavailable" in reply:
        raise _BackendUnavailable(reply["backend_unavailable"])
    if reply.get("unsupported"):
        raise _NoBinaryHook(hook)
    return reply["return_val"]


def _run_binary_hooks(
    builder: build.ProjectBuilder,
    python: str,
    outdir: str,
    settings: Mapping[str, Any],
    env: build.env.DefaultIsolatedEnv | None,
    out: _Output,
) -> str:
    """get_requires_for_build_binary (installed into ``env`` when isolated), then build_binary.

    Raises _NoBinaryHook, before doing anything, when the backend has no such hooks.
    """
    system = _build_system(builder.source_dir)
    extra = env.make_extra_environ() if env is not None else {}

    def call(hook: str, kwargs: Mapping[str, Any]) -> Any:
        return _call_hook(
            python, builder.source_dir, system["build-backend"], system.get("backend-path"), hook, kwargs, extra
        )

    try:
        if env is not None:  # without isolation nothing would be installed: skip a process
            requires = call("get_requires_for_build_binary", {"config_settings": dict(settings)})
            if requires:
                out.step(f"Installing requirements of build_binary: {', '.join(requires)}")
                env.install(requires)
        out.step("Building binary...")
        name = call("build_binary", {"binary_directory": outdir, "config_settings": dict(settings)})
    except _BackendUnavailable as exc:
        fix = "list what it needs in build-system.requires" if env else "install it here, or build without -n"
        raise OnefileError(
            f"the project's build backend {system['build-backend']!r} cannot be imported ({exc}): {fix}"
        ) from None
    return os.path.join(outdir, str(name))


def _build_system(source_dir: str) -> dict[str, Any]:
    """The project's ``[build-system]`` with PEP 517's defaults, as pypa/build reads it
    (it has already refused a malformed table when the builder was made; it keeps its
    parsed copy private)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib

    try:
        with open(os.path.join(source_dir, "pyproject.toml"), "rb") as f:
            table = tomllib.load(f).get("build-system", {})
    except FileNotFoundError:
        table = {}
    if "build-backend" not in table:  # PEP 517: a project without one is built the legacy way
        table = {**table, "build-backend": "setuptools.build_meta:__legacy__"}
    return dict(table)


def _backend_name(builder: build.ProjectBuilder) -> str:
    return str(_build_system(builder.source_dir)["build-backend"])


def _backend_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """config_settings for someone else's backend: without ours (binary, [tool.onefile] keys)."""
    from ..pipeline.config import KNOWN_KEYS

    return {key: value for key, value in settings.items() if key not in ("binary", *KNOWN_KEYS)}


@contextlib.contextmanager
def _as_backend_error(builder: build.ProjectBuilder, runner: _HookRunner, hook: str) -> Iterator[None]:
    """A failure of the project's backend, named as that backend's (its output is above)."""
    try:
        yield
    except build.BuildBackendException as exc:
        detail = runner.last_line or str(exc)
        raise OnefileError(
            f"the project's build backend {_backend_name(builder)!r} failed in {hook}: {detail}"
        ) from None


def _build_with_project_backend(
    builder: build.ProjectBuilder,
    runner: _HookRunner,
    distribution: Literal["sdist", "wheel"],
    outdir: str,
    settings: Mapping[str, Any],
    env: build.env.DefaultIsolatedEnv | None,
    out: _Output,
) -> str:
    if env is not None:
        with _as_backend_error(builder, runner, f"get_requires_for_build_{distribution}"):
            requires = builder.get_requires_for_build(distribution, dict(settings))
        if requires:
            out.step(f"Installing requirements of build_{distribution}: {', '.join(sorted(requires))}")
            env.install(requires)
    out.step(f"Building {distribution}...")
    with _as_backend_error(builder, runner, f"build_{distribution}"):
        return builder.build(distribution, outdir, dict(settings))


def _binary_from_wheel(srcdir: str, outdir: str, settings: Mapping[str, Any], wheel: str) -> str:
    """The binary stage on a wheel built by the project's own backend, in this process
    (which has onefile-backend and its dependencies, whatever the build env has)."""
    from ..pipeline.build import build_binary

    os.makedirs(outdir, exist_ok=True)
    return os.path.join(outdir, build_binary(srcdir, outdir, settings, wheel=wheel, log=console_log))


def _build_binary(
    builder: build.ProjectBuilder,
    runner: _HookRunner,
    python: str,
    outdir: str,
    settings: Mapping[str, Any],
    env: build.env.DefaultIsolatedEnv | None,
    wheel: str | None,
    out: _Output,
) -> str:
    """The backend's build_binary; for a backend without one, its wheel (``wheel`` when
    this run already built it), then our binary stage on that wheel."""
    try:
        return _run_binary_hooks(builder, python, outdir, settings, env, out)
    except _NoBinaryHook:
        pass
    out.step(
        f"The project's build backend {_backend_name(builder)!r} has no build_binary hook: "
        "building the binary from the wheel it builds"
    )
    if wheel is not None:
        return _binary_from_wheel(builder.source_dir, outdir, settings, wheel)
    with tempfile.TemporaryDirectory(prefix="onefile-wheel-") as wheel_dir:
        wheel = _build_with_project_backend(builder, runner, "wheel", wheel_dir, _backend_settings(settings), env, out)
        return _binary_from_wheel(builder.source_dir, outdir, settings, wheel)


def _build(
    srcdir: str,
    outdir: str,
    distribution: Distribution,
    settings: Mapping[str, Any],
    isolation: bool,
    out: _Output,
    indexes: IndexSettings,
    wheel: str | None = None,
) -> str:
    runner = _HookRunner(verbose=out.verbosity > 0)
    if not isolation:
        builder = build.ProjectBuilder(srcdir, runner=runner)
        if distribution == "binary":
            return _build_binary(builder, runner, sys.executable, outdir, settings, None, wheel, out)
        return _build_with_project_backend(builder, runner, distribution, outdir, settings, None, out)
    out.step(f"Creating isolated environment for the {distribution}")
    with _IsolatedEnv(indexes) as env:
        builder = build.ProjectBuilder.from_isolated_env(env, srcdir, runner=runner)
        _prepare_env(env, builder.build_system_requires, out)
        if distribution == "binary":
            return _build_binary(builder, runner, env.python_executable, outdir, settings, env, wheel, out)
        return _build_with_project_backend(builder, runner, distribution, outdir, settings, env, out)


def _has_uv() -> bool:
    try:
        import uv  # noqa: F401
    except ImportError:
        return False
    return True


def _command_build(args: argparse.Namespace, out: _Output) -> int:
    if args.from_requirement is not None:
        return _command_build_from(args)
    for option in ("script", "python", "output", "lock", "with_requirements"):
        if getattr(args, option):
            flag = "--with" if option == "with_requirements" else f"--{option}"
            raise OnefileError(f"{flag} goes with --from REQ; for a project, use [tool.onefile] or -C")
    srcdir = os.path.abspath(args.srcdir or ".")
    outdir = os.path.abspath(args.outdir or os.path.join(srcdir, "dist"))
    settings = _parse_config_settings(args.config_setting or [])
    isolation = not args.no_isolation
    wanted = [d for d in ("sdist", "wheel", "binary") if getattr(args, d)] or ["sdist", "wheel", "binary"]
    if not any(os.path.isfile(os.path.join(srcdir, name)) for name in ("pyproject.toml", "setup.py")):
        raise OnefileError(f"{srcdir}: no pyproject.toml or setup.py here (give the project's directory)")
    indexes = read_index_settings(srcdir)  # before anything is built: a bad setting stops here
    report_index_settings(indexes, out.step)
    built: list[str] = []
    wheel = None
    if "sdist" in wanted:
        built.append(_build(srcdir, outdir, "sdist", settings, isolation, out, indexes))
        if "wheel" in wanted:  # like pypa/build: the wheel is built from the sdist
            with tempfile.TemporaryDirectory(prefix="onefile-sdist-") as unpacked:
                with tarfile.open(built[-1]) as sdist:
                    sdist.extractall(unpacked)
                (top,) = os.listdir(unpacked)
                wheel = _build(os.path.join(unpacked, top), outdir, "wheel", settings, isolation, out, indexes)
                built.append(wheel)
    elif "wheel" in wanted:
        wheel = _build(srcdir, outdir, "wheel", settings, isolation, out, indexes)
        built.append(wheel)
    if "binary" in wanted:
        built.append(_build(srcdir, outdir, "binary", settings, isolation, out, indexes, wheel=wheel))
    names = " and ".join(display_path(path) for path in built)
    print(f"Successfully built {names}")
    return 0


def _command_build_from(args: argparse.Namespace) -> int:
    from .published import build_published

    if args.sdist or args.wheel or args.srcdir is not None:
        raise OnefileError("--from REQ builds a binary only, with no project directory (drop --sdist, --wheel, SRCDIR)")
    outdir = os.path.abspath(args.outdir or "dist")
    path = build_published(
        args.from_requirement,
        outdir,
        script=tuple(args.script or ()),
        python=args.python,
        output=args.output,
        with_requirements=tuple(args.with_requirements or ()),
        lock=args.lock,
        config_settings=_parse_config_settings(args.config_setting or []),
        log=console_log,
    )
    print(f"Successfully built {display_path(path)}")
    return 0


def _command_wheelhouse(args: argparse.Namespace) -> int:
    from .wheelhouse import write_own_wheel

    directory = os.path.abspath(args.directory)
    path = write_own_wheel(directory)
    print(f"Wrote {display_path(path)}")
    print(
        f"* isolated builds find it with PIP_FIND_LINKS={directory} (pip, pypa/build, tox) "
        f"or UV_FIND_LINKS={directory} (uv)",
        file=sys.stderr,
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="onefile", description="Build one-file executables of Python projects.")
    parser.add_argument("--version", action="version", version=f"onefile-backend {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    b = commands.add_parser("build", help="build sdist, wheel and/or binary (default: all three)")
    b.add_argument("srcdir", nargs="?", help="source directory (default: .)")
    b.add_argument("--sdist", "-s", action="store_true", help="build a source distribution")
    b.add_argument("--wheel", "-w", action="store_true", help="build a wheel")
    b.add_argument("--binary", "-b", action="store_true", help="build the one-file executable")
    b.add_argument("--outdir", "-o", help="output directory (default: SRCDIR/dist)")
    b.add_argument("--no-isolation", "-n", action="store_true", help="build in the current environment")
    b.add_argument("--config-setting", "-C", action="append", metavar="KEY=VALUE", help="pass to the backend")
    b.add_argument("-v", "--verbose", action="count", default=0, help="show the output of every step")
    b.add_argument("-q", "--quiet", action="count", default=0, help="show only errors and the result")
    b.add_argument(
        "--offline", action="store_true", help="install only from uv's cache and local wheel directories (UV_OFFLINE=1)"
    )
    f = b.add_argument_group("published tools (no project directory)")
    f.add_argument("--from", dest="from_requirement", metavar="REQ", help="build the binary of a requirement")
    f.add_argument(
        "--script",
        action="append",
        metavar="NAME",
        help="a console or Python data script to run (repeat for several in one binary; '*' for all of them)",
    )
    f.add_argument("--python", metavar="VERSION|PATH", help="as [tool.onefile] python")
    f.add_argument("--output", metavar="NAME", help="the file name in the output directory")
    f.add_argument("--with", dest="with_requirements", action="append", metavar="REQ", help="also install REQ")
    f.add_argument("--lock", metavar="FILE", help="pins: a pylock.toml or a hashed requirements file")
    w = commands.add_parser("wheelhouse", help="write onefile-backend's own wheel, for PIP_FIND_LINKS/UV_FIND_LINKS")
    w.add_argument("directory", help="where to write it (created if missing)")
    i = commands.add_parser("inspect", help="show what a built binary holds")
    i.add_argument("binary", help="a file built by onefile-backend")
    i.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _command_inspect(args: argparse.Namespace) -> int:
    from .inspect import describe, render  # zstandard: only this command needs it

    facts = describe(args.binary)
    print(json.dumps(facts, indent=2, sort_keys=True) if args.json else render(facts))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in ("inspect", "wheelhouse"):
        try:
            return _command_inspect(args) if args.command == "inspect" else _command_wheelhouse(args)
        except OnefileError as exc:
            print(f"ERROR {exc}", file=sys.stderr)
            return 1
    out = _Output(args.verbose - args.quiet)
    os.environ[ENV_VERBOSITY] = str(out.verbosity)  # read by the backend, in its own process
    if args.offline:
        os.environ["UV_OFFLINE"] = "1"  # for every install, ours and the backend's (see app/indexes.py)
    os.environ.setdefault(ENV_SITE_PREFIX, sys.prefix)  # pip's "site" config: this environment's
    try:
        return _command_build(args, out)
    except OnefileError as exc:
        print(f"ERROR {exc}", file=sys.stderr)
    except build.BuildException as exc:
        print(f"ERROR {exc}", file=sys.stderr)
    except build.BuildBackendException as exc:
        print(f"ERROR {exc}", file=sys.stderr)
    except subprocess.CalledProcessError as exc:  # from pypa/build's installer
        output = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr or ""
        lines = [line.strip() for line in redact(output).splitlines() if line.strip()]
        detail = f": {' '.join(lines[-4:])}" if lines else ""
        print(
            f"ERROR installing into the build environment failed ({exc.cmd[0]} exit {exc.returncode}){detail}",
            file=sys.stderr,
        )
    except KeyboardInterrupt:
        print("ERROR interrupted", file=sys.stderr)
    return 1
