"""The configuration: [tool.onefile] and config_settings read and checked, without building."""

import pytest

from onefile_backend._errors import ConfigError
from onefile_backend.pipeline.config import load_config
from onefile_backend.runtime.sources import InstalledPython


def _project(tmp_path, table=""):
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "demo"\nversion = "1"\n{table}')
    return str(tmp_path)


def test_defaults(tmp_path):
    config = load_config(_project(tmp_path))
    assert (config.name, config.entry_point, config.python, config.output) == ("demo", None, InstalledPython(), None)


def test_unknown_key_is_named(tmp_path):
    allowed = (
        "entry-point, entry-points, python, output, extras, lock, exclude, keep-tests, min-glibc, target, libc, "
        "stdlib-sources"
    )
    with pytest.raises(ConfigError, match=rf"tool\.onefile\.pyhton: unknown key \(allowed: {allowed}\)"):
        load_config(_project(tmp_path, '[tool.onefile]\npyhton = "3.12"\n'))


def test_bad_value_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"tool\.onefile\.python: 3\.12 is not allowed"):
        load_config(_project(tmp_path, "[tool.onefile]\npython = 3.12\n"))
    with pytest.raises(ConfigError, match="tool.onefile.output: 'a/b' is not a file name"):
        load_config(_project(tmp_path, '[tool.onefile]\noutput = "a/b"\n'))


@pytest.mark.parametrize(
    ("key", "field", "bad"), [("keep-tests", "keep_tests", '"yes"'), ("stdlib-sources", "stdlib_sources", "1")]
)
def test_boolean_settings_are_off_by_default(tmp_path, key, field, bad):
    assert getattr(load_config(_project(tmp_path)), field) is False
    assert getattr(load_config(_project(tmp_path, f"[tool.onefile]\n{key} = true\n")), field) is True
    assert getattr(load_config(_project(tmp_path), {key: "true"}), field) is True
    shown = bad.strip('"')
    with pytest.raises(
        ConfigError, match=rf"tool\.onefile\.{key}: '?{shown}'? is not allowed \(expected true or false\)"
    ):
        load_config(_project(tmp_path, f"[tool.onefile]\n{key} = {bad}\n"))


def test_config_settings_override_the_table(tmp_path):
    config = load_config(_project(tmp_path, '[tool.onefile]\npython = "3.12"\n'), {"python": "3.13"})
    assert config.python == InstalledPython("3.13")


def test_min_glibc_and_download_keys(tmp_path):
    from onefile_backend.runtime.sources import ManagedRuntime

    assert load_config(_project(tmp_path)).min_glibc is None
    assert load_config(_project(tmp_path, '[tool.onefile]\nmin-glibc = "2.28"\n')).min_glibc == (2, 28)
    assert load_config(_project(tmp_path), {"min-glibc": "2.31"}).min_glibc == (2, 31)
    for bad in ('"2.5"', '"3.1"', "2.28", '"2.28.1"', '"latest"'):
        with pytest.raises(
            ConfigError, match=r"tool\.onefile\.min-glibc: .* is not allowed \(expected a glibc version"
        ):
            load_config(_project(tmp_path, f"[tool.onefile]\nmin-glibc = {bad}\n"))
    key = "cpython-3.12-linux-x86_64-gnu"
    assert load_config(_project(tmp_path, f'[tool.onefile]\npython = "{key}"\n')).python == ManagedRuntime(key)
    with pytest.raises(ConfigError, match=r"'cpython-three' is not a Python download key"):
        load_config(_project(tmp_path, '[tool.onefile]\npython = "cpython-three"\n'))


def test_target_names_a_cpu_with_a_launcher(tmp_path):
    assert load_config(_project(tmp_path)).target is None
    assert load_config(_project(tmp_path, '[tool.onefile]\ntarget = "arm64"\n')).target == "aarch64"
    assert load_config(_project(tmp_path), {"target": "x86_64"}).target == "x86_64"
    with pytest.raises(
        ConfigError, match=r"tool\.onefile\.target: 'riscv64' is not allowed \(expected x86_64 or aarch64\)"
    ):
        load_config(_project(tmp_path, '[tool.onefile]\ntarget = "riscv64"\n'))


def test_entry_points_forms(tmp_path):
    table = '[tool.onefile]\nentry-points = ["csvlook", "*", "@csvkit", "-m  mypkg.cli", "-mtool"]\n'
    assert load_config(_project(tmp_path, table)).entry_points == ("csvlook", "*", "@csvkit", "-m mypkg.cli", "-m tool")
    assert load_config(_project(tmp_path), {"entry-points": "a, b"}).entry_points == ("a", "b")
    assert load_config(_project(tmp_path)).entry_points == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('""', r"\[\] is not allowed \(expected a list of script names"),
        ("[]", r"\[\] is not allowed \(expected a list of script names"),
        ("[1]", r"\[1\] is not allowed"),
        ('["a b"]', r"'a b' is not allowed \(expected a script name, \"\*\" for all of the project's, \"@DIST\""),
        ('["-m 1x"]', r"'-m 1x' is not allowed"),
        ('["@"]', r"'@' is not allowed"),
        ('["bin/x"]', r"'bin/x' is not allowed"),
    ],
)
def test_bad_entry_points_are_named(tmp_path, value, message):
    with pytest.raises(ConfigError, match=rf"tool\.onefile\.entry-points: {message}"):
        load_config(_project(tmp_path, f"[tool.onefile]\nentry-points = {value}\n"))


def test_entry_point_and_entry_points_exclude_each_other(tmp_path):
    table = '[tool.onefile]\nentry-point = "a"\nentry-points = ["a", "b"]\n'
    with pytest.raises(
        ConfigError, match=r"tool\.onefile\.entry-points: give entry-point .* or entry-points .*, not both"
    ):
        load_config(_project(tmp_path, table))


def test_libc_is_bundle_system_or_a_glibc_sysroot(tmp_path):
    project = _project(tmp_path)
    assert load_config(project).libc == "bundle"
    assert load_config(project, {"libc": "system"}).libc == "system"
    sysroot = tmp_path / "sysroot"
    (sysroot / "lib64").mkdir(parents=True)
    (sysroot / "lib64" / "ld-linux-x86-64.so.2").write_bytes(b"\x7fELF")
    assert load_config(project, {"libc": "sysroot"}).libc == str(sysroot)  # relative to the project
    (tmp_path / "empty").mkdir()
    for value, message in [
        ('"bogus"', r"'bogus' is not 'bundle', 'system' or a directory \(a glibc sysroot, relative to "),
        ('"empty"', r"'empty' has no glibc loader \(ld-linux-\*\.so\.\*\): not a glibc sysroot"),
        ("42", r"42 is not allowed \(expected 'bundle', 'system' or the path of a glibc sysroot\)"),
        ('""', r"'' is not allowed"),
    ]:
        with pytest.raises(ConfigError, match=rf"^tool\.onefile\.libc: {message}"):
            load_config(_project(tmp_path, f"[tool.onefile]\nlibc = {value}\n"))
