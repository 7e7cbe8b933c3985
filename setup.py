"""Builds the C launchers into the package when onefile-backend's own wheel is built, one
per supported target (onefile_backend/_stub/onefile-stub-<machine>), so an installed
onefile-backend needs no compiler and can build binaries for other CPUs.

stub/Makefile is the one place that knows how to compile; this file chooses the toolchain,
and it is one for every target, the host's included: zig (``python -m ziglang cc``, from
PyPI through build-system.requires) with ``-target <machine>-linux-musl``, and zstd
compiled in from its single-file source, ``zstd/zstd.c`` of the pinned zstandard sdist
(fetched with pip, checked against a pinned sha256 and unpacked once into
``~/.cache/onefile-backend-build``). So the launcher in an installed onefile-backend is
the same bytes whatever the machine that built the wheel had installed (a system ``cc``
and libzstd are never used: tests/integration/test_toolchain.py builds it with and without them).
The zig-built launchers are kept in that cache too, named by a hash of everything they
are made from, so a second `pip install .` copies them.

Where there is no make (a slim container), it runs the Makefile's commands itself
(``launcher_commands``, checked against ``make -n`` by tests/integration/test_toolchain.py).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import platform
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
STUB_SOURCES = os.path.join(HERE, "stub")
STUB_DIR = os.path.join(HERE, "onefile_backend", "_stub")

#: The CPUs onefile-backend ships a launcher for (``platform.machine()``, normalised).
MACHINES = ("x86_64", "aarch64")
_MACHINE_ALIASES = {"amd64": "x86_64", "x86-64": "x86_64", "arm64": "aarch64", "armv8": "aarch64"}

#: The zstandard sdist whose zstd/zstd.c every launcher (and the C tests) compile in (zstd 1.5.7).
ZSTANDARD_VERSION = "0.25.0"
ZSTANDARD_SHA256 = "7713e1179d162cf5c7906da876ec2ccb9c3a9dcbdffef0cc7f70c3667a205f0b"
#: A zstandard sdist to use instead of fetching one (offline builds); any version with zstd/zstd.c.
ENV_ZSTD_SDIST = "ONEFILE_ZSTD_SDIST"


class LauncherBuildError(Exception):
    pass


def normalise_machine(machine: str) -> str:
    machine = machine.lower()
    return _MACHINE_ALIASES.get(machine, machine)


def host_machine() -> str:
    return normalise_machine(platform.machine())


def launcher_path(machine: str) -> str:
    return os.path.join(STUB_DIR, f"onefile-stub-{machine}")


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "onefile-backend-build")


def _tail(output: str, lines: int = 15) -> str:
    kept = [line for line in output.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def launcher_commands(variables: dict[str, str]) -> list[list[str]]:
    """What ``make -C stub <variables>`` runs to build ``$(OUT)`` (the Makefile's $(OUT) and
    $(ZSTD_OBJ) rules), run from stub/ where there is no make. tests/integration/test_toolchain.py checks
    that they are what ``make -n`` prints: change both together."""
    cc = shlex.split(variables.get("CC", "cc"))
    if variables.get("TARGET"):
        cc += ["-target", variables["TARGET"]]
    cflags = ["-O2"]
    zstd = variables["ZSTD_SRC"]
    zstd_object = os.path.join(variables.get("OBJDIR", "build/obj"), "zstd.o")
    warn = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pthread", f"-I{os.path.dirname(zstd)}/"]
    sources = sorted(name for name in os.listdir(STUB_SOURCES) if name.endswith(".c"))
    out = variables.get("OUT", "build/onefile-stub")
    link = ["-o", out, "-static", "-Wl,--gc-sections", "-s", zstd_object]
    return [
        [*cc, "-ffunction-sections", "-fdata-sections", *cflags, "-c", zstd, "-o", zstd_object],
        [*cc, *warn, "-ffunction-sections", "-fdata-sections", *cflags, *sources, *link],
    ]


def _make(variables: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = ["make", "-C", STUB_SOURCES, *(f"{key}={value}" for key, value in variables.items())]
    if shutil.which("make") is not None:
        return subprocess.run(command, capture_output=True, text=True)
    # No make (a slim container): the same commands, every time (zig's cache keeps that fast).
    output = []
    for argv in launcher_commands(variables):
        output.append(shlex.join(argv))
        os.makedirs(os.path.join(STUB_SOURCES, os.path.dirname(argv[argv.index("-o") + 1])), exist_ok=True)
        try:
            result = subprocess.run(argv, cwd=STUB_SOURCES, capture_output=True, text=True)
        except OSError as exc:
            return subprocess.CompletedProcess(argv, 127, "\n".join(output), f"{argv[0]}: {exc.strerror}")
        output += [result.stdout, result.stderr]
        if result.returncode != 0:
            return subprocess.CompletedProcess(argv, result.returncode, "\n".join(output), "")
    return subprocess.CompletedProcess(command, 0, "\n".join(output), "")


def zig_cc() -> str | None:
    """The zig C compiler as a command line for make's CC: PyPI's ziglang, else zig on PATH."""
    if importlib.util.find_spec("ziglang") is not None:
        return f"{shlex.quote(sys.executable)} -m ziglang cc"
    zig = shutil.which("zig")
    return f"{shlex.quote(zig)} cc" if zig else None


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download_zstandard_sdist(directory: str) -> str:
    requirement = f"zstandard=={ZSTANDARD_VERSION}"
    # --no-build-isolation: pip reads the sdist's metadata with the setuptools already here
    # (build-system.requires) instead of installing zstandard's build requirements.
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
    command += ["--no-build-isolation", requirement, "--dest", directory]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise LauncherBuildError(
            f"fetching zstd's source ({requirement} sdist) with pip failed:\n{_tail(result.stdout + result.stderr)}\n"
            f"(offline, set {ENV_ZSTD_SDIST} to a zstandard sdist)"
        )
    path = os.path.join(directory, f"zstandard-{ZSTANDARD_VERSION}.tar.gz")
    if not os.path.isfile(path):
        raise LauncherBuildError(f"pip download {requirement} did not write {os.path.basename(path)}")
    actual = _sha256(path)
    if actual != ZSTANDARD_SHA256:
        raise LauncherBuildError(f"{requirement} sdist: sha256 {actual}, expected {ZSTANDARD_SHA256}")
    return path


def zstd_source() -> str:
    """zstd/zstd.c (with its headers beside it) from the zstandard sdist, cached by the
    sdist's sha256: the pinned one, or ``$ONEFILE_ZSTD_SDIST``."""
    local = os.environ.get(ENV_ZSTD_SDIST)
    digest = _sha256(local) if local else ZSTANDARD_SHA256
    directory = os.path.join(cache_dir(), f"zstd-{digest[:32]}")
    source = os.path.join(directory, "zstd.c")
    if os.path.isfile(source):
        return source
    os.makedirs(cache_dir(), exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir(), prefix=".zstd-") as temporary:
        sdist = local or _download_zstandard_sdist(temporary)
        unpacked = os.path.join(temporary, "zstd")
        os.mkdir(unpacked)
        try:
            with tarfile.open(sdist) as archive:
                # Only regular files named <top>/zstd/<name>: nothing the archive says can
                # write elsewhere.
                for member in archive.getmembers():
                    parts = member.name.split("/")
                    if len(parts) == 3 and parts[1] == "zstd" and member.isfile() and parts[2] not in ("", ".", ".."):
                        data = archive.extractfile(member)
                        assert data is not None
                        with open(os.path.join(unpacked, parts[2]), "wb") as out:
                            shutil.copyfileobj(data, out)
        except (OSError, tarfile.TarError) as exc:
            raise LauncherBuildError(f"{sdist}: cannot read it as a zstandard sdist ({exc})") from None
        if not os.path.isfile(os.path.join(unpacked, "zstd.c")):
            raise LauncherBuildError(f"{sdist}: no zstd/zstd.c in it")
        try:
            os.rename(unpacked, directory)
        except OSError:  # another build unpacked it first
            if not os.path.isfile(source):
                raise
    return source


def _copy_executable(source: str, destination: str) -> None:
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    temporary = f"{destination}.{os.getpid()}.tmp"
    shutil.copyfile(source, temporary)
    os.chmod(temporary, 0o755)
    os.replace(temporary, destination)


def _cached_launcher(zig: str, target: str, zstd: str) -> str | None:
    """Where a zig-built launcher for ``target`` is kept, named by what makes its bytes: the
    launcher's sources and Makefile, zstd's source, zig's version, CFLAGS/LDFLAGS (zig's
    builds are reproducible). zig's own cache misses when zig sits at a new path, as it does
    in every isolated build environment, so without this each `pip install .` would compile
    the aarch64 launcher anew (20 s, a minute with an empty ~/.cache/zig). None when zig's
    version can't be told (then nothing is cached)."""
    version = subprocess.run([*shlex.split(zig)[:-1], "version"], capture_output=True, text=True)
    if version.returncode != 0 or not version.stdout.strip():
        return None
    digest = hashlib.sha256()
    facts = [target, version.stdout.strip(), os.path.basename(os.path.dirname(zstd))]
    facts += [os.environ.get("CFLAGS", ""), os.environ.get("LDFLAGS", "")]
    for name in sorted(os.listdir(STUB_SOURCES)):
        if name == "Makefile" or name.endswith((".c", ".h")):
            with open(os.path.join(STUB_SOURCES, name), "rb") as f:
                facts.append(f"{name}:{hashlib.sha256(f.read()).hexdigest()}")
    for fact in facts:
        digest.update(f"{len(fact)}:{fact}".encode())
    return os.path.join(cache_dir(), "launchers", f"onefile-stub-{target}-{digest.hexdigest()[:32]}")


def _store_launcher(built: str, cached: str, keep: int = 4) -> None:
    """Keep ``built`` as ``cached``, and only the ``keep`` newest launchers of its target."""
    try:
        _copy_executable(built, cached)
        prefix = os.path.basename(cached)[: -len("-") - 32]
        directory = os.path.dirname(cached)
        others = [
            os.path.join(directory, name)
            for name in os.listdir(directory)
            if name.startswith(prefix + "-") and len(name) == len(prefix) + 33
        ]
        others.sort(key=os.path.getmtime, reverse=True)
        for old in others[keep:]:
            os.unlink(old)
    except OSError:  # a cache is a convenience: a read-only home still builds
        pass


def launcher_variables(machine: str) -> dict[str, str]:
    """The make variables that build ``machine``'s launcher (stub/Makefile's $(OUT),
    $(TEST_STUB)): zig for ``<machine>-linux-musl`` and the pinned zstd.c."""
    zig = zig_cc()
    if zig is None:
        raise LauncherBuildError(
            f"cannot build the {machine} onefile launcher: it needs zig (pip install ziglang, "
            "or build onefile-backend with pip, which installs it from build-system.requires)"
        )
    target = f"{machine}-linux-musl"
    zstd = zstd_source()
    objects = os.path.join("build", f"{target}-{os.path.basename(os.path.dirname(zstd))}")
    return {"CC": zig, "TARGET": target, "ZSTD_SRC": zstd, "OBJDIR": objects}


def build_launcher(machine: str, out: str, log=print) -> str:
    """Build the launcher for ``machine`` into ``out``; return how ("zig" or "zig (cached)")."""
    variables = launcher_variables(machine)
    cached = _cached_launcher(variables["CC"], variables["TARGET"], variables["ZSTD_SRC"])
    if cached is not None and os.path.isfile(cached):
        _copy_executable(cached, out)
        return "zig (cached)"
    result = _make({**variables, "OUT": out})
    if result.returncode != 0:
        raise LauncherBuildError(
            f"cannot build the {machine} onefile launcher with zig ({variables['TARGET']}):\n"
            f"{_tail(result.stdout + result.stderr)}"
        )
    if cached is not None:
        _store_launcher(out, cached)
    return "zig"


def build_launchers(log=print) -> list[str]:
    """Every supported target's launcher into onefile_backend/_stub/; return their paths."""
    built = []
    for machine in MACHINES:
        out = launcher_path(machine)
        toolchain = build_launcher(machine, out, log)
        log(f"onefile-backend: {machine} launcher built with {toolchain}: {os.path.relpath(out, HERE)}")
        built.append(out)
    return built


if __name__ == "__main__":  # as setuptools runs it; tests/conftest.py imports build_launcher
    from setuptools import setup
    from setuptools.command.bdist_wheel import bdist_wheel  # setuptools >= 70.1 (build-system.requires)
    from setuptools.command.build_py import build_py

    class BuildPyWithStub(build_py):
        def run(self):
            super().run()
            # Into the source tree (git-ignored), so `python -m onefile_backend` run from a
            # checkout, and the tests, find the launchers too; then into the wheel.
            try:
                built = build_launchers()
            except LauncherBuildError as exc:
                raise SystemExit(f"error: {exc}") from None
            if not self.editable_mode:
                for path in built:
                    target = os.path.join(self.build_lib, "onefile_backend", "_stub", os.path.basename(path))
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    self.copy_file(path, target)

    class PlatformWheel(bdist_wheel):
        """Any Python 3; tagged with the build machine's platform.

        The launchers inside are static, one per supported CPU, so the wheel would run on
        any Linux of those CPUs. It is only ever built for the machine it is installed on
        (`pip install .`, or our front end's wheelhouse for an isolated build there), and
        the host tag keeps pip and uv from offering a cached copy to another OS.
        """

        def finalize_options(self):
            super().finalize_options()
            self.root_is_pure = False

        def get_tag(self):
            return "py3", "none", sysconfig.get_platform().replace("-", "_").replace(".", "_")

    setup(cmdclass={"build_py": BuildPyWithStub, "bdist_wheel": PlatformWheel})
