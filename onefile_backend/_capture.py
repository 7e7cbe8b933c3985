"""Quiet steps: output from below (setuptools, compilers) is shown only when a step fails."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Iterator

from ._report import verbosity


@contextlib.contextmanager
def captured_output(what: str) -> Iterator[None]:
    """Send fd 1 and 2 to a file for the duration; show it only if the step fails."""
    if verbosity() > 0:
        yield
        return
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(1), os.dup(2)
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            sink.seek(0)
            output = sink.read().decode("utf-8", "replace").rstrip()
            if output:
                os.write(2, f"--- output of {what} ---\n{output}\n---\n".encode())
            raise
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
