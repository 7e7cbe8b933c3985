"""onefile-backend's own wheel, made from the running copy.

onefile-backend is not on PyPI, so a front end that builds in an isolated environment
(pypa/build, uv, tox) finds it only in a local wheelhouse (``PIP_FIND_LINKS``,
``UV_FIND_LINKS``); our own front end installs the same wheel into its isolated
environments. It is packed from the files that are running, whether they were installed
from a wheel or sit in a checkout, launchers included (``onefile_backend/_stub/``: every
target's that is there; in a checkout, this machine's is built first when missing or older
than stub/, the way setup.py's wheel build and the tests build it).
"""

from __future__ import annotations

import base64
import email.message
import email.policy
import glob
import hashlib
import importlib.util
import os
import sys
import sysconfig
import tempfile
import zipfile
from importlib import metadata

from packaging.requirements import Requirement

from .. import __version__
from .._errors import OnefileError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_DIST = "onefile_backend"  # the distribution's name as wheel file names spell it
_EPOCH_1980 = (1980, 1, 1, 0, 0, 0)


def wheel_name() -> str:
    """Any Python 3, this platform only: the wheel carries the native launcher (as setup.py's)."""
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"{_DIST}-{__version__}-py3-none-{platform}.whl"


def _checkout_metadata() -> str | None:
    """METADATA from the checkout's pyproject.toml, when the running copy is a checkout."""
    path = os.path.join(os.path.dirname(PACKAGE_DIR), "pyproject.toml")
    try:
        with open(path, "rb") as f:
            project = tomllib.load(f).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return None
    if project.get("name") != "onefile-backend":
        return None
    headers = [("Metadata-Version", "2.1"), ("Name", "onefile-backend"), ("Version", __version__)]
    if isinstance(project.get("description"), str):
        headers.append(("Summary", project["description"]))
    if isinstance(project.get("requires-python"), str):
        headers.append(("Requires-Python", project["requires-python"]))
    headers += [("Requires-Dist", requirement) for requirement in project.get("dependencies", [])]
    for extra, requirements in sorted(project.get("optional-dependencies", {}).items()):
        headers.append(("Provides-Extra", extra))
        for text in requirements:
            requirement = Requirement(text)
            marker = f"({requirement.marker}) and " if requirement.marker else ""
            requirement.marker = None
            headers.append(("Requires-Dist", f"{requirement}; {marker}extra == '{extra}'"))
    return "".join(f"{key}: {value}\n" for key, value in headers)


def _installed_metadata() -> str | None:
    """METADATA of the running copy when it was installed: the dist-info next to the
    package, else the installed distribution's (with this copy's version)."""
    beside = glob.glob(os.path.join(os.path.dirname(PACKAGE_DIR), f"{_DIST}-{__version__}.dist-info", "METADATA"))
    if beside:
        with open(beside[0], encoding="utf-8") as f:
            return f.read()
    try:
        text = metadata.distribution("onefile-backend").read_text("METADATA")
    except metadata.PackageNotFoundError:
        return None
    if text is None:
        return None
    headers = email.message_from_string(text, policy=email.policy.compat32)
    del headers["Version"]
    headers["Version"] = __version__
    return headers.as_string()


def _package_files() -> list[tuple[str, str]]:
    """(path in the wheel, path on disk) of every file of the running package."""
    files = []
    for directory, subdirectories, names in os.walk(PACKAGE_DIR):
        subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
        for name in sorted(names):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = os.path.join(directory, name)
            files.append((f"{_DIST}/{os.path.relpath(path, PACKAGE_DIR)}", path))
    return files


def _launcher_is_stale(launcher: str, stub_dir: str) -> bool:
    if not os.path.isfile(launcher):
        return True
    built = os.path.getmtime(launcher)
    sources = glob.glob(os.path.join(stub_dir, "*.[ch]")) + [os.path.join(stub_dir, "Makefile")]
    return any(os.path.getmtime(source) > built for source in sources)


def _build_checkout_launcher(setup_py: str, machine: str, launcher: str) -> None:
    """Build the launcher as the checkout's own wheel build does (setup.py's ``build_launcher``:
    zig and the pinned zstd.c), as tests/conftest.py does too."""
    spec = importlib.util.spec_from_file_location("onefile_setup_py", setup_py)
    if spec is None or spec.loader is None:
        raise OnefileError(f"{setup_py}: cannot be loaded to build the launcher")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        module.build_launcher(machine, launcher, log=lambda message: None)
    except Exception as exc:  # setup.py's LauncherBuildError says what is missing
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise OnefileError(f"building this checkout's {machine} launcher failed: {first}") from None


def _ensure_launcher() -> None:
    """In a checkout, (re)build this machine's launcher when its sources changed; an
    installed copy must have it."""
    from ..format.binary import stub_for
    from ..platform.target import host_machine

    machine = host_machine()
    root = os.path.dirname(PACKAGE_DIR)
    stub_dir, setup_py = os.path.join(root, "stub"), os.path.join(root, "setup.py")
    launcher = os.path.join(PACKAGE_DIR, "_stub", f"onefile-stub-{machine}")
    if os.path.isfile(setup_py) and os.path.isdir(stub_dir) and _launcher_is_stale(launcher, stub_dir):
        _build_checkout_launcher(setup_py, machine, launcher)
    stub_for(machine)  # AssembleError (one line, what to do) when there is none


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def write_own_wheel(directory: str) -> str:
    """Write the running copy's wheel into ``directory``; return its path.

    The same files give the same bytes (sorted entries, fixed times), so writing it again
    over an existing wheelhouse changes nothing that pip or uv have cached.
    """
    _ensure_launcher()
    text = _checkout_metadata() or _installed_metadata()
    if text is None:
        raise OnefileError("cannot tell onefile-backend's metadata: it is neither installed nor a checkout")
    dist_info = f"{_DIST}-{__version__}.dist-info"
    platform_tag = wheel_name().rsplit("-", 1)[1][: -len(".whl")]
    members: list[tuple[str, bytes, int]] = []
    for name, path in _package_files():
        with open(path, "rb") as f:
            data = f.read()
        members.append((name, data, 0o755 if os.access(path, os.X_OK) else 0o644))
    members += [
        (f"{dist_info}/METADATA", text.encode("utf-8"), 0o644),
        (
            f"{dist_info}/WHEEL",
            (
                "Wheel-Version: 1.0\nGenerator: onefile-backend wheelhouse\nRoot-Is-Purelib: false\n"
                f"Tag: py3-none-{platform_tag}\n"
            ).encode(),
            0o644,
        ),
        (f"{dist_info}/entry_points.txt", b"[console_scripts]\nonefile = onefile_backend.cli.frontend:main\n", 0o644),
    ]
    record = "".join(_record_line(name, data) + "\n" for name, data, _ in members) + f"{dist_info}/RECORD,,\n"
    members.append((f"{dist_info}/RECORD", record.encode(), 0o644))
    os.makedirs(directory, exist_ok=True)
    target = os.path.join(directory, wheel_name())
    descriptor, temporary = tempfile.mkstemp(prefix=".onefile-wheel-", dir=directory)
    try:
        with os.fdopen(descriptor, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as wheel:
            for name, data, mode in members:
                info = zipfile.ZipInfo(name, _EPOCH_1980)
                info.external_attr = (0o100000 | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                wheel.writestr(info, data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
    return target
