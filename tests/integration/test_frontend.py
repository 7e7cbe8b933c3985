"""The front end: same sdist and wheel as setuptools alone; the README's isolated flow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import EXAMPLES, REPO, Hidden, onefile

pytestmark = pytest.mark.integration


def _as_plain_setuptools_project(source: Path, destination: Path) -> Path:
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns("dist", "build", "*.egg-info"))
    pyproject = destination / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        .replace('requires = ["onefile-backend"]', 'requires = ["setuptools>=64"]')
        .replace('build-backend = "onefile_backend"', 'build-backend = "setuptools.build_meta"')
    )
    return destination


def _sdist_members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as sdist:
        return {
            m.name.split("/", 1)[1]: sdist.extractfile(m).read()  # type: ignore[union-attr]
            for m in sdist.getmembers()
            if m.isfile() and m.name.count("/")
        }


def _wheel_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as wheel:
        return {name: wheel.read(name) for name in wheel.namelist()}


def test_sdist_and_wheel_are_what_setuptools_alone_makes(tmp_path: Path) -> None:
    ours = tmp_path / "ours"
    shutil.copytree(EXAMPLES / "hello", ours, ignore=shutil.ignore_patterns("dist", "build", "*.egg-info"))
    plain = _as_plain_setuptools_project(EXAMPLES / "hello", tmp_path / "plain")
    result = onefile("build", "--sdist", "--wheel", "-n", str(ours), "-o", str(tmp_path / "ours-dist"))
    assert result.returncode == 0, result.stderr
    reference = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "-n", str(plain), "-o", str(tmp_path / "plain-dist")],
        capture_output=True,
        text=True,
    )
    assert reference.returncode == 0, reference.stderr
    (our_sdist,), (plain_sdist,) = (sorted((tmp_path / d).glob("*.tar.gz")) for d in ("ours-dist", "plain-dist"))
    (our_wheel,), (plain_wheel,) = (sorted((tmp_path / d).glob("*.whl")) for d in ("ours-dist", "plain-dist"))
    assert our_sdist.name == plain_sdist.name and our_wheel.name == plain_wheel.name
    ours_s, plain_s = _sdist_members(our_sdist), _sdist_members(plain_sdist)
    assert sorted(ours_s) == sorted(plain_s)
    assert ours_s["PKG-INFO"] == plain_s["PKG-INFO"]
    assert _wheel_members(our_wheel) == _wheel_members(plain_wheel)
    assert not [p for p in (tmp_path / "ours-dist").iterdir() if p.suffix not in (".whl", ".gz")]


def test_readme_flow_isolated_build(hidden: Hidden, tmp_path: Path) -> None:
    """`python -m onefile_backend build --binary` in examples/hello, in an isolated env."""
    project = tmp_path / "hello"
    shutil.copytree(EXAMPLES / "hello", project, ignore=shutil.ignore_patterns("dist", "build", "*.egg-info"))
    result = onefile("build", "--binary", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "Using this onefile-backend" in result.stderr
    assert (project / "dist" / "hello").exists()
    run = hidden.run([str(project / "dist" / "hello"), "--name", "Ada"])
    assert (run.returncode, run.stdout) == (0, "Hello, Ada!\n")


def test_pypa_build_wheel_with_binary_setting(tmp_path: Path) -> None:
    project = tmp_path / "hello"
    shutil.copytree(EXAMPLES / "hello", project, ignore=shutil.ignore_patterns("dist", "build", "*.egg-info"))
    command = [sys.executable, "-m", "build", "--wheel", "-n", "-C", "binary=true", str(project)]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (project / "dist").iterdir())
    assert names == ["hello", "hello-1.0.0-py3-none-any.whl"]
    assert (
        subprocess.run([str(project / "dist" / "hello"), "--version"], capture_output=True, text=True).stdout
        == "hello, version 1.0.0\n"
    )


def test_inspect_shows_what_a_binary_holds(hello: Path, tmp_path: Path) -> None:
    result = onefile("inspect", str(hello))
    assert result.returncode == 0, result.stderr
    assert "entry point   hello = hello.cli:main (console_scripts)" in result.stdout
    assert "\n  click " in result.stdout and "runtime layer" in result.stdout
    facts = json.loads(onefile("inspect", "--json", str(hello)).stdout)
    assert facts["python"] == ".".join(map(str, sys.version_info[:3]))
    assert facts["layers"]["runtime"]["entries"] > 500  # a .pyc per stdlib module (its sources left out)
    not_ours = tmp_path / "plain"
    not_ours.write_bytes(b"#!/bin/sh\necho hi\n" * 20)
    bad = onefile("inspect", str(not_ours))
    assert (bad.returncode, bad.stderr) == (1, f"ERROR {not_ours}: not a onefile binary (no trailer)\n")


@pytest.mark.parametrize("runner", ["tox", "nox"])
def test_tox_and_nox_recipes_build_and_test_the_binary(runner: str, tmp_path: Path) -> None:
    if shutil.which(runner) is None:
        pytest.skip(f"{runner} is not installed")
    project = tmp_path / "hello"
    shutil.copytree(
        EXAMPLES / "hello", project, ignore=shutil.ignore_patterns("dist", "build", "*.egg-info", ".tox", ".nox")
    )
    for name in ("tox.ini", "noxfile.py"):  # the recipes install onefile-backend from ../..
        text = (project / name).read_text()
        (project / name).write_text(
            text.replace("{toxinidir}/../..", str(REPO)).replace('os.path.join(HERE, "..", "..")', repr(str(REPO)))
        )
    command = ["tox", "-c", str(project)] if runner == "tox" else ["nox", "-f", str(project / "noxfile.py")]
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "2 passed" in result.stdout + result.stderr
