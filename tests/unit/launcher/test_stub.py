"""The launcher's own C tests: trailer and entry parsing on hostile input, under ASan/UBSan."""

from conftest import REPO, make


def test_stub_parser_checks_pass_under_sanitizers() -> None:
    result = make(REPO / "stub", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.endswith("passed, 0 failed"), summary
    assert int(summary.split()[0]) > 50
