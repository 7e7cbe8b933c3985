"""Tests run against the built binary: the path is in $HELLO_BINARY (tox/nox set it)."""

import os
import subprocess

BINARY = os.environ.get("HELLO_BINARY", os.path.join(os.path.dirname(__file__), "..", "dist", "hello"))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BINARY, *args], capture_output=True, text=True, check=False)


def test_greets() -> None:
    assert run("--name", "Ada").stdout == "Hello, Ada!\n"


def test_version() -> None:
    assert run("--version").stdout == "hello, version 1.0.0\n"
