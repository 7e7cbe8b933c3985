"""How the library speaks: the :class:`Log` it is handed, and the one verbosity setting.

Only the command line and the hooks (our voice inside someone else's front end) print;
every stage reports through the ``log`` it receives, as pypa/build's ``_ctx.log`` does.
Imports nothing heavy: the front end starts without setuptools, zstandard or pyelftools.
"""

from __future__ import annotations

import os
import re
from typing import Literal, Protocol

#: ``info``: a step; ``warning``: something the user should know; ``progress``: a line
#: that redraws on a terminal (left out of logs); ``result``: what was built.
Kind = Literal["info", "warning", "progress", "result"]

#: The one verbosity setting: set by the front end's ``-q``/``-v`` (-1, 0, 1…) and read
#: in every process of a build (the backend's hooks run in their own). Below 0 only
#: warnings and errors are shown; above 0 the output of the programs a build runs is too.
ENV_VERBOSITY = "ONEFILE_VERBOSITY"


class Log(Protocol):
    def __call__(self, message: str, kind: Kind = "info") -> None: ...


def verbosity() -> int:
    """``ONEFILE_VERBOSITY`` as a number (0 when unset or not a number)."""
    try:
        return int(os.environ.get(ENV_VERBOSITY) or 0)
    except ValueError:
        return 0


def display_path(path: str) -> str:
    """``path`` relative to the working directory when it is below it, else absolute."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


_CREDENTIALS = re.compile(r"(?<=://)[^/@\s`'\"]+@")


def redact(text: str) -> str:
    """``text`` with the credentials of every URL in it (``https://user:token@host``)
    replaced by ``***``: what the build prints, logs or records never holds them."""
    return _CREDENTIALS.sub("***@", text)


def without_credentials(url: str) -> str:
    """``url`` (or any text) with the credentials of its URLs removed."""
    return _CREDENTIALS.sub("", url)
