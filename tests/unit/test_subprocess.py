"""The programs a build runs, one way (run_tool): status, last lines, timeout, -v output."""

from __future__ import annotations

import sys

import pytest

from onefile_backend._errors import OnefileError, ToolError
from onefile_backend._subprocess import run_tool
from onefile_backend.platform.target import Target, host_machine

HERE = Target(host_machine(), (3, 12, 8), "", False, "cpython-312", "cb0d0d0a")

OTHER = "aarch64" if host_machine() != "aarch64" else "x86_64"


def test_a_failing_tool_is_named_with_its_status_and_last_lines() -> None:
    script = "import sys\nfor n in range(10): print('line', n, file=sys.stderr)\nsys.exit(3)"
    with pytest.raises(ToolError) as raised:
        run_tool([sys.executable, "-c", script], what="cannot do the thing")
    error = raised.value
    assert isinstance(error, OnefileError) and error.user_error
    assert (error.tool, error.status) == (f"{sys.executable.rsplit('/', 1)[-1]}", 3)
    assert str(error).startswith(f"cannot do the thing: {error.tool} exited with status 3: line 4 line 5")
    assert str(error).endswith("line 9") and "\n" not in str(error)


def test_a_failure_is_returned_when_not_checked() -> None:
    result = run_tool([sys.executable, "-c", "print('out'); raise SystemExit(2)"], what="x", check=False)
    assert (result.returncode, result.stdout) == (2, "out\n")


def test_a_hung_tool_is_stopped_and_named() -> None:
    with pytest.raises(ToolError, match=r"^cannot wait \(after 0\.5 s\): python\S* did not finish in time$"):
        run_tool([sys.executable, "-c", "import time; time.sleep(30)"], what="cannot wait", timeout=0.5)


def test_a_tool_that_cannot_start_is_the_caller_s_to_explain() -> None:
    with pytest.raises(FileNotFoundError):
        run_tool(["/nonexistent/tool"], what="x")


def test_verbose_shows_the_command_and_all_its_output(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ONEFILE_VERBOSITY", "1")
    run_tool([sys.executable, "-c", "print('one'); print('two')"], what="x")
    assert capsys.readouterr().err.endswith("\n< one\n< two\n")
    monkeypatch.delenv("ONEFILE_VERBOSITY")
    run_tool([sys.executable, "-c", "print('one')"], what="x")
    assert capsys.readouterr().err == ""
