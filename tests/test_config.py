"""Config and entry-point rules (stages 1 and 2), without building anything."""

import zipfile

import pytest

from onefile_backend._errors import ConfigError, EntryPointError
from onefile_backend.app.entrypoints import EntryPoint, choose_entry_point, read_scripts
from onefile_backend.pipeline.config import load_config
from onefile_backend.runtime.interpreters import find_interpreter
from onefile_backend.runtime.sources import InstalledPython


def _project(tmp_path, table=""):
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "demo"\nversion = "1"\n{table}')
    return str(tmp_path)


def test_defaults(tmp_path):
    config = load_config(_project(tmp_path))
    assert (config.name, config.entry_point, config.python, config.output) == ("demo", None, InstalledPython(), None)


def test_unknown_key_is_named(tmp_path):
    allowed = "entry-point, python, output, extras, lock, exclude, keep-tests, min-glibc, target, libc"
    with pytest.raises(ConfigError, match=rf"tool\.onefile\.pyhton: unknown key \(allowed: {allowed}\)"):
        load_config(_project(tmp_path, '[tool.onefile]\npyhton = "3.12"\n'))


def test_bad_value_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"tool\.onefile\.python: 3\.12 is not allowed"):
        load_config(_project(tmp_path, "[tool.onefile]\npython = 3.12\n"))
    with pytest.raises(ConfigError, match="tool.onefile.output: 'a/b' is not a file name"):
        load_config(_project(tmp_path, '[tool.onefile]\noutput = "a/b"\n'))


def test_keep_tests_is_a_boolean(tmp_path):
    assert load_config(_project(tmp_path)).keep_tests is False
    assert load_config(_project(tmp_path, "[tool.onefile]\nkeep-tests = true\n")).keep_tests is True
    assert load_config(_project(tmp_path), {"keep-tests": "true"}).keep_tests is True
    with pytest.raises(ConfigError, match=r"tool\.onefile\.keep-tests: 'yes' is not allowed \(expected true or false\)"):
        load_config(_project(tmp_path, '[tool.onefile]\nkeep-tests = "yes"\n'))


def test_config_settings_override_the_table(tmp_path):
    config = load_config(_project(tmp_path, '[tool.onefile]\npython = "3.12"\n'), {"python": "3.13"})
    assert config.python == InstalledPython("3.13")


def test_scripts_come_from_the_wheel(tmp_path):
    wheel = tmp_path / "demo-1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(
            "demo-1.dist-info/entry_points.txt",
            "[console_scripts]\nDemo = demo.cli:main\n[gui_scripts]\ndemo-gui = demo.gui:run.app [extra]\n",
        )
    assert read_scripts(str(wheel)) == [
        EntryPoint("Demo", "demo.cli", "main", "console_scripts"),
        EntryPoint("demo-gui", "demo.gui", "run.app", "gui_scripts"),
    ]


def test_entry_point_choice():
    one = EntryPoint("a", "m", "f", "console_scripts")
    two = EntryPoint("b", "m", "g", "console_scripts")
    assert choose_entry_point([one], None, "p") is one
    assert choose_entry_point([one, two], "b", "p") is two
    with pytest.raises(EntryPointError, match=r"several console scripts \(a, b\)"):
        choose_entry_point([one, two], None, "p")
    with pytest.raises(EntryPointError, match="declares no console script"):
        choose_entry_point([], None, "p")
    with pytest.raises(ConfigError, match=r"'c' is not a console script of p \(it has: a, b\)"):
        choose_entry_point([one, two], "c", "p")


def test_interpreter_by_version_and_errors():
    assert find_interpreter(None).target.version[:2] >= (3, 9)
    with pytest.raises(Exception, match=r"no Python 3\.99 found"):
        find_interpreter("3.99")
    with pytest.raises(Exception, match="is not allowed"):
        find_interpreter("three")
    with pytest.raises(Exception, match="does not exist"):
        find_interpreter("/nonexistent/python")


def test_min_glibc_and_download_keys(tmp_path):
    from onefile_backend.runtime.sources import ManagedRuntime

    assert load_config(_project(tmp_path)).min_glibc is None
    assert load_config(_project(tmp_path, '[tool.onefile]\nmin-glibc = "2.28"\n')).min_glibc == (2, 28)
    assert load_config(_project(tmp_path), {"min-glibc": "2.31"}).min_glibc == (2, 31)
    for bad in ('"2.5"', '"3.1"', "2.28", '"2.28.1"', '"latest"'):
        with pytest.raises(ConfigError, match=r"tool\.onefile\.min-glibc: .* is not allowed \(expected a glibc version"):
            load_config(_project(tmp_path, f"[tool.onefile]\nmin-glibc = {bad}\n"))
    key = "cpython-3.12-linux-x86_64-gnu"
    assert load_config(_project(tmp_path, f'[tool.onefile]\npython = "{key}"\n')).python == ManagedRuntime(key)
    with pytest.raises(ConfigError, match=r"'cpython-three' is not a Python download key"):
        load_config(_project(tmp_path, '[tool.onefile]\npython = "cpython-three"\n'))


def test_glibc_needs_floor_policy_and_trailer_bits():
    from onefile_backend.platform.glibc import GlibcNeeds, bitmap_versions, check_floor, trailer_bitmap, uv_platform

    needs = GlibcNeeds.of({"runtime/bin/python3": [(2, 2, 5), (2, 17)], "runtime/lib/libcrypt.so.1": [(2, 36), (2, 25)]})
    needs += GlibcNeeds.of({"app/lib/x.so": [(2, 28)], "app/lib/none.so": []})
    assert needs.floor() == (2, 36) and needs.set_by() == "runtime/lib/libcrypt.so.1"
    assert needs.versions() == ((2, 2, 5), (2, 17), (2, 25), (2, 28), (2, 36))
    assert GlibcNeeds.from_json(needs.to_json()) == needs
    assert bitmap_versions(trailer_bitmap(needs.versions())) == ((2, 2), (2, 17), (2, 25), (2, 28), (2, 36))
    check_floor(needs, (2, 36))
    with pytest.raises(ConfigError) as raised:
        check_floor(needs, (2, 27))
    assert str(raised.value) == (
        "tool.onefile.min-glibc: the binary would need a newer glibc than 2.27: runtime/lib/libcrypt.so.1 needs 2.36, "
        "app/lib/x.so needs 2.28 (use a runtime built for older systems, e.g. a python-build-standalone one, or raise min-glibc)"
    )
    assert uv_platform("x86_64", (2, 30)) == "x86_64-manylinux_2_28"
    assert uv_platform("aarch64", (2, 31)) == "aarch64-manylinux_2_31"
    assert uv_platform("x86_64", (2, 17)) == "x86_64-manylinux_2_17"


def test_target_names_a_cpu_with_a_launcher(tmp_path):
    assert load_config(_project(tmp_path)).target is None
    assert load_config(_project(tmp_path, '[tool.onefile]\ntarget = "arm64"\n')).target == "aarch64"
    assert load_config(_project(tmp_path), {"target": "x86_64"}).target == "x86_64"
    with pytest.raises(ConfigError, match=r"tool\.onefile\.target: 'riscv64' is not allowed \(expected x86_64 or aarch64\)"):
        load_config(_project(tmp_path, '[tool.onefile]\ntarget = "riscv64"\n'))


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
