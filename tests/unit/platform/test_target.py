"""What a build is for (Target): platform, markers, the target check."""

from __future__ import annotations

import dataclasses

import pytest

from onefile_backend._errors import ConfigError
from onefile_backend.platform.target import Target, choose_target, host_machine

HERE = Target(host_machine(), (3, 12, 8), "", False, "cpython-312", "cb0d0d0a")

OTHER = "aarch64" if host_machine() != "aarch64" else "x86_64"


def test_target_platform_is_this_machine_s_unless_a_floor_or_another_cpu() -> None:
    assert HERE.platform is None
    assert dataclasses.replace(HERE, min_glibc=(2, 28)).platform == f"{host_machine()}-manylinux_2_28"
    assert dataclasses.replace(HERE, machine=OTHER).platform == f"{OTHER}-manylinux_2_17"


def test_target_markers_are_the_target_s() -> None:
    markers = dataclasses.replace(HERE, machine=OTHER).marker_environment()
    assert (markers["platform_machine"], markers["python_version"], markers["python_full_version"]) == (
        OTHER, "3.12", "3.12.8",
    )  # fmt: skip


def test_a_target_the_runtime_is_not_for_is_refused() -> None:
    assert choose_target(HERE, "/py", None, (2, 28)) == dataclasses.replace(HERE, min_glibc=(2, 28))
    with pytest.raises(ConfigError, match=rf"^tool\.onefile\.target: '{OTHER}', but the runtime /py is for "):
        choose_target(HERE, "/py", OTHER, None)
