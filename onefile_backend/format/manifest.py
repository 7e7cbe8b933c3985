"""The app layer's manifest, ``onefile.json``: what a binary holds, as one type that the
build writes and ``inspect`` reads (the launcher's ``ONEFILE=info`` prints it as text).

Written as sorted, indented JSON so the same facts give the same bytes. Readers accept
manifests of older binaries, which lack the later fields.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from .layers import MODE_FILE, FileEntry

#: Its path in the app layer (``OF_APP_MANIFEST`` in stub/of_format.h).
MANIFEST_NAME = "onefile.json"


@dataclass(frozen=True)
class ManifestEntryPoint:
    name: str
    value: str  # "module:attr"; "-m module"; "scripts/NAME" (a Python data script)
    kind: str  # "console_scripts", "gui_scripts", "data_scripts", "module"


@dataclass(frozen=True)
class Manifest:
    built_with: str  # "onefile-backend 0.1.0"
    entry_point: ManifestEntryPoint  # the first (or only) command, for readers older than `commands`
    python: str  # the runtime's full version, "3.11.7"
    target: str = "x86_64"  # the CPU (binaries before cross-targets were always x86_64)
    runtime_origin: str | None = None  # "build machine", "archive", "uv download"
    min_glibc: str | None = None  # "2.36"
    min_glibc_set_by: str | None = None  # the file in the binary that needs it
    glibc_versions: tuple[str, ...] = ()  # every GLIBC_2.y the binary's files ask for
    runtime_libraries: tuple[str, ...] = ()  # machine libraries copied into the runtime
    # The glibc the runtime carries in libc/: "glibc 2.36 from /: 16 files, 6.0 MB unpacked,
    # 2.2 MB in the binary"; None when it carries none (libc = "system").
    libc: str | None = None
    distributions: Mapping[str, str] = field(default_factory=dict)  # name -> version
    # Where packages came from (app/indexes.py's IndexSettings.to_json): {"source": "pip",
    # "settings": [{"setting": "index-url", "value": URL, "from": "PIP_INDEX_URL"}]},
    # credentials removed.
    indexes: Mapping[str, Any] | None = None
    # Every command the binary runs, in the order chosen (older binaries: entry_point alone).
    commands: tuple[ManifestEntryPoint, ...] = ()
    # What the binary leaves out that a program might read, each with how to keep it:
    # "the stdlib's .py sources (bytecode kept); `stdlib-sources = true` keeps them".
    left_out: tuple[str, ...] = ()

    def all_commands(self) -> tuple[ManifestEntryPoint, ...]:
        """The commands, also for a manifest written before ``commands`` was."""
        return self.commands or (self.entry_point,)

    def to_json(self) -> bytes:
        facts = {key: value for key, value in dataclasses.asdict(self).items() if value is not None}
        facts = {key: list(value) if isinstance(value, tuple) else value for key, value in facts.items()}
        return json.dumps(facts, indent=2, sort_keys=True).encode() + b"\n"

    def entry(self) -> FileEntry:
        return FileEntry(MANIFEST_NAME, MODE_FILE, self.to_json())

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """Read a manifest written by this or an earlier onefile-backend; ValueError if it
        isn't one."""
        facts: Any = json.loads(data)
        if not isinstance(facts, dict) or not isinstance(facts.get("entry_point"), dict):
            raise ValueError("not a onefile manifest (no entry_point)")
        known = {f.name for f in dataclasses.fields(cls)}
        values = {key: value for key, value in facts.items() if key in known}
        try:
            values["entry_point"] = ManifestEntryPoint(**values["entry_point"])
            if "commands" in values:
                values["commands"] = tuple(ManifestEntryPoint(**command) for command in values["commands"])
            for key in ("glibc_versions", "runtime_libraries", "left_out"):
                if key in values:
                    values[key] = tuple(values[key])
            return cls(**values)
        except TypeError as exc:
            raise ValueError(f"not a onefile manifest ({exc})") from None

    def facts(self) -> dict[str, Any]:
        """As a dictionary of what it records (``inspect --json``)."""
        result: dict[str, Any] = json.loads(self.to_json())
        return result
