"""The PEP 517 hooks (``backend``), the runner that calls ours in a build environment
(``in_process``, a stdlib-only script), and the voice both the hooks and the command line
give a build (:data:`console_log`). Light to import: the front end imports it at start."""

from __future__ import annotations

import sys

from .._report import Kind, verbosity

#: Set by onefile's own hook runner, which reports errors itself.
ENV_HOOK_RUNNER = "ONEFILE_HOOK_RUNNER"


class ConsoleLog:
    """A build's voice, on stderr. ``progress`` lines redraw one line on a terminal and
    are left out of logs (CI), so long steps show they move without flooding."""

    def __init__(self) -> None:
        self.redrawing = False

    def __call__(self, message: str, kind: Kind = "info") -> None:
        quiet = verbosity() < 0
        if kind == "progress":
            if sys.stderr.isatty() and not quiet:
                sys.stderr.write(f"\r\x1b[K* {message}")
                sys.stderr.flush()
                self.redrawing = True
            return
        if kind == "info" and quiet:
            return
        if self.redrawing:
            sys.stderr.write("\r\x1b[K")
            self.redrawing = False
        prefix = {"warning": "WARNING ", "result": ""}.get(kind, "* ")
        print(f"{prefix}{message}", file=sys.stderr, flush=True)


#: The one voice of a build in this process: the backend's hooks and the front end's
#: in-process binary stage speak with it, so both give the same lines.
console_log = ConsoleLog()
