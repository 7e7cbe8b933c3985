"""The manifest: every command recorded, and older manifests (one entry point) still read."""

from __future__ import annotations

import json

from onefile_backend.cli.inspect import render
from onefile_backend.format.manifest import Manifest, ManifestEntryPoint

LOOK = ManifestEntryPoint("csvlook", "csvkit.utilities.csvlook:launch_new_instance", "console_scripts")
AWS = ManifestEntryPoint("aws", "scripts/aws", "data_scripts")


def test_commands_round_trip_with_the_first_as_entry_point() -> None:
    manifest = Manifest(built_with="onefile-backend 0.1.0", entry_point=LOOK, python="3.12.8", commands=(LOOK, AWS))
    facts = json.loads(manifest.to_json())
    assert facts["entry_point"] == {"name": "csvlook", "value": LOOK.value, "kind": "console_scripts"}
    assert [command["name"] for command in facts["commands"]] == ["csvlook", "aws"]
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert Manifest.from_json(manifest.to_json()).all_commands() == (LOOK, AWS)


def test_a_manifest_from_before_commands_has_its_entry_point_as_the_one_command() -> None:
    old = {
        "built_with": "onefile-backend 0.1.0",
        "python": "3.11.7",
        "entry_point": {"name": "aws", "value": "scripts/aws", "kind": "data_scripts"},
    }
    manifest = Manifest.from_json(json.dumps(old).encode())
    assert manifest.commands == () and manifest.all_commands() == (AWS,)
    layers = {"app": {"size": 1, "entries": 1, "unpacked_size": 1, "sha256": "00"}}
    text = render({"file": "aws", "format_version": 2, "size": 10**6, "layers": layers, **old})
    assert "entry point   aws = scripts/aws (data_scripts)" in text.splitlines()


def test_what_was_left_out_round_trips_and_inspect_shows_it() -> None:
    said = "the stdlib's .py sources (bytecode kept); `stdlib-sources = true` keeps them"
    manifest = Manifest(built_with="onefile-backend 0.1.0", entry_point=AWS, python="3.12.8", left_out=(said,))
    assert json.loads(manifest.to_json())["left_out"] == [said]
    assert Manifest.from_json(manifest.to_json()) == manifest
    layers = {"app": {"size": 1, "entries": 1, "unpacked_size": 1, "sha256": "00"}}
    facts = {"file": "aws", "format_version": 3, "size": 10**6, "layers": layers, **manifest.facts()}
    assert f"left out      {said}" in render(facts).splitlines()
    older = Manifest(built_with="onefile-backend 0.1.0", entry_point=AWS, python="3.12.8")
    assert "left out" not in render({**facts, **older.facts()})
