"""Run the programs a build needs (uv, patchelf, strip, interpreters) one way.

As pypa/build's ``run_subprocess``: output is captured, shown in full with ``-v``
(``ONEFILE_VERBOSITY`` above 0), and a failure is a :class:`ToolError` naming the program, its
exit status and the last lines it printed. A program that can't be started at all
raises ``OSError`` for the caller to explain (or to leave as the bug it is).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from typing import Mapping, Sequence

from ._errors import ToolError
from ._report import redact, verbosity


def _verbose() -> bool:
    return verbosity() > 0


def _show(argv: Sequence[str], result: subprocess.CompletedProcess[str] | None) -> None:
    """build's ``> command`` / ``< output`` lines, on stderr (the backend's voice)."""
    lines = [f"> {shlex.join(argv)}"]
    if result is not None:
        output = (result.stdout or "") + (result.stderr or "")
        lines += [f"< {line}" for line in output.rstrip("\n").splitlines()]
    # An index URL's credentials (uv's own messages hide them too) never reach the output.
    print(redact("\n".join(lines)), file=sys.stderr, flush=True)


def run_tool(
    argv: Sequence[str],
    *,
    what: str,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    input: str | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with its output captured (as text); ``what`` says what it was for,
    in words that start an error message ("cannot set the run path of x.so").

    With ``check``, a non-zero exit raises :class:`ToolError`; so does a ``timeout``
    (seconds) running out, always.
    """
    argv = [str(part) for part in argv]
    tool = os.path.basename(argv[0])
    try:
        result = subprocess.run(
            argv,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            env=None if env is None else dict(env),
            cwd=cwd,
            input=input,
        )
    except subprocess.TimeoutExpired as exc:
        partial = exc.stderr or exc.stdout or ""
        if _verbose():
            _show(argv, None)
        raise ToolError(
            f"{what} (after {timeout:g} s)",
            tool,
            None,
            partial.decode("utf-8", "replace") if isinstance(partial, bytes) else partial,
        ) from None
    if _verbose():
        _show(argv, result)
    if check and result.returncode != 0:
        raise ToolError(what, tool, result.returncode, result.stderr.strip() or result.stdout)
    return result
