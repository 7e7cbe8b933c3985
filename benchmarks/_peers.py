"""The apps compare.py builds and the tools it builds them with.

Each tool says how to build an app from a clean source tree (the commands, and the
environment that points every cache it uses into one directory, so "cold caches" is
just a fresh directory), what the build makes, how to start it, and where it unpacks
at run time (so "cold start" is that directory removed).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the benchmark is run with 3.11+ here; tomli works too
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
# The server examples, in order of preference for `--apps server`.
SERVER_EXAMPLES = ("flask-gunicorn", "fastapi-uvicorn")
# What each example is started with when it is a command-line app.
CLI_ARGS = {"hello": ("--version",), "numbers": ("1000",)}
# Never copied into a clean tree: what earlier builds leave in an example directory.
_NOT_SOURCE = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", ".venv", ".tox", ".nox", "*.pyc")


@dataclass(frozen=True)
class App:
    name: str  # the example's directory name
    source: Path
    script: str  # the console script it is started by
    entry: str  # "module:attr" of that script
    dependencies: tuple[str, ...]
    server: bool
    args: tuple[str, ...] = ()  # command-line apps: what a start runs

    @property
    def module_file(self) -> str:
        """The entry point's module, as a path relative to the tree's import root."""
        return self.entry.split(":")[0].replace(".", "/") + ".py"


def load_app(name: str) -> App:
    """The example ``name`` (``server``: the first server example that exists)."""
    if name == "server":
        present = [n for n in SERVER_EXAMPLES if (EXAMPLES / n / "pyproject.toml").is_file()]
        if not present:
            raise LookupError(f"no server example yet (looked for examples/{{{','.join(SERVER_EXAMPLES)}}})")
        name = present[0]
    source = EXAMPLES / name
    if not (source / "pyproject.toml").is_file():
        raise LookupError(f"examples/{name}/pyproject.toml does not exist")
    with open(source / "pyproject.toml", "rb") as f:
        pyproject = tomllib.load(f)
    project = pyproject.get("project", {})
    scripts = dict(project.get("scripts", {}))
    chosen = pyproject.get("tool", {}).get("onefile", {}).get("entry-point")
    if chosen is None and len(scripts) != 1:
        raise LookupError(f"examples/{name}: needs exactly one console script or tool.onefile.entry-point")
    script = chosen or next(iter(scripts))
    server = name in SERVER_EXAMPLES
    return App(
        name=name,
        source=source,
        script=script,
        entry=scripts[script],
        dependencies=tuple(project.get("dependencies", ())),
        server=server,
        args=() if server else CLI_ARGS.get(name, ("--help",)),
    )


def copy_clean_tree(app: App, tree: Path, *, setuptools: bool) -> None:
    """Copy the app's source to ``tree`` without build leftovers.

    ``setuptools``: use setuptools as the build backend instead of onefile-backend, for
    the peers, which build the project through pip. onefile-backend's wheels are what
    setuptools alone makes, so both trees give the same installed app.
    """
    shutil.copytree(app.source, tree, ignore=_NOT_SOURCE)
    if setuptools:
        pyproject = tree / "pyproject.toml"
        text = pyproject.read_text(encoding="utf-8")
        table = '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n\n'
        text = re.sub(r"(?ms)^\[build-system\]\n.*?(?=^\[)", table, text)
        pyproject.write_text(text, encoding="utf-8")


def change_one_line(app: App, tree: Path, serial: int) -> Path:
    """Add one line to the entry point's module (an app-code-only change); return the file."""
    candidates = [tree / "src" / app.module_file, tree / app.module_file]
    module = next((path for path in candidates if path.is_file()), None)
    if module is None:
        raise LookupError(f"cannot find {app.module_file} in {tree} to change")
    with open(module, "a", encoding="utf-8") as f:
        f.write(f"_COMPARE_REBUILD = {serial}\n")
    return module


def _distribution_names(app: App) -> set[str]:
    return {re.split(r"[\s<>=!~;\[(]", dep, maxsplit=1)[0].lower() for dep in app.dependencies}


@dataclass
class Context:
    """What every tool shares in one run."""

    python: str  # the interpreter every tool uses
    work: Path
    tools_bin: Optional[Path]  # bin/ of the venv holding pyinstaller, shiv, pex
    onefile_path: Path = REPO  # holds the onefile_backend package the run builds with
    run_dir: Optional[Path] = None  # run-time caches and TMPDIR of starts (default: work/run-caches)
    versions: dict[str, str] = field(default_factory=dict)  # tool name -> version


def run_checked(command: list[str], env: dict[str, str], what: str) -> str:
    """Run ``command``; return its output (stdout and stderr), or raise with its tail."""
    result = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed (exit status {result.returncode}): {result.stdout.strip()[-1500:]}")
    return result.stdout


class Tool:
    name: ClassVar[str]
    needs_tools_venv: ClassVar[bool] = True
    setuptools_tree: ClassVar[bool] = True  # build the app through pip (see copy_clean_tree)
    run_cache_variable: ClassVar[Optional[str]] = None  # names where it unpacks at run time
    note: ClassVar[str] = ""

    def __init__(self, context: Context) -> None:
        self.context = context

    def prepare(self, app: App, tree: Path, env: dict[str, str]) -> None:
        """Untimed set-up that the timed build relies on."""

    def build_commands(self, app: App, tree: Path, out: Path, rebuild: bool) -> list[list[str]]:
        raise NotImplementedError

    def cache_env(self, caches: Path) -> dict[str, str]:
        """Environment that points all the build's caches into ``caches``."""
        return {"PIP_CACHE_DIR": str(caches / "pip")}

    def artifact(self, app: App, out: Path) -> Path:
        raise NotImplementedError

    def start_command(self, app: App, artifact: Path) -> list[str]:
        return [str(artifact)]

    def size(self, artifact: Path) -> int:
        return artifact.stat().st_size


class Onefile(Tool):
    name = "onefile"
    needs_tools_venv = False
    setuptools_tree = False
    run_cache_variable = "ONEFILE_CACHE_DIR"

    def build_commands(self, app: App, tree: Path, out: Path, rebuild: bool) -> list[list[str]]:
        python = self.context.python
        return [[python, "-m", "onefile_backend", "build", "--binary", "-n", str(tree), "-o", str(out)]]

    def cache_env(self, caches: Path) -> dict[str, str]:
        return {
            "PYTHONPATH": str(self.context.onefile_path),
            "ONEFILE_BUILD_CACHE": str(caches / "onefile-build"),
            "UV_CACHE_DIR": str(caches / "uv"),
        }

    def artifact(self, app: App, out: Path) -> Path:
        return out / app.script


class PyInstaller(Tool):
    """``pyinstaller --onefile`` of a one-line entry script, from a venv holding the app.

    The app is installed editable into that venv before the timed build (as a
    developer's venv would have it), so the build times only PyInstaller itself, and a
    rebuild picks up the changed source without reinstalling.
    """

    name = "pyinstaller"
    note = "app pre-installed (editable) in its venv, untimed"

    def _venv(self, app: App) -> Path:
        return self.context.work / "venvs" / f"pyinstaller-{app.name}"

    def _entry_script(self, app: App) -> Path:
        # Not named like the app: a script "hello.py" would shadow the package "hello".
        return self.context.work / "entry-scripts" / app.name / "compare_entry.py"

    def prepare(self, app: App, tree: Path, env: dict[str, str]) -> None:
        venv = self._venv(app)
        if venv.exists():
            shutil.rmtree(venv)
        pip = str(venv / "bin" / "pip")
        version = self.context.versions["pyinstaller"]
        run_checked([self.context.python, "-m", "venv", str(venv)], env, "creating the PyInstaller venv")
        run_checked([pip, "install", "-q", f"pyinstaller=={version}"], env, "installing PyInstaller")
        run_checked([pip, "install", "-q", "-e", str(tree)], env, f"installing {app.name} into PyInstaller's venv")
        module, attr = app.entry.split(":")
        entry = self._entry_script(app)
        entry.parent.mkdir(parents=True, exist_ok=True)
        entry.write_text(f"import sys\nfrom {module} import {attr.split('.')[0]}\nsys.exit({attr}())\n")

    def build_commands(self, app: App, tree: Path, out: Path, rebuild: bool) -> list[list[str]]:
        scratch = out.with_name(out.name + "-pyinstaller")
        command = [
            str(self._venv(app) / "bin" / "pyinstaller"),
            "--onefile",
            "--noconfirm",
            "--log-level=WARN",
            "--name",
            app.script,
            "--distpath",
            str(out),
            "--workpath",
            str(scratch / "work"),
            "--specpath",
            str(scratch),
        ]
        # What a PyInstaller user adds for these apps: the app's data files (Flask
        # templates), and the modules that are imported by name, not by an import
        # statement (uvicorn.run("pkg.app:app"), gunicorn's worker classes).
        package = app.entry.split(".")[0].split(":")[0]
        command += ["--collect-data", package, "--collect-submodules", package]
        for server in sorted(_distribution_names(app) & {"gunicorn", "uvicorn"}):
            command += ["--collect-submodules", server]
        return [command + [str(self._entry_script(app))]]

    def cache_env(self, caches: Path) -> dict[str, str]:
        return {"PYINSTALLER_CONFIG_DIR": str(caches / "pyinstaller")}

    def artifact(self, app: App, out: Path) -> Path:
        return out / app.script


class Shiv(Tool):
    name = "shiv"
    run_cache_variable = "SHIV_ROOT"
    note = "needs Python on the target"

    def build_commands(self, app: App, tree: Path, out: Path, rebuild: bool) -> list[list[str]]:
        assert self.context.tools_bin is not None
        shiv = str(self.context.tools_bin / "shiv")
        return [[shiv, "-c", app.script, "-p", self.context.python, "-o", str(self.artifact(app, out)), str(tree)]]

    def artifact(self, app: App, out: Path) -> Path:
        return out / f"{app.script}.pyz"


class Pex(Tool):
    name = "pex"
    run_cache_variable = "PEX_ROOT"
    note = "needs Python on the target"
    extra: ClassVar[tuple[str, ...]] = ()

    def build_commands(self, app: App, tree: Path, out: Path, rebuild: bool) -> list[list[str]]:
        assert self.context.tools_bin is not None
        python = self.context.python
        command = [str(self.context.tools_bin / "pex"), str(tree), "-c", app.script, *self.extra]
        command += ["--python", python, "--python-shebang", python, "-o", str(self.artifact(app, out))]
        return [command]

    def cache_env(self, caches: Path) -> dict[str, str]:
        return {"PEX_ROOT": str(caches / "pex"), "PIP_CACHE_DIR": str(caches / "pip")}

    def artifact(self, app: App, out: Path) -> Path:
        return out / f"{app.script}.pex"


class PexVenv(Pex):
    name = "pex-venv"
    extra = ("--venv",)
    note = "pex --venv; needs Python on the target"


class Venv(Tool):
    """The baseline: ``python -m venv`` + ``pip install <tree>``, started by its console script."""

    name = "venv"
    needs_tools_venv = False
    note = "baseline; needs Python on the target; size = the venv directory"

    def build_commands(self, app: App, tree: Path, out: Path, rebuild: bool) -> list[list[str]]:
        venv = out / "venv"
        install = [str(venv / "bin" / "pip"), "install", "-q", str(tree)]
        return [install] if rebuild else [[self.context.python, "-m", "venv", str(venv)], install]

    def artifact(self, app: App, out: Path) -> Path:
        return out / "venv" / "bin" / app.script

    def size(self, artifact: Path) -> int:
        venv = artifact.parent.parent
        return sum(
            os.lstat(os.path.join(directory, name)).st_size for directory, _, names in os.walk(venv) for name in names
        )


TOOLS: dict[str, type[Tool]] = {t.name: t for t in (Onefile, PyInstaller, Shiv, Pex, PexVenv, Venv)}
PIP_TOOLS = ("pyinstaller", "shiv", "pex")  # installed into the throwaway tools venv
