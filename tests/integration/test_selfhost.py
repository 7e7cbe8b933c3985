"""onefile-backend builds itself into one `onefile` executable, which (with every Python
install hidden) builds examples/hello using the runtime it carries."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLES, REPO, Hidden, onefile

pytestmark = pytest.mark.integration
# What the hidden build needs from the machine to reach the package index.
_NETWORK_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "UV_INDEX_URL")


def test_onefile_builds_itself_and_then_builds_hello_with_python_hidden(hidden: Hidden, tmp_path: Path) -> None:
    built = onefile("build", "--binary", str(REPO), "-o", str(tmp_path / "self"))
    assert built.returncode == 0, built.stderr
    tool = tmp_path / "self" / "onefile"
    project = tmp_path / "hello"
    shutil.copytree(EXAMPLES / "hello", project, ignore=shutil.ignore_patterns("dist", "build", "*.egg-info", ".tox", ".nox"))
    env = {"HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    env.update({name: os.environ[name] for name in _NETWORK_ENV if os.environ.get(name)})
    result = hidden.run([str(tool), "build", "--binary", str(project)], env)
    assert result.returncode == 0, result.stderr[-3000:]
    runtime_line = [line for line in result.stderr.splitlines() if line.startswith("* python:")]
    assert runtime_line and str(hidden.cache / "runtime") in runtime_line[0]  # the runtime it carries
    greeting = hidden.run([str(project / "dist" / "hello"), "--name", "Ada"], {"ONEFILE_CACHE_DIR": str(tmp_path / "c2")})
    assert (greeting.returncode, greeting.stdout) == (0, "Hello, Ada!\n"), greeting.stderr
