"""onefile-backend: a PEP 517 build backend (setuptools underneath) whose extra hook,
``build_binary``, makes one executable that runs the project with no Python installed.
"""

__version__ = "0.1.0"

from ._backend import (  # noqa: E402  (the hooks need __version__ defined first)
    build_binary,
    build_sdist,
    build_wheel,
    get_requires_for_build_binary,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_wheel,
)
from ._errors import OnefileError  # noqa: E402

# PEP 660 hooks exist in setuptools 64 and newer; re-export them when present.
try:
    from setuptools.build_meta import (  # noqa: E402
        build_editable,
        get_requires_for_build_editable,
        prepare_metadata_for_build_editable,
    )
except ImportError:  # pragma: no cover
    pass

__all__ = [
    "OnefileError",
    "build_binary",
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_binary",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]
