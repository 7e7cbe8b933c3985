"""Runs one build-backend hook in the build environment, for hooks pyproject-hooks can't
call (``build_binary``). Standard library only: it runs in the isolated environment.

Usage: python _in_process.py HOOK CONTROL_DIR, with CONTROL_DIR/input.json holding
``{"build_backend", "backend_path", "kwargs"}``; the result goes to output.json as
``{"return_val"}``, ``{"unsupported": true}`` or ``{"user_error": message}``.
"""

import importlib
import json
import os
import sys
from typing import Any, List, Optional


def _load_backend(spec: str, backend_path: Optional[List[str]]) -> Any:
    if backend_path:
        sys.path[:0] = [os.path.abspath(entry) for entry in backend_path]
    module_name, _, attribute = spec.partition(":")
    backend = importlib.import_module(module_name)
    for name in filter(None, attribute.split(".")):
        backend = getattr(backend, name)
    return backend


def main() -> None:
    hook_name, control_dir = sys.argv[1], sys.argv[2]
    with open(os.path.join(control_dir, "input.json"), encoding="utf-8") as f:
        request = json.load(f)
    backend = _load_backend(request["build_backend"], request["backend_path"])
    hook = getattr(backend, hook_name, None)
    reply: dict[str, Any]
    if hook is None:
        reply = {"unsupported": True}
    else:
        try:
            reply = {"return_val": hook(**request["kwargs"])}
        except Exception as exc:
            if not getattr(exc, "user_error", False):
                raise
            reply = {"user_error": str(exc)}
    with open(os.path.join(control_dir, "output.json"), "w", encoding="utf-8") as f:
        json.dump(reply, f)


if __name__ == "__main__":
    del sys.path[0]  # this file's directory: nothing there may shadow the backend's imports
    main()
