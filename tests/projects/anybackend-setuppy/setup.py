# No pyproject.toml: pypa/build's default backend (setuptools' legacy one) builds the wheel.
from setuptools import setup

setup(
    name="legacyapp",
    version="0.5",
    py_modules=["legacyapp"],
    install_requires=["click>=8"],
    entry_points={"console_scripts": ["legacyapp = legacyapp:main"]},
)
