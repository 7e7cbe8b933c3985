"""Installing with uv for the runtime's interpreter: pinning the project's dependencies
(remembered a while), installing pins or a lock file into a prefix, and the build-cache
key of what such an install becomes."""

from __future__ import annotations

import email.parser
import glob
import json
import os
import re
import tempfile
import time

from .. import __version__
from .._errors import ResolveError, ToolError
from .._report import redact
from .._subprocess import run_tool
from ..cache.kinds import DEPENDENCIES, PINS
from ..cache.store import BlobStore
from ..runtime.interpreters import Interpreter
from .indexes import IndexSettings
from .wheel import wheel_metadata


def _uv(interpreter: Interpreter, indexes: IndexSettings, *arguments: str) -> str:
    """Run uv for the runtime's interpreter, with the user's index settings; its output,
    or ResolveError with its complaint (IndexSettingError when the settings are the cause)."""
    from uv import find_uv_bin

    command = [str(find_uv_bin()), *arguments, "--quiet", "--no-python-downloads", "--python", interpreter.host]
    if interpreter.target.foreign and arguments[:1] == ("pip",) and "--python-platform" in arguments:
        # An sdist would be built for this machine's CPU, not the target's (uv #16019).
        command += ["--only-binary", ":all:"]
    what = f"cannot install the project's dependencies for Python {interpreter.short_version}"
    try:
        return run_tool(command, what=what, env={**os.environ, **indexes.uv_environment()}).stdout
    except ToolError as exc:  # the resolve stage's error, as callers expect
        raise indexes.explain(exc.output) or ResolveError(redact(str(exc))) from None


#: How long a resolution of unchanged requirements is reused without asking the index
#: again: as long as PyPI tells clients to cache its pages.
PINS_FRESH_SECONDS = 600


def _interpreter_facts(interpreter: Interpreter) -> list[object]:
    target = interpreter.target
    facts: list[object] = [interpreter.executable, interpreter.version_string, target.magic, target.cache_tag]
    return facts + ([target.machine] if interpreter.target.foreign else [])


def _platform_options(platform: str | None) -> tuple[str, ...]:
    """uv's options for wheels of a manylinux floor (``x86_64-manylinux_2_28``), if one is set."""
    return ("--python-platform", platform) if platform else ()


def pin_dependencies(
    wheel: str,
    extras: tuple[str, ...],
    interpreter: Interpreter,
    store: BlobStore,
    indexes: IndexSettings,
    platform: str | None = None,
) -> str:
    """requirements.txt lines pinning every dependency of the project (not the project).

    A rebuild with the same requirements reuses the last answer for PINS_FRESH_SECONDS.
    """
    headers = wheel_metadata(wheel)
    requirements = sorted(headers.get_all("Requires-Dist") or [])
    if not requirements:
        return ""
    facts = [_interpreter_facts(interpreter), requirements, sorted(extras), indexes.identity()]
    key = PINS.key(*facts, *([platform] if platform else []))
    remembered = store.get_many([key]).get(key)
    if remembered is not None:
        made, pins = json.loads(remembered)
        if 0 <= time.time() - made < PINS_FRESH_SECONDS:
            return str(pins)
    with tempfile.TemporaryDirectory(prefix="onefile-pins-") as scratch:
        wanted = os.path.join(scratch, "requirements.in")
        with open(wanted, "w", encoding="utf-8") as f:
            f.write(wheel + (f"[{','.join(extras)}]" if extras else "") + "\n")
        pins = _uv(
            interpreter, indexes, "pip", "compile", "--no-header", "--no-annotate",
            "--no-emit-package", str(headers["Name"]), wanted, *_platform_options(platform),
        )  # fmt: skip
    store.put_many({key: json.dumps([time.time(), pins]).encode()})
    return pins


# A pin of a local path or URL: requirements lines "./x", "/x.whl", "-e ...", "x @ URL",
# "file:..."; pylock.toml's `path = ...` (directories, archives, wheels on disk).
_LOCAL_SOURCE = re.compile(r"^\s*(?:[./]|-e\s)| @ |file:|\bpath\s*=", re.MULTILINE)


def dependencies_key(
    interpreter: Interpreter, pins: str, exclude: tuple[str, ...], keep_tests: bool, level: int, epoch: int,
    indexes: IndexSettings, platform: str | None = None,
) -> bytes | None:
    """What identifies the encoded dependencies, or None when the pins can't say (a local
    path or URL may change behind the same line)."""
    if _LOCAL_SOURCE.search(pins):
        return None
    # Bump DEPENDENCIES' version when app.layer._process changes what it makes of an install.
    # The same pins from another index may be other files (a private package named as a public one).
    facts = [__version__, _interpreter_facts(interpreter), pins, sorted(exclude), keep_tests, level, epoch]
    facts.append(indexes.identity())
    return DEPENDENCIES.key(*facts, *([platform] if platform else []))


def install_dependencies(
    interpreter: Interpreter,
    stage: str,
    work: str,
    *,
    lock: str | None,
    pins: str,
    platform: str | None,
    indexes: IndexSettings,
) -> None:
    """Install exactly what ``lock`` (a lock file) or ``pins`` (requirements lines) names
    into the prefix ``stage``."""
    if lock is not None:
        _uv(interpreter, indexes, "pip", "install", "--prefix", stage, "-r", lock, *_platform_options(platform))
    else:
        pinned = os.path.join(work, "pins.txt")
        with open(pinned, "w", encoding="utf-8") as f:
            f.write(pins)
        options = _platform_options(platform)
        _uv(interpreter, indexes, "pip", "install", "--prefix", stage, "--no-deps", "-r", pinned, *options)


def install_wheel(interpreter: Interpreter, stage: str, wheel: str, indexes: IndexSettings) -> None:
    """Install ``wheel`` alone (its dependencies are installed apart) into the prefix ``stage``."""
    _uv(interpreter, indexes, "pip", "install", "--prefix", stage, "--no-deps", wheel)


def installed_distributions(site_packages: str) -> dict[str, str]:
    distributions = {}
    for metadata in sorted(glob.glob(os.path.join(site_packages, "*.dist-info", "METADATA"))):
        with open(metadata, "rb") as f:
            headers = email.parser.BytesHeaderParser().parse(f)
        distributions[str(headers["Name"])] = str(headers["Version"])
    return distributions
