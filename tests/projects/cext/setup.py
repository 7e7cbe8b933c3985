from setuptools import Extension, setup

setup(ext_modules=[Extension("cext._zstdversion", ["src/cext/_zstdversion.c"], libraries=["zstd"])])
