"""Builds the C launcher into the package when onefile-backend's own wheel is built,
so an installed onefile-backend needs no compiler."""

import os
import subprocess
import sysconfig

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel  # setuptools >= 70.1 (build-system.requires)
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildPyWithStub(build_py):
    def run(self):
        super().run()
        # Also into the source tree (git-ignored), so `python -m onefile_backend` run from a
        # checkout, and the tests, find the launcher too.
        source_copy = os.path.join(HERE, "onefile_backend", "_stub", "onefile-stub")
        try:
            subprocess.run(["make", "-C", os.path.join(HERE, "stub"), f"OUT={source_copy}"], check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise SystemExit(
                f"error: building the onefile launcher failed ({exc}); it needs make, cc and "
                "libzstd-dev (apt-get install build-essential libzstd-dev)"
            ) from None
        if not self.editable_mode:
            target = os.path.join(self.build_lib, "onefile_backend", "_stub", "onefile-stub")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            self.copy_file(source_copy, target)


class PlatformWheel(bdist_wheel):
    """Any Python 3, but only this platform: the wheel carries a native launcher."""

    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        return "py3", "none", sysconfig.get_platform().replace("-", "_").replace(".", "_")


setup(cmdclass={"build_py": BuildPyWithStub, "bdist_wheel": PlatformWheel})
