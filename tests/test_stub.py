"""The launcher's own C tests: trailer and entry parsing on hostile input, under ASan/UBSan."""

import shutil
import subprocess

import pytest
from conftest import REPO


def test_stub_parser_checks_pass_under_sanitizers() -> None:
    if shutil.which("make") is None or shutil.which("cc") is None:
        pytest.skip("needs make and cc")
    result = subprocess.run(["make", "-s", "-C", str(REPO / "stub"), "check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.endswith("passed, 0 failed"), summary
    assert int(summary.split()[0]) > 50
