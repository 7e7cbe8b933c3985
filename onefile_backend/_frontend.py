"""The command line: ``python -m onefile_backend build`` (also ``onefile build``).

sdist and wheel go through pypa/build as a library, with its flags; ``--binary`` runs
``build_binary`` through our own hook runner in the same kind of isolated environment.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib import metadata
from typing import Any, Collection, Literal, Mapping, Sequence

import build.env
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

import build

from . import __version__
from ._errors import OnefileError
from ._shared import ENV_HOOK_RUNNER, ENV_VERBOSITY, display_path

Distribution = Literal["sdist", "wheel", "binary"]

SELF = "onefile-backend"
_RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_in_process.py")


class _Output:
    def __init__(self, verbosity: int) -> None:
        self.verbosity = verbosity

    def step(self, message: str) -> None:
        if self.verbosity >= 0:
            print(f"* {message}", file=sys.stderr, flush=True)


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


def _outside_extras(requirement: Requirement) -> bool:
    """True for a requirement of the package itself, not one of its extras."""
    return requirement.marker is None or requirement.marker.evaluate({"extra": ""})


def _install_self(env: build.env.DefaultIsolatedEnv, requirement: Requirement, out: _Output) -> None:
    """Put this running copy of onefile-backend into ``env`` (it is not on PyPI)."""
    if requirement.specifier and not requirement.specifier.contains(__version__, prereleases=True):
        raise OnefileError(
            f"build-system.requires asks for {requirement} but this is onefile-backend {__version__}; "
            "install a matching version"
        )
    try:
        distribution = metadata.distribution(SELF)
    except metadata.PackageNotFoundError:
        raise OnefileError("onefile-backend is not installed (pip install it first)") from None
    out.step(f"Using this onefile-backend {__version__} for '{requirement}' (not taken from an index)")
    needed = [text for text in distribution.requires or [] if _outside_extras(Requirement(text))]
    env.install(needed)
    purelib = subprocess.run(
        [env.python_executable, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    package = os.path.dirname(os.path.abspath(__file__))
    shutil.copytree(package, os.path.join(purelib, "onefile_backend"), ignore=shutil.ignore_patterns("__pycache__"))
    dist_info = os.path.join(purelib, f"onefile_backend-{__version__}.dist-info")
    os.makedirs(dist_info)
    for name, text in (
        ("METADATA", distribution.read_text("METADATA") or ""),
        ("INSTALLER", "onefile\n"),
        ("RECORD", ""),
    ):
        with open(os.path.join(dist_info, name), "w", encoding="utf-8") as f:
            f.write(text)


def _prepare_env(env: build.env.DefaultIsolatedEnv, requires: Collection[str], out: _Output) -> None:
    others, ours = _split_self(requires)
    out.step(f"Installing build dependencies: {', '.join(requires) or 'none'}")
    if others:
        env.install(others)
    if ours is not None:
        _install_self(env, ours, out)


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
    if reply.get("unsupported"):
        raise OnefileError(
            f'the project\'s build backend {backend!r} has no {hook} hook (use build-backend = "onefile_backend")'
        )
    return reply["return_val"]


def _run_binary_hooks(
    builder: build.ProjectBuilder,
    python: str,
    outdir: str,
    settings: Mapping[str, Any],
    env: build.env.DefaultIsolatedEnv | None,
    out: _Output,
) -> str:
    """get_requires_for_build_binary (installed into ``env`` when isolated), then build_binary."""
    system = builder._build_system  # pypa/build's checked [build-system] table
    extra = env.make_extra_environ() if env is not None else {}

    def call(hook: str, kwargs: Mapping[str, Any]) -> Any:
        return _call_hook(
            python, builder.source_dir, system["build-backend"], system.get("backend-path"), hook, kwargs, extra
        )

    if env is not None:  # without isolation nothing would be installed: skip a process
        requires = call("get_requires_for_build_binary", {"config_settings": dict(settings)})
        if requires:
            out.step(f"Installing requirements of build_binary: {', '.join(requires)}")
            env.install(requires)
    out.step("Building binary...")
    name = call("build_binary", {"binary_directory": outdir, "config_settings": dict(settings)})
    return os.path.join(outdir, str(name))


def _build(
    srcdir: str, outdir: str, distribution: Distribution, settings: Mapping[str, Any], isolation: bool, out: _Output
) -> str:
    if not isolation:
        builder = build.ProjectBuilder(srcdir)
        if distribution == "binary":
            return _run_binary_hooks(builder, sys.executable, outdir, settings, None, out)
        return builder.build(distribution, outdir, dict(settings))
    out.step(f"Creating isolated environment for the {distribution}")
    with build.env.DefaultIsolatedEnv(installer="uv" if _has_uv() else "pip") as env:
        builder = build.ProjectBuilder.from_isolated_env(env, srcdir)
        _prepare_env(env, builder.build_system_requires, out)
        if distribution == "binary":
            return _run_binary_hooks(builder, env.python_executable, outdir, settings, env, out)
        requires = builder.get_requires_for_build(distribution, dict(settings))
        if requires:
            env.install(requires)
        out.step(f"Building {distribution}...")
        return builder.build(distribution, outdir, dict(settings))


def _has_uv() -> bool:
    try:
        import uv  # noqa: F401
    except ImportError:
        return False
    return True


def _command_build(args: argparse.Namespace, out: _Output) -> int:
    srcdir = os.path.abspath(args.srcdir)
    outdir = os.path.abspath(args.outdir or os.path.join(srcdir, "dist"))
    settings = _parse_config_settings(args.config_setting or [])
    isolation = not args.no_isolation
    wanted = [d for d in ("sdist", "wheel", "binary") if getattr(args, d)] or ["sdist", "wheel", "binary"]
    if not os.path.isfile(os.path.join(srcdir, "pyproject.toml")):
        raise OnefileError(f"{srcdir}: no pyproject.toml here (give the project's directory)")
    built: list[str] = []
    if "sdist" in wanted:
        built.append(_build(srcdir, outdir, "sdist", settings, isolation, out))
        if "wheel" in wanted:  # like pypa/build: the wheel is built from the sdist
            with tempfile.TemporaryDirectory(prefix="onefile-sdist-") as unpacked:
                with tarfile.open(built[-1]) as sdist:
                    sdist.extractall(unpacked)
                (top,) = os.listdir(unpacked)
                built.append(_build(os.path.join(unpacked, top), outdir, "wheel", settings, isolation, out))
    elif "wheel" in wanted:
        built.append(_build(srcdir, outdir, "wheel", settings, isolation, out))
    if "binary" in wanted:
        built.append(_build(srcdir, outdir, "binary", settings, isolation, out))
    names = " and ".join(display_path(path) for path in built)
    print(f"Successfully built {names}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="onefile", description="Build one-file executables of Python projects.")
    parser.add_argument("--version", action="version", version=f"onefile-backend {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    b = commands.add_parser("build", help="build sdist, wheel and/or binary (default: all three)")
    b.add_argument("srcdir", nargs="?", default=".", help="source directory (default: .)")
    b.add_argument("--sdist", "-s", action="store_true", help="build a source distribution")
    b.add_argument("--wheel", "-w", action="store_true", help="build a wheel")
    b.add_argument("--binary", "-b", action="store_true", help="build the one-file executable")
    b.add_argument("--outdir", "-o", help="output directory (default: SRCDIR/dist)")
    b.add_argument("--no-isolation", "-n", action="store_true", help="build in the current environment")
    b.add_argument("--config-setting", "-C", action="append", metavar="KEY=VALUE", help="pass to the backend")
    b.add_argument("-v", "--verbose", action="count", default=0, help="show the output of every step")
    b.add_argument("-q", "--quiet", action="count", default=0, help="show only errors and the result")
    i = commands.add_parser("inspect", help="show what a built binary holds")
    i.add_argument("binary", help="a file built by onefile-backend")
    i.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _command_inspect(args: argparse.Namespace) -> int:
    from ._inspect import describe, render  # zstandard: only this command needs it

    facts = describe(args.binary)
    print(json.dumps(facts, indent=2, sort_keys=True) if args.json else render(facts))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "inspect":
        try:
            return _command_inspect(args)
        except OnefileError as exc:
            print(f"ERROR {exc}", file=sys.stderr)
            return 1
    out = _Output(args.verbose - args.quiet)
    os.environ[ENV_VERBOSITY] = str(out.verbosity)  # read by the backend, in its own process
    if args.verbose:
        os.environ["ONEFILE_VERBOSE"] = "1"
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
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        detail = f": {' '.join(lines[-4:])}" if lines else ""
        print(
            f"ERROR installing into the build environment failed ({exc.cmd[0]} exit {exc.returncode}){detail}",
            file=sys.stderr,
        )
    except KeyboardInterrupt:
        print("ERROR interrupted", file=sys.stderr)
    return 1
