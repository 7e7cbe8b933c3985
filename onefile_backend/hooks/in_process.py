"""Runs one build-backend hook in the build environment, for hooks pyproject-hooks can't
call (``build_binary``). Standard library only: it runs in the isolated environment.

Usage: python _in_process.py HOOK CONTROL_DIR, with CONTROL_DIR/input.json holding
``{"build_backend", "backend_path", "kwargs"}``; the result goes to output.json as
``{"return_val"}``, ``{"unsupported": true}``, ``{"user_error": message}`` or
``{"backend_unavailable": message}``.
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


def _reply(hook_name: str, request: Any) -> Any:
    try:
        backend = _load_backend(request["build_backend"], request["backend_path"])
    except ImportError as exc:  # as pyproject-hooks' BackendUnavailable: not installed here
        return {"backend_unavailable": f"{type(exc).__name__}: {exc}"}
    hook = getattr(backend, hook_name, None)
    if hook is None:
        return {"unsupported": True}
    try:
        return {"return_val": hook(**request["kwargs"])}
    except Exception as exc:
        if not getattr(exc, "user_error", False):
            raise
        return {"user_error": str(exc)}


def main() -> None:
    hook_name, control_dir = sys.argv[1], sys.argv[2]
    with open(os.path.join(control_dir, "input.json"), encoding="utf-8") as f:
        request = json.load(f)
    reply = _reply(hook_name, request)
    with open(os.path.join(control_dir, "output.json"), "w", encoding="utf-8") as f:
        json.dump(reply, f)


if __name__ == "__main__":
    del sys.path[0]  # this file's directory: nothing there may shadow the backend's imports
    main()
