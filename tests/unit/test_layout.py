"""The package's shape: rooms import only rooms below them, and importing the package
(or its command line) loads no more than it needs."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "onefile_backend"

#: Each room's level: a module may import its own room and rooms of a lower level only.
#: The package's floor (``_errors``, ``_report``, ``_subprocess``, ``_capture``) is level 0.
LEVELS = {
    "cli": 7,
    "hooks": 6,
    "pipeline": 5,
    "app": 4,
    "runtime": 3,
    "format": 2,
    "cache": 1,
    "platform": 1,
}


def _room(module: str) -> str | None:
    """``onefile_backend.app.layer`` -> ``app``; a floor module -> None."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LEVELS) else None


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import of onefile_backend in ``path``."""
    relative = path.relative_to(REPO).with_suffix("")
    package = list(relative.parts[:-1]) if relative.name != "__init__" else list(relative.parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            else:
                target = node.module or ""
            if target.startswith("onefile_backend"):
                names = [target] if node.module else [f"{target}.{alias.name}" for alias in node.names]
                found += [(node.lineno, name) for name in names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("onefile_backend")]
    return found


#: The package itself (its lazy hooks) and ``python -m onefile_backend`` stand above every room.
_TOP = ("onefile_backend", "onefile_backend.__main__")


def _level(module: str) -> int:
    if module in _TOP:
        return max(LEVELS.values()) + 1
    room = _room(module)
    return LEVELS[room] if room else 0


def test_every_room_has_a_level() -> None:
    rooms = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert rooms == set(LEVELS)


def test_rooms_import_only_rooms_below_them() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        if module.endswith(".__init__"):
            module = module[: -len(".__init__")]
        mine, level = _room(module), _level(module)
        for line, target in _imports(path):
            if target == "onefile_backend" or _room(target) == mine:
                continue
            if _level(target) >= level:
                wrong.append(f"{path.relative_to(REPO)}:{line} imports {target}")
    assert not wrong, "a room imports one at its level or above:\n" + "\n".join(wrong)


def test_the_floor_imports_no_room() -> None:
    wrong = []
    for path in sorted(PACKAGE.glob("_*.py")):
        if path.name.startswith("__"):
            continue
        wrong += [f"{path.name}:{line} imports {target}" for line, target in _imports(path) if _room(target)]
    assert not wrong, wrong


def _loaded_by(code: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", f"import sys; {code}; print(' '.join(sys.modules))"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(result.stdout.split())


def test_importing_the_package_loads_no_room() -> None:
    loaded = _loaded_by("import onefile_backend")
    assert {m for m in loaded if m.startswith("onefile_backend.")} <= {"onefile_backend._errors"}
    assert "setuptools" not in loaded


def test_the_command_line_starts_without_the_pipeline() -> None:
    loaded = _loaded_by("import onefile_backend.cli.frontend")
    heavy = {"setuptools", "zstandard", "elftools", "onefile_backend.pipeline.build", "onefile_backend.runtime.layer"}
    assert not heavy & loaded, heavy & loaded


def test_each_cache_kind_is_declared_once() -> None:
    from onefile_backend.cache.kinds import KINDS

    assert len({kind.tag for kind in KINDS}) == len(KINDS)
    assert len({kind.name for kind in KINDS}) == len(KINDS)
    # Keys are made through the registry, not with a version spelled inline.
    inline = re.compile(r"""["'](pins|dependencies|interpreter|elf-facts|zstd|bytecode|runtime-layer)-\d+["':]""")
    found = [
        f"{path.relative_to(REPO)}:{number}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if inline.search(line) and path.name != "kinds.py"
    ]
    assert not found, found


def test_internals_doc_names_real_functions() -> None:
    """Every ``room.module.name`` (and ``room/module.name``) docs/internals.md mentions exists."""
    import importlib

    text = (REPO / "docs" / "internals.md").read_text()
    rooms = "|".join(LEVELS)
    references = re.findall(rf"`((?:{rooms})[./][a-z_]+(?:\.[A-Za-z_]+)+)", text)
    assert len(references) > 20
    missing = []
    for reference in references:
        room, rest = re.split(r"[./]", reference, maxsplit=1)
        module_name, *attributes = rest.removesuffix(".py").split(".")
        try:
            thing = importlib.import_module(f"onefile_backend.{room}.{module_name}")
            for attribute in attributes:
                thing = getattr(thing, attribute)
        except (ImportError, AttributeError):
            missing.append(reference)
    assert not missing, missing
    build = importlib.import_module("onefile_backend.pipeline.build")
    for name in re.findall(r"^\d\. `(_[a-z_]+)`", text, flags=re.M):
        assert hasattr(build, name), name
