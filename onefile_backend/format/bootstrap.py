"""The Python code that runs inside a finished binary, as text to write into it.

What is rendered here must use only the standard library and never import
onefile_backend: the names it shares with the launcher (spec.ENV_*) are written into
the text when it is rendered.
"""

from __future__ import annotations

from .spec import ENV_ARGV0

_LAUNCHER = """\
# Started by the onefile stub: runs the entry point {name} = {value}
import os
import sys

if __name__ == "__main__":
    sys.argv[0] = os.environ.pop("{argv0}", sys.argv[0])
    from {module} import {head}
    sys.exit({call}())
"""

_ZIPAPP_MAIN = """\
# `python <binary> ARGS` (what reloaders do with sys.executable and sys.argv) runs the
# binary itself, so it starts exactly as `<binary> ARGS` would.
import os
import sys

binary = os.path.abspath(os.path.dirname(__file__))
os.execv(binary, [sys.argv[0]] + sys.argv[1:])
"""


def render_launcher(name: str, module: str, attr: str | None) -> str:
    """``bin/onefile-main``: sets ``sys.argv[0]`` and calls the entry point."""
    if attr is None:  # "module" alone: run it like `python -m module`
        return _LAUNCHER.replace(
            "    from {module} import {head}\n    sys.exit({call}())\n",
            ('    import runpy\n    runpy.run_module({module!r}, run_name="__main__", alter_sys=True)\n'),
        ).format(name=name, value=module, argv0=ENV_ARGV0, module=module)
    return _LAUNCHER.format(
        name=name,
        value=f"{module}:{attr}",
        argv0=ENV_ARGV0,
        module=module,
        head=attr.split(".")[0],
        call=attr,
    )


def render_zipapp_main() -> str:
    """The zip's ``__main__.py``."""
    return _ZIPAPP_MAIN
